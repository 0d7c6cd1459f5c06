//! `bloated`: a test-fixture skill whose `describe()` answers a 30 MB description and
//! 200 000 outbound host patterns; `skill add` must refuse it with one clear line.

use runproof_sdk::bindings::runproof::skill::types::Capabilities;
use runproof_sdk::bindings::{Guest, SkillError, SkillInfo};

struct Bloated;

impl Guest for Bloated {
    fn describe() -> SkillInfo {
        SkillInfo {
            name: "bloated".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "d".repeat(30 << 20),
            capabilities: Capabilities {
                outbound_hosts: vec!["https://a.example".into(); 200_000],
                secrets: vec![],
                max_memory_bytes: None,
                timeout_ms: None,
            },
        }
    }

    fn invoke(_input: String) -> Result<String, SkillError> {
        Ok("{}".into())
    }
}

runproof_sdk::bindings::__runproof_export_skill_world!(Bloated with_types_in runproof_sdk::bindings);
