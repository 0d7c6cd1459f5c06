//! The trace is bounded: what a skill can make the runtime record, and keep in memory, is at
//! most (its host-call cap + the run's own steps) × [`MAX_STEP_BYTES`].
//!
//! - Bytes a skill hands over or gets back (a request or response body, a URL) are recorded
//!   whole up to [`MAX_INLINE_BYTES`]; beyond that, and for every request the host refused
//!   for its size, as `{"size", "sha256", "prefix"}`: the SHA-256 commits to the exact bytes,
//!   the prefix shows what they began with, and the bytes themselves never enter the trace.
//! - Every error message (a skill's own, the host's, a run's `error_message`, the CLI's
//!   output) is cut to [`MAX_MESSAGE_BYTES`] and says how much was cut.
//! - Any step body whose serialized form is still over [`MAX_STEP_BYTES`] has its largest
//!   strings replaced by digests until it fits ([`bound_body`], applied by the recorder).

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Most bytes of one serialized step body.
pub const MAX_STEP_BYTES: usize = 1 << 20;
/// Most bytes of one field (body, URL) recorded as is.
pub const MAX_INLINE_BYTES: usize = 64 << 10;
/// Bytes of a digested field's prefix kept in the trace.
pub const PREFIX_BYTES: usize = 256;
/// Most bytes of one error message, in the trace, the database and the CLI's output.
pub const MAX_MESSAGE_BYTES: usize = 4 << 10;

/// `text` cut to [`MAX_MESSAGE_BYTES`] (on a character boundary), saying how much was cut.
pub fn cap_message(text: &str) -> String {
    cap_to(text, MAX_MESSAGE_BYTES)
}

/// `text` cut to `max` bytes (on a character boundary), saying how much was cut.
pub fn cap_to(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let end = floor_char_boundary(text, max);
    format!("{}… [{} more bytes cut]", &text[..end], text.len() - end)
}

fn floor_char_boundary(text: &str, max: usize) -> usize {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Bytes in a step: as text when UTF-8, else base64 (exact either way), when they fit
/// [`MAX_INLINE_BYTES`]; else [`digest_json`].
pub fn bytes_field(bytes: &[u8]) -> Value {
    if bytes.len() > MAX_INLINE_BYTES {
        return digest_json(bytes);
    }
    exact_json(bytes)
}

/// Bytes as `{"text"}` (UTF-8) or `{"base64"}`, whole.
pub fn exact_json(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => serde_json::json!({"text": s}),
        Err(_) => {
            serde_json::json!({"base64": base64::engine::general_purpose::STANDARD.encode(bytes)})
        }
    }
}

/// What the trace keeps of bytes too large to keep: their size, SHA-256 and first
/// [`PREFIX_BYTES`] bytes.
pub fn digest_json(bytes: &[u8]) -> Value {
    let prefix = &bytes[..bytes.len().min(PREFIX_BYTES)];
    serde_json::json!({"digest": {
        "size": bytes.len(),
        "sha256": hex::encode(Sha256::digest(bytes)),
        "prefix": prefix_json(prefix),
    }})
}

/// A prefix: UTF-8 text up to the last whole character, else base64.
fn prefix_json(prefix: &[u8]) -> Value {
    match std::str::from_utf8(prefix) {
        Ok(s) => serde_json::json!({"text": s}),
        Err(e) if e.valid_up_to() > 0 && e.error_len().is_none() => {
            // Cut inside a multi-byte character at the end: keep the whole ones.
            serde_json::json!({"text": String::from_utf8_lossy(&prefix[..e.valid_up_to()])})
        }
        Err(_) => {
            serde_json::json!({"base64": base64::engine::general_purpose::STANDARD.encode(prefix)})
        }
    }
}

/// A string field (a URL): as is up to [`MAX_INLINE_BYTES`], else its digest.
pub fn text_field(text: &str) -> Value {
    if text.len() > MAX_INLINE_BYTES {
        return digest_json(text.as_bytes());
    }
    Value::String(text.to_string())
}

/// Request headers: as written when within the HTTP caps (`max_headers`,
/// `max_header_bytes`), else the digest of their JSON (a refused request never puts
/// megabytes of headers in the trace). The caps come as numbers so the trace bounds do not
/// depend on the HTTP client that uses them.
pub fn headers_field(
    headers: &[(String, String)],
    max_headers: usize,
    max_header_bytes: usize,
) -> Value {
    let bytes: usize = headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if headers.len() <= max_headers && bytes <= max_header_bytes {
        return serde_json::json!(headers);
    }
    digest_json(&serde_json::to_vec(headers).unwrap_or_default())
}

