//! What a component imports and exports, and whether it fits the `runproof:skill` world.
//! Checked when a component is loaded (so at `runtime skill add`, before anything is
//! stored): each problem is one sentence naming the import or export at fault.

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// Interface namespaces the linker provides. WASI is there because Rust's std imports it
/// even when a skill never uses it; what it grants is decided per invocation (`wasi.rs`):
/// nothing, except a scratch directory when the agent grants one. Standard `wasi:http` p2
/// (0.2.x) is there because it goes through the same policed, recorded outbound path as
/// `runproof:skill/http` (`wasi_http.rs`). Anything else (for example `wasi:http` 0.3,
/// which has no such path yet) is refused by name.
const PROVIDED: &[&str] = &[
    "wasi:http/outgoing-handler@0.2.",
    "wasi:http/types@0.2.",
    "runproof:skill/",
    "wasi:io/",
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

/// The names a component imports and exports.
pub(crate) fn interface(component: &Component, engine: &Engine) -> (Vec<String>, Vec<String>) {
    let ty = component.component_type();
    let imports = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let exports = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    (imports, exports)
}

/// Refuses imports we do not provide and a missing `describe` or `invoke` export. Wrong
/// types are left to the linker and the typed bindings, whose messages name them.
pub(crate) fn check(component: &Component, engine: &Engine) -> Result<(), String> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        if !PROVIDED.iter().any(|p| name.starts_with(p)) {
            return Err(format!(
                "it imports `{name}`, which RunProof does not provide (skills reach the outside only through \
                 runproof:skill/http, wasi:http/outgoing-handler@0.2.x and runproof:skill/log)"
            ));
        }
    }
    for export in ["describe", "invoke"] {
        match ty.exports(engine).find(|(name, _)| *name == export) {
            Some((_, ext)) if matches!(ext.ty, ComponentItem::ComponentFunc(_)) => {}
            Some(_) => {
                return Err(format!(
                    "its `{export}` export is not a function: it does not target the runproof:skill world"
                ));
            }
            None => {
                return Err(format!(
                    "it does not export `{export}`: it does not target the runproof:skill world (build it with the RunProof SDK)"
                ));
            }
        }
    }
    Ok(())
}

/// Caps on what `describe` may answer: it is stored, printed and recorded in every run's
/// first step, so a component cannot make any of those unbounded.
pub const MAX_NAME_BYTES: usize = 64;
pub const MAX_VERSION_BYTES: usize = 64;
pub const MAX_DESCRIPTION_BYTES: usize = 4096;
pub const MAX_OUTBOUND_HOSTS: usize = 64;
pub const MAX_PATTERN_BYTES: usize = 256;
pub const MAX_SECRETS: usize = 32;

/// Refuses a `describe` answer over the caps, or with a name that cannot be used in a plan
/// (1 to 64 of letters, digits, `_ - .`). The error names the field, its size and the cap.
pub(crate) fn check_info(info: &crate::SkillInfo) -> Result<(), String> {
    let too_long = |field: &str, len: usize, cap: usize| -> Result<(), String> {
        if len > cap {
            return Err(format!(
                "its {field} is {len} bytes, over the cap of {cap} bytes; shorten it in describe()"
            ));
        }
        Ok(())
    };
    too_long("name", info.name.len(), MAX_NAME_BYTES)?;
    if info.name.is_empty()
        || !info
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(format!(
            "its name {:?} is not 1 to {MAX_NAME_BYTES} of letters, digits, `_`, `-`, `.`; rename it in describe()",
            info.name
        ));
    }
    too_long("version", info.version.len(), MAX_VERSION_BYTES)?;
    too_long("description", info.description.len(), MAX_DESCRIPTION_BYTES)?;
    let caps = &info.capabilities;
    if caps.outbound_hosts.len() > MAX_OUTBOUND_HOSTS {
        return Err(format!(
            "it declares {} outbound host patterns, over the cap of {MAX_OUTBOUND_HOSTS}; use wildcards or CIDR ranges",
            caps.outbound_hosts.len()
        ));
    }
    for p in &caps.outbound_hosts {
        too_long("outbound host pattern", p.len(), MAX_PATTERN_BYTES)?;
    }
    if caps.secrets.len() > MAX_SECRETS {
        return Err(format!(
            "it declares {} secrets, over the cap of {MAX_SECRETS}",
            caps.secrets.len()
        ));
    }
    for s in &caps.secrets {
        if !crate::valid_secret_name(s) {
            return Err(format!(
                "it declares the secret {:?}: a secret name is 1 to 64 of letters, digits, `_`, `-`, `.`",
                crate::trace_caps::cap_to(s, 80)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Capabilities, SkillInfo};

    fn info() -> SkillInfo {
        SkillInfo {
            name: "ok_skill-1.0".into(),
            version: "0.1.0".into(),
            description: "fine".into(),
            capabilities: Capabilities {
                outbound_hosts: vec!["https://*.example.com".into()],
                secrets: vec!["TOKEN".into()],
                max_memory_bytes: None,
                timeout_ms: None,
            },
        }
    }

    #[test]
    fn describe_fields_are_capped_with_a_clear_refusal() {
        assert_eq!(check_info(&info()), Ok(()));
        let mut i = info();
        i.description = "x".repeat(30 << 20);
        let e = check_info(&i).unwrap_err();
        assert!(
            e.contains("description is 31457280 bytes, over the cap of 4096"),
            "{e}"
        );
        let mut i = info();
        i.capabilities.outbound_hosts = vec!["https://a.example".into(); 200_000];
        let e = check_info(&i).unwrap_err();
        assert!(
            e.contains("200000 outbound host patterns, over the cap of 64"),
            "{e}"
        );
        let mut i = info();
        i.capabilities.outbound_hosts = vec![format!("https://{}.example", "a".repeat(300))];
        assert!(
            check_info(&i)
                .unwrap_err()
                .contains("outbound host pattern is")
        );
        for name in ["", "a b", "x\ny", &"n".repeat(65)] {
            let mut i = info();
            i.name = name.to_string();
            assert!(check_info(&i).is_err(), "{name:?}");
        }
        let mut i = info();
        i.capabilities.secrets = vec!["S".into(); 33];
        assert!(check_info(&i).unwrap_err().contains("33 secrets"));
        let mut i = info();
        i.capabilities.secrets = vec!["bad name".into()];
        assert!(check_info(&i).is_err());
        let mut i = info();
        i.version = "v".repeat(65);
        assert!(check_info(&i).unwrap_err().contains("version is 65 bytes"));
    }
}
