//! Document vectors: bundles (v2 and v1) and inclusion proofs, good and forged, one rule of
//! the specification broken per forged document, in the specification's order.
//!
//! Long: one forged document per rule of the specification, in its order; a reviewer
//! reads it beside the spec.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use runproof_proof::bundle::{BundleTrace, bundle_from_rows};
use runproof_proof::bundle_v1::BundleV1;
use runproof_proof::inclusion_v1::InclusionProofV1;
use runproof_proof::merkle::leaf_hash;
use runproof_proof::seal::{
    PAYLOAD_TYPE, PREDICATE_TYPE, PREDICATE_TYPE_V1, STATEMENT_TYPE, key_id, sign_envelope,
};
use runproof_proof::*;
use serde_json::{Value, json};

use super::payloads::{self, Row};
use super::{DIGEST, RUN, TENANT, TRACE, document_case, main_key, other_key};

/// The run row's plan digest the standard head states (a vector needs no real plan: the
/// offline verifier checks that the head is signed and well formed, the online one compares
/// it with `runs.plan_json`).
const PLAN_SHA256: &str = "ccc4321904c9031cde5219ec5e0649d4f2f4571b38a42e5a981e03fce9015b76";

/// A trace to sign and export: its rows and what its head says.
#[derive(Clone)]
pub struct Trace {
    pub rows: Vec<Row>,
    pub model: &'static str,
    pub status: &'static str,
    pub skill_digests: BTreeMap<String, String>,
}

impl Trace {
    /// run.start, a log line, an http call, a log line, run.end: five steps.
    pub fn standard() -> Trace {
        Trace::of(vec![
            payloads::run_start(),
            payloads::log("step 1"),
            payloads::http(),
            payloads::log("step 3"),
            payloads::run_end("succeeded"),
        ])
    }

    pub fn of(payloads: Vec<Vec<u8>>) -> Trace {
        Trace::rows(payloads.into_iter().map(Row::of).collect())
    }

    pub fn rows(rows: Vec<Row>) -> Trace {
        Trace {
            rows,
            model: "HASH_CHAIN",
            status: "succeeded",
            skill_digests: [("probe".to_string(), DIGEST.to_string())].into(),
        }
    }

    /// The standard trace with step `i`'s row replaced.
    fn with_step(i: usize, row: Row) -> Trace {
        let mut t = Trace::standard();
        t.rows[i] = row;
        t
    }

    fn chain(&self) -> (Vec<StoredStep>, ChainBuilder) {
        let mut chain = ChainBuilder::new(TENANT, RUN, TRACE);
        let steps = self
            .rows
            .iter()
            .map(|r| {
                let a = chain.append(&r.payload);
                StoredStep {
                    trace_id: TRACE.into(),
                    run_id: RUN.into(),
                    tenant_id: TENANT.into(),
                    step_index: a.step_index as i64,
                    kind: r.kind.clone(),
                    skill_name: r.skill_name.clone(),
                    status: r.status.clone(),
                    duration_ms: r.duration_ms.map(|d| d as i64),
                    cost_cents: r.cost_cents as i64,
                    payload: r.payload.clone(),
                    prev_hash: a.prev_hash.to_vec(),
                    hash: a.hash.to_vec(),
                }
            })
            .collect();
        (steps, chain)
    }

    pub fn claims(&self) -> TraceHeadClaims {
        let (_, chain) = self.chain();
        TraceHeadClaims {
            tenant_id: TENANT.into(),
            run_id: RUN.into(),
            trace_id: TRACE.into(),
            integrity_model: self.model.into(),
            chain_length: chain.len(),
            root_hash: hex::encode(chain.head()),
            merkle_root: hex::encode(chain.merkle_root()),
            skill_digests: self.skill_digests.clone(),
            status: self.status.into(),
            started_at: "2026-11-23T00:00:00.000000Z".into(),
            completed_at: "2026-11-23T00:00:01.000000Z".into(),
            sealed_at: Some("2026-11-23T00:00:01.000100Z".into()),
            run: Some(RunClaims {
                agent_id: "agent-1".into(),
                origin_system_id: "vectors".into(),
                goal: "fetch http://127.0.0.1:8080/health".into(),
                plan_sha256: PLAN_SHA256.into(),
                error_message: (self.status == "failed").then(|| "step \"fetch\" failed".into()),
                created_at: "2026-11-22T23:59:59.999000Z".into(),
                duration_ms: 1000,
            }),
        }
    }

    /// The same claims in the first format (trace-head/v1: no run row, no sealed_at).
    pub fn claims_v1(&self) -> TraceHeadClaims {
        TraceHeadClaims {
            sealed_at: None,
            run: None,
            ..self.claims()
        }
    }

    /// The head signed by the main key.
    pub fn envelope(&self) -> String {
        sign_head(&self.claims(), &main_key())
    }

    fn bundle_trace(&self) -> BundleTrace {
        let (_, chain) = self.chain();
        let root = if self.model == "MERKLE_TREE" {
            chain.merkle_root()
        } else {
            chain.head()
        };
        BundleTrace {
            tenant_id: TENANT.into(),
            run_id: RUN.into(),
            trace_id: TRACE.into(),
            integrity_model: self.model.into(),
            status: self.status.into(),
            chain_length: Some(chain.len()),
            root_hash: Some(hex::encode(root)),
        }
    }

    /// The version 2 bundle with `envelope` as its signed head.
    pub fn bundle_with(&self, envelope: Option<String>) -> Value {
        let (steps, _) = self.chain();
        let b = bundle_from_rows(
            self.bundle_trace(),
            envelope,
            self.skill_digests.clone(),
            steps,
        );
        serde_json::to_value(b).unwrap()
    }

    pub fn bundle(&self) -> Value {
        self.bundle_with(Some(self.envelope()))
    }

    pub fn bundle_v1_with(&self, envelope: Option<String>) -> Value {
        let (steps, _) = self.chain();
        let b = BundleV1::from_rows(
            self.bundle_trace(),
            envelope,
            self.skill_digests.clone(),
            steps,
        );
        serde_json::to_value(b).unwrap()
    }

