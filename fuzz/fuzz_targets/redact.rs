//! Substitute, then echo back in any common encoding, then redact: no secret value
//! survives. Input: the value (up to the first NUL, 8 to 512 bytes of UTF-8), then a
//! template in which `{{secret:S}}` is the placeholder.
#![no_main]
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use libfuzzer_sys::fuzz_target;
use runproof_host::{Secret, SecretSet};
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    static SETS: RefCell<HashMap<String, SecretSet>> = RefCell::new(HashMap::new());
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |b| *b == 0);
    let (Some(value), Some(template)) = (parts.next(), parts.next()) else {
        return;
    };
    let (Ok(value), Ok(template)) = (std::str::from_utf8(value), std::str::from_utf8(template))
    else {
        return;
    };
    // Values of 8 to 512 bytes: real secrets (tokens, keys) are in that range, and the
    // automaton is built per input from ~20 encodings of the value, so a 16 KiB value
    // made each execution cost milliseconds without reaching any other code.
    if value.len() < 8 || value.len() > 512 {
        return;
    }
    // The automata of a value are built once and kept (a bounded cache): building them is
    // deterministic and most of an execution's time, and libFuzzer's mutations often keep
    // the value and change the template. Every input still runs the whole
    // substitute-echo-redact property.
    let set = SETS.with_borrow_mut(|sets| {
        if sets.len() >= 4096 {
            sets.clear();
        }
        sets.entry(value.to_string())
            .or_insert_with(|| {
                SecretSet::new(vec![Secret {
                    name: "S".into(),
                    value: value.to_string(),
                    allowed_hosts: vec![],
                }])
            })
            .clone()
    });
    let sent = set.substitute(&format!("{template}{{{{secret:S}}}}"));
    let json = serde_json::to_string(&sent).unwrap();
    let echoes = [
        sent.clone(),
        json,
        STANDARD.encode(&sent),
        URL_SAFE.encode(&sent),
        hex::encode(&sent),
        url::form_urlencoded::byte_serialize(sent.as_bytes()).collect(),
    ];
    for echo in echoes {
        let out = set.redact(&echo);
        assert!(!out.contains(value), "the value survived in {out:?}");
        for enc in [
            STANDARD.encode(value),
            URL_SAFE.encode(value),
            hex::encode(value),
        ] {
            assert!(!out.contains(&enc), "an encoding survived in {out:?}");
        }
    }
});
