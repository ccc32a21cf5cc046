// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `IdStitchExec`: reads every input of an entity and emits its id graph or edges.
//!
//! A query that uses one id graph in several places holds several `IdStitchExec`s (and
//! lookups) over one [`SharedStitch`]: the first to run computes the graph, the others
//! wait for it. Output is rendered from the shared state a batch at a time as it is
//! read, in as many partitions as the session's target partitions, so downstream
//! operators start at once, on every core, and the rendered rows are never held whole.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, RecordBatch, RecordBatchOptions, StringBuilder, TimestampMicrosecondArray,
    UInt32Array,
};
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::hash_utils::create_hashes;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::coop::make_cooperative;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::REPARTITION_RANDOM_STATE;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    InputDistributionRequirements, Partitioning, PlanProperties, ReplaceChildrenOptions,
    SendableRecordBatchStream,
};
use futures::TryStreamExt;

use super::edges::{Pair, Side};
use super::graph::sql_time;
use super::node::{StitchOutput, StitchSpec};
use super::rid::Rid;
use super::shared::{SharedStitch, StitchMetrics, StitchState, node_key, type_name};

/// Reads all inputs (each as one partition), collects edges, builds the id graph, and
/// emits it in batches. One output partition.
#[derive(Debug)]
pub struct IdStitchExec {
    spec: Arc<StitchSpec>,
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    shared: Arc<SharedStitch>,
    /// Output partitions: each renders its share of the rows from the shared state.
    partitions: usize,
    /// The columns of `spec`'s output this operator renders, in order: a projection
    /// above it is folded in, so that columns nobody reads are never built.
    columns: Vec<usize>,
    schema: SchemaRef,
    cache: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl IdStitchExec {
    /// An operator over one physical plan per input of `spec`, with one output partition.
    pub fn try_new(spec: Arc<StitchSpec>, inputs: Vec<Arc<dyn ExecutionPlan>>) -> Result<Self> {
        Self::try_new_shared(spec, inputs, Arc::default(), 1)
    }

    /// An operator whose result is computed once for all operators holding `shared`,
    /// emitted in `partitions` partitions.
    pub fn try_new_shared(
        spec: Arc<StitchSpec>,
        inputs: Vec<Arc<dyn ExecutionPlan>>,
        shared: Arc<SharedStitch>,
        partitions: usize,
    ) -> Result<Self> {
        let schema = spec.schema();
        let columns = (0..schema.fields().len()).collect();
        Self::build(spec, inputs, shared, partitions.max(1), columns, schema)
    }

    /// The operator rendering `columns` of the output, with the output schema `schema`.
    fn build(
        spec: Arc<StitchSpec>,
        inputs: Vec<Arc<dyn ExecutionPlan>>,
        shared: Arc<SharedStitch>,
        partitions: usize,
        columns: Vec<usize>,
        schema: SchemaRef,
    ) -> Result<Self> {
        if inputs.len() != spec.inputs.len() {
            return Err(DataFusionError::Internal(format!(
                "IdStitchExec has {} inputs for {} input definitions; this is a bug",
                inputs.len(),
                spec.inputs.len()
            )));
        }
        let cache = Arc::new(Self::compute_properties(
            Arc::clone(&schema),
            partitions,
            Layout::of(&spec, &columns),
        ));
        Ok(Self {
            spec,
            inputs,
            shared,
            partitions,
            columns,
            schema,
            cache,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// This operator over `inputs`, rendering `columns` of the output as `schema`.
    fn derive(
        &self,
        inputs: Vec<Arc<dyn ExecutionPlan>>,
        columns: Vec<usize>,
        schema: SchemaRef,
    ) -> Result<Self> {
        Self::build(
            Arc::clone(&self.spec),
            inputs,
            Arc::clone(&self.shared),
            self.partitions,
            columns,
            schema,
        )
    }

    /// What the operator stitches.
    pub fn spec(&self) -> &Arc<StitchSpec> {
        &self.spec
    }

    /// Laid out by main id, the id graph is hash-partitioned on it as DataFusion's
    /// repartitioning would be, so that a `GROUP BY`, a window or a join on the main id
    /// needs no shuffle; rendering only the main id, it is also sorted on it within
    /// each partition, so that such a grouping streams and an `ORDER BY` only merges.
    fn compute_properties(schema: SchemaRef, partitions: usize, layout: Layout) -> PlanProperties {
        let unknown = || Partitioning::UnknownPartitioning(partitions);
        let Layout::ByMainId { main_at, sorted } = layout else {
            return PlanProperties::new(
                EquivalenceProperties::new(schema),
                unknown(),
                EmissionType::Final,
                Boundedness::Bounded,
            );
        };
        let main: Arc<dyn PhysicalExpr> =
            Arc::new(Column::new(schema.field(main_at).name(), main_at));
        let partitioning = if partitions > 1 {
            Partitioning::Hash(vec![Arc::clone(&main)], partitions)
        } else {
            unknown()
        };
        let equivalences = if sorted {
            let order = PhysicalSortExpr::new(
                main,
                SortOptions {
                    descending: false,
                    nulls_first: false,
                },
            );
            EquivalenceProperties::new_with_orderings(schema, [[order]])
        } else {
            EquivalenceProperties::new(schema)
        };
        PlanProperties::new(
            equivalences,
            partitioning,
            EmissionType::Final,
            Boundedness::Bounded,
        )
    }
}

/// How an operator lays out its rows across partitions.
#[derive(Debug, Clone, Copy)]
enum Layout {
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
    fn of(spec: &StitchSpec, columns: &[usize]) -> Self {
        match spec.output {
            StitchOutput::IdGraph => match columns.iter().position(|&column| column == 0) {
                Some(main_at) => Layout::ByMainId {
                    main_at,
                    sorted: columns.iter().all(|&column| column == 0),
                },
                None => Layout::Ranges,
            },
            StitchOutput::Edges | StitchOutput::Clusters => Layout::Ranges,
        }
    }
}

impl DisplayAs for IdStitchExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inputs: Vec<&str> = self.spec.inputs.iter().map(|i| i.name.as_str()).collect();
        // More than one operator holds the result: it is computed once for all of them.
        let shared = if self.shared.is_shared() {
            ", shared"
        } else {
            ""
        };
        let projection = if self.columns.len() == self.spec.schema().fields().len() {
            String::new()
        } else {
            let names: Vec<&str> = self
                .schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            format!(", projection=[{}]", names.join(", "))
        };
        match t {
            DisplayFormatType::TreeRender => write!(
                f,
                "entity={}\noutput={}\ninputs={}",
                self.spec.entity.name,
                self.spec.output,
                inputs.join(", ")
            ),
            _ => write!(
                f,
                "IdStitchExec: entity={}, output={}, inputs=[{}]{projection}{shared}",
                self.spec.entity.name,
                self.spec.output,
                inputs.join(", ")
            ),
        }
    }
}

impl ExecutionPlan for IdStitchExec {
    fn name(&self) -> &str {
        "IdStitchExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        // Each input is read as one stream; DataFusion merges its partitions, which it
        // still reads in parallel.
        InputDistributionRequirements::new(vec![Distribution::SinglePartition; self.inputs.len()])
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inputs.iter().collect()
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let columns = self.columns.clone();
        Ok(Arc::new(self.derive(
            children,
            columns,
            Arc::clone(&self.schema),
        )?))
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn try_swapping_with_projection(
        &self,
        projection: &ProjectionExec,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        // A projection that only picks (and maybe renames) columns becomes the set of
        // columns rendered; anything else stays above.
        let mut columns = Vec::with_capacity(projection.expr().len());
        let mut fields = Vec::with_capacity(projection.expr().len());
        for picked in projection.expr() {
            let Some(column) = picked.expr.downcast_ref::<Column>() else {
                return Ok(None);
            };
            columns.push(self.columns[column.index()]);
            let field = self.schema.field(column.index());
            fields.push(field.clone().with_name(picked.alias.clone()));
        }
        let schema = Arc::new(Schema::new(fields));
        Ok(Some(Arc::new(self.derive(
            self.inputs.clone(),
            columns,
            schema,
        )?)))
    }

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition >= self.partitions {
            return Err(DataFusionError::Internal(format!(
                "IdStitchExec has {} partitions, not {partition}; this is a bug",
                self.partitions
            )));
        }
        let metrics = StitchMetrics::new(&self.metrics, partition);
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let spec = Arc::clone(&self.spec);
        let inputs = self.inputs.clone();
        let shared = Arc::clone(&self.shared);
        let (partitions, batch_size) = (self.partitions, ctx.session_config().batch_size());
        let schema = self.schema();
        let columns = self.columns.clone();
        let layout = Layout::of(&spec, &columns);
        let stream = futures::stream::once(async move {
            let state = shared.state(&spec, &inputs, &ctx, &metrics).await?;
            // The partition that computed the state woke the others into its worker's
            // next-task slot, which no other worker takes from: without a yield here
            // they would wait for this partition's whole output, one core left idle.
            tokio::task::yield_now().await;
            // Each partition renders its share of the nodes (or edges), a batch at a time
            // as it is polled: the output is never held whole. Laid out by main id, the
            // share is the nodes of the clusters whose main id hashes to it (see
            // `Layout`); otherwise it is a contiguous range.
            let output_time = metrics.output_time.clone();
            let mut order_memory =
                MemoryConsumer::new(format!("IdStitchExec[{partition}] output order"))
                    .register(ctx.memory_pool());
            let mut cursor = match layout {
                Layout::ByMainId { sorted, .. } if sorted || partitions > 1 => {
                    let _timer = output_time.timer();
                    let order =
                        main_id_order(&state, partition, partitions, sorted, &mut order_memory)?;
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
                        order_memory.try_resize(mains.len())?;
                        Cursor::Mains { mains, next: 0 }
                    }
                }
                Layout::ByMainId { .. } | Layout::Ranges => {
                    let items = output_items(spec.output, &state);
                    Cursor::Items {
                        next: items * partition / partitions,
                        end: items * (partition + 1) / partitions,
                    }
                }
            };
            Ok::<_, DataFusionError>(futures::stream::iter(std::iter::from_fn(move || {
                let _timer = output_time.timer();
                let output = Output {
                    spec: &spec,
                    schema: &schema,
                    columns: &columns,
                    state: &state,
                };
                match output.render_next(&mut cursor, batch_size.max(1)) {
                    Ok(Some(batch)) => {
                        baseline.record_output(batch.num_rows());
                        Some(Ok(batch))
                    }
                    Ok(None) => {
                        baseline.done();
                        order_memory.free();
                        None
                    }
                    Err(e) => {
                        cursor = Cursor::Items { next: 0, end: 0 };
                        Some(Err(e))
                    }
                }
            })))
        })
        .try_flatten();
        // Rendering is always ready: the stream spends the task's budget, so that it
        // still gives way to other tasks now and then.
        Ok(make_cooperative(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream,
        ))))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// A timestamp column of stored times.
fn timestamps(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(values.map(sql_time).collect::<TimestampMicrosecondArray>())
}

/// How many items `output` is rendered from: nodes, or edges.
fn output_items(output: StitchOutput, state: &StitchState) -> usize {
    match output {
        StitchOutput::IdGraph | StitchOutput::Clusters => state.graph.main.len(),
        StitchOutput::Edges => state.collector.list.len(),
    }
}

/// Where a partition's rendering has got to.
enum Cursor {
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

/// What one partition renders: some columns of the stitch's output, from its state.
struct Output<'a> {
    spec: &'a StitchSpec,
    schema: &'a SchemaRef,
    /// Indexes into the fields of `spec.schema()`.
    columns: &'a [usize],
    state: &'a StitchState,
}

impl Output<'_> {
    /// The next batch, moving the cursor past what it used; `None` when nothing is
    /// left.
    fn render_next(&self, cursor: &mut Cursor, batch_size: usize) -> Result<Option<RecordBatch>> {
        let graph = &self.state.graph;
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
                    nodes.extend_from_slice(&cluster_nodes[..take]);
                    runs.push((main_rid, take));
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
                    if mains[graph.main[*next] as usize] {
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
                        let chunk = *next..(*end).min(*next + batch_size);
                        *next = chunk.end;
                        let nodes: Vec<u32> = chunk.map(|node| node as u32).collect();
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
                        (mains.len(), self.cluster_columns(&mains))
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
        let StitchState {
            collector, graph, ..
        } = self.state;
        let node_ids = || nodes.iter().copied();
        let times = |of: &[i64]| timestamps(node_ids().map(|node| of[node as usize]));
        let key_column = |pick: for<'k> fn((&'k str, &'k str)) -> &'k str| -> Result<ArrayRef> {
            let mut column = StringBuilder::with_capacity(nodes.len(), nodes.len() * 16);
            for node in node_ids() {
                column.append_value(pick(node_key(collector, self.spec, node)?));
            }
            Ok(Arc::new(column.finish()))
        };
        self.columns
            .iter()
            .map(|&column| match column {
                0 => Ok(Self::main_ids(runs)),
                1 => key_column(|(_, value)| value),
                2 => key_column(|(id_type, _)| id_type),
                3 => Ok(times(&graph.valid_at)),
                _ => Ok(times(&graph.first_seen_at)),
            })
            .collect()
    }

    /// pb's edge table's columns for `edges`: each side's id and id type, the edge's
    /// label (the smaller rid of its nodes) and its `valid_at`.
    fn edge_columns(&self, edges: &[Pair]) -> Result<Vec<ArrayRef>> {
        let StitchState {
            collector, rids, ..
        } = self.state;
        let side = |pair: &Pair, second: bool| {
            let (a, b) = pair.sides();
            if second { b } else { a }
        };
        let id_column = |second: bool| -> Result<ArrayRef> {
            let mut column = StringBuilder::with_capacity(edges.len(), edges.len() * 16);
            for pair in edges {
                match side(pair, second) {
                    Side::Node(node) => {
                        column.append_value(node_key(collector, self.spec, node)?.1)
                    }
                    Side::Missing(_) => column.append_null(),
                }
            }
            Ok(Arc::new(column.finish()))
        };
        let type_column = |second: bool| -> Result<ArrayRef> {
            let mut column = StringBuilder::with_capacity(edges.len(), edges.len() * 8);
            for pair in edges {
                column.append_value(match side(pair, second) {
                    Side::Node(node) => node_key(collector, self.spec, node)?.0,
                    Side::Missing(id_type) => type_name(self.spec, id_type),
                });
            }
            Ok(Arc::new(column.finish()))
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
                    .ok_or_else(|| {
                        DataFusionError::Internal("an edge without nodes; this is a bug".into())
                    })?;
                column.append_value(smallest.text().as_str());
            }
            Ok(Arc::new(column.finish()))
        };
        self.columns
            .iter()
            .map(|&column| match column {
                0 => id_column(false),
                1 => type_column(false),
                2 => id_column(true),
                3 => type_column(true),
                4 => label_column(),
                _ => Ok(timestamps(edges.iter().map(|e| e.time()))),
            })
            .collect()
    }

