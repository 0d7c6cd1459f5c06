use crate::args::{AgentCommand, AgentCreateArgs};
use crate::database::Database;
use crate::output::Out;
use anyhow::{Context, Result, bail};
use runproof_host::limits::{
    Bytes, CEILING_FUEL, CEILING_MAX_HOST_CALLS, CEILING_MAX_MEMORY_BYTES,
    CEILING_SCRATCH_MAX_BYTES, CEILING_SCRATCH_MAX_FILES, CEILING_SCRATCH_MAX_OPEN,
    CEILING_TIMEOUT_MS,
};
use runproof_host::{Capabilities, HostPattern, InvocationLimits};
use runproof_store::{Agent, NewAgent};

pub async fn run(cmd: &AgentCommand, db: &Database, out: &Out) -> Result<()> {
    match cmd {
        AgentCommand::Create(args) => create(args, db, out).await,
        AgentCommand::List { tenant_id } => {
            let store = db.ready_store().await?;
            let agents = store.list_agents(tenant_id.as_deref()).await?;
            out.emit(&agents, || {
                if agents.is_empty() {
                    outln!("no agents yet: create one with `runtime agent create --name NAME`");
                }
                for a in &agents {
                    outln!(
                        "{}  {}  tenant={}  allow-host=[{}]",
                        a.id,
                        a.name,
                        a.tenant_id.as_deref().unwrap_or("*"),
                        a.allowed_hosts.join(", ")
                    );
                }
            });
            Ok(())
        }
        AgentCommand::Show { agent_id } => {
            let store = db.ready_store().await?;
            let Some(a) = store.agent(agent_id).await? else {
                bail!("agent {agent_id} not found; `runtime agent list` shows the agents");
            };
            out.emit(&agent_json(&a), || print_agent(&a));
            Ok(())
        }
    }
}

async fn create(args: &AgentCreateArgs, db: &Database, out: &Out) -> Result<()> {
    if args.name.trim().is_empty() {
        bail!("--name must not be empty");
    }
    // Validate the policy before storing it: a typo must not become a silent deny-all.
    for p in &args.allow_hosts {
        HostPattern::parse(p)?;
    }
    // A grant above the ceiling is refused rather than silently cut: the operator should
    // know what the agent really gets.
    let over = |what: &str, v: Option<u64>, ceiling: u64, show: &dyn Fn(u64) -> String| match v {
        Some(v) if v > ceiling => Err(anyhow::anyhow!(
            "{what} {} is above the runtime's ceiling of {}",
            show(v),
            show(ceiling)
        )),
        _ => Ok(()),
    };
    over(
        "--max-memory",
        args.max_memory,
        CEILING_MAX_MEMORY_BYTES,
        &|v| Bytes(v).to_string(),
    )?;
    over("--timeout", args.timeout, CEILING_TIMEOUT_MS, &|v| {
        format!("{v} ms")
    })?;
    over("--fuel", args.fuel, CEILING_FUEL, &|v| v.to_string())?;
    over(
        "--max-host-calls",
        args.max_host_calls,
        CEILING_MAX_HOST_CALLS,
        &|v| v.to_string(),
    )?;
    over(
        "--scratch-max-bytes",
        args.scratch_max_bytes,
        CEILING_SCRATCH_MAX_BYTES,
        &|v| Bytes(v).to_string(),
    )?;
    over(
        "--scratch-max-files",
        args.scratch_max_files,
        CEILING_SCRATCH_MAX_FILES,
        &|v| v.to_string(),
    )?;
    over(
        "--scratch-max-open-files",
        args.scratch_max_open_files,
        CEILING_SCRATCH_MAX_OPEN,
        &|v| v.to_string(),
    )?;
    let quota_flag = args.scratch_max_bytes.is_some()
        || args.scratch_max_files.is_some()
        || args.scratch_max_open_files.is_some();
    if quota_flag && !args.scratch_dir {
        bail!(
            "--scratch-max-bytes, --scratch-max-files and --scratch-max-open-files need --scratch-dir"
        );
    }
    for n in &args.allow_secrets {
        if !runproof_host::valid_secret_name(n) {
            bail!("--allow-secret {n:?}: a secret name is 1 to 64 of letters, digits, _ - .");
        }
    }
    let plan_json = match &args.plan {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading plan {}", path.display()))?;
            runproof_runner::Plan::from_json(&text)?;
            Some(text)
        }
        None => None,
    };
    let store = db.ready_store().await?;
    let agent = store
        .create_agent(NewAgent {
            id: uuid_v4(),
            tenant_id: args.tenant_id.clone(),
            name: args.name.clone(),
            allowed_hosts: args.allow_hosts.clone(),
            allowed_secrets: args.allow_secrets.clone(),
            plan_json,
            // Bounded by the ceilings above, so they fit in i64.
            max_memory_bytes: args.max_memory.map(|v| v as i64),
            timeout_ms: args.timeout.map(|v| v as i64),
            fuel: args.fuel.map(|v| v as i64),
            max_host_calls: args.max_host_calls.map(|v| v as i64),
            scratch_dir: args.scratch_dir,
            scratch_max_bytes: args.scratch_max_bytes.map(|v| v as i64),
            scratch_max_files: args.scratch_max_files.map(|v| v as i64),
            scratch_max_open_files: args.scratch_max_open_files.map(|v| v as i64),
        })
        .await?;
    out.emit(&agent_json(&agent), || {
        outln!("created agent {}", agent.id);
        print_agent(&agent);
    });
    Ok(())
}

