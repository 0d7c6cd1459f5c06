//! The words a run's status and a verdict are spelled with, each defined once: in a table
//! that `as_str`, `parse` and serde all read, so the database's CHECK constraint, the signed
//! head, the JSON output and the text output cannot drift apart.

use crate::VerificationStatus;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The status of a run: `runs.status`, `aos_traces.status` (never `queued`) and the signed
/// head's `status`. Migration 0001's CHECK constraints list the same four words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

const RUN_STATUS: [(RunStatus, &str); 4] = [
    (RunStatus::Queued, "queued"),
    (RunStatus::Running, "running"),
    (RunStatus::Succeeded, "succeeded"),
    (RunStatus::Failed, "failed"),
];

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        RUN_STATUS
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("", |(_, w)| w)
    }

    pub fn parse(word: &str) -> Option<Self> {
        RUN_STATUS.iter().find(|(_, w)| *w == word).map(|(s, _)| *s)
    }

    /// `succeeded` or `failed`: the run has ended and nothing will change it.
    pub fn is_final(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }

    /// Whether a stored status word is a final one (an unknown word is not).
    pub fn is_final_word(word: &str) -> bool {
        Self::parse(word).is_some_and(Self::is_final)
    }

    /// The final status of a run that ended with or without an error.
    pub fn ended(succeeded: bool) -> Self {
        if succeeded {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        }
    }
}

const VERDICTS: [(VerificationStatus, &str); 3] = [
    (VerificationStatus::Verified, "VERIFIED"),
    (VerificationStatus::Failed, "FAILED"),
    (VerificationStatus::Unsupported, "UNSUPPORTED"),
];

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        VERDICTS
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("", |(_, w)| w)
    }

    pub fn parse(word: &str) -> Option<Self> {
        VERDICTS.iter().find(|(_, w)| *w == word).map(|(s, _)| *s)
    }
}

macro_rules! words_serde {
    ($ty:ty, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = String::deserialize(d)?;
                <$ty>::parse(&word).ok_or_else(|| {
                    serde::de::Error::custom(format!(concat!("unknown ", $what, " {:?}"), word))
                })
            }
        }
    };
}

words_serde!(RunStatus, "run status");
words_serde!(VerificationStatus, "verification status");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips_through_text_and_json() {
        for (status, word) in RUN_STATUS {
            assert_eq!(status.as_str(), word);
            assert_eq!(RunStatus::parse(word), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), word);
            assert_eq!(
                serde_json::from_value::<RunStatus>(word.into()).unwrap(),
                status
            );
        }
        for (verdict, word) in VERDICTS {
            assert_eq!(verdict.to_string(), word);
            assert_eq!(serde_json::to_value(verdict).unwrap(), word);
        }
        assert!(
            RunStatus::parse("success").is_none(),
            "a step status is not a run status"
        );
        assert!(serde_json::from_value::<VerificationStatus>("verified".into()).is_err());
        assert_eq!(RunStatus::ended(false).as_str(), "failed");
        assert!(!RunStatus::Running.is_final() && RunStatus::Failed.is_final());
    }
}
