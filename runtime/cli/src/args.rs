//! The command line, as operators type it. Flag names follow the seed plans.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "runtime", version, about = "RunProof: run skills as sandboxed WebAssembly components, with a verifiable trace of every host call")]
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
    /// Verify a run's trace and print its proof.
    Proof(ProofArgs),
    /// Tenant secrets: values skills use by placeholder, never see, and the trace never holds.
    #[command(subcommand)]
    Secret(SecretCommand),
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
    Create(AgentCreateArgs),
    /// List agents.
    List {
        /// Only agents this tenant may use.
        #[arg(long)]
        tenant_id: Option<String>,
    },
    /// Show one agent and its policy.
    Show {
        #[arg(long)]
        agent_id: String,
    },
}

#[derive(Debug, Args)]
pub struct AgentCreateArgs {
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
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[arg(long)]
    pub agent_id: String,
    #[arg(long)]
    pub goal: String,
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
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Show one run with its trace and steps.
    Show {
        #[arg(long)]
        run_id: String,
        #[arg(long)]
        tenant_id: String,
    },
    /// List a tenant's recent runs.
    List {
        #[arg(long)]
        tenant_id: String,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Debug, Args)]
pub struct ProofArgs {
    #[arg(long)]
    pub run_id: String,
    #[arg(long)]
    pub tenant_id: String,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store (or replace) a secret; its value is read from stdin (one trailing newline is
    /// dropped) and encrypted with the key in RUNPROOF_HOME/keys/secrets.key.
    Set {
        /// Secret name: letters, digits, `_`, `-`, `.` (at most 64).
        name: String,
        #[arg(long)]
        tenant_id: String,
        /// Where the value may be sent: scheme://host[:port] patterns, as --allow-host.
        /// Repeatable; at least one.
        #[arg(long = "allow-host", value_name = "PATTERN", required = true)]
        allow_hosts: Vec<String>,
    },
    /// List a tenant's secrets: names, allowed hosts, times (never values).
    List {
        #[arg(long)]
        tenant_id: String,
    },
    /// Delete a secret.
    Rm {
        name: String,
        #[arg(long)]
        tenant_id: String,
    },
}
