// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! One stitch per query: the computed graph that every operator over the same entity and
//! inputs shares.
//!
//! A feature query reads one id graph in many places: the id graph for feature views,
//! the clusters for the entity list, and a lookup per input that maps rows to clusters.
//! Each of those operators holds the same [`SharedStitch`]; the first to run starts the
//! build of the [`StitchState`], and every one of them awaits that one build
//! ([`crate::shared_build`]: it runs once, and a failure is kept). The state keeps its
//! memory reservation for as long as an operator can still read it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::common::runtime::SpawnedTask;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, Gauge, MetricBuilder, Time as TimeMetric,
};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use futures::StreamExt;

use super::algo::edge::Edge;
use super::algo::graph::{Clusters, IdGraph, Stopped};
use super::algo::limits::{Limits, RefusedEdge};
use super::algo::pairs::{EdgeCollector, EdgeSet, Pair};
use super::algo::rid::{Rid, rid_of_bytes};
use super::keys::split_rows;
use super::read::{PairReader, slice_pairs, slice_rows};
use super::rules::{NodePairs, StitchRules};
use super::spec::StitchSpec;
use crate::error::internal;
use crate::kernels::intern::KeyBatch;
use crate::shared_build::SharedBuild;

/// The computed stitch: the interned nodes and edges, the graph and every node's rid.
#[derive(Debug)]
pub(crate) struct StitchState {
    /// The nodes (interned keys) and pb's edges.
    pub(crate) collector: EdgeCollector,
    /// Main node, `first_seen_at` and `valid_at` of every node.
    pub(crate) graph: IdGraph,
    /// The rid of every node.
    pub(crate) rids: Vec<Rid>,
    /// The edges the entity's limits refused, in the order they were refused within
    /// each cluster.
    pub(crate) refused: Vec<RefusedEdge>,
    /// The edges the entity's rules exclude, as `(smaller, larger)` nodes.
    pub(crate) excluded: NodePairs,
    /// Per count of output partitions, the partition of each cluster (see
    /// [`StitchState::cluster_partitions`]).
    cluster_partitions: Mutex<Vec<(usize, Arc<[u32]>)>>,
    /// The id type of every node (see [`StitchState::node_types`]).
    node_types: Mutex<Option<Arc<[u16]>>>,
    /// Holds the state's memory in the pool until the state is dropped.
    reservation: MemoryReservation,
}

impl StitchState {
    /// The cluster of each key `(id_type, value)` the graph holds as a node, appended to
    /// `clusters`. A cluster is named by its main node's id.
    pub(crate) fn clusters_of(&self, keys: &[(u16, &[u8])], clusters: &mut Vec<Option<u32>>) {
        let start = clusters.len();
        self.collector.nodes.get_all(keys, clusters);
        for cluster in &mut clusters[start..] {
            *cluster = cluster.map(|node| self.graph.main[node as usize]);
        }
    }

    /// The output partition of each cluster among `partitions`, as `place` computes it:
    /// every rendering of the id graph laid out by main id reads it (each feature view
    /// of a project run renders the graph again), so it is computed once per partition
    /// count and kept, its memory in the state's reservation. A partition asking while
    /// another computes it waits for that one result.
    pub(crate) fn cluster_partitions(
        &self,
        partitions: usize,
        place: impl FnOnce() -> Result<Vec<u32>>,
    ) -> Result<Arc<[u32]>> {
        let mut kept = self
            .cluster_partitions
            .lock()
            .map_err(|_| internal("the stitch's partition lock is poisoned"))?;
        if let Some((_, placed)) = kept.iter().find(|(count, _)| *count == partitions) {
            return Ok(Arc::clone(placed));
        }
        let placed: Arc<[u32]> = place()?.into();
        self.reservation.try_grow(placed.len() * size_of::<u32>())?;
        kept.push((partitions, Arc::clone(&placed)));
        Ok(placed)
    }

    /// The id type of every node, read from the keys once and kept (its memory in the
    /// state's reservation): an id graph rendered for some id types only (each feature
    /// view by an id type) tests every node's type, and this array is a sequential read
    /// where the keys are not.
    pub(crate) fn node_types(&self) -> Result<Arc<[u16]>> {
        let mut kept = self
            .node_types
            .lock()
            .map_err(|_| internal("the stitch's node type lock is poisoned"))?;
        if let Some(types) = kept.as_ref() {
            return Ok(Arc::clone(types));
        }
        let nodes = self.graph.main.len();
        self.reservation.try_grow(nodes * size_of::<u16>())?;
        let types: Arc<[u16]> = (0..nodes)
            .map(|node| self.node_bytes(node as u32).0)
            .collect();
        *kept = Some(Arc::clone(&types));
        Ok(types)
    }

