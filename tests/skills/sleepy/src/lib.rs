//! `sleepy`: a test-fixture skill whose `describe()` parks in a WASI sleep, but only at
//! some times: in every odd ten-second window of the wall clock (`(secs / 10) % 2 == 1`)
//! it sleeps for an hour; in even windows it answers at once. So it passes `skill add` in
//! an even window and hangs a later run's load in an odd one, which the host must cut off
//! (`tests/e2e_sandbox_bounds.rs`). `invoke` logs once and returns `{}`.

use runproof_sdk::bindings::runproof::skill::log::{Level, log};
use runproof_sdk::bindings::runproof::skill::types::Capabilities;
use runproof_sdk::bindings::{Guest, SkillError, SkillInfo};

struct Sleepy;

impl Guest for Sleepy {
    fn describe() -> SkillInfo {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        if (secs / 10) % 2 == 1 {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
        SkillInfo {
            name: "sleepy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test fixture: describe() sleeps in odd ten-second windows.".into(),
            capabilities: Capabilities {
                outbound_hosts: vec![],
                secrets: vec![],
                max_memory_bytes: None,
                timeout_ms: None,
            },
        }
    }

    fn invoke(_input: String) -> Result<String, SkillError> {
        log(Level::Info, "sleepy ran");
        Ok("{}".into())
    }
}

runproof_sdk::bindings::__runproof_export_skill_world!(Sleepy with_types_in runproof_sdk::bindings);
