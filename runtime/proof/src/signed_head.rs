//! The signed head as a JSON object, the form bundles and inclusion proofs carry from
//! version 2 on (`runproof-bundle/v2`, `runproof-inclusion/v2`):
//!
//! ```json
//! "signed_head": {
//!   "envelope": {"payloadType": "...", "payload": "<base64>", "signatures": [{"keyid": "...", "sig": "..."}]},
//!   "statement": {"_type": "https://in-toto.io/Statement/v1", "subject": [...], ...}
//! }
//! ```
//!
//! `envelope` is the DSSE envelope as an object, the one authoritative part: its `payload`
//! holds the exact signed bytes (the signature is over `PAE(payloadType, payload)`, never
//! over JSON text), so a verifier recovers them exactly and any DSSE tool can check it as is.
//! `statement` is the same statement decoded, for people and `jq`; it is not trusted. A
//! verifier accepts a document only if `statement` equals the statement the verified
//! envelope carries (JSON value equality), so nothing shown there can differ from what was
//! signed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::strict::parse_strict;

/// The signed head of a v2 document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedHead {
    /// The DSSE envelope, as a JSON object. Authoritative.
    pub envelope: Value,
    /// The in-toto statement the envelope's payload decodes to. For reading only; checked
    /// against the verified payload.
    pub statement: Value,
}

impl SignedHead {
    /// The object form of a stored envelope (`aos_traces.signed_head`, JSON text). Stored
    /// text that is not one strict JSON value is kept as a JSON string, so the document it
    /// goes into fails verification ("not a JSON object") instead of being repaired; the
    /// statement is `null` when the payload cannot be decoded.
    pub fn from_stored(envelope_json: &str) -> SignedHead {
        let envelope = parse_strict(envelope_json.as_bytes(), "envelope")
            .unwrap_or_else(|_| Value::String(envelope_json.to_owned()));
        let statement = carried_statement(&envelope).unwrap_or(Value::Null);
        SignedHead {
            envelope,
            statement,
        }
    }

    /// The envelope as JSON text, the form [`crate::seal::verify_head`] reads. The value
    /// came from a strict parse, so the text reads back to exactly the same value.
    pub fn envelope_json(&self) -> String {
        serde_json::to_string(&self.envelope).expect("a JSON value always serializes")
    }

    /// Whether `statement` is the statement the envelope carries. Call it once the envelope
    /// verified: then the payload is known to decode.
    pub fn statement_matches(&self) -> bool {
        carried_statement(&self.envelope).is_some_and(|s| s == self.statement)
    }
}

/// The signed head as a document carries it: the stored envelope text (version 1) or the
/// object form (version 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadForm {
    Text(String),
    Object(SignedHead),
}

impl HeadForm {
    /// The envelope text to verify.
    pub fn envelope_json(&self) -> String {
        match self {
            HeadForm::Text(t) => t.clone(),
            HeadForm::Object(h) => h.envelope_json(),
        }
    }

    /// Whether what the document shows beside the envelope is what it carries (version 1
    /// shows nothing beside it).
    pub fn statement_matches(&self) -> bool {
        match self {
            HeadForm::Text(_) => true,
            HeadForm::Object(h) => h.statement_matches(),
        }
    }
}

/// The statement inside an envelope object: `payload`, strict base64, read as strict JSON.
fn carried_statement(envelope: &Value) -> Option<Value> {
    let payload = envelope.get("payload")?.as_str()?;
    let body = STANDARD.decode(payload).ok()?;
    parse_strict(&body, "statement").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_that_is_not_json_stays_a_string() {
        let h = SignedHead::from_stored("{\"a\":1,\"a\":2}");
        assert_eq!(h.envelope, Value::String("{\"a\":1,\"a\":2}".into()));
        assert_eq!(h.statement, Value::Null);
        assert!(!h.statement_matches());
    }

    #[test]
    fn statement_is_the_decoded_payload() {
        let payload = STANDARD.encode(br#"{"x":[1,"y"]}"#);
        let text = format!(r#"{{"payload":"{payload}","payloadType":"t","signatures":[]}}"#);
        let h = SignedHead::from_stored(&text);
        assert_eq!(h.statement, serde_json::json!({"x": [1, "y"]}));
        assert!(h.statement_matches());
        assert_eq!(
            parse_strict(h.envelope_json().as_bytes(), "e").unwrap(),
            h.envelope
        );
        let mut edited = h.clone();
        edited.statement["x"][0] = 2.into();
        assert!(!edited.statement_matches());
    }
}
