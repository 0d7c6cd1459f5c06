//! Generated bindings for the `runproof:skill` world, kept apart from hand-written logic.

wasmtime::component::bindgen!({
    world: "skill",
    path: "../../sdk/wit",
    imports: { default: async | trappable },
    exports: { default: async },
});
