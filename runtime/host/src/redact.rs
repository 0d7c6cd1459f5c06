//! Redaction of secret values from everything that comes back to a skill or goes into the
//! trace: response header names and values, the body, the hops (redirect `Location`s) and
//! every error message.
//!
//! A server that echoes a value rarely echoes it verbatim only. Each value is searched for
//! in the spellings a server or a client library commonly gives it:
//! - as is, and Rust-`Debug`-escaped (how an error message quotes it);
//! - percent-encoded: as the URL parser encodes it in a path, a query or a form, with only
//!   RFC 3986's unreserved characters left, and with every byte encoded (hex digits upper
//!   and lower case);
//! - JSON string escaping: minimal (serde_json, Go), `\uXXXX` for everything non-ASCII
//!   (Python's `ensure_ascii`, upper and lower case hex), each also with `/` as `\/` (PHP);
//! - base64, standard and URL-safe alphabets, at each of the three byte alignments a value
//!   can have inside a longer encoded string (`Basic base64(user:value)`), padding or not;
//! - hex, lower and upper case.
//!
//! All spellings of all values go into one Aho-Corasick automaton (leftmost-longest), so a
//! response is redacted in one pass, and a value that contains another is replaced whole.
//! Encoded spellings shorter than [`MIN_ENCODED_LEN`] are left out (they would match
//! ordinary text); the value itself is always searched for.
//!
//! Not caught: any other transformation (case changes, reversal, encryption, a value split
//! across fields). Grant secrets only to hosts trusted with them.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// Shortest encoded spelling searched for.
pub const MIN_ENCODED_LEN: usize = 4;

/// The spellings of one value (the value first), deduplicated.
pub fn spellings(value: &str) -> Vec<Vec<u8>> {
    let mut forms: Vec<Vec<u8>> = Vec::new();
    let mut add = |f: Vec<u8>| {
        if !f.is_empty() && !forms.contains(&f) {
            forms.push(f);
        }
    };
    add(value.as_bytes().to_vec());
    let bytes = value.as_bytes();
    let mut encoded: Vec<Vec<u8>> = Vec::new();
    let debug = format!("{value:?}");
    encoded.push(debug.as_bytes()[1..debug.len() - 1].to_vec());
    // What the URL parser sends (and what a `Location` echoes back).
    if let Ok(u) = url::Url::parse(&format!("http://x/{value}")) {
        encoded.push(u.path().trim_start_matches('/').as_bytes().to_vec());
    }
    if let Ok(u) = url::Url::parse(&format!("http://x/?{value}")) {
        encoded.push(u.query().unwrap_or_default().as_bytes().to_vec());
    }
    encoded.push(
        url::form_urlencoded::byte_serialize(bytes)
            .collect::<String>()
            .into_bytes(),
    );
    for upper in [true, false] {
        encoded.push(percent(bytes, upper, |b| {
            b.is_ascii_alphanumeric() || b"-._~".contains(&b)
        }));
        encoded.push(percent(bytes, upper, |_| false));
        encoded.push(hex_of(bytes, upper));
    }
    for json in json_spellings(value) {
        encoded.push(json);
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for core in base64_cores(bytes, engine) {
            encoded.push(core);
        }
    }
    for f in encoded {
        if f.len() >= MIN_ENCODED_LEN {
            add(f);
        }
    }
    forms
}

fn percent(bytes: &[u8], upper: bool, keep: impl Fn(u8) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if keep(b) {
            out.push(b);
        } else if upper {
            out.extend(format!("%{b:02X}").as_bytes());
        } else {
            out.extend(format!("%{b:02x}").as_bytes());
        }
    }
    out
}

fn hex_of(bytes: &[u8], upper: bool) -> Vec<u8> {
    let h = hex::encode(bytes);
    if upper {
        h.to_ascii_uppercase().into_bytes()
    } else {
        h.into_bytes()
    }
}

/// The value as the inside of a JSON string, in the escapings servers commonly use.
fn json_spellings(value: &str) -> Vec<Vec<u8>> {
    let minimal = serde_json::to_string(value).unwrap_or_default();
    let minimal = minimal[1..minimal.len().max(2) - 1].to_string();
    let mut ascii_lower = String::new();
    let mut ascii_upper = String::new();
    for c in minimal.chars() {
        if c.is_ascii() {
            ascii_lower.push(c);
            ascii_upper.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                ascii_lower.push_str(&format!("\\u{u:04x}"));
                ascii_upper.push_str(&format!("\\u{u:04X}"));
            }
        }
    }
    let mut out = Vec::new();
    for s in [minimal, ascii_lower, ascii_upper] {
        out.push(s.replace('/', "\\/").into_bytes());
        out.push(s.into_bytes());
    }
    out
}

