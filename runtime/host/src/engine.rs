//! The shared engine, the compiled-component cache, and one invocation from start to end.
//!
//! One file: `SkillHost` is the engine, its cache and one invocation's lifetime; what can
//! live apart already does (compile.rs, deadline.rs, limits.rs, pool.rs, wasi.rs, state.rs).

use crate::bindings::runproof::skill::types::{SkillError, SkillInfo};
use crate::bindings::{Skill, SkillPre};
use crate::http::HttpCaps;
use crate::limiter::Limiter;
use crate::limits::{InvocationLimits, LimitHit};
use crate::policy::OutboundPolicy;
use crate::recorder::{HostEvent, NullRecorder, TraceRecorder};
use crate::reporter::Reporter;
use crate::state::{SkillState, bytes_json};
use crate::wasi;
use crate::world::{LiveWorld, OfflineWorld, World};
use runproof_proof::{StepKind, StepStatus};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use crate::deadline::EPOCH_TICK;
use crate::engine_config::engine_config;
pub use crate::error::HostError;
use crate::error::chain;

/// Engine-wide settings.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    pub http: HttpCaps,
    /// Where compiled components are cached between processes (keyed by component digest
    /// and the engine's compatibility hash). `None`: compile in every process.
    pub cache_dir: Option<PathBuf>,
    /// Allocate instances on demand instead of from the pre-reserved pool. The pool is the
    /// default (and faster); `runtime bench` uses this as a baseline, and the host falls
    /// back to it by itself when the pool's address space cannot be reserved.
    pub on_demand_allocator: bool,
    /// Where per-run scratch directories are created. `None`: under the system temp dir.
    pub scratch_root: Option<PathBuf>,
    /// Told when a large component is compiled (`progress.rs`); `None`: silent.
    pub compile_progress: Option<crate::progress::CompileProgress>,
}

pub use crate::pool::POOL_CONCURRENT_INSTANCES;

/// A compiled, linked component and what it says about itself.
pub struct LoadedSkill {
    /// SHA-256 of the component bytes (hex): its identity in traces and in `skills`.
    pub digest: String,
    pub size_bytes: usize,
    pub info: SkillInfo,
    /// Parsed `info.capabilities.outbound_hosts`; a pattern the skill declares badly is
    /// dropped (and so denied), never widened.
    pub requested_hosts: Vec<crate::HostPattern>,
    /// The component's import and export names (for `runtime skill inspect`).
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pre: SkillPre<SkillState>,
}

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum InvocationOutcome {
    /// `invoke` returned output JSON.
    Output(String),
    /// `invoke` returned the skill's own error.
    SkillError { code: String, message: String },
    /// The sandbox stopped the skill: a trap, a limit, a deadline, `exit`.
    Aborted { reason: String },
}

/// Runs skills. One per process: it owns the engine, the linker and the compile cache.
pub struct SkillHost {
    engine: Engine,
    linker: Linker<SkillState>,
    cache: Mutex<HashMap<String, Arc<LoadedSkill>>>,
    config: HostConfig,
    ticker_stop: Arc<AtomicBool>,
    pooled: bool,
    /// The process's descriptor limit, as raised at start.
    nofile: u64,
}

/// SHA-256 hex of component bytes.
pub fn component_digest(wasm: &[u8]) -> String {
    hex::encode(Sha256::digest(wasm))
}

