// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `ConnectedComponentsExec`: union-find over the values of a two-column input.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    ExecutionPlanProperties, InputDistributionRequirements, Partitioning, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};

use crate::error::internal;
use crate::kernels::intern::Interner;
use crate::kernels::union_find::UnionFind;

/// Reads its input as one partition and emits `(node, component)`, one partition.
#[derive(Debug)]
pub struct ConnectedComponentsExec {
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    cache: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl ConnectedComponentsExec {
    /// An operator over a plan of two columns of one type, `a` and `b`.
    pub fn try_new(input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let input_schema = input.schema();
        if input_schema.fields().len() != 2 {
            return Err(internal("ConnectedComponentsExec needs two input columns"));
        }
        let data_type = input_schema.field(0).data_type().clone();
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new("node", data_type.clone(), false),
            datafusion::arrow::datatypes::Field::new("component", data_type, false),
        ]));
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Ok(Self {
            input,
            schema,
            cache,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for ConnectedComponentsExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match t {
            DisplayFormatType::TreeRender => write!(f, "algorithm=union_find"),
            _ => write!(f, "ConnectedComponentsExec: algorithm=union_find"),
        }
    }
}

impl ExecutionPlan for ConnectedComponentsExec {
    fn name(&self) -> &str {
        "ConnectedComponentsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        InputDistributionRequirements::new(vec![Distribution::SinglePartition])
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = children
            .pop()
            .ok_or_else(|| internal("ConnectedComponentsExec has one child"))?;
        Ok(Arc::new(Self::try_new(input)?))
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
            return Err(internal(format!(
                "ConnectedComponentsExec has one partition, not {partition}"
            )));
        }
        // The planner merges the input into one partition; read them all anyway, so
        // that a plan built another way loses no rows.
        let partitions = self.input.output_partitioning().partition_count();
        let mut input = futures::stream::iter(
            (0..partitions)
                .map(|p| self.input.execute(p, Arc::clone(&ctx)))
                .collect::<Result<Vec<_>>>()?,
        )
        .flatten();
        let schema = Arc::clone(&self.schema);
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let edges_read = MetricBuilder::new(&self.metrics).counter("edges", partition);
        let components_found = MetricBuilder::new(&self.metrics).counter("components", partition);
        let reservation =
            MemoryConsumer::new("ConnectedComponentsExec").register(ctx.memory_pool());
        let batch_size = ctx.session_config().batch_size().max(1);
        let output_schema = Arc::clone(&schema);
        let run = async move {
            let converter =
                RowConverter::new(vec![SortField::new(schema.field(0).data_type().clone())])?;
            let mut nodes = Interner::default();
            let mut edges: Vec<(u32, u32)> = Vec::new();
            while let Some(batch) = input.next().await {
                let batch = batch?;
                let _timer = baseline.elapsed_compute().timer();
                let (a, b) = (batch.column(0), batch.column(1));
                let rows_a = converter.convert_columns(std::slice::from_ref(a))?;
                let rows_b = converter.convert_columns(std::slice::from_ref(b))?;
                // Logical nulls: a column of type Null has no validity buffer, yet every
                // value is NULL, and NULL is never a node.
                let (nulls_a, nulls_b) = (a.logical_nulls(), b.logical_nulls());
                let valid = |nulls: &Option<NullBuffer>, i: usize| {
                    nulls.as_ref().is_none_or(|n| n.is_valid(i))
                };
                for i in 0..batch.num_rows() {
                    let x = valid(&nulls_a, i).then(|| nodes.intern(0, rows_a.row(i).data()));
                    let y = valid(&nulls_b, i).then(|| nodes.intern(0, rows_b.row(i).data()));
                    if let (Some(x), Some(y)) = (x, y) {
                        edges.push((x, y));
                    }
                }
                edges_read.add(batch.num_rows());
                reservation.try_resize(nodes.allocated_bytes() + edges.capacity() * 8)?;
            }
            let _timer = baseline.elapsed_compute().timer();
            let mut sets = UnionFind::new(nodes.len() as u32);
            for &(x, y) in &edges {
                sets.union(x, y);
            }
            drop(edges);
            let roots = sets.roots();
            // A component is named by its smallest node; row bytes order as values do.
            let mut smallest: Vec<u32> = (0..nodes.len() as u32).collect();
            for (node, &root) in roots.iter().enumerate() {
                let current = smallest[root as usize];
                if nodes.key(node as u32).1 < nodes.key(current).1 {
                    smallest[root as usize] = node as u32;
                }
            }
            let components = roots
                .iter()
                .enumerate()
                .filter(|&(n, &r)| n as u32 == r)
                .count();
            components_found.add(components);
            let parser = converter.parser();
            let ids: Vec<u32> = (0..nodes.len() as u32).collect();
            let mut batches = Vec::new();
            for chunk in ids.chunks(batch_size) {
                let node_rows = chunk.iter().map(|&n| parser.parse(nodes.key(n).1));
                let label_rows = chunk
                    .iter()
                    .map(|&n| parser.parse(nodes.key(smallest[roots[n as usize] as usize]).1));
                let node: Vec<ArrayRef> = converter.convert_rows(node_rows)?;
                let label: Vec<ArrayRef> = converter.convert_rows(label_rows)?;
                let columns = node.into_iter().chain(label).collect::<Vec<_>>();
                let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
                baseline.record_output(batch.num_rows());
                batches.push(Ok(batch));
            }
            baseline.done();
            drop(reservation);
            Ok::<_, DataFusionError>(futures::stream::iter(batches))
        };
        let stream = futures::stream::once(run).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            output_schema,
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
