//! The store's `ResourceLimiter`: one invocation's memory, table and instance limits, and
//! the first one hit, so the reason can name it. Its table and instance numbers are the
//! pool's per-component shape (`pool.rs`); the pool in turn sizes its memory slots for the
//! limits' ceiling (`limits.rs`), so this lives apart from both and both point one way.

use crate::limits::LimitHit;
use crate::pool;

/// Enforces memory, table and instance limits for one store, and remembers which limit
/// stopped the skill so the reason can name it (rather than guessing from a trap message).
pub(crate) struct Limiter {
    pub max_memory_bytes: usize,
    pub max_table_elements: usize,
    pub max_instances: usize,
    pub max_tables: usize,
    pub max_memories: usize,
    /// The first limit hit in this store, if any.
    pub hit: Option<LimitHit>,
}

impl Limiter {
    pub fn new(max_memory_bytes: usize) -> Self {
        Limiter {
            max_memory_bytes,
            // The pool's per-component shape (`pool.rs`), so both allocators give the same
            // answer: room for interpreter components, a stop for one that instantiates or
            // grows tables without bound.
            max_table_elements: pool::MAX_TABLE_ELEMENTS,
            max_instances: pool::MAX_CORE_INSTANCES_PER_COMPONENT as usize,
            max_tables: pool::MAX_TABLES_PER_COMPONENT as usize,
            max_memories: pool::MAX_MEMORIES_PER_COMPONENT as usize,
            hit: None,
        }
    }

    fn refuse(&mut self, hit: LimitHit) -> wasmtime::Result<bool> {
        let reason = hit.to_string();
        self.hit.get_or_insert(hit);
        // An error (not `Ok(false)`) traps at once: returning -1 from memory.grow would let
        // the guest turn it into an abort whose message no longer names the limit.
        Err(wasmtime::format_err!("{reason}"))
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            return self.refuse(LimitHit::Memory {
                limit: self.max_memory_bytes as u64,
            });
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            return self.refuse(LimitHit::Table {
                limit: self.max_table_elements as u64,
            });
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        self.max_memories
    }
}
