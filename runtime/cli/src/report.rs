//! The execution report (`runtime proof --report FILE.md`): the seed plan's report template
//! filled in from the database and the verdict, with the SQL evidence and the signed head,
//! so an operator can attach one file to a review.

use base64::Engine as _;
use runproof_coordinator::RunProof;
use runproof_store::{Evidence, STEP_COUNT_SQL, TRACE_ROWS_SQL};
use std::fmt::Write as _;

/// wasmtime is pinned with `=` in the workspace Cargo.toml; this names the same version.
const WASMTIME_VERSION: &str = "48.0.8";

pub struct ReportInput<'a> {
    pub proof: &'a RunProof,
    pub evidence: &'a Evidence,
    pub signed_head: Option<&'a str>,
    pub trust_note: &'a str,
    pub database: &'a str,
}

pub fn render(r: &ReportInput<'_>) -> String {
    let p = r.proof;
    let e = r.evidence;
    let i = &p.integrity;
    let status = i.verification_status.as_str();
    let mut s = String::new();
    // `writeln!` into a String cannot fail.
    let _ = writeln!(s, "# RunProof execution report: run `{}`\n", p.run_id);
    let _ = writeln!(
        s,
        "Generated {} by `runtime {}`.\n",
        p.verified_at.to_rfc3339(),
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        s,
        "**Verdict: {status}**{}\n",
        i.failure_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );

    let _ = writeln!(s, "## Environment\n");
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| runtime | {} |", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(s, "| wasmtime | {WASMTIME_VERSION} |");
    let _ = writeln!(s, "| host | {} |", host_description());
    let _ = writeln!(s, "| database | {} |", r.database);
    let _ = writeln!(s, "| PostgreSQL | {} |", e.server_version);
    let _ = writeln!(s, "| trusted keys | {} |\n", r.trust_note);

    let _ = writeln!(s, "## Report\n");
    let migration = e
        .latest_migration
        .as_ref()
        .map(|(v, d)| format!("{v} ({d})"))
        .unwrap_or_else(|| "none".into());
    let _ = writeln!(s, "**Migration applied:** {migration}  ");
    let _ = writeln!(
        s,
        "**origin_system_id default removed:** {}  ",
        match (&e.origin_system_id_default, e.origin_trigger_present) {
            (None, true) =>
                "yes (no column default; trigger `trg_runs_origin_system_not_legacy` present)"
                    .to_string(),
            (None, false) =>
                "yes, but the trigger `trg_runs_origin_system_not_legacy` is missing".to_string(),
            (Some(d), _) => format!("no (default {d})"),
        }
    );
    let _ = writeln!(
        s,
        "**Run creation paths patched:** one path: `runtime run` → `Runner::run` → `Store::create_run`  "
    );
    let _ = writeln!(s, "**Run ID:** `{}`  ", p.run_id);
    let _ = writeln!(s, "**Tenant ID:** `{}`  ", p.tenant_id);
    // The status from the signed head only; the row's own value is marked as unchecked.
    let _ = writeln!(s, "**Run status:** {}  ", run_status_line(p));
    let _ = writeln!(s, "**Trace rows:** {}  ", p.aos_traces.len());
    for t in &p.aos_traces {
        let _ = writeln!(
            s,
            "**Trace step_count:** {} (trace `{}`; chain_length {})  ",
            t.step_count,
            t.trace_id,
            t.chain_length
                .map(|n| n.to_string())
                .unwrap_or_else(|| "- (not sealed)".into())
        );
    }
    let _ = writeln!(s, "**Integrity model:** {}  ", i.model.as_str());
    let _ = writeln!(s, "**Verification status:** {status}  ");
    let _ = writeln!(s, "**chain_length:** {}  ", i.chain_length);
    let _ = writeln!(s, "**verified_prefix:** {}  ", i.verified_prefix);
    let _ = writeln!(
        s,
        "**root_hash:** `{}`  ",
        i.root_hash.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        s,
        "**merkle_root:** `{}`  ",
        i.merkle_root.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        s,
        "**Signed by:** `{}`  ",
        i.signed_by
            .as_deref()
            .unwrap_or("- (no signature verified)")
    );
    let _ = writeln!(
        s,
        "**Tests:** not run by this command; `scripts/test` runs the suite\n"
    );

    let _ = writeln!(s, "## What the proof covers\n");
    let _ = writeln!(
        s,
        "Every column of the run and trace rows, as stored, against the signed head: `bound` \
         (equal to what the pinned key signed), `mismatch` (differs: the verdict is FAILED), \
         `not_bound` (the signed head does not state it: not covered by the proof), \
         `unverified` (no signed head verified).\n"
    );
    let _ = writeln!(s, "| column | value | coverage |\n|---|---|---|");
    for c in &p.checks {
        let field = match &c.trace_id {
            Some(t) => format!("{} ({})", c.field, crate::output::short(t)),
            None => c.field.to_string(),
        };
        let mut coverage = serde_json::to_value(c.coverage)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        if let Some(signed) = &c.signed {
            coverage.push_str(&format!(" (signed: {})", cell(signed)));
        }
        let _ = writeln!(s, "| `{field}` | {} | {coverage} |", cell(&c.value));
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "## SQL evidence\n");
    let _ = writeln!(
        s,
        "Read back from the database as the seed plans query it. These are the rows as stored, \
         not checked values: the table above says which ones the proof covers.\n"
    );
    let _ = writeln!(
        s,
        "```sql\n{}\n```\n",
        TRACE_ROWS_SQL.replace("$1", &format!("'{}'", p.run_id))
    );
    let _ = writeln!(
        s,
        "| trace_id | run_id | tenant_id | started_at | status |\n|---|---|---|---|---|"
    );
    for row in &e.trace_rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            row.trace_id,
            row.run_id,
            row.tenant_id,
            row.started_at.to_rfc3339(),
            row.status
        );
    }
    for (trace_id, count) in &e.step_counts {
        let _ = writeln!(
            s,
            "\n```sql\n{}\n```\n",
            STEP_COUNT_SQL.replace("$1", &format!("'{trace_id}'"))
        );
        let _ = writeln!(s, "| step_count |\n|---|\n| {count} |");
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "## Coordinator output\n");
    let _ = writeln!(s, "```text");
    let _ = writeln!(s, "integrity_model: {}", i.model.as_str());
    let _ = writeln!(s, "verification_status: {status}");
    let _ = writeln!(s, "chain_length: {}", i.chain_length);
    let _ = writeln!(s, "root_hash: {}", i.root_hash.as_deref().unwrap_or("-"));
    let _ = writeln!(s, "verified_prefix: {}", i.verified_prefix);
    let _ = writeln!(s, "trace_count: {}", p.aos_traces.len());
    let _ = writeln!(s, "step_count: {}", p.aos_trace_steps.len());
    let _ = writeln!(s, "```\n");
    let _ = writeln!(
        s,
        "| step_index | kind | skill | status | duration_ms | hash |\n|---|---|---|---|---|---|"
    );
    for st in &p.aos_trace_steps {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | `{}` |",
            st.step_index,
            st.kind,
            st.skill_name.as_deref().unwrap_or(""),
            st.status,
            st.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
            &st.hash[..st.hash.len().min(16)]
        );
    }

    let _ = writeln!(s, "\n## Signed trace head\n");
    match r.signed_head {
        None => {
            let _ = writeln!(
                s,
                "The trace head is **not signed**; nothing outside the database vouches for it.\n"
            );
        }
        Some(envelope) => {
            let trust = if i.is_verified() {
                format!(
                    "Its signature verified with the pinned key `{}`.",
                    i.signed_by.as_deref().unwrap_or("-")
                )
            } else {
                "**The proof is not VERIFIED: what follows is what the database holds, not a \
                 checked claim.**"
                    .to_string()
            };
            let _ = writeln!(
                s,
                "A DSSE envelope (Ed25519) carrying an in-toto Statement v1. {trust} The statement, \
                 decoded (shown for reading; `runtime verify` checks the signature over the exact \
                 bytes):\n"
            );
            let _ = writeln!(s, "```json\n{}\n```\n", decoded_statement(envelope));
            let _ = writeln!(s, "The envelope as stored:\n\n```json\n{envelope}\n```\n");
        }
    }

    let _ = writeln!(s, "## Check it yourself\n");
    let _ = writeln!(s, "```sh");
    let _ = writeln!(
        s,
        "runtime keys export-public -o runproof-signing.pub     # on the runtime's machine"
    );
    let _ = writeln!(
        s,
        "runtime proof export --run-id {} --tenant-id {} -o run.bundle.json",
        p.run_id, p.tenant_id
    );
    let _ = writeln!(
        s,
        "runtime verify run.bundle.json --trusted-key runproof-signing.pub   # anywhere, offline"
    );
    let _ = writeln!(s, "```");
    s
}

/// A value in a Markdown table cell: one line, pipes escaped, long text cut.
fn cell(v: &serde_json::Value) -> String {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out: String = text
        .chars()
        .take(120)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > 120 {
        out.push('…');
    }
    out.replace('|', "\\|")
}

fn decoded_statement(envelope: &str) -> String {
    let decoded = serde_json::from_str::<serde_json::Value>(envelope)
        .ok()
        .and_then(|v| v["payload"].as_str().map(str::to_owned))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    match decoded {
        Some(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        None => "(the envelope's payload could not be decoded)".into(),
    }
}

fn host_description() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{} {} {}",
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
        std::env::consts::ARCH
    )
}

/// The run's status as signed, or why there is none (with the unsigned column, marked).
pub fn run_status_line(proof: &RunProof) -> String {
    match (&proof.run_status, proof.run_field("runs.status")) {
        (Some(s), _) => format!("{s} (signed)"),
        (None, Some(c)) => format!(
            "- (no verified signed head; runs.status says {}, {})",
            c.value.as_str().unwrap_or("?"),
            runproof_proof::Coverage::Unverified.marker()
        ),
        (None, None) => "-".into(),
    }
}