    /// The id type and bytes of a node's value (UTF-8: ids are read as text).
    pub(crate) fn node_bytes(&self, node: u32) -> (u16, &[u8]) {
        self.collector.nodes.key(node)
    }

    /// The id type name and value of a node.
    pub(crate) fn node_key<'a>(
        &'a self,
        spec: &'a StitchSpec,
        node: u32,
    ) -> Result<(&'a str, &'a str)> {
        let (id_type, bytes) = self.node_bytes(node);
        let value = std::str::from_utf8(bytes)
            .map_err(|e| internal(format!("id value is not UTF-8 ({e})")))?;
        Ok((spec.type_name(id_type), value))
    }
}

/// The result of one stitch, computed once for every operator that shares it.
#[derive(Debug)]
pub(crate) struct SharedStitch {
    build: SharedBuild<StitchState>,
    /// How many plan nodes of the query planned last the planner gave it to.
    uses: AtomicUsize,
    /// Names this build among all builds of all processes, so that the operators of a
    /// plan sent to a worker share one build there too (module `wire`).
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    key: u64,
}

impl Default for SharedStitch {
    fn default() -> Self {
        Self::with_key(unique_key())
    }
}

/// A key no other build of this or another process is likely to have: a counter mixed
/// by the process's random hasher seed.
fn unique_key() -> u64 {
    use std::hash::BuildHasher;
    static SEED: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, AtomicOrdering::Relaxed);
    SEED.get_or_init(Default::default).hash_one(n)
}

impl SharedStitch {
    /// A build not started yet, named `key`.
    pub(crate) fn with_key(key: u64) -> Self {
        Self {
            build: SharedBuild::default(),
            uses: AtomicUsize::new(0),
            key,
        }
    }

    /// The name of this build across processes.
    #[cfg(feature = "distributed")]
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// Counts one more plan node that uses the result; the first of a query starts
    /// the count again (an earlier query's nodes have run).
    pub(crate) fn add_use(&self, first_in_query: bool) {
        if first_in_query {
            self.uses.store(1, AtomicOrdering::Relaxed);
        } else {
            self.uses.fetch_add(1, AtomicOrdering::Relaxed);
        }
    }

    /// True when the build has ended in an error.
    pub(crate) fn failed(&self) -> bool {
        self.build.failed()
    }

    /// True when an earlier query started the build, so that this query's operators
    /// will not read their inputs.
    #[cfg(feature = "distributed")]
    pub(crate) fn started(&self) -> bool {
        self.build.started()
    }

    /// True when more than one plan node of a query reads this stitch.
    pub(crate) fn is_shared(&self) -> bool {
        self.uses.load(AtomicOrdering::Relaxed) > 1
    }

    /// The stitch of `spec` over `inputs`, built by the first caller's arguments.
    pub(crate) async fn state(
        &self,
        spec: &Arc<StitchSpec>,
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &Arc<TaskContext>,
        metrics: &StitchMetrics,
    ) -> Result<Arc<StitchState>> {
        self.build
            .get(|| {
                let (spec, inputs) = (Arc::clone(spec), inputs.to_vec());
                let (ctx, metrics) = (Arc::clone(ctx), metrics.clone());
                async move {
                    let (rows, rules) = StitchRows::of_children(&spec, &inputs);
                    let rules = read_rules(&spec, rules, &ctx).await?;
                    compute(&spec, rows, &rules, &ctx, &metrics).await
                }
            })
            .await
    }
}

fn task_failed(e: &dyn std::fmt::Display) -> DataFusionError {
    internal(format!("a stitch thread failed: {e}"))
}

/// Where the rows of a stitch come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StitchRows<'a> {
    /// Each input's plan (in the order of the spec's inputs), read whole.
    Inputs(&'a [Arc<dyn ExecutionPlan>]),
    /// One partition of the rows of all inputs routed by cluster (in the schema of
    /// [`super::keys::rows_schema`], the label last): a spread stitch's share.
    Routed {
        plan: &'a Arc<dyn ExecutionPlan>,
        partition: usize,
    },
}

