//! The built-in skill components.
//!
//! `build.rs` compiles each crate of `skills/` for `wasm32-wasip2` through the guest
//! workspace (`guest/Cargo.toml`, target dir `guest/target`) and embeds each resulting
//! component here, keyed by the skill's crate name (e.g. `http_call`).
//!
//! ```
//! let skill = runproof_builtin_skills::find("http_call").expect("http_call is built in");
//! assert_eq!(&skill.wasm[..4], b"\0asm");
//! ```

use std::fmt;

/// One embedded skill component.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BuiltinSkill {
    /// The skill's crate name, e.g. `http_call`.
    pub name: &'static str,
    /// The WebAssembly component (component-model binary, not a core module).
    pub wasm: &'static [u8],
}

impl fmt::Debug for BuiltinSkill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltinSkill")
            .field("name", &self.name)
            .field("wasm", &format_args!("<{} bytes>", self.wasm.len()))
            .finish()
    }
}

// Defines `pub static BUILTIN_SKILLS: &[BuiltinSkill]`, sorted by name.
include!(concat!(env!("OUT_DIR"), "/builtin_skills.rs"));

/// The built-in skill called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static BuiltinSkill> {
    BUILTIN_SKILLS.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `\0asm`, then version 0x0d and layer 1: a component, not a core module
    /// (whose bytes 4..8 are `01 00 00 00`).
    const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    #[test]
    fn http_call_is_a_component() {
        let skill = find("http_call").expect("http_call is built in");
        assert_eq!(skill.name, "http_call");
        assert!(
            skill.wasm.len() > 8,
            "http_call.wasm is only {} bytes",
            skill.wasm.len()
        );
        assert_eq!(
            skill.wasm[..8],
            COMPONENT_HEADER,
            "http_call.wasm is not a component"
        );
    }

    #[test]
    fn every_builtin_is_a_component_and_names_are_unique() {
        assert!(!BUILTIN_SKILLS.is_empty());
        for pair in BUILTIN_SKILLS.windows(2) {
            assert!(pair[0].name < pair[1].name, "sorted and unique");
        }
        for skill in BUILTIN_SKILLS {
            assert_eq!(skill.wasm[..8], COMPONENT_HEADER, "{}", skill.name);
            assert!(std::ptr::eq(find(skill.name).unwrap(), skill));
        }
        assert!(find("no_such_skill").is_none());
    }
}