    fn inclusion_proof(&self, index: u64, envelope: &str) -> InclusionProof {
        let (steps, _) = self.chain();
        let leaves: Vec<_> = steps
            .iter()
            .map(|s| leaf_hash(s.step_index as u64, &s.hash))
            .collect();
        let shown = &steps[index as usize];
        InclusionProof::build(
            envelope.to_owned(),
            &leaves,
            index,
            &shown.payload,
            &shown.prev_hash,
        )
        .unwrap()
    }

    pub fn inclusion(&self, index: u64) -> Value {
        serde_json::to_value(self.inclusion_proof(index, &self.envelope())).unwrap()
    }

    pub fn inclusion_v1(&self, index: u64) -> Value {
        let env = self.envelope();
        serde_json::to_value(InclusionProofV1::new(
            &self.inclusion_proof(index, &env),
            &env,
        ))
        .unwrap()
    }
}

/// Documents are written compact (whitespace is not part of any rule, and it keeps the
/// vectors file small); the first good ones are also given pretty, as exported.
fn pretty(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn edit(mut v: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut v);
    v
}

/// `text` with the first `from` replaced by `to` (which must occur).
fn replaced(text: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8(text.to_vec()).unwrap();
    assert!(s.contains(from), "{from:?} not in the document");
    s.replacen(from, to, 1).into_bytes()
}

/// A statement of the standard trace's claims, edited, signed by the main key.
fn signed_statement(edit_statement: impl FnOnce(&mut Value)) -> String {
    let claims = Trace::standard().claims();
    let mut st = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": claims.subject_name(), "digest": {"sha256": claims.root_hash}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": claims,
    });
    edit_statement(&mut st);
    sign_envelope(PAYLOAD_TYPE, &serde_json::to_vec(&st).unwrap(), &main_key())
}

/// The standard envelope (signed by the main key) as a JSON value, edited.
fn envelope_edit(f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&Trace::standard().envelope()).unwrap();
    f(&mut v);
    serde_json::to_string(&v).unwrap()
}

/// The standard trace whose claims are edited before signing.
fn with_claims(f: impl FnOnce(&mut TraceHeadClaims)) -> Value {
    let t = Trace::standard();
    let mut c = t.claims();
    f(&mut c);
    t.bundle_with(Some(sign_head(&c, &main_key())))
}

