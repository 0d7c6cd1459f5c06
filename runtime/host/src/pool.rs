//! The instance pool: how much of each kind of wasm object the engine reserves, and the
//! per-component shape it accepts. The per-component numbers are also the per-store limits
//! of the `Limiter` (`limiter.rs`), so a component gets the same answer from the pooling and
//! the on-demand allocator, and README's limits table states exactly these constants.
//!
//! Sized for real components, interpreters included: a Rust skill has a handful of core
//! instances and one memory; componentize-py's `--stub-wasi` build has 38 core instances;
//! JavaScript (componentize-js) and C components fall in between.

/// Concurrent invocations the instance pool is sized for (with head room for `describe`
/// calls of skills being loaded at the same time). An invocation that finds the pool full
/// ends with an abort reason naming the pool, like any other limit.
pub const POOL_CONCURRENT_INSTANCES: u32 = 128;
/// Largest linear memory one pooled memory slot holds: the ceiling an agent may grant
/// (`limits::CEILING_MAX_MEMORY_BYTES`). Each invocation's own limit is enforced by the
/// store limiter below that; the slot only reserves address space, not memory.
pub const POOL_MAX_MEMORY_BYTES: usize = crate::limits::CEILING_MAX_MEMORY_BYTES as usize;

/// Core module instances one component may contain (transitively).
pub const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 128;
/// Linear memories one component may define.
pub const MAX_MEMORIES_PER_COMPONENT: u32 = 16;
/// Tables one component may define.
pub const MAX_TABLES_PER_COMPONENT: u32 = 64;
/// Elements one table may hold (`table.grow` past it traps with the table limit named).
pub const MAX_TABLE_ELEMENTS: usize = 1 << 18;
/// Bytes of VM context one core instance may need (imports, functions, globals); large
/// interpreter modules need more than wasmtime's 1 MiB default.
pub const MAX_CORE_INSTANCE_SIZE: usize = 2 << 20;
/// Bytes of VM context one component instance may need, its core instances' included.
pub const MAX_COMPONENT_INSTANCE_SIZE: usize = 16 << 20;

/// What an operator can do when a component does not fit the pool.
pub const POOL_LIMIT_FIX: &str = "the pool's per-component limits are fixed in this build (README, \"Policy: limits\"); set RUNPROOF_ALLOCATOR=on-demand to load it without the pool (slower instantiation), or build the component with fewer instances, memories or tables";

/// The pooling configuration.
pub(crate) fn pooling_config() -> wasmtime::PoolingAllocationConfig {
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    // Totals are shared by all stores: room for every concurrent invocation to use a
    // typical share (16 core instances, 2 memories, 8 tables), not the maximum each.
    pool.total_component_instances(POOL_CONCURRENT_INSTANCES)
        .total_core_instances(POOL_CONCURRENT_INSTANCES * 16)
        .total_memories(POOL_CONCURRENT_INSTANCES * 2)
        .total_tables(POOL_CONCURRENT_INSTANCES * 8)
        .total_stacks(POOL_CONCURRENT_INSTANCES)
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
        .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
        .table_elements(MAX_TABLE_ELEMENTS)
        .max_core_instance_size(MAX_CORE_INSTANCE_SIZE)
        .max_component_instance_size(MAX_COMPONENT_INSTANCE_SIZE)
        .max_memory_size(POOL_MAX_MEMORY_BYTES);
    pool
}

/// The limits as JSON (for `skill inspect` and README's table).
pub fn pool_limits_json() -> serde_json::Value {
    serde_json::json!({
        "concurrent_instances": POOL_CONCURRENT_INSTANCES,
        "core_instances_per_component": MAX_CORE_INSTANCES_PER_COMPONENT,
        "memories_per_component": MAX_MEMORIES_PER_COMPONENT,
        "tables_per_component": MAX_TABLES_PER_COMPONENT,
        "table_elements": MAX_TABLE_ELEMENTS,
    })
}