impl<'a> StitchRows<'a> {
    /// The rows and the rules of a stitch operator's children: the inputs, then the
    /// rules' plan when the entity has rules.
    pub(crate) fn of_children(
        spec: &StitchSpec,
        children: &'a [Arc<dyn ExecutionPlan>],
    ) -> (Self, Option<&'a Arc<dyn ExecutionPlan>>) {
        let inputs = &children[..spec.inputs.len().min(children.len())];
        let rules = spec.rules.then(|| children.last()).flatten();
        (Self::Inputs(inputs), rules)
    }
}

/// The reading of a stitch's rows into pairs: input batches in, pairs to the grouping
/// thread and new keys to the rid thread out, memory reserved before each slice.
struct Reading<'a> {
    spec: &'a StitchSpec,
    reader: PairReader,
    rules: &'a StitchRules,
    reservation: &'a MemoryReservation,
    edge_bytes: &'a AtomicUsize,
    rid_bytes: &'a AtomicUsize,
    metrics: &'a StitchMetrics,
    new_keys: &'a tokio::sync::mpsc::Sender<KeyBatch>,
    pairs: &'a tokio::sync::mpsc::Sender<Vec<Pair>>,
}

impl Reading<'_> {
    /// `e` said of input number `input`.
    fn context(&self, input: usize, e: DataFusionError) -> DataFusionError {
        e.context(format!(
            "reading input '{}' of entity '{}'",
            self.spec.inputs[input].name, self.spec.entity.name
        ))
    }

    /// Reads a batch of input number `input`, in slices.
    async fn read(&mut self, input: usize, batch: &RecordBatch) -> Result<()> {
        let definition = &self.spec.inputs[input];
        let columns = definition.column_types.len();
        let rows_per_slice = slice_rows(columns);
        // Pairs sent to the grouping thread and not yet counted in its own bytes: a
        // few slices' worth, reserved before they are made.
        let in_flight = |pairs: usize| pairs * size_of::<Pair>() * 6;
        let mut start = 0;
        while start < batch.num_rows() {
            let rows = rows_per_slice.min(batch.num_rows() - start);
            let slice = batch.slice(start, rows);
            start += rows;
            let most_pairs = slice_pairs(rows, columns);
            self.reservation.try_resize(
                self.reader.nodes.allocated_bytes()
                    + self.edge_bytes.load(AtomicOrdering::Relaxed)
                    + self.rid_bytes.load(AtomicOrdering::Relaxed)
                    + in_flight(most_pairs),
            )?;
            let mut pairs = Vec::with_capacity(most_pairs);
            let first_new = self.reader.nodes.len();
            {
                let _timer = self.metrics.read_time.timer();
                self.reader
                    .read_batch(
                        &slice,
                        &definition.column_types,
                        &self.spec.entity.id_types,
                        self.rules,
                        &mut pairs,
                    )
                    .map_err(|e| self.context(input, e))?;
            }
            if self.reader.nodes.len() > first_new
                && self
                    .new_keys
                    .send(self.reader.nodes.keys_from(first_new))
                    .await
                    .is_err()
            {
                return Err(task_failed(&"the rid thread stopped"));
            }
            if self.pairs.send(pairs).await.is_err() {
                return Err(task_failed(&"the edge grouping thread stopped"));
            }
        }
        Ok(())
    }
}

/// The entity's stitch rules, read from their plan (none without one).
pub(crate) async fn read_rules(
    spec: &StitchSpec,
    plan: Option<&Arc<dyn ExecutionPlan>>,
    ctx: &Arc<TaskContext>,
) -> Result<StitchRules> {
    let Some(plan) = plan else {
        return Ok(StitchRules::default());
    };
    let batches = datafusion::physical_plan::collect(Arc::clone(plan), Arc::clone(ctx))
        .await
        .map_err(|e| {
            e.context(format!(
                "reading the rules of entity '{}'",
                spec.entity.name
            ))
        })?;
    StitchRules::read(&batches, &spec.entity)
}

