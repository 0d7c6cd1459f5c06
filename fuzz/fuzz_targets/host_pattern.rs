//! Outbound host patterns (`--allow-host`, describe's `outbound_hosts`): parse or refuse
//! cleanly; a parsed pattern re-parses from its own text to the same pattern, and never
//! lets a host-name or wildcard pattern match a special address.
#![no_main]
use libfuzzer_sys::fuzz_target;
use runproof_host::HostPattern;
use runproof_host::policy::NormalHost;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = HostPattern::parse(text) else {
        return;
    };
    let again = HostPattern::parse(p.as_str()).expect("a parsed pattern re-parses");
    assert_eq!(again.as_str(), p.as_str());
    let loopback = NormalHost::Ip("127.0.0.1".parse().unwrap());
    for scheme in ["http", "https"] {
        for port in [80, 443, 8080] {
            let _ = p.matches(scheme, &loopback, port);
        }
    }
});
