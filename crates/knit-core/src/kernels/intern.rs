// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Interning `(id type, value)` keys into dense node ids.
//!
//! Keys are found by a 64-bit fingerprint in an open-addressing table of 8-byte slots,
//! each the top bits of a key's fingerprint (a tag) and the start of the key's record in
//! an arena; the record holds the node id, id type and bytes. The arena grows by
//! segments that are never moved: one growing buffer is copied whole into fresh pages
//! at each doubling (`connected_components` at 10M edges peaked at 1,036-1,088 MiB that
//! way, and at 845-879 MiB with segments). A key seen again costs a hash, a slot read, a
//! read of its record and no allocation. A slot whose tag matches
//! is confirmed by comparing the key's bytes, so two keys with one fingerprint (or one
//! tag) take two slots and are never merged. Growing the table rehashes the records in
//! arena order rather than moving the old slots, so the old table is freed first and the
//! fingerprints need not be stored whole.
//!
//! Reading ids is bound by those two cache misses per key, not by computation, so
//! [`Interner::intern_all`] takes a batch of keys and prefetches all their slots, then
//! all their records, before interning them: the misses of a batch overlap instead of
//! following one another. Prefetch instructions rather than loads: a load that misses
//! holds the core's reorder window until its line arrives, a prefetch retires at once,
//! so more misses are in flight (the interning of a 10M-edge graph took about 10% less).

/// The fingerprint of a key: a fast 64-bit hash of the type and the value bytes.
pub(crate) fn fingerprint(id_type: u16, value: &[u8]) -> u64 {
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

/// A slot's low bits: the start of a record in the arena (at most a terabyte).
const START_BITS: u32 = 40;
const START_MASK: u64 = (1 << START_BITS) - 1;

/// A record's start is its segment's number above these bits and its offset in the
/// segment below them.
const OFFSET_BITS: u32 = 22;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
/// The arena's first segment; each next one is twice as large, up to
/// [`LARGEST_SEGMENT`] (a record longer than that has a segment of its own).
const FIRST_SEGMENT: usize = 64 << 10;
const LARGEST_SEGMENT: usize = 1 << OFFSET_BITS;

/// A vacant slot. A record never starts at `START_MASK`, so no key's slot equals it.
const VACANT: u64 = u64::MAX;

/// The slot of a key with fingerprint `fp` whose record starts at `start`.
fn slot(fp: u64, start: u64) -> u64 {
    tag(fp) << START_BITS | start
}

/// The bits of a fingerprint a slot keeps: the top ones, which tables of under 2^40
/// slots do not use to place it.
fn tag(fp: u64) -> u64 {
    fp >> START_BITS
}

/// Asks for the cache line holding `value`, without waiting for it (elsewhere than on
/// x86_64: loads it).
#[inline(always)]
fn prefetch<T: Copy>(value: &T) {
    // SAFETY: SSE is part of every x86_64 target, and a prefetch only hints the cache:
    // it reads nothing and never faults, here on the address of a live reference.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (value as *const T).cast(),
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    std::hint::black_box(*value);
}

/// How many keys [`Interner::intern_all`] prefetches at once: their slots and records
/// should still be in the nearest cache when they are interned. Prefetches of 64 keys
/// (up to 192 lines) keep enough misses in flight; the interning of a 10M-edge graph
/// took 1.9 s with chunks of 32 to 128 keys, 2.2 s with 512 and 2.9 s with 2048.
const PREFETCH_CHUNK: usize = 64;

/// Dense ids for `(id type, value)` keys, in order of first sight.
#[derive(Debug)]
pub(crate) struct Interner {
    fingerprint: fn(u16, &[u8]) -> u64,
    /// Linear probing over a power-of-two table, at most half full: one slot per key.
    slots: Vec<u64>,
    /// Records of `RECORD_HEADER` bytes (node, length, id type; little-endian) and the
    /// key's bytes.
    arena: Arena,
    /// Per node: the start of its record.
    starts: Vec<u64>,
}

/// Keys copied out of an [`Interner`] ([`Interner::keys_from`]).
#[derive(Debug, Default)]
pub(crate) struct KeyBatch {
    bytes: Vec<u8>,
    /// Each key's id type and the end of its bytes.
    keys: Vec<(u16, usize)>,
}

impl KeyBatch {
    /// The keys, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u16, &[u8])> {
        let starts = std::iter::once(0).chain(self.keys.iter().map(|&(_, end)| end));
        self.keys
            .iter()
            .zip(starts)
            .map(|(&(id_type, end), start)| (id_type, &self.bytes[start..end]))
    }
}

