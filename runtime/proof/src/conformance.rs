//! Which rule of the format specification (`docs/proof-format.md`, "Verdict rules") a
//! failure reason of this verifier is. Verdicts carry reasons for people; the rule ids are
//! the shared vocabulary that lets a second, independent verifier be checked against this
//! one failure by failure (the test vectors and the end-to-end suites do).
//!
//! The mapping reads this crate's own messages, which are fixed text around escaped and
//! clipped input, so it matches on their fixed parts: prefixes naming the phase and the
//! object, and suffixes naming the check. A reason no rule matches is `None`, which the
//! conformance tests treat as a failure: a new message needs a rule here and in the spec.

/// Every rule id, in the order the specification lists them.
pub const RULES: &[&str] = &[
    "read/json-syntax",
    "read/duplicate-key",
    "read/number",
    "read/trailing-data",
    "read/type",
    "read/format",
    "read/unknown-field",
    "read/missing-field",
    "read/hex",
    "read/base64",
    "step/index",
    "step/ids",
    "step/digest-length",
    "step/link",
    "step/hash",
    "step/envelope",
    "step/version",
    "step/kind-column",
    "step/skill-column",
    "step/status-column",
    "step/duration-column",
    "step/cost-column",
    "step/first-kind",
    "step/run-start",
    "step/second-run-start",
    "step/after-run-end",
    "trace/model",
    "trace/ids",
    "trace/not-sealed",
    "trace/length",
    "trace/root",
    "trace/cut-short",
    "trace/run-end-status",
    "trace/unsigned",
    "head/no-trusted-keys",
    "head/json-syntax",
    "head/duplicate-key",
    "head/number",
    "head/trailing-data",
    "head/type",
    "head/unknown-field",
    "head/missing-field",
    "head/payload-type",
    "head/no-signature",
    "head/too-many-signatures",
    "head/base64",
    "head/signature-length",
    "head/untrusted-key",
    "head/keyid-mismatch",
    "head/bad-signature",
    "head/statement-type",
    "head/predicate-type",
    "head/claim",
    "head/subject",
    "head/claim-model",
    "claims/ids",
    "claims/model",
    "claims/chain-length",
    "claims/chain-head",
    "claims/merkle-root",
    "claims/status",
    "claims/skill-digests",
    "bundle/skill-digests",
    "bundle/statement",
    "bundle/component-digest",
    "bundle/component-unsigned",
    "inclusion/tree-size",
    "inclusion/base64",
    "inclusion/hex",
    "inclusion/index",
    "inclusion/path-length",
    "inclusion/root",
    "inclusion/envelope",
    "inclusion/statement",
];

/// The objects a strict-JSON message can name (longest first, so "bundle step" is not
/// read as "bundle").
const OBJECTS: &[&str] = &[
    "inclusion proof signed_head",
    "inclusion proof step",
    "inclusion proof",
    "bundle signed_head",
    "bundle trace",
    "bundle step",
    "bundle",
    "subject digest",
    "subject",
    "signature",
    "statement",
    "predicate run",
    "predicate",
    "envelope",
];

/// The rule a failure reason of this verifier is, or `None` if it is not one of its
/// messages.
pub fn rule_of(reason: &str) -> Option<&'static str> {
    if let Some(rest) = reason.strip_prefix("bundle rejected: ") {
        return read_rule(rest);
    }
    if let Some(rest) = reason.strip_prefix("inclusion proof rejected: ") {
        // The inclusion proof's hex is checked after its head: a later rule.
        if rest.ends_with("bytes of lower-case hex (wrong length)")
            || rest.ends_with("bytes of lower-case hex (not lower-case hex)")
        {
            return Some("inclusion/hex");
        }
        return read_rule(rest);
    }
    if let Some(rest) = reason.strip_prefix("signed head rejected: ") {
        return head_rule(rest);
    }
    other_rule(reason)
}

/// A strict-JSON failure, as `(what, suffix rule)`.
fn strict_rule(s: &str) -> Option<&'static str> {
    if s.starts_with("duplicate JSON key ") {
        return Some("duplicate-key");
    }
    let rest = OBJECTS.iter().find_map(|o| s.strip_prefix(o))?;
    [
        (" is not valid JSON: ", "json-syntax"),
        (" has a number that is not an integer", "number"),
        (" has trailing data", "trailing-data"),
        (" has unknown field ", "unknown-field"),
        (" is missing field ", "missing-field"),
        (" is malformed: ", "type"),
    ]
    .iter()
    .find(|(p, _)| rest.starts_with(p))
    .map(|(_, r)| *r)
}

