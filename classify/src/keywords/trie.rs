//! A byte trie of patterns, with a filter on their first characters.
//!
//! The trie is laid out breadth first so that a node's children are consecutive: per node
//! its first child and the pattern that ends there (8 bytes), and the byte that leads to it
//! (1 byte). It is built in one pass per depth over the sorted patterns, with no per-node
//! allocation, and walked byte by byte from a starting point of the text.
//!
//! Most positions of a text begin no pattern, and a walk through the trie's cold memory is
//! a cache miss or two a byte, so two things spare them the walk:
//!
//! - a *filter*: a bit set, 16 bits per pattern, over a hash of the patterns' first
//!   [`DEEP`] characters (a *deep* trie, all of whose patterns are that long) or first
//!   character (a *shallow* one, for the few shorter patterns). A position whose next
//!   characters hash to a clear bit begins no pattern: one bit test, no false negatives;
//! - in a deep trie, a *jump table* from those first characters to the node they lead to,
//!   so a walk that does start begins [`DEEP`] characters down (eight bytes of a Cyrillic or
//!   Arabic word) with one lookup. Past four characters few patterns share a beginning,
//!   so the walk then mostly ends within a byte or two.

const NONE: u32 = u32::MAX;

/// How many leading characters a deep trie's filter and jump table look at.
pub(super) const DEEP: usize = 4;

/// A character value that is no character: the text's end.
pub(super) const NO_CHAR: u32 = 0x1F_FFFF;

#[derive(Clone, Copy)]
struct Node {
    /// Index of the first child; the children run to the next node's `first_child`.
    first_child: u32,
    /// The pattern that ends here, or [`NONE`].
    pattern: u32,
}

/// Up to [`DEEP`] characters (21 bits each), packed without loss: 84 bits.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    low: u64,
    high: u32,
}

impl Key {
    #[inline]
    fn of(chars: &[u32]) -> Key {
        let mut packed = 0u128;
        for (i, &c) in chars.iter().enumerate() {
            packed |= (c as u128) << (21 * i);
        }
        Key {
            low: packed as u64,
            high: (packed >> 64) as u32,
        }
    }

