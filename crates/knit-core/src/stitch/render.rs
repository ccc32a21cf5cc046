// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Rendering a stitch's output from its state, a batch at a time: the id graph, pb's
//! edge table or the clusters, only the columns a query reads.
//!
//! Each partition renders its share. Laid out by main id (see [`Layout`]), a share is
//! the clusters whose main id hashes to the partition (as DataFusion's repartitioning
//! would send it), in main-id order or in node order; otherwise it is a contiguous range
//! of the nodes (or edges). A [`Cursor`] keeps where a partition has got to.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, RecordBatch, RecordBatchOptions, StringArray, StringBuilder,
    TimestampMicrosecondArray, UInt32Array,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::hash_utils::create_hashes;
use datafusion::error::Result;
use datafusion::execution::memory_pool::MemoryReservation;
use datafusion::physical_plan::repartition::REPARTITION_RANDOM_STATE;

use super::algo::pairs::{Pair, Side};
use super::algo::rid::Rid;
use super::algo::time::Time;
use super::spec::{StitchColumn, StitchOutput, StitchSpec};
use super::state::StitchState;
use crate::error::internal;

/// A timestamp column of stored times.
fn timestamps(values: impl Iterator<Item = Time>) -> ArrayRef {
    Arc::new(
        values
            .map(Time::micros)
            .collect::<TimestampMicrosecondArray>(),
    )
}

/// A text column of id values' bytes (UTF-8: the stitch reads ids as text), checked
/// once for the whole column rather than value by value.
fn text_column<'a>(values: impl Iterator<Item = Option<&'a [u8]>>) -> Result<ArrayRef> {
    let rows = values.size_hint().0;
    let mut column = BinaryBuilder::with_capacity(rows, rows * 16);
    column.extend(values);
    let text = StringArray::try_from_binary(column.finish())
        .map_err(|e| internal(format!("an id value is not UTF-8 ({e})")))?;
    Ok(Arc::new(text))
}

/// How an operator lays out its rows across partitions.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Layout {
    /// Each partition renders a contiguous range of the nodes (or edges).
    Ranges,
    /// The id graph with its main id at `main_at`: each partition renders the clusters
    /// whose main id hashes to it, in main-id order when `sorted`, else in node order.
    ByMainId { main_at: usize, sorted: bool },
}

impl Layout {
    /// The layout of `columns` of `spec`'s output. Sorting is kept for the main id
    /// alone: other columns are read node by node, and in main-id order each costs a
    /// cache miss per row (at 10M edges, all five columns took 1.5 s of CPU to render
    /// in that order against 0.26 s in node order, more than sorting saves). The
    /// optimizer decides on distribution before it folds projections into the
    /// operator, so the partitioning must not depend on which other columns remain.
    pub(crate) fn of(spec: &StitchSpec, columns: &[StitchColumn]) -> Self {
        let is_main = |&column: &StitchColumn| column == StitchColumn::MainId;
        match spec.output {
            StitchOutput::IdGraph => match columns.iter().position(is_main) {
                Some(main_at) => Layout::ByMainId {
                    main_at,
                    sorted: columns.iter().all(is_main),
                },
                None => Layout::Ranges,
            },
            StitchOutput::Edges | StitchOutput::Clusters => Layout::Ranges,
        }
    }
}

/// How many items `output` is rendered from: nodes, or edges.
fn output_items(output: StitchOutput, state: &StitchState) -> usize {
    match output {
        StitchOutput::IdGraph | StitchOutput::Clusters => state.graph.main.len(),
        StitchOutput::Edges => state.collector.list.len(),
    }
}

/// Where a partition's rendering has got to.
pub(crate) enum Cursor {
    /// Items (nodes or edges) `next..end` are left.
    Items { next: usize, end: usize },
    /// The id graph laid out by main id, unsorted: the nodes from `next` on whose main
    /// node is marked in `mains` are left.
    Mains { mains: Vec<bool>, next: usize },
    /// The id graph laid out by main id, sorted: the clusters `order[next..]` (each with
    /// its main id) are left, less the first `within` nodes of `order[next]`.
    Clusters {
        order: Vec<(Rid, u32)>,
        next: usize,
        within: usize,
    },
}

