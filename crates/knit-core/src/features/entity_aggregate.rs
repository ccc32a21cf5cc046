// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Vars aggregate their input's rows per entity in one stage, after the rows are
//! hash-partitioned by cluster, rather than in DataFusion's two (a partial aggregate
//! per input partition, its states repartitioned, then a final one).
//!
//! Grouping by `__knit_cluster` is grouping by entity: millions of groups of a few rows
//! each, so a partial aggregate reduces little. DataFusion's gives up after its probe
//! and passes every row on as a state of its own, which costs more than the row: a
//! `count(DISTINCT)`'s state is a list, an ordered `last_value`'s a value and its order,
//! and the final aggregate then merges states where it could have updated from values.
//! On the features benchmark's 10M-edge data the final aggregate of 8.7M event rows
//! took 5.5 s of CPU. Repartitioning the rows themselves is a copy of their columns.
//!
//! The rule runs after DataFusion's own (it sees the planned `Partial` /
//! `FinalPartitioned` pair with its repartition) and rewrites only aggregates whose one
//! grouping column is the cluster, which only feature queries write.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};

use crate::plan_rewrite::rewrite_bottom_up;
use crate::stitch::CLUSTER_COLUMN;

/// The rule: see the module doc.
#[derive(Debug, Default)]
pub(crate) struct SingleStageEntityAggregate;

impl PhysicalOptimizerRule for SingleStageEntityAggregate {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        rewrite_bottom_up(plan, single_stage)
    }

    fn name(&self) -> &str {
        "single_stage_entity_aggregate"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `FinalPartitioned <- Repartition(hash) <- Partial <- rows`, grouped by the cluster
/// alone, as `SinglePartitioned <- Repartition(hash of the rows' cluster) <- rows`.
fn single_stage(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(last) = node.downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    let Some(repartition) = last.input().downcast_ref::<RepartitionExec>() else {
        return Ok(None);
    };
    let Some(first) = repartition.input().downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    let Partitioning::Hash(_, partitions) = repartition.partitioning() else {
        return Ok(None);
    };
    let by_cluster = match first.group_expr().expr() {
        [(expr, name)] => {
            name == CLUSTER_COLUMN
                && expr
                    .downcast_ref::<Column>()
                    .is_some_and(|c| c.name() == CLUSTER_COLUMN)
        }
        _ => false,
    };
    if *last.mode() != AggregateMode::FinalPartitioned
        || *first.mode() != AggregateMode::Partial
        || !first.group_expr().is_single()
        || !by_cluster
    {
        return Ok(None);
    }
    let keys = first
        .group_expr()
        .expr()
        .iter()
        .map(|(expr, _)| Arc::clone(expr))
        .collect();
    // A round-robin spread of the rows just below is a copy the hash repartition makes
    // anyway.
    let mut rows = first.input();
    if let Some(spread) = rows.downcast_ref::<RepartitionExec>()
        && matches!(spread.partitioning(), Partitioning::RoundRobinBatch(_))
    {
        rows = spread.input();
    }
    let rows = Arc::new(RepartitionExec::try_new(
        Arc::clone(rows),
        Partitioning::Hash(keys, *partitions),
    )?);
    let single = AggregateExec::try_new(
        AggregateMode::SinglePartitioned,
        first.group_expr().clone(),
        first.aggr_expr().to_vec(),
        first.filter_expr().to_vec(),
        rows,
        first.input_schema(),
    )?;
    Ok(Some(Arc::new(single)))
}
