//! RFC 6962 (§2.1) Merkle tree hashing over the custody log: leaf hash `SHA-256(0x00 ‖ entry)`,
//! interior hash `SHA-256(0x01 ‖ left ‖ right)`, the largest power of two strictly below `n`
//! splitting a tree of `n` leaves. [`CompactRange`] keeps the tree head of a growing log in
//! O(log n) memory; [`inclusion_proof`] and [`verify_inclusion`] are the audit paths of
//! RFC 6962 §2.1.1 and the verification algorithm of RFC 9162 §2.1.3.2.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// The hash of an empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The perfect subtrees covering leaves `0..size`, largest first: enough to extend the tree and
/// to compute its root without keeping the leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    /// Roots of perfect subtrees, left to right, sizes strictly decreasing powers of two.
    peaks: Vec<Hash>,
}

impl CompactRange {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = leaf;
        let mut size = self.size;
        // Each trailing 1 bit of the old size is a peak of equal height to merge with.
        while size & 1 == 1 {
            let left = self.peaks.pop().expect("a peak for every set bit");
            node = node_hash(&left, &node);
            size >>= 1;
        }
        self.peaks.push(node);
        self.size += 1;
    }

    /// The RFC 6962 tree head of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut it = self.peaks.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, peak| node_hash(peak, &acc)),
        }
    }
}

/// The root of `leaves` (MTH of RFC 6962).
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly smaller than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The audit path for leaf `index` in the tree of `leaves` (PATH of RFC 6962 §2.1.1), from the
/// leaf's sibling up to the root's child.
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Vec<Hash> {
    assert!(
        index < leaves.len(),
        "leaf {index} outside a tree of {}",
        leaves.len()
    );
    let mut path = Vec::new();
    let (mut lo, mut hi, mut m) = (0usize, leaves.len(), index);
    // Walk down from the root, remembering the sibling subtree at every split.
    let mut siblings = Vec::new();
    while hi - lo > 1 {
        let k = split(hi - lo);
        if m < k {
            siblings.push(root_of(&leaves[lo + k..hi]));
            hi = lo + k;
        } else {
            siblings.push(root_of(&leaves[lo..lo + k]));
            lo += k;
            m -= k;
        }
    }
    // PATH lists the bottom sibling first.
    while let Some(s) = siblings.pop() {
        path.push(s);
    }
    path
}

/// Checks an audit path (RFC 9162 §2.1.3.2): does leaf `leaf` at `index` belong to the tree of
/// `size` leaves whose root is `root`?
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn compact_range_matches_the_recursive_definition() {
        let all = leaves(70);
        let mut c = CompactRange::new();
        assert_eq!(c.root(), empty_root());
        for (i, l) in all.iter().enumerate() {
            c.push(*l);
            assert_eq!(c.root(), root_of(&all[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn certificate_transparency_test_vectors() {
        // The leaves and roots of the reference Merkle tree tests of Certificate Transparency.
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
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut c = CompactRange::new();
        for (input, root) in inputs.iter().zip(roots) {
            c.push(leaf_hash(input));
            assert_eq!(hex::encode(c.root()), root, "size {}", c.size());
        }
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn every_proof_verifies_and_a_wrong_one_does_not() {
        for n in 1..40 {
            let all = leaves(n);
            let root = root_of(&all);
            for i in 0..n {
                let path = inclusion_proof(i, &all);
                assert!(
                    verify_inclusion(i as u64, n as u64, &all[i], &path, &root),
                    "{i}/{n}"
                );
                // Another leaf or another position must fail. (The size is bound to the root
                // by the signed checkpoint, not by the path.)
                let other = leaf_hash(b"forged");
                assert!(!verify_inclusion(i as u64, n as u64, &other, &path, &root));
                if n > 1 {
                    let j = (i + 1) % n;
                    assert!(!verify_inclusion(j as u64, n as u64, &all[i], &path, &root));
                }
                assert!(!verify_inclusion(n as u64, n as u64, &all[i], &path, &root));
            }
        }
    }
}