impl Cursor {
    /// Where partition `partition` of `partitions` starts rendering `output` laid out
    /// as `layout`; `memory` holds what the cursor keeps.
    pub(crate) fn start(
        state: &StitchState,
        output: StitchOutput,
        layout: Layout,
        partition: usize,
        partitions: usize,
        memory: &mut MemoryReservation,
    ) -> Result<Self> {
        Ok(match layout {
            Layout::ByMainId { sorted, .. } if sorted || partitions > 1 => {
                let order = main_id_order(state, partition, partitions, sorted, memory)?;
                if sorted {
                    Cursor::Clusters {
                        order,
                        next: 0,
                        within: 0,
                    }
                } else {
                    let graph = &state.graph;
                    let mut mains = vec![false; graph.main.len()];
                    for &(_, cluster) in &order {
                        let first = graph.cluster_nodes(cluster as usize)[0];
                        mains[graph.main[first as usize] as usize] = true;
                    }
                    drop(order);
                    memory.try_resize(mains.len())?;
                    Cursor::Mains { mains, next: 0 }
                }
            }
            Layout::ByMainId { .. } | Layout::Ranges => {
                let items = output_items(output, state);
                Cursor::Items {
                    next: items * partition / partitions,
                    end: items * (partition + 1) / partitions,
                }
            }
        })
    }

    /// A cursor with nothing left.
    pub(crate) fn done() -> Self {
        Cursor::Items { next: 0, end: 0 }
    }
}

/// What one partition renders: some columns of the stitch's output, from its state.
pub(crate) struct Output<'a> {
    pub(crate) spec: &'a StitchSpec,
    pub(crate) schema: &'a SchemaRef,
    /// The columns, in the order of `schema`.
    pub(crate) columns: &'a [StitchColumn],
    /// The id graph's nodes rendered, by id type; `None`: all.
    pub(crate) id_types: Option<&'a [bool]>,
    pub(crate) state: &'a StitchState,
}

