//! `runtime bench`: what proof costs, each figure measured beside its baseline in the same
//! process, on the same machine, in the same minute, and reported as a ratio (absolute
//! figures on a shared machine mean little; ratios measured side by side do).
//!
//! Everything traced goes through the production path: the `Runner` writing to the real
//! database (the built-in one or `--database-url`), in the dedicated tenant
//! [`BENCH_TENANT`], with the built-in `bench` skill (N `log` host calls). Baselines that
//! need rows (COPY) use a temporary table that is dropped afterwards; no run, trace or step
//! is ever written except by the runner.
//!
//! Long: each figure keeps its baseline beside it (the point of the tool); the service
//! figures are in service.rs.

mod service;

use anyhow::{Context, Result, anyhow, bail, ensure};
use futures_util::StreamExt;
use runproof_coordinator::{RunProofCoordinator, StepListing};
use runproof_host::http::{HttpCaps, OutboundRequest};
use runproof_host::{
    HostConfig, HostPattern, InvocationLimits, LoadedSkill, NullRecorder, OutboundPolicy, SkillHost,
};
use runproof_proof::RunStatus;
use runproof_proof::{ChainVerifier, StoredStep};
use runproof_runner::{RunEvent, RunObserver, RunReport, RunRequest, Runner};
use runproof_store::binary_copy::BinaryCopy;
use runproof_store::{NewAgent, Store};
use serde::Serialize;
use sha2::Digest as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod replay;

/// The tenant every bench run belongs to, so they never mix with real runs.
pub const BENCH_TENANT: &str = "runproof-bench";
/// Host calls one bench invocation may make (the runtime default is 10 000, which a
/// 10 000-call step plus the guest's own clock reads would exceed).
const BENCH_MAX_HOST_CALLS: u64 = 100_000;
const ORIGIN: &str = "runproof-bench";
/// The per-invocation host-call cap: one `bench` step makes at most this many calls.
const CALLS_PER_STEP: u64 = 10_000;

/// One measured figure beside its baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub id: String,
    pub what: String,
    pub value: f64,
    pub unit: &'static str,
    pub baseline: Baseline,
    /// `value / baseline.value`.
    pub ratio: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
    /// Anything else worth seeing next to the figure (percentiles, counts).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub what: String,
    pub value: f64,
}

/// A goal on the ratio: `ratio <= max` or `ratio >= min`.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub ratio: String,
    pub met: bool,
}

impl Figure {
    fn new(
        id: impl Into<String>,
        what: impl Into<String>,
        value: f64,
        unit: &'static str,
        base_what: impl Into<String>,
        base: f64,
    ) -> Self {
        Figure {
            id: id.into(),
            what: what.into(),
            value,
            unit,
            ratio: if base != 0.0 { value / base } else { f64::NAN },
            baseline: Baseline {
                what: base_what.into(),
                value: base,
            },
            goal: None,
            detail: serde_json::Map::new(),
        }
    }

    fn at_most(mut self, max: f64) -> Self {
        self.goal = Some(Goal {
            ratio: format!("<= {max}"),
            met: self.ratio <= max,
        });
        self
    }

    fn at_least(mut self, min: f64) -> Self {
        self.goal = Some(Goal {
            ratio: format!(">= {min}"),
            met: self.ratio >= min,
        });
        self
    }

    fn with(mut self, key: &str, v: impl Into<serde_json::Value>) -> Self {
        self.detail.insert(key.to_string(), v.into());
        self
    }
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub quick: bool,
    pub cpus: usize,
    pub allocator: &'static str,
    pub tenant_id: &'static str,
    pub elapsed_s: f64,
    pub figures: Vec<Figure>,
}

/// A group of figures, named by the prefix of their ids (`host_call.*`, `persist.*` and
/// `verify.*`, ...): `runtime bench --only GROUP` measures one path, e.g. under a profiler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    HostCall,
    Instantiate,
    /// `persist.*` and `verify.*` (verification reads the rows the persist run wrote).
    Persist,
    Http,
    Scaling,
    Replay,
    Service,
}

impl Group {
    pub const ALL: &'static [Group] = &[
        Group::HostCall,
        Group::Instantiate,
        Group::Persist,
        Group::Http,
        Group::Scaling,
        Group::Replay,
        Group::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Group::HostCall => "host_call",
            Group::Instantiate => "instantiate",
            Group::Persist => "persist",
            Group::Http => "http_call",
            Group::Scaling => "scaling",
            Group::Replay => "replay",
            Group::Service => "service",
        }
    }
}

impl std::str::FromStr for Group {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Group::ALL
            .iter()
            .copied()
            .find(|g| g.as_str() == s || (s == "verify" && *g == Group::Persist))
            .ok_or_else(|| {
                let names: Vec<&str> = Group::ALL.iter().map(|g| g.as_str()).collect();
                format!("no figure group `{s}`; one of: {}", names.join(", "))
            })
    }
}

/// How to start `runtime` child processes against the same database (scaling runs).
pub struct ChildEnv {
    pub exe: PathBuf,
    pub database_url: Option<String>,
    pub home: Option<PathBuf>,
    /// The signing key file, so child runs are signed by the same key as the parent's.
    pub signing_key: PathBuf,
}