/// `body` made to fit [`MAX_STEP_BYTES`] when serialized: the largest strings are replaced
/// by their digests, largest first, until it fits. `serialized_len` is the size the body
/// already had (the caller serialized it once and found it too large).
pub fn bound_body(mut body: Value, serialized_len: usize) -> Value {
    let mut len = serialized_len;
    // Each round digests the largest remaining string; a body of small strings only (an
    // array of a million short items) is digested whole as a last resort.
    for _ in 0..64 {
        if len <= MAX_STEP_BYTES {
            return body;
        }
        let Some(largest) = largest_string(&mut body) else {
            break;
        };
        if largest.as_str().map_or(0, str::len) <= PREFIX_BYTES * 4 {
            break;
        }
        let text = std::mem::take(largest);
        let old = text.as_str().map_or(0, str::len);
        *largest = digest_json(text.as_str().unwrap_or_default().as_bytes());
        len = len
            .saturating_sub(old)
            .saturating_add(PREFIX_BYTES * 2 + 160);
    }
    if len <= MAX_STEP_BYTES {
        return body;
    }
    let whole = serde_json::to_vec(&body).unwrap_or_default();
    serde_json::json!({"bounded": digest_json(&whole)})
}

fn largest_string(v: &mut Value) -> Option<&mut Value> {
    fn walk<'a>(v: &'a mut Value, best: &mut Option<(usize, &'a mut Value)>) {
        match v {
            Value::String(s) => {
                let n = s.len();
                if best.as_ref().is_none_or(|(b, _)| n > *b) {
                    *best = Some((n, v));
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, best)),
            Value::Object(map) => map.values_mut().for_each(|i| walk(i, best)),
            _ => {}
        }
    }
    let mut best = None;
    walk(v, &mut best);
    best.map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_on_a_character_boundary_and_say_so() {
        assert_eq!(cap_message("short"), "short");
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = cap_message(&long);
        assert!(cut.len() < MAX_MESSAGE_BYTES + 64, "{}", cut.len());
        assert!(cut.ends_with(&format!(
            "[{} more bytes cut]",
            long.len() - MAX_MESSAGE_BYTES
        )));
    }

    #[test]
    fn large_bytes_are_a_digest_never_the_bytes() {
        let big = vec![b'a'; MAX_INLINE_BYTES + 1];
        let v = bytes_field(&big);
        assert_eq!(v["digest"]["size"], MAX_INLINE_BYTES + 1);
        assert_eq!(v["digest"]["sha256"], hex::encode(Sha256::digest(&big)));
        assert_eq!(
            v["digest"]["prefix"]["text"].as_str().unwrap().len(),
            PREFIX_BYTES
        );
        assert!(v.to_string().len() < 1024);
        assert_eq!(bytes_field(b"hi"), serde_json::json!({"text": "hi"}));
        assert_eq!(bytes_field(b"\xff"), serde_json::json!({"base64": "/w=="}));
        // A prefix cut inside a character keeps the whole characters before it.
        let mut odd = vec![b'x'; PREFIX_BYTES - 1];
        odd.extend("é".repeat(MAX_INLINE_BYTES).as_bytes());
        let p = &digest_json(&odd)["digest"]["prefix"]["text"];
        assert_eq!(p.as_str().unwrap().len(), PREFIX_BYTES - 1);
    }

    #[test]
    fn a_body_over_the_step_cap_is_bounded() {
        let body = serde_json::json!({"a": "x".repeat(3 << 20), "b": "y".repeat(10), "c": ["z".repeat(2 << 20)]});
        let len = serde_json::to_vec(&body).unwrap().len();
        let bounded = bound_body(body, len);
        assert!(serde_json::to_vec(&bounded).unwrap().len() <= MAX_STEP_BYTES);
        assert_eq!(bounded["b"], "y".repeat(10));
        assert_eq!(bounded["a"]["digest"]["size"], 3 << 20);
        // Many small strings: digested whole.
        let many = Value::Array(
            (0..200_000)
                .map(|i| Value::String(format!("{i:08}")))
                .collect(),
        );
        let len = serde_json::to_vec(&many).unwrap().len();
        let bounded = bound_body(many, len);
        assert!(bounded["bounded"]["digest"]["size"].as_u64().unwrap() > MAX_STEP_BYTES as u64);
    }
}