impl Output<'_> {
    /// The next batch, moving the cursor past what it used; `None` when nothing is
    /// left.
    pub(crate) fn render_next(
        &self,
        cursor: &mut Cursor,
        batch_size: usize,
    ) -> Result<Option<RecordBatch>> {
        let graph = &self.state.graph;
        let node_types = match self.id_types {
            Some(_) => Some(self.state.node_types()?),
            None => None,
        };
        let rendered = |node: u32| match (self.id_types, &node_types) {
            (Some(marked), Some(types)) => {
                let id_type = usize::from(types[node as usize]);
                marked.get(id_type).copied().unwrap_or(false)
            }
            _ => true,
        };
        let (rows, arrays) = match cursor {
            Cursor::Clusters {
                order,
                next,
                within,
            } => {
                // Whole clusters and parts of them, up to a batch of nodes; the main id
                // comes with each run of a cluster's nodes.
                let mut nodes = Vec::with_capacity(batch_size);
                let mut runs = Vec::new();
                while nodes.len() < batch_size && *next < order.len() {
                    let (main_rid, cluster) = order[*next];
                    let cluster_nodes = &graph.cluster_nodes(cluster as usize)[*within..];
                    let take = cluster_nodes.len().min(batch_size - nodes.len());
                    let before = nodes.len();
                    let taken = cluster_nodes[..take].iter().copied();
                    nodes.extend(taken.filter(|&node| rendered(node)));
                    if nodes.len() > before {
                        runs.push((main_rid, nodes.len() - before));
                    }
                    if take == cluster_nodes.len() {
                        (*next, *within) = (*next + 1, 0);
                    } else {
                        *within += take;
                    }
                }
                if nodes.is_empty() {
                    return Ok(None);
                }
                (nodes.len(), self.id_graph_columns(&nodes, &runs)?)
            }
            Cursor::Mains { mains, next } => {
                let mut nodes = Vec::with_capacity(batch_size);
                while nodes.len() < batch_size && *next < graph.main.len() {
                    // The type first: a sequential read, where `mains` is not.
                    if rendered(*next as u32) && mains[graph.main[*next] as usize] {
                        nodes.push(*next as u32);
                    }
                    *next += 1;
                }
                if nodes.is_empty() {
                    return Ok(None);
                }
                let runs = self.main_id_runs(&nodes);
                (nodes.len(), self.id_graph_columns(&nodes, &runs)?)
            }
            Cursor::Items { next, end } => {
                if *next >= *end {
                    return Ok(None);
                }
                match self.spec.output {
                    StitchOutput::IdGraph => {
                        let mut nodes = Vec::with_capacity(batch_size.min(*end - *next));
                        while nodes.len() < batch_size && *next < *end {
                            if rendered(*next as u32) {
                                nodes.push(*next as u32);
                            }
                            *next += 1;
                        }
                        if nodes.is_empty() {
                            return Ok(None);
                        }
                        let runs = self.main_id_runs(&nodes);
                        (nodes.len(), self.id_graph_columns(&nodes, &runs)?)
                    }
                    StitchOutput::Edges => {
                        let chunk = *next..(*end).min(*next + batch_size);
                        *next = chunk.end;
                        let mut edges = Vec::with_capacity(chunk.len());
                        self.state.collector.list.copy_range(chunk, &mut edges);
                        (edges.len(), self.edge_columns(&edges)?)
                    }
                    StitchOutput::Clusters => {
                        // The main nodes among the next nodes, up to a batch of them.
                        let mut mains = Vec::with_capacity(batch_size);
                        while *next < *end && mains.len() < batch_size {
                            let node = *next as u32;
                            if graph.main[*next] == node {
                                mains.push(node);
                            }
                            *next += 1;
                        }
                        (mains.len(), self.cluster_columns(&mains)?)
                    }
                }
            }
        };
        // Without columns (as under `count(*)`), a batch still has its row count.
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(Some(RecordBatch::try_new_with_options(
            Arc::clone(self.schema),
            arrays,
            &options,
        )?))
    }

    /// The main ids of `nodes`, as runs of one main id.
    fn main_id_runs(&self, nodes: &[u32]) -> Vec<(Rid, usize)> {
        let StitchState { graph, rids, .. } = self.state;
        let mut runs: Vec<(u32, usize)> = Vec::new();
        for &node in nodes {
            let main = graph.main[node as usize];
            match runs.last_mut() {
                Some((last, count)) if *last == main => *count += 1,
                _ => runs.push((main, 1)),
            }
        }
        runs.into_iter()
            .map(|(main, count)| (rids[main as usize], count))
            .collect()
    }

    /// A main id column from runs of one main id.
    fn main_ids(runs: &[(Rid, usize)]) -> ArrayRef {
        let rows = runs.iter().map(|&(_, count)| count).sum::<usize>();
        let mut main = StringBuilder::with_capacity(rows, rows * 35);
        for &(rid, count) in runs {
            let text = rid.text();
            let text = text.as_str();
            for _ in 0..count {
                main.append_value(text);
            }
        }
        Arc::new(main.finish())
    }

    /// The id graph's columns for `nodes`: main id, id, id type, `valid_at`,
    /// `first_seen_at`.
    fn id_graph_columns(&self, nodes: &[u32], runs: &[(Rid, usize)]) -> Result<Vec<ArrayRef>> {
        let (state, graph) = (self.state, &self.state.graph);
        let node_ids = || nodes.iter().copied();
        let times = |of: &[Time]| timestamps(node_ids().map(|node| of[node as usize]));
        let value_column = || text_column(node_ids().map(|node| Some(state.node_bytes(node).1)));
        let type_column = || {
            let mut column = StringBuilder::with_capacity(nodes.len(), nodes.len() * 8);
            for node in node_ids() {
                column.append_value(self.spec.type_name(state.node_bytes(node).0));
            }
            Arc::new(column.finish()) as ArrayRef
        };
        self.columns
            .iter()
            .map(|&column| match column {
                StitchColumn::MainId => Ok(Self::main_ids(runs)),
                StitchColumn::OtherId => value_column(),
                StitchColumn::OtherIdType => Ok(type_column()),
                StitchColumn::ValidAt => Ok(times(&graph.valid_at)),
                StitchColumn::FirstSeenAt => Ok(times(&graph.first_seen_at)),
                other => Err(not_in(other, StitchOutput::IdGraph)),
            })
            .collect()
    }

    /// pb's edge table's columns for `edges`: each side's id and id type, the edge's
    /// label (the smaller rid of its nodes) and its `valid_at`.
    fn edge_columns(&self, edges: &[Pair]) -> Result<Vec<ArrayRef>> {
        let (state, rids) = (self.state, &self.state.rids);
        let side = |pair: &Pair, second: bool| {
            let (a, b) = pair.sides();
            if second { b } else { a }
        };
        let id_column = |second: bool| {
            text_column(edges.iter().map(|pair| match side(pair, second) {
                Side::Node(node) => Some(state.node_bytes(node).1),
                Side::Missing(_) => None,
            }))
        };
        let type_column = |second: bool| -> ArrayRef {
            let mut column = StringBuilder::with_capacity(edges.len(), edges.len() * 8);
            for pair in edges {
                column.append_value(self.spec.type_name(match side(pair, second) {
                    Side::Node(node) => state.node_bytes(node).0,
                    Side::Missing(id_type) => id_type,
                }));
            }
            Arc::new(column.finish())
        };
        let label_column = || -> Result<ArrayRef> {
            let mut column = StringBuilder::with_capacity(edges.len(), edges.len() * 35);
            for pair in edges {
                let (a, b) = pair.sides();
                let smallest = [a, b]
                    .into_iter()
                    .filter_map(|side| match side {
                        Side::Node(node) => Some(rids[node as usize]),
                        Side::Missing(_) => None,
                    })
                    .min()
                    .ok_or_else(|| internal("an edge without nodes"))?;
                column.append_value(smallest.text().as_str());
            }
            Ok(Arc::new(column.finish()))
        };
        self.columns
            .iter()
            .map(|&column| match column {
                StitchColumn::Id1 => id_column(false),
                StitchColumn::Id1Type => Ok(type_column(false)),
                StitchColumn::Id2 => id_column(true),
                StitchColumn::Id2Type => Ok(type_column(true)),
                StitchColumn::MainId => label_column(),
                StitchColumn::ValidAt => Ok(timestamps(edges.iter().map(|e| e.time()))),
                other => Err(not_in(other, StitchOutput::Edges)),
            })
            .collect()
    }

    /// The clusters' columns for `mains` (main nodes): the cluster's number (its main
    /// node's id) and its main id.
    fn cluster_columns(&self, mains: &[u32]) -> Result<Vec<ArrayRef>> {
        self.columns
            .iter()
            .map(|&column| match column {
                StitchColumn::Cluster => {
                    Ok(Arc::new(UInt32Array::from(mains.to_vec())) as ArrayRef)
                }
                StitchColumn::MainId => Ok(Self::main_ids(&self.main_id_runs(mains))),
                other => Err(not_in(other, StitchOutput::Clusters)),
            })
            .collect()
    }
}

