//! URLs and IP literals as the outbound policy sees them: a URL that names a special
//! address in any spelling is never allowed by a wildcard or host-name grant.
#![no_main]
use libfuzzer_sys::fuzz_target;
use runproof_host::policy::{NormalHost, canonical_ip, special_kind};
use runproof_host::{HostPattern, OutboundPolicy};

fuzz_target!(|data: &[u8]| {
    if data.len() == 4 || data.len() == 16 {
        let ip: std::net::IpAddr = if data.len() == 4 {
            <[u8; 4]>::try_from(data).unwrap().into()
        } else {
            <[u8; 16]>::try_from(data).unwrap().into()
        };
        let canon = canonical_ip(ip);
        assert_eq!(canonical_ip(canon), canon, "canonical form is stable");
        let _ = special_kind(ip);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(url) = url::Url::parse(text) else {
        return;
    };
    let _ = NormalHost::from_url(&url);
    let _ = OutboundPolicy::destination(&url);
    let wide = OutboundPolicy {
        granted: ["http://*:*", "https://*:*", "http://*.example.com:*"]
            .iter()
            .map(|p| HostPattern::parse(p).unwrap())
            .collect(),
        requested: ["http://*:*", "https://*:*"]
            .iter()
            .map(|p| HostPattern::parse(p).unwrap())
            .collect(),
    };
    if let Ok(dest) = wide.check(&url)
        && let NormalHost::Ip(ip) = &dest.host
    {
        assert!(
            special_kind(*ip).is_none(),
            "a wildcard grant allowed the special address {ip} ({text})"
        );
    }
});
