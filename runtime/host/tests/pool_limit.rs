//! A component whose shape exceeds the pooling allocator's per-component limits is refused
//! with `PoolLimit`, whose message names the limit's fix, not as "not a RunProof skill
//! component" (what the issue found componentize-py's stub build reported).

use runproof_host::{HostConfig, HostError, SkillHost};

/// A component of `n` core instances, each with its own linear memory.
fn component_with_memories(n: usize) -> Vec<u8> {
    let mut wat = String::from("(component (core module $m (memory 1))");
    for i in 0..n {
        wat.push_str(&format!(" (core instance $i{i} (instantiate $m))"));
    }
    wat.push(')');
    wat::parse_str(&wat).expect("valid component text")
}

#[tokio::test]
async fn a_shape_over_the_pool_limits_is_a_pool_limit_error_naming_the_fix() {
    let host = SkillHost::new(HostConfig::default()).expect("engine");
    let over = runproof_host::pool::MAX_MEMORIES_PER_COMPONENT as usize + 1;
    match host.load(&component_with_memories(over)).await {
        Err(e @ HostError::PoolLimit { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("RUNPROOF_ALLOCATOR=on-demand"),
                "{message}"
            );
        }
        Err(other) => panic!("expected a pool-limit error, got: {other}"),
        Ok(_) => panic!("a component over the pool's limits loaded"),
    }
}
