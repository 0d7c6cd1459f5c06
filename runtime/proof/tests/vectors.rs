//! The committed test vectors (`docs/proof-vectors.json`) are exactly what this crate's code
//! produces. After a format change: `cargo run -p runproof-proof --example proof_vectors`.

mod vectors_gen;

#[test]
fn committed_vectors_are_what_the_code_produces() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(vectors_gen::VECTORS_PATH);
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let generated = vectors_gen::render();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_string(), |n| format!("line {}", n + 1));
        panic!(
            "{} differs from what the code produces (first at {line}); regenerate it with \
             `cargo run -p runproof-proof --example proof_vectors` and review the diff",
            vectors_gen::VECTORS_PATH
        );
    }
}

#[test]
fn every_rule_of_the_spec_has_a_vector() {
    let v = vectors_gen::vectors();
    let named: std::collections::BTreeSet<&str> = v["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["expected"]["rule"].as_str())
        .collect();
    // Rules no offline document can reach: they concern database rows, or a call with no
    // pinned key (the CLI refuses that as a usage error first).
    let online_only = [
        "step/ids",
        "step/digest-length",
        "trace/ids",
        "head/no-trusted-keys",
    ];
    for rule in runproof_proof::conformance::RULES {
        assert!(
            named.contains(rule) || online_only.contains(rule),
            "no document vector breaks rule {rule}"
        );
    }
}
