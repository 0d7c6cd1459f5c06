//! WASI p2 for skills, locked down: no preopened directories (unless the agent grants a
//! per-run scratch directory), no environment, no arguments, no sockets, an empty stdin,
//! and stdout/stderr captured in memory. Rust's std on wasm32-wasip2 imports these
//! interfaces even when a skill never uses them, so they are linked, but they grant nothing.
//!
//! Clocks (below) and randomness (`wasi_random.rs`) take every value from the invocation's
//! [`World`] and report every read to the invocation's [`Compactor`](crate::compact::Compactor), which records
//! consecutive reads of one source as one step: a skill's view of time and chance is part of
//! its trace, without one step per four bytes.
//!
//! Denied attempts the host can see are recorded too ([`add_to_linker`]): asking for the
//! preopened directories when none is granted (what a guest's `open("/etc/passwd")` turns
//! into: without a preopen the guest's libc cannot even name a host path), creating a
//! TCP or UDP socket, and resolving a name. Such a step is recorded (by the invocation's
//! [`Reporter`]) as kind `host.denied` with status `failure` and a body
//! `{"denied": {"interface", "call", "reason"}}`.

use crate::compact::Read;
use crate::reporter::Reporter;
use crate::state::SkillState;
use crate::world::World;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::sockets::network;
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddressFamily};
use wasmtime_wasi::p2::bindings::sockets::{ip_name_lookup, tcp_create_socket, udp_create_socket};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{SocketResult, TcpSocket, UdpSocket};
use wasmtime_wasi::sockets::WasiSocketsView;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

struct RecordingWallClock {
    reporter: Reporter,
    world: Arc<dyn World>,
}

impl HostWallClock for RecordingWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        let now = self.world.wall_clock();
        self.reporter.read(Read::Wall {
            seconds: now.as_secs(),
            nanoseconds: now.subsec_nanos(),
        });
        now
    }
}

struct RecordingMonotonicClock {
    reporter: Reporter,
    world: Arc<dyn World>,
}

impl HostMonotonicClock for RecordingMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        let ns = self.world.monotonic_clock();
        self.reporter.read(Read::Monotonic { nanoseconds: ns });
        ns
    }
}

/// Captured standard output and error of one invocation.
pub(crate) struct CapturedStdio {
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
}

/// Per stream. A skill writing more than this traps (the pipe refuses the write).
pub(crate) const STDIO_CAPACITY: usize = 1 << 20;

/// Builds the WASI context of one invocation. `scratch`: the run's scratch directory, when
/// the agent grants one; it is the only host path the skill can name.
pub(crate) fn locked_down(
    reporter: &Reporter,
    world: &Arc<dyn World>,
    scratch: Option<&Path>,
) -> wasmtime::Result<(WasiCtx, CapturedStdio)> {
    let stdio = CapturedStdio {
        stdout: MemoryOutputPipe::new(STDIO_CAPACITY),
        stderr: MemoryOutputPipe::new(STDIO_CAPACITY),
    };
    let mut b = WasiCtxBuilder::new();
    // Deliberately *not* called: inherit_stdio, inherit_env, inherit_args, preopened_dir,
    // inherit_network, allow_ip_name_lookup. The builder's defaults deny all of them.
    b.stdout(stdio.stdout.clone())
        .stderr(stdio.stderr.clone())
        .wall_clock(RecordingWallClock {
            reporter: reporter.clone(),
            world: world.clone(),
        })
        .monotonic_clock(RecordingMonotonicClock {
            reporter: reporter.clone(),
            world: world.clone(),
        })
        // Randomness keeps wasmtime_wasi's generators; `wasi_random.rs` records what each
        // call hands out (and the insecure seed only when the guest asks for it).
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let Some(dir) = scratch {
        // Read-write, but only beneath this directory: cap-std resolves every guest path
        // relative to it and refuses `..` and symlinks that leave it.
        b.preopened_dir(
            dir,
            crate::limits::SCRATCH_GUEST_PATH,
            wasmtime_wasi::FsPerms::ReadWrite,
        )?;
    }
    Ok((b.build(), stdio))
}