impl SkillHost {
    pub fn new(config: HostConfig) -> Result<Self, HostError> {
        let (engine, pooled) = if config.on_demand_allocator {
            (
                Engine::new(&engine_config(false)).map_err(|e| HostError::Engine(e.to_string()))?,
                false,
            )
        } else {
            match Engine::new(&engine_config(true)) {
                Ok(engine) => (engine, true),
                // The pool reserves its address space up front (about 4 GiB per memory
                // slot); under a tight `ulimit -v` that fails. Slower instantiation beats
                // not running at all.
                Err(e) => {
                    tracing::warn!(
                        "instance pool unavailable, allocating instances on demand: {e}"
                    );
                    (
                        Engine::new(&engine_config(false))
                            .map_err(|e| HostError::Engine(e.to_string()))?,
                        false,
                    )
                }
            }
        };

        let mut linker = Linker::<SkillState>::new(&engine);
        wasi::add_to_linker(&mut linker).map_err(|e| HostError::Engine(e.to_string()))?;
        crate::wasi_http::add_to_linker(&mut linker)
            .map_err(|e| HostError::Engine(e.to_string()))?;
        Skill::add_to_linker::<SkillState, HasSelf<SkillState>>(&mut linker, |s| s)
            .map_err(|e| HostError::Engine(e.to_string()))?;

        // Before any skill runs: the runtime's own descriptors must never be the ones a
        // skill's scratch files take (`scratch.rs`).
        let nofile = crate::scratch::raise_nofile_limit();

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (stop, ticking) = (ticker_stop.clone(), engine.clone());
        std::thread::Builder::new()
            .name("runproof-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticking.increment_epoch();
                }
            })
            .map_err(|e| HostError::Engine(format!("cannot start the epoch ticker: {e}")))?;

        Ok(SkillHost {
            engine,
            linker,
            cache: Mutex::new(HashMap::new()),
            config,
            ticker_stop,
            pooled,
            nofile,
        })
    }

    /// `pooling` or `on-demand`: how this host allocates instances.
    pub fn allocator(&self) -> &'static str {
        if self.pooled { "pooling" } else { "on-demand" }
    }

    /// Compiles and links `wasm` (once per digest per process) and asks it to describe itself.
    /// Malformed bytes, a core module, the wrong world or an import we do not provide are
    /// all `InvalidComponent` with the engine's explanation.
    pub async fn load(&self, wasm: &[u8]) -> Result<Arc<LoadedSkill>, HostError> {
        let digest = component_digest(wasm);
        if let Some(hit) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
        {
            return Ok(hit.clone());
        }
        if !wasm.starts_with(b"\0asm") {
            return Err(HostError::InvalidComponent(
                "the file is not WebAssembly (no \\0asm header)".into(),
            ));
        }
        if wasm.get(4..8) == Some(&[1, 0, 0, 0]) {
            return Err(HostError::InvalidComponent(
                "this is a core wasm module, not a component: build the skill for wasm32-wasip2"
                    .into(),
            ));
        }
        // Cranelift (seconds for an interpreter component) and artifact deserialization are
        // blocking work: on the blocking pool, not an async worker thread that other runs'
        // host calls and the trace writer need.
        let compiler = self.compiler();
        let (bytes, for_compile) = (wasm.to_vec(), digest.clone());
        let component = tokio::task::spawn_blocking(move || compiler.compile(&bytes, &for_compile))
            .await
            .map_err(|e| HostError::Engine(format!("the compile task failed: {e}")))??;
        crate::validate::check(&component, &self.engine).map_err(HostError::InvalidComponent)?;
        let (imports, exports) = crate::validate::interface(&component, &self.engine);
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| HostError::InvalidComponent(chain(&e)))?;
        let pre = SkillPre::new(instance_pre).map_err(|e| {
            HostError::InvalidComponent(format!(
                "its exports do not match the runproof:skill world: {}",
                chain(&e)
            ))
        })?;

        // `describe` runs outside any run: nothing it does is recorded and it may reach nothing.
        let limits = InvocationLimits {
            timeout: crate::deadline::DESCRIBE_TIMEOUT,
            ..Default::default()
        };
        let mut store = self
            .new_store(
                Reporter::new(Arc::new(NullRecorder), "(describe)", limits.max_host_calls),
                Arc::new(OfflineWorld::new()),
                OutboundPolicy::deny_all(),
                limits,
                None,
            )
            .map_err(|e| HostError::Describe(chain(&e)))?
            .0;
        // Bounded by the host, not by the guest's cooperation: a `describe` parked in a WASI
        // sleep is cut off too (see `deadline.rs`).
        let called = crate::deadline::bounded(limits.timeout, async {
            let skill = pre.instantiate_async(&mut store).await?;
            skill.call_describe(&mut store).await
        })
        .await;
        let aborted = |reason: String| HostError::DescribeAborted {
            digest: digest.clone(),
            reason: crate::trace_caps::cap_message(&reason),
        };
        let info = match called {
            Err(hit) => return Err(aborted(hit.to_string())),
            Ok(Err(e)) => {
                return Err(aborted(abort_reason(
                    &e,
                    store.data().limiter.hit.clone(),
                    &limits,
                )));
            }
            Ok(Ok(info)) => info,
        };
        drop(store);
        crate::validate::check_info(&info).map_err(HostError::DescribeRefused)?;

        let requested_hosts = info
            .capabilities
            .outbound_hosts
            .iter()
            .filter_map(|p| crate::HostPattern::parse(p).ok())
            .collect();
        let loaded = Arc::new(LoadedSkill {
            digest: digest.clone(),
            size_bytes: wasm.len(),
            info,
            requested_hosts,
            imports,
            exports,
            pre,
        });
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest, loaded.clone());
        Ok(loaded)
    }

    fn compiler(&self) -> crate::compile::Compiler {
        crate::compile::Compiler {
            engine: self.engine.clone(),
            cache_dir: self.config.cache_dir.clone(),
            progress: self.config.compile_progress.clone(),
            pooled: self.pooled,
        }
    }

    /// Creates the scratch directory of run `run_id` (for an agent granted `--scratch-dir`);
    /// it is removed when the returned value is dropped.
    pub fn create_scratch(&self, run_id: &str) -> Result<crate::ScratchDir, HostError> {
        let root = self
            .config
            .scratch_root
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("runproof-scratch"));
        crate::ScratchDir::create(&root, run_id).map_err(|e| {
            HostError::Engine(format!(
                "cannot create a scratch directory under {}: {e}",
                root.display()
            ))
        })
    }

    fn new_store(
        &self,
        reporter: Reporter,
        world: Arc<dyn World>,
        policy: OutboundPolicy,
        limits: InvocationLimits,
        scratch: Option<&crate::ScratchDir>,
    ) -> wasmtime::Result<(Store<SkillState>, wasi::CapturedStdio)> {
        let (wasi_ctx, stdio) = wasi::locked_down(&reporter, &world, scratch.map(|s| s.path()))?;
        let fs = match scratch {
            Some(dir) => crate::scratch_quota::FsQuota::new(
                dir.usage().clone(),
                crate::scratch_quota::ScratchQuota {
                    max_bytes: limits.scratch_max_bytes,
                    max_files: limits.scratch_max_files,
                    max_open: crate::scratch::fit_open_quota(
                        limits.scratch_max_open_files,
                        self.nofile,
                    ),
                },
            ),
            None => crate::scratch_quota::FsQuota::none(),
        };
        let deadline = tokio::time::Instant::now() + limits.timeout;
        let state = SkillState {
            wasi: wasi_ctx,
            table: ResourceTable::new(),
            limiter: Limiter::new(limits.max_memory_bytes),
            reporter,
            policy,
            secrets: Default::default(),
            caps: self.config.http,
            deadline,
            wasi_http: Default::default(),
            world,
            fs,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Without a grant the meter still runs (engine-wide), so give it all it can count.
        store.set_fuel(limits.fuel.unwrap_or(u64::MAX))?;
        // Checked on every epoch tick: the wall-clock deadline, and the host-call cap for
        // calls (clock and random reads) that cannot trap by themselves. Either stops even
        // a tight loop that makes no host call. Yielding between ticks keeps one skill
        // from holding an executor thread.
        store.set_epoch_deadline(1);
        let timeout = limits.timeout;
        store.epoch_deadline_callback(move |mut ctx| {
            // A replay whose code has left the trace: nothing after this can be checked.
            if ctx.data().world.halted() {
                return Err(wasmtime::format_err!(
                    "stopped by the replay: the code no longer follows the trace"
                ));
            }
            let hit = if ctx.data().reporter.meter.exceeded() {
                LimitHit::HostCalls {
                    limit: ctx.data().reporter.meter.max(),
                }
            } else if tokio::time::Instant::now() >= deadline {
                LimitHit::Deadline { limit: timeout }
            } else {
                return Ok(UpdateDeadline::Yield(1));
            };
            let reason = hit.to_string();
            ctx.data_mut().limiter.hit.get_or_insert(hit);
            Err(wasmtime::format_err!("{reason}"))
        });
        Ok((store, stdio))
    }

    /// Runs `invoke(input)` once in a fresh store. Every host call goes to `recorder`; what
    /// the skill wrote to stdout/stderr is recorded when it ends. Never panics on anything
    /// the skill does. `scratch`: the run's scratch directory, preopened as `/scratch` when
    /// `limits.scratch_dir` grants it.
    pub async fn invoke(
        &self,
        skill: &LoadedSkill,
        input: &str,
        recorder: Arc<dyn TraceRecorder>,
        granted: &[crate::HostPattern],
        limits: InvocationLimits,
        scratch: Option<&crate::ScratchDir>,
    ) -> InvocationOutcome {
        self.invoke_with_secrets(
            skill,
            input,
            recorder,
            granted,
            Arc::default(),
            limits,
            scratch,
        )
        .await
    }

    /// [`invoke`](Self::invoke), with the secrets the skill may use by placeholder (the
    /// runner passes the effective set: declared ∩ granted ∩ stored for the tenant).
    #[allow(clippy::too_many_arguments)]
    pub async fn invoke_with_secrets(
        &self,
        skill: &LoadedSkill,
        input: &str,
        recorder: Arc<dyn TraceRecorder>,
        granted: &[crate::HostPattern],
        secrets: Arc<crate::SecretSet>,
        limits: InvocationLimits,
        scratch: Option<&crate::ScratchDir>,
    ) -> InvocationOutcome {
        let policy = OutboundPolicy {
            granted: granted.to_vec(),
            requested: skill.requested_hosts.clone(),
        };
        let world: Arc<dyn World> = Arc::new(LiveWorld::new());
        self.invoke_in(
            skill, input, recorder, world, policy, secrets, limits, scratch,
        )
        .await
    }

    /// One invocation with host calls answered by `world` and reported to `recorder`: the
    /// live path and the replay path (`replay.rs`) differ only in these two.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn invoke_in(
        &self,
        skill: &LoadedSkill,
        input: &str,
        recorder: Arc<dyn TraceRecorder>,
        world: Arc<dyn World>,
        policy: OutboundPolicy,
        secrets: Arc<crate::SecretSet>,
        limits: InvocationLimits,
        scratch: Option<&crate::ScratchDir>,
    ) -> InvocationOutcome {
        let reporter = Reporter::new(recorder.clone(), &skill.info.name, limits.max_host_calls);
        let scratch = scratch.filter(|_| limits.scratch_dir);
        let (mut store, stdio) = match self.new_store(reporter, world, policy, limits, scratch) {
            Ok(s) => s,
            Err(e) => {
                return InvocationOutcome::Aborted {
                    reason: format!("cannot set up the sandbox: {}", chain(&e)),
                };
            }
        };
        store.data_mut().secrets = secrets;
        // The epoch deadline stops wasm code; this stops a skill parked in a host call too.
        let run = crate::deadline::bounded(limits.timeout, async {
            let instance = skill.pre.instantiate_async(&mut store).await?;
            instance.call_invoke(&mut store, input).await
        })
        .await;
        let mut hit = store
            .data()
            .limiter
            .hit
            .clone()
            .or_else(|| store.data().fs.hit());
        // The last run of clock/random reads goes before stdout/stderr and skill.end; the
        // store goes first, so no exchange still in flight can record after it.
        let compactor = store.data().reporter.recorder.clone();
        drop(store);
        compactor.flush();
        for (kind, pipe) in [
            (StepKind::HostStdout, &stdio.stdout),
            (StepKind::HostStderr, &stdio.stderr),
        ] {
            let bytes = pipe.contents();
            // A full pipe refuses further writes, which a Rust guest turns into a panic
            // (an `unreachable` trap): if the skill then trapped, the full pipe is why.
            if bytes.len() >= wasi::STDIO_CAPACITY && matches!(run, Ok(Err(_))) && hit.is_none() {
                let stream = if kind == StepKind::HostStdout {
                    "stdout"
                } else {
                    "stderr"
                };
                hit = Some(LimitHit::Stdio {
                    stream,
                    limit: wasi::STDIO_CAPACITY as u64,
                });
            }
            if !bytes.is_empty() {
                recorder.record(
                    &skill.info.name,
                    HostEvent {
                        kind,
                        status: StepStatus::Success,
                        duration_ms: None,
                        body: bytes_json(&bytes),
                    },
                );
            }
        }
        match run {
            Err(hit) => InvocationOutcome::Aborted {
                reason: hit.to_string(),
            },
            Ok(Err(e)) => InvocationOutcome::Aborted {
                reason: abort_reason(&e, hit, &limits),
            },
            // The skill's own words are capped like every message (`trace_caps.rs`): they go
            // into two steps, the run's error message and the CLI's output.
            Ok(Ok(Err(SkillError { code, message }))) => InvocationOutcome::SkillError {
                code: crate::trace_caps::cap_to(&code, 256),
                message: crate::trace_caps::cap_message(&message),
            },
            // The output was lifted into host memory already; its size is bounded by the
            // skill's memory limit, and it goes no further than this check.
            Ok(Ok(Ok(output))) if output.len() > limits.max_output_bytes => {
                InvocationOutcome::Aborted {
                    reason: LimitHit::Output {
                        size: output.len() as u64,
                        limit: limits.max_output_bytes as u64,
                    }
                    .to_string(),
                }
            }
            Ok(Ok(Ok(output))) => InvocationOutcome::Output(output),
        }
    }
}

