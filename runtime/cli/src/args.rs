//! The command line, as operators type it. Flag names follow the seed plans.
//!
//! Long (one file): the whole command tree, so clap derives it from one place and
//! `every_command_and_flag_has_help` walks it all; per-command argument structs that grew
//! big live beside it (`args_service.rs`).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "runtime",
    version,
    about = "RunProof: run skills as sandboxed WebAssembly components, with a verifiable trace of every host call"
)]
pub struct Cli {
    /// Print machine-readable JSON on stdout (progress still goes to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress lines on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Postgres to use. Unset: a private database managed under RUNPROOF_HOME.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where the private database and local state live.
    #[arg(long, env = "RUNPROOF_HOME", global = true)]
    pub home: Option<PathBuf>,
    /// The Ed25519 private key that signs trace heads (PKCS#8 PEM, mode 0600).
    /// Default: RUNPROOF_HOME/keys/signing-key.pem, created on first `runtime run`.
    #[arg(long, env = "RUNPROOF_SIGNING_KEY", global = true, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Database: apply migrations, show status, print the connection URL.
    #[command(subcommand)]
    Db(DbCommand),
    /// Agents: who runs goals, and which hosts they may reach.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Skills: the components plans can use.
    #[command(subcommand)]
    Skill(SkillCommand),
    /// Run a goal to its end and print its run_id and final status.
    Run(RunArgs),
    /// Inspect runs.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Verify a run's trace and print its proof; export it for offline review.
    Proof(ProofArgs),
    /// Verify an exported bundle or inclusion proof offline: no database, no network.
    Verify(VerifyArgs),
    /// Re-run a verified run's skills against their recorded trace: REPLAYED or DIVERGED.
    Replay(ReplayArgs),
    /// Signing keys: the runtime's Ed25519 key that signs every trace head.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Measure what proof costs: each figure beside its baseline, with the ratio.
    Bench(BenchArgs),
    /// Tenant secrets: values skills use by placeholder, never see, and the trace never holds.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Execute queued runs (`run --detach`, the API) until SIGTERM; any number of workers
    /// share one database.
    Worker(crate::args_service::WorkerArgs),
    /// The HTTP API (optionally with in-process workers, `--workers N`).
    Serve(crate::args_service::ServeArgs),
    /// API bearer tokens: one tenant each, stored hashed, revocable.
    #[command(subcommand)]
    Token(crate::args_service::TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create the signing key (refuses to overwrite one; --rotate retires the old key).
    Generate {
        /// Write the private key here instead of the signing key path.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace the current signing key; the old private key moves to keys/retired/.
        /// Proofs it signed stay checkable with its public key (`keys export-public --key-id`).
        #[arg(long)]
        rotate: bool,
    },
    /// List the public keys that have signed trace heads in this database.
    List,
    /// Print a public key (PEM) for reviewers to pin with --trusted-key. Only from the key
    /// files this runtime holds (current and keys/retired/), never from the database.
    ExportPublic {
        /// A key this runtime holds, current or retired (default: the local signing key).
        #[arg(long, conflicts_with = "all")]
        key_id: Option<String>,
        /// Every key this runtime holds, current and retired, as one keyring file.
        #[arg(long)]
        all: bool,
        /// Write the PEM here instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A bundle (`runtime proof export`) or an inclusion proof (`runtime proof inclusion`).
    pub file: PathBuf,
    /// Public key (SPKI PEM) or keyring (several PEM blocks, `keys export-public --all`)
    /// whose signatures you accept. Repeatable; at least one.
    #[arg(long = "trusted-key", value_name = "FILE", required = true)]
    pub trusted_keys: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A bundle to replay offline (`runtime proof export --with-components`): no database.
    /// Without it, the run named by --run-id and --tenant-id is read from the database.
    #[arg(value_name = "BUNDLE", conflicts_with_all = ["run_id", "tenant_id"])]
    pub bundle: Option<PathBuf>,
    /// The run to replay, read from the database (without BUNDLE).
    #[arg(long, required_unless_present = "bundle")]
    pub run_id: Option<String>,
    /// The tenant the run belongs to (without BUNDLE).
    #[arg(long, required_unless_present = "bundle")]
    pub tenant_id: Option<String>,
    /// The component with this SHA-256 digest, from a file (when neither the database, the
    /// bundle nor this binary has it). The file must hash to DIGEST. Repeatable.
    #[arg(long = "component", value_name = "DIGEST=FILE")]
    pub components: Vec<String>,
    /// Replay SKILL's invocations with another component (e.g. a new build) instead of the
    /// one the run recorded: shows where it behaves differently on this trace. Repeatable.
    #[arg(long = "against", value_name = "SKILL=FILE")]
    pub against: Vec<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations.
    Migrate,
    /// Show the database, its migrations and (for the private database) the server state.
    Status,
    /// Print the connection URL (e.g. for `psql "$(runtime db url)"`).
    Url,
    /// Stop the private database server (it starts again on the next command).
    Stop,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent.
    Create(Box<AgentCreateArgs>),
    /// List agents.
    List {
        /// Only agents this tenant may use.
        #[arg(long)]
        tenant_id: Option<String>,
    },
    /// Show one agent and its policy.
    Show {
        /// The agent's id (as `agent create` printed it).
        #[arg(long)]
        agent_id: String,
    },
}

#[derive(Debug, Args)]
pub struct AgentCreateArgs {
    /// A name for people; the agent is addressed by the id `agent create` prints.
    #[arg(long)]
    pub name: String,
    /// Restrict the agent to one tenant (default: usable by every tenant).
    #[arg(long)]
    pub tenant_id: Option<String>,
    /// Outbound HTTP the agent's skills may reach: scheme://host[:port], `*` wildcards,
    /// CIDR ranges (e.g. http://127.0.0.1:*, https://*.example.com, http://10.0.0.0/8:*,
    /// https://[fd00::/8]:443). Loopback, private and metadata addresses need an IP/CIDR
    /// grant; `*` never covers them. Repeatable. None: deny all.
    #[arg(long = "allow-host", value_name = "PATTERN")]
    pub allow_hosts: Vec<String>,
    /// The agent's own plan (plan JSON), used when a run names no --plan.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Linear memory per invocation, e.g. 64MiB (default 64 MiB, ceiling 1 GiB).
    #[arg(long, value_name = "SIZE", value_parser = crate::units::parse_bytes)]
    pub max_memory: Option<u64>,
    /// Wall-clock deadline per invocation, e.g. 30s, 500ms (default 60s, ceiling 10m).
    #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration_ms)]
    pub timeout: Option<u64>,
    /// Fuel (wasm instructions, roughly) per invocation. Default: not metered.
    #[arg(long, value_name = "UNITS", value_parser = crate::units::parse_count)]
    pub fuel: Option<u64>,
    /// Host calls (log, http, clock and random reads) per invocation (default 10000).
    #[arg(long, value_name = "N", value_parser = crate::units::parse_count)]
    pub max_host_calls: Option<u64>,
    /// Give each run a private scratch directory, preopened as /scratch and removed after
    /// the run. Default: no filesystem at all.
    #[arg(long)]
    pub scratch_dir: bool,
    /// Bytes a run may write under /scratch, overwrites included (default 64 MiB, ceiling
    /// 16 GiB).
    #[arg(long, value_name = "SIZE", value_parser = crate::units::parse_bytes)]
    pub scratch_max_bytes: Option<u64>,
    /// Files and directories a run may create under /scratch (default 1000, ceiling 100000).
    #[arg(long, value_name = "N", value_parser = crate::units::parse_count)]
    pub scratch_max_files: Option<u64>,
    /// Descriptors open at once under /scratch, per invocation (default 32, ceiling 256).
    #[arg(long, value_name = "N", value_parser = crate::units::parse_count)]
    pub scratch_max_open_files: Option<u64>,
    /// A tenant secret the agent's skills may use as `{{secret:NAME}}` (if the skill also
    /// declares it and the run's tenant has it). Repeatable. None: no secrets.
    #[arg(long = "allow-secret", value_name = "NAME")]
    pub allow_secrets: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum SkillCommand {
    /// List built-in skills and added skills.
    List,
    /// Validate a component and store it, content-addressed, so plans can use it by name.
    Add {
        /// A skill component built for wasm32-wasip2 (e.g. target/wasm32-wasip2/release/my_skill.wasm).
        file: PathBuf,
        /// Allow new bytes under a name already added (new runs use the newest; old runs
        /// keep pointing at the digest they ran).
        #[arg(long)]
        replace: bool,
    },
    /// Show a skill: digest, size, declared capabilities, imports and exports, and with
    /// --agent-id the effective grant it would run with.
    Inspect {
        /// A skill name (built-in or added) or a component digest (64 hex digits).
        skill: String,
        /// Also show what this agent's grant gives the skill.
        #[arg(long = "agent-id", alias = "agent")]
        agent_id: Option<String>,
    },
    /// Invoke a skill once with a JSON input and print its output and every step it
    /// recorded, decoded. With --agent-id it is a real run (recorded, sealed, signed, and
    /// checkable with `runtime proof`) under that agent's policy; without, it runs in
    /// memory under a deny-all policy and nothing is stored.
    Invoke(InvokeArgs),
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// A skill name (built-in or added), or a component file (added first, as by `skill
    /// add`, when --agent-id makes this a recorded run).
    pub skill: String,
    /// The input document (JSON), as a plan step's `params` would be.
    #[arg(long, value_name = "JSON")]
    pub input: String,
    /// Run under this agent's policy (grants, secrets, limits) as a recorded run.
    #[arg(long = "agent-id", alias = "agent")]
    pub agent_id: Option<String>,
    /// The run's tenant; defaults to the agent's own tenant.
    #[arg(long)]
    pub tenant_id: Option<String>,
    /// With a FILE: make it current under its name even if other bytes were added before.
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The agent that runs the goal: its policy (hosts, secrets, limits) applies to every step.
    #[arg(long)]
    pub agent_id: String,
    /// What the run is for, in words: the agent plans it into steps (unless --plan gives them); the signed head binds it.
    #[arg(long)]
    pub goal: String,
    /// The tenant the run belongs to: runs, proofs, secrets and tokens are per tenant.
    #[arg(long)]
    pub tenant_id: String,
    /// The system this run comes from (required; `legacy-migration` is reserved).
    #[arg(long)]
    pub origin_system_id: String,
    /// Plan JSON to run instead of planning the goal.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Per-tenant key that makes a retried submission not run twice.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Which root the trace row carries: HASH_CHAIN (chain head) or MERKLE_TREE (RFC 6962
    /// root). Both roots are signed either way, so inclusion proofs work for both.
    #[arg(long, value_name = "MODEL", default_value = "HASH_CHAIN", value_parser = parse_model)]
    pub integrity_model: runproof_proof::IntegrityModel,
    /// How long the run's lease holds without a renewal (renewed every third of it). If
    /// this process dies, the run is marked failed ("runner lost") once the lease expires.
    #[arg(long, env = "RUNPROOF_LEASE_TTL", value_name = "DURATION", default_value = "30s",
          value_parser = crate::args_service::parse_lease_ttl)]
    pub lease_ttl: std::time::Duration,
    #[command(flatten)]
    pub queue: crate::args_service::QueueRunArgs,
}

fn parse_model(s: &str) -> Result<runproof_proof::IntegrityModel, String> {
    match s.to_ascii_uppercase().replace('-', "_").as_str() {
        "HASH_CHAIN" => Ok(runproof_proof::IntegrityModel::HashChain),
        "MERKLE_TREE" => Ok(runproof_proof::IntegrityModel::MerkleTree),
        _ => Err(format!(
            "{s:?} is not an integrity model; use HASH_CHAIN or MERKLE_TREE"
        )),
    }
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Show one run with its trace and steps, each value marked by what the proof says of it.
    Show {
        /// The run (the run_id `runtime run` printed).
        #[arg(long)]
        run_id: String,
        /// The run's tenant: a run of another tenant is not found.
        #[arg(long)]
        tenant_id: String,
        #[command(flatten)]
        trust: TrustArgs,
        /// Also show what each step recorded (its stored payload, decoded).
        #[arg(long)]
        payloads: bool,
    },
    /// List a tenant's recent runs.
    List {
        /// Whose runs to list.
        #[arg(long)]
        tenant_id: String,
        /// At most this many runs, newest first.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Mark failed every running run whose runner stopped renewing its lease (killed,
    /// crashed, cut off). Every command does this on start; this one says what it did.
    Recover,
    /// Follow a run to its end (and a lost run to its next attempt, if its plan asked for
    /// one); exit 0 if it succeeded, 3 if it failed.
    Wait {
        /// The run to follow (the run_id `runtime run --detach` printed).
        #[arg(long)]
        run_id: String,
        /// The run's tenant: a run of another tenant is not found.
        #[arg(long)]
        tenant_id: String,
        /// Give up after this long (exit 1, the run goes on).
        #[arg(long, value_name = "DURATION", value_parser = crate::args_service::parse_duration)]
        timeout: Option<std::time::Duration>,
    },
    /// Cancel a run: a queued one never starts; a running one is stopped at its next lease
    /// renewal and sealed as failed.
    Cancel {
        /// The run to cancel.
        #[arg(long)]
        run_id: String,
        /// The run's tenant: a run of another tenant is not found.
        #[arg(long)]
        tenant_id: String,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ProofArgs {
    #[command(subcommand)]
    pub action: Option<ProofAction>,
    /// The run whose proof to verify.
    #[arg(long, required = true)]
    pub run_id: Option<String>,
    /// The run's tenant: a run of another tenant is not found.
    #[arg(long, required = true)]
    pub tenant_id: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Also write the execution report (environment, SQL evidence, verdict, signed head).
    #[arg(long, value_name = "FILE.md")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Public key (SPKI PEM) or keyring (several PEM blocks, `keys export-public --all`)
    /// whose signatures over a trace head you accept. Repeatable. Default: the public half
    /// of the local signing key. Never a key from the database.
    #[arg(long = "trusted-key", value_name = "FILE")]
    pub trusted_keys: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ProofAction {
    /// Write one JSON bundle (signed head, every step's bytes and hashes) for `runtime verify`.
    Export {
        /// The run to export.
        #[arg(long)]
        run_id: String,
        /// The run's tenant: a run of another tenant is not found.
        #[arg(long)]
        tenant_id: String,
        /// The bundle file to write.
        #[arg(long, short, value_name = "FILE")]
        out: PathBuf,
        /// Also put the run's components (by digest) in the bundle, so `runtime replay
        /// BUNDLE` can re-run its skills offline.
        #[arg(long)]
        with_components: bool,
    },
    /// Print the inclusion proof of one step against the signed head (for `runtime verify`).
    Inclusion {
        /// The run whose step to prove.
        #[arg(long)]
        run_id: String,
        /// The run's tenant: a run of another tenant is not found.
        #[arg(long)]
        tenant_id: String,
        /// The step_index to prove.
        #[arg(long)]
        step: u64,
        /// Write the proof here instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Smaller sizes: finishes in under a minute (the full run takes a few minutes).
    #[arg(long)]
    pub quick: bool,
    /// Only the service figures (worker processes, submit-to-start, recovery); the same
    /// as `--only service`.
    #[arg(long)]
    pub service: bool,
    /// Only this group of figures (repeatable): host_call, instantiate, persist (with
    /// verify), http_call, scaling, replay, service. For profiling one path.
    #[arg(long, value_name = "GROUP", value_parser = parse_group)]
    pub only: Vec<runproof_bench::Group>,
}

fn parse_group(s: &str) -> Result<runproof_bench::Group, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store (or replace) a secret; its value is read from stdin (one trailing newline is
    /// dropped) and encrypted with the key in RUNPROOF_HOME/keys/secrets.key.
    Set {
        /// Secret name: letters, digits, `_`, `-`, `.` (at most 64).
        name: String,
        /// The tenant whose skills may use the secret.
        #[arg(long)]
        tenant_id: String,
        /// Where the value may be sent: scheme://host[:port] patterns, as --allow-host.
        /// Repeatable; at least one.
        #[arg(long = "allow-host", value_name = "PATTERN", required = true)]
        allow_hosts: Vec<String>,
    },
    /// List a tenant's secrets: names, allowed hosts, times (never values).
    List {
        /// Whose secrets to list.
        #[arg(long)]
        tenant_id: String,
    },
    /// Delete a secret.
    Rm {
        /// The secret's name.
        name: String,
        /// The tenant the secret belongs to.
        #[arg(long)]
        tenant_id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every command and every flag says what it is for in `--help`.
    #[test]
    fn every_command_and_flag_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            if cmd.get_about().is_none() && path != "runtime" {
                missing.push(format!("{path} (the command)"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                let said = arg.get_help().or(arg.get_long_help());
                if said.is_none_or(|h| h.to_string().trim().is_empty()) {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" {
                    walk(sub, &path, missing);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no help for:\n{}", missing.join("\n"));
    }
}
