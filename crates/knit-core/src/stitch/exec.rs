// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `IdStitchExec`: reads every input of an entity and emits its id graph or edges.
//!
//! A query that uses one id graph in several places (a feature table joins it once per
//! input) holds several `IdStitchExec`s over one [`SharedStitch`]: the first to run
//! computes the graph, the others wait for it and stream the same batches.

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

use super::edges::Side;
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
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let spec = Arc::clone(&self.spec);
        let inputs = self.inputs.clone();
        let shared = Arc::clone(&self.shared);
        let render = match spec.output {
            StitchOutput::IdGraph => id_graph_batches,
            StitchOutput::Edges => edge_batches,
            StitchOutput::Clusters => cluster_batches,
        };
        let stream = futures::stream::once(async move {
            let batches = shared
                .output(&spec, &inputs, &ctx, &metrics, render)
                .await?;
            for batch in batches.iter() {
                baseline.record_output(batch.num_rows());
            }
            baseline.done();
            Ok::<_, DataFusionError>(futures::stream::iter(
                batches.iter().cloned().map(Ok).collect::<Vec<_>>(),
            ))
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

fn timestamps(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(values.collect::<TimestampMicrosecondArray>())
}

/// One row per node: main id, id, id type, `valid_at`, `first_seen_at`.
fn id_graph_batches(
    spec: &StitchSpec,
    state: &StitchState,
    batch_size: usize,
) -> Result<Vec<RecordBatch>> {
    let StitchState {
        collector,
        graph,
        rids,
        ..
    } = state;
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

/// One row per cluster: its number (the main node's id) and its main id.
fn cluster_batches(
    spec: &StitchSpec,
    state: &StitchState,
    batch_size: usize,
) -> Result<Vec<RecordBatch>> {
    let schema = spec.schema();
    let mains: Vec<u32> = (0..state.graph.main.len() as u32)
        .filter(|&node| state.graph.main[node as usize] == node)
        .collect();
    mains
        .chunks(batch_size.max(1))
        .map(|chunk| {
            let mut main = StringBuilder::new();
            for &node in chunk {
                main.append_value(state.rids[node as usize].text().as_str());
            }
            Ok(RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(UInt32Array::from(chunk.to_vec())),
                    Arc::new(main.finish()),
                ],
            )?)
        })
        .collect()
}

/// pb's edge table.
fn edge_batches(
    spec: &StitchSpec,
    state: &StitchState,
    batch_size: usize,
) -> Result<Vec<RecordBatch>> {
    let StitchState {
        collector, rids, ..
    } = state;
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