fn print_agent(a: &Agent) {
    outln!("agent_id:      {}", a.id);
    outln!("name:          {}", a.name);
    outln!(
        "tenant_id:     {}",
        a.tenant_id.as_deref().unwrap_or("(any tenant)")
    );
    if a.allowed_hosts.is_empty() {
        outln!("allowed hosts: none (all outbound HTTP is denied)");
    } else {
        outln!("allowed hosts: {}", a.allowed_hosts.join(", "));
    }
    if !a.allowed_secrets.is_empty() {
        outln!("secrets:       {}", a.allowed_secrets.join(", "));
    }
    outln!(
        "own plan:      {}",
        if a.plan_json.is_some() {
            "yes"
        } else {
            "no (runs use --plan or the stub planner)"
        }
    );
    let l = granted_limits(a);
    let tag = |set: bool| if set { "" } else { " (default)" };
    outln!(
        "memory:        {}{}",
        Bytes(l.max_memory_bytes as u64),
        tag(a.max_memory_bytes.is_some())
    );
    outln!(
        "timeout:       {} ms{}",
        l.timeout.as_millis(),
        tag(a.timeout_ms.is_some())
    );
    match l.fuel {
        Some(f) => outln!("fuel:          {f} units"),
        None => outln!("fuel:          not metered (default)"),
    }
    outln!(
        "host calls:    {}{}",
        l.max_host_calls,
        tag(a.max_host_calls.is_some())
    );
    outln!("output cap:    {}", Bytes(l.max_output_bytes as u64));
    outln!(
        "filesystem:    {}",
        if a.scratch_dir {
            "a per-run scratch directory at /scratch, removed after the run"
        } else {
            "none (default)"
        }
    );
    if a.scratch_dir {
        outln!(
            "scratch quota: {} written, {} files, {} open at once{}",
            Bytes(l.scratch_max_bytes),
            l.scratch_max_files,
            l.scratch_max_open_files,
            tag(a.scratch_max_bytes.is_some()
                || a.scratch_max_files.is_some()
                || a.scratch_max_open_files.is_some())
        );
    }
    outln!(
        "denied always: environment, arguments, sockets, inherited stdio, imports other than WASI and runproof:skill"
    );
    outln!(
        "(a skill that asks for less memory or time in describe gets less: see `runtime skill inspect NAME --agent-id ID`)"
    );
}

/// What the agent grants a skill that asks for nothing in particular.
fn granted_limits(a: &Agent) -> InvocationLimits {
    let no_request = Capabilities {
        outbound_hosts: vec![],
        secrets: vec![],
        max_memory_bytes: None,
        timeout_ms: None,
    };
    InvocationLimits::effective(&no_request, &runproof_runner::limit_grant(a))
}

/// The agent as JSON, with its limits resolved against the defaults and ceilings.
fn agent_json(a: &Agent) -> serde_json::Value {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    v["limits"] = serde_json::json!({
        "granted": granted_limits(a),
        "defaults": InvocationLimits::defaults_json(),
        "ceilings": InvocationLimits::ceilings_json(),
    });
    v
}

fn uuid_v4() -> String {
    // The CLI does not depend on uuid directly; the runner does.
    runproof_runner::new_id()
}