/// Sizes of one bench: `--quick` keeps the whole thing under a minute.
struct Sizes {
    host_call_rounds: usize,
    compile_reps: usize,
    instantiate_reps: usize,
    persist_steps: u64,
    latency_samples: usize,
    runs_per_level: [(usize, usize); 3],
    scaling: [u64; 3],
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                host_call_rounds: 3,
                compile_reps: 2,
                instantiate_reps: 50,
                persist_steps: 20_000,
                latency_samples: 50,
                runs_per_level: [(1, 16), (8, 32), (64, 64)],
                scaling: [10, 1_000, 10_000],
            }
        } else {
            Sizes {
                host_call_rounds: 7,
                compile_reps: 5,
                instantiate_reps: 300,
                persist_steps: 100_000,
                latency_samples: 300,
                runs_per_level: [(1, 100), (8, 200), (64, 384)],
                scaling: [10, 1_000, 100_000],
            }
        }
    }
}

pub struct Bench<'a> {
    store: Store,
    host: Arc<SkillHost>,
    runner: Arc<Runner>,
    /// The same runner but for the write-ahead of outbound requests: the baseline of what
    /// making an intent durable before the request leaves costs.
    runner_no_write_ahead: Arc<Runner>,
    agent_id: String,
    sizes: Sizes,
    quick: bool,
    child: ChildEnv,
    progress: &'a (dyn Fn(String) + Sync),
    figures: Vec<Figure>,
    /// The public half of the key the bench runs are signed with: verification figures
    /// include the signature check, as `runtime proof` does.
    trusted: Vec<runproof_proof::VerifyingKey>,
}

