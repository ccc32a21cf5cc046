// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `ConnectedComponentsExec`: the operator; [`super::build`] computes, every output
//! partition renders its share.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    InputDistributionRequirements, Partitioning, PlanProperties, ReplaceChildrenOptions,
    SendableRecordBatchStream,
};
use futures::TryStreamExt;

use super::build::{Components, ComponentsMetrics, Cursor, build};
use crate::error::internal;
use crate::shared_build::SharedBuild;

/// Reads its input as one partition and emits `(node, component)` in `partitions`
/// partitions, hashed on the component and sorted on it within each; or `(component)`
/// alone, once the query above reads no node (see `try_swapping_with_projection`).
#[derive(Debug)]
pub struct ConnectedComponentsExec {
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    partitions: usize,
    cache: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
    /// The one build every output partition reads.
    components: Arc<SharedBuild<Components>>,
}

impl ConnectedComponentsExec {
    /// An operator over a plan of two columns of one type, `a` and `b`, with
    /// `partitions` output partitions.
    pub fn try_new(input: Arc<dyn ExecutionPlan>, partitions: usize) -> Result<Self> {
        Self::with_columns(input, partitions, Some("node"), "component")
    }

    /// The operator emitting `(node, component)` under those names, or the component
    /// alone without a node column's name.
    pub fn with_columns(
        input: Arc<dyn ExecutionPlan>,
        partitions: usize,
        node: Option<&str>,
        component: &str,
    ) -> Result<Self> {
        let input_schema = input.schema();
        if input_schema.fields().len() != 2 {
            return Err(internal("ConnectedComponentsExec needs two input columns"));
        }
        let data_type = input_schema.field(0).data_type().clone();
        let mut fields = Vec::with_capacity(2);
        if let Some(node) = node {
            fields.push(Field::new(node, data_type.clone(), false));
        }
        fields.push(Field::new(component, data_type, false));
        let schema = Arc::new(Schema::new(fields));
        let with_nodes = node.is_some();
        let partitions = partitions.max(1);
        let component: Arc<dyn PhysicalExpr> =
            Arc::new(Column::new(component, usize::from(with_nodes)));
        let order = PhysicalSortExpr::new(
            Arc::clone(&component),
            SortOptions {
                descending: false,
                nulls_first: false,
            },
        );
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new_with_orderings(Arc::clone(&schema), [[order]]),
            Partitioning::Hash(vec![component], partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Ok(Self {
            input,
            schema,
            partitions,
            cache,
            metrics: ExecutionPlanMetricsSet::new(),
            components: Arc::default(),
        })
    }
}

impl ConnectedComponentsExec {
    /// How many partitions it emits (the wire form of a distributed plan carries it).
    #[cfg(feature = "distributed")]
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// The names of the node column, if the rows carry their node, and of the
    /// component column. A query that counts or lists components reads no node, whose
    /// value is a random read of the interned values for each row.
    pub fn column_names(&self) -> (Option<&str>, &str) {
        match &self.schema.fields()[..] {
            [node, component] => (Some(node.name().as_str()), component.name().as_str()),
            [component, ..] => (None, component.name().as_str()),
            [] => (None, ""),
        }
    }
}

impl DisplayAs for ConnectedComponentsExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (t, self.column_names()) {
            (DisplayFormatType::TreeRender, _) => write!(f, "algorithm=union_find"),
            (_, (Some(_), _)) => write!(f, "ConnectedComponentsExec: algorithm=union_find"),
            (_, (None, component)) => write!(
                f,
                "ConnectedComponentsExec: algorithm=union_find, columns=[{component}]"
            ),
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
        let (node, component) = self.column_names();
        Ok(Arc::new(Self::with_columns(
            input,
            self.partitions,
            node,
            component,
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

    /// A projection that picks the component alone (a query that counts or lists
    /// components) becomes an operator that renders no node.
    fn try_swapping_with_projection(
        &self,
        projection: &ProjectionExec,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let [picked] = projection.expr() else {
            return Ok(None);
        };
        if self.column_names().0.is_none() {
            return Ok(None);
        }
        match picked.expr.downcast_ref::<Column>() {
            Some(column) if column.index() == 1 => Ok(Some(Arc::new(Self::with_columns(
                Arc::clone(&self.input),
                self.partitions,
                None,
                &picked.alias,
            )?))),
            _ => Ok(None),
        }
    }

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition >= self.partitions {
            return Err(internal(format!(
                "ConnectedComponentsExec has {} partitions, not {partition}",
                self.partitions
            )));
        }
        let metrics = ComponentsMetrics::new(&self.metrics, partition);
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let batch_size = ctx.session_config().batch_size().max(1);
        let (shared, input, schema) = (
            Arc::clone(&self.components),
            Arc::clone(&self.input),
            Arc::clone(&self.schema),
        );
        let partitions = self.partitions;
        let output_schema = Arc::clone(&schema);
        let run = async move {
            let pool = Arc::clone(ctx.memory_pool());
            let components = shared
                .get(|| build(input, Arc::clone(&schema), partitions, ctx, metrics.clone()))
                .await?;
            let mut cursor = {
                let _timer = metrics.output_time.timer();
                components.start(partition)
            };
            let memory = MemoryConsumer::new(format!("ConnectedComponentsExec[{partition}]"))
                .register(&pool);
            memory.try_grow(cursor.allocated_bytes())?;
            // Batches are rendered as they are read.
            let batches = std::iter::from_fn(move || {
                let _timer = metrics.output_time.timer();
                let batch = components.next_batch(&schema, &mut cursor, batch_size);
                match &batch {
                    Ok(Some(batch)) => baseline.record_output(batch.num_rows()),
                    // Nothing follows an error.
                    Err(_) => cursor = Cursor::done(),
                    Ok(None) => {
                        memory.free();
                    }
                }
                batch.transpose()
            });
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
