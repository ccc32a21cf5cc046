// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Building the components once for every output partition: input batches to interned
//! edges, union-find beside the read, then each component's name and partition.
//!
//! Four stages run at once, a few batches in flight between them: this task reads the
//! input's batches (decoded in its own tasks); a thread takes each value's bytes and
//! fingerprint; a thread interns them in batches (the interner's cache misses overlap;
//! this is the one stage that cannot be split); a thread joins each batch's edges by
//! union-find as it arrives, so the sets are done when the last batch is read. The
//! layout then names each component by its smallest node, sends it to the output
//! partition its name hashes to, as DataFusion's repartitioning would, and groups the
//! nodes by component; each partition renders its components in order of name. So a
//! `GROUP BY component` needs no repartition, and streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::hash_utils::create_hashes;
use datafusion::common::runtime::SpawnedTask;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, Gauge, MetricBuilder, Time as TimeMetric,
};
use datafusion::physical_plan::repartition::REPARTITION_RANDOM_STATE;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use futures::StreamExt;

use super::values::{NodeColumn, NodeEncoding};
use crate::error::internal;
use crate::kernels::intern::{Interner, fingerprint};
use crate::kernels::union_find::UnionFind;

/// The most nodes: ids are `u32`, and one value is kept free.
const MAX_NODES: usize = u32::MAX as usize - 1;

/// How many component names are hashed at a time to place components in partitions.
const HASH_CHUNK: usize = 1 << 16;

/// The built components: every node, grouped by component, and each component's name
/// and output partition.
#[derive(Debug)]
pub(crate) struct Components {
    /// How node values are bytes, and back.
    encoding: NodeEncoding,
    /// The interned node values (the index released: only the values are read).
    nodes: Interner,
    /// The nodes, component by component (in id order within one).
    members: Vec<u32>,
    /// Per component, the end of its nodes in `members` (the previous one's end is
    /// its start).
    member_ends: Vec<u32>,
    /// Per component, its output partition.
    partition_of: Vec<u32>,
    /// Per component, its name: read once per output row, they are near each other here.
    names: Names,
    /// Holds the components' memory in the pool until they are dropped.
    _reservation: MemoryReservation,
}

/// Where a partition's rendering has got to: its components in order of name, the
/// next one to render, and how many of that one's nodes are already out.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    order: Vec<u32>,
    next: usize,
    within: usize,
}

impl Cursor {
    /// A cursor with nothing left, once an error ended the stream.
    pub(crate) fn done() -> Self {
        Self::default()
    }

    /// The bytes the cursor holds.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.order.capacity() * size_of::<u32>()
    }
}

/// The components' names (their smallest node's bytes), one after another, and where
/// each ends.
#[derive(Debug, Default)]
struct Names {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Names {
    /// The name of a component.
    fn get(&self, component: u32) -> &[u8] {
        let component = component as usize;
        let start = match component {
            0 => 0,
            _ => self.ends[component - 1],
        };
        &self.bytes[start..self.ends[component]]
    }
}

impl Components {
    /// Where partition `partition` starts: its components (those whose name hashes to
    /// it), sorted by name. The name's bytes order as its values do, so the partition's
    /// rows come sorted on `component` and a `GROUP BY component` streams.
    pub(crate) fn start(&self, partition: usize) -> Cursor {
        // Most comparisons end at the names' prefixes, without reading the names from
        // random places.
        let mut keyed: Vec<(u64, u32)> = (0..self.partition_of.len() as u32)
            .filter(|&c| self.partition_of[c as usize] == partition as u32)
            .map(|c| (name_prefix(self.names.get(c)), c))
            .collect();
        keyed.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| self.names.get(a.1).cmp(self.names.get(b.1)))
        });
        Cursor {
            order: keyed.into_iter().map(|(_, c)| c).collect(),
            next: 0,
            within: 0,
        }
    }

    /// The nodes of a component.
    fn members(&self, component: u32) -> &[u32] {
        let component = component as usize;
        let start = match component {
            0 => 0,
            _ => self.member_ends[component - 1] as usize,
        };
        &self.members[start..self.member_ends[component] as usize]
    }

    /// The next batch of a partition in `schema`: the nodes of its components from
    /// `cursor` on, with their components' names (or the names alone, for a schema of
    /// one column); `None` when none is left.
    pub(crate) fn next_batch(
        &self,
        schema: &SchemaRef,
        cursor: &mut Cursor,
        batch_size: usize,
    ) -> Result<Option<RecordBatch>> {
        let (mut ids, mut names) = (Vec::new(), Vec::new());
        while ids.len() < batch_size && cursor.next < cursor.order.len() {
            let component = cursor.order[cursor.next];
            let members = &self.members(component)[cursor.within..];
            let take = members.len().min(batch_size - ids.len());
            ids.extend_from_slice(&members[..take]);
            names.resize(ids.len(), self.names.get(component));
            if take == members.len() {
                cursor.next += 1;
                cursor.within = 0;
            } else {
                cursor.within += take;
            }
        }
        if ids.is_empty() {
            return Ok(None);
        }
        let data_type = schema.field(0).data_type();
        let mut columns = Vec::with_capacity(2);
        if schema.fields().len() == 2 {
            // A partition's nodes lie all over the interned values: read them a batch
            // at a time, so that the misses overlap.
            let mut keys = Vec::new();
            self.nodes.keys_of(&ids, &mut keys);
            let nodes: Vec<&[u8]> = keys.into_iter().map(|(_, bytes)| bytes).collect();
            columns.push(self.encoding.array(data_type, &nodes)?);
        }
        columns.push(self.encoding.array(data_type, &names)?);
        Ok(Some(RecordBatch::try_new(Arc::clone(schema), columns)?))
    }
}

