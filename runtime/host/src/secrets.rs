//! Tenant secrets at the boundary: a skill writes `{{secret:NAME}}` in a request's URL
//! (path or query), a header value or the body; the host puts the value in only on the way
//! out, only to hosts that secret is granted for, and takes it back out (`[REDACTED:NAME]`)
//! of everything that comes back before the skill or the trace sees it.
//!
//! The runner loads the effective set once per run (declared by the skill ∩ granted to the
//! agent ∩ stored for the tenant) and hands it over as a [`SecretSet`]; this crate never
//! touches the database or the key.

use crate::policy::{Destination, HostPattern};
use std::fmt;

/// The placeholder's opening; the name runs to the next `}}`.
pub const PLACEHOLDER_OPEN: &str = "{{secret:";
const PLACEHOLDER_CLOSE: &str = "}}";

/// Whether `name` is a valid secret name: 1..=64 of `A-Z a-z 0-9 _ - .`. Kept narrow so a
/// name can never contain the placeholder's own delimiters.
pub fn valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// One secret as the host needs it. `Debug` never shows the value.
#[derive(Clone)]
pub struct Secret {
    pub name: String,
    pub value: String,
    /// Where the value may be sent (the same pattern syntax as outbound grants).
    pub allowed_hosts: Vec<HostPattern>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("name", &self.name)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

/// The secrets one invocation may use. Empty by default: any placeholder is then denied.
#[derive(Clone, Default)]
pub struct SecretSet {
    secrets: Vec<Secret>,
    /// Every value in every spelling a server commonly echoes it in (`redact.rs`).
    redactor: Option<crate::redact::Redactor>,
}

impl fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSet")
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl SecretSet {
    /// Secrets with an empty value are dropped: they could be neither sent meaningfully nor
    /// redacted (the CLI refuses to store one).
    pub fn new(mut secrets: Vec<Secret>) -> SecretSet {
        secrets.retain(|s| !s.value.is_empty());
        secrets.sort_by(|a, b| a.name.cmp(&b.name));
        let redactor = crate::redact::Redactor::new(
            secrets.iter().map(|s| (s.name.as_str(), s.value.as_str())),
        );
        SecretSet { secrets, redactor }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The names, sorted (for the trace; never the values).
    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.secrets.iter().map(|s| s.name.clone()).collect();
        n.sort();
        n
    }

    fn get(&self, name: &str) -> Option<&Secret> {
        self.secrets.iter().find(|s| s.name == name)
    }

    /// Checks that every name in `names` is in the set and granted for `dest`; the error is
    /// the denial reason.
    pub fn check_scope(&self, names: &[String], dest: &Destination) -> Result<(), String> {
        for name in names {
            let Some(secret) = self.get(name) else {
                return Err(format!(
                    "secret {name} is not available to this skill (it must be declared in describe, granted to the agent with --allow-secret, and set for the tenant with `runtime secret set`)"
                ));
            };
            if !secret
                .allowed_hosts
                .iter()
                .any(|p| p.matches(&dest.scheme, &dest.host, dest.port))
            {
                return Err(format!("secret {name} is not granted for host {dest}"));
            }
        }
        Ok(())
    }

    /// `text` with every known placeholder replaced by its value (unknown ones are left;
    /// callers check names first with [`placeholder_names`]).
    pub fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(PLACEHOLDER_OPEN) {
            out.push_str(&rest[..start]);
            let after = &rest[start + PLACEHOLDER_OPEN.len()..];
            match after
                .find(PLACEHOLDER_CLOSE)
                .and_then(|end| self.get(&after[..end]).map(|s| (end, s)))
            {
                Some((end, secret)) => {
                    out.push_str(&secret.value);
                    rest = &after[end + PLACEHOLDER_CLOSE.len()..];
                }
                None => {
                    out.push_str(PLACEHOLDER_OPEN);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Bytes with placeholders replaced (a body need not be UTF-8; placeholders are ASCII).
    pub fn substitute_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut pairs: Vec<(Vec<u8>, &[u8])> = Vec::new();
        for s in &self.secrets {
            pairs.push((
                format!("{PLACEHOLDER_OPEN}{}{PLACEHOLDER_CLOSE}", s.name).into_bytes(),
                s.value.as_bytes(),
            ));
        }
        replace_all(bytes, &pairs)
    }

    /// Every value, in every spelling `redact.rs` knows, replaced by `[REDACTED:NAME]`:
    /// what the skill and the trace see of a response (or an error message) that echoes a
    /// secret. One pass over the bytes.
    pub fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match &self.redactor {
            Some(r) => r.redact_bytes(bytes),
            None => bytes.to_vec(),
        }
    }

    /// A response header name: matched ASCII case-insensitively (names arrive lowercased).
    pub fn redact_name(&self, name: &str) -> String {
        match &self.redactor {
            Some(r) => r.redact_name(name),
            None => name.to_string(),
        }
    }

    pub fn redact(&self, text: &str) -> String {
        match &self.redactor {
            Some(r) => r.redact(text),
            None => text.to_string(),
        }
    }
}

/// The names of every `{{secret:NAME}}` in `bytes`, in order of first appearance. A
/// malformed one (no closing `}}`, or an invalid name) is reported as its raw text so the
/// request is denied rather than sent with a literal half-placeholder.
pub fn placeholder_names(bytes: &[u8]) -> Vec<String> {
    let open = PLACEHOLDER_OPEN.as_bytes();
    let mut names: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(pos) = find(&bytes[i..], open) {
        let start = i + pos + open.len();
        let end = find(&bytes[start..], PLACEHOLDER_CLOSE.as_bytes()).map(|e| start + e);
        let name = match end {
            Some(e) => String::from_utf8_lossy(&bytes[start..e]).into_owned(),
            None => {
                String::from_utf8_lossy(&bytes[start..bytes.len().min(start + 64)]).into_owned()
            }
        };
        if !names.contains(&name) {
            names.push(name);
        }
        i = end
            .map(|e| e + PLACEHOLDER_CLOSE.len())
            .unwrap_or(bytes.len());
    }
    names
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Replaces, left to right, the first of `pairs` (in order) that matches at each position.
fn replace_all(bytes: &[u8], pairs: &[(Vec<u8>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    'outer: while i < bytes.len() {
        for (from, to) in pairs {
            if !from.is_empty() && bytes[i..].starts_with(from) {
                out.extend_from_slice(to);
                i += from.len();
                continue 'outer;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{NormalHost, OutboundPolicy};

    fn set() -> SecretSet {
        SecretSet::new(vec![
            Secret {
                name: "TOKEN".into(),
                value: "s3cr3t-v4lue".into(),
                allowed_hosts: vec![HostPattern::parse("http://127.0.0.1:*").unwrap()],
            },
            Secret {
                name: "SHORT".into(),
                value: "s3cr3t".into(),
                allowed_hosts: vec![HostPattern::parse("https://api.example.com").unwrap()],
            },
        ])
    }

    fn dest(u: &str) -> Destination {
        OutboundPolicy::destination(&url::Url::parse(u).unwrap()).unwrap()
    }

    #[test]
    fn names_and_placeholders() {
        assert!(valid_secret_name("API_KEY-1.x"));
        for bad in ["", "a b", "a}}", "{x", &"x".repeat(65)] {
            assert!(!valid_secret_name(bad), "{bad:?}");
        }
        assert_eq!(
            placeholder_names(b"a {{secret:A}} b {{secret:B}}{{secret:A}}"),
            ["A", "B"]
        );
        assert_eq!(placeholder_names(b"{{secret:open"), ["open"]);
        assert!(placeholder_names(b"{{secret :A}} {secret:A}").is_empty());
    }

    #[test]
    fn substitution_and_redaction() {
        let s = set();
        assert_eq!(
            s.substitute("Bearer {{secret:TOKEN}}"),
            "Bearer s3cr3t-v4lue"
        );
        assert_eq!(
            s.substitute("{{secret:NOPE}} {{secret:SHORT}}"),
            "{{secret:NOPE}} s3cr3t"
        );
        assert_eq!(
            s.substitute_bytes(b"\xff{{secret:TOKEN}}"),
            b"\xffs3cr3t-v4lue"
        );
        // The longer value is redacted whole, not as its shorter prefix.
        assert_eq!(
            s.redact("got s3cr3t-v4lue and s3cr3t"),
            "got [REDACTED:TOKEN] and [REDACTED:SHORT]"
        );
        assert_eq!(s.redact_bytes(b"\xffs3cr3t"), b"\xff[REDACTED:SHORT]");
        assert!(
            !format!("{s:?}").contains("s3cr3t"),
            "Debug must not show values"
        );
        // A value the URL parser percent-encodes is redacted in its encoded forms too.
        let odd = SecretSet::new(vec![Secret {
            name: "ODD".into(),
            value: "a b\"c{d}".into(),
            allowed_hosts: vec![],
        }]);
        let sent = url::Url::parse(&odd.substitute("http://h/p/{{secret:ODD}}?q={{secret:ODD}}"))
            .unwrap()
            .to_string();
        assert!(!sent.contains("a b"), "{sent}");
        assert_eq!(
            odd.redact(&sent),
            "http://h/p/[REDACTED:ODD]?q=[REDACTED:ODD]"
        );
        assert_eq!(odd.redact("x=a+b%22c%7Bd%7D"), "x=[REDACTED:ODD]");
        assert_eq!(s.names(), ["SHORT", "TOKEN"]);
    }

    #[test]
    fn scope_is_checked_per_destination() {
        let s = set();
        assert!(
            s.check_scope(&["TOKEN".into()], &dest("http://127.0.0.1:8080/"))
                .is_ok()
        );
        let e = s
            .check_scope(&["TOKEN".into()], &dest("http://10.0.0.1/"))
            .unwrap_err();
        assert_eq!(e, "secret TOKEN is not granted for host http://10.0.0.1:80");
        assert!(
            s.check_scope(&["SHORT".into()], &dest("https://api.example.com/"))
                .is_ok()
        );
        assert!(
            s.check_scope(&["SHORT".into()], &dest("http://api.example.com/"))
                .is_err()
        );
        assert!(
            s.check_scope(&["MISSING".into()], &dest("http://127.0.0.1/"))
                .unwrap_err()
                .contains("not available")
        );
        assert!(matches!(dest("http://127.1/").host, NormalHost::Ip(_)));
    }
}
