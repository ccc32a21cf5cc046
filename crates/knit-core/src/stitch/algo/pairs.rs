// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! pb's edge table over interned nodes: the pairs of one input row, and the distinct
//! pairs of all rows with their earliest times.
//!
//! For each row, each id value is a node unless it is NULL, empty, or removed by its id
//! type's filters. Every pair of id columns `i < j` of the row gives the edge
//! `(value_i, value_j)`, keeping a removed side as "no node of type t" (pb keeps the
//! type of a NULL side); a pair with no node on either side is dropped, and an input
//! with a single id column gives the self-edge `(v, v)` ([`row_pairs`]). Edges are
//! grouped, across rows and inputs, keeping the earliest time (NULL only when no row
//! had a time), by an [`EdgeSet`] (radix-partitioned, so mostly sequential).

use super::edge::Edge;
use super::time::Time;
use crate::kernels::intern::Interner;
use crate::kernels::radix::radix_sort_by_key;

/// One side of an edge: a node, or no node of a given id type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// A node.
    Node(u32),
    /// No id of this type (index into the entity's id types).
    Missing(u16),
}

/// Node ids stay below this: the ids above it name a missing side's id type in
/// [`Side::key`].
pub(crate) const MAX_NODES: usize = (u32::MAX - u16::MAX as u32) as usize;

impl Side {
    /// One `u32` per side: a node id, or a missing side's id type counted down from
    /// `u32::MAX`.
    fn key(self) -> u32 {
        match self {
            Side::Node(node) => node,
            Side::Missing(id_type) => u32::MAX - u32::from(id_type),
        }
    }

    /// The side of a [`Side::key`].
    fn from_key(key: u32) -> Self {
        if key as usize >= MAX_NODES {
            Side::Missing((u32::MAX - key) as u16)
        } else {
            Side::Node(key)
        }
    }
}

/// One pair of sides seen on an input row, with the row's time: both sides' keys in one
/// integer and a time, 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pair {
    key: u64,
    time: Time,
}

impl Pair {
    /// The pair `(a, b)` seen at `time`.
    pub(crate) fn new(a: Side, b: Side, time: Time) -> Self {
        Self {
            key: u64::from(a.key()) << 32 | u64::from(b.key()),
            time,
        }
    }

    /// Both sides.
    pub(crate) fn sides(self) -> (Side, Side) {
        (
            Side::from_key((self.key >> 32) as u32),
            Side::from_key(self.key as u32),
        )
    }

    /// The time: the earliest sighting's, once grouped.
    pub(crate) fn time(self) -> Time {
        self.time
    }

    /// The node of the first side that has one (the reader never emits a pair without).
    fn first_node(self) -> u32 {
        let a = (self.key >> 32) as u32;
        if (a as usize) < MAX_NODES {
            a
        } else {
            self.key as u32
        }
    }
}

/// How many pairs a row with `sides` sides gives, at most.
pub(crate) fn pairs_per_row(sides: usize) -> usize {
    if sides == 1 {
        1
    } else {
        sides * sides.saturating_sub(1) / 2
    }
}

/// Appends the pairs of one input row, whose id columns give `sides`, seen at `time`.
pub(crate) fn row_pairs(sides: &[Side], time: Time, pairs: &mut Vec<Pair>) {
    if let [only] = sides {
        if let Side::Node(_) = only {
            pairs.push(Pair::new(*only, *only, time));
        }
        return;
    }
    for i in 0..sides.len() {
        for j in i + 1..sides.len() {
            if matches!(sides[i], Side::Node(_)) || matches!(sides[j], Side::Node(_)) {
                pairs.push(Pair::new(sides[i], sides[j], time));
            }
        }
    }
}

/// An [`EdgeSet`] partition holds the pairs whose first node (a [`Side::Node`]) is in
/// one range of this many node ids.
const PART_NODES_LOG2: u32 = 16;

/// A partition is deduplicated when it has grown to twice what its last deduplication
/// left, and at least this many pairs.
const MIN_COMPACTION: usize = 1 << 14;

