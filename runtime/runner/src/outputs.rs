//! Later steps use earlier outputs through `{{ key.path }}` in their params.
//!
//! A string that is exactly one reference is replaced by the referenced JSON value (any
//! type); references inside longer strings are interpolated as text.
//!
//! `{{secret:NAME}}` is not an output reference: it is a secret placeholder that only the
//! host fills in, on the way out (see `runproof_host::secrets`), so it is left as written.

use std::collections::HashMap;

pub(crate) type Outputs = HashMap<String, serde_json::Value>;

/// Resolves every reference in `params`; an unknown reference is an error naming it.
pub(crate) fn resolve(
    params: &serde_json::Value,
    outputs: &Outputs,
) -> Result<serde_json::Value, String> {
    Ok(match params {
        serde_json::Value::String(s) => resolve_str(s, outputs)?,
        serde_json::Value::Array(a) => serde_json::Value::Array(
            a.iter()
                .map(|v| resolve(v, outputs))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(o) => serde_json::Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), resolve(v, outputs)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn resolve_str(s: &str, outputs: &Outputs) -> Result<serde_json::Value, String> {
    let trimmed = s.trim();
    if let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|r| r.strip_suffix("}}"))
        && !inner.contains("{{")
        && !is_secret_placeholder(inner)
    {
        return lookup(inner.trim(), outputs).cloned();
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("unclosed {{{{ in {s:?}"))?
            + start;
        out.push_str(&rest[..start]);
        if is_secret_placeholder(&rest[start + 2..end]) {
            out.push_str(&rest[start..end + 2]);
            rest = &rest[end + 2..];
            continue;
        }
        match lookup(rest[start + 2..end].trim(), outputs)? {
            serde_json::Value::String(v) => out.push_str(v),
            v => out.push_str(&v.to_string()),
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(serde_json::Value::String(out))
}

fn is_secret_placeholder(inner: &str) -> bool {
    inner.starts_with("secret:")
}

fn lookup<'a>(path: &str, outputs: &'a Outputs) -> Result<&'a serde_json::Value, String> {
    let mut parts = path.split('.');
    let key = parts.next().unwrap_or_default();
    let mut v = outputs
        .get(key)
        .ok_or_else(|| format!("no earlier output named {key:?} (in {{{{ {path} }}}})"))?;
    for part in parts {
        v = match v {
            serde_json::Value::Object(o) => o.get(part),
            serde_json::Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| format!("output path {path:?} does not exist"))?;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_and_embedded_references() {
        let mut outputs = Outputs::new();
        outputs.insert(
            "first".into(),
            json!({"status_code": 200, "items": ["a", "b"], "body": "hi"}),
        );
        let params = json!({"code": "{{ first.status_code }}", "url": "http://x/{{first.items.1}}?s={{ first.status_code }}", "n": 3});
        let r = resolve(&params, &outputs).unwrap();
        assert_eq!(r, json!({"code": 200, "url": "http://x/b?s=200", "n": 3}));
    }

    #[test]
    fn secret_placeholders_are_left_for_the_host() {
        let outputs = Outputs::new();
        let params = json!({"h": "Bearer {{secret:TOKEN}}", "w": "{{secret:TOKEN}}"});
        assert_eq!(resolve(&params, &outputs).unwrap(), params);
    }

    #[test]
    fn unknown_references_are_errors() {
        let outputs = Outputs::new();
        assert!(
            resolve(&json!({"a": "{{ nope.x }}"}), &outputs)
                .unwrap_err()
                .contains("nope")
        );
        assert!(
            resolve(&json!({"a": "x {{ open"}), &outputs)
                .unwrap_err()
                .contains("unclosed")
        );
    }
}