impl<'a> Bench<'a> {
    pub async fn new(
        store: Store,
        host_config: HostConfig,
        quick: bool,
        child: ChildEnv,
        progress: &'a (dyn Fn(String) + Sync),
        signing_key: runproof_proof::SigningKey,
    ) -> Result<Bench<'a>> {
        let host = Arc::new(SkillHost::new(host_config)?);
        let trusted = vec![signing_key.verifying_key()];
        let runner =
            Arc::new(Runner::new(store.clone(), host.clone()).with_signer(signing_key.clone()));
        let runner_no_write_ahead = Arc::new(
            Runner::new(store.clone(), host.clone())
                .with_signer(signing_key)
                .without_write_ahead(),
        );
        // A fresh agent per bench: the grant is loopback HTTP only (the http_call figures).
        let agent = store
            .create_agent(NewAgent {
                id: runproof_runner::new_id(),
                tenant_id: Some(BENCH_TENANT.into()),
                name: "runproof-bench".into(),
                allowed_hosts: vec!["http://127.0.0.1:*".into()],
                plan_json: None,
                allowed_secrets: Vec::new(),
                // Defaults for every resource limit: the bench measures the ordinary path.
                max_memory_bytes: None,
                timeout_ms: None,
                fuel: None,
                // A bench step makes up to 10 000 `log` calls, and the skill's own clock and
                // random reads count as host calls too: grant head room above the default.
                max_host_calls: Some(BENCH_MAX_HOST_CALLS as i64),
                scratch_dir: false,
                scratch_max_bytes: None,
                scratch_max_files: None,
                scratch_max_open_files: None,
            })
            .await?;
        Ok(Bench {
            store,
            host,
            runner,
            runner_no_write_ahead,
            agent_id: agent.id,
            sizes: Sizes::new(quick),
            quick,
            child,
            progress,
            figures: Vec::new(),
            trusted,
        })
    }

    /// Every group of figures, in order.
    pub async fn run_all(self) -> Result<Report> {
        self.run_groups(Group::ALL).await
    }

    /// The figures of `groups` only (in the bench's own order), e.g. to profile one path.
    pub async fn run_groups(mut self, groups: &[Group]) -> Result<Report> {
        let started = Instant::now();
        let wants = |g: Group| groups.contains(&g);
        let needs_skill = wants(Group::HostCall) || wants(Group::Instantiate);
        let bench_wasm = runproof_builtin_skills::find("bench")
            .context("the built-in `bench` skill is missing")?
            .wasm;
        if needs_skill {
            let skill = self.host.load(bench_wasm).await?;
            if wants(Group::HostCall) {
                (self.progress)("host call: traced vs bare ...".into());
                self.host_call(&skill).await?;
            }
            if wants(Group::Instantiate) {
                (self.progress)("instantiate and invoke: cold, warm from disk, pooled ...".into());
                self.instantiate(bench_wasm, &skill).await?;
            }
        }
        if wants(Group::Persist) {
            (self.progress)(format!(
                "persist {} steps vs COPY; verify ...",
                self.sizes.persist_steps
            ));
            self.persist_and_verify().await?;
        }
        if wants(Group::Http) {
            (self.progress)("http_call end to end vs a direct GET ...".into());
            self.http().await?;
        }
        if wants(Group::Scaling) {
            (self.progress)(format!(
                "scaling: runs of {:?} host calls (child processes) ...",
                self.sizes.scaling
            ));
            self.scaling().await?;
        }
        if wants(Group::Replay) {
            (self.progress)("replay: a run re-executed against its trace ...".into());
            self.replay().await?;
        }
        if wants(Group::Service) {
            (self.progress)("service: worker processes, submit-to-start, recovery ...".into());
            self.service().await?;
        }
        Ok(Report {
            quick: self.quick,
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            allocator: self.host.allocator(),
            tenant_id: BENCH_TENANT,
            elapsed_s: started.elapsed().as_secs_f64(),
            figures: self.figures,
        })
    }

    fn request(&self, goal: &str, plan: serde_json::Value) -> RunRequest {
        RunRequest {
            agent_id: self.agent_id.clone(),
            tenant_id: BENCH_TENANT.into(),
            origin_system_id: ORIGIN.into(),
            goal: goal.into(),
            plan_json: Some(plan.to_string()),
            idempotency_key: None,
            integrity_model: runproof_proof::IntegrityModel::HashChain,
        }
    }

    /// A run through the production path; fails the bench unless it succeeded.
    async fn traced_run(&self, req: &RunRequest, observer: &dyn RunObserver) -> Result<RunReport> {
        let report = self.runner.run(req, observer).await?;
        ensure!(
            report.status == RunStatus::Succeeded,
            "bench run {} ended {}: {:?}",
            report.run_id,
            report.status,
            report.error_message
        );
        Ok(report)
    }

    /// Figure 1: The same `log` host call with the production recorder and with none: once with
    /// 1 000 calls per invocation (the rows fit in the writer's queue, so this is what the
    /// calling task pays: serialize, hash, enqueue), once with 10 000 (the queue fills and
    /// the skill runs at the database's pace: back-pressure included).
    async fn host_call(&mut self, skill: &LoadedSkill) -> Result<()> {
        let rounds = self.sizes.host_call_rounds;
        let (t, b) = self.host_call_rounds(skill, 1_000, rounds * 3).await?;
        self.figures.push(
            Figure::new(
                "host_call.traced",
                format!("one `log` host call, traced: serialize + hash on the calling task, rows queued for the background writer (median of {} invocations of 1000 calls)", rounds * 3),
                t,
                "µs/call",
                "the same call with no recorder (NullRecorder, bare wasmtime)",
                b,
            )
            .at_most(2.0),
        );
        let (t, b) = self.host_call_rounds(skill, CALLS_PER_STEP, rounds).await?;
        self.figures.push(Figure::new(
            "host_call.traced_sustained",
            format!("the same, {CALLS_PER_STEP} calls per invocation: more rows than the queue holds, so the skill waits for Postgres (back-pressure; median of {rounds})"),
            t,
            "µs/call",
            "the same call with no recorder (NullRecorder, bare wasmtime)",
            b,
        )
        .at_most(3.0));
        Ok(())
    }

    /// Medians of `rounds` interleaved bare and traced invocations of `n` calls (µs/call).
    async fn host_call_rounds(
        &self,
        skill: &LoadedSkill,
        n: u64,
        rounds: usize,
    ) -> Result<(f64, f64)> {
        let input = serde_json::json!({ "calls": n }).to_string();
        let (mut bare, mut traced) = (Vec::new(), Vec::new());
        // Interleaved, so drift on a shared machine hits both sides alike.
        for _ in 0..rounds {
            let t = Instant::now();
            let limits = InvocationLimits {
                max_host_calls: BENCH_MAX_HOST_CALLS,
                ..Default::default()
            };
            let outcome = self
                .host
                .invoke(skill, &input, Arc::new(NullRecorder), &[], limits, None)
                .await;
            ensure!(
                matches!(outcome, runproof_host::InvocationOutcome::Output(_)),
                "bare bench invocation failed: {outcome:?}"
            );
            bare.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);

            let clock = StepClock::default();
            let req = self.request("bench: traced host calls", bench_plan(n));
            self.traced_run(&req, &clock).await?;
            let steps = clock.steps();
            let d = steps.first().context("the traced run reported no step")?;
            traced.push(d.as_secs_f64() * 1e6 / n as f64);
        }
        Ok((median(&mut traced), median(&mut bare)))
    }

    /// Figure 2: Instantiate and invoke a small skill (`bench` with 0 calls).
    async fn instantiate(&mut self, wasm: &[u8], pooled_skill: &LoadedSkill) -> Result<()> {
        // Cold: a process with no compiled artifact at all.
        let mut cold = Vec::new();
        for _ in 0..self.sizes.compile_reps {
            let host = SkillHost::new(HostConfig {
                cache_dir: None,
                ..Default::default()
            })?;
            let t = Instant::now();
            let skill = host.load(wasm).await?;
            invoke(&host, &skill).await?;
            cold.push(t.elapsed().as_secs_f64() * 1e6);
        }
        // Warm: a new process finding the artifact an earlier one cached on disk.
        let cache = std::env::temp_dir().join(format!(
            "runproof-bench-cache-{}",
            runproof_runner::new_id()
        ));
        let warm_config = HostConfig {
            cache_dir: Some(cache.clone()),
            ..Default::default()
        };
        SkillHost::new(warm_config.clone())?.load(wasm).await?;
        let mut warm = Vec::new();
        for _ in 0..self.sizes.compile_reps {
            let host = SkillHost::new(warm_config.clone())?;
            let t = Instant::now();
            let skill = host.load(wasm).await?;
            invoke(&host, &skill).await?;
            warm.push(t.elapsed().as_secs_f64() * 1e6);
        }
        // On-demand allocator, same cached InstancePre: what pooling saves.
        let on_demand_host = SkillHost::new(HostConfig {
            on_demand_allocator: true,
            ..warm_config
        })?;
        let on_demand_skill = on_demand_host.load(wasm).await?;
        let _ = std::fs::remove_dir_all(&cache);
        let (mut pooled, mut on_demand) = (Vec::new(), Vec::new());
        for _ in 0..self.sizes.instantiate_reps {
            let t = Instant::now();
            invoke(&self.host, pooled_skill).await?;
            pooled.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            invoke(&on_demand_host, &on_demand_skill).await?;
            on_demand.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let (cold, warm, pooled, on_demand) = (
            median(&mut cold),
            median(&mut warm),
            median(&mut pooled),
            median(&mut on_demand),
        );
        let cold_what = "cold: compile with Cranelift, describe, instantiate, invoke";
        self.figures.push(Figure::new(
            "instantiate.warm_disk_cache",
            "warm: load the compiled artifact from the disk cache, describe, instantiate, invoke",
            warm,
            "µs",
            cold_what,
            cold,
        ));
        self.figures.push(Figure::new(
            "instantiate.pooled_instance_pre",
            format!("pooled: instantiate the cached InstancePre from the pool and invoke ({} allocator)", self.host.allocator()),
            pooled,
            "µs",
            cold_what,
            cold,
        ));
        self.figures.push(Figure::new(
            "instantiate.pooled_vs_on_demand",
            "pooled InstancePre instantiate + invoke",
            pooled,
            "µs",
            "the same with the on-demand allocator",
            on_demand,
        ));
        Ok(())
    }

    /// Figures 3 and 4: Steps persisted per second through the runner vs `COPY` of the same rows
    /// into a scratch table; then verification of those rows.
    async fn persist_and_verify(&mut self) -> Result<()> {
        let req = self.request("bench: persist", bench_plan(self.sizes.persist_steps));
        let t = Instant::now();
        let report = self.traced_run(&req, &()).await?;
        let run_secs = t.elapsed().as_secs_f64();
        let steps = report.chain_length as f64;

        let rows: Vec<StoredStep> = {
            let mut out = Vec::with_capacity(report.chain_length as usize);
            let mut stream = self.store.stream_steps(&report.trace_id);
            while let Some(s) = stream.next().await {
                out.push(s?);
            }
            out
        };
        ensure!(
            rows.len() as u64 == report.chain_length,
            "read back {} of {} steps",
            rows.len(),
            report.chain_length
        );
        let copy_secs = copy_into_scratch(&self.store, &rows).await?;
        let logged_secs = copy_into_logged(&self.store, &rows).await?;
        let what = format!(
            "steps persisted per second: a {}-step run of `bench` through the runner (hash on the calling task, batched background writes, flush, seal)",
            report.chain_length
        );
        self.figures.push(Figure::new(
            "persist.steps_per_second",
            what.clone(),
            steps / run_secs,
            "steps/s",
            "COPY (binary) of the same rows into a temporary table of the same shape and indexes (no WAL: not a limit a durable table can reach)",
            steps / copy_secs,
        ));
        self.figures.push(
            Figure::new(
                "persist.vs_logged_copy",
                what,
                steps / run_secs,
                "steps/s",
                "COPY (binary) of the same rows into a logged table of the same shape, indexes, checks and foreign key, committed synchronously: the physical limit",
                steps / logged_secs,
            )
            .at_least(0.7),
        );

        // In memory: the verifier over rows already read vs raw SHA-256 of the payloads.
        let trace = self
            .store
            .traces_for_run(BENCH_TENANT, &report.run_id)
            .await?
            .into_iter()
            .next()
            .context("the bench run has no trace")?;
        let head = trace.trace_head();
        let ids = head.ids.clone();
        let bytes: usize = rows.iter().map(|r| r.payload.len()).sum();
        let (mut verify_rates, mut sha_rates, mut floor_rates) =
            (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            let t = Instant::now();
            let mut v = ChainVerifier::new(ids.clone());
            for r in &rows {
                v.push(r);
            }
            let verdict = v.finish(&head, &self.trusted);
            verify_rates.push(steps / t.elapsed().as_secs_f64());
            ensure!(
                verdict.is_verified(),
                "the bench trace did not verify: {:?}",
                verdict.failure_reason
            );

            let t = Instant::now();
            for r in &rows {
                black_box(sha2::Sha256::digest(black_box(&r.payload)));
            }
            sha_rates.push(steps / t.elapsed().as_secs_f64());

            let t = Instant::now();
            black_box(hashing_floor(black_box(&rows)));
            floor_rates.push(steps / t.elapsed().as_secs_f64());
        }
        let in_memory = median(&mut verify_rates);
        self.figures.push(
            Figure::new(
                "verify.in_memory",
                "steps verified per second in memory (re-hash the chain, parse each header, check every column)",
                in_memory,
                "steps/s",
                "raw SHA-256 over the same payload bytes",
                median(&mut sha_rates),
            )
            .with("payload_bytes_per_step", bytes as f64 / steps),
        );
        self.figures.push(
            Figure::new(
                "verify.vs_hashing_floor",
                "steps verified per second in memory (as verify.in_memory)",
                in_memory,
                "steps/s",
                "the hashing any verifier must do: each step hash (tag, link, index, length, payload), its Merkle leaf and one interior node",
                median(&mut floor_rates),
            )
            .at_least(0.7),
        );

        let t = Instant::now();
        let proof = RunProofCoordinator::new(self.store.clone())
            .trusting(self.trusted.clone())
            .get_run_proof_with(BENCH_TENANT, &report.run_id, StepListing::Omit)
            .await?;
        let streamed = steps / t.elapsed().as_secs_f64();
        ensure!(
            proof.integrity.is_verified(),
            "the bench run does not verify: {:?}",
            proof.integrity.failure_reason
        );
        self.figures.push(
            Figure::new(
                "verify.streamed_from_postgres",
                "steps verified per second streamed from Postgres in step_index order (`runtime proof`'s path)",
                streamed,
                "steps/s",
                "verified in memory",
                in_memory,
            )
            .at_least(0.5),
        );
        Ok(())
    }

    /// Figure 5: A one-step `http_call` run against a loopback server vs a direct GET of the same
    /// URL with the host's own HTTP client.
    async fn http(&mut self) -> Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/bench", listener.local_addr()?);
        let server = tokio::spawn(serve(listener));
        let pattern = HostPattern::parse("http://127.0.0.1:*").map_err(|e| anyhow!("{e}"))?;
        let policy = Arc::new(OutboundPolicy {
            granted: vec![pattern.clone()],
            requested: vec![pattern],
        });
        let plan = serde_json::json!({"planner": "manual", "steps": [
            {"step_id": "get", "skill": "http_call", "params": {"url": url}}
        ]});
        let req = Arc::new(self.request(&format!("bench: GET {url}"), plan));

        let (mut direct, mut run, mut batched) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..self.sizes.latency_samples {
            let t = Instant::now();
            direct_get(&url, &policy).await?;
            direct.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            self.traced_run(&req, &()).await?;
            run.push(t.elapsed().as_secs_f64() * 1e3);
            // Interleaved: the same run with the intent batched instead of waited for.
            let t = Instant::now();
            let r = self.runner_no_write_ahead.run(&req, &()).await?;
            ensure!(
                r.status == RunStatus::Succeeded,
                "http_call bench run failed: {:?}",
                r.error_message
            );
            batched.push(t.elapsed().as_secs_f64() * 1e3);
        }
        self.figures.push(Figure::new(
            "http_call.write_ahead_p50".to_string(),
            format!(
                "`http_call` run end to end (p50 of {}), the request's intent made durable (a synchronous commit) before the GET leaves",
                run.len()
            ),
            percentile(&mut run.clone(), 50.0),
            "ms",
            "the same run with the intent batched like any step (no wait before the GET; p50)".to_string(),
            percentile(&mut batched, 50.0),
        ));
        for (p, name) in [(50.0, "p50"), (99.0, "p99")] {
            self.figures.push(
                Figure::new(
                    format!("http_call.latency_{name}"),
                    format!("`http_call` run end to end ({name} of {}): plan, run + trace rows, invoke, GET, flush, seal", run.len()),
                    percentile(&mut run, p),
                    "ms",
                    format!("a direct GET of the same loopback URL ({name})"),
                    percentile(&mut direct, p),
                ),
            );
        }

        for (concurrency, total) in self.sizes.runs_per_level {
            let runs = self
                .concurrently(concurrency, total, {
                    let (runner, req) = (self.runner.clone(), req.clone());
                    move || {
                        let (runner, req) = (runner.clone(), req.clone());
                        async move {
                            let r = runner.run(&req, &()).await?;
                            ensure!(
                                r.status == RunStatus::Succeeded,
                                "http_call bench run failed: {:?}",
                                r.error_message
                            );
                            Ok(())
                        }
                    }
                })
                .await?;
            let gets = self
                .concurrently(concurrency, total, {
                    let (url, policy) = (url.clone(), policy.clone());
                    move || {
                        let (url, policy) = (url.clone(), policy.clone());
                        async move { direct_get(&url, &policy).await }
                    }
                })
                .await?;
            self.figures.push(Figure::new(
                format!("http_call.runs_per_second_c{concurrency}"),
                format!("`http_call` runs per second at concurrency {concurrency} ({total} runs)"),
                runs,
                "runs/s",
                format!("direct GETs per second at concurrency {concurrency}"),
                gets,
            ));
        }
        server.abort();
        Ok(())
    }

    /// `total` jobs on `concurrency` tasks; returns jobs per second.
    async fn concurrently<F, Fut>(&self, concurrency: usize, total: usize, job: F) -> Result<f64>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let job = Arc::new(job);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let t = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (job, next) = (job.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                    job().await?;
                }
                Ok::<_, anyhow::Error>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        Ok(total as f64 / t.elapsed().as_secs_f64())
    }

    /// Figure 6: Runs of growing length, each in its own `runtime run` process: time per step and
    /// the process's peak RSS. The largest run is then verified.
    async fn scaling(&mut self) -> Result<()> {
        let mut results = Vec::new();
        for &calls in &self.sizes.scaling {
            (self.progress)(format!("  runtime run: {calls} host calls ..."));
            let r = self.child_run(calls).await?;
            results.push((calls, r));
        }
        let (_, base_run) = &results[0];
        let (_, mid_run) = &results[1];
        for (calls, r) in &results {
            self.figures.push(
                Figure::new(
                    format!("scaling.time_per_step_{calls}"),
                    format!("time per step, a run of {calls} host calls ({} steps) in `runtime run` (run creation to seal)", r.steps),
                    r.us_per_step(),
                    "µs/step",
                    format!("the run of {} host calls", results[1].0),
                    mid_run.us_per_step(),
                )
                .with("run_ms", r.run_ms),
            );
        }
        for (calls, r) in &results {
            self.figures.push(
                Figure::new(
                    format!("scaling.peak_rss_{calls}"),
                    format!(
                        "peak RSS of `runtime run` for {calls} host calls ({} steps)",
                        r.steps
                    ),
                    r.max_rss_kib as f64 / 1024.0,
                    "MiB",
                    format!("the run of {} host calls", results[0].0),
                    base_run.max_rss_kib as f64 / 1024.0,
                )
                .with(
                    "delta_mib",
                    (r.max_rss_kib as f64 - base_run.max_rss_kib as f64) / 1024.0,
                ),
            );
        }
        let (calls, largest) = &results[2];
        (self.progress)(format!("  verifying the {calls}-call run ..."));
        let t = Instant::now();
        let proof = RunProofCoordinator::new(self.store.clone())
            .trusting(self.trusted.clone())
            .get_run_proof_with(BENCH_TENANT, &largest.run_id, StepListing::Omit)
            .await?;
        ensure!(
            proof.integrity.is_verified(),
            "the {calls}-call run does not verify: {:?}",
            proof.integrity.failure_reason
        );
        self.figures.push(Figure::new(
            format!("scaling.verify_streamed_{calls}"),
            format!(
                "the {calls}-call run ({} steps) verified streamed from Postgres: VERIFIED",
                largest.steps
            ),
            largest.steps as f64 / t.elapsed().as_secs_f64(),
            "steps/s",
            "its steps persisted per second (run creation to seal)",
            largest.steps as f64 / (largest.run_ms / 1e3),
        ));
        Ok(())
    }

    async fn child_run(&self, calls: u64) -> Result<ChildRun> {
        let plan_file = std::env::temp_dir().join(format!(
            "runproof-bench-plan-{}.json",
            runproof_runner::new_id()
        ));
        std::fs::write(&plan_file, bench_plan(calls).to_string())?;
        let mut cmd = std::process::Command::new(&self.child.exe);
        if let Some(url) = &self.child.database_url {
            cmd.arg("--database-url").arg(url);
        }
        if let Some(home) = &self.child.home {
            cmd.arg("--home").arg(home);
        }
        cmd.arg("--signing-key").arg(&self.child.signing_key);
        cmd.args([
            "--json",
            "-q",
            "run",
            "--agent-id",
            &self.agent_id,
            "--tenant-id",
            BENCH_TENANT,
            "--origin-system-id",
            ORIGIN,
        ])
        .args(["--goal", &format!("bench: {calls} host calls")])
        .arg("--plan")
        .arg(&plan_file);
        let result = tokio::task::spawn_blocking(move || run_measured(cmd)).await?;
        let _ = std::fs::remove_file(&plan_file);
        let (code, stdout, max_rss_kib) = result?;
        let v: serde_json::Value = serde_json::from_str(&stdout)
            .with_context(|| format!("`runtime run` printed no JSON (exit {code}): {stdout}"))?;
        if code != 0 {
            bail!("`runtime run` of {calls} calls exited {code}: {v}");
        }
        Ok(ChildRun {
            run_id: v["run_id"].as_str().context("no run_id")?.to_string(),
            steps: v["chain_length"].as_u64().context("no chain_length")?,
            run_ms: v["duration_ms"].as_f64().context("no duration_ms")?,
            max_rss_kib,
        })
    }
}

