//! A worker: claims queued runs from Postgres and executes them, any number of workers on
//! any number of machines sharing one database.
//!
//! - **Claim**: `Store::claim_next_run` (`FOR UPDATE SKIP LOCKED`: no two workers ever get
//!   the same run) with the worker's lease (`worker/<host>/<pid>/<nonce>`), at most
//!   `concurrency` runs at a time, each executed by the same `Runner` as `runtime run`
//!   (checks, trace, seal, signature), its lease renewed by the runner's heartbeat.
//! - **Wake-ups** (`wake.rs`): LISTEN on a direct connection, with polling as the fallback
//!   (and always a slow poll as a safety net).
//! - **Recovery**: every worker, every `recover_every`, fails the runs whose lease expired
//!   ("worker lost (worker/…)"): a killed worker's runs end `failed`, never silently
//!   re-executed; a plan that opted into attempts (`max_attempts`) gets a new run.
//! - **Shutdown** (`run`'s `shutdown` future, e.g. SIGTERM): stop claiming, let the runs in
//!   flight finish for `grace`, then stop the rest (each ends `failed`, "interrupted …",
//!   sealed and signed) and return.

mod wake;

use runproof_runner::{RunControl, Runner};
use runproof_store::{RecoveredRun, Store};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use wake::{WakeMode, WakeSource};

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Runs executed at once.
    pub concurrency: usize,
    /// How often to look at the queue when no LISTEN connection works.
    pub poll_interval: Duration,
    /// How long runs in flight may take to finish after a shutdown is asked for.
    pub grace: Duration,
    /// Where wake-ups come from.
    pub wake: WakeSource,
    /// How often this worker fails runs whose lease expired.
    pub recover_every: Duration,
}

impl WorkerConfig {
    /// Defaults for a runner whose leases last `lease_ttl`: recovery every quarter lease
    /// (at most every second), so a lost run is failed soon after its lease runs out.
    pub fn new(concurrency: usize, lease_ttl: Duration) -> Self {
        WorkerConfig {
            concurrency: concurrency.max(1),
            poll_interval: Duration::from_millis(500),
            grace: Duration::from_secs(30),
            wake: WakeSource::Auto,
            recover_every: (lease_ttl / 4)
                .clamp(Duration::from_millis(100), Duration::from_secs(1)),
        }
    }
}