/// Links WASI p2 for skills: everything `wasmtime_wasi` provides, with the calls that can
/// only be denied replaced by versions that record the denial first.
pub(crate) fn add_to_linker(linker: &mut Linker<SkillState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    // Replacing a definition needs shadowing; it is switched off again right after so a
    // later accidental double definition still fails loudly.
    linker.allow_shadowing(true);
    preopens::add_to_linker::<SkillState, HasSelf<SkillState>>(linker, |s| s)?;
    tcp_create_socket::add_to_linker::<SkillState, HasSelf<SkillState>>(linker, |s| s)?;
    udp_create_socket::add_to_linker::<SkillState, HasSelf<SkillState>>(linker, |s| s)?;
    ip_name_lookup::add_to_linker::<SkillState, HasSelf<SkillState>>(linker, |s| s)?;
    crate::wasi_random::add_to_linker(linker)?;
    // Served by wasmtime, counted first: the scratch quotas (`fs_quota.rs`).
    wasmtime_wasi::p2::bindings::filesystem::types::add_to_linker::<SkillState, HasSelf<SkillState>>(
        linker,
        |s| s,
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

const NO_FILESYSTEM: &str = "no filesystem is granted to this agent (an operator can grant a per-run scratch directory with --scratch-dir)";
const NO_NAME_LOOKUP: &str =
    "skills have no DNS; the runproof:skill/http host call resolves names itself";
const NO_SOCKETS: &str =
    "skills have no sockets; outbound HTTP goes through the runproof:skill/http host call";

impl preopens::Host for SkillState {
    fn get_directories(
        &mut self,
    ) -> wasmtime::Result<Vec<(Resource<wasmtime_wasi::filesystem::Descriptor>, String)>> {
        let dirs = preopens::Host::get_directories(&mut self.filesystem())?;
        // A guest's libc asks for the preopens when it first resolves a path; with none
        // granted this is where a file access is denied, so this is what is recorded.
        if dirs.is_empty() {
            self.reporter
                .denied("wasi:filesystem/preopens", "get-directories", NO_FILESYSTEM);
        }
        Ok(dirs)
    }
}

// The socket-creating interfaces `use` the network interface's types, so their host traits
// require it; it is served exactly as wasmtime_wasi serves it.
impl network::Host for SkillState {
    fn convert_error_code(
        &mut self,
        error: wasmtime_wasi::p2::SocketError,
    ) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.sockets(), error)
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.sockets(), err)
    }
}

impl network::HostNetwork for SkillState {
    fn drop(&mut self, this: Resource<network::Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.sockets(), this)
    }
}

impl tcp_create_socket::Host for SkillState {
    fn create_tcp_socket(&mut self, family: IpAddressFamily) -> SocketResult<Resource<TcpSocket>> {
        // Denied before any OS socket exists (wasmtime_wasi's own check would also deny,
        // but silently).
        self.reporter.denied(
            "wasi:sockets/tcp-create-socket",
            &format!("create-tcp-socket({family:?})"),
            NO_SOCKETS,
        );
        Err(ErrorCode::AccessDenied.into())
    }
}

impl udp_create_socket::Host for SkillState {
    async fn create_udp_socket(
        &mut self,
        family: IpAddressFamily,
    ) -> SocketResult<Resource<UdpSocket>> {
        self.reporter.denied(
            "wasi:sockets/udp-create-socket",
            &format!("create-udp-socket({family:?})"),
            NO_SOCKETS,
        );
        Err(ErrorCode::AccessDenied.into())
    }
}

impl ip_name_lookup::Host for SkillState {
    fn resolve_addresses(
        &mut self,
        _network: Resource<network::Network>,
        name: String,
    ) -> Result<Resource<ip_name_lookup::ResolveAddressStream>, wasmtime_wasi::p2::SocketError>
    {
        // Nothing is resolved: a lookup would already leak the name to a resolver.
        self.reporter.denied(
            "wasi:sockets/ip-name-lookup",
            &format!("resolve-addresses({name:?})"),
            NO_NAME_LOOKUP,
        );
        Err(ErrorCode::AccessDenied.into())
    }
}

// Unreachable in practice (no stream is ever created above); served as wasmtime_wasi does.
impl ip_name_lookup::HostResolveAddressStream for SkillState {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ip_name_lookup::ResolveAddressStream>,
    ) -> Result<Option<network::IpAddress>, wasmtime_wasi::p2::SocketError> {
        ip_name_lookup::HostResolveAddressStream::resolve_next_address(&mut self.sockets(), stream)
    }

    fn subscribe(
        &mut self,
        stream: Resource<ip_name_lookup::ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<wasmtime_wasi::p2::DynPollable>> {
        ip_name_lookup::HostResolveAddressStream::subscribe(&mut self.sockets(), stream)
    }

    fn drop(
        &mut self,
        stream: Resource<ip_name_lookup::ResolveAddressStream>,
    ) -> wasmtime::Result<()> {
        ip_name_lookup::HostResolveAddressStream::drop(&mut self.sockets(), stream)
    }
}