/// The error for a column asked of an output that does not have it.
fn not_in(column: StitchColumn, output: StitchOutput) -> datafusion::error::DataFusionError {
    internal(format!("the {output} output has no column {column:?}"))
}

/// How many clusters [`place_clusters`] hashes at once.
const HASH_CHUNK: usize = 8192;

/// The clusters in `partition` of `partitions`, with their main ids, in order of main
/// id when `sorted`. `memory` holds the list's size.
fn main_id_order(
    state: &StitchState,
    partition: usize,
    partitions: usize,
    sorted: bool,
    memory: &mut MemoryReservation,
) -> Result<Vec<(Rid, u32)>> {
    let graph = &state.graph;
    let placed = match partitions {
        1 => None,
        _ => Some(state.cluster_partitions(partitions, || place_clusters(state, partitions))?),
    };
    let ours = |cluster: usize| {
        placed
            .as_ref()
            .is_none_or(|p| p[cluster] as usize == partition)
    };
    // The list is reserved before it is made.
    let clusters = (0..graph.clusters).filter(|&c| ours(c)).count();
    memory.try_resize(clusters * size_of::<(Rid, u32)>())?;
    let mut order = Vec::with_capacity(clusters);
    order.extend(
        (0..graph.clusters)
            .filter(|&c| ours(c))
            .map(|cluster| (graph.main_rid(cluster), cluster as u32)),
    );
    if sorted {
        order.sort_unstable();
    }
    Ok(order)
}

/// The partition of each cluster among `partitions`: the one DataFusion's hash
/// repartitioning (`RepartitionExec`) sends its main id to, the same hash of the same
/// text modulo the partition count, so that the `Hash` partitioning the operator
/// declares holds for joins and aggregates alike.
fn place_clusters(state: &StitchState, partitions: usize) -> Result<Vec<u32>> {
    let graph = &state.graph;
    let mut placed = Vec::with_capacity(graph.clusters);
    let mut hashes: Vec<u64> = Vec::new();
    for start in (0..graph.clusters).step_by(HASH_CHUNK) {
        let chunk = start..graph.clusters.min(start + HASH_CHUNK);
        let mut texts = StringBuilder::with_capacity(chunk.len(), chunk.len() * 35);
        for cluster in chunk.clone() {
            texts.append_value(graph.main_rid(cluster).text().as_str());
        }
        let texts: ArrayRef = Arc::new(texts.finish());
        hashes.clear();
        hashes.resize(chunk.len(), 0);
        create_hashes(
            [&texts],
            REPARTITION_RANDOM_STATE.random_state(),
            &mut hashes,
        )?;
        placed.extend(hashes.iter().map(|hash| (hash % partitions as u64) as u32));
    }
    Ok(placed)
}
