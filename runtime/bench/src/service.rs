//! The service figures (issue 11): runs per second with 1, 2 and 4 `runtime worker`
//! processes on one Postgres, beside `runtime run` process per run and beside the same
//! runner in this process; submit-to-start latency (LISTEN wake-ups, beside polling); and
//! the time until a killed worker's run is failed as lost (beside the lease).
//!
//! Every run is a real run through the production path: queued with `Runner::submit`,
//! claimed and executed by real worker processes against the same database, sealed and
//! signed. The plans are three `http_call` GETs of a loopback server in this process.
//!
//! One file: the service figures share one deployment (workers, server, database) that
//! they set up and tear down together.

use super::{BENCH_TENANT, Bench, Figure, ORIGIN, percentile};
use anyhow::{Context, Result, bail, ensure};
use runproof_proof::RunStatus;
use runproof_runner::{QueueOptions, RunRequest};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs in flight per worker process, and `runtime run` processes at once.
const CONCURRENCY: usize = 16;
/// The lease of the recovery figure.
const RECOVERY_TTL: Duration = Duration::from_secs(2);

struct Sizes {
    runs_per_level: usize,
    process_runs: usize,
    latency_samples: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                runs_per_level: 160,
                process_runs: 48,
                latency_samples: 20,
            }
        } else {
            Sizes {
                runs_per_level: 600,
                process_runs: 128,
                latency_samples: 100,
            }
        }
    }
}

/// A `runtime worker` child, killed when dropped.
struct WorkerProc {
    child: Child,
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl WorkerProc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks it to stop (SIGTERM) and waits for it.
    fn stop(mut self) -> Result<()> {
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait()?;
        Ok(())
    }
}

