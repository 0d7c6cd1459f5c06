//! `runtime bench [--quick] [--only GROUP]...`: measures what proof costs, each figure beside its baseline.
//! The measuring lives in `crate::bench`; this prints it.

use crate::args::BenchArgs;
use crate::database::Database;
use crate::output::Out;
use anyhow::{Context, Result};
use runproof_bench::{Bench, ChildEnv, Report};
use std::path::PathBuf;

pub async fn run(
    args: &BenchArgs,
    db: &Database,
    database_url: Option<&str>,
    home: Option<&PathBuf>,
    key: &crate::signing::KeyLocation,
    out: &Out,
) -> Result<i32> {
    // Bench runs are real runs: signed with the operator's key, like any other.
    let signing_key = key.load_or_create(out)?;
    let store = db.ready_store().await?;
    let child = ChildEnv {
        exe: std::env::current_exe().context("locating the runtime binary for the scaling runs")?,
        database_url: database_url.map(str::to_string),
        home: home.cloned(),
        signing_key: key.path.clone(),
    };
    let progress = |line: String| out.progress(line);
    let mode = if args.quick { "quick" } else { "full" };
    out.progress(format!(
        "runtime bench ({mode}): every figure beside its baseline, measured in this process"
    ));
    let report = Bench::new(
        store.clone(),
        crate::database::host_config(home),
        args.quick,
        child,
        &progress,
        signing_key,
    )
    .await?;
    let report = if args.service {
        report.run_service().await?
    } else if !args.only.is_empty() {
        report.run_groups(&args.only).await?
    } else {
        report.run_all().await?
    };
    store.close().await;
    out.emit(&report, || print_text(&report));
    Ok(0)
}

fn print_text(r: &Report) {
    outln!(
        "runtime bench ({}; {} CPUs; {} allocator; tenant {}; {:.1} s)",
        if r.quick { "quick" } else { "full" },
        r.cpus,
        r.allocator,
        r.tenant_id,
        r.elapsed_s
    );
    for f in &r.figures {
        let goal = match &f.goal {
            Some(g) => format!(
                "  goal ratio {} {}",
                g.ratio,
                if g.met { "met" } else { "NOT MET" }
            ),
            None => String::new(),
        };
        outln!("{}", f.id);
        outln!("  {}: {:.3} {}", f.what, f.value, f.unit);
        outln!(
            "  baseline, {}: {:.3} {}",
            f.baseline.what,
            f.baseline.value,
            f.unit
        );
        outln!("  ratio {:.3}{goal}", f.ratio);
    }
}