/// Reads the rows, collects edges and builds the graph; `rules` decide which values
/// are ids.
pub(crate) async fn compute(
    spec: &StitchSpec,
    rows: StitchRows<'_>,
    rules: &StitchRules,
    ctx: &Arc<TaskContext>,
    metrics: &StitchMetrics,
) -> Result<Arc<StitchState>> {
    let reservation = MemoryConsumer::new("IdStitchExec").register(ctx.memory_pool());
    // The graph is built on a blocking thread, which a dropped future cannot abort; the
    // flag tells it to stop.
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel_on_drop = CancelOnDrop(Arc::clone(&cancelled));
    // Stage one interns ids here while stage two groups the pairs on a thread of its
    // own; a few batches of pairs in flight keep both busy.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<Pair>>(4);
    let edge_bytes = Arc::new(AtomicUsize::new(0));
    let grouping = {
        let edge_bytes = Arc::clone(&edge_bytes);
        let group_time = metrics.group_time.clone();
        SpawnedTask::spawn_blocking(move || {
            let mut edges = EdgeSet::default();
            while let Some(pairs) = receiver.blocking_recv() {
                let _timer = group_time.timer();
                edges.add(&pairs);
                edge_bytes.store(edges.allocated_bytes(), AtomicOrdering::Relaxed);
            }
            let _timer = group_time.timer();
            edges.into_list()
        })
    };
    // The rids of new nodes are hashed on a thread of their own as they are interned.
    let rid_bytes = Arc::new(AtomicUsize::new(0));
    let (new_keys, mut key_receiver) = tokio::sync::mpsc::channel::<KeyBatch>(8);
    let hashing = {
        let type_names: Vec<String> = spec
            .entity
            .id_types
            .iter()
            .map(|t| t.name.clone())
            .collect();
        let rid_time = metrics.rid_time.clone();
        let rid_bytes = Arc::clone(&rid_bytes);
        SpawnedTask::spawn_blocking(move || {
            let mut rids: Vec<Rid> = Vec::new();
            while let Some(keys) = key_receiver.blocking_recv() {
                let _timer = rid_time.timer();
                rid_bytes.store(rids.capacity() * size_of::<Rid>(), AtomicOrdering::Relaxed);
                rids.extend(keys.iter().map(|(id_type, value)| {
                    rid_of_bytes(value, &type_names[usize::from(id_type)])
                }));
            }
            rids
        })
    };
    let mut reading = Reading {
        spec,
        reader: PairReader::default(),
        rules,
        reservation: &reservation,
        edge_bytes: &edge_bytes,
        rid_bytes: &rid_bytes,
        metrics,
        new_keys: &new_keys,
        pairs: &sender,
    };
    match rows {
        StitchRows::Inputs(inputs) => {
            for (number, input) in inputs.iter().enumerate() {
                // The planner merges each input into one partition; read them all
                // anyway, so that a plan built another way loses no rows.
                for partition in 0..input.output_partitioning().partition_count() {
                    let mut stream = input
                        .execute(partition, Arc::clone(ctx))
                        .map_err(|e| reading.context(number, e))?;
                    while let Some(batch) = stream.next().await {
                        let batch = batch.map_err(|e| reading.context(number, e))?;
                        reading.read(number, &batch).await?;
                    }
                }
            }
        }
        StitchRows::Routed { plan, partition } => {
            let routed = |e: DataFusionError| {
                e.context(format!(
                    "reading the rows of entity '{}' routed to partition {partition}",
                    spec.entity.name
                ))
            };
            let mut stream = plan.execute(partition, Arc::clone(ctx)).map_err(routed)?;
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(routed)?;
                for (number, rows) in split_rows(spec, &batch)? {
                    reading.read(number, &rows).await?;
                }
            }
        }
    }
    let reader = reading.reader;
    drop((sender, new_keys));
    let edges = grouping.join().await.map_err(|e| task_failed(&e))?;
    let collector = EdgeCollector::new(reader.nodes, reader.rows, edges);
    metrics.input_rows.add(collector.rows);
    metrics.nodes.add(collector.nodes.len());
    metrics.edges.add(collector.list.len());
    // The graph takes about this much more (the rids are counted already): per node,
    // union-find, times, cluster offsets and results; per edge, its copy by cluster.
    reservation.try_resize(
        collector.allocated_bytes()
            + rid_bytes.load(AtomicOrdering::Relaxed)
            + collector.nodes.len() * 40
            + collector.list.len() * 16,
    )?;
    // Clusters need no rids: they are found while the last rids are still hashed.
    let (excluded, included) = rules.edges(&collector.nodes);
    let union_find_time = metrics.union_find_time.clone();
    let clustering = SpawnedTask::spawn_blocking(move || {
        let _timer = union_find_time.timer();
        let nodes = collector.nodes.len();
        let clusters = if excluded.is_empty() {
            Clusters::new(nodes, collector.graph_edges())
        } else {
            // An excluded edge joins nothing: its ids stay, each as seen alone.
            let edges = collector.graph_edges().flat_map(|edge| {
                if edge.a != edge.b && excluded.contains(&(edge.a.min(edge.b), edge.a.max(edge.b)))
                {
                    let alone = |node| Edge {
                        a: node,
                        b: node,
                        valid_at: edge.valid_at,
                    };
                    [Some(alone(edge.a)), Some(alone(edge.b))]
                } else {
                    [Some(edge), None]
                }
            });
            Clusters::new(nodes, edges.flatten())
        };
        (collector, clusters, excluded)
    });
    let rids = hashing.join().await.map_err(|e| task_failed(&e))?;
    let (collector, components, excluded) = clustering.join().await.map_err(|e| task_failed(&e))?;
    if rids.len() != collector.nodes.len() {
        return Err(internal(format!(
            "{} rids for {} nodes",
            rids.len(),
            collector.nodes.len()
        )));
    }
    let (graph_time, limit_time) = (metrics.graph_time.clone(), metrics.limit_time.clone());
    let (clusters, largest_cluster) = (metrics.clusters.clone(), metrics.largest_cluster.clone());
    let refused_edges = metrics.refused_edges.clone();
    let limits = Limits::new(spec.entity.id_types.iter().map(|t| t.limit));
    let state = SpawnedTask::spawn_blocking(move || {
        let (components, refused) = {
            let _timer = limit_time.timer();
            components.limit(
                &limits,
                &included,
                |node| collector.nodes.key(node).0,
                &rids,
            )
        };
        refused_edges.add(refused.len());
        reservation.try_grow(refused.len() * size_of::<RefusedEdge>())?;
        let _timer = graph_time.timer();
        let graph = match components.solve(&rids, &cancelled) {
            Ok(graph) => graph,
            Err(Stopped::Cancelled) => {
                return Err(DataFusionError::Execution(
                    "IdStitchExec was cancelled".to_string(),
                ));
            }
            Err(Stopped::Panicked(message)) => {
                return Err(internal(format!("a graph worker panicked: {message}")));
            }
        };
        // The graph keeps each cluster's main id for the output's layout.
        reservation.try_grow(graph.clusters * size_of::<Rid>())?;
        clusters.add(graph.clusters);
        largest_cluster.set(graph.largest_cluster);
        Ok(StitchState {
            collector,
            graph,
            rids,
            refused,
            excluded,
            cluster_partitions: Mutex::default(),
            node_types: Mutex::default(),
            reservation,
        })
    })
    .join()
    .await
    .map_err(|e| task_failed(&e))??;
    Ok(Arc::new(state))
}