pub fn documents() -> Value {
    let mut out = Vec::new();
    let main = &["main"][..];
    let mut case = |name: &str, bytes: Vec<u8>, rule: Option<&str>| {
        out.push(document_case(name, main, bytes, rule));
    };
    let std = Trace::standard();
    let good = pretty(&std.bundle());
    let good_v1 = pretty(&std.bundle_v1_with(Some(std.envelope())));

    // Good documents.
    case(
        "bundle v2, five steps",
        serde_json::to_vec_pretty(&std.bundle()).unwrap(),
        None,
    );
    case("bundle v1, five steps", good_v1.clone(), None);
    let mut merkle = std.clone();
    merkle.model = "MERKLE_TREE";
    case("bundle v2, MERKLE_TREE", pretty(&merkle.bundle()), None);
    case(
        "bundle v2, trailing whitespace",
        [good.clone(), b" \n\t\r".to_vec()].concat(),
        None,
    );
    let with_intent = Trace::of(vec![
        payloads::run_start(),
        payloads::intent(),
        payloads::http(),
        payloads::run_end("succeeded"),
    ]);
    case(
        "bundle v2, a request's host.intent before its host.http",
        pretty(&with_intent.bundle()),
        None,
    );
    let mut failed_run = Trace::of(vec![payloads::run_start(), payloads::run_end("failed")]);
    failed_run.status = "failed";
    case(
        "bundle v2, a failed run (verified: the proof says failed)",
        pretty(&failed_run.bundle()),
        None,
    );
    for i in 0..5 {
        case(
            &format!("inclusion v2, step {i} of 5"),
            pretty(&std.inclusion(i)),
            None,
        );
    }
    case(
        "inclusion v1, step 2 of 5",
        pretty(&std.inclusion_v1(2)),
        None,
    );
    let seven = Trace::of(vec![
        payloads::run_start(),
        payloads::log("1"),
        payloads::log("2"),
        payloads::log("3"),
        payloads::log("4"),
        payloads::log("5"),
        payloads::run_end("succeeded"),
    ]);
    for i in [0, 4, 6] {
        case(
            &format!("inclusion v2, step {i} of 7"),
            pretty(&seven.inclusion(i)),
            None,
        );
    }

    // Reading: strict JSON.
    case(
        "not JSON",
        b"this is not a bundle".to_vec(),
        Some("read/json-syntax"),
    );
    case("empty file", Vec::new(), Some("read/json-syntax"));
    case(
        "byte order mark",
        [b"\xef\xbb\xbf".to_vec(), good.clone()].concat(),
        Some("read/json-syntax"),
    );
    case(
        "duplicate key",
        replaced(&good, "\"format\":", "\"format\": \"x\",\n  \"format\":"),
        Some("read/duplicate-key"),
    );
    case(
        "duplicate key spelled with an escape",
        replaced(
            &good,
            "\"format\":",
            "\"format\": \"x\",\n  \"\\u0066ormat\":",
        ),
        Some("read/duplicate-key"),
    );
    case(
        "duplicate key in a step",
        replaced(&good, "\"kind\":", "\"kind\": \"x\", \"kind\":"),
        Some("read/duplicate-key"),
    );
    case(
        "trailing data",
        [good.clone(), b"\n}".to_vec()].concat(),
        Some("read/trailing-data"),
    );
    case(
        "a second document",
        [good.clone(), b"{}".to_vec()].concat(),
        Some("read/trailing-data"),
    );
    for (name, number, rule) in [
        ("integer 2^53 - 1", "9007199254740991", "read/type"),
        ("integer 2^53", "9007199254740992", "read/number"),
        ("integer -(2^53 - 1)", "-9007199254740991", "read/type"),
        ("integer -(2^53)", "-9007199254740992", "read/number"),
        ("integer 2^64", "18446744073709551616", "read/number"),
        ("fraction", "1.0", "read/number"),
        ("exponent", "1e3", "read/number"),
        ("minus zero", "-0", "read/number"),
        ("zero", "0", "read/type"),
        ("exponent beyond a double", "1e400", "read/json-syntax"),
        ("leading zero", "01", "read/json-syntax"),
        ("plus sign", "+1", "read/json-syntax"),
        ("bare fraction", ".5", "read/json-syntax"),
        ("NaN", "NaN", "read/json-syntax"),
    ] {
        case(
            &format!("number: {name}"),
            format!("{{\"format\": {number}}}").into_bytes(),
            Some(rule),
        );
    }
    for (name, string, rule) in [
        (
            "a paired surrogate escape",
            "\"\\ud83d\\ude00\"",
            "read/format",
        ),
        (
            "a lone leading surrogate escape",
            "\"\\ud800\"",
            "read/json-syntax",
        ),
        (
            "a lone trailing surrogate escape",
            "\"\\udc00\"",
            "read/json-syntax",
        ),
        ("an unknown escape", "\"\\x41\"", "read/json-syntax"),
        ("a raw control character", "\"a\tb\"", "read/json-syntax"),
        ("raw UTF-8", "\"h\u{e9}\u{1f600}\"", "read/format"),
    ] {
        case(
            &format!("string: {name}"),
            format!("{{\"format\": {string}}}").into_bytes(),
            Some(rule),
        );
    }
    case(
        "string: invalid UTF-8",
        b"{\"format\": \"\xff\"}".to_vec(),
        Some("read/json-syntax"),
    );
    case(
        "string: an encoded surrogate (CESU-8)",
        b"{\"format\": \"\xed\xa0\x80\"}".to_vec(),
        Some("read/json-syntax"),
    );
    for (depth, rule) in [(126usize, "read/type"), (127, "read/json-syntax")] {
        case(
            &format!("nesting: {depth} arrays inside the top object"),
            format!("{{\"format\": {}{}}}", "[".repeat(depth), "]".repeat(depth)).into_bytes(),
            Some(rule),
        );
    }
    case(
        "whitespace: form feed",
        b"{\x0c}".to_vec(),
        Some("read/json-syntax"),
    );

    // Reading: the document's shape.
    case("top level is an array", b"[]".to_vec(), Some("read/type"));
    case(
        "no format",
        b"{\"trace\": {}}".to_vec(),
        Some("read/missing-field"),
    );
    case(
        "unknown format",
        replaced(&good, "runproof-bundle/v2", "runproof-bundle/v3"),
        Some("read/format"),
    );
    case(
        "unknown field, top level",
        replaced(&good, "\"format\":", "\"note\": \"hi\",\n  \"format\":"),
        Some("read/unknown-field"),
    );
    for (name, at) in [
        ("unknown field, trace", "/trace"),
        ("unknown field, signed_head", "/signed_head"),
        ("unknown field, step", "/steps/3"),
    ] {
        case(
            name,
            pretty(&edit(std.bundle(), |v| {
                v.pointer_mut(at).unwrap()["note"] = json!(0)
            })),
            Some("read/unknown-field"),
        );
    }
    case(
        "v1 fields under the v2 format: signed_head is a string",
        replaced(&good_v1, "runproof-bundle/v1", "runproof-bundle/v2"),
        Some("read/type"),
    );
    case(
        "missing field, trace",
        pretty(&edit(std.bundle(), |v| {
            v["trace"].as_object_mut().unwrap().remove("status");
        })),
        Some("read/missing-field"),
    );
    case(
        "type: steps is an object",
        pretty(&edit(std.bundle(), |v| v["steps"] = json!({}))),
        Some("read/type"),
    );
    case(
        "type: negative step_index",
        pretty(&edit(std.bundle(), |v| {
            v["steps"][1]["step_index"] = json!(-1)
        })),
        Some("read/type"),
    );
    case(
        "type: a skill digest that is not a string",
        pretty(&edit(std.bundle(), |v| {
            v["skill_digests"]["probe"] = json!(1)
        })),
        Some("read/type"),
    );
    case(
        "order: an unknown field in a later step before bad hex in an earlier one",
        pretty(&edit(std.bundle(), |v| {
            v["steps"][0]["hash"] = json!("00");
            v["steps"][3]["note"] = json!(0);
        })),
        Some("read/unknown-field"),
    );
    let hash1 = std.bundle()["steps"][1]["hash"]
        .as_str()
        .unwrap()
        .to_string();
    case(
        "hex: 63 characters",
        pretty(&edit(std.bundle(), |v| {
            v["steps"][1]["hash"] = json!(hash1[..63])
        })),
        Some("read/hex"),
    );
    case(
        "hex: upper case",
        pretty(&edit(std.bundle(), |v| {
            v["steps"][1]["hash"] = json!(hash1.to_uppercase())
        })),
        Some("read/hex"),
    );
    case(
        "hex: trace root_hash",
        pretty(&edit(std.bundle(), |v| {
            v["trace"]["root_hash"] = json!("zz")
        })),
        Some("read/hex"),
    );
    case(
        "hex: a skill digest",
        pretty(&edit(std.bundle(), |v| {
            v["skill_digests"]["probe"] = json!(DIGEST.to_uppercase())
        })),
        Some("read/hex"),
    );
    let payload1 = std.bundle()["steps"][1]["payload"]
        .as_str()
        .unwrap()
        .to_string();
    for (name, b64) in [
        ("an invalid character", format!("*{}", &payload1[1..])),
        ("missing padding", "QQ".to_string()),
        ("non-zero trailing bits", "QR==".to_string()),
        ("whitespace", "QU FB".to_string()),
        ("URL-safe alphabet", "-_-_".to_string()),
    ] {
        case(
            &format!("base64: {name}"),
            pretty(&edit(std.bundle(), |v| {
                v["steps"][1]["payload"] = json!(b64)
            })),
            Some("read/base64"),
        );
    }
    case(
        "order: hex of prev_hash before base64 of payload",
        pretty(&edit(std.bundle(), |v| {
            v["steps"][1]["prev_hash"] = json!("x");
            v["steps"][1]["payload"] = json!("x");
        })),
        Some("read/hex"),
    );

    // The steps.
    case(
        "step removed",
        pretty(&edit(std.bundle(), |v| {
            v["steps"].as_array_mut().unwrap().remove(2);
        })),
        Some("step/index"),
    );
    case(
        "step duplicated",
        pretty(&edit(std.bundle(), |v| {
            let s = v["steps"][1].clone();
            v["steps"].as_array_mut().unwrap().insert(2, s);
        })),
        Some("step/index"),
    );
    case(
        "prev_hash edited",
        pretty(&edit(std.bundle(), |v| {
            v["steps"][2]["prev_hash"] = json!("ab".repeat(32))
        })),
        Some("step/link"),
    );
    case(
        "payload edited",
        pretty(&edit(std.bundle(), |v| {
            v["steps"][2]["payload"] = json!(B64.encode(b"{\"v\":1}"))
        })),
        Some("step/hash"),
    );
    case(
        "hash edited",
        pretty(&edit(std.bundle(), |v| {
            v["steps"][2]["hash"] = json!("ab".repeat(32))
        })),
        Some("step/hash"),
    );
    for (name, field, value, rule) in [
        (
            "kind column",
            "kind",
            json!("host.stdout"),
            "step/kind-column",
        ),
        (
            "skill_name column",
            "skill_name",
            json!(null),
            "step/skill-column",
        ),
        (
            "status column",
            "status",
            json!("failure"),
            "step/status-column",
        ),
        (
            "duration_ms column",
            "duration_ms",
            json!(13),
            "step/duration-column",
        ),
        (
            "cost_cents column",
            "cost_cents",
            json!(1),
            "step/cost-column",
        ),
    ] {
        case(
            name,
            pretty(&edit(std.bundle(), |v| v["steps"][2][field] = value)),
            Some(rule),
        );
    }
    // Rebuilt, re-signed chains whose steps break a rule of the sequence.
    let rebuilt = |rows: Vec<Row>| pretty(&Trace::rows(rows).bundle());
    case(
        "first step is not run.start",
        rebuilt(vec![
            Row::of(payloads::log("x")),
            Row::of(payloads::run_end("succeeded")),
        ]),
        Some("step/first-kind"),
    );
    case(
        "run.start without a skills map",
        rebuilt(vec![
            Row::of(payloads::run_start_with(json!({"skills": 5}))),
            Row::of(payloads::run_end("succeeded")),
        ]),
        Some("step/run-start"),
    );
    case(
        "a second run.start",
        rebuilt(vec![
            Row::of(payloads::run_start()),
            Row::of(payloads::run_start()),
            Row::of(payloads::run_end("succeeded")),
        ]),
        Some("step/second-run-start"),
    );
    case(
        "a step after run.end",
        rebuilt(vec![
            Row::of(payloads::run_start()),
            Row::of(payloads::run_end("succeeded")),
            Row::of(payloads::log("late")),
        ]),
        Some("step/after-run-end"),
    );
    envelope_cases(&mut case);

    // The trace row.
    case(
        "integrity model NONE",
        pretty(&edit(std.bundle(), |v| {
            v["trace"]["integrity_model"] = json!("NONE")
        })),
        Some("trace/model"),
    );
    case(
        "unknown integrity model",
        pretty(&edit(std.bundle(), |v| {
            v["trace"]["integrity_model"] = json!("SHA1_CHAIN")
        })),
        Some("trace/model"),
    );
    case(
        "unknown integrity model beats a broken step",
        pretty(&edit(std.bundle(), |v| {
            v["trace"]["integrity_model"] = json!("SHA1_CHAIN");
            v["steps"][2]["hash"] = json!("ab".repeat(32));
        })),
        Some("trace/model"),
    );
    case(
        "not sealed",
        pretty(&edit(std.bundle(), |v| {
            v["trace"]["chain_length"] = Value::Null;
            v["trace"]["root_hash"] = Value::Null;
            v["trace"]["status"] = json!("running");
        })),
        Some("trace/not-sealed"),
    );
    case(
        "sealed chain_length + 1",
        pretty(&edit(std.bundle(), |v| {
            v["trace"]["chain_length"] = json!(6)
        })),
        Some("trace/length"),
    );
    case(
        "sealed chain_length - 1",
        pretty(&edit(std.bundle(), |v| {
            v["trace"]["chain_length"] = json!(4)
        })),
        Some("trace/length"),
    );
    case(
        "sealed root_hash edited",
        pretty(&edit(std.bundle(), |v| {
            v["trace"]["root_hash"] = json!("ab".repeat(32))
        })),
        Some("trace/root"),
    );
    case(
        "MERKLE_TREE row carrying the chain head",
        pretty(&edit(merkle.bundle(), |v| {
            v["trace"]["root_hash"] = std.bundle()["trace"]["root_hash"].clone()
        })),
        Some("trace/root"),
    );
    case(
        "cut short: no run.end (re-signed)",
        rebuilt(vec![
            Row::of(payloads::run_start()),
            Row::of(payloads::log("x")),
        ]),
        Some("trace/cut-short"),
    );
    case(
        "trace status differs from run.end",
        pretty(&edit(std.bundle(), |v| {
            v["trace"]["status"] = json!("failed")
        })),
        Some("trace/run-end-status"),
    );
    case(
        "not signed",
        pretty(&std.bundle_with(None)),
        Some("trace/unsigned"),
    );
    case(
        "not signed (v1)",
        pretty(&std.bundle_v1_with(None)),
        Some("trace/unsigned"),
    );

    head_cases(&mut case, &std);
    claim_cases(&mut case, &std);

    // What the bundle shows beside the verified head.
    case(
        "bundle skill_digests differ from the signed ones",
        pretty(&edit(std.bundle(), |v| {
            v["skill_digests"]["probe"] = json!("ab".repeat(32))
        })),
        Some("bundle/skill-digests"),
    );
    case(
        "statement edited beside the envelope",
        pretty(&edit(std.bundle(), |v| {
            v["signed_head"]["statement"]["predicate"]["status"] = json!("failed")
        })),
        Some("bundle/statement"),
    );
    case(
        "statement null beside the envelope",
        pretty(&edit(std.bundle(), |v| {
            v["signed_head"]["statement"] = Value::Null
        })),
        Some("bundle/statement"),
    );

    component_cases(&mut case);
    inclusion_cases(&mut case, &std);

    // Keys: the same good bundle against other pins.
    out.push(document_case(
        "pinned: another key only",
        &["other"],
        good.clone(),
        Some("head/untrusted-key"),
    ));
    out.push(document_case(
        "pinned: another key and the signer",
        &["other", "main"],
        good.clone(),
        None,
    ));
    Value::Array(out)
}

