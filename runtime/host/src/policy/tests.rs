//! Every pattern form, every special range and the grant ∩ request rule.

use super::*;

fn p(s: &str) -> HostPattern {
    HostPattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn name(s: &str) -> NormalHost {
    NormalHost::Name(s.into())
}

fn ip(s: &str) -> NormalHost {
    NormalHost::Ip(s.parse().unwrap())
}

fn url(s: &str) -> url::Url {
    url::Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn exact_wildcard_and_ports() {
    let cases: &[(&str, &str, NormalHost, u16, bool)] = &[
        ("http://127.0.0.1:*", "http", ip("127.0.0.1"), 8080, true),
        ("http://127.0.0.1:*", "https", ip("127.0.0.1"), 8080, false),
        (
            "https://*.example.com",
            "https",
            name("a.b.example.com"),
            443,
            true,
        ),
        (
            "https://*.example.com",
            "https",
            name("example.com"),
            443,
            false,
        ),
        (
            "https://*.example.com",
            "https",
            name("evilexample.com"),
            443,
            false,
        ),
        (
            "https://*.example.com",
            "https",
            name("a.example.com"),
            8443,
            false,
        ),
        (
            "https://*.example.com",
            "https",
            ip("93.184.216.34"),
            443,
            false,
        ),
        (
            "http://localhost:8080",
            "http",
            name("localhost"),
            8080,
            true,
        ),
        (
            "http://localhost:8080",
            "http",
            ip("127.0.0.1"),
            8080,
            false,
        ),
        ("http://[::1]:*", "http", ip("::1"), 1, true),
        (
            "HTTP://API.Example.com",
            "http",
            name("api.example.com"),
            80,
            true,
        ),
        (
            "http://api.example.com.",
            "http",
            name("api.example.com"),
            80,
            true,
        ),
        ("http://*:*", "http", ip("10.1.2.3"), 1, true),
        // IP spellings in patterns are normalized like requests.
        ("http://2130706433:*", "http", ip("127.0.0.1"), 1, true),
        ("http://0x7f.1:*", "http", ip("127.0.0.1"), 1, true),
        (
            "http://[::ffff:127.0.0.1]:*",
            "http",
            ip("127.0.0.1"),
            1,
            true,
        ),
        // CIDR ranges.
        ("http://10.0.0.0/8:*", "http", ip("10.200.3.4"), 9, true),
        ("http://10.0.0.0/8:*", "http", ip("11.0.0.1"), 9, false),
        ("http://10.0.0.0/8:*", "http", name("ten.example"), 9, false),
        ("http://10.1.2.3/8:*", "http", ip("10.9.9.9"), 9, true),
        ("https://[fd00::/8]:443", "https", ip("fd12::1"), 443, true),
        ("https://[fd00::/8]:443", "https", ip("fe80::1"), 443, false),
        ("https://[fd00::/8]:443", "https", ip("fd12::1"), 80, false),
        (
            "http://[::ffff:10.0.0.0/104]:*",
            "http",
            ip("10.3.3.3"),
            1,
            true,
        ),
        ("http://0.0.0.0/0:*", "http", ip("8.8.8.8"), 1, true),
        ("http://0.0.0.0/0:*", "http", ip("::1"), 1, false),
        ("http://192.168.1.7/32", "http", ip("192.168.1.7"), 80, true),
        (
            "http://192.168.1.7/32",
            "http",
            ip("192.168.1.8"),
            80,
            false,
        ),
    ];
    for (pattern, scheme, host, port, want) in cases {
        assert_eq!(
            p(pattern).matches(scheme, host, *port),
            *want,
            "{pattern} vs {scheme}://{host}:{port}"
        );
    }
}

#[test]
fn malformed_patterns_are_rejected() {
    for bad in [
        "example.com",
        "ftp://x",
        "http://",
        "http://a.*.com",
        "http://x:port",
        "http://x/path",
        "http://u@x",
        "http://example.com/8",
        "http://10.0.0.0/33",
        "http://10.0.0.0/x",
        "https://[fd00::/129]:443",
        "http://x y",
        "http://*.",
    ] {
        assert!(HostPattern::parse(bad).is_err(), "{bad} should be rejected");
    }
}

#[test]
fn every_ip_spelling_normalizes() {
    let cases = [
        ("http://127.0.0.1/", "127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://0X7F.0.0.1/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://127.0.1/", "127.0.0.1"),
        ("http://127.0.0.1./", "127.0.0.1"),
        ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),
        ("http://[::ffff:7f00:1]/", "127.0.0.1"),
        ("http://[::127.0.0.1]/", "127.0.0.1"),
        ("http://[0:0:0:0:0:FFFF:A9FE:A9FE]/", "169.254.169.254"),
        ("http://0251.0376.0251.0376/", "169.254.169.254"),
        ("http://2852039166/", "169.254.169.254"),
        ("http://167772161/", "10.0.0.1"),
        ("http://012.0.0.1/", "10.0.0.1"),
        ("http://0/", "0.0.0.0"),
        ("http://[::1]/", "::1"),
        ("http://[FD00:EC2::254]/", "fd00:ec2::254"),
    ];
    for (u, want) in cases {
        assert_eq!(NormalHost::from_url(&url(u)), Some(ip(want)), "{u}");
    }
    assert_eq!(
        NormalHost::from_url(&url("http://LocalHost./")),
        Some(name("localhost"))
    );
}

#[test]
fn special_addresses_are_classified() {
    let special = [
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "169.254.1.1",
        "0.0.0.0",
        "100.64.0.1",
        "198.18.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "::ffff:0:7f00:1",
        "2002:7f00:1::",
        "2001:db8::1",
    ];
    for s in special {
        assert!(
            special_kind(s.parse().unwrap()).is_some(),
            "{s} should be special"
        );
    }
    for s in [
        "8.8.8.8",
        "93.184.216.34",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
    ] {
        assert_eq!(
            special_kind(s.parse().unwrap()),
            None,
            "{s} should be ordinary"
        );
    }
    assert_eq!(
        special_kind("169.254.169.254".parse().unwrap()),
        Some("cloud metadata")
    );
    assert_eq!(
        special_kind("fd00:ec2::254".parse().unwrap()),
        Some("cloud metadata")
    );
}

fn policy(granted: &[&str]) -> OutboundPolicy {
    OutboundPolicy {
        granted: granted.iter().map(|s| p(s)).collect(),
        requested: vec![p("http://*:*"), p("https://*:*")],
    }
}

#[test]
fn special_addresses_need_an_explicit_grant() {
    // (grant, url, allowed)
    let cases: &[(&[&str], &str, bool)] = &[
        (&["http://*:*"], "http://127.0.0.1:8080/", false),
        (
            &["http://*:*"],
            "http://169.254.169.254/latest/meta-data/",
            false,
        ),
        (&["http://*:*"], "http://2130706433/", false),
        (&["http://*:*"], "http://0177.0.0.1/", false),
        (&["http://*:*"], "http://0x7f.1/", false),
        (&["http://*:*"], "http://127.1/", false),
        (&["http://*:*"], "http://[::ffff:127.0.0.1]/", false),
        (&["http://*:*"], "http://[::ffff:7f00:1]/", false),
        (&["http://*:*"], "http://167772161/", false),
        (&["http://*:*"], "http://[::1]/", false),
        (&["http://*:*"], "http://[fd00:ec2::254]/", false),
        (&["http://*:*"], "http://0.0.0.0/", false),
        (&["http://*:*"], "http://8.8.8.8/", true),
        (&["http://127.0.0.1:*"], "http://127.0.0.1:8080/", true),
        (&["http://127.0.0.1:*"], "http://2130706433:8080/", true),
        (
            &["http://127.0.0.1:*"],
            "http://[::ffff:127.0.0.1]:8080/",
            true,
        ),
        (&["http://127.0.0.1:8080"], "http://127.0.0.1:8081/", false),
        (&["https://127.0.0.1:*"], "http://127.0.0.1:8080/", false),
        (&["http://10.0.0.0/8:*"], "http://10.1.2.3/", true),
        (&["http://10.0.0.0/8:*"], "http://012.1.2.3/", true),
        (&["http://10.0.0.0/8:*"], "http://192.168.0.1/", false),
        // Metadata: a range does not grant it, only its exact IP.
        (
            &["http://169.254.0.0/16:*"],
            "http://169.254.169.254/",
            false,
        ),
        (&["http://169.254.0.0/16:*"], "http://169.254.1.1/", true),
        (&["http://0.0.0.0/0:*"], "http://169.254.169.254/", false),
        (&["http://169.254.169.254"], "http://169.254.169.254/", true),
        (&["http://[fd00::/8]:*"], "http://[fd00:ec2::254]/", false),
        (&["http://[fd00::/8]:*"], "http://[fd00::1]/", true),
    ];
    for (granted, u, want) in cases {
        let got = policy(granted).check(&url(u));
        assert_eq!(got.is_ok(), *want, "grant {granted:?}, {u}: {got:?}");
    }
    let err = policy(&["http://*:*"])
        .check(&url("http://0x7f.1:9/"))
        .unwrap_err();
    assert!(err.contains("127.0.0.1 is a loopback address"), "{err}");
}

#[test]
fn resolved_addresses_are_checked_against_explicit_grants() {
    let pol = policy(&["http://*:*"]);
    let dest = pol.check(&url("http://localhost:9/")).unwrap();
    let err = pol
        .check_address(&dest, "127.0.0.1".parse().unwrap())
        .unwrap_err();
    assert!(err.contains("localhost resolves to it"), "{err}");
    assert!(
        pol.check_address(&dest, "::ffff:10.0.0.1".parse().unwrap())
            .is_err()
    );
    assert!(
        pol.check_address(&dest, "93.184.216.34".parse().unwrap())
            .is_ok()
    );
    // Named explicitly: a name that resolves to it may use it.
    let pol = policy(&["http://*:*", "http://127.0.0.1:*"]);
    assert!(
        pol.check_address(&dest, "127.0.0.1".parse().unwrap())
            .is_ok()
    );
    // A host-name grant alone never grants the special address it resolves to.
    let pol = policy(&["http://localhost:*"]);
    let dest = pol.check(&url("http://localhost:9/")).unwrap();
    assert!(
        pol.check_address(&dest, "127.0.0.1".parse().unwrap())
            .is_err()
    );
}

#[test]
fn policy_is_the_intersection_and_denies_by_default() {
    let u = url("http://127.0.0.1:9000/x");
    assert!(OutboundPolicy::deny_all().check(&u).is_err());
    let only_agent = OutboundPolicy {
        granted: vec![p("http://127.0.0.1:*")],
        requested: vec![],
    };
    assert!(only_agent.check(&u).unwrap_err().contains("declares"));
    let both = OutboundPolicy {
        granted: vec![p("http://127.0.0.1:*")],
        requested: vec![p("http://*:*")],
    };
    assert!(both.check(&u).is_ok());
    let other = url("http://10.0.0.1:9000/");
    assert!(both.check(&other).unwrap_err().contains("not granted"));
}
