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
//! each row's ids and emits its pairs, and an [`EdgeSet`] groups the pairs. Both are
//! bound by cache misses in their hash maps, and they take about equal time.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

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

/// A multiply-rotate hasher for edge keys, which are a few small integers: SipHash's
/// protection against chosen keys costs more than the whole insert here.
#[derive(Debug, Default)]
struct EdgeHasher(u64);

impl Hasher for EdgeHasher {
    fn finish(&self) -> u64 {
        // Mix the high bits down: hashbrown takes its bucket from the low bits.
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(26) ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_u16(&mut self, value: u16) {
        self.write_u64(u64::from(value));
    }
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

/// A distinct pair: its index in order of first sight, with [`NO_TIME`] set while no
/// row of the pair had a time, and its earliest time.
type FirstSight = (u32, i64);

/// The flag of [`FirstSight`]'s index: no time yet.
const NO_TIME: u32 = 1 << 31;

/// The second stage of reading: the distinct pairs, each with its earliest time.
#[derive(Debug, Default)]
pub struct EdgeSet {
    /// Each distinct pair, keyed by its two sides' keys. The time lives here rather
    /// than in a list, so a pair seen again costs one probe; 24 bytes an entry.
    edges: HashMap<u64, FirstSight, BuildHasherDefault<EdgeHasher>>,
}

impl EdgeSet {
    /// Adds pairs. Fails past 2^31 distinct pairs, the most an index can number.
    pub fn add(&mut self, pairs: &[Pair]) -> Result<()> {
        if self.edges.len() + pairs.len() >= NO_TIME as usize {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "IdStitchExec: more than {NO_TIME} distinct id pairs; stitch fewer inputs \
                 or a shorter time range"
            )));
        }
        self.edges.reserve(pairs.len());
        let key = |a: Side, b: Side| u64::from(a.key()) << 32 | u64::from(b.key());
        for chunk in pairs.chunks(2048) {
            // Read-only probes first, as `Interner::intern_all` does: their misses
            // overlap, and the updates below find the buckets cached.
            let mut touched = 0u32;
            for &(a, b, _) in chunk {
                touched ^= self.edges.get(&key(a, b)).map_or(0, |e| e.0);
            }
            std::hint::black_box(touched);
            for &(a, b, time) in chunk {
                let next = self.edges.len() as u32;
                self.edges
                    .entry(key(a, b))
                    .and_modify(|(index, earliest)| {
                        if let Some(time) = time {
                            if *index & NO_TIME != 0 || time < *earliest {
                                *earliest = time;
                            }
                            *index &= !NO_TIME;
                        }
                    })
                    .or_insert(match time {
                        Some(time) => (next, time),
                        None => (next | NO_TIME, 0),
                    });
            }
        }
        Ok(())
    }

    /// The distinct pairs, in order of first sight.
    pub fn into_list(self) -> Vec<Pair> {
        let mut list = vec![(Side::Missing(0), Side::Missing(0), None); self.edges.len()];
        for (key, (index, time)) in self.edges {
            let (a, b) = (
                Side::from_key((key >> 32) as u32),
                Side::from_key(key as u32),
            );
            let time = (index & NO_TIME == 0).then_some(time);
            list[(index & !NO_TIME) as usize] = (a, b, time);
        }
        list
    }

    /// Bytes held, for memory accounting.
    pub fn allocated_bytes(&self) -> usize {
        self.edges.capacity() * (size_of::<(u64, FirstSight)>() + 1)
    }
}

/// Edges and nodes collected from input rows.
#[derive(Debug, Default)]
pub struct EdgeCollector {
    /// The nodes seen.
    pub nodes: Interner,
    /// Each distinct edge with its earliest time, in order of first sight.
    pub list: Vec<Pair>,
    /// Input rows read.
    pub rows: usize,
}

impl EdgeCollector {
    /// The result of both stages.
    pub fn new(reader: PairReader, edges: EdgeSet) -> Self {
        Self {
            nodes: reader.nodes,
            list: edges.into_list(),
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