/// The first 8 bytes of a value (zeros after a shorter one), as a number that orders as
/// the bytes do where the numbers differ.
fn name_prefix(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let len = bytes.len().min(8);
    word[..len].copy_from_slice(&bytes[..len]);
    u64::from_be_bytes(word)
}

/// The operator's counters, shown by `EXPLAIN ANALYZE`.
///
/// Phases, the first three on threads of their own beside the input's decoding:
/// `read_time` (values' bytes and fingerprints), `intern_time` (values to interned
/// edges), `union_find_time` (joining edges); then `layout_time`
/// (naming components, placing them in partitions) and `output_time` (rendering
/// batches, by every partition).
#[derive(Debug, Clone)]
pub(crate) struct ComponentsMetrics {
    edges: Count,
    nodes: Count,
    components: Count,
    largest_component: Gauge,
    read_time: TimeMetric,
    intern_time: TimeMetric,
    union_find_time: TimeMetric,
    layout_time: TimeMetric,
    pub(crate) output_time: TimeMetric,
}

impl ComponentsMetrics {
    /// The counters of one partition of an operator.
    pub(crate) fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        let builder = || MetricBuilder::new(metrics);
        Self {
            edges: builder().counter("edges", partition),
            nodes: builder().counter("nodes", partition),
            components: builder().counter("components", partition),
            largest_component: builder().gauge("largest_component", partition),
            read_time: builder().subset_time("read_time", partition),
            intern_time: builder().subset_time("intern_time", partition),
            union_find_time: builder().subset_time("union_find_time", partition),
            layout_time: builder().subset_time("layout_time", partition),
            output_time: builder().subset_time("output_time", partition),
        }
    }
}

fn thread_failed(e: &dyn std::fmt::Display) -> DataFusionError {
    internal(format!("a connected_components thread failed: {e}"))
}

