//! RFC 6962 test vectors (the 8-leaf tree from Certificate Transparency's reference
//! implementations) and property tests for proofs.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use proptest::prelude::*;

use super::*;
use crate::hash::leaf_hash;

fn h(s: &str) -> Hash {
    s.parse().unwrap()
}

fn leaves() -> Vec<Hash> {
    let inputs: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    inputs.iter().map(|d| leaf_hash(d)).collect()
}

const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn roots_match_rfc6962_vectors() {
    let leaves = leaves();
    assert_eq!(
        root(&[]).to_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let mut frontier = Frontier::new();
    for (i, want) in ROOTS.iter().enumerate() {
        assert_eq!(root(&leaves[..=i]).to_hex(), *want, "size {}", i + 1);
        frontier.push(leaves[i]);
        assert_eq!(frontier.root().to_hex(), *want, "frontier size {}", i + 1);
    }
}

#[test]
fn inclusion_proofs_match_rfc6962_vectors() {
    let leaves = leaves();
    let cases: [(u64, usize, &[&str]); 4] = [
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
    for (index, size, want) in cases {
        let proof = inclusion_proof(&leaves[..size], index).unwrap();
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        assert_eq!(proof, want, "leaf {index} size {size}");
        let r = h(ROOTS[size - 1]);
        assert!(verify_inclusion(
            index,
            size as u64,
            &leaves[index as usize],
            &proof,
            &r
        ));
    }
}

#[test]
fn consistency_proofs_match_rfc6962_vectors() {
    let leaves = leaves();
    let cases: [(u64, usize, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (old, size, want) in cases {
        let proof = consistency_proof(&leaves[..size], old).unwrap();
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        assert_eq!(proof, want, "{old} -> {size}");
        let (r_old, r_new) = (h(ROOTS[old as usize - 1]), h(ROOTS[size - 1]));
        assert!(verify_consistency(old, size as u64, &r_old, &r_new, &proof));
    }
}

#[test]
fn out_of_range_requests_are_errors() {
    let leaves = leaves();
    assert!(inclusion_proof(&leaves, 8).is_err());
    assert!(consistency_proof(&leaves, 0).is_err());
    assert!(consistency_proof(&leaves, 9).is_err());
    assert!(!verify_inclusion(8, 8, &leaves[0], &[], &h(ROOTS[7])));
}

fn flip(hashes: &mut [Hash], bit: usize) {
    let n = hashes.len() * 256;
    let bit = bit % n;
    hashes[bit / 256].0[(bit % 256) / 8] ^= 1 << (bit % 8);
}

fn tree(size: usize) -> Vec<Hash> {
    (0..size)
        .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
        .collect()
}

proptest! {
    #[test]
    fn every_inclusion_proof_verifies_and_any_flipped_bit_fails(
        size in 1usize..300, index_seed in any::<usize>(), bit in any::<usize>()
    ) {
        let leaves = tree(size);
        let index = index_seed % size;
        let r = root(&leaves);
        let proof = inclusion_proof(&leaves, index as u64).unwrap();
        prop_assert!(verify_inclusion(index as u64, size as u64, &leaves[index], &proof, &r));

        // Flip one bit anywhere in (leaf, proof, root).
        let mut all = vec![leaves[index]];
        all.extend(proof.iter().copied());
        all.push(r);
        flip(&mut all, bit);
        let (leaf, rest) = all.split_first().unwrap();
        let (r2, proof2) = rest.split_last().unwrap();
        prop_assert!(!verify_inclusion(index as u64, size as u64, leaf, proof2, r2));
    }

    #[test]
    fn every_consistency_proof_verifies_and_any_flipped_bit_fails(
        size in 1usize..300, old_seed in any::<usize>(), bit in any::<usize>()
    ) {
        let leaves = tree(size);
        let old = old_seed % size + 1;
        let (r_old, r_new) = (root(&leaves[..old]), root(&leaves));
        let proof = consistency_proof(&leaves, old as u64).unwrap();
        prop_assert!(verify_consistency(old as u64, size as u64, &r_old, &r_new, &proof));

        let mut all = vec![r_old, r_new];
        all.extend(proof.iter().copied());
        flip(&mut all, bit);
        prop_assert!(!verify_consistency(old as u64, size as u64, &all[0], &all[1], &all[2..]));
    }

    #[test]
    fn frontier_root_equals_recursive_root(size in 0usize..200) {
        let leaves = tree(size);
        let mut f = Frontier::new();
        for l in &leaves {
            f.push(*l);
        }
        prop_assert_eq!(f.root(), root(&leaves));
        prop_assert_eq!(f.size(), size as u64);
    }
}