/// Components carried for offline replay (optional, v2): exactly the bytes of components
/// the signed head names.
fn component_cases(case: &mut impl FnMut(&str, Vec<u8>, Option<&str>)) {
    use sha2::{Digest as _, Sha256};
    let component: &[u8] = b"\0asm\x0d\0\x01\0 (the bytes of a component)";
    let digest = hex::encode(Sha256::digest(component));
    let mut t = Trace::of(vec![
        payloads::run_start_with(
            json!({"skills": {"probe": {"digest": digest, "version": "1.0.0"}}}),
        ),
        payloads::log("step 1"),
        payloads::run_end("succeeded"),
    ]);
    t.skill_digests = [("probe".to_string(), digest.clone())].into();
    let with = |pairs: &[(&str, &str)]| {
        let map: serde_json::Map<String, Value> = pairs
            .iter()
            .map(|(d, b)| (d.to_string(), json!(b)))
            .collect();
        edit(t.bundle(), |v| v["components"] = Value::Object(map))
    };
    let b64 = B64.encode(component);
    case(
        "bundle v2 with its components",
        pretty(&with(&[(&digest, &b64)])),
        None,
    );
    case(
        "bundle v2, components null",
        pretty(&edit(t.bundle(), |v| v["components"] = Value::Null)),
        None,
    );
    case(
        "component: bytes of another component under the digest",
        pretty(&with(&[(&digest, &B64.encode(b"other bytes"))])),
        Some("bundle/component-digest"),
    );
    let stray: &[u8] = b"a component no skill of this run names";
    let stray_digest = hex::encode(Sha256::digest(stray));
    case(
        "component: one the signed head does not name",
        pretty(&with(&[
            (&digest, &b64),
            (&stray_digest, &B64.encode(stray)),
        ])),
        Some("bundle/component-unsigned"),
    );
    case(
        "component: key is not a digest",
        pretty(&with(&[(&digest.to_uppercase(), &b64)])),
        Some("read/hex"),
    );
    case(
        "component: bytes are not base64",
        pretty(&with(&[(&digest, "not base64!")])),
        Some("read/base64"),
    );
    case(
        "component: not a string",
        pretty(&edit(t.bundle(), |v| {
            v["components"] = json!({digest.clone(): 7})
        })),
        Some("read/type"),
    );
    case(
        "component: in a v1 bundle",
        pretty(&edit(t.bundle_v1_with(Some(t.envelope())), |v| {
            v["components"] = json!({digest.clone(): b64.clone()})
        })),
        Some("read/unknown-field"),
    );
}