/// Sets its flag when dropped: when the query is cancelled, the future holding it is.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, AtomicOrdering::Relaxed);
    }
}

/// The stitch's counters, shown by `EXPLAIN ANALYZE` on the operator that computed it.
///
/// Phases: `read_intern_time` (ids of input batches to interned node pairs, beside the
/// inputs' decoding), `group_edges_time` (distinct pairs, on a second core, beside the
/// first), `rid_time` (two SHA-1s per new node, on a third thread beside both),
/// `union_find_time` (clusters, `first_seen_at`, nodes and edges grouped by cluster),
/// `limit_time` (the components over an id type's limit split, `refused_edges` counting
/// the edges refused), `graph_time` (main ids and the `valid_at` replay, on every core) and `output_time`
/// (rendering batches, as they are read).
#[derive(Debug, Clone)]
pub(crate) struct StitchMetrics {
    input_rows: Count,
    edges: Count,
    nodes: Count,
    clusters: Count,
    largest_cluster: Gauge,
    refused_edges: Count,
    read_time: TimeMetric,
    group_time: TimeMetric,
    rid_time: TimeMetric,
    union_find_time: TimeMetric,
    limit_time: TimeMetric,
    graph_time: TimeMetric,
    /// Time spent rendering output batches, by every operator reading the state.
    pub(super) output_time: TimeMetric,
}

impl StitchMetrics {
    /// The counters of one partition of an operator.
    pub(crate) fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        let builder = || MetricBuilder::new(metrics);
        Self {
            input_rows: builder().counter("input_rows", partition),
            edges: builder().counter("edges", partition),
            nodes: builder().counter("nodes", partition),
            clusters: builder().counter("clusters", partition),
            largest_cluster: builder().gauge("largest_cluster", partition),
            refused_edges: builder().counter("refused_edges", partition),
            read_time: builder().subset_time("read_intern_time", partition),
            group_time: builder().subset_time("group_edges_time", partition),
            rid_time: builder().subset_time("rid_time", partition),
            union_find_time: builder().subset_time("union_find_time", partition),
            limit_time: builder().subset_time("limit_time", partition),
            graph_time: builder().subset_time("graph_time", partition),
            output_time: builder().subset_time("output_time", partition),
        }
    }
}