    /// A 64-bit hash whose top bits index the filter and the jump table.
    #[inline]
    fn hash(self) -> u64 {
        (self.low ^ (self.high as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

/// A position of the text as the tries look at it, worked out once for all of them.
pub(super) struct Start {
    /// The key and hash of the next [`DEEP`] characters and their length in bytes; `None`
    /// when the text ends sooner.
    deep: Option<(Key, u64, usize)>,
    /// The hash of the next character alone.
    first: u64,
}

impl Start {
    /// From the text's next [`DEEP`] characters ([`NO_CHAR`] past its end) and their
    /// lengths in bytes.
    #[inline]
    pub(super) fn new(chars: &[u32; DEEP], lens: &[usize; DEEP]) -> Start {
        let deep = (chars[DEEP - 1] != NO_CHAR).then(|| {
            let key = Key::of(chars);
            (key, key.hash(), lens.iter().sum())
        });
        Start {
            deep,
            first: Key::of(&chars[..1]).hash(),
        }
    }
}

/// A jump-table slot (16 bytes): a [`Key`] and its node; empty when `node` is [`NONE`].
#[derive(Clone, Copy)]
struct Slot {
    low: u64,
    high: u32,
    node: u32,
}

impl Slot {
    fn key(self) -> Key {
        Key {
            low: self.low,
            high: self.high,
        }
    }
}

pub(super) struct Trie {
    /// Every pattern has at least [`DEEP`] characters: filter and jump on that many.
    deep: bool,
    /// Bit set over the hashes of the patterns' beginnings, indexed by the top bits.
    filter: Vec<u64>,
    filter_shift: u32,
    /// Deep tries: open addressing (linear probing, at most 3/4 full) from the first
    /// [`DEEP`] characters to the node they lead to. Keys are compared whole.
    jump: Vec<Slot>,
    jump_shift: u32,
    /// Breadth-first; `nodes[0]` is the root, and one more node at the end closes the last
    /// node's children.
    nodes: Vec<Node>,
    /// The byte leading to each node, in ascending order among siblings.
    labels: Vec<u8>,
    /// The root's child for each first byte, or [`NONE`].
    root: Box<[u32; 256]>,
}

impl Trie {
    /// The trie of `keys` (sorted, distinct, none empty) with pattern number `ids[i]` for
    /// `keys[i]`; deep when every key has at least [`DEEP`] characters. Node counts must
    /// fit in `u32`: the caller holds all keys under 4 GB.
    pub(super) fn new(keys: &[&[u8]], ids: &[u32]) -> Trie {
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let mut nodes = vec![Node {
            first_child: 1,
            pattern: NONE,
        }];
        let mut labels = vec![0u8];
        // The key ranges of the nodes of the current depth, in node order.
        let mut level: Vec<(u32, u32)> = vec![(0, keys.len() as u32)];
        let mut level_start = 0usize;
        let mut depth = 0usize;
        while !level.is_empty() {
            let mut next = Vec::new();
            for (k, &(lo, hi)) in level.iter().enumerate() {
                nodes[level_start + k].first_child = nodes.len() as u32;
                let (mut i, hi) = (lo as usize, hi as usize);
                // A key that ends at this node sorts first among those below it.
                if i < hi && keys[i].len() == depth {
                    i += 1;
                }
                while i < hi {
                    let b = keys[i][depth];
                    let mut j = i + 1;
                    while j < hi && keys[j][depth] == b {
                        j += 1;
                    }
                    let ends = keys[i].len() == depth + 1;
                    nodes.push(Node {
                        first_child: 0,
                        pattern: if ends { ids[i] } else { NONE },
                    });
                    labels.push(b);
                    next.push((i as u32, j as u32));
                    i = j;
                }
            }
            level_start += level.len();
            level = next;
            depth += 1;
        }
        let end = nodes.len() as u32;
        nodes.push(Node {
            first_child: end,
            pattern: NONE,
        });
        nodes.shrink_to_fit();
        labels.shrink_to_fit();
        let mut root = Box::new([NONE; 256]);
        for n in nodes[0].first_child..nodes[1].first_child {
            root[labels[n as usize] as usize] = n;
        }

        let texts = || {
            keys.iter()
                .map(|k| std::str::from_utf8(k).expect("patterns are text"))
        };
        let deep = texts().all(|t| t.chars().nth(DEEP - 1).is_some());
        // 16 bits per pattern, 2^16 to 2^24 (8 KB to 2 MB).
        let bits = (keys.len() * 16)
            .next_power_of_two()
            .clamp(1 << 16, 1 << 24);
        // At most three quarters full, counting distinct beginnings (keys are sorted, so
        // one beginning's keys are adjacent).
        fn beginning<'k>(k: &&'k [u8]) -> &'k [u8] {
            let text = std::str::from_utf8(k).expect("patterns are text");
            &k[..text.chars().take(DEEP).map(char::len_utf8).sum::<usize>()]
        }
        let beginnings = if deep {
            1 + keys
                .windows(2)
                .filter(|w| beginning(&w[0]) != beginning(&w[1]))
                .count()
        } else {
            0
        };
        let slots = if deep {
            (beginnings * 4 / 3 + 1).next_power_of_two().max(16)
        } else {
            0
        };
        let mut t = Trie {
            deep,
            filter: vec![0; bits / 64],
            filter_shift: 64 - bits.trailing_zeros(),
            jump: vec![
                Slot {
                    low: 0,
                    high: 0,
                    node: NONE
                };
                slots
            ],
            jump_shift: 64 - slots.max(1).trailing_zeros(),
            nodes,
            labels,
            root,
        };
        for (k, text) in keys.iter().zip(texts()) {
            let n = if deep { DEEP } else { 1 };
            let chars: Vec<u32> = text.chars().take(n).map(u32::from).collect();
            let key = Key::of(&chars);
            let i = (key.hash() >> t.filter_shift) as usize;
            t.filter[i / 64] |= 1 << (i % 64);
            if deep {
                let len: usize = text.chars().take(DEEP).map(char::len_utf8).sum();
                let node = t.descend(&k[..len]).expect("the pattern is in the trie");
                t.insert_jump(key, node);
            }
        }
        t
    }

    /// The node `path` leads to from the root.
    fn descend(&self, path: &[u8]) -> Option<u32> {
        let mut n = self.root[*path.first()? as usize];
        for &b in &path[1..] {
            if n == NONE {
                return None;
            }
            let (a, z) = self.children(n);
            n = find(&self.labels[a..z], b).map_or(NONE, |k| (a + k) as u32);
        }
        (n != NONE).then_some(n)
    }

    #[inline]
    fn children(&self, n: u32) -> (usize, usize) {
        (
            self.nodes[n as usize].first_child as usize,
            self.nodes[n as usize + 1].first_child as usize,
        )
    }

    fn insert_jump(&mut self, key: Key, node: u32) {
        let mask = self.jump.len() - 1;
        let mut i = (key.hash() >> self.jump_shift) as usize;
        while self.jump[i].node != NONE {
            if self.jump[i].key() == key {
                return;
            }
            i = (i + 1) & mask;
        }
        self.jump[i] = Slot {
            low: key.low,
            high: key.high,
            node,
        };
    }

    #[inline]
    fn jump_to(&self, key: Key, hash: u64) -> Option<u32> {
        let mask = self.jump.len() - 1;
        let mut i = (hash >> self.jump_shift) as usize;
        loop {
            let slot = self.jump[i];
            if slot.node == NONE {
                return None;
            }
            if slot.key() == key {
                return Some(slot.node);
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn passes(&self, hash: u64) -> bool {
        let i = (hash >> self.filter_shift) as usize;
        self.filter[i / 64] >> (i % 64) & 1 == 1
    }

    /// Calls `f(length, pattern)` for every key that is a prefix of `text`, shortest first;
    /// `start` describes the text's first characters.
    #[inline(always)]
    pub(super) fn prefixes_at(&self, text: &[u8], start: &Start, mut f: impl FnMut(usize, u32)) {
        if self.deep {
            if let Some((key, hash, len)) = start.deep {
                if self.passes(hash) {
                    if let Some(n) = self.jump_to(key, hash) {
                        self.walk(n, text, len, &mut f);
                    }
                }
            }
        } else if self.passes(start.first) {
            self.walk(self.root[text[0] as usize], text, 1, &mut f);
        }
    }

    /// From node `n`, reached by `text[..len]`, onwards along `text`, reporting each
    /// pattern that ends on the way.
    #[inline]
    fn walk(&self, mut n: u32, text: &[u8], mut len: usize, f: &mut impl FnMut(usize, u32)) {
        while n != NONE {
            let node = self.nodes[n as usize];
            if node.pattern != NONE {
                f(len, node.pattern);
            }
            let Some(&b) = text.get(len) else {
                return;
            };
            let (a, z) = (
                node.first_child as usize,
                self.nodes[n as usize + 1].first_child as usize,
            );
            n = match find(&self.labels[a..z], b) {
                Some(k) => (a + k) as u32,
                None => NONE,
            };
            len += 1;
        }
    }

    /// Every key that is a prefix of `text`, shortest first, by a plain walk from the root
    /// (what [`Trie::prefixes_at`] must agree with).
    #[cfg(test)]
    pub(super) fn prefixes_of(&self, text: &[u8], mut f: impl FnMut(usize, u32)) {
        if let Some(&first) = text.first() {
            self.walk(self.root[first as usize], text, 1, &mut f);
        }
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub(super) fn memory_usage(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.labels.capacity()
            + self.filter.capacity() * 8
            + self.jump.capacity() * std::mem::size_of::<Slot>()
            + 256 * 4
    }
}

/// The position of `b` in ascending `labels`.
#[inline]
fn find(labels: &[u8], b: u8) -> Option<usize> {
    if labels.len() <= 16 {
        labels.iter().position(|&l| l == b)
    } else {
        labels.binary_search(&b).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key that is a prefix of `text`, by the plain walk, after checking that the
    /// filtered walk with the jump table finds the same.
    fn all_prefixes(t: &Trie, text: &[u8]) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        t.prefixes_of(text, |l, p| out.push((l, p)));
        let s = std::str::from_utf8(text).unwrap();
        let mut chars = s.chars();
        let first: [Option<char>; DEEP] = std::array::from_fn(|_| chars.next());
        let mut fast = Vec::new();
        if first[0].is_some() {
            let start = Start::new(
                &first.map(|c| c.map_or(NO_CHAR, u32::from)),
                &first.map(|c| c.map_or(0, char::len_utf8)),
            );
            t.prefixes_at(text, &start, |l, p| fast.push((l, p)));
        }
        assert_eq!(fast, out, "{s:?}");
        out
    }

    #[test]
    fn finds_every_key_that_is_a_prefix() {
        let keys: Vec<&[u8]> = vec![b"a", b"ab", b"abc", b"abd", b"b", b"bcd", b"c\xd0\xb0"];
        let ids: Vec<u32> = (10..17).collect();
        let t = Trie::new(&keys, &ids);
        assert!(!t.deep);
        assert_eq!(all_prefixes(&t, b"abcz"), [(1, 10), (2, 11), (3, 12)]);
        assert_eq!(all_prefixes(&t, b"abd"), [(1, 10), (2, 11), (3, 13)]);
        assert_eq!(all_prefixes(&t, b"bc"), [(1, 14)]);
        assert_eq!(all_prefixes(&t, b"bcde"), [(1, 14), (3, 15)]);
        assert_eq!(all_prefixes(&t, "cа".as_bytes()), [(3, 16)]);
        assert_eq!(all_prefixes(&t, b"c"), []);
        assert_eq!(all_prefixes(&t, b"zzz"), []);
        assert_eq!(all_prefixes(&t, b""), []);
        assert!(t.memory_usage() > 0);
    }

    #[test]
    fn deep_tries_jump_four_characters_down() {
        let owned = [
            "абвг",
            "абвгд",
            "абвгде",
            "абвдее",
            "abcd",
            "abcdef",
            "伊斯兰国",
        ];
        let mut keys: Vec<&[u8]> = owned.iter().map(|s| s.as_bytes()).collect();
        keys.sort();
        let ids: Vec<u32> = (0..keys.len() as u32).collect();
        let t = Trie::new(&keys, &ids);
        assert!(t.deep);
        let id = |s: &str| keys.iter().position(|k| *k == s.as_bytes()).unwrap() as u32;
        let at = |s: &str| all_prefixes(&t, s.as_bytes());
        assert_eq!(
            at("абвгдеж"),
            [(8, id("абвг")), (10, id("абвгд")), (12, id("абвгде"))]
        );
        assert_eq!(at("абвдее"), [(12, id("абвдее"))]);
        assert_eq!(at("абв"), []);
        assert_eq!(at("abcdefg"), [(4, id("abcd")), (6, id("abcdef"))]);
        assert_eq!(at("abce"), []);
        assert_eq!(at("伊斯兰国的"), [(12, id("伊斯兰国"))]);
    }

    #[test]
    fn the_filter_turns_most_other_starts_away() {
        let owned: Vec<String> = (0..1000).map(|i| format!("{i:04}xyz")).collect();
        let mut keys: Vec<&[u8]> = owned.iter().map(|s| s.as_bytes()).collect();
        keys.sort();
        let ids: Vec<u32> = (0..1000).collect();
        let t = Trie::new(&keys, &ids);
        assert!(t.deep);
        let mut passed = 0;
        for a in 'a'..='z' {
            for b in 'a'..='z' {
                for c in 'a'..='z' {
                    let key = Key::of(&[a.into(), b.into(), c.into(), 'q'.into()]);
                    passed += t.passes(key.hash()) as usize;
                    assert_eq!(t.jump_to(key, key.hash()), None);
                }
            }
        }
        // 17,576 starts that begin no key; 16 bits per key lets about 1 in 16 through.
        assert!(passed < 17_576 / 8, "{passed}");
    }

    #[test]
    fn wide_nodes_are_searched_too() {
        // 96 children under "x", 64 under "xж"'s lead byte: binary searches.
        let mut owned: Vec<String> = (0x20u8..0x80)
            .map(|b| format!("x{}yy", b as char))
            .collect();
        owned.extend(('\u{400}'..'\u{440}').map(|c| format!("x{c}yy")));
        owned.sort();
        let keys: Vec<&[u8]> = owned.iter().map(|s| s.as_bytes()).collect();
        let ids: Vec<u32> = (0..keys.len() as u32).collect();
        let t = Trie::new(&keys, &ids);
        assert!(t.deep);
        for (i, k) in owned.iter().enumerate() {
            assert_eq!(
                all_prefixes(&t, format!("{k}y").as_bytes()),
                [(k.len(), i as u32)]
            );
            let three: String = k.chars().take(3).collect();
            assert_eq!(all_prefixes(&t, three.as_bytes()), []);
        }
    }
}