/// Reads every partition of `input` (two columns of one type) and builds the
/// components, laid out for `schema`'s `partitions` output partitions.
pub(crate) async fn build(
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    partitions: usize,
    ctx: Arc<TaskContext>,
    metrics: ComponentsMetrics,
) -> Result<Arc<Components>> {
    let reservation = MemoryConsumer::new("ConnectedComponentsExec").register(ctx.memory_pool());
    let encoding = Arc::new(NodeEncoding::new(schema.field(0).data_type())?);
    // The stages of the module's doc; edges go to union-find with how many nodes there
    // are by then.
    let (batches, mut batch_receiver) = tokio::sync::mpsc::channel::<RecordBatch>(2);
    let (prepared_sender, mut prepared_receiver) = tokio::sync::mpsc::channel::<Prepared>(2);
    let (edge_sender, mut edge_receiver) = tokio::sync::mpsc::channel::<(u32, Vec<(u32, u32)>)>(4);
    let preparing = {
        let encoding = Arc::clone(&encoding);
        let read_time = metrics.read_time.clone();
        SpawnedTask::spawn_blocking(move || {
            while let Some(batch) = batch_receiver.blocking_recv() {
                let prepared = {
                    let _timer = read_time.timer();
                    Prepared::new(&encoding, &batch)?
                };
                if prepared_sender.blocking_send(prepared).is_err() {
                    break;
                }
            }
            Ok::<_, DataFusionError>(())
        })
    };
    let set_bytes = Arc::new(AtomicUsize::new(0));
    let joining = {
        let set_bytes = Arc::clone(&set_bytes);
        let union_find_time = metrics.union_find_time.clone();
        SpawnedTask::spawn_blocking(move || {
            let mut sets = UnionFind::new(0);
            while let Some((nodes, edges)) = edge_receiver.blocking_recv() {
                let _timer = union_find_time.timer();
                sets.grow_to(nodes);
                for (a, b) in edges {
                    sets.union(a, b);
                }
                set_bytes.store(sets.allocated_bytes(), Ordering::Relaxed);
            }
            sets
        })
    };
    let interning = {
        let metrics = metrics.clone();
        SpawnedTask::spawn_blocking(move || {
            let mut nodes = Interner::default();
            while let Some(prepared) = prepared_receiver.blocking_recv() {
                let edges = {
                    let _timer = metrics.intern_time.timer();
                    prepared.intern(&mut nodes)?
                };
                metrics.edges.add(prepared.rows);
                // Edges in flight: this batch's and those queued before it.
                let in_flight = edges.capacity() * size_of::<(u32, u32)>() * 6;
                reservation.try_resize(
                    nodes.allocated_bytes() + set_bytes.load(Ordering::Relaxed) + in_flight,
                )?;
                if edge_sender
                    .blocking_send((nodes.len() as u32, edges))
                    .is_err()
                {
                    return Err(thread_failed(&"the union-find thread stopped"));
                }
            }
            Ok((nodes, reservation))
        })
    };
    // The planner merges the input into one partition; read them all anyway, so that a
    // plan built another way loses no rows.
    'read: for partition in 0..input.output_partitioning().partition_count() {
        let mut stream = input.execute(partition, Arc::clone(&ctx))?;
        while let Some(batch) = stream.next().await {
            if batches.send(batch?).await.is_err() {
                // A later stage stopped: its error says why.
                break 'read;
            }
        }
    }
    drop(batches);
    preparing.join().await.map_err(|e| thread_failed(&e))??;
    let (nodes, reservation) = interning.join().await.map_err(|e| thread_failed(&e))??;
    let sets = joining.join().await.map_err(|e| thread_failed(&e))?;
    metrics.nodes.add(nodes.len());
    let layout_time = metrics.layout_time.clone();
    let encoding = Arc::try_unwrap(encoding)
        .map_err(|_| internal("connected_components' encoding is still shared"))?;
    SpawnedTask::spawn_blocking(move || {
        let _timer = layout_time.timer();
        lay_out(
            encoding,
            nodes,
            sets,
            &schema,
            partitions,
            reservation,
            &metrics,
        )
    })
    .join()
    .await
    .map_err(|e| thread_failed(&e))?
    .map(Arc::new)
}

/// A batch made ready to intern: its two columns' node bytes, and the fingerprint of
/// each value that is not NULL, row by row, the first column's value first.
struct Prepared {
    columns: [NodeColumn; 2],
    fingerprints: Vec<u64>,
    rows: usize,
}

impl Prepared {
    fn new(encoding: &NodeEncoding, batch: &RecordBatch) -> Result<Self> {
        let columns = [
            encoding.column(batch.column(0))?,
            encoding.column(batch.column(1))?,
        ];
        let rows = batch.num_rows();
        let mut fingerprints = Vec::with_capacity(rows * 2);
        for row in 0..rows {
            for column in &columns {
                if let Some(value) = column.get(row) {
                    fingerprints.push(fingerprint(0, value));
                }
            }
        }
        Ok(Self {
            columns,
            fingerprints,
            rows,
        })
    }

    /// Interns the values and gives the edges: one per row whose values are both
    /// there. A row with one NULL makes its other value a node alone. The values are
    /// looked up again here rather than kept from [`Prepared::new`]: they borrow the
    /// columns, and the lookup is cheap beside the interning it keeps off this thread.
    fn intern(&self, nodes: &mut Interner) -> Result<Vec<(u32, u32)>> {
        let mut keys: Vec<(u16, &[u8])> = Vec::with_capacity(self.fingerprints.len());
        // Per cell, where its key is in `keys`; `u32::MAX` for NULL.
        let mut cells: Vec<u32> = Vec::with_capacity(self.rows * 2);
        for row in 0..self.rows {
            for column in &self.columns {
                match column.get(row) {
                    Some(value) => {
                        cells.push(keys.len() as u32);
                        keys.push((0, value));
                    }
                    None => cells.push(u32::MAX),
                }
            }
        }
        let mut ids = Vec::with_capacity(keys.len());
        nodes.intern_all_hashed(&keys, &self.fingerprints, &mut ids);
        if nodes.len() > MAX_NODES {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "ConnectedComponentsExec: more than {MAX_NODES} distinct nodes; \
                 give connected_components fewer edges"
            )));
        }
        Ok(cells
            .chunks_exact(2)
            .filter(|cell| cell[0] != u32::MAX && cell[1] != u32::MAX)
            .map(|cell| (ids[cell[0] as usize], ids[cell[1] as usize]))
            .collect())
    }
}