/// Node id (u32), key length (u32) and id type (u16).
const RECORD_HEADER: usize = 10;

impl Default for Interner {
    fn default() -> Self {
        Self::with_fingerprint(fingerprint)
    }
}

impl Interner {
    /// An interner with another fingerprint function (tests use a bad one on purpose).
    pub(crate) fn with_fingerprint(fingerprint: fn(u16, &[u8]) -> u64) -> Self {
        Self {
            fingerprint,
            slots: Vec::new(),
            arena: Arena::default(),
            starts: Vec::new(),
        }
    }

    /// The node id of a key, new or known.
    pub(crate) fn intern(&mut self, id_type: u16, value: &[u8]) -> u32 {
        self.reserve(1);
        let fp = (self.fingerprint)(id_type, value);
        self.intern_reserved(id_type, value, fp)
    }

    /// The node id of each key, appended to `nodes`, as [`Interner::intern`] would give.
    pub(crate) fn intern_all(&mut self, keys: &[(u16, &[u8])], nodes: &mut Vec<u32>) {
        nodes.reserve(keys.len());
        let mut fingerprints = Vec::with_capacity(PREFETCH_CHUNK.min(keys.len()));
        for chunk in keys.chunks(PREFETCH_CHUNK) {
            fingerprints.clear();
            fingerprints.extend(chunk.iter().map(|&(t, v)| (self.fingerprint)(t, v)));
            self.intern_chunk(chunk, &fingerprints, nodes);
        }
    }

    /// [`Interner::intern_all`] of keys whose fingerprints are known (computed on another
    /// thread, by [`fingerprint`]: the default interner's).
    pub(crate) fn intern_all_hashed(
        &mut self,
        keys: &[(u16, &[u8])],
        fingerprints: &[u64],
        nodes: &mut Vec<u32>,
    ) {
        nodes.reserve(keys.len());
        for (chunk, fingerprints) in keys
            .chunks(PREFETCH_CHUNK)
            .zip(fingerprints.chunks(PREFETCH_CHUNK))
        {
            self.intern_chunk(chunk, fingerprints, nodes);
        }
    }

    /// Interns a chunk of keys with their fingerprints, prefetching their slots first.
    fn intern_chunk(&mut self, chunk: &[(u16, &[u8])], fingerprints: &[u64], nodes: &mut Vec<u32>) {
        self.reserve(chunk.len());
        self.prefetch_keys(chunk, fingerprints);
        for (&(id_type, value), &fp) in chunk.iter().zip(fingerprints) {
            nodes.push(self.intern_reserved(id_type, value, fp));
        }
    }

    /// [`Interner::intern`] with the fingerprint computed and room for one more slot.
    fn intern_reserved(&mut self, id_type: u16, value: &[u8], fp: u64) -> u32 {
        match self.probe(id_type, value, fp) {
            Ok(node) => node,
            Err(index) => {
                let node = self.push(id_type, value);
                self.slots[index] = slot(fp, self.starts[node as usize]);
                node
            }
        }
    }

    /// The node of a key (`Ok`), or the vacant slot where it would go (`Err`); the
    /// table is not empty.
    fn probe(&self, id_type: u16, value: &[u8], fp: u64) -> Result<u32, usize> {
        let mask = self.slots.len() - 1;
        let mut index = fp as usize & mask;
        loop {
            let slot = self.slots[index];
            if slot == VACANT {
                return Err(index);
            }
            if slot >> START_BITS == tag(fp) {
                let (node, key) = self.record(slot & START_MASK);
                if key == (id_type, value) {
                    return Ok(node);
                }
            }
            index = (index + 1) & mask;
        }
    }