/// Payload headers and their reading rules: a three-step trace, signed, whose middle step
/// is the payload under test with the columns given.
fn envelope_cases(case: &mut impl FnMut(&str, Vec<u8>, Option<&str>)) {
    let three = |row: Row| {
        pretty(
            &Trace::rows(vec![
                Row::of(payloads::run_start()),
                row,
                Row::of(payloads::run_end("succeeded")),
            ])
            .bundle(),
        )
    };
    let log = |payload: &[u8]| Row::with(payload, "host.log", Some("probe"), "success");
    let head = r#""v":1,"kind":"host.log","skill":"probe","status":"success""#;
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        (
            "header: unknown fields are ignored",
            format!(r#"{{{head},"at":"x","body":{{}},"extra":[1.5,1e400,{{"a":1,"a":2}}]}}"#)
                .into_bytes(),
            None,
        ),
        (
            "header: a duplicated unknown field is ignored",
            format!(r#"{{{head},"body":1,"body":2}}"#).into_bytes(),
            None,
        ),
        (
            "header: a duplicated header field",
            format!(r#"{{{head},"kind":"host.log"}}"#).into_bytes(),
            Some("step/envelope"),
        ),
        (
            "header: minimal (no at, no body)",
            format!("{{{head}}}").into_bytes(),
            None,
        ),
        (
            "header: explicit nulls and zero cost",
            format!(r#"{{{head},"duration_ms":null,"run_status":null,"cost_cents":0}}"#)
                .into_bytes(),
            None,
        ),
        (
            "header: a lone surrogate escape in the body",
            format!(r#"{{{head},"body":"\ud800"}}"#).into_bytes(),
            None,
        ),
        (
            "header: invalid UTF-8 in the body",
            [
                format!(r#"{{{head},"body":""#).into_bytes(),
                b"\xff\"}".to_vec(),
            ]
            .concat(),
            None,
        ),
        (
            "header: a control character in the body",
            [
                format!(r#"{{{head},"body":""#).into_bytes(),
                b"\x01\"}".to_vec(),
            ]
            .concat(),
            Some("step/envelope"),
        ),
        (
            "header: a lone surrogate escape in skill",
            br#"{"v":1,"kind":"host.log","skill":"\ud800","status":"success"}"#.to_vec(),
            Some("step/envelope"),
        ),
        (
            "header: 1000 nested arrays in the body",
            format!(
                r#"{{{head},"body":{}{}}}"#,
                "[".repeat(1000),
                "]".repeat(1000)
            )
            .into_bytes(),
            None,
        ),
        (
            "header: v is 1.0",
            br#"{"v":1.0,"kind":"host.log","skill":"probe","status":"success"}"#.to_vec(),
            Some("step/envelope"),
        ),
        (
            "header: v is 2",
            br#"{"v":2,"kind":"host.log","skill":"probe","status":"success"}"#.to_vec(),
            Some("step/version"),
        ),
        (
            "header: v beyond 32 bits",
            br#"{"v":4294967297,"kind":"host.log","skill":"probe","status":"success"}"#.to_vec(),
            Some("step/envelope"),
        ),
        (
            "header: missing status",
            br#"{"v":1,"kind":"host.log","skill":"probe"}"#.to_vec(),
            Some("step/envelope"),
        ),
        (
            "header: unknown kind",
            br#"{"v":1,"kind":"host.fork","skill":"probe","status":"success"}"#.to_vec(),
            Some("step/envelope"),
        ),
        (
            "header: status in capitals",
            br#"{"v":1,"kind":"host.log","skill":"probe","status":"SUCCESS"}"#.to_vec(),
            Some("step/envelope"),
        ),
        (
            "header: not an object",
            b"\"host.log\"".to_vec(),
            Some("step/envelope"),
        ),
        (
            "header: trailing data",
            format!("{{{head}}} x").into_bytes(),
            Some("step/envelope"),
        ),
        (
            "header: trailing whitespace",
            format!("{{{head}}}\n").into_bytes(),
            None,
        ),
        (
            "header: the array form",
            br#"[1,"host.log","probe","success"]"#.to_vec(),
            None,
        ),
        (
            "header: the array form, too short",
            br#"[1,"host.log","probe"]"#.to_vec(),
            Some("step/envelope"),
        ),
        (
            "header: the array form, too long",
            br#"[1,"host.log","probe","success",null,null,0,"x"]"#.to_vec(),
            Some("step/envelope"),
        ),
        (
            "header: kind as a one-entry object",
            br#"{"v":1,"kind":{"host.log":null},"skill":"probe","status":"success"}"#.to_vec(),
            None,
        ),
        (
            "header: not JSON",
            b"not json".to_vec(),
            Some("step/envelope"),
        ),
    ];
    for (name, payload, rule) in cases {
        case(name, three(log(&payload)), rule);
    }
    // run.start's skills.
    let run_start_row = |payload: &[u8]| Row::with(payload, "run.start", None, "success");
    let with_start = |row: Row, digests: BTreeMap<String, String>| {
        let mut t = Trace::rows(vec![row, Row::of(payloads::run_end("succeeded"))]);
        t.skill_digests = digests;
        pretty(&t.bundle())
    };
    let probe: BTreeMap<String, String> = [("probe".to_string(), DIGEST.to_string())].into();
    for (name, payload, digests, rule) in [
        (
            "run.start: extra fields in a skill entry are ignored",
            format!(
                r#"{{"v":1,"kind":"run.start","status":"success","body":{{"skills":{{"probe":{{"digest":"{DIGEST}","x":[1.5]}}}}}}}}"#
            ),
            probe.clone(),
            None,
        ),
        (
            "run.start: no skills field is no skills",
            r#"{"v":1,"kind":"run.start","status":"success","body":{}}"#.to_string(),
            BTreeMap::new(),
            None,
        ),
        (
            "run.start: skills null",
            r#"{"v":1,"kind":"run.start","status":"success","body":{"skills":null}}"#.to_string(),
            BTreeMap::new(),
            Some("step/run-start"),
        ),
        (
            "run.start: no body",
            r#"{"v":1,"kind":"run.start","status":"success"}"#.to_string(),
            BTreeMap::new(),
            Some("step/run-start"),
        ),
        (
            "run.start: a skill without a digest",
            r#"{"v":1,"kind":"run.start","status":"success","body":{"skills":{"probe":{}}}}"#
                .to_string(),
            BTreeMap::new(),
            Some("step/run-start"),
        ),
    ] {
        case(
            name,
            with_start(run_start_row(payload.as_bytes()), digests),
            rule,
        );
    }
}

/// The signed head: the envelope, the signature, the statement, the claims on their own.
fn head_cases(case: &mut impl FnMut(&str, Vec<u8>, Option<&str>), std: &Trace) {
    let v2 = |env: String| pretty(&std.bundle_with(Some(env)));
    let v1 = |env: String| pretty(&std.bundle_v1_with(Some(env)));
    let genuine = std.envelope();
    case(
        "envelope: not JSON (v1)",
        v1("not json".into()),
        Some("head/json-syntax"),
    );
    case(
        "envelope: duplicate key (v1)",
        v1(genuine.replacen("{", "{\"payload\":\"\",", 1)),
        Some("head/duplicate-key"),
    );
    case(
        "envelope: trailing data (v1)",
        v1(format!("{genuine} x")),
        Some("head/trailing-data"),
    );
    case(
        "envelope: a fraction in it (v1)",
        v1(genuine.replacen("{", "{\"x\":1.5,", 1)),
        Some("head/number"),
    );
    case(
        "envelope: a JSON string, not an object (v2)",
        pretty(&edit(std.bundle(), |v| {
            v["signed_head"]["envelope"] = json!(genuine.clone())
        })),
        Some("head/type"),
    );
    case(
        "envelope: unknown field",
        v2(envelope_edit(|e| e["x"] = json!(0))),
        Some("head/unknown-field"),
    );
    case(
        "envelope: unknown field in a signature",
        v2(envelope_edit(|e| e["signatures"][0]["x"] = json!(0))),
        Some("head/unknown-field"),
    );
    case(
        "envelope: no payloadType",
        v2(envelope_edit(|e| {
            e.as_object_mut().unwrap().remove("payloadType");
        })),
        Some("head/missing-field"),
    );
    case(
        "envelope: signatures is an object",
        v2(envelope_edit(|e| e["signatures"] = json!({}))),
        Some("head/type"),
    );
    case(
        "envelope: another payloadType",
        v2(envelope_edit(|e| {
            e["payloadType"] = json!("application/json")
        })),
        Some("head/payload-type"),
    );
    case(
        "envelope: no signature",
        v2(envelope_edit(|e| e["signatures"] = json!([]))),
        Some("head/no-signature"),
    );
    case(
        "envelope: two signatures",
        v2(envelope_edit(|e| {
            let s = e["signatures"][0].clone();
            e["signatures"].as_array_mut().unwrap().push(s);
        })),
        Some("head/too-many-signatures"),
    );
    case(
        "envelope: payload not base64",
        v2(envelope_edit(|e| e["payload"] = json!("not base64!"))),
        Some("head/base64"),
    );
    case(
        "envelope: sig not base64",
        v2(envelope_edit(|e| e["signatures"][0]["sig"] = json!("QR=="))),
        Some("head/base64"),
    );
    case(
        "envelope: a 63-byte signature",
        v2(envelope_edit(|e| {
            e["signatures"][0]["sig"] = json!(B64.encode([1u8; 63]))
        })),
        Some("head/signature-length"),
    );
    case(
        "signed by another key",
        v2(sign_head(&std.claims(), &other_key())),
        Some("head/untrusted-key"),
    );
    case(
        "keyid names another key, the trusted key signed",
        v2(envelope_edit(|e| {
            e["signatures"][0]["keyid"] = json!(key_id(&other_key().verifying_key()))
        })),
        Some("head/keyid-mismatch"),
    );
    case(
        "signature with one bit flipped",
        v2(envelope_edit(|e| {
            let mut sig = B64
                .decode(e["signatures"][0]["sig"].as_str().unwrap())
                .unwrap();
            sig[10] ^= 1;
            e["signatures"][0]["sig"] = json!(B64.encode(sig));
        })),
        Some("head/bad-signature"),
    );
    case(
        "signature malleated: S + L",
        v2(envelope_edit(|e| {
            let mut sig = B64
                .decode(e["signatures"][0]["sig"].as_str().unwrap())
                .unwrap();
            add_group_order(&mut sig[32..]);
            e["signatures"][0]["sig"] = json!(B64.encode(sig));
        })),
        Some("head/bad-signature"),
    );
    case(
        "signature over another payload",
        v2(envelope_edit(|e| {
            e["payload"] = json!(B64.encode(b"{}"));
        })),
        Some("head/bad-signature"),
    );
    case(
        "statement: not JSON, signed",
        v2(sign_envelope(PAYLOAD_TYPE, b"not json", &main_key())),
        Some("head/json-syntax"),
    );
    case(
        "statement: unknown field in the predicate, signed",
        v2(signed_statement(|s| s["predicate"]["note"] = json!(0))),
        Some("head/unknown-field"),
    );
    case(
        "statement: a fraction in the predicate, signed",
        v2(signed_statement(|s| {
            s["predicate"]["chain_length"] = json!(5.0)
        })),
        Some("head/number"),
    );
    case(
        "statement: chain_length a string, signed",
        v2(signed_statement(|s| {
            s["predicate"]["chain_length"] = json!("5")
        })),
        Some("head/type"),
    );
    case(
        "statement: no status, signed",
        v2(signed_statement(|s| {
            s["predicate"].as_object_mut().unwrap().remove("status");
        })),
        Some("head/missing-field"),
    );
    case(
        "statement: another _type, signed",
        v2(signed_statement(|s| {
            s["_type"] = json!("https://in-toto.io/Statement/v0.1")
        })),
        Some("head/statement-type"),
    );
    case(
        "statement: another predicateType, signed",
        v2(signed_statement(|s| {
            s["predicateType"] = json!("https://slsa.dev/provenance/v1")
        })),
        Some("head/predicate-type"),
    );
    case(
        "statement: root_hash in capitals, signed",
        v2(signed_statement(|s| {
            let up = s["predicate"]["root_hash"].as_str().unwrap().to_uppercase();
            s["predicate"]["root_hash"] = json!(up);
            s["subject"][0]["digest"]["sha256"] = json!(up);
        })),
        Some("head/claim"),
    );
    case(
        "statement: two subjects, signed",
        v2(signed_statement(|s| {
            let one = s["subject"][0].clone();
            s["subject"].as_array_mut().unwrap().push(one);
        })),
        Some("head/subject"),
    );
    case(
        "statement: subject names another run, signed",
        v2(signed_statement(|s| {
            s["subject"][0]["name"] = json!("runproof:run:tenant-a/run-2")
        })),
        Some("head/subject"),
    );
    case(
        "statement: subject digest is not root_hash, signed",
        v2(signed_statement(|s| {
            s["subject"][0]["digest"]["sha256"] = json!("ab".repeat(32))
        })),
        Some("head/subject"),
    );
    case(
        "claims: chain_length 0, signed",
        with_claims_bytes(|c| c.chain_length = 0),
        Some("head/claim"),
    );
    case(
        "claims: empty status, signed",
        with_claims_bytes(|c| c.status = String::new()),
        Some("head/claim"),
    );
    case(
        "claims: an empty skill name, signed",
        with_claims_bytes(|c| {
            c.skill_digests.insert(String::new(), DIGEST.into());
        }),
        Some("head/claim"),
    );
    case(
        "claims: integrity model NONE, signed",
        with_claims_bytes(|c| c.integrity_model = "NONE".into()),
        Some("head/claim-model"),
    );
    // The versions of the predicate (trace-head/v1 is still read; v2 states the run row).
    case(
        "version: a v1 head (no run row, no sealed_at) still verifies",
        v2(sign_head(&std.claims_v1(), &main_key())),
        None,
    );
    case(
        "version: v2 claims under the v1 predicateType, signed",
        v2(signed_statement(|s| {
            s["predicateType"] = json!(PREDICATE_TYPE_V1)
        })),
        Some("head/unknown-field"),
    );
    case(
        "version: v1 claims under the v2 predicateType, signed",
        v2(signed_statement(|s| {
            let p = s["predicate"].as_object_mut().unwrap();
            p.remove("run");
            p.remove("sealed_at");
        })),
        Some("head/missing-field"),
    );
    case(
        "version: an unknown predicateType with v2 claims, signed",
        v2(signed_statement(|s| {
            s["predicateType"] = json!("https://runproof.dev/attestations/trace-head/v3")
        })),
        Some("head/predicate-type"),
    );
    case(
        "claims: run null, signed",
        v2(signed_statement(|s| s["predicate"]["run"] = Value::Null)),
        Some("head/type"),
    );
    case(
        "claims: run without its goal, signed",
        v2(signed_statement(|s| {
            s["predicate"]["run"]
                .as_object_mut()
                .unwrap()
                .remove("goal");
        })),
        Some("head/missing-field"),
    );
    case(
        "claims: run with an unknown field, signed",
        v2(signed_statement(|s| {
            s["predicate"]["run"]["attempts"] = json!(1)
        })),
        Some("head/unknown-field"),
    );
    case(
        "claims: run duration_ms a string, signed",
        v2(signed_statement(|s| {
            s["predicate"]["run"]["duration_ms"] = json!("1000")
        })),
        Some("head/type"),
    );
    case(
        "claims: run error_message a number, signed",
        v2(signed_statement(|s| {
            s["predicate"]["run"]["error_message"] = json!(1)
        })),
        Some("head/type"),
    );
    case(
        "claims: sealed_at null, signed",
        v2(signed_statement(|s| {
            s["predicate"]["sealed_at"] = Value::Null
        })),
        Some("head/claim"),
    );
    case(
        "claims: plan_sha256 not a digest, signed",
        with_claims_bytes(|c| c.run.as_mut().unwrap().plan_sha256 = "5C".repeat(32)),
        Some("head/claim"),
    );
    case(
        "claims: empty agent_id in the run, signed",
        with_claims_bytes(|c| c.run.as_mut().unwrap().agent_id = String::new()),
        Some("head/claim"),
    );
    case(
        "claims: empty sealed_at, signed",
        with_claims_bytes(|c| c.sealed_at = Some(String::new())),
        Some("head/claim"),
    );
}

fn with_claims_bytes(f: impl FnOnce(&mut TraceHeadClaims)) -> Vec<u8> {
    pretty(&with_claims(f))
}

/// The signed claims against what was recomputed.
fn claim_cases(case: &mut impl FnMut(&str, Vec<u8>, Option<&str>), std: &Trace) {
    case(
        "claims: another run, signed",
        with_claims_bytes(|c| c.run_id = "run-2".into()),
        Some("claims/ids"),
    );
    let mut merkle = std.clone();
    merkle.model = "MERKLE_TREE";
    let downgraded = {
        let mut b = merkle.bundle();
        b["trace"]["integrity_model"] = json!("HASH_CHAIN");
        b["trace"]["root_hash"] = std.bundle()["trace"]["root_hash"].clone();
        b
    };
    case(
        "claims: MERKLE_TREE signed, HASH_CHAIN in the row",
        pretty(&downgraded),
        Some("claims/model"),
    );
    case(
        "claims: chain_length + 1, signed",
        with_claims_bytes(|c| c.chain_length += 1),
        Some("claims/chain-length"),
    );
    case(
        "claims: another chain head, signed",
        pretty(&std.bundle_with(Some(signed_statement(|s| {
            s["predicate"]["root_hash"] = json!("ab".repeat(32));
            s["subject"][0]["digest"]["sha256"] = json!("ab".repeat(32));
        })))),
        Some("claims/chain-head"),
    );
    case(
        "claims: another Merkle root, signed",
        with_claims_bytes(|c| c.merkle_root = "ab".repeat(32)),
        Some("claims/merkle-root"),
    );
    let mut failed = Trace::of(vec![payloads::run_start(), payloads::run_end("failed")]);
    failed.status = "failed";
    let mut c = failed.claims();
    c.status = "succeeded".into();
    case(
        "claims: status succeeded signed for a failed trace",
        pretty(&failed.bundle_with(Some(sign_head(&c, &main_key())))),
        Some("claims/status"),
    );
    case(
        "claims: skill digests differ from run.start, signed",
        pretty(&{
            let mut t = std.clone();
            t.skill_digests = [("probe".to_string(), "ab".repeat(32))].into();
            t.bundle()
        }),
        Some("claims/skill-digests"),
    );
}

/// Inclusion proofs.
fn inclusion_cases(case: &mut impl FnMut(&str, Vec<u8>, Option<&str>), std: &Trace) {
    let p = || std.inclusion(2);
    case(
        "inclusion: unknown field",
        pretty(&edit(p(), |v| v["note"] = json!(0))),
        Some("read/unknown-field"),
    );
    case(
        "inclusion: unknown field in step",
        pretty(&edit(p(), |v| v["step"]["note"] = json!(0))),
        Some("read/unknown-field"),
    );
    case(
        "inclusion: signed_head null",
        pretty(&edit(p(), |v| v["signed_head"] = Value::Null)),
        Some("read/type"),
    );
    case(
        "inclusion: unknown inclusion format is read as a bundle",
        pretty(&edit(p(), |v| v["format"] = json!("runproof-inclusion/v9"))),
        Some("read/format"),
    );
    case(
        "inclusion: signed by another key",
        pretty(&edit(p(), |v| {
            v["signed_head"] = serde_json::to_value(signed_head::SignedHead::from_stored(
                &sign_head(&std.claims(), &other_key()),
            ))
            .unwrap()
        })),
        Some("head/untrusted-key"),
    );
    case(
        "inclusion: tree_size differs from the signed chain_length",
        pretty(&edit(p(), |v| v["tree_size"] = json!(4))),
        Some("inclusion/tree-size"),
    );
    case(
        "inclusion: step payload not base64",
        pretty(&edit(p(), |v| v["step"]["payload"] = json!("QR=="))),
        Some("inclusion/base64"),
    );
    case(
        "inclusion: an audit path hash in capitals",
        pretty(&edit(p(), |v| {
            let up = v["audit_path"][0].as_str().unwrap().to_uppercase();
            v["audit_path"][0] = json!(up);
        })),
        Some("inclusion/hex"),
    );
    case(
        "inclusion: prev_hash too short",
        pretty(&edit(p(), |v| v["step"]["prev_hash"] = json!("ab"))),
        Some("inclusion/hex"),
    );
    case(
        "inclusion: step_index beyond the tree",
        pretty(&edit(p(), |v| v["step"]["step_index"] = json!(5))),
        Some("inclusion/index"),
    );
    case(
        "inclusion: another step_index",
        pretty(&edit(p(), |v| v["step"]["step_index"] = json!(3))),
        Some("inclusion/root"),
    );
    case(
        "inclusion: audit path one hash short",
        pretty(&edit(p(), |v| {
            v["audit_path"].as_array_mut().unwrap().pop();
        })),
        Some("inclusion/path-length"),
    );
    case(
        "inclusion: audit path hash edited",
        pretty(&edit(p(), |v| v["audit_path"][0] = json!("ab".repeat(32)))),
        Some("inclusion/root"),
    );
    case(
        "inclusion: payload edited",
        pretty(&edit(p(), |v| {
            v["step"]["payload"] = json!(B64.encode(b"{}"))
        })),
        Some("inclusion/root"),
    );
    // A step whose payload is not a step envelope but is in the signed tree.
    let odd = Trace::with_step(2, Row::with(b"[]", "host.log", Some("probe"), "success"));
    case(
        "inclusion: the step is in the tree but is not a step envelope",
        pretty(&odd.inclusion(2)),
        Some("inclusion/envelope"),
    );
    case(
        "inclusion: statement edited beside the envelope",
        pretty(&edit(p(), |v| {
            v["signed_head"]["statement"]["predicate"]["chain_length"] = json!(4)
        })),
        Some("inclusion/statement"),
    );
}

/// Adds the order of the Ed25519 base point, L = 2^252 + 27742317777372353535851937790883648493,
/// to a little-endian 32-byte scalar: the same signature equation, a non-canonical S.
fn add_group_order(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x10,
    ];
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(L) {
        let sum = *b as u16 + l as u16 + carry;
        *b = sum as u8;
        carry = sum >> 8;
    }
}
