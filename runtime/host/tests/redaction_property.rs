//! Property: a secret value substituted into a request and echoed back by a server in any
//! encoding `redact.rs` names (as is, JSON-escaped, percent-encoded, base64 standard and
//! URL-safe at any offset, hex) never survives redaction.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use runproof_host::{Secret, SecretSet};

fn set(value: &str) -> SecretSet {
    SecretSet::new(vec![Secret {
        name: "S".into(),
        value: value.to_string(),
        allowed_hosts: vec![],
    }])
}

/// What a server might send back of `sent` (the substituted request text).
fn echoes(sent: &str) -> Vec<String> {
    let json = serde_json::to_string(sent).unwrap();
    let ascii_json: String = json
        .chars()
        .flat_map(|c| {
            if c.is_ascii() {
                vec![c.to_string()]
            } else {
                let mut units = [0u16; 2];
                c.encode_utf16(&mut units)
                    .iter()
                    .map(|u| format!("\\u{u:04x}"))
                    .collect()
            }
        })
        .collect();
    vec![
        sent.to_string(),
        json,
        ascii_json,
        format!("{sent:?}"),
        STANDARD.encode(sent),
        URL_SAFE.encode(sent),
        STANDARD_NO_PAD.encode(sent),
        hex::encode(sent),
        hex::encode(sent).to_ascii_uppercase(),
        url::form_urlencoded::byte_serialize(sent.as_bytes()).collect(),
        sent.bytes().map(|b| format!("%{b:02X}")).collect(),
    ]
}

fn forms(value: &str) -> Vec<String> {
    vec![
        value.to_string(),
        STANDARD_NO_PAD.encode(value),
        URL_SAFE_NO_PAD.encode(value),
        hex::encode(value),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_secret_survives_substitute_then_redact(
        value in "[ -~\u{e9}\u{fc}\u{2603}\u{1F600}]{8,40}",
        before in "[ -~\u{e9}]{0,20}",
        after in "[ -~]{0,20}",
    ) {
        let s = set(&value);
        let sent = s.substitute(&format!("{before}{{{{secret:S}}}}{after}"));
        prop_assert!(sent.contains(&value));
        for echo in echoes(&sent) {
            let out = s.redact(&echo);
            for form in forms(&value) {
                prop_assert!(!out.contains(&form), "{form:?} survived in {out:?} (echo {echo:?})");
            }
            let bytes = s.redact_bytes(echo.as_bytes());
            prop_assert!(!bytes.windows(value.len()).any(|w| w == value.as_bytes()));
        }
    }
}