    /// The node id of a key, if it was interned.
    pub(crate) fn get(&self, id_type: u16, value: &[u8]) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        self.probe(id_type, value, (self.fingerprint)(id_type, value))
            .ok()
    }

    /// The node id of each key if it was interned, appended to `nodes`, as
    /// [`Interner::get`] would give; the misses of a chunk of keys overlap, as in
    /// [`Interner::intern_all`].
    pub(crate) fn get_all(&self, keys: &[(u16, &[u8])], nodes: &mut Vec<Option<u32>>) {
        nodes.reserve(keys.len());
        if self.slots.is_empty() {
            nodes.extend(keys.iter().map(|_| None));
            return;
        }
        let mut fingerprints = Vec::with_capacity(PREFETCH_CHUNK.min(keys.len()));
        for chunk in keys.chunks(PREFETCH_CHUNK) {
            fingerprints.clear();
            fingerprints.extend(chunk.iter().map(|&(t, v)| (self.fingerprint)(t, v)));
            self.prefetch_keys(chunk, &fingerprints);
            for (&(id_type, value), &fp) in chunk.iter().zip(&fingerprints) {
                nodes.push(self.probe(id_type, value, fp).ok());
            }
        }
    }

    /// Prefetches the slots of `keys` (whose fingerprints are `fingerprints`), then the
    /// records they point to, so that the lookups that follow find them cached. A
    /// record is fetched at its start and at the end it has if it is the key's (its
    /// bytes often cross into the next cache line, where comparing them would miss
    /// again).
    fn prefetch_keys(&self, keys: &[(u16, &[u8])], fingerprints: &[u64]) {
        let mask = self.slots.len() - 1;
        for &fp in fingerprints {
            prefetch(&self.slots[fp as usize & mask]);
        }
        for (&(_, value), &fp) in keys.iter().zip(fingerprints) {
            // The first slot of the probe whose tag matches: almost always the key's.
            let mut index = fp as usize & mask;
            loop {
                let slot = self.slots[index];
                if slot == VACANT {
                    break;
                }
                if slot >> START_BITS == tag(fp) {
                    let record = self.arena.bytes_at(slot & START_MASK);
                    prefetch(&record[0]);
                    prefetch(&record[(RECORD_HEADER + value.len()).min(record.len()) - 1]);
                    break;
                }
                index = (index + 1) & mask;
            }
        }
    }

    /// Makes room for `additional` more keys, keeping the table at most half full.
    fn reserve(&mut self, additional: usize) {
        let needed = (self.len() + additional) * 2;
        if needed <= self.slots.len() {
            return;
        }
        let size = needed.next_power_of_two().max(1024);
        // The old table goes first: the records hold all it did.
        self.slots = Vec::new();
        self.slots = vec![VACANT; size];
        let mask = size - 1;
        // Records are read in order; the slots they go to are prefetched a chunk at a
        // time first, so that those cache misses overlap as in `intern_all`.
        let mut chunk = Vec::with_capacity(PREFETCH_CHUNK.min(self.starts.len()));
        for starts in self.starts.chunks(PREFETCH_CHUNK) {
            chunk.clear();
            chunk.extend(starts.iter().map(|&start| {
                let (_, (id_type, value)) = self.record(start);
                ((self.fingerprint)(id_type, value), start)
            }));
            for &(fp, _) in &chunk {
                prefetch(&self.slots[fp as usize & mask]);
            }
            for &(fp, start) in &chunk {
                let mut index = fp as usize & mask;
                while self.slots[index] != VACANT {
                    index = (index + 1) & mask;
                }
                self.slots[index] = slot(fp, start);
            }
        }
    }

    fn push(&mut self, id_type: u16, value: &[u8]) -> u32 {
        let node = self.starts.len() as u32;
        let mut header = [0u8; RECORD_HEADER];
        header[..4].copy_from_slice(&node.to_le_bytes());
        header[4..8].copy_from_slice(&(value.len() as u32).to_le_bytes());
        header[8..].copy_from_slice(&id_type.to_le_bytes());
        let start = self.arena.push(&header, value);
        self.starts.push(start);
        node
    }

    /// The node and key of the record at `start`.
    fn record(&self, start: u64) -> (u32, (u16, &[u8])) {
        let record = self.arena.bytes_at(start);
        let word = |at: usize| {
            u32::from_le_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]])
        };
        let (node, len) = (word(0), word(4) as usize);
        let id_type = u16::from_le_bytes([record[8], record[9]]);
        (node, (id_type, &record[RECORD_HEADER..RECORD_HEADER + len]))
    }

    /// The key of a node.
    pub(crate) fn key(&self, node: u32) -> (u16, &[u8]) {
        self.record(self.starts[node as usize]).1
    }

    /// The key of each node of `nodes`, appended to `keys`, as [`Interner::key`] would
    /// give; for nodes in no particular order, the misses of a chunk of them (where
    /// their records start, then the records) overlap, as in [`Interner::intern_all`].
    pub(crate) fn keys_of<'a>(&'a self, nodes: &[u32], keys: &mut Vec<(u16, &'a [u8])>) {
        keys.reserve(nodes.len());
        for chunk in nodes.chunks(PREFETCH_CHUNK) {
            for &node in chunk {
                prefetch(&self.starts[node as usize]);
            }
            for &node in chunk {
                // A record's first line, and the next: most keys end in it.
                let record = self.arena.bytes_at(self.starts[node as usize]);
                prefetch(&record[0]);
                prefetch(&record[63.min(record.len() - 1)]);
            }
            keys.extend(chunk.iter().map(|&node| self.key(node)));
        }
    }

    /// Frees the index of keys, keeping the keys: once every key is interned, a reader
    /// of [`Interner::key`] needs only the records. Lookups ([`Interner::get_all`]) find
    /// nothing after it; interning again rebuilds the index.
    pub(crate) fn release_index(&mut self) {
        self.slots = Vec::new();
    }

    /// A copy of the keys of nodes `first..`, in node order, to be read elsewhere.
    pub(crate) fn keys_from(&self, first: usize) -> KeyBatch {
        let mut batch = KeyBatch::default();
        for node in first..self.len() {
            let (id_type, value) = self.key(node as u32);
            batch.bytes.extend_from_slice(value);
            batch.keys.push((id_type, batch.bytes.len()));
        }
        batch
    }

    /// How many nodes there are.
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// Bytes held, for memory accounting.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.arena.capacity()
            + self.starts.capacity() * size_of::<u64>()
            + self.slots.capacity() * size_of::<u64>()
    }
}

