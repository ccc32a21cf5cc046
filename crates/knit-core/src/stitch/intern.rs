// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Interning `(id type, value)` keys into dense node ids.
//!
//! Keys are found by a 64-bit fingerprint in a map from fingerprint to node; the key
//! bytes are appended once to an arena, so a key seen again costs a hash and a
//! comparison, and no allocation. Two different keys with one fingerprint are told
//! apart by comparing the bytes: the later one goes to a small map of collided keys,
//! so no two keys are ever merged.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Passes a fingerprint through as its own hash: it is one already.
#[derive(Debug, Default)]
struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else in all the same.
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type FingerprintMap = HashMap<u64, u32, BuildHasherDefault<FingerprintHasher>>;

/// The fingerprint of a key: a fast 64-bit hash of the type and the value bytes.
pub fn fingerprint(id_type: u16, value: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (u64::from(id_type) << 48 ^ value.len() as u64).wrapping_mul(K);
    let mut chunks = value.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(23) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    // Final avalanche (from MurmurHash3's fmix64).
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Dense ids for `(id type, value)` keys, in order of first sight.
#[derive(Debug)]
pub struct Interner {
    fingerprint: fn(u16, &[u8]) -> u64,
    by_fingerprint: FingerprintMap,
    collided: HashMap<(u16, Box<[u8]>), u32>,
    arena: Vec<u8>,
    /// Per node: (start in the arena, length, id type).
    keys: Vec<(usize, u32, u16)>,
}

impl Default for Interner {
    fn default() -> Self {
        Self::with_fingerprint(fingerprint)
    }
}

impl Interner {
    /// An interner with another fingerprint function (tests use a bad one on purpose).
    pub fn with_fingerprint(fingerprint: fn(u16, &[u8]) -> u64) -> Self {
        Self {
            fingerprint,
            by_fingerprint: FingerprintMap::default(),
            collided: HashMap::new(),
            arena: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// The node id of a key, new or known.
    pub fn intern(&mut self, id_type: u16, value: &[u8]) -> u32 {
        let fp = (self.fingerprint)(id_type, value);
        let next = self.keys.len() as u32;
        let node = *self.by_fingerprint.entry(fp).or_insert(next);
        if node == next {
            self.push(id_type, value);
            return node;
        }
        if self.key(node) == (id_type, value) {
            return node;
        }
        // Same fingerprint, different key: keep the keys apart.
        if let Some(&node) = self.collided.get(&(id_type, value.into())) {
            return node;
        }
        let node = self.push(id_type, value);
        self.collided.insert((id_type, value.into()), node);
        node
    }

    fn push(&mut self, id_type: u16, value: &[u8]) -> u32 {
        let node = self.keys.len() as u32;
        self.keys
            .push((self.arena.len(), value.len() as u32, id_type));
        self.arena.extend_from_slice(value);
        node
    }

    /// The key of a node.
    pub fn key(&self, node: u32) -> (u16, &[u8]) {
        let (start, len, id_type) = self.keys[node as usize];
        (id_type, &self.arena[start..start + len as usize])
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True before the first key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys shared a fingerprint with an earlier key.
    pub fn collisions(&self) -> usize {
        self.collided.len()
    }

    /// Bytes held, for memory accounting.
    pub fn allocated_bytes(&self) -> usize {
        self.arena.capacity()
            + self.keys.capacity() * size_of::<(usize, u32, u16)>()
            + self.by_fingerprint.capacity() * (size_of::<(u64, u32)>() + 1)
            + self.collided.len() * 64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_node() {
        let mut interner = Interner::default();
        let a = interner.intern(0, b"user1");
        let b = interner.intern(1, b"user1");
        let c = interner.intern(0, b"user2");
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(interner.intern(0, b"user1"), a);
        assert_eq!(interner.key(b), (1, &b"user1"[..]));
        assert_eq!(interner.intern(2, b""), 3);
        assert_eq!(interner.len(), 4);
    }

    #[test]
    fn colliding_fingerprints_never_merge_keys() {
        let mut interner = Interner::with_fingerprint(|_, _| 42);
        let keys: Vec<(u16, String)> = (0..50).map(|i| ((i % 3) as u16, format!("v{i}"))).collect();
        let nodes: Vec<u32> = keys
            .iter()
            .map(|(t, v)| interner.intern(*t, v.as_bytes()))
            .collect();
        assert_eq!(nodes, (0..50).collect::<Vec<u32>>());
        for ((t, v), node) in keys.iter().zip(&nodes) {
            assert_eq!(interner.intern(*t, v.as_bytes()), *node);
            assert_eq!(interner.key(*node), (*t, v.as_bytes()));
        }
        assert_eq!(interner.collisions(), 49);
    }

    #[test]
    fn fingerprints_spread() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..100_000 {
            assert!(seen.insert(fingerprint(0, format!("anon-{i}").as_bytes())));
        }
        assert_ne!(fingerprint(0, b"x"), fingerprint(1, b"x"));
        assert_ne!(fingerprint(0, b"ab"), fingerprint(0, b"ab\0"));
    }
}
