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
    ArrayRef, RecordBatch, StringBuilder, TimestampMicrosecondArray, UInt32Array,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
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
        if inputs.len() != spec.inputs.len() {
            return Err(DataFusionError::Internal(format!(
                "IdStitchExec has {} inputs for {} input definitions; this is a bug",
                inputs.len(),
                spec.inputs.len()
            )));
        }
        let partitions = partitions.max(1);
        let cache = Arc::new(Self::compute_properties(spec.schema(), partitions));
        Ok(Self {
            spec,
            inputs,
            shared,
            partitions,
            cache,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// What the operator stitches.
    pub fn spec(&self) -> &Arc<StitchSpec> {
        &self.spec
    }

    fn compute_properties(schema: SchemaRef, partitions: usize) -> PlanProperties {
        PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        )
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
            self.partitions,
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
        let stream = futures::stream::once(async move {
            let state = shared.state(&spec, &inputs, &ctx, &metrics).await?;
            // Each partition renders a contiguous share of the nodes (or edges), a batch
            // at a time as it is polled: the output is never held whole.
            let items = output_items(spec.output, &state);
            let end = items * (partition + 1) / partitions;
            let mut cursor = items * partition / partitions;
            let output_time = metrics.output_time.clone();
            Ok::<_, DataFusionError>(futures::stream::iter(std::iter::from_fn(move || {
                let _timer = output_time.timer();
                let next = render_next(&spec, &schema, &state, &mut cursor, end, batch_size.max(1));
                match next {
                    Ok(Some(batch)) => {
                        baseline.record_output(batch.num_rows());
                        Some(Ok(batch))
                    }
                    Ok(None) => {
                        baseline.done();
                        None
                    }
                    Err(e) => {
                        cursor = end;
                        Some(Err(e))
                    }
                }
            })))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream,
        )))
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

/// The next batch of `spec.output` from the items `*cursor..end`, moving the cursor past
/// the items it used; `None` when none are left.
fn render_next(
    spec: &StitchSpec,
    schema: &SchemaRef,
    state: &StitchState,
    cursor: &mut usize,
    end: usize,
    batch_size: usize,
) -> Result<Option<RecordBatch>> {
    if *cursor >= end {
        return Ok(None);
    }
    let batch = match spec.output {
        StitchOutput::IdGraph => {
            let chunk = *cursor..end.min(*cursor + batch_size);
            *cursor = chunk.end;
            id_graph_batch(spec, schema, state, chunk)?
        }
        StitchOutput::Edges => {
            let chunk = *cursor..end.min(*cursor + batch_size);
            *cursor = chunk.end;
            let mut edges = Vec::with_capacity(chunk.len());
            state.collector.list.copy_range(chunk, &mut edges);
            edge_batch(spec, schema, state, &edges)?
        }
        StitchOutput::Clusters => {
            // The main nodes among the next nodes, up to a batch of them.
            let mut mains = Vec::with_capacity(batch_size);
            while *cursor < end && mains.len() < batch_size {
                let node = *cursor as u32;
                if state.graph.main[*cursor] == node {
                    mains.push(node);
                }
                *cursor += 1;
            }
            cluster_batch(schema, state, mains)?
        }
    };
    Ok(Some(batch))
}

/// One row per node of `nodes`: main id, id, id type, `valid_at`, `first_seen_at`.
fn id_graph_batch(
    spec: &StitchSpec,
    schema: &SchemaRef,
    state: &StitchState,
    nodes: std::ops::Range<usize>,
) -> Result<RecordBatch> {
    let StitchState {
        collector,
        graph,
        rids,
        ..
    } = state;
    let rows = nodes.len();
    let mut main = StringBuilder::with_capacity(rows, rows * 35);
    let mut other_id = StringBuilder::with_capacity(rows, rows * 24);
    let mut other_id_type = StringBuilder::with_capacity(rows, rows * 8);
    for node in nodes.clone() {
        let (id_type, value) = node_key(collector, spec, node as u32)?;
        main.append_value(rids[graph.main[node] as usize].text().as_str());
        other_id.append_value(value);
        other_id_type.append_value(id_type);
    }
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        vec![
            Arc::new(main.finish()),
            Arc::new(other_id.finish()),
            Arc::new(other_id_type.finish()),
            timestamps(graph.valid_at[nodes.clone()].iter().copied()),
            timestamps(graph.first_seen_at[nodes].iter().copied()),
        ],
    )?)
}

/// One row per cluster of `mains` (main nodes): its number (the main node's id) and its
/// main id.
fn cluster_batch(schema: &SchemaRef, state: &StitchState, mains: Vec<u32>) -> Result<RecordBatch> {
    let mut main = StringBuilder::with_capacity(mains.len(), mains.len() * 35);
    for &node in &mains {
        main.append_value(state.rids[node as usize].text().as_str());
    }
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        vec![Arc::new(UInt32Array::from(mains)), Arc::new(main.finish())],
    )?)
}

/// pb's edge table, for `edges`.
fn edge_batch(
    spec: &StitchSpec,
    schema: &SchemaRef,
    state: &StitchState,
    edges: &[Pair],
) -> Result<RecordBatch> {
    let StitchState {
        collector, rids, ..
    } = state;
    let mut ids = [StringBuilder::new(), StringBuilder::new()];
    let mut types = [StringBuilder::new(), StringBuilder::new()];
    let mut label = StringBuilder::new();
    for pair in edges {
        let (a, b) = pair.sides();
        let mut smallest: Option<Rid> = None;
        for (side, (id, id_type)) in [a, b].into_iter().zip(ids.iter_mut().zip(types.iter_mut())) {
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
        Arc::clone(schema),
        vec![
            Arc::new(id1.finish()),
            Arc::new(type1.finish()),
            Arc::new(id2.finish()),
            Arc::new(type2.finish()),
            Arc::new(label.finish()),
            timestamps(edges.iter().map(|e| e.time())),
        ],
    )?)
}