/// Bytes in segments that never move: a record pushed stays where it was written.
#[derive(Debug, Default)]
struct Arena {
    segments: Vec<Vec<u8>>,
}

impl Arena {
    /// Appends a record of `header` and `value`, returning its start.
    fn push(&mut self, header: &[u8], value: &[u8]) -> u64 {
        let len = header.len() + value.len();
        // A record starts at an offset that [`OFFSET_BITS`] hold, in the room left.
        let fits = self.segments.last().is_some_and(|segment| {
            segment.len() as u64 <= OFFSET_MASK && segment.capacity() - segment.len() >= len
        });
        if !fits {
            let size = match self.segments.last() {
                Some(last) => (last.capacity() * 2).min(LARGEST_SEGMENT),
                None => FIRST_SEGMENT,
            }
            .max(len);
            assert!(
                (self.segments.len() as u64) < START_MASK >> OFFSET_BITS,
                "an interner's keys take more than a terabyte"
            );
            self.segments.push(Vec::with_capacity(size));
        }
        let number = self.segments.len() - 1;
        let segment = &mut self.segments[number];
        let start = (number as u64) << OFFSET_BITS | segment.len() as u64;
        segment.extend_from_slice(header);
        segment.extend_from_slice(value);
        start
    }

    /// Bytes held, for memory accounting.
    fn capacity(&self) -> usize {
        self.segments.iter().map(Vec::capacity).sum()
    }

    /// The bytes from `start` to the end of its segment: its record and maybe others.
    fn bytes_at(&self, start: u64) -> &[u8] {
        &self.segments[(start >> OFFSET_BITS) as usize][(start & OFFSET_MASK) as usize..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_index_is_rebuilt_when_needed() {
        let mut interner = Interner::default();
        let first = interner.intern(0, b"first");
        interner.release_index();
        assert_eq!(interner.key(first), (0, &b"first"[..]));
        let mut found = Vec::new();
        interner.get_all(&[(0, b"first")], &mut found);
        assert_eq!(found, [None]);
        assert_eq!(interner.intern(0, b"second"), 1);
        assert_eq!(interner.intern(0, b"first"), first);
    }

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
        assert_eq!(interner.get(1, b"user1"), Some(b));
        assert_eq!(interner.get(1, b"user2"), None);
        assert_eq!(interner.get(3, b"user1"), None);
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
            assert_eq!(interner.get(*t, v.as_bytes()), Some(*node));
        }
        assert_eq!(interner.get(0, b"v1"), None);
        // Growing the table keeps every key apart too.
        let more: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
        for value in &more {
            interner.intern(0, value.as_bytes());
        }
        assert_eq!(interner.len(), 1050);
        assert_eq!(interner.get(0, b"w999"), Some(1049));
        assert_eq!(interner.get(1, b"v1"), Some(1));
    }