struct ChildRun {
    run_id: String,
    steps: u64,
    run_ms: f64,
    max_rss_kib: u64,
}

impl ChildRun {
    fn us_per_step(&self) -> f64 {
        self.run_ms * 1e3 / self.steps as f64
    }
}

/// Runs `cmd` to its end; returns its exit code, stdout and peak RSS (KiB).
///
/// The peak is the child's own `VmHWM` from `/proc/<pid>/status`, sampled every 2 ms while
/// it runs (a high-water mark, so the last sample is the peak up to then). Not `wait4`'s
/// `ru_maxrss`: Linux carries the forking parent's high-water mark into the child across
/// `exec`, so it would report this (larger) bench process instead.
fn run_measured(mut cmd: std::process::Command) -> Result<(i32, String, u64)> {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()?;
    let mut stdout = child.stdout.take().context("no stdout pipe")?;
    // Read while it runs, so a large output cannot fill the pipe and stall the child.
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = reader
        .join()
        .map_err(|_| anyhow!("stdout reader panicked"))??;
    ensure!(
        peak_kib > 0,
        "could not read the peak RSS of the child from {status_file}"
    );
    Ok((status.code().unwrap_or(-1), out, peak_kib))
}

/// A plan of `bench` steps making `calls` host calls in all, each step under the cap.
fn bench_plan(calls: u64) -> serde_json::Value {
    let mut steps = Vec::new();
    let mut left = calls;
    while left > 0 || steps.is_empty() {
        let n = left.min(CALLS_PER_STEP);
        steps.push(serde_json::json!({"step_id": format!("b{}", steps.len()), "skill": "bench", "params": {"calls": n}}));
        left -= n;
    }
    serde_json::json!({"planner": "manual", "steps": steps})
}