/// What a worker tells its operator.
#[derive(Debug)]
pub enum WorkerEvent<'a> {
    Started {
        owner: &'a str,
        concurrency: usize,
    },
    Wake(&'a WakeMode),
    Claimed {
        run_id: &'a str,
        tenant_id: &'a str,
        attempt: i32,
    },
    Finished {
        run_id: &'a str,
        status: &'a str,
        error: Option<&'a str>,
        duration_ms: u64,
    },
    /// The run could not be executed to a seal (its error is on the run row).
    Errored {
        run_id: &'a str,
        error: &'a str,
    },
    Recovered(&'a RecoveredRun),
    Draining {
        in_flight: usize,
        grace: Duration,
    },
    Interrupting {
        in_flight: usize,
    },
    Trouble(&'a str),
}

pub trait WorkerObserver: Send + Sync {
    fn event(&self, event: &WorkerEvent<'_>);
}

impl WorkerObserver for () {
    fn event(&self, _: &WorkerEvent<'_>) {}
}

/// What a worker did, when it returns.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct WorkerSummary {
    pub owner: String,
    pub executed: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Stopped when the grace period ran out (included in `failed`).
    pub interrupted: u64,
    /// Could not be executed to a seal.
    pub errored: u64,
    pub recovered: u64,
    /// Why it stopped.
    pub stopped_by: String,
}

pub struct Worker {
    runner: Arc<Runner>,
    config: WorkerConfig,
    observer: Arc<dyn WorkerObserver>,
}

/// The error a run stopped by a shutdown records.
fn interrupted_reason(why: &str, grace: Duration) -> String {
    format!(
        "interrupted: the worker was stopped ({why}) and the run did not finish within its grace period of {} s",
        grace.as_secs_f64()
    )
}

impl Worker {
    /// `runner` must hold a `worker/…` lease (`lease::process_holder("worker", ttl)`).
    pub fn new(runner: Arc<Runner>, config: WorkerConfig) -> Worker {
        Worker {
            runner,
            config,
            observer: Arc::new(()),
        }
    }

    pub fn with_observer(mut self, observer: Arc<dyn WorkerObserver>) -> Worker {
        self.observer = observer;
        self
    }

    fn store(&self) -> &Store {
        self.runner.store()
    }

    /// Works until `shutdown` resolves (with its reason), then drains and returns.
    pub async fn run(self, shutdown: impl Future<Output = String>) -> WorkerSummary {
        let owner = self.runner.lease().owner.clone();
        self.observer.event(&WorkerEvent::Started {
            owner: &owner,
            concurrency: self.config.concurrency,
        });
        let summary = Arc::new(Mutex::new(WorkerSummary {
            owner,
            ..Default::default()
        }));
        let wake = wake::Wake::start(
            self.store().clone(),
            self.config.wake.clone(),
            self.observer.clone(),
        );
        let slots = Arc::new(Semaphore::new(self.config.concurrency));
        let controls: Arc<Mutex<HashMap<String, RunControl>>> = Arc::default();
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut next_recovery = Instant::now();
        let mut failures = 0u32;
        let stopped_by = loop {
            if Instant::now() >= next_recovery {
                self.recover(&summary).await;
                next_recovery = Instant::now() + self.config.recover_every;
            }
            let until_recovery = next_recovery.saturating_duration_since(Instant::now());
            let permit = tokio::select! {
                biased;
                why = &mut shutdown => break why,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break "the worker's slots were closed".to_string(),
                },
                _ = tokio::time::sleep(until_recovery) => continue,
            };
            let trace_id = runproof_runner::new_id();
            match self
                .store()
                .claim_next_run(&trace_id, self.runner.lease())
                .await
            {
                Ok(Some(claimed)) => {
                    failures = 0;
                    let run_id = claimed.run.id.clone();
                    self.observer.event(&WorkerEvent::Claimed {
                        run_id: &run_id,
                        tenant_id: &claimed.run.tenant_id,
                        attempt: claimed.run.attempts,
                    });
                    let control = RunControl::new();
                    lock(&controls).insert(run_id.clone(), control.clone());
                    let (runner, observer, controls, summary) = (
                        self.runner.clone(),
                        self.observer.clone(),
                        controls.clone(),
                        summary.clone(),
                    );
                    tasks.spawn(async move {
                        let started = Instant::now();
                        let result = runner.run_claimed(claimed, &control, &()).await;
                        lock(&controls).remove(&run_id);
                        let mut s = lock(&summary);
                        s.executed += 1;
                        match &result {
                            Ok(report) => {
                                if report.status == runproof_runner::RunStatus::Succeeded {
                                    s.succeeded += 1;
                                } else {
                                    s.failed += 1;
                                }
                                if control
                                    .aborted()
                                    .is_some_and(|r| r.starts_with("interrupted"))
                                {
                                    s.interrupted += 1;
                                }
                                drop(s);
                                observer.event(&WorkerEvent::Finished {
                                    run_id: &run_id,
                                    status: report.status.as_str(),
                                    error: report.error_message.as_deref(),
                                    duration_ms: started.elapsed().as_millis() as u64,
                                });
                            }
                            Err(e) => {
                                s.errored += 1;
                                drop(s);
                                observer.event(&WorkerEvent::Errored {
                                    run_id: &run_id,
                                    error: &e.to_string(),
                                });
                            }
                        }
                        drop(permit);
                    });
                    // Look again at once: the queue may hold more.
                }
                Ok(None) => {
                    drop(permit);
                    let wait = if wake.listening() {
                        // LISTEN wakes us; this poll only covers a notification lost while
                        // the connection was being re-made.
                        self.config.poll_interval.max(Duration::from_secs(5))
                    } else {
                        self.config.poll_interval
                    };
                    tokio::select! {
                        biased;
                        why = &mut shutdown => break why,
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(wait.min(until_recovery.max(Duration::from_millis(10)))) => {}
                    }
                }
                Err(e) => {
                    drop(permit);
                    failures += 1;
                    let line = format!("claiming a run failed: {e}");
                    self.observer.event(&WorkerEvent::Trouble(&line));
                    let backoff = Duration::from_millis(200 * 2u64.pow(failures.min(5)))
                        .min(Duration::from_secs(5));
                    tokio::select! {
                        why = &mut shutdown => break why,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                }
            }
            while let Some(done) = tasks.try_join_next() {
                if let Err(e) = done {
                    let line = format!("a run task ended abnormally: {e}");
                    self.observer.event(&WorkerEvent::Trouble(&line));
                }
            }
        };
        // Stop claiming; let the runs in flight finish within the grace period.
        self.observer.event(&WorkerEvent::Draining {
            in_flight: tasks.len(),
            grace: self.config.grace,
        });
        let grace = tokio::time::sleep(self.config.grace);
        tokio::pin!(grace);
        let mut interrupted = false;
        while !tasks.is_empty() {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = &mut grace, if !interrupted => {
                    interrupted = true;
                    let reason = interrupted_reason(&stopped_by, self.config.grace);
                    let running: Vec<RunControl> = lock(&controls).values().cloned().collect();
                    self.observer.event(&WorkerEvent::Interrupting { in_flight: running.len() });
                    for c in running {
                        c.abort(reason.clone());
                    }
                }
            }
        }
        wake.stop();
        let mut s = lock(&summary).clone();
        s.stopped_by = stopped_by;
        s
    }

    async fn recover(&self, summary: &Mutex<WorkerSummary>) {
        match self.store().recover_lost_runs().await {
            Ok(runs) => {
                lock(summary).recovered += runs.len() as u64;
                for r in &runs {
                    self.observer.event(&WorkerEvent::Recovered(r));
                }
            }
            Err(e) => {
                let line = format!("recovering lost runs failed: {e}");
                self.observer.event(&WorkerEvent::Trouble(&line));
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking run task cannot leave these maps or counters half-updated.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