    #[test]
    fn interning_a_batch_gives_the_same_nodes() {
        let keys: Vec<(u16, String)> = (0..10_000)
            .map(|i| ((i % 3) as u16, format!("k{}", (i * 7919) % 4001)))
            .collect();
        let borrowed: Vec<(u16, &[u8])> = keys.iter().map(|(t, v)| (*t, v.as_bytes())).collect();
        let mut one_by_one = Interner::default();
        let expected: Vec<u32> = borrowed
            .iter()
            .map(|&(t, v)| one_by_one.intern(t, v))
            .collect();
        for fingerprint in [fingerprint as fn(u16, &[u8]) -> u64, |_, v| v.len() as u64] {
            let mut batched = Interner::with_fingerprint(fingerprint);
            let mut nodes = Vec::new();
            batched.intern_all(&borrowed[..5000], &mut nodes);
            batched.intern_all(&borrowed[5000..], &mut nodes);
            assert_eq!(nodes, expected);
            for (&(t, v), &node) in borrowed.iter().zip(&nodes) {
                assert_eq!(batched.key(node), (t, v));
                assert_eq!(batched.get(t, v), Some(node));
            }
            // Looking up a batch: known keys, a type never seen and a value never seen.
            let mut probes = borrowed.clone();
            probes.push((7, b"k1"));
            probes.push((0, b"never"));
            let mut found = Vec::new();
            batched.get_all(&probes, &mut found);
            let mut expected_found: Vec<Option<u32>> = nodes.iter().map(|&n| Some(n)).collect();
            expected_found.extend([None, None]);
            assert_eq!(found, expected_found);
            let copied = batched.keys_from(3);
            let copied: Vec<(u16, &[u8])> = copied.iter().collect();
            let expected_keys: Vec<(u16, &[u8])> =
                (3..batched.len() as u32).map(|n| batched.key(n)).collect();
            assert_eq!(copied, expected_keys);
            assert_eq!(batched.keys_from(batched.len()).iter().count(), 0);
            // Keys of nodes in any order, repeated, over several chunks; and of none.
            let scattered: Vec<u32> = (0..3000u32)
                .map(|i| (i * 7907) % batched.len() as u32)
                .collect();
            let mut keys = Vec::new();
            batched.keys_of(&scattered, &mut keys);
            let expected_keys: Vec<(u16, &[u8])> =
                scattered.iter().map(|&n| batched.key(n)).collect();
            assert_eq!(keys, expected_keys);
            batched.keys_of(&[], &mut keys);
            assert_eq!(keys.len(), scattered.len());
        }
    }

    #[test]
    fn keys_of_any_length_over_many_segments() {
        // Keys fill segments to their last bytes, one is longer than the largest
        // segment, and keys follow it.
        let mut values: Vec<Vec<u8>> = (0..40_000u32)
            .map(|i| vec![b'a' + (i % 26) as u8; (i % 300) as usize])
            .enumerate()
            .map(|(i, mut v)| {
                v.extend_from_slice(&(i as u32).to_le_bytes());
                v
            })
            .collect();
        values.insert(20_000, vec![7; LARGEST_SEGMENT + 5]);
        values.insert(20_001, vec![8; LARGEST_SEGMENT - RECORD_HEADER]);
        let mut interner = Interner::default();
        let keys: Vec<(u16, &[u8])> = values.iter().map(|v| (3, v.as_slice())).collect();
        let mut nodes = Vec::new();
        interner.intern_all(&keys, &mut nodes);
        assert_eq!(nodes, (0..keys.len() as u32).collect::<Vec<_>>());
        assert!(interner.arena.segments.len() > 3);
        let mut read = Vec::new();
        interner.keys_of(&nodes, &mut read);
        assert_eq!(read, keys);
        let mut found = Vec::new();
        interner.get_all(&keys, &mut found);
        assert!(found.iter().zip(&nodes).all(|(f, n)| *f == Some(*n)));
        assert!(interner.allocated_bytes() >= 2 * LARGEST_SEGMENT);
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
