use crate::args::{AgentCommand, AgentCreateArgs};
use crate::database::Database;
use crate::output::Out;
use anyhow::{Context, Result, bail};
use runproof_host::HostPattern;
use runproof_store::{Agent, NewAgent};

pub async fn run(cmd: &AgentCommand, db: &Database, out: &Out) -> Result<()> {
    match cmd {
        AgentCommand::Create(args) => create(args, db, out).await,
        AgentCommand::List { tenant_id } => {
            let store = db.ready_store().await?;
            let agents = store.list_agents(tenant_id.as_deref()).await?;
            out.emit(&agents, || {
                if agents.is_empty() {
                    println!("no agents yet: create one with `runtime agent create --name NAME`");
                }
                for a in &agents {
                    println!(
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
            out.emit(&a, || print_agent(&a));
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
    for n in &args.allow_secrets {
        if !runproof_host::valid_secret_name(n) {
            bail!("--allow-secret {n:?}: a secret name is 1 to 64 of letters, digits, _ - .");
        }
    }
    let plan_json = match &args.plan {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading plan {}", path.display()))?;
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
        })
        .await?;
    out.emit(&agent, || {
        println!("created agent {}", agent.id);
        print_agent(&agent);
    });
    Ok(())
}

fn print_agent(a: &Agent) {
    println!("agent_id:      {}", a.id);
    println!("name:          {}", a.name);
    println!("tenant_id:     {}", a.tenant_id.as_deref().unwrap_or("(any tenant)"));
    if a.allowed_hosts.is_empty() {
        println!("allowed hosts: none (all outbound HTTP is denied)");
    } else {
        println!("allowed hosts: {}", a.allowed_hosts.join(", "));
    }
    if !a.allowed_secrets.is_empty() {
        println!("secrets:       {}", a.allowed_secrets.join(", "));
    }
    println!("own plan:      {}", if a.plan_json.is_some() { "yes" } else { "no (runs use --plan or the stub planner)" });
}

fn uuid_v4() -> String {
    // The CLI does not depend on uuid directly; the runner does.
    runproof_runner::new_id()
}
