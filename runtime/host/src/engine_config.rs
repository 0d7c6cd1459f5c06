//! The wasmtime `Config` every engine of the host is built from: the host's own (pooled or
//! on demand, `engine.rs`) and the pool-free one `compile.rs` builds to tell a pool limit
//! from a broken component. One function so the two can never differ in anything else.

use wasmtime::Config;

/// The engine configuration. Per-invocation limits (memory, tables, instances, deadline)
/// are set per store in `new_store`; the pool only bounds what all stores share.
pub(crate) fn engine_config(pooled: bool) -> Config {
    let mut wasm_config = Config::new();
    wasm_config.wasm_component_model(true);
    // Deadlines: the ticker thread advances the epoch; each store sets how many ticks it
    // may run. This interrupts even a tight loop that makes no host call.
    wasm_config.epoch_interruption(true);
    // Fuel is metered in every store (the engine compiles the metering in); a store
    // without a fuel grant gets an amount it cannot use up. Costs a few percent of
    // compute, buys "optional fuel" per agent without a second engine.
    wasm_config.consume_fuel(true);
    // Deep recursion traps as a stack overflow at 1 MiB of wasm stack. The fiber the
    // skill runs on is bigger so host calls made at the deepest point still have room:
    // the host's own stack must never be what overflows.
    wasm_config.max_wasm_stack(1 << 20);
    wasm_config.async_stack_size(4 << 20);
    // Linear memories start as copy-on-write mappings of the component's data segments
    // instead of being copied in at every instantiation.
    wasm_config.memory_init_cow(true);
    if pooled {
        wasm_config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
            crate::pool::pooling_config(),
        ));
    }
    wasm_config
}
