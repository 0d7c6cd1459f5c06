//! `runtime`: the RunProof operator CLI. The binary edge: anyhow errors become one line on
//! stderr (and `{"error": ...}` on stdout with --json) and a non-zero exit.
//!
//! Exit codes: 0 ok; 1 error (nothing was run); 2 usage; 3 the run ended `failed`;
//! 4 the proof is not VERIFIED; 5 replay DIVERGED; 130 interrupted (Ctrl-C); 141 stdout's
//! reader went away; 143 terminated (SIGTERM). The constants are in `exit.rs`.

// First, so that its `outln!`/`out!` macros are in scope in every module below.
#[macro_use]
mod output;
mod args;
mod args_service;
mod commands;
mod compile_progress;
mod database;
mod exit;
mod report;
mod signing;
mod units;

use args::{Cli, Command, RunsCommand, SkillCommand};
use clap::Parser;
use database::Database;
use output::Out;

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUNPROOF_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let out = Out {
        json: cli.json,
        quiet: cli.quiet,
    };
    let code = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(dispatch(&cli, &out)),
        Err(e) => Err(anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let message = one_line(&e);
            if out.json {
                outln!("{}", serde_json::json!({"error": message}));
            }
            eprintln!("error: {message}");
            std::process::exit(1);
        }
    }
}

async fn dispatch(cli: &Cli, out: &Out) -> anyhow::Result<i32> {
    let db = Database::from_cli(cli.database_url.as_deref(), cli.home.as_ref());
    let key = signing::KeyLocation::from_cli(cli.signing_key.as_ref(), cli.home.as_ref());
    match &cli.command {
        Command::Db(cmd) => commands::db::run(cmd, &db, out).await.map(|_| 0),
        Command::Agent(cmd) => commands::agent::run(cmd, &db, out).await.map(|_| 0),
        Command::Skill(SkillCommand::List) => commands::skill::list(&db, cli.home.as_ref(), out)
            .await
            .map(|_| 0),
        Command::Skill(SkillCommand::Add { file, replace }) => {
            commands::skill::add(file, *replace, &db, cli.home.as_ref(), out)
                .await
                .map(|_| 0)
        }
        Command::Skill(SkillCommand::Inspect { skill, agent_id }) => {
            commands::skill::inspect(skill, agent_id.as_deref(), &db, cli.home.as_ref(), out)
                .await
                .map(|_| 0)
        }
        Command::Skill(SkillCommand::Invoke(args)) => {
            commands::invoke::run(args, &db, cli.home.as_ref(), &key, out).await
        }
        Command::Run(args) => commands::run::run(args, &db, cli.home.as_ref(), &key, out).await,
        Command::Runs(RunsCommand::Wait {
            run_id,
            tenant_id,
            timeout,
        }) => commands::queue::wait(run_id, tenant_id, *timeout, &db, out).await,
        Command::Runs(RunsCommand::Cancel { run_id, tenant_id }) => {
            commands::queue::cancel(run_id, tenant_id, &db, out)
                .await
                .map(|_| 0)
        }
        Command::Runs(cmd) => commands::runs::run(cmd, &db, &key, out).await.map(|_| 0),
        Command::Proof(args) => commands::proof::run(args, &db, &key, out).await,
        // Offline by design: no database handle is passed.
        Command::Verify(args) => commands::verify::run(args, out),
        Command::Replay(args) => {
            commands::replay::run(args, &db, cli.home.as_ref(), &key, out).await
        }
        Command::Keys(cmd) => commands::keys::run(cmd, &db, &key, out).await.map(|_| 0),
        Command::Bench(args) => {
            commands::bench::run(
                args,
                &db,
                cli.database_url.as_deref(),
                cli.home.as_ref(),
                &key,
                out,
            )
            .await
        }
        Command::Secret(cmd) => commands::secret::run(cmd, &db, cli.home.as_ref(), out)
            .await
            .map(|_| 0),
        Command::Worker(args) => {
            output::stdout_best_effort();
            commands::worker::run(args, &db, cli.home.as_ref(), &key, out).await
        }
        Command::Serve(args) => {
            output::stdout_best_effort();
            commands::serve::run(args, &db, cli.home.as_ref(), &key, out).await
        }
        Command::Token(cmd) => commands::token::run(cmd, &db, out).await.map(|_| 0),
    }
}

/// The error and its causes on one line, without repeating a cause already in the message.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    // Capped like every message (`trace_caps.rs`): a 30 MB skill error prints 4 KiB.
    runproof_host::trace_caps::cap_message(&line.split_whitespace().collect::<Vec<_>>().join(" "))
}