    /// The clusters' columns for `mains` (main nodes): the cluster's number (its main
    /// node's id) and its main id.
    fn cluster_columns(&self, mains: &[u32]) -> Vec<ArrayRef> {
        self.columns
            .iter()
            .map(|&column| match column {
                0 => Arc::new(UInt32Array::from(mains.to_vec())) as ArrayRef,
                _ => Self::main_ids(&self.main_id_runs(mains)),
            })
            .collect()
    }
}

/// How many clusters [`main_id_order`] hashes at once.
const HASH_CHUNK: usize = 8192;

/// The clusters in `partition` of `partitions`, with their main ids, in order of main
/// id when `sorted`. A cluster is in the partition DataFusion's hash repartitioning (`RepartitionExec`)
/// sends its main id to, the same hash of the same text modulo the partition count, so
/// that the `Hash` partitioning the operator declares holds for joins and aggregates
/// alike. `memory` holds the list's size.
fn main_id_order(
    state: &StitchState,
    partition: usize,
    partitions: usize,
    sorted: bool,
    memory: &mut MemoryReservation,
) -> Result<Vec<(Rid, u32)>> {
    let graph = &state.graph;
    let mut order: Vec<(Rid, u32)> = Vec::new();
    let mut hashes: Vec<u64> = Vec::new();
    for start in (0..graph.clusters).step_by(HASH_CHUNK) {
        let chunk = start..graph.clusters.min(start + HASH_CHUNK);
        if partitions == 1 {
            order.extend(chunk.map(|cluster| (graph.main_rid(cluster), cluster as u32)));
            continue;
        }
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
        for (cluster, hash) in chunk.zip(&hashes) {
            if hash % partitions as u64 == partition as u64 {
                order.push((graph.main_rid(cluster), cluster as u32));
            }
        }
        memory.try_resize(order.capacity() * size_of::<(Rid, u32)>())?;
    }
    if sorted {
        order.sort_unstable();
    }
    Ok(order)
}
