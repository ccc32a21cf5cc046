// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `IdStitchExec`: reads every input of an entity and emits its id graph or edges.
//!
//! A query that uses one id graph in several places (a feature table joins it once per
//! input) holds several `IdStitchExec`s over one [`SharedStitch`]: the first to run
//! computes the graph, the others wait for it and stream the same batches.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering as AtomicOrdering};

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, Gauge, MetricBuilder, MetricsSet, Time,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    ExecutionPlanProperties, InputDistributionRequirements, Partitioning, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};

use super::edges::{EdgeCollector, Side};
use super::graph::{IdGraph, build_id_graph_until};
use super::node::{StitchOutput, StitchSpec};
use super::rid::{Rid, rid};

/// The result of one stitch, computed once for every operator that shares it.
#[derive(Debug, Default)]
pub struct SharedStitch {
    batches: tokio::sync::OnceCell<Vec<RecordBatch>>,
    /// How many plan nodes the planner gave it to.
    uses: AtomicUsize,
}

impl SharedStitch {
    /// Counts one more plan node that uses the result.
    pub fn add_use(&self) {
        self.uses.fetch_add(1, AtomicOrdering::Relaxed);
    }
}

/// Reads all inputs (each as one partition), collects edges, builds the id graph, and
/// emits it in batches. One output partition.
#[derive(Debug)]
pub struct IdStitchExec {
    spec: Arc<StitchSpec>,
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    shared: Arc<SharedStitch>,
    cache: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl IdStitchExec {
    /// An operator over one physical plan per input of `spec`.
    pub fn try_new(spec: Arc<StitchSpec>, inputs: Vec<Arc<dyn ExecutionPlan>>) -> Result<Self> {
        Self::try_new_shared(spec, inputs, Arc::default())
    }

    /// An operator whose result is computed once for all operators holding `shared`.
    pub fn try_new_shared(
        spec: Arc<StitchSpec>,
        inputs: Vec<Arc<dyn ExecutionPlan>>,
        shared: Arc<SharedStitch>,
    ) -> Result<Self> {
        if inputs.len() != spec.inputs.len() {
            return Err(DataFusionError::Internal(format!(
                "IdStitchExec has {} inputs for {} input definitions; this is a bug",
                inputs.len(),
                spec.inputs.len()
            )));
        }
        let cache = Arc::new(Self::compute_properties(spec.schema()));
        Ok(Self {
            spec,
            inputs,
            shared,
            cache,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// What the operator stitches.
    pub fn spec(&self) -> &Arc<StitchSpec> {
        &self.spec
    }

    fn compute_properties(schema: SchemaRef) -> PlanProperties {
        PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        )
    }
}

impl DisplayAs for IdStitchExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inputs: Vec<&str> = self.spec.inputs.iter().map(|i| i.name.as_str()).collect();
        // More than one operator holds the result: it is computed once for all of them.
        let shared = if self.shared.uses.load(AtomicOrdering::Relaxed) > 1 {
            ", shared"
        } else {
            ""
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
                "IdStitchExec: entity={}, output={}, inputs=[{}]{shared}",
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
        Ok(Arc::new(Self::try_new_shared(
            Arc::clone(&self.spec),
            children,
            Arc::clone(&self.shared),
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

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "IdStitchExec has one partition, not {partition}; this is a bug"
            )));
        }
        let metrics = StitchMetrics::new(&self.metrics, partition);
        let spec = Arc::clone(&self.spec);
        let inputs = self.inputs.clone();
        let batch_size = ctx.session_config().batch_size();
        let reservation = MemoryConsumer::new("IdStitchExec").register(ctx.memory_pool());
        // The graph is built on a blocking thread, which a dropped stream cannot abort;
        // the flag tells it to stop.
        let cancelled = Arc::new(AtomicBool::new(false));
        let stitch = async move {
            let _cancel_on_drop = CancelOnDrop(Arc::clone(&cancelled));
            let mut collector = EdgeCollector::default();
            for (input, definition) in inputs.iter().zip(&spec.inputs) {
                // The planner merges each input into one partition; read them all anyway,
                // so that a plan built another way loses no rows.
                for partition in 0..input.output_partitioning().partition_count() {
                    let mut stream = input.execute(partition, Arc::clone(&ctx))?;
                    while let Some(batch) = stream.next().await {
                        let batch = batch?;
                        let _timer = metrics.read_time.timer();
                        collector.add_batch(
                            &batch,
                            &definition.column_types,
                            &spec.entity.id_types,
                        )?;
                        reservation.try_resize(collector.allocated_bytes())?;
                    }
                }
            }
            metrics.input_rows.add(collector.rows);
            metrics.nodes.add(collector.nodes.len());
            metrics.edges.add(collector.list.len());
            // The graph and its output take about this much more.
            reservation.try_grow(collector.nodes.len() * 80 + collector.list.len() * 24)?;
            let batches = SpawnedTask::spawn_blocking(move || {
                let (graph, rids) = {
                    let _timer = metrics.graph_time.timer();
                    let rids = node_rids(&collector, &spec)?;
                    let Some(graph) =
                        build_id_graph_until(&rids, &collector.graph_edges(), &cancelled)
                    else {
                        return Err(DataFusionError::Execution(
                            "IdStitchExec was cancelled".to_string(),
                        ));
                    };
                    metrics.clusters.add(graph.clusters);
                    metrics.largest_cluster.set(graph.largest_cluster);
                    (graph, rids)
                };
                let _timer = metrics.output_time.timer();
                let batches = match spec.output {
                    StitchOutput::IdGraph => {
                        id_graph_batches(&spec, &collector, &graph, &rids, batch_size)?
                    }
                    StitchOutput::Edges => edge_batches(&spec, &collector, &rids, batch_size)?,
                };
                for batch in &batches {
                    metrics.baseline.record_output(batch.num_rows());
                }
                metrics.baseline.done();
                drop(reservation);
                Ok::<_, DataFusionError>(batches)
            })
            .join_unwind()
            .await
            .map_err(|e| {
                DataFusionError::Internal(format!("IdStitchExec task failed: {e}; this is a bug"))
            })??;
            Ok::<_, DataFusionError>(batches)
        };
        let shared = Arc::clone(&self.shared);
        let stream = futures::stream::once(async move {
            let batches = shared.batches.get_or_try_init(|| stitch).await?;
            Ok::<_, DataFusionError>(futures::stream::iter(batches.clone().into_iter().map(Ok)))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.spec.schema(),
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// Sets its flag when dropped: when the query is cancelled, the future holding it is.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, AtomicOrdering::Relaxed);
    }
}

/// The operator's counters, shown by `EXPLAIN ANALYZE`.
struct StitchMetrics {
    baseline: BaselineMetrics,
    input_rows: Count,
    edges: Count,
    nodes: Count,
    clusters: Count,
    largest_cluster: Gauge,
    read_time: Time,
    graph_time: Time,
    output_time: Time,
}

impl StitchMetrics {
    fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        let builder = || MetricBuilder::new(metrics);
        Self {
            baseline: BaselineMetrics::new(metrics, partition),
            input_rows: builder().counter("input_rows", partition),
            edges: builder().counter("edges", partition),
            nodes: builder().counter("nodes", partition),
            clusters: builder().counter("clusters", partition),
            largest_cluster: builder().gauge("largest_cluster", partition),
            read_time: builder().subset_time("read_intern_time", partition),
            graph_time: builder().subset_time("graph_time", partition),
            output_time: builder().subset_time("output_time", partition),
        }
    }
}

/// The rid of every node. Two SHA-1 hashes per node make this the costliest step of the
/// graph phase, so it runs on every core.
fn node_rids(collector: &EdgeCollector, spec: &StitchSpec) -> Result<Vec<Rid>> {
    let nodes = collector.nodes.len();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(16);
    let chunk = nodes.div_ceil(threads).max(1);
    let mut rids = vec![rid("", ""); nodes];
    std::thread::scope(|scope| {
        let workers: Vec<_> = rids
            .chunks_mut(chunk)
            .enumerate()
            .map(|(i, out)| {
                scope.spawn(move || -> Result<()> {
                    for (offset, slot) in out.iter_mut().enumerate() {
                        let (id_type, value) =
                            node_key(collector, spec, (i * chunk + offset) as u32)?;
                        *slot = rid(value, id_type);
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|worker| {
            worker.join().map_err(|_| {
                DataFusionError::Internal("a rid worker panicked; this is a bug".to_string())
            })?
        })
    })?;
    Ok(rids)
}

fn node_key<'a>(
    collector: &'a EdgeCollector,
    spec: &'a StitchSpec,
    node: u32,
) -> Result<(&'a str, &'a str)> {
    let (id_type, bytes) = collector.nodes.key(node);
    let value = std::str::from_utf8(bytes).map_err(|e| {
        DataFusionError::Internal(format!("id value is not UTF-8 ({e}); this is a bug"))
    })?;
    Ok((type_name(spec, id_type), value))
}

fn type_name(spec: &StitchSpec, id_type: u16) -> &str {
    spec.entity.id_types[usize::from(id_type)].name.as_str()
}

fn timestamps(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(values.collect::<TimestampMicrosecondArray>())
}

fn id_graph_batches(
    spec: &StitchSpec,
    collector: &EdgeCollector,
    graph: &IdGraph,
    rids: &[Rid],
    batch_size: usize,
) -> Result<Vec<RecordBatch>> {
    let schema = spec.schema();
    let nodes: Vec<u32> = (0..collector.nodes.len() as u32).collect();
    nodes
        .chunks(batch_size.max(1))
        .map(|chunk| {
            let mut main = StringBuilder::new();
            let mut other_id = StringBuilder::new();
            let mut other_id_type = StringBuilder::new();
            for &node in chunk {
                let (id_type, value) = node_key(collector, spec, node)?;
                main.append_value(rids[graph.main[node as usize] as usize].text().as_str());
                other_id.append_value(value);
                other_id_type.append_value(id_type);
            }
            let column =
                |values: &[Option<i64>]| timestamps(chunk.iter().map(|&n| values[n as usize]));
            Ok(RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(main.finish()),
                    Arc::new(other_id.finish()),
                    Arc::new(other_id_type.finish()),
                    column(&graph.valid_at),
                    column(&graph.first_seen_at),
                ],
            )?)
        })
        .collect()
}

fn edge_batches(
    spec: &StitchSpec,
    collector: &EdgeCollector,
    rids: &[Rid],
    batch_size: usize,
) -> Result<Vec<RecordBatch>> {
    let schema = spec.schema();
    collector
        .list
        .chunks(batch_size.max(1))
        .map(|chunk| {
            let mut ids = [StringBuilder::new(), StringBuilder::new()];
            let mut types = [StringBuilder::new(), StringBuilder::new()];
            let mut label = StringBuilder::new();
            for &(a, b, _) in chunk {
                let mut smallest: Option<Rid> = None;
                for (side, (id, id_type)) in
                    [a, b].into_iter().zip(ids.iter_mut().zip(types.iter_mut()))
                {
                    match side {
                        Side::Node(node) => {
                            let (name, value) = node_key(collector, spec, node)?;
                            id.append_value(value);
                            id_type.append_value(name);
                            let node_rid = rids[node as usize];
                            smallest = Some(smallest.map_or(node_rid, |s| s.min(node_rid)));
                        }
                        Side::Missing(t) => {
                            id.append_null();
                            id_type.append_value(type_name(spec, t));
                        }
                    }
                }
                let smallest = smallest.ok_or_else(|| {
                    DataFusionError::Internal("an edge without nodes; this is a bug".to_string())
                })?;
                label.append_value(smallest.text().as_str());
            }
            let [mut id1, mut id2] = ids;
            let [mut type1, mut type2] = types;
            Ok(RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(id1.finish()),
                    Arc::new(type1.finish()),
                    Arc::new(id2.finish()),
                    Arc::new(type2.finish()),
                    Arc::new(label.finish()),
                    timestamps(chunk.iter().map(|e| e.2)),
                ],
            )?)
        })
        .collect()
}
