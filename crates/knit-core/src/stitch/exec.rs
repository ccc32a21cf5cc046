// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `IdStitchExec`: reads every input of an entity and emits its id graph, edges or
//! clusters.
//!
//! A query that uses one id graph in several places holds several `IdStitchExec`s (and
//! lookups) over one [`SharedStitch`]: the first to run starts the build, all of them
//! await it. Output is rendered from the shared state a batch at a time as it is read
//! ([`super::render`]), in as many partitions as the session's target partitions, so
//! downstream operators start at once, on every core, and the rendered rows are never
//! held whole. The operator is its [`StitchSpec`], the columns it renders and its
//! partition count; the shared state is made when the query runs.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::coop::make_cooperative;
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

use super::render::{Cursor, Layout, Output};
use super::rules::StitchRules;
use super::spec::{StitchColumn, StitchSpec};
use super::state::{SharedStitch, StitchMetrics, StitchRows, compute, read_rules};
use crate::error::internal;
use crate::shared_build::SharedBuild;

/// Reads all inputs (each as one partition), collects edges, builds the id graph, and
/// emits the columns a query reads in `partitions` partitions.
#[derive(Debug)]
pub(crate) struct IdStitchExec {
    spec: Arc<StitchSpec>,
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    shared: Arc<SharedStitch>,
    /// Output partitions: each renders its share of the rows from the shared state.
    partitions: usize,
    /// True when the first child holds the rows of all inputs routed by cluster
    /// ([`super::keys`]; the rules follow): each partition then stitches its own rows,
    /// which are whole clusters, and renders all of them.
    routed: bool,
    /// A routed stitch's rules, read once for all of its partitions.
    routed_rules: Arc<SharedBuild<StitchRules>>,
    /// The columns this operator renders, in order: a projection above it is folded
    /// in, so that columns nobody reads are never built.
    columns: Vec<StitchColumn>,
    /// The id graph's rows it renders, by the node's id type (indexed by the entity's id
    /// types), when a filter on `other_id_type` above it was folded in (by the id type
    /// filter rule): the other nodes' rows are never built.
    id_types: Option<Arc<[bool]>>,
    schema: SchemaRef,
    cache: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl IdStitchExec {
    /// An operator whose result is computed once for all operators holding `shared`,
    /// emitted in `partitions` partitions.
    pub(crate) fn try_new(
        spec: Arc<StitchSpec>,
        inputs: Vec<Arc<dyn ExecutionPlan>>,
        shared: Arc<SharedStitch>,
        partitions: usize,
    ) -> Result<Self> {
        let schema = spec.schema();
        let columns = spec.output.columns().to_vec();
        Self::build(
            spec,
            inputs,
            shared,
            partitions.max(1),
            columns,
            schema,
            false,
        )
    }

    /// An operator over the rows of all inputs routed by cluster in the partitions of
    /// its first child (then the rules, when the entity has rules), which stitches
    /// each partition on its own and renders `columns`.
    #[cfg(feature = "distributed")]
    pub(super) fn routed(
        spec: Arc<StitchSpec>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        columns: Vec<StitchColumn>,
        schema: SchemaRef,
    ) -> Result<Self> {
        let Some(routed) = children.first() else {
            return Err(internal("a routed IdStitchExec has no rows"));
        };
        let partitions = routed.properties().partitioning.partition_count();
        Self::build(
            spec,
            children,
            Arc::default(),
            partitions,
            columns,
            schema,
            true,
        )
    }

    /// True when each partition stitches its own routed rows.
    #[cfg(feature = "distributed")]
    pub(crate) fn is_routed(&self) -> bool {
        self.routed
    }

    /// The operator rendering `columns` of the output, with the output schema `schema`
    /// (also the operator of its wire form, in `wire`).
    pub(super) fn build(
        spec: Arc<StitchSpec>,
        inputs: Vec<Arc<dyn ExecutionPlan>>,
        shared: Arc<SharedStitch>,
        partitions: usize,
        columns: Vec<StitchColumn>,
        schema: SchemaRef,
        routed: bool,
    ) -> Result<Self> {
        if routed && inputs.len() != 1 + usize::from(spec.rules) {
            return Err(internal(
                "a routed IdStitchExec has its rows and, with rules, the rules",
            ));
        }
        if inputs.len() != spec.children() && !routed {
            return Err(internal(format!(
                "IdStitchExec has {} inputs for {} input definitions",
                inputs.len(),
                spec.children()
            )));
        }
        // Each partition of a routed stitch holds whatever clusters were routed to it.
        let layout = if routed {
            Layout::Ranges
        } else {
            Layout::of(&spec, &columns)
        };
        let cache = Arc::new(Self::compute_properties(
            Arc::clone(&schema),
            partitions,
            layout,
        ));
        Ok(Self {
            spec,
            inputs,
            shared,
            partitions,
            routed,
            routed_rules: Arc::default(),
            columns,
            id_types: None,
            schema,
            cache,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// What it stitches and renders: its spec, shared build, partitions and columns
    /// (what its wire form carries, and what the id type filter rule reads).
    pub(super) fn parts(&self) -> (&Arc<StitchSpec>, &Arc<SharedStitch>, usize, &[StitchColumn]) {
        (&self.spec, &self.shared, self.partitions, &self.columns)
    }

    /// This operator over `inputs`, rendering `columns` of the output as `schema`.
    fn derive(
        &self,
        inputs: Vec<Arc<dyn ExecutionPlan>>,
        columns: Vec<StitchColumn>,
        schema: SchemaRef,
    ) -> Result<Self> {
        // A routed stitch has a partition for each of its rows' partitions, however
        // many a planner made.
        let partitions = match inputs.first() {
            Some(rows) if self.routed => rows.properties().partitioning.partition_count(),
            _ => self.partitions,
        };
        let mut derived = Self::build(
            Arc::clone(&self.spec),
            inputs,
            Arc::clone(&self.shared),
            partitions,
            columns,
            schema,
            self.routed,
        )?;
        derived.id_types = self.id_types.clone();
        Ok(derived)
    }

    /// The id types whose nodes it renders, when not all (see [`Self::with_types`]).
    pub(super) fn rendered_types(&self) -> Option<&Arc<[bool]>> {
        self.id_types.as_ref()
    }

    /// This operator rendering only the id graph's nodes whose id type is marked in
    /// `id_types` (indexed by the entity's id types); `None` renders them all.
    pub(super) fn with_types(&self, id_types: Option<Arc<[bool]>>) -> Result<Self> {
        let mut derived = self.derive(
            self.inputs.clone(),
            self.columns.clone(),
            Arc::clone(&self.schema),
        )?;
        derived.id_types = id_types;
        Ok(derived)
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

impl DisplayAs for IdStitchExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inputs: Vec<&str> = self.spec.inputs.iter().map(|i| i.name.as_str()).collect();
        // More than one operator holds the result: it is computed once for all of them.
        let shared = if self.routed {
            ", routed"
        } else if self.shared.is_shared() {
            ", shared"
        } else {
            ""
        };
        let projection = if self.columns == self.spec.output.columns() {
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
            _ => {
                let id_types = match &self.id_types {
                    Some(marked) => {
                        let names: Vec<&str> = (marked.iter().enumerate())
                            .filter(|&(_, &rendered)| rendered)
                            .map(|(index, _)| self.spec.entity.id_types[index].name.as_str())
                            .collect();
                        format!(", id_types=[{}]", names.join(", "))
                    }
                    None => String::new(),
                };
                write!(
                    f,
                    "IdStitchExec: entity={}, output={}, inputs=[{}]{projection}{id_types}{shared}",
                    self.spec.entity.name,
                    self.spec.output,
                    inputs.join(", ")
                )
            }
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
        if self.routed {
            // Each partition is a stitch of its own, over the rows of whole clusters:
            // hashed on their label (the last column), and the rules whole.
            let label_at = self.inputs[0].schema().fields().len().saturating_sub(1);
            let label = Arc::new(Column::new("label", label_at)) as Arc<dyn PhysicalExpr>;
            let mut required = vec![Distribution::KeyPartitioned(vec![label])];
            if self.spec.rules {
                required.push(Distribution::SinglePartition);
            }
            return InputDistributionRequirements::new(required);
        }
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
            return Err(internal(format!(
                "IdStitchExec has {} partitions, not {partition}",
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
        let id_types = self.id_types.clone();
        let routed = self.routed;
        let routed_rules = Arc::clone(&self.routed_rules);
        let (layout, share, shares) = if routed {
            (Layout::Ranges, 0, 1)
        } else {
            (Layout::of(&spec, &columns), partition, partitions)
        };
        let stream = futures::stream::once(async move {
            let state = if routed {
                // The partitions read the rules once between them: a plan's partitions
                // may be run only once.
                let rules = routed_rules
                    .get(|| {
                        let (spec, ctx, plan) =
                            (Arc::clone(&spec), Arc::clone(&ctx), inputs.get(1).cloned());
                        async move { read_rules(&spec, plan.as_ref(), &ctx).await.map(Arc::new) }
                    })
                    .await?;
                let rows = StitchRows::Routed {
                    plan: &inputs[0],
                    partition,
                };
                compute(&spec, rows, &rules, &ctx, &metrics).await?
            } else {
                shared.state(&spec, &inputs, &ctx, &metrics).await?
            };
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
            let mut cursor = {
                let _timer = output_time.timer();
                Cursor::start(
                    &state,
                    spec.output,
                    layout,
                    share,
                    shares,
                    &mut order_memory,
                )?
            };
            Ok::<_, DataFusionError>(futures::stream::iter(std::iter::from_fn(move || {
                let _timer = output_time.timer();
                let output = Output {
                    spec: &spec,
                    schema: &schema,
                    columns: &columns,
                    id_types: id_types.as_deref(),
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
                        cursor = Cursor::done();
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
