// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A stitch spread over workers: rows routed by cluster, each share stitched on its own.
//!
//! Everything a stitch computes is a function of one cluster's rows: its main id (the
//! rid of its earliest node), every node's `first_seen_at` and `valid_at` (pb's replay
//! within the cluster), the limits (applied per component) and the edges (one row's
//! pairs). So a stitch over rows split by cluster, each share stitched apart, gives
//! the stitch of all rows, row for row. The plan that splits them:
//!
//! ```text
//! IdStitchExec (routed: each partition a stitch of its own)
//!   RepartitionExec: hash(label)                         <- rows to their cluster's task
//!     HashJoinExec: Right, on node = key                 <- each row's label
//!       RepartitionExec: hash(node)
//!         IdLabelsExec                                   <- labels: one task
//!           IdKeysExec: pairs      (for every input)     <- fingerprints of ids
//!       RepartitionExec: hash(key)
//!         IdKeysExec: rows         (for every input)     <- rows in one schema
//! ```
//!
//! The labels are the connected components of the ids' 64-bit fingerprints, found in
//! one task with some 30–45 bytes an id where the stitch holds 160–220
//! ([`super::labels`]); everything else spreads. A label may join two
//! clusters (two ids with one fingerprint), never split one, and the routed stitch is
//! exact whatever clusters share a partition. The inputs are read twice, once for the
//! labels and once for the rows.
//!
//! The plan is made by the stitch's planner, when the session plans for workers
//! ([`SpreadStitches`]), so that the plan above it is made for what it gives: no
//! partitioning by main id and no order. Spread: a stitch's id graph or edges, when
//! the query reads the entity's stitch in no other place (a lookup or a second
//! operator over one build would build it whole anyway) and has not read it before (a
//! kept stitch is read where it is). The entity's stitch rules, if any, are read whole
//! by each task of the stitch.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{JoinType, NullEquality};
use datafusion::error::Result;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};

use super::exec::IdStitchExec;
use super::inspect::StitchInspectNode;
use super::keys::{IdKeysExec, KEY_COLUMN, KeysOutput};
use super::labels::IdLabelsExec;
use super::logical::IdStitchNode;
use super::lookup::MainIdLookupNode;
use super::spec::{StitchOutput, StitchSpec};

/// The entities whose stitch the query being planned spreads: set on the session's
/// config by a session planning for workers, read by the stitch's planner.
#[derive(Debug, Default)]
pub(crate) struct SpreadStitches(Vec<String>);

impl SpreadStitches {
    /// True when the stitch of `entity` spreads.
    pub(crate) fn spreads(&self, entity: &str) -> bool {
        self.0.iter().any(|name| name == entity)
    }

    /// The entities of `plan` whose stitch can spread: those read by exactly one
    /// stitch node, an id graph or edges.
    pub(crate) fn of_plan(plan: &LogicalPlan) -> Result<Self> {
        // Per entity: how many stitch nodes read it, and whether one can spread.
        let mut nodes: HashMap<String, (usize, bool)> = HashMap::new();
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::Extension(extension) = node {
                let any = extension.node.as_any();
                let (entity, spreads) = if let Some(stitch) = any.downcast_ref::<IdStitchNode>() {
                    let spec = stitch.spec();
                    (&spec.entity.name, spec.output != StitchOutput::Clusters)
                } else if let Some(lookup) = any.downcast_ref::<MainIdLookupNode>() {
                    (&lookup.spec().entity.name, false)
                } else if let Some(inspect) = any.downcast_ref::<StitchInspectNode>() {
                    (&inspect.spec().entity.name, false)
                } else {
                    return Ok(TreeNodeRecursion::Continue);
                };
                let entry = nodes.entry(entity.clone()).or_insert((0, true));
                entry.0 += 1;
                entry.1 &= spreads;
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        let mut entities: Vec<String> = nodes
            .into_iter()
            .filter(|(_, (count, spreads))| *count == 1 && *spreads)
            .map(|(entity, _)| entity)
            .collect();
        entities.sort();
        Ok(Self(entities))
    }

    /// True when no stitch spreads.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// True for a stitch whose partitions each stitch their own routed rows.
pub(crate) fn is_routed_stitch(plan: &dyn ExecutionPlan) -> bool {
    plan.downcast_ref::<IdStitchExec>()
        .is_some_and(IdStitchExec::is_routed)
}

fn column(name: &str, index: usize) -> Arc<dyn PhysicalExpr> {
    Arc::new(Column::new(name, index))
}

/// The routed stitch of `spec` over `children` (the inputs' plans, then the rules'),
/// in `partitions` partitions ([module doc](self)).
pub(crate) fn routed_stitch(
    spec: &Arc<StitchSpec>,
    children: &[Arc<dyn ExecutionPlan>],
    partitions: usize,
) -> Result<Arc<dyn ExecutionPlan>> {
    let partitions = partitions.max(1);
    let (inputs, rules) = children.split_at(spec.inputs.len().min(children.len()));
    let width = spec
        .inputs
        .iter()
        .map(|input| input.column_types.len())
        .max()
        .unwrap_or(0);
    let keys = |output: KeysOutput| -> Result<Arc<dyn ExecutionPlan>> {
        let keys = inputs
            .iter()
            .enumerate()
            .map(|(number, input)| {
                IdKeysExec::try_new(Arc::clone(spec), number, output, Arc::clone(input))
                    .map(|keys| Arc::new(keys) as Arc<dyn ExecutionPlan>)
            })
            .collect::<Result<Vec<_>>>()?;
        UnionExec::try_new(keys)
    };
    let pairs = Arc::new(CoalescePartitionsExec::new(keys(KeysOutput::Pairs)?));
    let labels = Arc::new(RepartitionExec::try_new(
        Arc::new(IdLabelsExec::new(pairs)),
        Partitioning::Hash(vec![column("node", 0)], partitions),
    )?);
    let rows = keys(KeysOutput::Rows { width })?;
    let key_at = rows.schema().index_of(KEY_COLUMN)?;
    let rows = Arc::new(RepartitionExec::try_new(
        rows,
        Partitioning::Hash(vec![column(KEY_COLUMN, key_at)], partitions),
    )?);
    // The rows' columns (input, ids, time, key), then the label of the row's first
    // id. A row without ids has no label and goes anywhere.
    let left_columns = 2;
    let mut projection: Vec<usize> = (left_columns..=left_columns + key_at).collect();
    projection.push(1);
    let labelled = Arc::new(HashJoinExec::try_new(
        labels,
        rows,
        vec![(column("node", 0), column(KEY_COLUMN, key_at))],
        None,
        &JoinType::Right,
        Some(projection),
        PartitionMode::Partitioned,
        NullEquality::NullEqualsNothing,
        false,
    )?);
    let routed = Arc::new(RepartitionExec::try_new(
        labelled,
        Partitioning::Hash(vec![column("label", key_at + 1)], partitions),
    )?);
    // The rules (the last child) are read whole by each task: merged, which the
    // distributed planner's caller turns into a merge within the task.
    let mut children: Vec<Arc<dyn ExecutionPlan>> = vec![routed];
    children.extend(
        rules
            .iter()
            .map(|rules| Arc::new(CoalescePartitionsExec::new(Arc::clone(rules))) as _),
    );
    let columns = spec.output.columns().to_vec();
    Ok(Arc::new(IdStitchExec::routed(
        Arc::clone(spec),
        children,
        columns,
        spec.schema(),
    )?))
}