fn read_rule(s: &str) -> Option<&'static str> {
    if let Some(r) = strict_rule(s) {
        return Some(match r {
            "duplicate-key" => "read/duplicate-key",
            "json-syntax" => "read/json-syntax",
            "number" => "read/number",
            "trailing-data" => "read/trailing-data",
            "unknown-field" => "read/unknown-field",
            "missing-field" => "read/missing-field",
            _ => "read/type",
        });
    }
    if s.starts_with("format is \"") {
        return Some("read/format");
    }
    if s.ends_with("bytes of lower-case hex (wrong length)")
        || s.ends_with("bytes of lower-case hex (not lower-case hex)")
    {
        return Some("read/hex");
    }
    if s.ends_with(" is not strict standard base64 (RFC 4648 §4 alphabet, with padding)") {
        return Some("read/base64");
    }
    None
}

fn head_rule(s: &str) -> Option<&'static str> {
    if let Some(r) = strict_rule(s) {
        return Some(match r {
            "duplicate-key" => "head/duplicate-key",
            "json-syntax" => "head/json-syntax",
            "number" => "head/number",
            "trailing-data" => "head/trailing-data",
            "unknown-field" => "head/unknown-field",
            "missing-field" => "head/missing-field",
            _ => "head/type",
        });
    }
    let starts = [
        ("no trusted keys were given", "head/no-trusted-keys"),
        ("payloadType is \"", "head/payload-type"),
        ("envelope has no signature", "head/no-signature"),
        ("signature is ", "head/signature-length"),
        ("signed by key ", "head/untrusted-key"),
        (
            "signature does not verify with trusted key ",
            "head/bad-signature",
        ),
        ("signature keyid ", "head/keyid-mismatch"),
        ("statement _type is \"", "head/statement-type"),
        ("statement predicateType is \"", "head/predicate-type"),
        ("statement subject does not match", "head/subject"),
        ("claim ", "head/claim"),
        ("integrity model \"", "head/claim-model"),
    ];
    if let Some((_, r)) = starts.iter().find(|(p, _)| s.starts_with(p)) {
        return Some(r);
    }
    if s.starts_with("envelope has ") && s.ends_with("a trace head carries exactly one") {
        return Some("head/too-many-signatures");
    }
    if s.ends_with(" is not strict standard base64 (RFC 4648 §4 alphabet, with padding)") {
        return Some("head/base64");
    }
    None
}

