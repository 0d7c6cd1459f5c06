//! Steps as people read them: one aligned line per step (columns as wide as the longest
//! kind and skill name), and with payloads the body each step recorded, decoded from the
//! stored bytes. Used by `runs show` and `skill invoke`.

use serde::Serialize;
use serde_json::Value;

/// One step to show.
#[derive(Debug, Clone, Serialize)]
pub struct StepLine {
    /// Absent for an invocation that was not recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    pub step_index: i64,
    pub kind: String,
    pub skill_name: Option<String>,
    pub status: String,
    pub duration_ms: Option<i64>,
    pub cost_cents: i64,
    /// The chain hash (hex); absent for an invocation that was not recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// What the step recorded: its `body`, as stored (with `--payloads`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

/// The recorded body of stored payload bytes (the step envelope's `body`). Bytes that are
/// not JSON (which the runtime never writes) are shown as such, never guessed at.
pub fn decode_body(payload: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(payload) {
        Ok(v) => v.get("body").cloned().unwrap_or(Value::Null),
        Err(e) => {
            serde_json::json!({"undecodable_payload": format!("{e}"), "bytes": payload.len()})
        }
    }
}

/// The steps of a verified-or-not run listing, with their stored bodies when `payloads`
/// (read from the stored bytes, trace by trace, in `step_index` order).
pub async fn lines_of(
    store: &runproof_store::Store,
    proof: &runproof_coordinator::RunProof,
    payloads: bool,
) -> anyhow::Result<Vec<StepLine>> {
    use futures_util::StreamExt;
    let mut bodies: std::collections::HashMap<(String, i64), Value> = Default::default();
    if payloads {
        for t in &proof.aos_traces {
            let mut steps = std::pin::pin!(store.stream_steps(&t.trace_id));
            while let Some(step) = steps.next().await {
                let step = step?;
                bodies.insert(
                    (t.trace_id.clone(), step.step_index),
                    decode_body(&step.payload),
                );
            }
        }
    }
    Ok(proof
        .aos_trace_steps
        .iter()
        .map(|s| StepLine {
            trace_id: Some(s.trace_id.clone()),
            step_index: s.step_index,
            kind: s.kind.clone(),
            skill_name: s.skill_name.clone(),
            status: s.status.clone(),
            duration_ms: s.duration_ms,
            cost_cents: s.cost_cents,
            hash: Some(s.hash.clone()),
            payload: bodies.remove(&(s.trace_id.clone(), s.step_index)),
        })
        .collect())
}

/// Prints the table; with payloads, each step's body under its line.
pub fn print(steps: &[StepLine]) {
    let kind_w = steps.iter().map(|s| s.kind.len()).max().unwrap_or(4).max(4);
    let skill_w = steps
        .iter()
        .map(|s| s.skill_name.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(5)
        .max(5);
    let index_w = steps
        .iter()
        .map(|s| s.step_index.to_string().len())
        .max()
        .unwrap_or(1)
        .max(4);
    outln!(
        "  {:>index_w$}  {:<kind_w$}  {:<skill_w$}  {:<7}  {:>8}  hash",
        "step",
        "kind",
        "skill",
        "status",
        "duration"
    );
    for s in steps {
        outln!(
            "  {:>index_w$}  {:<kind_w$}  {:<skill_w$}  {:<7}  {:>8}  {}",
            s.step_index,
            s.kind,
            s.skill_name.as_deref().unwrap_or("-"),
            s.status,
            s.duration_ms.map(|d| format!("{d}ms")).unwrap_or_default(),
            s.hash.as_deref().map(crate::output::short).unwrap_or("-"),
        );
        if let Some(body) = &s.payload {
            for line in describe(&s.kind, body) {
                outln!("  {:>index_w$}    {line}", "");
            }
        }
    }
}

/// A step's body in a few readable lines: HTTP exchanges as request, response and error
/// (bodies as text when they are text), everything else as its JSON.
fn describe(kind: &str, body: &Value) -> Vec<String> {
    if kind != "host.http" {
        return vec![compact(body)];
    }
    let mut lines = Vec::new();
    let req = &body["request"];
    lines.push(format!(
        "{} {} {}  (via {})",
        "→",
        req["method"].as_str().unwrap_or("?"),
        req["url"].as_str().unwrap_or("?"),
        body["interface"].as_str().unwrap_or("runproof:skill/http"),
    ));
    if let Some(h) = req["headers"].as_array().filter(|h| !h.is_empty()) {
        lines.push(format!("  headers {}", compact(&Value::Array(h.clone()))));
    }
    if let Some(b) = bytes_text(&req["body"]) {
        lines.push(format!("  body    {b}"));
    }
    if let Some(resp) = body.get("response") {
        lines.push(format!("← {}", resp["status"]));
        if let Some(h) = resp["headers"].as_array().filter(|h| !h.is_empty()) {
            lines.push(format!("  headers {}", compact(&Value::Array(h.clone()))));
        }
        if let Some(b) = bytes_text(&resp["body"]) {
            lines.push(format!("  body    {b}"));
        }
    }
    if let Some(err) = body.get("error") {
        lines.push(format!(
            "✗ {}: {}",
            err["code"].as_str().unwrap_or("?"),
            err["message"].as_str().unwrap_or("")
        ));
    }
    lines
}

/// `{"text": s}` as the text itself, `{"base64": b}` marked as such; `None` for no body.
fn bytes_text(v: &Value) -> Option<String> {
    if let Some(t) = v.get("text").and_then(Value::as_str) {
        return Some(if t.is_empty() {
            "(empty)".into()
        } else {
            t.trim_end().to_string()
        });
    }
    v.get("base64")
        .and_then(Value::as_str)
        .map(|b| format!("(base64) {b}"))
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_decode_from_the_stored_envelope() {
        let payload = br#"{"v":1,"kind":"host.log","status":"success","at":"x","body":{"level":"info","message":"hi"}}"#;
        assert_eq!(
            decode_body(payload),
            serde_json::json!({"level": "info", "message": "hi"})
        );
        assert!(decode_body(b"\xff").get("undecodable_payload").is_some());
    }

    #[test]
    fn http_exchanges_read_as_request_and_response() {
        let body = serde_json::json!({"interface": "wasi:http/outgoing-handler",
            "request": {"method": "GET", "url": "http://x/", "headers": [], "body": null},
            "response": {"status": 200, "headers": [["a", "b"]], "body": {"text": "{\"k\":1}\n"}}});
        let lines = describe("host.http", &body);
        assert_eq!(
            lines[0],
            "→ GET http://x/  (via wasi:http/outgoing-handler)"
        );
        assert_eq!(lines[1], "← 200");
        assert_eq!(lines[3], "  body    {\"k\":1}");
    }
}