/// Names each component by its smallest node and places it in an output partition.
fn lay_out(
    encoding: NodeEncoding,
    mut nodes: Interner,
    mut sets: UnionFind,
    schema: &SchemaRef,
    partitions: usize,
    reservation: MemoryReservation,
    metrics: &ComponentsMetrics,
) -> Result<Components> {
    // Ids past the last batch's edges (nodes of rows with a NULL) join no set.
    sets.grow_to(nodes.len() as u32);
    nodes.release_index();
    // Per node its component (the sets' arrays are reused); per component its name,
    // its size, its partition, and the name's bytes (reserved as they grow).
    reservation.try_resize(nodes.allocated_bytes() + nodes.len() * 8)?;
    let (component_of, components) = sets.into_clusters();
    let components = components as usize;
    reservation.try_grow(components * 32)?;
    let mut label = vec![u32::MAX; components];
    let mut size = vec![0u32; components];
    // The prefix of each name so far (`name_prefix`): most comparisons end there,
    // without reading the name's bytes from a random place.
    let mut label_prefix = vec![0u64; components];
    let value = |node: u32| nodes.key(node).1;
    // Nodes are read in order, as their bytes lie.
    for (node, &component) in component_of.iter().enumerate() {
        let (node, component) = (node as u32, component as usize);
        let bytes = value(node);
        size[component] += 1;
        let node_prefix = name_prefix(bytes);
        let current = label[component];
        // Components are numbered in order of their first id, which names it first.
        let smaller = current == u32::MAX
            || node_prefix < label_prefix[component]
            || (node_prefix == label_prefix[component] && bytes < value(current));
        if smaller {
            label[component] = node;
            label_prefix[component] = node_prefix;
        }
    }
    drop(label_prefix);
    metrics.components.add(components);
    metrics
        .largest_component
        .set(size.iter().copied().max().unwrap_or(0) as usize);
    let memory = nodes.allocated_bytes() + nodes.len() * 8 + components * 32;
    let mut names = Names {
        bytes: Vec::new(),
        ends: Vec::with_capacity(components),
    };
    for labels in label.chunks(HASH_CHUNK) {
        for &node in labels {
            names.bytes.extend_from_slice(value(node));
            names.ends.push(names.bytes.len());
        }
        reservation.try_resize(memory + names.bytes.capacity())?;
    }
    drop(label);
    // The nodes grouped by component (a counting sort: sizes to ends, then places), in
    // the room reserved for the per-node components and the per-component counts.
    let mut member_ends = size;
    let mut end = 0u32;
    for count in &mut member_ends {
        end += *count;
        *count = end;
    }
    let mut members = vec![0u32; component_of.len()];
    // Filled from the back, so that each component's nodes stay in id order.
    let mut next = member_ends.clone();
    for (node, &component) in component_of.iter().enumerate().rev() {
        let slot = &mut next[component as usize];
        *slot -= 1;
        members[*slot as usize] = node as u32;
    }
    drop(next);
    drop(component_of);
    // Each component's partition: its name hashed as DataFusion's repartitioning would.
    let mut partition_of = vec![0u32; components];
    if partitions > 1 {
        let mut hashes = Vec::with_capacity(HASH_CHUNK);
        // Every column (node, component) has the nodes' type.
        let data_type = schema.field(0).data_type();
        for (first, placed) in partition_of.chunks_mut(HASH_CHUNK).enumerate() {
            let first = (first * HASH_CHUNK) as u32;
            let values: Vec<&[u8]> = (first..first + placed.len() as u32)
                .map(|c| names.get(c))
                .collect();
            let array = encoding.array(data_type, &values)?;
            hashes.clear();
            hashes.resize(values.len(), 0);
            create_hashes(
                [&array],
                REPARTITION_RANDOM_STATE.random_state(),
                &mut hashes,
            )?;
            for (partition, hash) in placed.iter_mut().zip(&hashes) {
                *partition = (hash % partitions as u64) as u32;
            }
        }
    }
    Ok(Components {
        encoding,
        nodes,
        members,
        member_ends,
        partition_of,
        names,
        _reservation: reservation,
    })
}
