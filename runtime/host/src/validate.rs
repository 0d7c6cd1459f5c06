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