impl Bench<'_> {
    /// Only the service figures.
    pub async fn run_service(self) -> Result<super::Report> {
        self.run_groups(&[super::Group::Service]).await
    }

    fn worker_cmd(&self, extra: &[&str], ttl: Duration) -> Command {
        let mut cmd = Command::new(&self.child.exe);
        if let Some(url) = &self.child.database_url {
            cmd.arg("--database-url").arg(url);
        }
        if let Some(home) = &self.child.home {
            cmd.arg("--home").arg(home);
        }
        cmd.arg("--signing-key").arg(&self.child.signing_key);
        cmd.arg("worker")
            .args(extra)
            .env("RUNPROOF_LEASE_TTL", format!("{}ms", ttl.as_millis()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts a worker and returns once it claims (it has said how it is woken).
    fn start_worker(&self, extra: &[&str], ttl: Duration) -> Result<WorkerProc> {
        let mut child = self
            .worker_cmd(extra, ttl)
            .spawn()
            .context("starting `runtime worker`")?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let mut lines = BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("wake-ups:") => break,
                Some(Ok(_)) => continue,
                _ => bail!("`runtime worker` ended before it was ready"),
            }
        }
        // Keep draining its stderr so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(WorkerProc { child })
    }

    fn service_request(&self, url: &str) -> RunRequest {
        let steps: Vec<serde_json::Value> = (0..3)
            .map(|i| serde_json::json!({"step_id": format!("get{i}"), "skill": "http_call", "params": {"url": url}}))
            .collect();
        self.request(
            &format!("bench: 3 GETs of {url}"),
            serde_json::json!({"planner": "manual", "steps": steps}),
        )
    }

    /// Queues `n` runs of `req` (8 submitters), returns their ids.
    async fn submit_many(&self, req: &RunRequest, n: usize) -> Result<Vec<String>> {
        let req = Arc::new(req.clone());
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (runner, req, next) = (self.runner.clone(), req.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                    let s = runner.submit(&req, &QueueOptions::default()).await?;
                    ids.push(s.run.id);
                }
                Ok::<_, anyhow::Error>(ids)
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.extend(t.await??);
        }
        Ok(ids)
    }

    /// Waits until every run of `ids` has ended; fails the bench unless all succeeded.
    async fn until_done(&self, ids: &[String], limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let (done, ok): (i64, i64) = sqlx::query_as(
                "SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed')),
                        count(*) FILTER (WHERE status = 'succeeded')
                 FROM runs WHERE id = ANY($1)",
            )
            .bind(ids)
            .fetch_one(self.store.pool())
            .await?;
            if done as usize == ids.len() {
                ensure!(
                    ok == done,
                    "{} of {} service bench runs failed",
                    done - ok,
                    done
                );
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "{} of {} runs still open after {limit:?}",
                ids.len() as i64 - done,
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs per second with `workers` worker processes: from the first submission to the
    /// last run sealed.
    async fn with_workers(
        &self,
        workers: usize,
        req: &RunRequest,
        n: usize,
    ) -> Result<(f64, serde_json::Value)> {
        let concurrency = CONCURRENCY.to_string();
        let procs = (0..workers)
            .map(|_| self.start_worker(&["--concurrency", &concurrency], Duration::from_secs(30)))
            .collect::<Result<Vec<_>>>()?;
        let before = self.db_load().await?;
        let t = Instant::now();
        let ids = self.submit_many(req, n).await?;
        self.until_done(&ids, Duration::from_secs(600)).await?;
        let rate = n as f64 / t.elapsed().as_secs_f64();
        for p in procs {
            p.stop()?;
        }
        let after = self.db_load().await?;
        Ok((
            rate,
            serde_json::json!({
                "commits_per_run": (after.0 - before.0) / n as f64,
                "wal_bytes_per_run": (after.1 - before.1) / n as f64,
            }),
        ))
    }

    /// Commits and WAL bytes so far, database-wide (what one Postgres must absorb per
    /// run). Statistics are flushed by each backend about once a second: wait for that.
    async fn db_load(&self) -> Result<(f64, f64)> {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let load: (f64, f64) = sqlx::query_as(
            "SELECT (SELECT sum(xact_commit) FROM pg_stat_database)::float8,
                    (SELECT wal_bytes FROM pg_stat_wal)::float8",
        )
        .fetch_one(self.store.pool())
        .await?;
        Ok(load)
    }

    /// Runs per second with one `runtime run` process per run, `CONCURRENCY` at once.
    async fn process_per_run(&self, url: &str, n: usize) -> Result<f64> {
        let plan = self.service_request(url).plan_json.unwrap_or_default();
        let plan_file = std::env::temp_dir().join(format!(
            "runproof-bench-service-{}.json",
            runproof_runner::new_id()
        ));
        std::fs::write(&plan_file, plan)?;
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let t = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..CONCURRENCY {
            let next = next.clone();
            let mut args: Vec<std::ffi::OsString> = Vec::new();
            if let Some(u) = &self.child.database_url {
                args.extend(["--database-url".into(), u.into()]);
            }
            if let Some(h) = &self.child.home {
                args.extend(["--home".into(), h.into()]);
            }
            let (exe, key, plan_file, agent) = (
                self.child.exe.clone(),
                self.child.signing_key.clone(),
                plan_file.clone(),
                self.agent_id.clone(),
            );
            tasks.push(tokio::task::spawn_blocking(move || {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                    let status = std::process::Command::new(&exe)
                        .args(&args)
                        .arg("--signing-key")
                        .arg(&key)
                        .args([
                            "-q",
                            "run",
                            "--agent-id",
                            &agent,
                            "--tenant-id",
                            BENCH_TENANT,
                        ])
                        .args([
                            "--origin-system-id",
                            ORIGIN,
                            "--goal",
                            "bench: process per run",
                        ])
                        .arg("--plan")
                        .arg(&plan_file)
                        .stdout(Stdio::null())
                        .status()?;
                    ensure!(status.success(), "`runtime run` exited {status}");
                }
                Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let rate = n as f64 / t.elapsed().as_secs_f64();
        let _ = std::fs::remove_file(&plan_file);
        Ok(rate)
    }

    /// Submit-to-start (ms) of `samples` runs submitted one at a time to an idle worker.
    async fn submit_to_start(
        &self,
        req: &RunRequest,
        samples: usize,
        extra: &[&str],
    ) -> Result<Vec<f64>> {
        let w = self.start_worker(extra, Duration::from_secs(30))?;
        let mut ms = Vec::with_capacity(samples);
        for _ in 0..samples {
            let id = self
                .runner
                .submit(req, &QueueOptions::default())
                .await?
                .run
                .id;
            self.until_done(std::slice::from_ref(&id), Duration::from_secs(60))
                .await?;
            let gap: f64 = sqlx::query_scalar(
                "SELECT (EXTRACT(EPOCH FROM (started_at - created_at)) * 1000)::float8 FROM runs WHERE id = $1",
            )
            .bind(&id)
            .fetch_one(self.store.pool())
            .await?;
            ms.push(gap);
        }
        w.stop()?;
        Ok(ms)
    }

    /// Seconds from a kill -9 of the worker executing a run to that run failed as lost,
    /// with a second worker doing the recovery.
    async fn recovery(&self) -> Result<f64> {
        let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/slow", slow.local_addr()?);
        let server = tokio::spawn(async move {
            // Accepts and never answers (until the bench ends): the run stays in flight.
            let mut held = Vec::new();
            while let Ok((s, _)) = slow.accept().await {
                held.push(s);
            }
        });
        let a = self.start_worker(&[], RECOVERY_TTL)?;
        let b = self.start_worker(&[], RECOVERY_TTL)?;
        let mut req = self.service_request(&url);
        req.plan_json = Some(
            serde_json::json!({"planner": "manual", "steps": [
                {"step_id": "hang", "skill": "http_call", "params": {"url": url, "timeout_seconds": 55}}
            ]})
            .to_string(),
        );
        let id = self
            .runner
            .submit(&req, &QueueOptions::default())
            .await?
            .run
            .id;
        let deadline = Instant::now() + Duration::from_secs(30);
        let owner = loop {
            let owner: Option<String> = sqlx::query_scalar(
                "SELECT lease_owner FROM runs WHERE id = $1 AND status = 'running'",
            )
            .bind(&id)
            .fetch_one(self.store.pool())
            .await
            .ok()
            .flatten();
            if let Some(o) = owner {
                break o;
            }
            ensure!(Instant::now() < deadline, "the recovery run never started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        // Give the request time to be in flight, then kill its worker outright.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (victim, survivor) = if owner.contains(&format!("/{}/", a.pid())) {
            (a, b)
        } else {
            (b, a)
        };
        let mut victim = victim;
        victim.child.kill()?;
        let killed = Instant::now();
        victim.child.wait()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let took = loop {
            let (status, error): (String, Option<String>) =
                sqlx::query_as("SELECT status, error_message FROM runs WHERE id = $1")
                    .bind(&id)
                    .fetch_one(self.store.pool())
                    .await?;
            if status != RunStatus::Running.as_str() {
                ensure!(
                    status == RunStatus::Failed.as_str()
                        && error
                            .as_deref()
                            .is_some_and(|e| e.starts_with("worker lost")),
                    "the killed worker's run ended {status}: {error:?}"
                );
                break killed.elapsed();
            }
            ensure!(
                Instant::now() < deadline,
                "the killed worker's run was never recovered"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        survivor.stop()?;
        server.abort();
        Ok(took.as_secs_f64())
    }

    /// Figure 7: the service figures.
    pub(super) async fn service(&mut self) -> Result<()> {
        let sizes = Sizes::new(self.quick);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/bench", listener.local_addr()?);
        let server = tokio::spawn(super::serve(listener));
        let req = self.service_request(&url);

        (self.progress)(format!(
            "  `runtime run` per run, {CONCURRENCY} at once, {} runs ...",
            sizes.process_runs
        ));
        let per_process = self.process_per_run(&url, sizes.process_runs).await?;
        (self.progress)(format!(
            "  the runner in this process, {CONCURRENCY} at once, {} runs ...",
            sizes.runs_per_level
        ));
        let in_process = self
            .concurrently(CONCURRENCY, sizes.runs_per_level, {
                let (runner, req) = (self.runner.clone(), Arc::new(req.clone()));
                move || {
                    let (runner, req) = (runner.clone(), req.clone());
                    async move {
                        let r = runner.run(&req, &()).await?;
                        ensure!(r.status == RunStatus::Succeeded, "{:?}", r.error_message);
                        Ok(())
                    }
                }
            })
            .await?;
        let mut rates = Vec::new();
        for workers in [1usize, 2, 4] {
            (self.progress)(format!(
                "  {workers} worker process(es) × {CONCURRENCY} runs in flight, {} runs ...",
                sizes.runs_per_level
            ));
            let (rate, load) = self
                .with_workers(workers, &req, sizes.runs_per_level)
                .await?;
            rates.push((workers, rate, load));
        }
        let what = |w: usize| {
            format!(
                "runs per second, {w} `runtime worker` process(es) on one Postgres ({CONCURRENCY} in flight each; 3-step http_call plans; submit to sealed)"
            )
        };
        let w1 = rates[0].1;
        let best = rates.iter().map(|r| r.1).fold(0.0, f64::max);
        self.figures.push(
            Figure::new(
                "service.runs_per_second_w1_vs_process_per_run",
                what(1),
                w1,
                "runs/s",
                format!("`runtime run`, one process per run, {CONCURRENCY} at once"),
                per_process,
            )
            .at_least(10.0)
            .with("best_of_1_2_4_workers", best),
        );
        for (workers, rate, load) in &rates {
            let mut f = Figure::new(
                format!("service.runs_per_second_w{workers}"),
                what(*workers),
                *rate,
                "runs/s",
                format!("the same runner inside one process, {CONCURRENCY} at once"),
                in_process,
            )
            .with("vs_process_per_run", rate / per_process)
            .with("database_load", load.clone());
            if *workers == 1 {
                f = f.at_least(0.8);
            }
            self.figures.push(f);
        }

        (self.progress)(format!(
            "  submit-to-start: {} runs one at a time, LISTEN vs polling ...",
            sizes.latency_samples
        ));
        let mut listening = self
            .submit_to_start(&req, sizes.latency_samples, &[])
            .await?;
        let mut polling = self
            .submit_to_start(
                &req,
                sizes.latency_samples,
                &["--listen-url", "off", "--poll-interval", "500ms"],
            )
            .await?;
        for (p, name) in [(50.0, "p50"), (99.0, "p99")] {
            self.figures.push(Figure::new(
                format!("service.submit_to_start_{name}"),
                format!(
                    "submitted to claimed ({name} of {}), an idle worker woken by LISTEN/NOTIFY",
                    listening.len()
                ),
                percentile(&mut listening, p),
                "ms",
                format!("the same, polling only (every 500 ms) ({name})"),
                percentile(&mut polling, p),
            ));
        }

        (self.progress)("  kill -9 of a worker mid-run: time until its run is failed ...".into());
        let recovered = self.recovery().await?;
        self.figures.push(Figure::new(
            "service.recovery_after_kill",
            "kill -9 of the worker executing a run, to the run failed \"worker lost\" by another worker",
            recovered,
            "s",
            "the lease (RUNPROOF_LEASE_TTL=2s)",
            RECOVERY_TTL.as_secs_f64(),
        ));
        server.abort();
        Ok(())
    }
}
