// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `MainIdLookupExec`: streams an input's rows, each with its cluster, probing the
//! shared stitch's key index (see [`super::lookup`] for the rule).
//!
//! The rows keep their partitions: once the stitch is built, every partition probes it
//! in parallel, batch by batch, with no hash table of its own.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, Time,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    ExecutionPlanProperties, InputDistributionRequirements, PlanProperties, ReplaceChildrenOptions,
    SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};

use super::lookup::Lookup;
use super::spec::{CLUSTER_COLUMN, StitchSpec};
use super::state::{SharedStitch, StitchMetrics, StitchState};
use crate::catalog::id_column;
use crate::error::internal;

/// The rows of the first child with their clusters; the other children are the stitch's
/// inputs, read only if no other operator of the query has built the stitch yet.
#[derive(Debug)]
pub(crate) struct MainIdLookupExec {
    lookup: Lookup,
    /// Index of each id column in the rows.
    id_columns: Vec<usize>,
    spec: Arc<StitchSpec>,
    rows: Arc<dyn ExecutionPlan>,
    stitch_inputs: Vec<Arc<dyn ExecutionPlan>>,
    shared: Arc<SharedStitch>,
    schema: SchemaRef,
    cache: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl MainIdLookupExec {
    /// The operator over `rows`, probing the stitch of `spec` that `shared` holds.
    pub(crate) fn try_new(
        lookup: Lookup,
        spec: Arc<StitchSpec>,
        rows: Arc<dyn ExecutionPlan>,
        stitch_inputs: Vec<Arc<dyn ExecutionPlan>>,
        shared: Arc<SharedStitch>,
    ) -> Result<Self> {
        let rows_schema = rows.schema();
        let id_columns = (0..lookup.id_types.len())
            .map(|i| rows_schema.index_of(&id_column(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut fields: Vec<_> = rows_schema.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(
            CLUSTER_COLUMN,
            DataType::UInt32,
            false,
        )));
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            rows_schema.metadata().clone(),
        ));
        // The cluster is appended, so the rows' partitioning and orderings still hold.
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            rows.output_partitioning().clone(),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self {
            lookup,
            id_columns,
            spec,
            rows,
            stitch_inputs,
            shared,
            schema,
            cache,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl MainIdLookupExec {
    /// The parts of the operator that its wire form (module `wire`) carries.
    #[cfg(feature = "distributed")]
    pub(super) fn parts(&self) -> (&Lookup, &Arc<StitchSpec>, &Arc<SharedStitch>) {
        (&self.lookup, &self.spec, &self.shared)
    }
}

impl DisplayAs for MainIdLookupExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let types = self.lookup.type_names(&self.spec);
        match t {
            DisplayFormatType::TreeRender => {
                write!(f, "entity={}\nids={types}", self.spec.entity.name)
            }
            _ => write!(
                f,
                "MainIdLookupExec: entity={}, ids=[{types}]{}",
                self.spec.entity.name,
                // More than one operator reads the stitch: it is built once for all.
                if self.shared.is_shared() {
                    ", shared"
                } else {
                    ""
                }
            ),
        }
    }
}

impl ExecutionPlan for MainIdLookupExec {
    fn name(&self) -> &str {
        "MainIdLookupExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        let mut distributions = vec![Distribution::UnspecifiedDistribution];
        distributions.extend(vec![
            Distribution::SinglePartition;
            self.stitch_inputs.len()
        ]);
        InputDistributionRequirements::new(distributions)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        std::iter::once(&self.rows)
            .chain(&self.stitch_inputs)
            .collect()
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            return Err(internal("MainIdLookupExec lost its rows"));
        }
        let rows = children.remove(0);
        Ok(Arc::new(Self::try_new(
            self.lookup.clone(),
            Arc::clone(&self.spec),
            rows,
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
        let stitch_metrics = StitchMetrics::new(&self.metrics, partition);
        let metrics = LookupMetrics::new(&self.metrics, partition);
        let rows = self.rows.execute(partition, Arc::clone(&ctx))?;
        let spec = Arc::clone(&self.spec);
        let stitch_inputs = self.stitch_inputs.clone();
        let shared = Arc::clone(&self.shared);
        let id_columns = self.id_columns.clone();
        let id_types = self.lookup.id_types.clone();
        let schema = Arc::clone(&self.schema);
        let stream = futures::stream::once(async move {
            let state = shared
                .state(&spec, &stitch_inputs, &ctx, &stitch_metrics)
                .await?;
            Ok::<_, DataFusionError>(rows.map(move |batch| {
                let batch = batch?;
                let _timer = metrics.lookup_time.timer();
                metrics.input_rows.add(batch.num_rows());
                let found = assign_clusters(&batch, &id_columns, &id_types, &state, &schema)?;
                metrics.baseline.record_output(found.num_rows());
                Ok(found)
            }))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// The rows of `batch` that some id maps to a cluster, with the cluster appended.
fn assign_clusters(
    batch: &RecordBatch,
    id_columns: &[usize],
    id_types: &[u16],
    state: &StitchState,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let ids = id_columns
        .iter()
        .map(|&i| cast(batch.column(i), &DataType::Utf8View))
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<_> = ids.iter().map(|a| a.as_string_view()).collect();
    // Column by column, the rows still without a cluster probe their id of that
    // column; a batch of probes at a time keeps many cache misses in flight.
    let rows = batch.num_rows();
    let mut clusters: Vec<Option<u32>> = vec![None; rows];
    let mut pending: Vec<usize> = (0..rows).collect();
    let mut probed = Vec::with_capacity(rows);
    let mut keys: Vec<(u16, &[u8])> = Vec::with_capacity(rows);
    let mut found = Vec::with_capacity(rows);
    for (column, &id_type) in ids.iter().zip(id_types) {
        if pending.is_empty() {
            break;
        }
        probed.clear();
        keys.clear();
        for &row in &pending {
            if column.is_valid(row) {
                probed.push(row);
                keys.push((id_type, column.value(row).as_bytes()));
            }
        }
        found.clear();
        state.clusters_of(&keys, &mut found);
        for (&row, &cluster) in probed.iter().zip(&found) {
            clusters[row] = cluster;
        }
        pending.retain(|&row| clusters[row].is_none());
    }
    let found: Vec<bool> = clusters.iter().map(Option::is_some).collect();
    let clusters: Vec<u32> = clusters.iter().map(|c| c.unwrap_or(0)).collect();
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(UInt32Array::from(clusters)));
    let with_clusters = RecordBatch::try_new(Arc::clone(schema), columns)?;
    if found.iter().all(|&f| f) {
        return Ok(with_clusters);
    }
    Ok(filter_record_batch(
        &with_clusters,
        &BooleanArray::from(found),
    )?)
}

/// The lookup's own counters, beside the stitch's.
struct LookupMetrics {
    baseline: BaselineMetrics,
    input_rows: Count,
    lookup_time: Time,
}

impl LookupMetrics {
    fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        Self {
            baseline: BaselineMetrics::new(metrics, partition),
            input_rows: MetricBuilder::new(metrics).counter("lookup_input_rows", partition),
            lookup_time: MetricBuilder::new(metrics).subset_time("lookup_time", partition),
        }
    }
}
