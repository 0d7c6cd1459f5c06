//! [`SkillError`]: a skill's own failure.

use std::fmt;

use crate::bindings::runproof::skill::types as wit;

/// A skill's own failure, returned from [`Skill::invoke`](crate::Skill::invoke).
///
/// `code` is a short machine-readable word, kebab-case by convention; `message` is for
/// people. Codes the SDK itself produces:
///
/// | code | when |
/// | --- | --- |
/// | `invalid-input` | the input JSON does not match [`Skill::Input`](crate::Skill::Input) |
/// | `invalid-output` | the output could not be serialized to JSON |
/// | `invalid-json` | a [`serde_json::Error`] turned into a `SkillError` with `?` (e.g. from [`http::Response::json`](crate::http::Response::json)) |
/// | `http-denied`, `http-invalid-request`, `http-connect`, `http-timeout`, `http-too-large`, `http-other` | an [`http::Error`](crate::http::Error) turned into a `SkillError` with `?`: `http-` and the WIT case name, the word the trace records |
///
/// ```
/// use runproof_sdk::SkillError;
///
/// let e = SkillError::new("quota", "the daily quota is used up");
/// assert_eq!(e.to_string(), "quota: the daily quota is used up");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillError {
    /// Short machine-readable word (`invalid-input`, `http-status`, ...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl SkillError {
    /// An error with the given code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        SkillError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// An `invalid-input` error: the input was well-formed JSON but makes no sense
    /// (the SDK already reports input that does not deserialize).
    pub fn invalid_input(message: impl Into<String>) -> Self {
        SkillError::new("invalid-input", message)
    }

    pub(crate) fn into_wit(self) -> wit::SkillError {
        wit::SkillError {
            code: self.code,
            message: self.message,
        }
    }
}

impl fmt::Display for SkillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SkillError {}

impl From<crate::http::Error> for SkillError {
    fn from(err: crate::http::Error) -> Self {
        SkillError::new(err.code(), err.to_string())
    }
}

impl From<serde_json::Error> for SkillError {
    fn from(err: serde_json::Error) -> Self {
        SkillError::new("invalid-json", err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Error as HttpError;

    #[test]
    fn constructors() {
        let e = SkillError::invalid_input("x must be positive");
        assert_eq!(e.code, "invalid-input");
        assert_eq!(e.message, "x must be positive");
        assert_eq!(e.to_string(), "invalid-input: x must be positive");
        let w = e.into_wit();
        assert_eq!(
            (w.code.as_str(), w.message.as_str()),
            ("invalid-input", "x must be positive")
        );
    }

    #[test]
    fn from_http_error() {
        let cases = [
            (HttpError::Denied("http://x".into()), "http-denied"),
            (
                HttpError::InvalidRequest("bad url".into()),
                "http-invalid-request",
            ),
            (HttpError::Connect("refused".into()), "http-connect"),
            (HttpError::Timeout("5s".into()), "http-timeout"),
            (HttpError::TooLarge("body".into()), "http-too-large"),
            (HttpError::Other("eof".into()), "http-other"),
        ];
        for (err, code) in cases {
            let text = err.to_string();
            let e: SkillError = err.into();
            assert_eq!(e.code, code);
            assert_eq!(e.message, text);
        }
    }

    #[test]
    fn question_mark_converts() {
        fn f() -> Result<(), SkillError> {
            Err(HttpError::Timeout("after 5000 ms".into()))?;
            Ok(())
        }
        let e = f().unwrap_err();
        assert_eq!(e.code, "http-timeout");
        assert!(e.message.contains("after 5000 ms"));

        fn g() -> Result<u32, SkillError> {
            Ok(serde_json::from_str::<u32>("\"x\"")?)
        }
        assert_eq!(g().unwrap_err().code, "invalid-json");
    }
}