/// The base64 characters that depend only on the value's bytes, for each of the three
/// offsets (mod 3) the value can start at inside a longer encoded input. A standalone
/// encoding of the value contains the offset-0 core, so it is caught too.
fn base64_cores(bytes: &[u8], engine: &base64::engine::GeneralPurpose) -> Vec<Vec<u8>> {
    let n = bytes.len();
    (0..3usize)
        .filter_map(|offset| {
            let mut input = vec![0u8; offset];
            input.extend_from_slice(bytes);
            let enc = engine.encode(&input);
            let start = (8 * offset).div_ceil(6);
            let end = (8 * (offset + n)) / 6;
            (end > start).then(|| enc.as_bytes()[start..end].to_vec())
        })
        .collect()
}

/// Finds every spelling of every value in one pass and replaces it with its
/// `[REDACTED:NAME]` marker.
#[derive(Clone)]
pub struct Redactor {
    automaton: AhoCorasick,
    /// The same spellings, ASCII case-insensitive: for header names, which HTTP treats
    /// (and hyper delivers) case-insensitively, so `x-echo-<value>` arrives lowercased.
    names: AhoCorasick,
    markers: Vec<Vec<u8>>,
}

impl Redactor {
    /// `secrets`: (name, value) pairs; empty values are skipped. `None` when there is
    /// nothing to redact.
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Redactor> {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut markers: Vec<Vec<u8>> = Vec::new();
        for (name, value) in secrets {
            if value.is_empty() {
                continue;
            }
            let marker = format!("[REDACTED:{name}]").into_bytes();
            for form in spellings(value) {
                if !patterns.contains(&form) {
                    patterns.push(form);
                    markers.push(marker.clone());
                }
            }
        }
        if patterns.is_empty() {
            return None;
        }
        // A contiguous NFA, not the DFA the builder picks for a few patterns: the
        // automata are built for every invocation that has secrets, a DFA over a value's
        // ~20 spellings took milliseconds to build, and the NFA searches the few KiB of a
        // typical response about as fast.
        let build = |case_insensitive: bool| {
            AhoCorasickBuilder::new()
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .match_kind(MatchKind::LeftmostLongest)
                .ascii_case_insensitive(case_insensitive)
                .build(&patterns)
                .ok()
        };
        let automaton = build(false)?;
        let names = build(true)?;
        Some(Redactor {
            automaton,
            names,
            markers,
        })
    }

