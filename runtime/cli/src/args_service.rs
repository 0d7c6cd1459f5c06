//! Flags of the service commands (issue 11): `worker`, `serve`, `token`, and the queue
//! flags of `run` and `runs`.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Lease and shutdown flags shared by `worker` and `serve`.
#[derive(Debug, Args, Clone)]
pub struct ExecutorArgs {
    /// How long a run's lease holds without a renewal (renewed every third of it). A worker
    /// that dies loses its runs once their leases expire: another worker fails them.
    #[arg(long, env = "RUNPROOF_LEASE_TTL", value_name = "DURATION", default_value = "30s",
          value_parser = parse_lease_ttl)]
    pub lease_ttl: Duration,
    /// On SIGTERM or Ctrl-C: stop claiming, and give the runs in flight this long to
    /// finish; the rest are stopped and sealed as failed ("interrupted").
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub grace: Duration,
    /// How often to look at the queue when no LISTEN connection works.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// A direct connection (not through a transaction-mode pooler) for LISTEN wake-ups, or
    /// `off` to poll only. Default: DATABASE_URL, unless it says `pgbouncer=transaction`.
    #[arg(
        long,
        env = "RUNPROOF_LISTEN_URL",
        value_name = "URL|off",
        hide_env_values = true
    )]
    pub listen_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Runs executed at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    #[command(flatten)]
    pub executor: ExecutorArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "RUNPROOF_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Also execute queued runs in this process, this many at a time (0: only serve; run
    /// `runtime worker` elsewhere).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub workers: u16,
    /// Largest request body accepted, e.g. 1MiB (larger: 413).
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = crate::units::parse_bytes)]
    pub max_body: u64,
    /// Public key (SPKI PEM) whose signatures the proof endpoint accepts. Repeatable.
    /// Default: the public half of the local signing key.
    #[arg(long = "trusted-key", value_name = "FILE")]
    pub trusted_keys: Vec<PathBuf>,
    #[command(flatten)]
    pub executor: ExecutorArgs,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API bearer token for a tenant; it is printed once, only its hash is kept.
    Create {
        /// The tenant the token acts for (the API takes the tenant from the token, never the request).
        #[arg(long)]
        tenant_id: String,
        /// A name for people (what the token is for).
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List tokens (never the tokens themselves).
    List {
        /// Only this tenant's tokens.
        #[arg(long)]
        tenant_id: Option<String>,
    },
    /// Revoke a token for good: requests with it are refused from now on.
    Revoke {
        /// The token's id, as `token create` and `token list` show it (not the secret token).
        #[arg(long)]
        token_id: String,
    },
}

/// `runtime run` flags for the queue.
#[derive(Debug, Args, Clone)]
pub struct QueueRunArgs {
    /// Queue the run and print its run_id at once; a worker executes it
    /// (`runtime runs wait --run-id R` follows it to its end).
    #[arg(long)]
    pub detach: bool,
    /// Queue order: higher first (with --detach).
    #[arg(
        long,
        default_value_t = 0,
        requires = "detach",
        allow_hyphen_values = true
    )]
    pub priority: i32,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::units::parse_duration_ms(s).map(Duration::from_millis)
}

pub(crate) fn parse_lease_ttl(s: &str) -> Result<std::time::Duration, String> {
    let ms = crate::units::parse_duration_ms(s)?;
    if ms < 150 {
        return Err(format!(
            "{s:?} is too short for a lease; give at least 150ms"
        ));
    }
    Ok(std::time::Duration::from_millis(ms))
}