/// Times each plan step from its start event to its end event.
#[derive(Default)]
struct StepClock {
    started: Mutex<Option<Instant>>,
    steps: Mutex<Vec<Duration>>,
}

impl StepClock {
    fn steps(&self) -> Vec<Duration> {
        self.steps.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl RunObserver for StepClock {
    fn event(&self, e: &RunEvent<'_>) {
        match e {
            RunEvent::StepStarted { .. } => {
                *self.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now())
            }
            RunEvent::StepFinished { .. } => {
                if let Some(t) = self
                    .started
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                {
                    self.steps
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(t.elapsed());
                }
            }
            _ => {}
        }
    }
}

/// COPY (binary) of `rows` into a temporary table shaped like `aos_trace_steps` (same
/// columns, primary key and unique index; no trigger, no foreign key), timed from the COPY
/// statement to its completion. The table is dropped afterwards.
/// The SHA-256 work a verifier cannot avoid: the chain (every step hash over its exact
/// bytes) and the Merkle tree over the chain hashes (one leaf per step and, amortized, one
/// interior node). Returns the last digests so the work cannot be optimized away.
fn hashing_floor(rows: &[StoredStep]) -> (runproof_proof::Digest, runproof_proof::Digest) {
    use runproof_proof::{hash::step_hash, merkle};
    let (mut prev, mut last_leaf) = ([0u8; 32], [0u8; 32]);
    for r in rows {
        let index = r.step_index as u64;
        let linked = step_hash(&prev, index, &r.payload);
        let leaf = merkle::leaf_hash(index, &linked);
        last_leaf = merkle::node_hash(&last_leaf, &leaf);
        prev = linked;
    }
    (prev, last_leaf)
}

/// Seconds to COPY `rows` into a logged table shaped like `aos_trace_steps` (its columns,
/// checks, unique key, `run_id` index and foreign key to the real trace), in one
/// transaction committed synchronously, as durable as the production write. Dropped after.
async fn copy_into_logged(store: &Store, rows: &[StoredStep]) -> Result<f64> {
    let table = "runproof_bench_copy_logged";
    copy_timed(
        store,
        rows,
        table,
        &[
            &format!(
                "CREATE TABLE {table} (
                 id bigserial PRIMARY KEY, trace_id text NOT NULL REFERENCES aos_traces (trace_id),
                 run_id text NOT NULL, tenant_id text NOT NULL,
                 step_index bigint NOT NULL CHECK (step_index >= 0), kind text NOT NULL, skill_name text,
                 status text NOT NULL CHECK (status IN ('success', 'failure', 'retry', 'skipped')),
                 duration_ms bigint, cost_cents integer NOT NULL DEFAULT 0, payload bytea NOT NULL,
                 prev_hash bytea NOT NULL, hash bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
                 UNIQUE (trace_id, step_index))"
            ),
            &format!("CREATE INDEX ON {table} (run_id)"),
        ],
        true,
    )
    .await
}

