// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `StitchInspectExec`: answers one [`Inspection`] from the shared stitch, as a single
//! batch in one partition.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, InputDistributionRequirements,
    Partitioning, PlanProperties, ReplaceChildrenOptions, SendableRecordBatchStream,
};

use super::report::{View, section};
use super::tables::Inspection;
use super::why::{hop_inputs, id_batch, link_batch, link_path};
use crate::error::internal;
use crate::stitch::spec::StitchSpec;
use crate::stitch::state::{SharedStitch, StitchMetrics};

/// Builds (or finds) the stitch of its inputs, then answers its question.
#[derive(Debug)]
pub(crate) struct StitchInspectExec {
    spec: Arc<StitchSpec>,
    inspection: Inspection,
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    shared: Arc<SharedStitch>,
    schema: SchemaRef,
    cache: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl StitchInspectExec {
    /// The operator answering `inspection` from the stitch `shared` holds.
    pub(crate) fn new(
        spec: Arc<StitchSpec>,
        inspection: Inspection,
        inputs: Vec<Arc<dyn ExecutionPlan>>,
        shared: Arc<SharedStitch>,
    ) -> Self {
        let schema = inspection.schema(&spec.entity);
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Self {
            spec,
            inspection,
            inputs,
            shared,
            schema,
            cache,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for StitchInspectExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match t {
            DisplayFormatType::TreeRender => {
                write!(f, "entity={}\n{}", self.spec.entity.name, self.inspection)
            }
            _ => write!(
                f,
                "StitchInspectExec: entity={}, {}, inputs=[{}]",
                self.spec.entity.name,
                self.inspection,
                self.spec.input_names()
            ),
        }
    }
}

impl ExecutionPlan for StitchInspectExec {
    fn name(&self) -> &str {
        "StitchInspectExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
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
        if children.len() != self.inputs.len() {
            return Err(internal(format!(
                "StitchInspectExec has {} inputs, given {}",
                self.inputs.len(),
                children.len()
            )));
        }
        Ok(Arc::new(Self::new(
            Arc::clone(&self.spec),
            self.inspection.clone(),
            children,
            Arc::clone(&self.shared),
        )))
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
            ReplaceChildrenOptions::new(
                datafusion::physical_plan::ChildrenPropertiesMode::Recompute,
            ),
        )
    }

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(internal(format!(
                "StitchInspectExec has one partition, not {partition}"
            )));
        }
        let metrics = StitchMetrics::new(&self.metrics, partition);
        let (spec, inspection) = (Arc::clone(&self.spec), self.inspection.clone());
        let (inputs, shared, schema) = (
            self.inputs.clone(),
            Arc::clone(&self.shared),
            Arc::clone(&self.schema),
        );
        let stream = futures::stream::once(async move {
            let state = shared.state(&spec, &inputs, &ctx, &metrics).await?;
            // What the answer needs besides the state: each node's cluster, and (for
            // the sections that count edges) every edge once more.
            let memory = MemoryConsumer::new("StitchInspectExec").register(ctx.memory_pool());
            memory.try_grow(
                state.graph.main.len() * size_of::<u32>() + state.collector.list.len() * 16,
            )?;
            let view = View::new(&spec, &state);
            let schema = Arc::clone(&schema);
            match &inspection {
                Inspection::Report(report) => section(&view, *report, schema),
                Inspection::Link { from, to } => {
                    let hops = link_path(&view, from, to)?;
                    let names = hop_inputs(&view, &hops, &inputs, &ctx).await?;
                    link_batch(&view, &hops, &names, schema)
                }
                Inspection::Id { id } => id_batch(&view, id, schema),
            }
            .map_err(|e: DataFusionError| e)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