impl Drop for SkillHost {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Names the limit or fault that stopped a skill. A limit the host enforced itself (memory,
/// tables, deadline, host calls) was remembered when it was hit; the rest are traps.
fn abort_reason(e: &wasmtime::Error, hit: Option<LimitHit>, limits: &InvocationLimits) -> String {
    if let Some(hit) = hit {
        return hit.to_string();
    }
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return format!("skill called exit({})", exit.0);
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => LimitHit::Deadline {
            limit: limits.timeout,
        }
        .to_string(),
        Some(Trap::StackOverflow) => LimitHit::Stack.to_string(),
        Some(Trap::OutOfFuel) => LimitHit::Fuel {
            limit: limits.fuel.unwrap_or(u64::MAX),
        }
        .to_string(),
        // The trap itself, without the wasm backtrace that precedes it in the chain: the
        // reason is one readable line (e.g. "wasm trap: wasm `unreachable` instruction executed").
        Some(trap) => trap.to_string(),
        None => {
            // The pool has no free slot: every concurrent invocation it is sized for is busy.
            if let Some(full) = e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
                return format!(
                    "instance pool full ({full}); the pool holds {POOL_CONCURRENT_INSTANCES} concurrent invocations"
                );
            }
            // Anything else: instantiation refused (e.g. the store's instance, table or
            // memory count, whose message names the count) or a host error.
            crate::trace_caps::cap_message(&format!("trap: {}", chain(e)))
        }
    }
}