/// The second stage of reading: the distinct pairs, each with its earliest time.
///
/// Pairs are appended to a partition by the range of their first node's id, which costs
/// a sequential write rather than a probe into one table of every distinct pair (a cache
/// and TLB miss each, several gigabytes at a hundred million edges). A partition is
/// deduplicated, by sorting it, when it has doubled since its last deduplication, so it
/// holds at most about twice its distinct pairs; the last deduplication runs on every
/// core. Pairs come out ordered by their sides' keys, so by first node, which node ids
/// number in order of first sight: the graph phase then walks its arrays nearly in order.
#[derive(Debug, Default)]
pub(crate) struct EdgeSet {
    parts: Vec<Vec<Pair>>,
    /// Per partition: how many pairs its last deduplication left.
    distinct: Vec<usize>,
    /// The radix sort's second buffer, reused.
    scratch: Vec<Pair>,
}

impl EdgeSet {
    /// Adds pairs.
    pub(crate) fn add(&mut self, pairs: &[Pair]) {
        for &pair in pairs {
            let part = (pair.first_node() >> PART_NODES_LOG2) as usize;
            if part >= self.parts.len() {
                self.parts.resize_with(part + 1, Vec::new);
                self.distinct.resize(part + 1, 0);
            }
            let part_pairs = &mut self.parts[part];
            part_pairs.push(pair);
            if part_pairs.len() >= (2 * self.distinct[part]).max(MIN_COMPACTION) {
                dedup(part_pairs, self.distinct[part], &mut self.scratch);
                self.distinct[part] = part_pairs.len();
            }
        }
    }

    /// The distinct pairs, each with its earliest time.
    pub(crate) fn into_list(mut self) -> EdgeList {
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .clamp(1, 8);
        let per_thread = self.parts.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for (parts, distinct) in self
                .parts
                .chunks_mut(per_thread)
                .zip(self.distinct.chunks(per_thread))
            {
                scope.spawn(move || {
                    let mut scratch = Vec::new();
                    for (part, &sorted) in parts.iter_mut().zip(distinct) {
                        dedup(part, sorted, &mut scratch);
                        part.shrink_to_fit();
                    }
                });
            }
        });
        let ends = self
            .parts
            .iter()
            .scan(0, |end, part| {
                *end += part.len();
                Some(*end)
            })
            .collect();
        EdgeList {
            parts: self.parts,
            ends,
        }
    }

    /// Bytes held, for memory accounting.
    pub(crate) fn allocated_bytes(&self) -> usize {
        (self.parts.iter().map(Vec::capacity).sum::<usize>() + self.scratch.capacity())
            * size_of::<Pair>()
    }
}

/// Sorts `pairs` by sides and keeps one per pair of sides, with its earliest time. The
/// first `sorted` pairs are sorted and distinct already (what the last deduplication
/// left): only the rest is sorted, then merged with them, so a pair is sorted once
/// however often its partition is deduplicated.
fn dedup(pairs: &mut Vec<Pair>, sorted: usize, scratch: &mut Vec<Pair>) {
    if sorted == pairs.len() {
        return;
    }
    radix_sort(&mut pairs[sorted..], scratch);
    scratch.clear();
    let (mut old, mut new) = (pairs[..sorted].iter().peekable(), pairs[sorted..].iter());
    let mut next_new = new.next();
    let mut push = |pair: Pair| match scratch.last_mut() {
        Some(last) if last.key == pair.key => last.time = last.time.min(pair.time),
        _ => scratch.push(pair),
    };
    while let Some(&candidate) = next_new {
        match old.peek() {
            Some(&&kept) if kept.key <= candidate.key => {
                push(kept);
                old.next();
            }
            _ => {
                push(candidate);
                next_new = new.next();
            }
        }
    }
    old.for_each(|&kept| push(kept));
    pairs.clear();
    pairs.extend_from_slice(scratch);
}

/// Sorts `pairs` by key (a partition's first sides mostly share their upper bits, which
/// the radix sort skips): the bulk of grouping's work.
fn radix_sort(pairs: &mut [Pair], scratch: &mut Vec<Pair>) {
    radix_sort_by_key(pairs, scratch, |p| p.key);
}

/// The distinct pairs in order, kept in the [`EdgeSet`]'s partitions: joining them into
/// one vector would cost a copy of every pair.
#[derive(Debug, Default)]
pub(crate) struct EdgeList {
    parts: Vec<Vec<Pair>>,
    /// Per partition: the index after its last pair.
    ends: Vec<usize>,
}