fn other_rule(s: &str) -> Option<&'static str> {
    // Fixed messages first (whole prefixes), then the step messages, which name an index.
    let starts = [
        ("integrity model ", "trace/model"),
        ("unknown integrity model ", "trace/model"),
        (
            "the trace row does not match the trace being verified",
            "trace/ids",
        ),
        ("sealed chain_length ", "trace/length"),
        ("sealed root_hash does not match", "trace/root"),
        ("the trace head is not signed", "trace/unsigned"),
        ("signed head is for another trace", "claims/ids"),
        ("signed chain_length ", "claims/chain-length"),
        ("signed chain head differs", "claims/chain-head"),
        ("signed Merkle root differs", "claims/merkle-root"),
        ("signed skill digests differ", "claims/skill-digests"),
        ("the bundle's skill_digests differ", "bundle/skill-digests"),
        (
            "the bundle's signed_head.statement differs",
            "bundle/statement",
        ),
        ("the bundle's component ", "bundle/component-digest"),
        ("the bundle carries component ", "bundle/component-unsigned"),
        ("tree_size ", "inclusion/tree-size"),
        (
            "step.payload is not strict standard base64",
            "inclusion/base64",
        ),
        ("step payload is not a step envelope", "inclusion/envelope"),
        (
            "the inclusion proof's signed_head.statement differs",
            "inclusion/statement",
        ),
    ];
    if s.starts_with("integrity model ") && s.contains("(a downgrade is refused)") {
        return Some("claims/model");
    }
    if let Some((_, r)) = starts.iter().find(|(p, _)| s.starts_with(p)) {
        return Some(r);
    }
    if s.starts_with("trace ") && s.contains(" is not sealed (status ") {
        return Some("trace/not-sealed");
    }
    if s.starts_with("trace status ") {
        return Some(if s.contains("differs from the status sealed in run.end") {
            "trace/run-end-status"
        } else {
            "claims/status"
        });
    }
    if s.starts_with("step ") && s.contains(" is not in the signed trace: ") {
        return Some(if s.contains("is outside a tree of") {
            "inclusion/index"
        } else if s.ends_with("does not lead to the expected root") {
            "inclusion/root"
        } else {
            "inclusion/path-length"
        });
    }
    let rest = s.strip_prefix("step_index ")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let rest = rest.get(digits..).filter(|_| digits > 0)?;
    let patterns = [
        (" is missing (next stored step is ", "step/index"),
        (" appears out of order or twice", "step/index"),
        (" carries the ids of another trace", "step/ids"),
        (" is missing: sealed chain_length is ", "trace/length"),
        (" is beyond the sealed chain_length ", "trace/length"),
        (" is not run.end: the trace is cut short", "trace/cut-short"),
        (" follows run.end", "step/after-run-end"),
        (": prev_hash is not a ", "step/digest-length"),
        (": hash is not a ", "step/digest-length"),
        (": prev_hash does not link", "step/link"),
        (": stored payload does not hash", "step/hash"),
        (": payload is not a step envelope", "step/envelope"),
        (": envelope version ", "step/version"),
        (": kind column ", "step/kind-column"),
        (": skill_name column ", "step/skill-column"),
        (": status column ", "step/status-column"),
        (": duration_ms column ", "step/duration-column"),
        (": cost_cents column ", "step/cost-column"),
        (": run.start does not list its skills", "step/run-start"),
        (": a second run.start", "step/second-run-start"),
    ];
    if rest.starts_with(" is ") && rest.ends_with(" but a trace starts with run.start") {
        return Some("step/first-kind");
    }
    patterns
        .iter()
        .find(|(p, _)| rest.starts_with(p))
        .map(|(_, r)| *r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_named_by_the_mapping_is_listed() {
        for (reason, rule) in [
            (
                "bundle rejected: bundle is not valid JSON: x",
                "read/json-syntax",
            ),
            (
                "bundle rejected: duplicate JSON key \"a\" in bundle",
                "read/duplicate-key",
            ),
            (
                "bundle rejected: bundle step has unknown field \"is malformed: \"",
                "read/unknown-field",
            ),
            (
                "bundle rejected: steps[2].hash is not 32 bytes of lower-case hex (wrong length)",
                "read/hex",
            ),
            (
                "inclusion proof rejected: audit_path[1] is not 32 bytes of lower-case hex (not lower-case hex)",
                "inclusion/hex",
            ),
            (
                "signed head rejected: envelope has 2 signatures; a trace head carries exactly one",
                "head/too-many-signatures",
            ),
            (
                "signed head rejected: signed by key abc, which is not trusted",
                "head/untrusted-key",
            ),
            (
                "step_index 3: status column \"failure\" differs from the hashed status",
                "step/status-column",
            ),
            (
                "step_index 3 is missing: sealed chain_length is 9, 3 steps stored",
                "trace/length",
            ),
            (
                "step_index 0 is host.log but a trace starts with run.start",
                "step/first-kind",
            ),
            (
                "trace status \"failed\" differs from the signed status \"succeeded\"",
                "claims/status",
            ),
            (
                "integrity model \"HASH_CHAIN\" differs from the signed \"MERKLE_TREE\" (a downgrade is refused)",
                "claims/model",
            ),
            ("integrity model NONE cannot be verified", "trace/model"),
            (
                "signed head rejected: predicate run is missing field \"goal\"",
                "head/missing-field",
            ),
            (
                "signed head rejected: claim sealed_at is missing; a v2 head states both sealed_at and run",
                "head/claim",
            ),
            (
                "step 4 is not in the signed trace: inclusion proof does not lead to the expected root",
                "inclusion/root",
            ),
        ] {
            assert_eq!(rule_of(reason), Some(rule), "{reason}");
            assert!(RULES.contains(&rule), "{rule}");
        }
        assert_eq!(rule_of("something else"), None);
        assert_eq!(rule_of("step_index x: hash is not a"), None);
    }
}
