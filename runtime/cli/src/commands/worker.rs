//! `runtime worker`: executes queued runs until SIGTERM / Ctrl-C, then drains.

use crate::args_service::WorkerArgs;
use crate::database::Database;
use crate::output::Out;
use anyhow::Result;
use runproof_worker::Worker;
use std::sync::Arc;

pub async fn run(
    args: &WorkerArgs,
    db: &Database,
    home: Option<&std::path::PathBuf>,
    key: &crate::signing::KeyLocation,
    out: &Out,
) -> Result<i32> {
    let signing_key = key.load_or_create(out)?;
    let store = db.ready_store().await?;
    let runner = Arc::new(super::executor::runner(
        &store,
        home,
        signing_key,
        &args.executor,
    )?);
    let config = super::executor::config(args.concurrency as usize, &args.executor);
    let summary = Worker::new(runner, config)
        .with_observer(super::executor::Progress::new(out))
        .run(super::executor::stop_signal())
        .await;
    store.close().await;
    out.emit(&summary, || {
        outln!(
            "worker {} stopped ({}): {} run(s) executed, {} succeeded, {} failed ({} interrupted), {} could not run; {} lost run(s) recovered",
            summary.owner,
            summary.stopped_by,
            summary.executed,
            summary.succeeded,
            summary.failed,
            summary.interrupted,
            summary.errored,
            summary.recovered
        )
    });
    Ok(0)
}