/// Seconds to COPY `rows` into a temporary table of the same shape and unique key (no
/// WAL, no trigger, no foreign key): the fastest way these bytes get into Postgres.
async fn copy_into_scratch(store: &Store, rows: &[StoredStep]) -> Result<f64> {
    let table = "runproof_bench_copy";
    copy_timed(
        store,
        rows,
        table,
        &[&format!(
            "CREATE TEMP TABLE {table} (
             id bigserial PRIMARY KEY, trace_id text NOT NULL, run_id text NOT NULL, tenant_id text NOT NULL,
             step_index bigint NOT NULL, kind text NOT NULL, skill_name text, status text NOT NULL,
             duration_ms bigint, cost_cents integer NOT NULL DEFAULT 0, payload bytea NOT NULL,
             prev_hash bytea NOT NULL, hash bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
             UNIQUE (trace_id, step_index))"
        )],
        false,
    )
    .await
}

/// Creates `table` with `ddl`, then times a binary COPY of `rows` into it (in one explicit
/// transaction when `in_transaction`, so its commit is the synchronous one), drops it.
async fn copy_timed(
    store: &Store,
    rows: &[StoredStep],
    table: &str,
    ddl: &[&str],
    in_transaction: bool,
) -> Result<f64> {
    let mut conn = store.pool().acquire().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
        .execute(&mut *conn)
        .await?;
    for statement in ddl {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&mut *conn)
            .await?;
    }
    let data = copy_binary(rows);
    let t = Instant::now();
    if in_transaction {
        sqlx::query("BEGIN").execute(&mut *conn).await?;
    }
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY {table} (trace_id, run_id, tenant_id, step_index, kind, skill_name, status,
                 duration_ms, cost_cents, payload, prev_hash, hash) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    // In chunks, as a client streaming rows would send them.
    for chunk in data.chunks(1 << 20) {
        copy.send(chunk).await?;
    }
    let n = copy.finish().await?;
    if in_transaction {
        sqlx::query("COMMIT").execute(&mut *conn).await?;
    }
    let secs = t.elapsed().as_secs_f64();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(&mut *conn)
        .await?;
    ensure!(
        n as usize == rows.len(),
        "COPY wrote {n} of {} rows",
        rows.len()
    );
    Ok(secs)
}