impl EdgeList {
    /// How many pairs there are.
    pub(crate) fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Every pair, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Pair> + Clone + '_ {
        self.parts.iter().flatten().copied()
    }

    /// The pairs `range` (indexes into [`EdgeList::iter`]'s order), appended to `out`.
    pub(crate) fn copy_range(&self, range: std::ops::Range<usize>, out: &mut Vec<Pair>) {
        let mut part = self.ends.partition_point(|&end| end <= range.start);
        let mut at = range.start;
        while at < range.end && part < self.parts.len() {
            let start = self.ends[part] - self.parts[part].len();
            let end = self.ends[part].min(range.end);
            out.extend_from_slice(&self.parts[part][at - start..end - start]);
            at = end;
            part += 1;
        }
    }

    /// Bytes held, for memory accounting.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.parts.iter().map(Vec::capacity).sum::<usize>() * size_of::<Pair>()
    }
}

/// Edges and nodes collected from input rows.
#[derive(Debug, Default)]
pub(crate) struct EdgeCollector {
    /// The nodes seen.
    pub(crate) nodes: Interner,
    /// Each distinct edge with its earliest time.
    pub(crate) list: EdgeList,
    /// Input rows read.
    pub(crate) rows: usize,
}

impl EdgeCollector {
    /// The result of reading `rows` input rows: their nodes and their distinct pairs
    /// ([`EdgeSet::into_list`]).
    pub(crate) fn new(nodes: Interner, rows: usize, list: EdgeList) -> Self {
        Self { nodes, list, rows }
    }

