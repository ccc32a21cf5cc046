// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `KeepExec` and the session's kept results.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    ExecutionPlanProperties, InputDistributionRequirements, PlanProperties, ReplaceChildrenOptions,
    SendableRecordBatchStream,
};
use futures::TryStreamExt;

use crate::data_version::data_version;
use crate::error::internal;
use crate::plan_identity::comparable_plan;
use crate::recent::Recent;
use crate::shared_build::SharedBuild;

/// A result: every partition's batches, and their memory in the pool.
#[derive(Debug)]
pub(crate) struct Kept {
    partitions: Vec<Vec<RecordBatch>>,
    _reservations: Vec<MemoryReservation>,
}

/// The kept results of a session's recent queries.
#[derive(Debug, Default)]
pub(crate) struct KeptResults {
    recent: Recent<Key, SharedBuild<Kept>>,
}

/// What a kept result is found by: its input's plan (as `crate::plan_identity`
/// compares plans), the data the plan reads, and the
/// partitions it is kept in (how many, and by which columns).
#[derive(Debug)]
struct Key {
    input: LogicalPlan,
    partition_by: Vec<String>,
    data: u64,
    partitions: usize,
}

impl KeptResults {
    /// Starts planning a new query ([`Recent::begin_query`]).
    pub(crate) fn begin_query(&self) -> Result<()> {
        self.recent.begin_query()
    }

    /// The kept result of `input` (planned as `physical` under `config`), or a new one,
    /// kept if the data its scans read can be known.
    pub(crate) fn kept(
        &self,
        input: &LogicalPlan,
        partition_by: &[String],
        physical: &Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<SharedBuild<Kept>>> {
        let Some(data) = data_version(std::slice::from_ref(physical), config) else {
            return Ok(Arc::default());
        };
        let partitions = physical.output_partitioning().partition_count();
        let input = comparable_plan(input)?;
        self.recent.find_or_insert(
            |key| {
                key.data == data
                    && key.partitions == partitions
                    && key.partition_by == partition_by
                    && key.input == input
            },
            SharedBuild::failed,
            || {
                let key = Key {
                    input: input.clone(),
                    partition_by: partition_by.to_vec(),
                    data,
                    partitions,
                };
                (key, Arc::default())
            },
        )
    }
}

/// Runs every partition of `input` at once and keeps the batches, reserving them.
async fn keep(input: Arc<dyn ExecutionPlan>, ctx: Arc<TaskContext>) -> Result<Arc<Kept>> {
    let reservation = MemoryConsumer::new("KeepExec").register(ctx.memory_pool());
    let tasks: Vec<_> = (0..input.output_partitioning().partition_count())
        .map(|partition| {
            let stream = input.execute(partition, Arc::clone(&ctx));
            let memory = reservation.new_empty();
            SpawnedTask::spawn(async move {
                let stream = stream?;
                let schema = stream.schema();
                let batches: Vec<RecordBatch> = stream
                    .and_then(|batch| {
                        let grown = memory.try_grow(batch.get_array_memory_size());
                        futures::future::ready(grown.map(|()| batch))
                    })
                    .try_collect()
                    .await?;
                let batches = one_batch(&schema, batches, &memory)?;
                Ok::<_, DataFusionError>((batches, memory))
            })
        })
        .collect();
    let (mut partitions, mut reservations) = (Vec::new(), Vec::new());
    for task in tasks {
        let (batches, memory) = task
            .join()
            .await
            .map_err(|e| internal(format!("a KeepExec task failed: {e}")))??;
        partitions.push(batches);
        reservations.push(memory);
    }
    Ok(Arc::new(Kept {
        partitions,
        _reservations: reservations,
    }))
}

/// A partition's batches as one, when they fit in one: a hash join that builds on a
/// kept result then takes its partition as it is, where it would copy every batch into
/// one again, query after query (about a gigabyte per feature view of a 10M-edge
/// project). Batches that do not fit in one (text columns of over 2 GB) stay as they
/// are; so do they when the pool cannot hold the copy while it is made.
fn one_batch(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    memory: &MemoryReservation,
) -> Result<Vec<RecordBatch>> {
    if batches.len() < 2 {
        return Ok(batches);
    }
    let size = memory.size();
    if memory.try_grow(size).is_err() {
        return Ok(batches);
    }
    let Ok(batch) = concat_batches(schema, &batches) else {
        memory.shrink(size);
        return Ok(batches);
    };
    memory.try_resize(batch.get_array_memory_size())?;
    Ok(vec![batch])
}

/// Its input's rows, computed by the first query that reads them and kept for the next.
#[derive(Debug)]
pub(crate) struct KeepExec {
    input: Arc<dyn ExecutionPlan>,
    kept: Arc<SharedBuild<Kept>>,
    /// The columns its input must be hash-partitioned by (none: any partitioning).
    partition_by: Vec<Arc<dyn PhysicalExpr>>,
    metrics: ExecutionPlanMetricsSet,
}

impl KeepExec {
    /// The operator over `input`, reading (or making) `kept`, its rows partitioned by
    /// `partition_by` (the optimizer puts the repartition below, so it is kept done).
    pub(crate) fn new(
        input: Arc<dyn ExecutionPlan>,
        kept: Arc<SharedBuild<Kept>>,
        partition_by: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Self {
        Self {
            input,
            kept,
            partition_by,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for KeepExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeepExec")?;
        if !self.partition_by.is_empty() {
            let keys: Vec<String> = self.partition_by.iter().map(|k| k.to_string()).collect();
            write!(f, ": partition_by=[{}]", keys.join(", "))?;
        }
        Ok(())
    }
}

impl ExecutionPlan for KeepExec {
    fn name(&self) -> &str {
        "KeepExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
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
            .ok_or_else(|| internal("KeepExec has one child"))?;
        // The optimizer's rewrite of the same input: the same result.
        Ok(Arc::new(Self::new(
            input,
            Arc::clone(&self.kept),
            self.partition_by.clone(),
        )))
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        InputDistributionRequirements::new(vec![if self.partition_by.is_empty() {
            Distribution::UnspecifiedDistribution
        } else {
            Distribution::KeyPartitioned(self.partition_by.clone())
        }])
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

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (kept, input) = (Arc::clone(&self.kept), Arc::clone(&self.input));
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let batches = async move {
            let kept = kept.get(|| keep(input, ctx)).await?;
            let batches = kept
                .partitions
                .get(partition)
                .cloned()
                .ok_or_else(|| internal(format!("KeepExec kept no partition {partition}")))?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            baseline.record_output(rows);
            baseline.done();
            Ok::<_, DataFusionError>(futures::stream::iter(batches.into_iter().map(Ok)))
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            futures::stream::once(batches).try_flatten(),
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
