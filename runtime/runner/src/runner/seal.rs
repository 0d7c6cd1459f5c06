//! The last phase of a run: end the trace, make it durable, and seal it with a signed head
//! that states the run row's values. The run is reported finished only after the seal
//! commits.

use super::execute::Executed;
use super::prepare::Prepared;
use super::{RunError, RunReport, RunRequest, Runner};
use crate::writer::SealedHead;
use runproof_proof::{
    IntegrityModel, RunClaims, RunStatus, StepKind, StepStatus, TraceHeadClaims, TraceIds,
    sign_head,
};
use runproof_store::{RunFinish, rfc3339};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

impl Runner {
    pub(super) async fn seal(
        &self,
        req: &RunRequest,
        p: Prepared<'_>,
        done: Executed,
    ) -> Result<RunReport, RunError> {
        let Executed {
            outcomes,
            run_error,
        } = done;
        let writer = &p.writer;
        let signer = p.signer;
        let completed_at = runproof_store::whole_micros(chrono::Utc::now());
        let succeeded = run_error.is_none();
        let status = RunStatus::ended(succeeded);
        writer.append(
            StepKind::RunEnd,
            None,
            if succeeded {
                StepStatus::Success
            } else {
                StepStatus::Failure
            },
            Some(p.started.elapsed().as_millis() as u64),
            Some(status.as_str()),
            serde_json::json!({"status": status, "error": run_error}),
        );
        let head = match writer.flush().await {
            Ok(head) => head,
            Err(e) => {
                let reason = e.to_string();
                // Best effort: say so on the run row; the trace stays unsealed either way.
                let _ = self
                    .store
                    .abandon_run(&p.run.id, &format!("trace not durable: {reason}"))
                    .await;
                return Err(RunError::TraceNotDurable {
                    run_id: p.run.id,
                    reason,
                });
            }
        };
        let root = match req.integrity_model {
            IntegrityModel::MerkleTree => head.merkle_root,
            _ => head.chain_head,
        };
        let mut digests: BTreeMap<String, String> = p
            .skills
            .iter()
            .map(|(name, s)| (name.clone(), s.skill.digest.clone()))
            .collect();
        digests.extend(
            p.unloadable
                .iter()
                .map(|u| (u.name.clone(), u.digest.clone())),
        );
        let sealed_at = runproof_store::whole_micros(chrono::Utc::now());
        // Whole milliseconds from the start the rows hold to the end the head states.
        let duration_ms = (completed_at - p.trace_started_at)
            .num_milliseconds()
            .max(0);
        let claims = head_claims(
            writer.ids(),
            req.integrity_model,
            &head,
            digests,
            status.as_str(),
            HeadTimes {
                started_at: p.trace_started_at,
                completed_at,
                sealed_at,
            },
            RunClaims {
                agent_id: p.run.agent_id.clone(),
                origin_system_id: p.run.origin_system_id.clone(),
                goal: p.run.goal.clone(),
                plan_sha256: hex::encode(Sha256::digest(p.plan_json.as_bytes())),
                error_message: run_error.clone(),
                created_at: rfc3339(p.run.created_at),
                duration_ms: duration_ms as u64,
            },
        );
        // Signed here, in the runner's process, with a key the database never sees: whoever
        // can write to Postgres can rebuild a chain, but cannot make this signature.
        let signed_head = sign_head(&claims, &signer.key);
        self.store
            .finish_run(&RunFinish {
                run_id: &p.run.id,
                trace_id: &p.trace_id,
                succeeded,
                error_message: run_error.as_deref(),
                chain_length: head.chain_length as i64,
                root_hash: &root,
                merkle_root: &head.merkle_root,
                signed_head: &signed_head,
                signing_key_id: &signer.key_id,
                completed_at,
                sealed_at,
                duration_ms,
                lease_owner: &self.lease.owner,
            })
            .await?;
        drop(p.heartbeat);
        Ok(RunReport {
            run_id: p.run.id,
            trace_id: p.trace_id,
            tenant_id: p.run.tenant_id,
            status,
            error_message: run_error,
            steps: outcomes,
            chain_length: head.chain_length,
            integrity_model: req.integrity_model,
            root_hash: hex::encode(root),
            merkle_root: hex::encode(head.merkle_root),
            signing_key_id: signer.key_id.clone(),
            duration_ms: p.started.elapsed().as_millis() as u64,
        })
    }
}

/// When the trace started, ended and was sealed, as the rows hold them.
struct HeadTimes {
    started_at: chrono::DateTime<chrono::Utc>,
    completed_at: chrono::DateTime<chrono::Utc>,
    sealed_at: chrono::DateTime<chrono::Utc>,
}

/// What the signed head states (predicate v2): the trace, and the run row's values. Times
/// are RFC 3339 with microseconds, the precision the rows keep, so the rows and the claims
/// agree byte for byte.
fn head_claims(
    ids: &TraceIds,
    model: IntegrityModel,
    head: &SealedHead,
    skill_digests: BTreeMap<String, String>,
    status: &str,
    times: HeadTimes,
    run: RunClaims,
) -> TraceHeadClaims {
    TraceHeadClaims {
        tenant_id: ids.tenant_id.clone(),
        run_id: ids.run_id.clone(),
        trace_id: ids.trace_id.clone(),
        integrity_model: model.as_str().to_string(),
        chain_length: head.chain_length,
        root_hash: hex::encode(head.chain_head),
        merkle_root: hex::encode(head.merkle_root),
        skill_digests: skill_digests.into_iter().collect(),
        status: status.to_string(),
        started_at: rfc3339(times.started_at),
        completed_at: rfc3339(times.completed_at),
        sealed_at: Some(rfc3339(times.sealed_at)),
        run: Some(run),
    }
}
