//! Outbound HTTP grants: `scheme://host[:port]` patterns, and the special-address rule.
//!
//! - scheme: `http` or `https`, exact.
//! - host, one of:
//!   - an exact name (`api.example.com`), compared case-insensitively, one trailing dot ignored;
//!   - `*` (any host) or `*.example.com` (any name ending in `.example.com`, at any depth, but
//!     not `example.com` itself);
//!   - an IP literal (`127.0.0.1`, `[::1]`), normalized like a request's host, so every
//!     spelling of one address (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`) is one address;
//!   - a CIDR range: `10.0.0.0/8`, `[fd00::/8]` (IPv6 inside brackets).
//! - port: a number, `*` (any port), or omitted (the scheme's default port only).
//!
//! A destination is allowed only if the agent's grant *and* the skill's own request both
//! match it (the intersection); anything else is denied.
//!
//! **Special addresses.** Loopback, private, link-local, unique-local, unspecified, CGNAT,
//! multicast, documentation/benchmark/reserved ranges and the cloud metadata endpoints are
//! reachable only if the *agent's grant* names them by IP literal or CIDR (the cloud metadata
//! addresses: by IP literal only). A `*` host, a `*.suffix` or a host name never grants one:
//! otherwise `http://*:*` or a name that resolves to `127.0.0.1` (DNS is the attacker's)
//! would open the host's own network to every skill. The check runs on the address the host
//! resolved and will connect to, so it also holds against DNS rebinding (see `http.rs`).
//! The skill's own `describe` list is matched with plain patterns: it can only narrow what
//! the operator granted, never widen it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error(
        "host pattern {pattern:?}: {reason} (expected scheme://host[:port], e.g. https://*.example.com, http://127.0.0.1:*, http://10.0.0.0/8:*, https://[fd00::/8]:443)"
    )]
    Invalid {
        pattern: String,
        reason: &'static str,
    },
}

/// A CIDR range, its base address masked to the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    base: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `addr/prefix`; `addr` is canonicalized first (an IPv4-mapped IPv6 range becomes the
    /// IPv4 range it maps, with the prefix reduced by 96).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6)
                if prefix >= 96
                    && canonical_ip(addr).is_ipv4()
                    && v6.to_ipv4_mapped().is_some() =>
            {
                (canonical_ip(addr), prefix - 96)
            }
            _ => (addr, prefix),
        };
        let bits = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > bits {
            return None;
        }
        Some(Cidr {
            base: mask(addr, prefix),
            prefix,
        })
    }

    /// Whether `ip` (canonicalized) is inside the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        match (self.base, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(ip, self.prefix) == self.base
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & m))
        }
        IpAddr::V6(v6) => {
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & m))
        }
    }
}

/// One address, one spelling: an IPv4-mapped (`::ffff:a.b.c.d`) or IPv4-compatible
/// (`::a.b.c.d`) IPv6 address is the IPv4 address it carries. Without this, `[::ffff:7f00:1]`
/// would slip past every IPv4 rule while the kernel connects it to 127.0.0.1.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            // IPv4-compatible (deprecated): ::a.b.c.d, but not :: and ::1 themselves.
            let n = u128::from(v6);
            if n >> 32 == 0 && n > 1 {
                return IpAddr::V4(Ipv4Addr::from(n as u32));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// Cloud metadata endpoints (AWS/GCP/Azure/OpenStack IPv4, AWS IPv6). They hand out
/// credentials to whoever asks from inside the machine, so they need an exact IP grant.
const METADATA: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254)),
];