    /// The edges over node ids, for the id graph: a side without a node takes the
    /// other side's node.
    pub(crate) fn graph_edges(&self) -> impl Iterator<Item = Edge> + Clone + '_ {
        self.list.iter().filter_map(|pair| {
            let valid_at = pair.time();
            match pair.sides() {
                (Side::Node(a), Side::Node(b)) => Some(Edge { a, b, valid_at }),
                (Side::Node(n), Side::Missing(_)) | (Side::Missing(_), Side::Node(n)) => {
                    Some(Edge {
                        a: n,
                        b: n,
                        valid_at,
                    })
                }
                (Side::Missing(_), Side::Missing(_)) => None,
            }
        })
    }

    /// Bytes held, for memory accounting.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.nodes.allocated_bytes() + self.list.allocated_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: Side, b: Side, time: Option<i64>) -> Pair {
        Pair::new(a, b, Time::from_micros(time).unwrap())
    }

    #[test]
    fn edge_set_keeps_each_pair_once_with_its_earliest_time() {
        // 1,000 distinct pairs seen 100 times each: enough to deduplicate partitions
        // while adding. A pair whose every sighting lacks a time keeps none.
        let mut pairs: Vec<Pair> = (0..100_000u32)
            .map(|i| {
                let n = i % 1000;
                let time = (n % 7 != 0).then_some(i64::from(100_000 - i));
                pair(Side::Node(n), Side::Node(n + 1), time)
            })
            .collect();
        // Missing sides, times in any order, untimed sightings mixed in.
        let (node, missing) = (Side::Node(5), Side::Missing(3));
        pairs.extend([
            pair(node, missing, None),
            pair(node, missing, Some(5)),
            pair(node, missing, Some(3)),
            pair(missing, node, None),
        ]);
        let mut set = EdgeSet::default();
        set.add(&pairs[..50_000]);
        set.add(&pairs[50_000..]);
        let list = set.into_list();
        assert_eq!(list.len(), 1002);
        let mut list: Vec<Pair> = list.iter().collect();
        list.sort_by_key(|p| p.key);
        let mut expected: Vec<Pair> = (0..1000u32)
            .map(|n| {
                // The last sighting of pair n is at i = 99_000 + n: the earliest time.
                let time = (n % 7 != 0).then_some(i64::from(100_000 - (99_000 + n)));
                pair(Side::Node(n), Side::Node(n + 1), time)
            })
            .collect();
        expected.extend([pair(node, missing, Some(3)), pair(missing, node, None)]);
        expected.sort_by_key(|p| p.key);
        assert_eq!(list, expected);
        assert_eq!(list[0].sides(), (Side::Node(0), Side::Node(1)));
        assert_eq!(list[0].time(), Time::NULL);
    }

    #[test]
    fn edge_list_ranges_cross_partitions() {
        // First nodes in three partitions, two pairs in each.
        let firsts = [0u32, 1 << PART_NODES_LOG2, 2 << PART_NODES_LOG2];
        let pairs: Vec<Pair> = firsts
            .iter()
            .flat_map(|&n| {
                [
                    pair(Side::Node(n), Side::Node(n + 1), Some(1)),
                    pair(Side::Node(n), Side::Missing(0), None),
                ]
            })
            .collect();
        let mut set = EdgeSet::default();
        set.add(&pairs);
        let list = set.into_list();
        let all: Vec<Pair> = list.iter().collect();
        assert_eq!(all.len(), 6);
        for start in 0..=6 {
            for end in start..=8 {
                let mut out = Vec::new();
                list.copy_range(start..end, &mut out);
                assert_eq!(out, all[start..end.min(6)], "range {start}..{end}");
            }
        }
        let edges: Vec<Edge> = EdgeCollector::new(Interner::default(), 0, list)
            .graph_edges()
            .collect();
        assert_eq!(edges[0], Edge::new(0, 1, Some(1)));
        assert_eq!(edges[1], Edge::new(0, 0, None));
    }

    #[test]
    fn edge_set_matches_a_map_over_random_batches() {
        let mut state = 11u64;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut set = EdgeSet::default();
        let mut expected: std::collections::BTreeMap<u64, Time> = Default::default();
        for _ in 0..40 {
            let batch: Vec<Pair> = (0..next(5000))
                .map(|_| {
                    let a = Side::Node(next(200_000) as u32);
                    let b = match next(4) {
                        0 => Side::Missing(next(3) as u16),
                        _ => Side::Node(next(300) as u32),
                    };
                    let time = (next(5) != 0).then(|| next(1000) as i64);
                    let (a, b) = if next(6) == 0 { (b, a) } else { (a, b) };
                    pair(a, b, time)
                })
                .collect();
            for p in &batch {
                let time = expected.entry(p.key).or_insert(Time::NULL);
                *time = (*time).min(p.time);
            }
            set.add(&batch);
        }
        let list: Vec<(u64, Time)> = set.into_list().iter().map(|p| (p.key, p.time)).collect();
        let mut sorted = list.clone();
        sorted.sort();
        assert_eq!(list.len(), expected.len());
        assert_eq!(sorted, expected.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn radix_sort_orders_by_key() {
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        };
        let mut scratch = Vec::new();
        // Keys varying in every byte, in the low bytes only, and all equal; an odd and
        // an even number of varying bytes.
        for mask in [u64::MAX, 0xFFFF, 0xFF_0000_00FF, 0] {
            for len in [0, 1, 63, 64, 1000, 5000] {
                let mut pairs: Vec<Pair> = (0..len)
                    .map(|i| Pair {
                        key: next() & mask,
                        time: Time::from_bits(i),
                    })
                    .collect();
                let mut expected = pairs.clone();
                expected.sort_by_key(|p| p.key);
                radix_sort(&mut pairs, &mut scratch);
                let keys = |v: &[Pair]| v.iter().map(|p| p.key).collect::<Vec<_>>();
                assert_eq!(keys(&pairs), keys(&expected), "mask {mask:x}, {len} pairs");
            }
        }
    }

    #[test]
    fn row_pairs_follow_pbs_rule() {
        let t = Time::from_micros(Some(9)).unwrap();
        let (a, b, m) = (Side::Node(1), Side::Node(2), Side::Missing(3));
        let pairs_of = |sides: &[Side]| {
            let mut pairs = Vec::new();
            row_pairs(sides, t, &mut pairs);
            pairs
        };
        // One column: the node alone; a missing one gives nothing.
        assert_eq!(pairs_of(&[a]), vec![Pair::new(a, a, t)]);
        assert!(pairs_of(&[m]).is_empty());
        // Every pair of columns with a node on either side, missing sides kept.
        assert_eq!(
            pairs_of(&[a, m, b]),
            vec![Pair::new(a, m, t), Pair::new(a, b, t), Pair::new(m, b, t)]
        );
        assert!(pairs_of(&[m, m]).is_empty());
        assert_eq!(pairs_per_row(1), 1);
        assert_eq!(pairs_per_row(3), 3);
        assert_eq!(pairs_per_row(150), 11_175);
    }

    #[test]
    fn sides_round_trip_through_keys() {
        for side in [
            Side::Node(0),
            Side::Node(MAX_NODES as u32 - 1),
            Side::Missing(0),
            Side::Missing(u16::MAX),
        ] {
            assert_eq!(Side::from_key(side.key()), side);
        }
    }
}
