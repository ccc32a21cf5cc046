// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Turning input rows into pb's edge table.
//!
//! For each row, each id value is a node unless it is NULL, empty, or removed by its id
//! type's filters. Every pair of id columns `i < j` of the row gives the edge
//! `(value_i, value_j)`, keeping a removed side as "no node of type t" (pb keeps the
//! type of a NULL side); a pair with no node on either side is dropped, and an input
//! with a single id column gives the self-edge `(v, v)`. Edges are grouped, across rows
//! and inputs, keeping the earliest time (NULL only when no row had a time).
//!
//! Reading runs in two stages so that they run on two cores: a [`PairReader`] interns
//! each row's ids and emits its pairs (bound by cache misses in the interner's table),
//! and an [`EdgeSet`] groups the pairs (radix-partitioned, so mostly sequential).

use datafusion::arrow::array::{Array, AsArray, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::error::{DataFusionError, Result};

use super::graph::Edge;
use super::intern::Interner;
use crate::catalog::IdType;

/// One side of an edge: a node, or no node of a given id type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A node.
    Node(u32),
    /// No id of this type (index into the entity's id types).
    Missing(u16),
}

/// Node ids stay below this: the ids above it name a missing side's id type in
/// [`Side::key`].
pub const MAX_NODES: usize = (u32::MAX - u16::MAX as u32) as usize;

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

/// One pair of sides seen on an input row, with the row's time.
pub type Pair = (Side, Side, Option<i64>);

/// The first stage of reading: input rows to pairs of interned nodes.
#[derive(Debug, Default)]
pub struct PairReader {
    /// The nodes seen.
    pub nodes: Interner,
    /// Input rows read.
    pub rows: usize,
}

impl PairReader {
    /// Appends the pairs of one batch of an input to `pairs`. The batch has one
    /// Utf8-like column per id (types given by `column_types`, indexes into
    /// `id_types`), then the time.
    pub fn read_batch(
        &mut self,
        batch: &RecordBatch,
        column_types: &[u16],
        id_types: &[IdType],
        pairs: &mut Vec<Pair>,
    ) -> Result<()> {
        let ids = column_types
            .iter()
            .enumerate()
            .map(|(i, _)| cast(batch.column(i), &DataType::Utf8View))
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<_> = ids.iter().map(|a| a.as_string_view()).collect();
        let times = cast(
            batch.column(column_types.len()),
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?;
        let times: &TimestampMicrosecondArray = times.as_primitive();
        // The batch's ids first, interned together (see `Interner::intern_all`); a
        // rejected or missing id keeps `u32::MAX` in its cell.
        let columns = column_types.len();
        let mut keys: Vec<(u16, &[u8])> = Vec::with_capacity(batch.num_rows() * columns);
        let mut cells: Vec<u32> = Vec::with_capacity(batch.num_rows() * columns);
        for row in 0..batch.num_rows() {
            for (column, &id_type) in ids.iter().zip(column_types) {
                if column.is_valid(row) {
                    let value = column.value(row);
                    if id_types[usize::from(id_type)].accepts(value) {
                        cells.push(keys.len() as u32);
                        keys.push((id_type, value.as_bytes()));
                        continue;
                    }
                }
                cells.push(u32::MAX);
            }
        }
        let mut nodes = Vec::with_capacity(keys.len());
        self.nodes.intern_all(&keys, &mut nodes);
        if self.nodes.len() > MAX_NODES {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "IdStitchExec: more than {MAX_NODES} distinct ids; stitch fewer inputs or a \
                 shorter time range"
            )));
        }
        let mut sides: Vec<Side> = Vec::with_capacity(columns);
        for (row, row_cells) in cells.chunks(columns.max(1)).enumerate() {
            let time = times.is_valid(row).then(|| times.value(row));
            sides.clear();
            sides.extend(row_cells.iter().zip(column_types).map(|(&cell, &id_type)| {
                if cell == u32::MAX {
                    Side::Missing(id_type)
                } else {
                    Side::Node(nodes[cell as usize])
                }
            }));
            if let [only] = sides[..] {
                if let Side::Node(_) = only {
                    pairs.push((only, only, time));
                }
                continue;
            }
            for i in 0..sides.len() {
                for j in i + 1..sides.len() {
                    if matches!(sides[i], Side::Node(_)) || matches!(sides[j], Side::Node(_)) {
                        pairs.push((sides[i], sides[j], time));
                    }
                }
            }
        }
        self.rows += batch.num_rows();
        Ok(())
    }
}

/// One pair as the [`EdgeSet`] keeps it: both sides' keys in one integer, and the time.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    key: u64,
    time: i64,
    timed: bool,
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
pub struct EdgeSet {
    parts: Vec<Vec<Sighting>>,
    /// Per partition: how many pairs its last deduplication left.
    distinct: Vec<usize>,
}

