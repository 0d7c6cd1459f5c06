//! The RFC 6962 tree: published test vectors, an independent naive implementation, the
//! streaming builder, and inclusion proofs against every kind of tampering.

use proptest::prelude::*;
use runproof_proof::Digest;
use runproof_proof::merkle::{
    MerkleBuilder, MerkleError, empty_root, hash_leaf_data, inclusion_proof, leaf_hash, node_hash,
    root_of, verify_inclusion,
};
use sha2::{Digest as _, Sha256};

fn h(hex_str: &str) -> Digest {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

// ── Published vectors ─────────────────────────────────────────────────────────────────
// Certificate Transparency's reference inputs (certificate-transparency merkle_tree_test,
// also transparency-dev/merkle): eight raw leaves and the tree head of every prefix.

const CT_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// `CT_ROOTS[n]` is the head of the tree of the first `n` leaves.
const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (0-based leaf index, tree size, audit path) from the same suite.
const CT_PATHS: [(u64, u64, &[&str]); 4] = [
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

fn ct_leaf_hashes() -> Vec<Digest> {
    CT_LEAVES
        .iter()
        .map(|l| hash_leaf_data(&hex::decode(l).unwrap()))
        .collect()
}

#[test]
fn roots_match_the_certificate_transparency_vectors() {
    let leaves = ct_leaf_hashes();
    assert_eq!(empty_root(), h(CT_ROOTS[0]));
    let mut builder = MerkleBuilder::new();
    assert_eq!(builder.root(), h(CT_ROOTS[0]));
    for n in 1..=leaves.len() {
        assert_eq!(root_of(&leaves[..n]), h(CT_ROOTS[n]), "root_of, size {n}");
        builder.push(leaves[n - 1]);
        assert_eq!(builder.root(), h(CT_ROOTS[n]), "builder, size {n}");
    }
}

#[test]
fn inclusion_proofs_match_the_certificate_transparency_vectors() {
    let leaves = ct_leaf_hashes();
    for (index, size, path) in CT_PATHS {
        let expected: Vec<Digest> = path.iter().map(|p| h(p)).collect();
        let got = inclusion_proof(&leaves[..size as usize], index).unwrap();
        assert_eq!(got, expected, "leaf {index} of {size}");
        let root = h(CT_ROOTS[size as usize]);
        verify_inclusion(&leaves[index as usize], index, size, &expected, &root).unwrap();
    }
}

// ── An independent, naive RFC 6962 over raw data ──────────────────────────────────────

fn sha(parts: &[&[u8]]) -> Digest {
    let mut s = Sha256::new();
    for p in parts {
        s.update(p);
    }
    s.finalize().into()
}

fn naive_k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// `MTH(D[n])`, transcribed from RFC 6962 §2.1.
fn naive_mth(data: &[Vec<u8>]) -> Digest {
    match data.len() {
        0 => sha(&[]),
        1 => sha(&[&[0x00], &data[0]]),
        n => {
            let k = naive_k(n);
            sha(&[&[0x01], &naive_mth(&data[..k]), &naive_mth(&data[k..])])
        }
    }
}

/// `PATH(m, D[n])`, transcribed from RFC 6962 §2.1.1.
fn naive_path(m: usize, data: &[Vec<u8>]) -> Vec<Digest> {
    let n = data.len();
    if n == 1 {
        return vec![];
    }
    let k = naive_k(n);
    if m < k {
        let mut p = naive_path(m, &data[..k]);
        p.push(naive_mth(&data[k..]));
        p
    } else {
        let mut p = naive_path(m - k, &data[k..]);
        p.push(naive_mth(&data[..k]));
        p
    }
}

fn step_data(i: u64, payload: &[u8]) -> Vec<u8> {
    let mut d = i.to_be_bytes().to_vec();
    d.extend((payload.len() as u64).to_be_bytes());
    d.extend(payload);
    d
}

fn payload(i: u64) -> Vec<u8> {
    format!(
        "{{\"step\":{i},\"pad\":\"{}\"}}",
        "x".repeat((i % 7) as usize)
    )
    .into_bytes()
}

#[test]
fn step_leaf_is_rfc6962_leaf_of_index_length_payload() {
    for i in [0u64, 1, 255, 256, u64::MAX] {
        let p = payload(i % 50);
        assert_eq!(leaf_hash(i, &p), sha(&[&[0x00], &step_data(i, &p)]));
    }
    let l = leaf_hash(0, b"a");
    assert_eq!(node_hash(&l, &l), sha(&[&[0x01], &l, &l]));
}

#[test]
fn root_builder_and_proofs_match_the_naive_transcription_up_to_70_leaves() {
    let data: Vec<Vec<u8>> = (0..70u64).map(|i| step_data(i, &payload(i))).collect();
    let leaves: Vec<Digest> = (0..70u64).map(|i| leaf_hash(i, &payload(i))).collect();
    let mut builder = MerkleBuilder::new();
    assert!(builder.is_empty());
    assert_eq!(root_of(&[]), naive_mth(&[]));
    for n in 1..=70usize {
        builder.push_step(&payload(n as u64 - 1));
        assert_eq!(builder.len(), n as u64);
        let naive = naive_mth(&data[..n]);
        assert_eq!(root_of(&leaves[..n]), naive, "root_of, size {n}");
        assert_eq!(builder.root(), naive, "builder, size {n}");
        for m in 0..n {
            assert_eq!(
                inclusion_proof(&leaves[..n], m as u64).unwrap(),
                naive_path(m, &data[..n]),
                "path {m} of {n}"
            );
        }
    }
}

#[test]
fn builder_equals_root_of_for_every_size_0_to_70() {
    let leaves: Vec<Digest> = (0..=70u64).map(|i| leaf_hash(i, &payload(i))).collect();
    for n in 0..=70usize {
        let mut b = MerkleBuilder::new();
        for l in &leaves[..n] {
            b.push(*l);
        }
        assert_eq!(b.root(), root_of(&leaves[..n]), "size {n}");
        assert_eq!(b.len(), n as u64);
        assert_eq!(b.is_empty(), n == 0);
    }
}

#[test]
fn builder_memory_is_logarithmic() {
    // The frontier holds one root per set bit of the size: its Debug form stays small.
    let mut b = MerkleBuilder::new();
    for i in 0..10_000u64 {
        b.push(leaf_hash(i, b""));
    }
    let roots = format!("{b:?}").matches('[').count() - 1; // one "[" for the Vec itself
    assert_eq!(roots, 10_000u32.count_ones() as usize);
}

#[test]
fn proof_of_missing_leaf_is_none() {
    let leaves: Vec<Digest> = (0..5u64).map(|i| leaf_hash(i, b"p")).collect();
    assert_eq!(inclusion_proof(&leaves, 5), None);
    assert_eq!(inclusion_proof(&leaves, u64::MAX), None);
    assert_eq!(inclusion_proof(&[], 0), None);
    assert_eq!(inclusion_proof(&leaves[..1], 0), Some(vec![]));
}

// ── Every proof verifies; every alteration fails ──────────────────────────────────────

/// Which side each sibling of leaf `m` sits on, bottom-up (true = left), from the RFC's
/// recursive definition: a proof is only meaningful together with its tree size.
fn naive_shape(m: u64, n: u64) -> Vec<bool> {
    if n == 1 {
        return vec![];
    }
    let k = naive_k(n as usize) as u64;
    let mut s = if m < k {
        naive_shape(m, k)
    } else {
        naive_shape(m - k, n - k)
    };
    s.push(m >= k);
    s
}

fn assert_rejected(r: Result<(), MerkleError>, what: &str) {
    assert!(r.is_err(), "{what} must not verify");
}

#[test]
fn every_proof_of_every_size_to_40_verifies_and_every_alteration_fails() {
    let leaves: Vec<Digest> = (0..40u64).map(|i| leaf_hash(i, &payload(i))).collect();
    for n in 1..=40u64 {
        let tree = &leaves[..n as usize];
        let root = root_of(tree);
        for i in 0..n {
            let leaf = leaves[i as usize];
            let proof = inclusion_proof(tree, i).unwrap();
            let ctx = format!("leaf {i} of {n}");
            verify_inclusion(&leaf, i, n, &proof, &root).unwrap_or_else(|e| panic!("{ctx}: {e}"));

            // Any byte of the leaf, of any proof hash, of the root (every byte up to 16 leaves,
            // both ends and the middle beyond, to keep a debug run quick).
            let bytes: Vec<usize> = if n <= 16 {
                (0..32).collect()
            } else {
                vec![0, 15, 31]
            };
            for byte in bytes {
                let mut l = leaf;
                l[byte] ^= 0x01;
                assert_eq!(
                    verify_inclusion(&l, i, n, &proof, &root),
                    Err(MerkleError::RootMismatch),
                    "{ctx}"
                );
                let mut r = root;
                r[byte] ^= 0x80;
                assert_eq!(
                    verify_inclusion(&leaf, i, n, &proof, &r),
                    Err(MerkleError::RootMismatch),
                    "{ctx}"
                );
                for k in 0..proof.len() {
                    let mut p = proof.clone();
                    p[k][byte] ^= 0x10;
                    assert_eq!(
                        verify_inclusion(&leaf, i, n, &p, &root),
                        Err(MerkleError::RootMismatch),
                        "{ctx}"
                    );
                }
            }
            // Another leaf's hash, the root itself, a leaf not hashed as a step.
            for other in (0..n).filter(|&j| j != i) {
                assert_rejected(
                    verify_inclusion(&leaves[other as usize], i, n, &proof, &root),
                    &ctx,
                );
            }
            if n > 1 {
                // (In a one-leaf tree the root is the leaf.)
                assert_rejected(verify_inclusion(&root, i, n, &proof, &root), &ctx);
            }
            assert_rejected(
                verify_inclusion(&hash_leaf_data(&payload(i)), i, n, &proof, &root),
                &ctx,
            );
            assert_rejected(
                verify_inclusion(&leaf_hash(i + 1, &payload(i)), i, n, &proof, &root),
                &ctx,
            );

            // Any other index in the same tree.
            for j in (0..n + 3).filter(|&j| j != i) {
                assert_rejected(
                    verify_inclusion(&leaf, j, n, &proof, &root),
                    &format!("{ctx} as index {j}"),
                );
            }
            assert_rejected(verify_inclusion(&leaf, u64::MAX, n, &proof, &root), &ctx);

            // Another tree size. RFC 6962 proofs do not encode the size: the same proof is
            // accepted for a size whose path has the same shape (leaf 4 of 7 and of 8 both
            // climb right, right, left). That is why a root is only ever used together with
            // the size it was signed with. Every other size fails.
            for m in (1..=2 * n + 2).filter(|&m| m != n) {
                let r = verify_inclusion(&leaf, i, m, &proof, &root);
                if i < m && naive_shape(i, m) == naive_shape(i, n) {
                    assert!(r.is_ok(), "{ctx} as size {m}: same shape, same computation");
                } else {
                    assert_rejected(r, &format!("{ctx} as size {m}"));
                }
            }
            assert_rejected(verify_inclusion(&leaf, i, 0, &proof, &root), &ctx);
            assert_rejected(verify_inclusion(&leaf, i, u64::MAX, &proof, &root), &ctx);

            // Truncated, extended, prepended, reordered, emptied.
            if !proof.is_empty() {
                assert!(matches!(
                    verify_inclusion(&leaf, i, n, &proof[..proof.len() - 1], &root),
                    Err(MerkleError::ProofLength { .. })
                ));
                assert!(matches!(
                    verify_inclusion(&leaf, i, n, &[], &root),
                    Err(MerkleError::ProofLength { .. })
                ));
                assert!(matches!(
                    verify_inclusion(&leaf, i, n, &proof[1..], &root),
                    Err(MerkleError::ProofLength { .. })
                ));
            }
            for extra in [root, leaf, [0u8; 32]] {
                let mut longer = proof.clone();
                longer.push(extra);
                assert!(matches!(
                    verify_inclusion(&leaf, i, n, &longer, &root),
                    Err(MerkleError::ProofLength { .. })
                ));
                let mut prefixed = vec![extra];
                prefixed.extend(&proof);
                assert!(matches!(
                    verify_inclusion(&leaf, i, n, &prefixed, &root),
                    Err(MerkleError::ProofLength { .. })
                ));
            }
            if proof.len() > 1 {
                let mut swapped = proof.clone();
                swapped.swap(0, 1);
                assert_rejected(verify_inclusion(&leaf, i, n, &swapped, &root), &ctx);
            }
        }
    }
}

#[test]
fn same_shape_sizes_exist_so_sizes_must_be_signed() {
    // Documents the RFC 6962 property the test above allows for.
    let leaves: Vec<Digest> = (0..8u64).map(|i| leaf_hash(i, b"s")).collect();
    let root7 = root_of(&leaves[..7]);
    let proof = inclusion_proof(&leaves[..7], 4).unwrap();
    assert!(verify_inclusion(&leaves[4], 4, 8, &proof, &root7).is_ok());
    // ... but no 8-leaf tree of these steps has that root.
    assert_ne!(root_of(&leaves), root7);
}

#[test]
fn out_of_range_and_empty_trees_fail_cleanly() {
    let l = leaf_hash(0, b"x");
    assert_eq!(
        verify_inclusion(&l, 0, 0, &[], &empty_root()),
        Err(MerkleError::IndexOutOfRange {
            index: 0,
            tree_size: 0
        })
    );
    assert_eq!(
        verify_inclusion(&l, 1, 1, &[], &l),
        Err(MerkleError::IndexOutOfRange {
            index: 1,
            tree_size: 1
        })
    );
    assert_eq!(verify_inclusion(&l, 0, 1, &[], &l), Ok(()));
    assert_eq!(
        verify_inclusion(&l, 0, 1, &[l], &l),
        Err(MerkleError::ProofLength {
            index: 0,
            tree_size: 1,
            expected: 0,
            actual: 1
        })
    );
    // Huge trees: the right number of hashes, which just do not lead to the root.
    let proof = vec![l; 64];
    assert_eq!(
        verify_inclusion(&l, 0, u64::MAX, &proof, &l),
        Err(MerkleError::RootMismatch)
    );
    assert_eq!(
        verify_inclusion(&l, u64::MAX - 1, u64::MAX, &proof[..63], &l),
        Err(MerkleError::RootMismatch)
    );
    let e = verify_inclusion(&l, u64::MAX - 1, u64::MAX, &proof, &l).unwrap_err();
    assert_eq!(
        e,
        MerkleError::ProofLength {
            index: u64::MAX - 1,
            tree_size: u64::MAX,
            expected: 63,
            actual: 64
        }
    );
    assert_eq!(e.to_string().lines().count(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verify_inclusion_never_panics(
        leaf in any::<[u8; 32]>(),
        index in any::<u64>(),
        size in any::<u64>(),
        proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        root in any::<[u8; 32]>(),
    ) {
        let _ = verify_inclusion(&leaf, index, size, &proof, &root);
        let _ = verify_inclusion(&leaf, index % (size.max(1)), size, &proof, &root);
    }

    #[test]
    fn random_trees_prove_every_leaf_and_reject_a_flipped_bit(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..120),
        pick in any::<prop::sample::Index>(),
        bit in 0usize..256,
    ) {
        let leaves: Vec<Digest> = payloads.iter().enumerate().map(|(i, p)| leaf_hash(i as u64, p)).collect();
        let n = leaves.len() as u64;
        let root = root_of(&leaves);
        let mut b = MerkleBuilder::new();
        for p in &payloads {
            b.push_step(p);
        }
        prop_assert_eq!(b.root(), root);
        let i = pick.index(leaves.len());
        let proof = inclusion_proof(&leaves, i as u64).unwrap();
        prop_assert!(verify_inclusion(&leaves[i], i as u64, n, &proof, &root).is_ok());
        let mut bad_root = root;
        bad_root[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(verify_inclusion(&leaves[i], i as u64, n, &proof, &bad_root).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let k = bit % bad.len();
            bad[k][bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_inclusion(&leaves[i], i as u64, n, &bad, &root).is_err());
        }
    }
}