/// Why `ip` is special (not a public unicast address), or `None` for an ordinary address.
/// Each range is here because reaching it from a skill would reach something other than the
/// public internet: the host itself, the operator's networks, a provider's internal services,
/// or nothing meaningful (so nothing a skill needs without an explicit grant).
pub fn special_kind(ip: IpAddr) -> Option<&'static str> {
    let ip = canonical_ip(ip);
    if METADATA.contains(&ip) {
        return Some("cloud metadata");
    }
    let in4 = |a: u8, b: u8, c: u8, d: u8, p: u8| {
        Cidr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), p).is_some_and(|r| r.contains(ip))
    };
    let in6 = |s: [u16; 8], p: u8| {
        Cidr::new(
            IpAddr::V6(Ipv6Addr::new(
                s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
            )),
            p,
        )
        .is_some_and(|r| r.contains(ip))
    };
    match ip {
        IpAddr::V4(_) => {
            let table: [(u8, u8, u8, u8, u8, &'static str); 15] = [
                (0, 0, 0, 0, 8, "unspecified (\"this network\")"),
                (10, 0, 0, 0, 8, "private (RFC 1918)"),
                (100, 64, 0, 0, 10, "shared CGNAT (RFC 6598)"),
                (127, 0, 0, 0, 8, "loopback"),
                (169, 254, 0, 0, 16, "link-local"),
                (172, 16, 0, 0, 12, "private (RFC 1918)"),
                (192, 0, 0, 0, 24, "IETF protocol assignment"),
                (192, 0, 2, 0, 24, "documentation"),
                (192, 88, 99, 0, 24, "6to4 relay anycast"),
                (192, 168, 0, 0, 16, "private (RFC 1918)"),
                (198, 18, 0, 0, 15, "benchmarking"),
                (198, 51, 100, 0, 24, "documentation"),
                (203, 0, 113, 0, 24, "documentation"),
                (224, 0, 0, 0, 4, "multicast"),
                (240, 0, 0, 0, 4, "reserved or broadcast"),
            ];
            table
                .iter()
                .find(|(a, b, c, d, p, _)| in4(*a, *b, *c, *d, *p))
                .map(|t| t.5)
        }
        IpAddr::V6(_) => {
            let table: [([u16; 8], u8, &'static str); 15] = [
                ([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified"),
                ([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
                // IPv4-translated (SIIT, ::ffff:0:a.b.c.d): another way to write an IPv4 address.
                (
                    [0, 0, 0, 0, 0xffff, 0, 0, 0],
                    96,
                    "IPv4-translated (embeds an IPv4 address)",
                ),
                // Translated to IPv4 by a gateway: could reach any IPv4 address, private too.
                (
                    [0x64, 0xff9b, 0, 0, 0, 0, 0, 0],
                    96,
                    "NAT64 (embeds an IPv4 address)",
                ),
                (
                    [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
                    48,
                    "local NAT64 (embeds an IPv4 address)",
                ),
                ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
                // Includes Teredo (2001::/32), which tunnels to an embedded IPv4 address.
                (
                    [0x2001, 0, 0, 0, 0, 0, 0, 0],
                    23,
                    "IETF protocol assignment (incl. Teredo)",
                ),
                ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
                (
                    [0x2002, 0, 0, 0, 0, 0, 0, 0],
                    16,
                    "6to4 (embeds an IPv4 address)",
                ),
                ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
                ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "segment routing (SRv6)"),
                ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique-local"),
                ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
                ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
                ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
            ];
            table.iter().find(|(s, p, _)| in6(*s, *p)).map(|t| t.2)
        }
    }
}

/// A request's host, normalized: a lower-case name without a trailing dot, or a canonical IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NormalHost {
    Name(String),
    Ip(IpAddr),
}

impl NormalHost {
    /// From a parsed URL. The `url` crate implements the WHATWG host parser, which already
    /// turns every IPv4 spelling of an http(s) URL (`2130706433`, `0177.0.0.1`, `0x7f.1`,
    /// `127.1`, trailing dot, any case) into one `Ipv4`; we add the IPv6 → IPv4 unmapping and
    /// drop a name's trailing dot (`example.com.` is `example.com` to DNS).
    pub fn from_url(url: &url::Url) -> Option<NormalHost> {
        Some(match url.host()? {
            url::Host::Ipv4(ip) => NormalHost::Ip(canonical_ip(IpAddr::V4(ip))),
            url::Host::Ipv6(ip) => NormalHost::Ip(canonical_ip(IpAddr::V6(ip))),
            url::Host::Domain(d) => {
                let d = d.to_ascii_lowercase();
                let d = d.strip_suffix('.').unwrap_or(&d);
                // Belt and braces: a domain that is an IP literal after all is that IP.
                match d.parse::<IpAddr>() {
                    Ok(ip) => NormalHost::Ip(canonical_ip(ip)),
                    Err(_) => NormalHost::Name(d.to_string()),
                }
            }
        })
    }

    /// Normalizes a host as written in a pattern or URL authority, with the same parser as
    /// requests use.
    fn parse(host: &str) -> Option<NormalHost> {
        let url = url::Url::parse(&format!("http://{host}/")).ok()?;
        if url.host_str().is_none() || url.port().is_some() || url.path() != "/" {
            return None;
        }
        NormalHost::from_url(&url)
    }
}

impl fmt::Display for NormalHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NormalHost::Name(n) => f.write_str(n),
            NormalHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            NormalHost::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Name(String),
    Suffix(String), // ".example.com"
    Ip(IpAddr),
    Cidr(Cidr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortMatch {
    Any,
    Exact(u16),
}

/// One parsed grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    source: String,
    scheme: String,
    host: HostMatch,
    port: PortMatch,
}

impl HostPattern {
    pub fn parse(pattern: &str) -> Result<Self, PolicyError> {
        let bad = |reason| PolicyError::Invalid {
            pattern: pattern.to_string(),
            reason,
        };
        let (scheme, rest) = pattern
            .split_once("://")
            .ok_or_else(|| bad("missing scheme://"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(bad("scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['?', '#', '@', '\\'])
            || rest.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad(
                "a pattern names a host and port only, no path, query or user",
            ));
        }
        let (host, port) = split_host_port(rest).ok_or_else(|| bad("malformed host or port"))?;
        let port = match port {
            None => PortMatch::Exact(default_port),
            Some("*") => PortMatch::Any,
            Some(p) => PortMatch::Exact(p.parse().map_err(|_| bad("port must be a number or *"))?),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some((addr, prefix)) = host.split_once('/') {
            // CIDR: only an IP literal may carry a prefix (anything else is a path).
            let ip = match NormalHost::parse(&bracket_v6(addr)) {
                Some(NormalHost::Ip(_)) => addr
                    .parse::<IpAddr>()
                    .map_err(|_| bad("a CIDR range needs a plain IP address before the /"))?,
                _ => {
                    return Err(bad(
                        "a pattern names a host and port only, no path (a CIDR range is an IP address/prefix)",
                    ));
                }
            };
            let prefix: u8 = prefix
                .parse()
                .map_err(|_| bad("a CIDR prefix must be a number"))?;
            HostMatch::Cidr(
                Cidr::new(ip, prefix).ok_or_else(|| bad("CIDR prefix too long for the address"))?,
            )
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(bad(
                    "a wildcard may only be the first label (*.example.com)",
                ));
            }
            if NormalHost::parse(suffix).is_none() {
                return Err(bad("malformed host name"));
            }
            HostMatch::Suffix(format!(".{}", suffix.strip_suffix('.').unwrap_or(suffix)))
        } else if host.is_empty() || host.contains('*') {
            return Err(bad(
                "a wildcard may only be the first label (*.example.com)",
            ));
        } else {
            match NormalHost::parse(&bracket_v6(&host)) {
                Some(NormalHost::Ip(ip)) => HostMatch::Ip(ip),
                Some(NormalHost::Name(n)) => HostMatch::Name(n),
                None => return Err(bad("malformed host name")),
            }
        };
        Ok(HostPattern {
            source: pattern.to_string(),
            scheme,
            host,
            port,
        })
    }

    fn scheme_port_match(&self, scheme: &str, port: u16) -> bool {
        self.scheme == scheme
            && match self.port {
                PortMatch::Any => true,
                PortMatch::Exact(p) => p == port,
            }
    }

    /// Whether this pattern allows `scheme://host:port` by plain pattern matching.
    pub fn matches(&self, scheme: &str, host: &NormalHost, port: u16) -> bool {
        self.scheme_port_match(scheme, port)
            && match (&self.host, host) {
                (HostMatch::Any, _) => true,
                (HostMatch::Name(n), NormalHost::Name(h)) => n == h,
                (HostMatch::Suffix(s), NormalHost::Name(h)) => {
                    h.len() > s.len() && h.ends_with(s.as_str())
                }
                (HostMatch::Ip(p), NormalHost::Ip(ip)) => p == ip,
                (HostMatch::Cidr(c), NormalHost::Ip(ip)) => c.contains(*ip),
                _ => false,
            }
    }

    /// Whether this pattern names `ip` explicitly, as the special-address rule requires: an
    /// IP literal equal to it or, except for cloud metadata, a CIDR range containing it.
    fn names_explicitly(&self, scheme: &str, ip: IpAddr, port: u16) -> bool {
        self.scheme_port_match(scheme, port)
            && match &self.host {
                HostMatch::Ip(p) => *p == ip,
                // A range such as 169.254.0.0/16 or 0.0.0.0/0 is about networks; the
                // credential-handing metadata endpoint must be named on its own.
                HostMatch::Cidr(c) => c.contains(ip) && !METADATA.contains(&ip),
                _ => false,
            }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// `fd00::` → `[fd00::]` so the URL host parser reads it as IPv6.
fn bracket_v6(h: &str) -> String {
    if h.contains(':') && !h.starts_with('[') {
        format!("[{h}]")
    } else {
        h.to_string()
    }
}

fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        // [v6]:port or [v6/prefix]:port
        let (h, after) = rest.split_once(']')?;
        return match after {
            "" => Some((h, None)),
            p => Some((h, Some(p.strip_prefix(':')?))),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h, Some(p))),
        Some(_) => None,
        None => Some((s, None)),
    }
}

/// A request's destination after the first policy check: scheme, normalized host, port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub scheme: String,
    pub host: NormalHost,
    pub port: u16,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// What one invocation may reach: both lists must match a destination.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// The operator's grant for the agent.
    pub granted: Vec<HostPattern>,
    /// What the skill asked for in `describe`.
    pub requested: Vec<HostPattern>,
}

impl OutboundPolicy {
    /// Deny everything.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// The destination of `url`, normalized.
    pub fn destination(url: &url::Url) -> Result<Destination, String> {
        let scheme = url.scheme().to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "scheme {scheme:?} is not allowed (only http and https)"
            ));
        }
        let host = NormalHost::from_url(url).ok_or_else(|| format!("{url} has no host"))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("{url} has no port"))?;
        Ok(Destination { scheme, host, port })
    }

    /// First check, before any DNS lookup: `Ok(destination)` if `url` may be called by
    /// pattern (and, for an IP literal, by the special-address rule too), else the reason
    /// it may not, naming the fix.
    pub fn check(&self, url: &url::Url) -> Result<Destination, String> {
        let dest = Self::destination(url)?;
        if !self
            .granted
            .iter()
            .any(|p| p.matches(&dest.scheme, &dest.host, dest.port))
        {
            return Err(format!(
                "{dest} is not granted to this agent (grant it with `runtime agent create --allow-host PATTERN`)"
            ));
        }
        if !self
            .requested
            .iter()
            .any(|p| p.matches(&dest.scheme, &dest.host, dest.port))
        {
            return Err(format!(
                "{dest} is outside the outbound hosts the skill declares in describe"
            ));
        }
        if let NormalHost::Ip(ip) = dest.host {
            self.check_address(&dest, ip)?;
        }
        Ok(dest)
    }

    /// Second check, on every address the host resolved for `dest` (and will connect to):
    /// a special address needs a grant that names it explicitly.
    pub fn check_address(&self, dest: &Destination, ip: IpAddr) -> Result<(), String> {
        let ip = canonical_ip(ip);
        let Some(kind) = special_kind(ip) else {
            return Ok(());
        };
        if self
            .granted
            .iter()
            .any(|p| p.names_explicitly(&dest.scheme, ip, dest.port))
        {
            return Ok(());
        }
        let shown = NormalHost::Ip(ip);
        let via = if dest.host == shown {
            String::new()
        } else {
            format!(" ({} resolves to it)", dest.host)
        };
        let how = if METADATA.contains(&ip) {
            "by its exact IP"
        } else {
            "by IP or CIDR"
        };
        Err(format!(
            "{shown} is a {kind} address{via}; it is reachable only with a grant naming it {how}, \
             e.g. --allow-host '{}://{shown}:{}' (a wildcard or host name never grants it)",
            dest.scheme, dest.port
        ))
    }
}

#[cfg(test)]
mod tests {
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
}
