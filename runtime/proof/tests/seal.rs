//! The signed trace head against every way an envelope can be forged or altered. Each case
//! must end in the named error, never `Ok`.
//!
//! Long: one case per way a head can be forged, each with the error it must end in.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
use proptest::prelude::*;
use runproof_proof::StrictError;
use runproof_proof::seal::{
    self, HeadVersion, MAX_SAFE_INTEGER, PAYLOAD_TYPE, PREDICATE_TYPE, PREDICATE_TYPE_V1,
    RunClaims, STATEMENT_TYPE, SealError, Signature, SigningKey, TraceHeadClaims, VerifyingKey,
    key_id, key_id_of_pem, pae, sign_envelope, sign_head, signing_key_from_pem,
    signing_key_from_seed, signing_key_to_pem, verify_head, verify_head_detailed,
    verifying_key_from_pem, verifying_key_to_pem, verifying_keys_from_keyring,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

// ── Fixtures ──────────────────────────────────────────────────────────────────────────

fn signer() -> SigningKey {
    signing_key_from_seed([1; 32])
}
fn second_signer() -> SigningKey {
    signing_key_from_seed([3; 32])
}
fn attacker() -> SigningKey {
    signing_key_from_seed([2; 32])
}
fn trusted() -> Vec<VerifyingKey> {
    vec![signer().verifying_key()]
}
fn id(k: &SigningKey) -> String {
    key_id(&k.verifying_key())
}

fn claims() -> TraceHeadClaims {
    TraceHeadClaims {
        tenant_id: "tenant-a".into(),
        run_id: "0b6f3c1e-5f0a-4e8e-9a57-1f1b3e9c2d10".into(),
        trace_id: "7d2e8f40-1c3b-4a5d-8e6f-9a0b1c2d3e4f".into(),
        integrity_model: "HASH_CHAIN".into(),
        chain_length: 5,
        root_hash: "9f".repeat(32),
        merkle_root: "0a".repeat(32),
        skill_digests: BTreeMap::from([
            ("http_call".to_string(), "ab".repeat(32)),
            ("probe".to_string(), "cd".repeat(32)),
        ]),
        status: "failed".into(),
        started_at: "2026-11-23T00:00:00Z".into(),
        completed_at: "2026-11-23T00:00:01.250Z".into(),
        sealed_at: Some("2026-11-23T00:00:01.300000Z".into()),
        run: Some(RunClaims {
            agent_id: "agent-1".into(),
            origin_system_id: "run-proof-v2".into(),
            goal: "fetch http://127.0.0.1:8080/health".into(),
            plan_sha256: "5c".repeat(32),
            error_message: Some("step \"fetch\" (http_call) failed: connect".into()),
            created_at: "2026-11-22T23:59:59.900000Z".into(),
            duration_ms: 1250,
        }),
    }
}

/// The same head in the first format (no run row, no `sealed_at`), as heads sealed before
/// v2 are stored.
fn claims_v1() -> TraceHeadClaims {
    TraceHeadClaims {
        sealed_at: None,
        run: None,
        ..claims()
    }
}

/// One alteration of a test case.
type ClaimsEdit = Box<dyn Fn(&mut TraceHeadClaims)>;
type JsonEdit = Box<dyn Fn(&mut Value)>;

/// The envelope as a JSON value, to alter.
fn envelope_value(env: &str) -> Value {
    serde_json::from_str(env).unwrap()
}

/// The statement an envelope carries, as a JSON value.
fn statement_of(env: &str) -> Value {
    let v = envelope_value(env);
    let bytes = STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A well-signed envelope around arbitrary statement bytes: what a compromised or buggy
/// signer could emit. Verification must still refuse what is wrong inside.
fn signed_by(key: &SigningKey, statement: &[u8]) -> String {
    sign_envelope(PAYLOAD_TYPE, statement, key)
}

fn signed_value(key: &SigningKey, statement: &Value) -> String {
    signed_by(key, &serde_json::to_vec(statement).unwrap())
}

/// Verifies, requiring an error; the error message must be one line.
fn reject(env: &str, trusted: &[VerifyingKey]) -> SealError {
    match verify_head(env, trusted) {
        Ok(c) => panic!("must not verify, got {c:?}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.contains('\n') && !msg.contains('\r'),
                "one-line message: {msg:?}"
            );
            assert!(msg.len() < 400, "short message: {msg:?}");
            e
        }
    }
}

// ── Format ────────────────────────────────────────────────────────────────────────────

#[test]
fn round_trip() {
    let env = sign_head(&claims(), &signer());
    assert_eq!(verify_head(&env, &trusted()).unwrap(), claims());
    let detailed = verify_head_detailed(
        &env,
        &[attacker().verifying_key(), signer().verifying_key()],
    )
    .unwrap();
    assert_eq!(detailed.claims, claims());
    assert_eq!(detailed.key_id, id(&signer()));
    claims().validate().unwrap();
    // Files end in a newline: trailing whitespace is still one JSON value.
    assert_eq!(
        verify_head(&format!("{env}\n"), &trusted()).unwrap(),
        claims()
    );
    // Ed25519 is deterministic: the same head signs to the same bytes.
    assert_eq!(env, sign_head(&claims(), &signer()));
}

#[test]
fn envelope_and_statement_have_the_documented_layout() {
    let env = sign_head(&claims(), &signer());
    let v = envelope_value(&env);
    assert!(
        env.starts_with(r#"{"payloadType":"application/vnd.in-toto+json","payload":""#),
        "{env}"
    );
    assert_eq!(v.as_object().unwrap().len(), 3);
    assert_eq!(v["payloadType"], "application/vnd.in-toto+json");
    assert_eq!(v["signatures"].as_array().unwrap().len(), 1);
    assert_eq!(v["signatures"][0]["keyid"], id(&signer()));
    let sig = STANDARD
        .decode(v["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    assert_eq!(sig.len(), 64);

    // The signature is Ed25519 over PAE(payloadType, payload bytes): check it independently.
    let body = STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
    let mut expected =
        format!("DSSEv1 28 application/vnd.in-toto+json {} ", body.len()).into_bytes();
    expected.extend(&body);
    signer()
        .verifying_key()
        .verify_strict(&expected, &Signature::from_slice(&sig).unwrap())
        .unwrap();

    let st = statement_of(&env);
    assert_eq!(
        st,
        json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{
                "name": "runproof:run:tenant-a/0b6f3c1e-5f0a-4e8e-9a57-1f1b3e9c2d10",
                "digest": {"sha256": "9f".repeat(32)},
            }],
            "predicateType": "https://runproof.dev/attestations/trace-head/v2",
            "predicate": serde_json::to_value(claims()).unwrap(),
        })
    );
    assert_eq!(st["predicate"]["chain_length"], 5);
    assert_eq!(STATEMENT_TYPE, st["_type"]);
    assert_eq!(PREDICATE_TYPE, st["predicateType"]);
    // `_type` comes first in the serialized bytes, as in-toto examples show it.
    assert!(body.starts_with(br#"{"_type":"https://in-toto.io/Statement/v1","subject":"#));
}

#[test]
fn pae_matches_the_dsse_specification() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
    // Lengths are bytes, not characters.
    assert_eq!(pae("t/€", "€".as_bytes()), "DSSEv1 5 t/€ 3 €".as_bytes());
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
    assert_eq!(
        pae(PAYLOAD_TYPE, b"\0\n"),
        b"DSSEv1 28 application/vnd.in-toto+json 2 \0\n"
    );
}

#[test]
fn key_id_is_sha256_of_the_raw_public_key() {
    let k = signer().verifying_key();
    assert_eq!(key_id(&k), hex::encode(Sha256::digest(k.as_bytes())));
    assert_eq!(key_id(&k).len(), 64);
    assert_ne!(key_id(&k), key_id(&attacker().verifying_key()));
}

#[test]
fn seed_is_an_rfc8032_private_key() {
    // RFC 8032 §7.1, TEST 1 (empty message).
    let sk = signing_key_from_seed(
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap(),
    );
    assert_eq!(
        hex::encode(sk.verifying_key().as_bytes()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    use ed25519_dalek::Signer as _;
    assert_eq!(
        hex::encode(sk.sign(b"").to_bytes()),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
}

// ── Tampering with the envelope ───────────────────────────────────────────────────────

#[test]
fn payload_byte_changed() {
    let env = sign_head(&claims(), &signer());
    let v = envelope_value(&env);
    let body = STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
    // Every byte of the first and last 64 (the `_type` and the end of the predicate), and
    // every 11th in between: each check is a full Ed25519 verification, slow in debug.
    let positions = (0..body.len()).filter(|&i| i < 64 || i >= body.len() - 64 || i % 11 == 0);
    for at in positions {
        let mut b = body.clone();
        b[at] ^= 0x01;
        let mut t = v.clone();
        t["payload"] = STANDARD.encode(&b).into();
        let e = reject(&t.to_string(), &trusted());
        assert_eq!(
            e,
            SealError::BadSignature {
                key_id: id(&signer())
            },
            "byte {at}"
        );
    }
    // Dropped or added bytes, too.
    for b in [
        &body[..body.len() - 1],
        &[body.as_slice(), b" "].concat()[..],
    ] {
        let mut t = v.clone();
        t["payload"] = STANDARD.encode(b).into();
        assert_eq!(
            reject(&t.to_string(), &trusted()),
            SealError::BadSignature {
                key_id: id(&signer())
            }
        );
    }
}

#[test]
fn signature_byte_changed() {
    let env = sign_head(&claims(), &signer());
    let v = envelope_value(&env);
    let sig = STANDARD
        .decode(v["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    for at in 0..64 {
        for flip in [0x01u8, 0x80] {
            let mut s = sig.clone();
            s[at] ^= flip;
            let mut t = v.clone();
            t["signatures"][0]["sig"] = STANDARD.encode(&s).into();
            assert_eq!(
                reject(&t.to_string(), &trusted()),
                SealError::BadSignature {
                    key_id: id(&signer())
                }
            );
        }
    }
}

#[test]
fn malleated_signature_is_refused() {
    // (R, S + L) verifies under a lax check; verify_strict requires a canonical S.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let env = sign_head(&claims(), &signer());
    let v = envelope_value(&env);
    let mut sig = STANDARD
        .decode(v["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = sig[32 + i] as u16 + L[i] as u16 + carry;
        sig[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    let mut t = v.clone();
    t["signatures"][0]["sig"] = STANDARD.encode(&sig).into();
    assert_eq!(
        reject(&t.to_string(), &trusted()),
        SealError::BadSignature {
            key_id: id(&signer())
        }
    );
}

#[test]
fn signature_stripped_or_doubled() {
    let env = sign_head(&claims(), &signer());
    let mut v = envelope_value(&env);
    v["signatures"] = json!([]);
    assert_eq!(reject(&v.to_string(), &trusted()), SealError::NoSignature);

    let mut v = envelope_value(&env);
    let one = v["signatures"][0].clone();
    v["signatures"] = json!([one.clone(), one]);
    assert_eq!(
        reject(&v.to_string(), &trusted()),
        SealError::TooManySignatures { count: 2 }
    );

    // A second, untrusted signature alongside a good one does not ride along.
    let other = envelope_value(&sign_head(&claims(), &attacker()))["signatures"][0].clone();
    let mut v = envelope_value(&env);
    v["signatures"].as_array_mut().unwrap().push(other);
    assert_eq!(
        reject(&v.to_string(), &trusted()),
        SealError::TooManySignatures { count: 2 }
    );

    let mut v = envelope_value(&env);
    v["signatures"] = Value::Null;
    assert!(matches!(
        reject(&v.to_string(), &trusted()),
        SealError::Json(StrictError::Malformed {
            what: "envelope",
            ..
        })
    ));
    let mut v = envelope_value(&env);
    v.as_object_mut().unwrap().remove("signatures");
    assert_eq!(
        reject(&v.to_string(), &trusted()),
        SealError::Json(StrictError::MissingField {
            what: "envelope",
            field: "signatures"
        })
    );
}

#[test]
fn signed_by_an_unpinned_key() {
    let env = sign_head(&claims(), &attacker());
    assert_eq!(
        reject(&env, &trusted()),
        SealError::UntrustedKey {
            key_id: id(&attacker())
        }
    );
    // The same envelope is fine for whoever pins that key: the signature itself is good.
    assert!(verify_head(&env, &[attacker().verifying_key()]).is_ok());
    assert_eq!(reject(&env, &[]), SealError::NoTrustedKeys);
    let msg = SealError::UntrustedKey {
        key_id: id(&attacker()),
    }
    .to_string();
    assert_eq!(
        msg,
        format!("signed by key {}, which is not trusted", id(&attacker()))
    );
}

#[test]
fn keyid_swapped() {
    let env = sign_head(&claims(), &signer());
    let both = [signer().verifying_key(), second_signer().verifying_key()];

    // Names another pinned key: checked with that key, and fails.
    let mut v = envelope_value(&env);
    v["signatures"][0]["keyid"] = id(&second_signer()).into();
    assert_eq!(
        reject(&v.to_string(), &both),
        SealError::BadSignature {
            key_id: id(&second_signer())
        }
    );
    assert_eq!(
        SealError::BadSignature { key_id: "k".into() }.to_string(),
        "signature does not verify with trusted key k"
    );

    // Names an unknown key, though a pinned key made the signature: still refused.
    for claimed in [
        id(&attacker()),
        id(&signer()).to_uppercase(),
        String::new(),
        "x\ny".into(),
    ] {
        let mut v = envelope_value(&env);
        v["signatures"][0]["keyid"] = claimed.clone().into();
        match reject(&v.to_string(), &both) {
            SealError::KeyIdMismatch { actual, .. } => assert_eq!(actual, id(&signer())),
            other => panic!("{other:?}"),
        }
    }

    // An attacker's signature presented under the pinned key's id.
    let forged = sign_head(&claims(), &attacker());
    let mut v = envelope_value(&forged);
    v["signatures"][0]["keyid"] = id(&signer()).into();
    assert_eq!(
        reject(&v.to_string(), &trusted()),
        SealError::BadSignature {
            key_id: id(&signer())
        }
    );
}

#[test]
fn payload_type_changed() {
    let env = sign_head(&claims(), &signer());
    for other in [
        "application/vnd.in-toto+json ",
        "application/json",
        "",
        "APPLICATION/VND.IN-TOTO+JSON",
    ] {
        let mut v = envelope_value(&env);
        v["payloadType"] = other.into();
        assert!(
            matches!(
                reject(&v.to_string(), &trusted()),
                SealError::WrongPayloadType { .. }
            ),
            "{other:?}"
        );
        // Re-signed by the pinned key with that type: the type is still wrong.
        let body = STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
        let resigned = sign_envelope(other, &body, &signer());
        assert!(matches!(
            reject(&resigned, &trusted()),
            SealError::WrongPayloadType { .. }
        ));
    }
}

#[test]
fn claims_changed_with_old_signature() {
    let env = sign_head(&claims(), &signer());
    let old_sig = envelope_value(&env)["signatures"].clone();
    let changes: Vec<ClaimsEdit> = vec![
        Box::new(|c| c.status = "succeeded".into()),
        Box::new(|c| c.chain_length += 1),
        Box::new(|c| c.chain_length -= 1),
        Box::new(|c| c.root_hash = "00".repeat(32)),
        Box::new(|c| c.merkle_root = "00".repeat(32)),
        Box::new(|c| c.tenant_id = "tenant-b".into()),
        Box::new(|c| {
            c.skill_digests.insert("http_call".into(), "ee".repeat(32));
        }),
        Box::new(|c| {
            c.skill_digests.remove("probe");
        }),
    ];
    for change in changes {
        let mut c = claims();
        change(&mut c);
        let mut v = envelope_value(&sign_head(&c, &attacker()));
        v["signatures"] = old_sig.clone();
        assert_eq!(
            reject(&v.to_string(), &trusted()),
            SealError::BadSignature {
                key_id: id(&signer())
            }
        );
    }
}

#[test]
fn chain_length_resigned_by_an_attacker() {
    for delta in [1i64, -1] {
        let mut c = claims();
        c.chain_length = (c.chain_length as i64 + delta) as u64;
        let forged = sign_head(&c, &attacker());
        assert_eq!(
            reject(&forged, &trusted()),
            SealError::UntrustedKey {
                key_id: id(&attacker())
            }
        );
    }
}

// ── Strict parsing ────────────────────────────────────────────────────────────────────

#[test]
fn duplicate_keys_in_the_envelope() {
    let good = sign_head(&claims(), &signer());
    let v = envelope_value(&good);
    let evil = STANDARD.encode(b"{}");
    let payload = v["payload"].as_str().unwrap();
    let sigs = v["signatures"].to_string();
    let cases = [
        // serde_json alone would keep the last "payload".
        (
            format!(
                r#"{{"payloadType":"{PAYLOAD_TYPE}","payload":"{evil}","payload":"{payload}","signatures":{sigs}}}"#
            ),
            "payload",
        ),
        (
            format!(
                r#"{{"payloadType":"{PAYLOAD_TYPE}","payload":"{payload}","payload":"{evil}","signatures":{sigs}}}"#
            ),
            "payload",
        ),
        (
            format!(
                r#"{{"payloadType":"x","payloadType":"{PAYLOAD_TYPE}","payload":"{payload}","signatures":{sigs}}}"#
            ),
            "payloadType",
        ),
        (
            format!(
                r#"{{"payloadType":"{PAYLOAD_TYPE}","payload":"{payload}","signatures":[],"signatures":{sigs}}}"#
            ),
            "signatures",
        ),
        // The same key spelled with an escape.
        (
            format!(
                r#"{{"payloadType":"{PAYLOAD_TYPE}","\u0070ayload":"{evil}","payload":"{payload}","signatures":{sigs}}}"#
            ),
            "payload",
        ),
    ];
    for (text, key) in cases {
        assert_eq!(
            reject(&text, &trusted()),
            SealError::Json(StrictError::DuplicateKey {
                what: "envelope",
                key: key.into()
            })
        );
    }
    let sig = v["signatures"][0]["sig"].as_str().unwrap();
    let text = format!(
        r#"{{"payloadType":"{PAYLOAD_TYPE}","payload":"{payload}","signatures":[{{"keyid":"{}","sig":"AAAA","sig":"{sig}"}}]}}"#,
        id(&signer())
    );
    assert_eq!(
        reject(&text, &trusted()),
        SealError::Json(StrictError::DuplicateKey {
            what: "envelope",
            key: "sig".into()
        })
    );
    assert_eq!(
        SealError::Json(StrictError::DuplicateKey {
            what: "envelope",
            key: "payload".into()
        })
        .to_string(),
        "duplicate JSON key \"payload\" in envelope"
    );
}

#[test]
fn duplicate_keys_in_the_statement() {
    let body = String::from_utf8(
        STANDARD
            .decode(
                envelope_value(&sign_head(&claims(), &signer()))["payload"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    let cases = [
        (
            body.replacen(
                "\"chain_length\":5",
                "\"chain_length\":5,\"chain_length\":6",
                1,
            ),
            "chain_length",
        ),
        (
            body.replacen(
                "\"chain_length\":5",
                "\"chain_length\":6,\"chain_length\":5",
                1,
            ),
            "chain_length",
        ),
        (
            body.replacen("{\"_type\"", "{\"_type\":\"x\",\"_type\"", 1),
            "_type",
        ),
        (
            body.replacen("\"sha256\":", "\"sha256\":\"00\",\"sha256\":", 1),
            "sha256",
        ),
        (
            body.replacen("\"probe\":", "\"probe\":\"00\",\"probe\":", 1),
            "probe",
        ),
        (
            body.replacen("\"status\":", "\"st\\u0061tus\":\"x\",\"status\":", 1),
            "status",
        ),
    ];
    for (text, key) in cases {
        assert_ne!(text, body, "the case must change the statement");
        let env = signed_by(&signer(), text.as_bytes());
        assert_eq!(
            reject(&env, &trusted()),
            SealError::Json(StrictError::DuplicateKey {
                what: "statement",
                key: key.into()
            })
        );
    }
}

#[test]
fn unknown_fields_anywhere() {
    let env = sign_head(&claims(), &signer());
    let mut v = envelope_value(&env);
    v["x"] = json!(1);
    assert_eq!(
        reject(&v.to_string(), &trusted()),
        SealError::Json(StrictError::UnknownField {
            what: "envelope",
            field: "x".into()
        })
    );
    assert_eq!(
        SealError::Json(StrictError::UnknownField {
            what: "envelope",
            field: "x".into()
        })
        .to_string(),
        "envelope has unknown field \"x\""
    );
    let mut v = envelope_value(&env);
    v["signatures"][0]["cert"] = json!("...");
    assert_eq!(
        reject(&v.to_string(), &trusted()),
        SealError::Json(StrictError::UnknownField {
            what: "signature",
            field: "cert".into()
        })
    );

    let st = statement_of(&env);
    let cases: Vec<(&str, &str, JsonEdit)> = vec![
        ("statement", "x", Box::new(|s| s["x"] = json!(null))),
        (
            "subject",
            "annotations",
            Box::new(|s| s["subject"][0]["annotations"] = json!({})),
        ),
        (
            "subject digest",
            "sha512",
            Box::new(|s| s["subject"][0]["digest"]["sha512"] = json!("00")),
        ),
        (
            "predicate",
            "verified",
            Box::new(|s| s["predicate"]["verified"] = json!(true)),
        ),
        (
            "predicate",
            "Chain_length",
            Box::new(|s| s["predicate"]["Chain_length"] = json!(5)),
        ),
    ];
    for (what, field, change) in cases {
        let mut s = st.clone();
        change(&mut s);
        let e = reject(&signed_value(&signer(), &s), &trusted());
        assert_eq!(
            e,
            SealError::Json(StrictError::UnknownField {
                what,
                field: field.into()
            })
        );
    }

    // Missing fields are named too.
    for field in [
        "merkle_root",
        "chain_length",
        "skill_digests",
        "integrity_model",
    ] {
        let mut s = st.clone();
        s["predicate"].as_object_mut().unwrap().remove(field);
        let e = reject(&signed_value(&signer(), &s), &trusted());
        assert!(
            matches!(e, SealError::Json(StrictError::MissingField { what: "predicate", field: f }) if f == field),
            "{e:?}"
        );
    }
    let mut s = st.clone();
    s.as_object_mut().unwrap().remove("predicateType");
    assert_eq!(
        reject(&signed_value(&signer(), &s), &trusted()),
        SealError::Json(StrictError::MissingField {
            what: "statement",
            field: "predicateType"
        })
    );
}

#[test]
fn trailing_garbage() {
    let env = sign_head(&claims(), &signer());
    for tail in ["x", "{}", "\n{}", "]", "\0", " null"] {
        assert_eq!(
            reject(&format!("{env}{tail}"), &trusted()),
            SealError::Json(StrictError::TrailingData { what: "envelope" }),
            "{tail:?}"
        );
    }
    let body = serde_json::to_vec(&statement_of(&env)).unwrap();
    for tail in [&b" x"[..], b"{}", b"\0"] {
        let e = reject(
            &signed_by(&signer(), &[body.as_slice(), tail].concat()),
            &trusted(),
        );
        assert_eq!(
            e,
            SealError::Json(StrictError::TrailingData { what: "statement" })
        );
    }
}

#[test]
fn not_json_at_all() {
    for text in [
        "",
        " ",
        "null",
        "[]",
        "\"x\"",
        "{",
        "{\"payloadType\":",
        "\u{feff}{}",
    ] {
        let e = reject(text, &trusted());
        assert!(
            matches!(
                e,
                SealError::Json(StrictError::Json {
                    what: "envelope",
                    ..
                }) | SealError::Json(StrictError::Malformed {
                    what: "envelope",
                    ..
                })
            ),
            "{text:?}: {e:?}"
        );
    }
    for body in [
        &b""[..],
        b"[]",
        b"\xff\xfe",
        b"{\"_type\":\"\xff\"}",
        b"\"x\"",
    ] {
        let e = reject(&signed_by(&signer(), body), &trusted());
        assert!(
            matches!(
                e,
                SealError::Json(StrictError::Json {
                    what: "statement",
                    ..
                }) | SealError::Json(StrictError::Malformed {
                    what: "statement",
                    ..
                })
            ),
            "{e:?}"
        );
    }
}

#[test]
fn bad_base64() {
    // A statement whose length is not a multiple of 3, so its unpadded base64 differs.
    let mut c = claims();
    while serde_json::to_vec(&statement_of(&sign_head(&c, &signer())))
        .unwrap()
        .len()
        .is_multiple_of(3)
    {
        c.run.as_mut().unwrap().goal.push('x');
    }
    let env = sign_head(&c, &signer());
    let v = envelope_value(&env);
    let payload = v["payload"].as_str().unwrap().to_string();
    let body = STANDARD.decode(&payload).unwrap();
    let sig = v["signatures"][0]["sig"].as_str().unwrap().to_string();
    let sig_bytes = STANDARD.decode(&sig).unwrap();

    let mut bad_payloads = vec![
        format!("{payload}!"),
        format!(" {payload}"),
        format!("{payload}\n"),
        format!("{payload}="),
        STANDARD_NO_PAD.encode(&body), // no padding (the body length is not a multiple of 3)
        URL_SAFE.encode([0xfbu8, 0xff, 0xfe]),
        "QQ==QQ==".into(),
        "QR==".into(), // non-canonical trailing bits
    ];
    assert_ne!(body.len() % 3, 0, "fixture: the unpadded form must differ");
    bad_payloads.push(URL_SAFE.encode(&body).replace('=', "").to_string() + "-_");
    for p in bad_payloads {
        let mut t = v.clone();
        t["payload"] = p.clone().into();
        assert_eq!(
            reject(&t.to_string(), &trusted()),
            SealError::Base64 { field: "payload" },
            "{p:?}"
        );
    }
    for s in [
        format!("{sig}!"),
        sig.trim_end_matches('=').to_string(),
        URL_SAFE.encode([0xfbu8; 64]),
        "".into(),
    ] {
        let mut t = v.clone();
        t["signatures"][0]["sig"] = s.clone().into();
        let e = reject(&t.to_string(), &trusted());
        assert!(
            matches!(
                e,
                SealError::Base64 {
                    field: "signature sig"
                } | SealError::SignatureLength { len: 0 }
            ),
            "{s:?}: {e:?}"
        );
    }
    for len in [63usize, 65, 128] {
        let mut t = v.clone();
        let mut s = sig_bytes.clone();
        s.resize(len, 0);
        t["signatures"][0]["sig"] = STANDARD.encode(&s).into();
        assert_eq!(
            reject(&t.to_string(), &trusted()),
            SealError::SignatureLength { len }
        );
    }
}

// ── Versions ──────────────────────────────────────────────────────────────────────────

#[test]
fn v1_heads_still_verify_and_say_they_are_v1() {
    let env = sign_head(&claims_v1(), &signer());
    let st = statement_of(&env);
    assert_eq!(st["predicateType"], PREDICATE_TYPE_V1);
    assert!(st["predicate"].get("run").is_none());
    assert!(st["predicate"].get("sealed_at").is_none());
    let c = verify_head(&env, &trusted()).unwrap();
    assert_eq!(c, claims_v1());
    assert_eq!(c.version(), HeadVersion::V1);
    assert_eq!(
        verify_head(&sign_head(&claims(), &signer()), &trusted())
            .unwrap()
            .version(),
        HeadVersion::V2
    );
}

#[test]
fn a_v2_head_states_the_run_for_real() {
    let st = statement_of(&sign_head(&claims(), &signer()));
    // `"run": null` and `"sealed_at": null` pass the field check but state nothing.
    for field in ["run", "sealed_at"] {
        let mut s = st.clone();
        s["predicate"][field] = Value::Null;
        let e = reject(&signed_value(&signer(), &s), &trusted());
        assert!(
            matches!(
                e,
                SealError::InvalidClaim { .. }
                    | SealError::Json(StrictError::Malformed {
                        what: "predicate run",
                        ..
                    })
            ),
            "{field}: {e:?}"
        );
    }
    // Every field of the run object is required, and no other is allowed.
    for field in [
        "agent_id",
        "origin_system_id",
        "goal",
        "plan_sha256",
        "error_message",
        "created_at",
        "duration_ms",
    ] {
        let mut s = st.clone();
        s["predicate"]["run"].as_object_mut().unwrap().remove(field);
        let e = reject(&signed_value(&signer(), &s), &trusted());
        assert!(
            matches!(e, SealError::Json(StrictError::MissingField { what: "predicate run", field: f }) if f == field),
            "{field}: {e:?}"
        );
    }
    let mut s = st.clone();
    s["predicate"]["run"]["attempts"] = json!(1);
    assert!(matches!(
        reject(&signed_value(&signer(), &s), &trusted()),
        SealError::Json(StrictError::UnknownField {
            what: "predicate run",
            ..
        })
    ));
    let mut s = st.clone();
    s["predicate"]["run"]["plan_sha256"] = "5C".repeat(32).into();
    assert!(matches!(
        reject(&signed_value(&signer(), &s), &trusted()),
        SealError::InvalidClaim { field, .. } if field == "run.plan_sha256"
    ));
    // Claims with one half of v2 are of no version, and do not validate.
    let half = TraceHeadClaims {
        sealed_at: None,
        ..claims()
    };
    assert!(matches!(
        half.validate(),
        Err(SealError::InvalidClaim { .. })
    ));
}

// ── Keyrings ──────────────────────────────────────────────────────────────────────────

#[test]
fn a_keyring_holds_several_keys_with_comments_between() {
    let a = verifying_key_to_pem(&signer().verifying_key()).unwrap();
    let b = verifying_key_to_pem(&second_signer().verifying_key()).unwrap();
    let ring = format!(
        "# RunProof keyring\n\n# key_id {}\n{a}\n# retired\n{b}{a}",
        id(&signer())
    );
    let keys = verifying_keys_from_keyring(&ring).unwrap();
    assert_eq!(
        keys,
        vec![signer().verifying_key(), second_signer().verifying_key()],
        "the repeated key counts once"
    );
    // One PEM is a keyring of one.
    assert_eq!(
        verifying_keys_from_keyring(&a).unwrap(),
        vec![signer().verifying_key()]
    );
    assert_eq!(key_id_of_pem(&a).unwrap(), id(&signer()));
}

#[test]
fn a_keyring_refuses_anything_but_public_keys_and_comments() {
    let a = verifying_key_to_pem(&signer().verifying_key()).unwrap();
    let private = signing_key_to_pem(&signer()).unwrap().to_string();
    for (text, needle) in [
        (String::new(), "no \"-----BEGIN PUBLIC KEY-----\" block"),
        (
            "# only a comment\n".to_string(),
            "no \"-----BEGIN PUBLIC KEY-----\" block",
        ),
        (format!("{a}trailing words\n"), "line 4"),
        (format!("{a}{private}"), "PRIVATE KEY"),
        (a.replace("-----END PUBLIC KEY-----\n", ""), "has no"),
        (a.replacen('M', "!", 1), "line 1"),
    ] {
        let e = verifying_keys_from_keyring(&text).unwrap_err().to_string();
        assert!(e.contains(needle), "{text:?}: {e}");
        assert!(!e.contains('\n'), "one line: {e:?}");
    }
}

// ── The statement's meaning ───────────────────────────────────────────────────────────

#[test]
fn statement_and_predicate_types_are_exact() {
    let st = statement_of(&sign_head(&claims(), &signer()));
    for bad in [
        "https://in-toto.io/Statement/v0.1",
        "https://in-toto.io/Statement/v1 ",
        "",
    ] {
        let mut s = st.clone();
        s["_type"] = bad.into();
        assert!(matches!(
            reject(&signed_value(&signer(), &s), &trusted()),
            SealError::WrongStatementType { .. }
        ));
    }
    for bad in [
        "https://runproof.dev/attestations/trace-head/v3",
        "https://runproof.dev/attestations/trace-head/v2 ",
        "https://slsa.dev/provenance/v1",
    ] {
        let mut s = st.clone();
        s["predicateType"] = bad.into();
        assert!(matches!(
            reject(&signed_value(&signer(), &s), &trusted()),
            SealError::WrongPredicateType { .. }
        ));
    }
    // The predicate must be of the version its type names: a v2 predicate relabelled v1
    // has fields v1 does not know; a v1 predicate relabelled v2 lacks fields.
    let mut s = st.clone();
    s["predicateType"] = PREDICATE_TYPE_V1.into();
    assert!(matches!(
        reject(&signed_value(&signer(), &s), &trusted()),
        SealError::Json(StrictError::UnknownField {
            what: "predicate",
            ..
        })
    ));
    let mut s = statement_of(&sign_head(&claims_v1(), &signer()));
    assert_eq!(s["predicateType"], PREDICATE_TYPE_V1);
    s["predicateType"] = PREDICATE_TYPE.into();
    assert!(matches!(
        reject(&signed_value(&signer(), &s), &trusted()),
        SealError::Json(StrictError::MissingField {
            what: "predicate",
            ..
        })
    ));
    let mut s = st.clone();
    s["_type"] = json!(1);
    assert!(matches!(
        reject(&signed_value(&signer(), &s), &trusted()),
        SealError::Json(StrictError::Malformed {
            what: "statement",
            ..
        })
    ));
}

#[test]
fn subject_must_name_the_predicates_run_and_head() {
    let st = statement_of(&sign_head(&claims(), &signer()));
    let cases: Vec<JsonEdit> = vec![
        Box::new(|s| {
            s["subject"][0]["name"] =
                "runproof:run:tenant-b/0b6f3c1e-5f0a-4e8e-9a57-1f1b3e9c2d10".into()
        }),
        Box::new(|s| s["subject"][0]["name"] = "runproof:run:tenant-a/other-run".into()),
        Box::new(|s| {
            s["subject"][0]["name"] = "tenant-a/0b6f3c1e-5f0a-4e8e-9a57-1f1b3e9c2d10".into()
        }),
        Box::new(|s| s["subject"][0]["digest"]["sha256"] = "00".repeat(32).into()),
        Box::new(|s| s["predicate"]["tenant_id"] = "tenant-b".into()),
        Box::new(|s| s["predicate"]["run_id"] = "other-run".into()),
        Box::new(|s| s["predicate"]["root_hash"] = "00".repeat(32).into()),
        Box::new(|s| s["subject"] = json!([])),
        Box::new(|s| {
            let one = s["subject"][0].clone();
            s["subject"] = json!([one.clone(), one]);
        }),
    ];
    for change in cases {
        let mut s = st.clone();
        change(&mut s);
        let e = reject(&signed_value(&signer(), &s), &trusted());
        assert!(matches!(e, SealError::SubjectMismatch { .. }), "{e:?}");
    }
}

#[test]
fn digests_must_be_64_lowercase_hex() {
    let bad_digests = [
        "9f".repeat(31) + "9",
        "9f".repeat(32) + "9f",
        "9F".repeat(32),
        "zz".repeat(32),
        String::new(),
        " ".repeat(64),
    ];
    for bad in &bad_digests {
        // root_hash: the subject carries the same bad value, so only the format is wrong.
        let mut c = claims();
        c.root_hash = bad.clone();
        let e = reject(&sign_head(&c, &signer()), &trusted());
        assert_eq!(
            e,
            SealError::InvalidClaim {
                field: "root_hash".into(),
                reason: "is not a SHA-256 digest in 64 lower-case hex characters".into()
            }
        );
        assert!(c.validate().is_err());

        let mut c = claims();
        c.merkle_root = bad.clone();
        let e = reject(&sign_head(&c, &signer()), &trusted());
        assert!(
            matches!(e, SealError::InvalidClaim { ref field, .. } if field == "merkle_root"),
            "{e:?}"
        );

        let mut c = claims();
        c.skill_digests.insert("probe".into(), bad.clone());
        let e = reject(&sign_head(&c, &signer()), &trusted());
        assert!(
            matches!(e, SealError::InvalidClaim { ref field, .. } if field == "skill_digests[\"probe\"]"),
            "{e:?}"
        );
    }
}

#[test]
fn chain_length_beyond_2_pow_53() {
    for n in [(1u64 << 53) + 1, 1 << 53, u64::MAX] {
        let mut c = claims();
        c.chain_length = n;
        assert_eq!(
            reject(&sign_head(&c, &signer()), &trusted()),
            SealError::Json(StrictError::NumberOutOfRange { what: "statement" })
        );
        assert!(c.validate().is_err());
    }
    let mut c = claims();
    c.chain_length = MAX_SAFE_INTEGER;
    assert_eq!(
        verify_head(&sign_head(&c, &signer()), &trusted())
            .unwrap()
            .chain_length,
        MAX_SAFE_INTEGER
    );

    // Other spellings of a number that is not a u64.
    let body = serde_json::to_string(&statement_of(&sign_head(&claims(), &signer()))).unwrap();
    for spelling in [
        "5.0",
        "5e0",
        "-1",
        "\"5\"",
        "null",
        "1e400",
        "99999999999999999999",
    ] {
        let text = body.replacen(
            "\"chain_length\":5",
            &format!("\"chain_length\":{spelling}"),
            1,
        );
        assert_ne!(text, body);
        let e = reject(&signed_by(&signer(), text.as_bytes()), &trusted());
        match spelling {
            "5.0" | "5e0" | "99999999999999999999" => assert_eq!(
                e,
                SealError::Json(StrictError::NumberOutOfRange { what: "statement" })
            ),
            // serde_json itself refuses a float beyond f64.
            "1e400" => assert!(
                matches!(
                    e,
                    SealError::Json(StrictError::Json {
                        what: "statement",
                        ..
                    })
                ),
                "{e:?}"
            ),
            _ => assert!(
                matches!(
                    e,
                    SealError::Json(StrictError::Malformed {
                        what: "statement",
                        ..
                    })
                ),
                "{spelling}: {e:?}"
            ),
        }
    }
}

#[test]
fn unknown_integrity_model_is_returned_but_does_not_validate() {
    for model in ["NONE", "hash_chain", "", "HASH_CHAIN ", "merkle_tree"] {
        let mut c = claims();
        c.integrity_model = model.into();
        // Signed by the pinned key: verify_head returns what was claimed ...
        let got = verify_head(&sign_head(&c, &signer()), &trusted()).unwrap();
        assert_eq!(got.integrity_model, model);
        // ... and validate() refuses it.
        let e = got.validate().unwrap_err();
        assert!(
            matches!(e, SealError::UnsupportedIntegrityModel { .. }),
            "{e:?}"
        );
        assert!(!e.to_string().contains('\n'));
    }
}

#[test]
fn both_real_integrity_models_validate() {
    for model in ["HASH_CHAIN", "MERKLE_TREE"] {
        let mut c = claims();
        c.integrity_model = model.into();
        verify_head(&sign_head(&c, &signer()), &trusted())
            .unwrap()
            .validate()
            .unwrap();
    }
}

#[test]
fn validate_checks_the_claims_on_their_own() {
    claims().validate().unwrap();
    let cases: Vec<ClaimsEdit> = vec![
        Box::new(|c| c.chain_length = 0),
        Box::new(|c| c.tenant_id.clear()),
        Box::new(|c| c.run_id.clear()),
        Box::new(|c| c.trace_id.clear()),
        Box::new(|c| c.status.clear()),
        Box::new(|c| c.started_at.clear()),
        Box::new(|c| c.completed_at.clear()),
        Box::new(|c| {
            c.skill_digests.insert(String::new(), "ab".repeat(32));
        }),
        Box::new(|c| c.root_hash = "AB".repeat(32)),
        Box::new(|c| c.merkle_root.clear()),
    ];
    for change in cases {
        let mut c = claims();
        change(&mut c);
        let e = c.validate().unwrap_err();
        assert!(matches!(e, SealError::InvalidClaim { .. }), "{e:?}");
    }
    // No skills is fine (a run whose plan had none).
    let mut c = claims();
    c.skill_digests.clear();
    c.validate().unwrap();
}

#[test]
fn attacker_text_never_breaks_the_one_line_message() {
    let st = statement_of(&sign_head(&claims(), &signer()));
    let mut s = st.clone();
    s["predicate"]["x\ny\u{202e}"] = json!(1);
    let e = reject(&signed_value(&signer(), &s), &trusted());
    assert_eq!(
        e.to_string(),
        "predicate has unknown field \"x\\ny\\u{202e}\""
    );
    let mut s = st.clone();
    s["_type"] = "a\r\nb".repeat(100).into();
    let msg = reject(&signed_value(&signer(), &s), &trusted()).to_string();
    assert!(
        msg.ends_with("…\", expected \"https://in-toto.io/Statement/v1\""),
        "{msg}"
    );
}

// ── Keys ──────────────────────────────────────────────────────────────────────────────

/// Written by `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` (OpenSSL 3.0).
const OPENSSL_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIKEuhw/tdxxmOGXEWO4EbnG/usE4ji/GjZPaVR1hOSmq
-----END PRIVATE KEY-----
";
const OPENSSL_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAVEN2rpSTuipl5fV42miLp3faCkwJSgFVgNIvYDBAIQs=
-----END PUBLIC KEY-----
";
/// An ECDSA P-256 key: valid PEM of the right label, wrong algorithm.
const P256_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENLZPQnNfYs0OdMidFiiEuiq8maGG
NjBsbQE3xe9seYd7ufPaGTYUjb5WlTmQjsG/d1SPKzOwxT5iwqpW1sGPfA==
-----END PUBLIC KEY-----
";
const P256_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgoYNu90n5LA+mZw6J
cddakDImz2M6Ll8SrBJBbcEEPjKhRANCAAQ0tk9Cc19izQ50yJ0WKIS6KryZoYY2
MGxtATfF72x5h3u589oZNhSNvlaVOZCOwb93VI8rM7DFPmLCqlbWwY98
-----END PRIVATE KEY-----
";

#[test]
fn pem_round_trip_and_openssl_interop() {
    let k = signer();
    let private = signing_key_to_pem(&k).unwrap();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(private.trim_end().ends_with("-----END PRIVATE KEY-----"));
    // PKCS#8 v1 like OpenSSL's: the same 48-byte DER shape (version 0, no public key).
    assert_eq!(
        private.lines().nth(1).unwrap().len(),
        OPENSSL_PRIVATE.lines().nth(1).unwrap().len()
    );
    assert_eq!(
        signing_key_from_pem(&private).unwrap().to_bytes(),
        k.to_bytes()
    );

    let public = verifying_key_to_pem(&k.verifying_key()).unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert_eq!(verifying_key_from_pem(&public).unwrap(), k.verifying_key());

    let ossl = signing_key_from_pem(OPENSSL_PRIVATE).unwrap();
    assert_eq!(
        ossl.verifying_key(),
        verifying_key_from_pem(OPENSSL_PUBLIC).unwrap()
    );
    assert_eq!(
        verifying_key_to_pem(&ossl.verifying_key()).unwrap(),
        OPENSSL_PUBLIC
    );
    assert_eq!(signing_key_to_pem(&ossl).unwrap().as_str(), OPENSSL_PRIVATE);

    // Keys from PEM sign and verify heads like any other.
    let env = sign_head(&claims(), &ossl);
    assert!(verify_head(&env, &[verifying_key_from_pem(OPENSSL_PUBLIC).unwrap()]).is_ok());
    // Surrounding whitespace (files, env vars) is fine.
    assert!(verifying_key_from_pem(&format!("\n  {OPENSSL_PUBLIC}\n\n")).is_ok());
}

fn key_error(r: Result<impl std::fmt::Debug, SealError>) -> String {
    match r {
        Ok(k) => panic!("must not load: {k:?}"),
        Err(SealError::Key { reason }) => {
            assert!(!reason.contains('\n'));
            reason
        }
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn pem_errors_are_clear() {
    let r = key_error(verifying_key_from_pem(OPENSSL_PRIVATE));
    assert!(
        r.contains("expected a \"-----BEGIN PUBLIC KEY-----\" PEM block, found \"-----BEGIN PRIVATE KEY-----\""),
        "{r}"
    );
    let r = key_error(signing_key_from_pem(OPENSSL_PUBLIC));
    assert!(
        r.contains("expected a \"-----BEGIN PRIVATE KEY-----\" PEM block, found \"-----BEGIN PUBLIC KEY-----\""),
        "{r}"
    );
    let r = key_error(signing_key_from_pem(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    ));
    assert!(r.contains("encrypted"), "{r}");
    let r = key_error(signing_key_from_pem("not a key"));
    assert!(r.starts_with("not PEM"), "{r}");
    let r = key_error(verifying_key_from_pem(""));
    assert!(r.starts_with("not PEM"), "{r}");
    let r = key_error(verifying_key_from_pem(P256_PUBLIC));
    assert!(r.starts_with("not an Ed25519 SPKI public key"), "{r}");
    let r = key_error(signing_key_from_pem(P256_PRIVATE));
    assert!(r.starts_with("not an Ed25519 PKCS#8 private key"), "{r}");
    let truncated = OPENSSL_PUBLIC.replace("MCowBQYDK2VwAyEA", "MCowBQYDK2VwAyEB");
    key_error(verifying_key_from_pem(&truncated));
    let r = key_error(verifying_key_from_pem(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ));
    assert!(r.contains("found \"-----BEGIN CERTIFICATE-----\""), "{r}");
    // PKCS#8 v2 whose public key does not match the private key.
    let v2_mismatch = {
        use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes, PublicKeyBytes};
        KeypairBytes {
            secret_key: signer().to_bytes(),
            public_key: Some(PublicKeyBytes(attacker().verifying_key().to_bytes())),
        }
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap()
    };
    key_error(signing_key_from_pem(&v2_mismatch));
    let v2_match = {
        use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes, PublicKeyBytes};
        KeypairBytes {
            secret_key: signer().to_bytes(),
            public_key: Some(PublicKeyBytes(signer().verifying_key().to_bytes())),
        }
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap()
    };
    assert_eq!(
        signing_key_from_pem(&v2_match).unwrap().to_bytes(),
        signer().to_bytes()
    );
}

#[test]
fn weak_public_keys_are_refused() {
    // The identity point: every "signature" would be trivial under a lax check.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = VerifyingKey::from_bytes(&identity).unwrap();
    let pem = verifying_key_to_pem(&weak).unwrap();
    let r = key_error(verifying_key_from_pem(&pem));
    assert!(r.contains("weak"), "{r}");
    // And pinned anyway, it verifies nothing.
    let env = sign_head(&claims(), &signer());
    let mut v = envelope_value(&env);
    v["signatures"][0]["keyid"] = key_id(&weak).into();
    assert!(verify_head(&v.to_string(), &[weak]).is_err());

    // (R = identity, S = 0) satisfies the lax equation [S]B = R + [k]A for A = identity and
    // any message: the classic weak-key forgery. Only verify_strict refuses it.
    let mut forged = [0u8; 64];
    forged[0] = 1;
    let body = STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
    {
        use ed25519_dalek::Verifier as _;
        let sig = Signature::from_bytes(&forged);
        assert!(
            weak.verify(&pae(PAYLOAD_TYPE, &body), &sig).is_ok(),
            "fixture: the lax check accepts it"
        );
    }
    v["signatures"][0]["sig"] = STANDARD.encode(forged).into();
    assert_eq!(
        reject(&v.to_string(), &[weak]),
        SealError::BadSignature {
            key_id: key_id(&weak)
        }
    );
}

// ── Fuzz-style ────────────────────────────────────────────────────────────────────────

/// One signed head, made once for the fuzz cases that alter it.
fn good_envelope() -> &'static str {
    static ENV: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ENV.get_or_init(|| sign_head(&claims(), &signer()))
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        "[a-z0-9\\-/: \"\\\\\\n]{0,30}"
    ]
}

fn arb_claims() -> impl Strategy<Value = TraceHeadClaims> {
    (
        (arb_text(), arb_text(), arb_text(), arb_text()),
        0..=MAX_SAFE_INTEGER,
        (any::<[u8; 32]>(), any::<[u8; 32]>()),
        proptest::collection::btree_map(arb_text(), any::<[u8; 32]>(), 0..5),
        (arb_text(), arb_text(), arb_text()),
        // v1 (None) or v2: the run row and sealed_at.
        proptest::option::of((
            (arb_text(), arb_text(), arb_text()),
            any::<[u8; 32]>(),
            proptest::option::of(arb_text()),
            (arb_text(), 0..=MAX_SAFE_INTEGER, arb_text()),
        )),
    )
        .prop_map(
            |(
                (tenant_id, run_id, trace_id, integrity_model),
                chain_length,
                (root, merkle),
                skills,
                (status, started_at, completed_at),
                v2,
            )| {
                let (sealed_at, run) = match v2 {
                    None => (None, None),
                    Some((
                        (agent_id, origin_system_id, goal),
                        plan,
                        error_message,
                        (created_at, duration_ms, sealed_at),
                    )) => (
                        Some(sealed_at),
                        Some(RunClaims {
                            agent_id,
                            origin_system_id,
                            goal,
                            plan_sha256: hex::encode(plan),
                            error_message,
                            created_at,
                            duration_ms,
                        }),
                    ),
                };
                TraceHeadClaims {
                    tenant_id,
                    run_id,
                    trace_id,
                    integrity_model,
                    chain_length,
                    root_hash: hex::encode(root),
                    merkle_root: hex::encode(merkle),
                    skill_digests: skills
                        .into_iter()
                        .map(|(k, v)| (k, hex::encode(v)))
                        .collect(),
                    status,
                    started_at,
                    completed_at,
                    sealed_at,
                    run,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics_nor_verifies(text in any::<String>()) {
        prop_assert!(verify_head(&text, &trusted()).is_err());
    }

    #[test]
    fn arbitrary_json_shaped_text_never_panics_nor_verifies(
        text in "[\\[\\]{}\":,a-zA-Z0-9+/=_ \\\\.-]{0,200}",
    ) {
        prop_assert!(verify_head(&text, &trusted()).is_err());
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_payload_bytes_signed_by_the_pinned_key_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        // Whatever a (buggy) signer puts in, verification ends in an error, not a panic.
        let env = sign_envelope(PAYLOAD_TYPE, &body, &signer());
        prop_assert!(verify_head(&env, &trusted()).is_err());
    }

}

proptest! {
    // Two signatures and three verifications a case: fewer cases keep a debug run quick.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_claims_round_trip(c in arb_claims()) {
        let env = sign_head(&c, &signer());
        prop_assert_eq!(verify_head(&env, &trusted()).unwrap(), c.clone());
        prop_assert_eq!(reject(&env, &[attacker().verifying_key()]), SealError::UntrustedKey { key_id: id(&signer()) });
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_single_byte_substitution_fails(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = good_envelope().as_bytes().to_vec();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        if let Ok(text) = String::from_utf8(bytes) {
            prop_assert!(verify_head(&text, &trusted()).is_err(), "byte {} -> {:?}", i, byte as char);
        }
    }

    #[test]
    fn any_insertion_or_deletion_never_panics(at in any::<prop::sample::Index>(), insert in any::<Option<char>>()) {
        let env = good_envelope();
        let i = at.index(env.len());
        let mut text = env.to_string();
        if !text.is_char_boundary(i) {
            return Ok(());
        }
        match insert {
            Some(c) => text.insert(i, c),
            None => { text.remove(i); }
        }
        // Whitespace between tokens is still the same envelope; nothing else may verify.
        if let Ok(c) = verify_head(&text, &trusted()) {
            prop_assert_eq!(c, claims());
            prop_assert!(matches!(insert, Some(' ' | '\n' | '\t' | '\r')));
        }
    }
}

#[test]
fn the_seal_module_is_reachable_from_the_crate_root() {
    // The common names are re-exported at the root for callers.
    let _: fn(&TraceHeadClaims, &SigningKey) -> String = runproof_proof::sign_head;
    let _: fn(&str, &[VerifyingKey]) -> Result<TraceHeadClaims, runproof_proof::SealError> =
        runproof_proof::verify_head;
    let _ = seal::SUBJECT_PREFIX;
}