/// The rows in PostgreSQL's binary COPY format, through the same encoder the trace
/// writer uses for its batches.
fn copy_binary(rows: &[StoredStep]) -> Vec<u8> {
    let mut c = BinaryCopy::new(12, rows.iter().map(|r| r.payload.len() + 300).sum());
    for r in rows {
        c.row()
            .text(&r.trace_id)
            .text(&r.run_id)
            .text(&r.tenant_id)
            .bigint(r.step_index)
            .text(&r.kind)
            .opt_text(r.skill_name.as_deref())
            .text(&r.status)
            .opt_bigint(r.duration_ms)
            .integer(r.cost_cents as i32)
            .bytes(&r.payload)
            .bytes(&r.prev_hash)
            .bytes(&r.hash);
    }
    c.finish()
}

/// A GET with the host's own client and policy check, nothing recorded.
async fn direct_get(url: &str, policy: &OutboundPolicy) -> Result<()> {
    let req = OutboundRequest {
        method: "GET".into(),
        url: url.into(),
        headers: Vec::new(),
        body: None,
        follow_redirects: true,
    };
    let deadline = runproof_host::http::Deadline {
        at: tokio::time::Instant::now() + Duration::from_secs(30),
        what: "the direct GET's timeout of 30 s".into(),
    };
    // Nothing recorded: the write-ahead goes to a recorder that keeps nothing.
    let mut ahead = runproof_host::WriteAhead::new(&runproof_host::NullRecorder, "bench", "bench");
    let resp = runproof_host::http::send(
        &req,
        policy,
        &runproof_host::SecretSet::default(),
        &HttpCaps::default(),
        &deadline,
        &mut ahead,
    )
    .await
    .map_err(|e| anyhow!("direct GET: {}", e.message()))?;
    ensure!(resp.status == 200, "direct GET answered {}", resp.status);
    Ok(())
}

