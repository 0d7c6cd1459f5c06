//! IP addresses in policy: CIDR ranges, one canonical form per address, and which
//! addresses are special (reachable only when the agent's grant names them by IP or CIDR).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
pub(crate) const METADATA: [IpAddr; 2] = [
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
