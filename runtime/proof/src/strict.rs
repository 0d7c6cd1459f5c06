//! Strict JSON for everything a verifier reads from outside: one value, no duplicate keys
//! (serde_json silently keeps the last), integers only and within ±(2^53−1) (what every JSON
//! reader holds exactly), no trailing data, and objects with exactly the fields a type
//! declares. Shared by the signed head ([`crate::seal`]) and the offline bundle
//! ([`crate::bundle`]) so both refuse the same ambiguous inputs.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Largest integer every JSON reader holds exactly (I-JSON, RFC 7493 §2.2): 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a JSON document was refused. Messages are one line; input text is escaped and cut.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrictError {
    #[error("{what} is not valid JSON: {reason}")]
    Json { what: &'static str, reason: String },
    #[error("duplicate JSON key \"{key}\" in {what}")]
    DuplicateKey { what: &'static str, key: String },
    #[error("{what} has a number that is not an integer within ±(2^53-1)")]
    NumberOutOfRange { what: &'static str },
    #[error("{what} has trailing data after the JSON value")]
    TrailingData { what: &'static str },
    #[error("{what} has unknown field \"{field}\"")]
    UnknownField { what: &'static str, field: String },
    #[error("{what} is missing field \"{field}\"")]
    MissingField {
        what: &'static str,
        field: &'static str,
    },
    #[error("{what} is malformed: {reason}")]
    Malformed { what: &'static str, reason: String },
}

/// Checks that `value` is an object with exactly the fields `fields`.
pub(crate) fn check_object<'v>(
    value: &'v Value,
    fields: &[&'static str],
    what: &'static str,
) -> Result<&'v Map<String, Value>, StrictError> {
    let Value::Object(map) = value else {
        return Err(StrictError::Malformed {
            what,
            reason: "not a JSON object".into(),
        });
    };
    if let Some(unknown) = map.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(StrictError::UnknownField {
            what,
            field: clip(unknown),
        });
    }
    if let Some(missing) = fields.iter().find(|f| !map.contains_key(**f)) {
        return Err(StrictError::MissingField {
            what,
            field: missing,
        });
    }
    Ok(map)
}

/// Converts an already strictly-parsed value into its type.
pub(crate) fn typed<T: DeserializeOwned>(
    value: Value,
    what: &'static str,
) -> Result<T, StrictError> {
    serde_json::from_value(value).map_err(|e| StrictError::Malformed {
        what,
        reason: clip_long(&e.to_string()),
    })
}

enum Violation {
    DuplicateKey(String),
    Number,
}

/// Parses one JSON document into a `Value`, rejecting what `serde_json` lets through: a
/// duplicate key (it keeps the last), a number it would round, and trailing data.
pub fn parse_strict(bytes: &[u8], what: &'static str) -> Result<Value, StrictError> {
    let violation = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match (StrictValue {
        violation: &violation,
    })
    .deserialize(&mut de)
    {
        Ok(value) => {
            de.end().map_err(|_| StrictError::TrailingData { what })?;
            Ok(value)
        }
        Err(e) => Err(match violation.into_inner() {
            Some(Violation::DuplicateKey(key)) => StrictError::DuplicateKey {
                what,
                key: clip(&key),
            },
            Some(Violation::Number) => StrictError::NumberOutOfRange { what },
            None => StrictError::Json {
                what,
                reason: clip_long(&e.to_string()),
            },
        }),
    }
}

#[derive(Clone, Copy)]
struct StrictValue<'a> {
    violation: &'a RefCell<Option<Violation>>,
}

impl StrictValue<'_> {
    fn fail<E: de::Error>(self, v: Violation) -> E {
        let msg = match &v {
            Violation::DuplicateKey(_) => "duplicate key",
            Violation::Number => "number out of range",
        };
        *self.violation.borrow_mut() = Some(v);
        E::custom(msg)
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(self.fail(Violation::Number));
        }
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        if v > MAX_SAFE_INTEGER {
            return Err(self.fail(Violation::Number));
        }
        Ok(Value::from(v))
    }

    /// Fractions, exponents and integers too large for 64 bits: none belong in a head.
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        Err(self.fail(Violation::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        // Keys are compared after unescaping: "a" and "\u0061" are the same key.
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(self.fail(Violation::DuplicateKey(key)));
            }
            let value = map.next_value_seed(self)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// The field names a derived `Deserialize` struct accepts (after renames), read from the
/// derive itself so the strict checks cannot drift from the types.
pub(crate) fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Grab<'a>(&'a mut &'static [&'static str]);

    #[derive(Debug)]
    struct Stop;
    impl fmt::Display for Stop {
        fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("field names read")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Stop
        }
    }

    impl<'de> de::Deserializer<'de> for Grab<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = fields;
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Grab(&mut fields));
    fields
}

/// Input text made safe for a one-line message: escaped, and cut at 80 characters.
pub(crate) fn clip(s: &str) -> String {
    clip_to(s, 80)
}

pub(crate) fn clip_long(s: &str) -> String {
    clip_to(s, 200)
}

fn clip_to(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().flat_map(char::escape_debug).enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_parse_rejects_what_serde_json_allows() {
        assert!(matches!(
            parse_strict(br#"{"a":1,"a":2}"#, "x"),
            Err(StrictError::DuplicateKey { key, .. }) if key == "a"
        ));
        assert!(matches!(
            parse_strict(br#"{"a":{"b":[{"c":1,"\u0063":2}]}}"#, "x"),
            Err(StrictError::DuplicateKey { key, .. }) if key == "c"
        ));
        assert!(matches!(
            parse_strict(b"{} {}", "x"),
            Err(StrictError::TrailingData { .. })
        ));
        assert!(parse_strict(b"{}\n\t ", "x").is_ok());
        for n in [
            "9007199254740992",
            "-9007199254740992",
            "1.0",
            "1e3",
            "18446744073709551616",
        ] {
            assert!(
                matches!(
                    parse_strict(n.as_bytes(), "x"),
                    Err(StrictError::NumberOutOfRange { .. })
                ),
                "{n}"
            );
        }
        assert!(parse_strict(b"9007199254740991", "x").is_ok());
        assert!(parse_strict(b"-9007199254740991", "x").is_ok());
        // Deep nesting hits serde_json's recursion limit, not the stack.
        let deep = "[".repeat(100_000);
        assert!(matches!(
            parse_strict(deep.as_bytes(), "x"),
            Err(StrictError::Json { .. })
        ));
    }

    #[test]
    fn clip_escapes_and_shortens() {
        assert_eq!(clip("a\nb\"c"), "a\\nb\\\"c");
        let long = clip(&"x".repeat(500));
        assert_eq!(long.chars().count(), 81);
        assert!(long.ends_with('…'));
    }
}