/// The smallest HTTP/1.1 server that answers every request with `200 {"ok":true}` and
/// closes the connection (as the host's client sees any one-shot server).
pub(crate) async fn serve(listener: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}";
    while let Ok((mut socket, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut buf = [0u8; 2048];
            loop {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
                if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let _ = socket.write_all(RESPONSE).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// `bench` with no host call: instantiate from the InstancePre and invoke.
async fn invoke(host: &SkillHost, skill: &LoadedSkill) -> Result<()> {
    let outcome = host
        .invoke(
            skill,
            r#"{"calls":0}"#,
            Arc::new(NullRecorder),
            &[],
            InvocationLimits::default(),
            None,
        )
        .await;
    ensure!(
        matches!(outcome, runproof_host::InvocationOutcome::Output(_)),
        "bench invocation failed: {outcome:?}"
    );
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    percentile(v, 50.0)
}

/// Nearest-rank percentile.
fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_split_at_the_host_call_cap() {
        let p = bench_plan(25_000);
        let steps = p["steps"].as_array().unwrap();
        let calls: Vec<u64> = steps
            .iter()
            .map(|s| s["params"]["calls"].as_u64().unwrap())
            .collect();
        assert_eq!(calls, vec![10_000, 10_000, 5_000]);
        assert_eq!(bench_plan(0)["steps"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v, 50.0), 50.0);
        assert_eq!(percentile(&mut v, 99.0), 99.0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    }

    #[test]
    fn copy_binary_has_header_rows_and_trailer() {
        let row = StoredStep {
            trace_id: "t".into(),
            run_id: "r".into(),
            tenant_id: "x".into(),
            step_index: 0,
            kind: "run.start".into(),
            skill_name: None,
            status: "success".into(),
            duration_ms: None,
            cost_cents: 0,
            payload: b"{}".to_vec(),
            prev_hash: vec![0; 32],
            hash: vec![1; 32],
        };
        let b = copy_binary(&[row]);
        assert!(b.starts_with(b"PGCOPY\n\xff\r\n\0"));
        assert!(b.ends_with(&(-1i16).to_be_bytes()));
        assert_eq!(&b[19..21], &12i16.to_be_bytes());
    }
}