    pub fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let out = self.automaton.replace_all_bytes(bytes, &self.markers);
        settle(&self.automaton, out)
    }

    /// A header name: any ASCII case of any spelling is the value.
    pub fn redact_name(&self, name: &str) -> String {
        let out = self.names.replace_all_bytes(name.as_bytes(), &self.markers);
        let out = settle(&self.names, out);
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Text stays text: whole UTF-8 matches are replaced by ASCII markers.
    pub fn redact(&self, text: &str) -> String {
        let out = self.redact_bytes(text.as_bytes());
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// What a whole field becomes when one pass of replacement was not enough.
const WITHHELD: &[u8] = b"[REDACTED]";

/// One pass replaces every occurrence in the input, but a marker and the text beside it
/// can spell a value anew (a value `]]]]]]]]` after `]`, or one inside the marker, such as
/// `REDACTED`). Such a field is withheld whole, and if even the plain marker would spell a
/// value, emptied: the guarantee is that no spelling survives, whatever the values.
fn settle(automaton: &AhoCorasick, out: Vec<u8>) -> Vec<u8> {
    if !automaton.is_match(&out) {
        out
    } else if !automaton.is_match(WITHHELD) {
        WITHHELD.to_vec()
    } else {
        Vec::new()
    }
}

/// Request headers that carry credentials: dropped when a redirect leaves the origin the
/// request was written for (as browsers and curl do), so a literal credential the skill
/// set reaches only the origin it named.
pub const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

/// Whether `from` and `to` have the same origin (scheme, host, port).
pub fn same_origin(from: &url::Url, to: &url::Url) -> bool {
    from.scheme() == to.scheme()
        && from.host_str() == to.host_str()
        && from.port_or_known_default() == to.port_or_known_default()
}

/// Drops the credential headers from `headers` when `from` → `to` leaves the origin;
/// returns the names dropped.
pub fn strip_on_cross_origin(
    headers: &mut Vec<(String, String)>,
    from: &url::Url,
    to: &url::Url,
) -> Vec<String> {
    if same_origin(from, to) {
        return Vec::new();
    }
    let mut dropped = Vec::new();
    headers.retain(|(k, _)| {
        let credential = CREDENTIAL_HEADERS.iter().any(|c| k.eq_ignore_ascii_case(c));
        if credential {
            dropped.push(k.to_ascii_lowercase());
        }
        !credential
    });
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    const VALUE: &str = "s3cr/t+v\"al é?&=ü~";

    fn redactor() -> Redactor {
        Redactor::new([("TOKEN", VALUE)]).unwrap()
    }

    #[test]
    fn every_common_echo_is_redacted() {
        let r = redactor();
        let json = serde_json::to_string(VALUE).unwrap();
        let echoes = [
            VALUE.to_string(),
            json,
            format!("{VALUE:?}"),
            format!("x-echo-{}", hex::encode(VALUE)),
            hex::encode(VALUE).to_ascii_uppercase(),
            STANDARD.encode(VALUE),
            URL_SAFE.encode(VALUE),
            STANDARD.encode(format!("user:{VALUE}")),
            URL_SAFE.encode(format!("ab{VALUE}cd")),
            format!("Basic {}", STANDARD.encode(format!("u:{VALUE}"))),
            url::form_urlencoded::byte_serialize(VALUE.as_bytes()).collect(),
            percent(VALUE.as_bytes(), false, |_| false)
                .iter()
                .map(|&b| b as char)
                .collect(),
            r#"s3cr\/t+v\"al \u00e9?&=\u00fc~"#.to_string(),
            r#"s3cr/t+v\"al \u00E9?&=\u00FC~"#.to_string(),
        ];
        for echo in echoes {
            let out = r.redact(&format!("before {echo} after"));
            assert!(out.contains("[REDACTED:TOKEN]"), "{echo} -> {out}");
            assert!(!out.contains(VALUE), "{out}");
            assert!(!out.contains(&STANDARD_NO_PAD.encode(VALUE)), "{out}");
            assert!(!out.contains(&hex::encode(VALUE)), "{out}");
        }
        assert_eq!(r.redact("nothing here"), "nothing here");
        let lowered =
            format!("x-echo-{}", hex::encode(VALUE).to_ascii_uppercase()).to_ascii_lowercase();
        assert_eq!(r.redact_name(&lowered), "x-echo-[REDACTED:TOKEN]");
    }

    #[test]
    fn a_value_containing_another_is_redacted_whole() {
        let r = Redactor::new([("SHORT", "s3cr3t"), ("LONG", "s3cr3t-v4lue")]).unwrap();
        assert_eq!(
            r.redact("s3cr3t-v4lue s3cr3t"),
            "[REDACTED:LONG] [REDACTED:SHORT]"
        );
        assert!(Redactor::new([("E", "")]).is_none());
    }

    #[test]
    fn a_marker_never_spells_a_value_anew() {
        // Found by fuzz/redact: one pass left `[REDACTED:S]` + `]]]]]]]`.
        let r = Redactor::new([("S", "]]]]]]]]")]).unwrap();
        assert_eq!(r.redact("]]]]]]]]]]]]]]]"), "[REDACTED]");
        assert_eq!(r.redact("ok ]]]]]]]] ok"), "ok [REDACTED:S] ok");
        // A value inside every marker: nothing of the field is left.
        let r = Redactor::new([("S", "REDACTED")]).unwrap();
        assert_eq!(r.redact("a REDACTED b"), "");
        assert_eq!(r.redact_name("x-redacted"), "");
        assert_eq!(r.redact("clean"), "clean");
    }

    #[test]
    fn credentials_are_dropped_across_origins_only() {
        let a = url::Url::parse("http://a.example/x").unwrap();
        let a2 = url::Url::parse("http://a.example:80/y").unwrap();
        let b = url::Url::parse("http://b.example/").unwrap();
        let s = url::Url::parse("https://a.example/").unwrap();
        let headers = vec![
            ("Authorization".to_string(), "Bearer x".to_string()),
            ("cookie".into(), "c=1".into()),
            ("Proxy-Authorization".into(), "p".into()),
            ("accept".into(), "*/*".into()),
        ];
        let mut h = headers.clone();
        assert!(strip_on_cross_origin(&mut h, &a, &a2).is_empty());
        assert_eq!(h, headers);
        for to in [&b, &s] {
            let mut h = headers.clone();
            let dropped = strip_on_cross_origin(&mut h, &a, to);
            assert_eq!(dropped, ["authorization", "cookie", "proxy-authorization"]);
            assert_eq!(h, vec![("accept".to_string(), "*/*".to_string())]);
        }
    }
}