impl EdgeSet {
    /// Adds pairs.
    pub fn add(&mut self, pairs: &[Pair]) {
        for &(a, b, time) in pairs {
            let key = u64::from(a.key()) << 32 | u64::from(b.key());
            let first_node = match (a, b) {
                (Side::Node(node), _) | (Side::Missing(_), Side::Node(node)) => node,
                // The reader never emits a pair without a node.
                (Side::Missing(_), Side::Missing(_)) => 0,
            };
            let part = (first_node >> PART_NODES_LOG2) as usize;
            if part >= self.parts.len() {
                self.parts.resize_with(part + 1, Vec::new);
                self.distinct.resize(part + 1, 0);
            }
            let sightings = &mut self.parts[part];
            sightings.push(Sighting {
                key,
                time: time.unwrap_or(0),
                timed: time.is_some(),
            });
            if sightings.len() >= (2 * self.distinct[part]).max(MIN_COMPACTION) {
                dedup(sightings);
                self.distinct[part] = sightings.len();
            }
        }
    }

    /// The distinct pairs, each with its earliest time.
    pub fn into_list(mut self) -> Vec<Pair> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .clamp(1, 8);
        let per_thread = self.parts.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for parts in self.parts.chunks_mut(per_thread) {
                scope.spawn(move || parts.iter_mut().for_each(dedup));
            }
        });
        let mut list = Vec::with_capacity(self.parts.iter().map(Vec::len).sum());
        for part in self.parts {
            list.extend(part.into_iter().map(|s| {
                (
                    Side::from_key((s.key >> 32) as u32),
                    Side::from_key(s.key as u32),
                    s.timed.then_some(s.time),
                )
            }));
        }
        list
    }

    /// Bytes held, for memory accounting.
    pub fn allocated_bytes(&self) -> usize {
        self.parts.iter().map(Vec::capacity).sum::<usize>() * size_of::<Sighting>()
    }
}

/// Sorts `sightings` by pair and keeps one per pair, with its earliest time (none only
/// when no sighting had one).
fn dedup(sightings: &mut Vec<Sighting>) {
    sightings.sort_unstable_by_key(|s| s.key);
    sightings.dedup_by(|later, kept| {
        if later.key != kept.key {
            return false;
        }
        if later.timed && (!kept.timed || later.time < kept.time) {
            kept.time = later.time;
            kept.timed = true;
        }
        true
    });
}

/// Edges and nodes collected from input rows.
#[derive(Debug, Default)]
pub struct EdgeCollector {
    /// The nodes seen.
    pub nodes: Interner,
    /// Each distinct edge with its earliest time.
    pub list: Vec<Pair>,
    /// Input rows read.
    pub rows: usize,
}

impl EdgeCollector {
    /// The result of both stages: the reader's nodes and the distinct pairs
    /// ([`EdgeSet::into_list`]).
    pub fn new(reader: PairReader, list: Vec<Pair>) -> Self {
        Self {
            nodes: reader.nodes,
            list,
            rows: reader.rows,
        }
    }

    /// The edges over node ids, for the id graph: a side without a node takes the
    /// other side's node.
    pub fn graph_edges(&self) -> Vec<Edge> {
        self.list
            .iter()
            .filter_map(|&(a, b, valid_at)| match (a, b) {
                (Side::Node(a), Side::Node(b)) => Some(Edge { a, b, valid_at }),
                (Side::Node(n), Side::Missing(_)) | (Side::Missing(_), Side::Node(n)) => {
                    Some(Edge {
                        a: n,
                        b: n,
                        valid_at,
                    })
                }
                (Side::Missing(_), Side::Missing(_)) => None,
            })
            .collect()
    }

    /// Bytes held, for memory accounting.
    pub fn allocated_bytes(&self) -> usize {
        self.nodes.allocated_bytes() + self.list.capacity() * size_of::<Pair>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_set_keeps_each_pair_once_with_its_earliest_time() {
        // 1,000 distinct pairs seen 100 times each: enough to deduplicate partitions
        // while adding. A pair whose every sighting lacks a time keeps none.
        let mut pairs: Vec<Pair> = (0..100_000u32)
            .map(|i| {
                let n = i % 1000;
                let time = (n % 7 != 0).then_some(i64::from(100_000 - i));
                (Side::Node(n), Side::Node(n + 1), time)
            })
            .collect();
        // Missing sides, times in any order, untimed sightings mixed in.
        let (node, missing) = (Side::Node(5), Side::Missing(3));
        pairs.extend([
            (node, missing, None),
            (node, missing, Some(5)),
            (node, missing, Some(3)),
            (missing, node, None),
        ]);
        let mut set = EdgeSet::default();
        set.add(&pairs[..50_000]);
        set.add(&pairs[50_000..]);
        let mut list = set.into_list();
        assert_eq!(list.len(), 1002);
        list.sort_by_key(|&(a, b, _)| (a.key(), b.key()));
        let mut expected: Vec<Pair> = (0..1000u32)
            .map(|n| {
                // The last sighting of pair n is at i = 99_000 + n: the earliest time.
                let time = (n % 7 != 0).then_some(i64::from(100_000 - (99_000 + n)));
                (Side::Node(n), Side::Node(n + 1), time)
            })
            .collect();
        expected.extend([(node, missing, Some(3)), (missing, node, None)]);
        expected.sort_by_key(|&(a, b, _)| (a.key(), b.key()));
        assert_eq!(list, expected);
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
