//! Figure 7: what replay costs. A `bench` run (N `log` host calls), replayed against its
//! trace: time per step of the replay beside the original run's time per step (run
//! creation to seal, as the scaling figures measure it).

use super::{BENCH_TENANT, Bench, Figure, bench_plan};
use anyhow::{Context, Result, ensure};
use runproof_coordinator::RunProofCoordinator;
use runproof_replay::{ReplayRequest, TraceStep, Verdict};
use std::collections::BTreeMap;
use std::time::Instant;

impl Bench<'_> {
    pub(super) async fn replay(&mut self) -> Result<()> {
        let calls = if self.quick { 2_000 } else { 20_000 };
        let run = self
            .traced_run(
                &self.request(
                    &format!("bench: {calls} host calls, replayed"),
                    bench_plan(calls),
                ),
                &(),
            )
            .await?;
        let steps = run.chain_length as f64;
        let original = run.duration_ms as f64 * 1e3 / steps;

        let wasm = runproof_builtin_skills::find("bench")
            .context("the built-in `bench` skill is missing")?
            .wasm;
        let components: BTreeMap<String, Vec<u8>> =
            [(runproof_host::component_digest(wasm), wasm.to_vec())].into();
        let no_substitutes = BTreeMap::new();
        let rounds = if self.quick { 3 } else { 5 };
        let (mut replay_us, mut total_us) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            // As `runtime replay` does it: read every step, verify, replay the same bytes.
            let t = Instant::now();
            let verified = RunProofCoordinator::new(self.store.clone())
                .trusting(self.trusted.clone())
                .verified_steps(BENCH_TENANT, &run.run_id)
                .await?;
            ensure!(
                verified.integrity.is_verified(),
                "the bench run does not verify: {:?}",
                verified.integrity.failure_reason
            );
            let trace: Vec<TraceStep> = verified.steps.into_iter().map(TraceStep::from).collect();
            let report = runproof_replay::replay_trace(
                &self.host,
                &ReplayRequest {
                    steps: &trace,
                    components: &components,
                    substitutes: &no_substitutes,
                },
            )
            .await?;
            ensure!(
                report.verdict == Verdict::Replayed,
                "the bench run does not replay: {:?}",
                report.divergence
            );
            total_us.push(t.elapsed().as_secs_f64() * 1e6 / steps);
            replay_us.push(report.replay_ms * 1e3 / steps);
        }
        let base = "the original run's time per step (run creation to seal)";
        self.figures.push(
            Figure::new(
                "replay.time_per_step",
                format!("replaying a {calls}-call run ({steps} steps) against its trace: every invocation re-run, every host call answered from the trace and compared (median of {rounds})"),
                super::median(&mut replay_us),
                "µs/step",
                base,
                original,
            )
            .with("run_ms", run.duration_ms),
        );
        self.figures.push(Figure::new(
            "replay.with_read_and_verify",
            format!("`runtime replay`'s path for the same run: read every step from Postgres, verify, replay (median of {rounds})"),
            super::median(&mut total_us),
            "µs/step",
            base,
            original,
        ));
        Ok(())
    }
}
