// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The physical planner of the stitch's plan nodes: `IdStitch` as [`IdStitchExec`] and
//! `MainIdLookup` as [`MainIdLookupExec`], every node of one query over the same stitch
//! sharing one [`SharedStitch`], kept for the next queries by the session's
//! [`StitchCache`].

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use datafusion_session::Session;

use super::cache::StitchCache;
use super::exec::IdStitchExec;
use super::inspect::{StitchInspectExec, StitchInspectNode};
use super::logical::IdStitchNode;
use super::lookup::MainIdLookupNode;
use super::lookup_exec::MainIdLookupExec;
use super::spec::StitchSpec;
use super::state::SharedStitch;
use crate::error::internal;
use crate::plan_identity::comparable_plan;

/// A stitch planned in the current query: what it stitches, its inputs' plans, and the
/// result its operators share.
type PlannedStitch = (Arc<StitchSpec>, Vec<LogicalPlan>, Arc<SharedStitch>);

/// Plans `IdStitch` and `MainIdLookup` nodes. Within one query (one planner), every
/// node over the same stitch (same entity, same inputs, compared as
/// `crate::plan_identity` does) shares one result, so the stitch runs once; across
/// queries, the session's [`StitchCache`] keeps it.
#[derive(Debug)]
pub(crate) struct IdStitchPlanner {
    planned: Mutex<Vec<PlannedStitch>>,
    cache: Arc<StitchCache>,
}

impl IdStitchPlanner {
    /// The planner of one query, finding the stitches of recent queries in `cache`.
    pub(crate) fn new(cache: Arc<StitchCache>) -> Self {
        Self {
            planned: Mutex::default(),
            cache,
        }
    }

    fn shared(
        &self,
        spec: &Arc<StitchSpec>,
        inputs: &[LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        config: &ConfigOptions,
    ) -> Result<Arc<SharedStitch>> {
        let inputs = inputs
            .iter()
            .map(comparable_plan)
            .collect::<Result<Vec<_>>>()?;
        let mut planned = self
            .planned
            .lock()
            .map_err(|_| internal("the stitch planner's lock is poisoned"))?;
        if let Some((_, _, shared)) = planned
            .iter()
            .find(|(s, i, _)| s.same_stitch(spec) && *i == inputs)
        {
            shared.add_use(false);
            return Ok(Arc::clone(shared));
        }
        let shared = self.cache.shared(spec, &inputs, physical_inputs, config)?;
        shared.add_use(true);
        planned.push((Arc::clone(spec), inputs, Arc::clone(&shared)));
        Ok(shared)
    }
}

#[async_trait]
impl ExtensionPlanner for IdStitchPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        if let Some(node) = node.as_any().downcast_ref::<IdStitchNode>() {
            let shared = self.shared(
                node.spec(),
                node.input_plans(),
                physical_inputs,
                session.config_options(),
            )?;
            #[cfg(feature = "distributed")]
            if !shared.started()
                && session
                    .config()
                    .get_extension::<super::spread::SpreadStitches>()
                    .is_some_and(|spread| spread.spreads(&node.spec().entity.name))
            {
                return Ok(Some(super::spread::routed_stitch(
                    node.spec(),
                    physical_inputs,
                    session.config().target_partitions(),
                )?));
            }
            let exec = IdStitchExec::try_new(
                Arc::clone(node.spec()),
                physical_inputs.to_vec(),
                shared,
                session.config().target_partitions(),
            )?;
            return Ok(Some(Arc::new(exec)));
        }
        if let Some(node) = node.as_any().downcast_ref::<StitchInspectNode>() {
            let shared = self.shared(
                node.spec(),
                node.input_plans(),
                physical_inputs,
                session.config_options(),
            )?;
            let exec = StitchInspectExec::new(
                Arc::clone(node.spec()),
                node.inspection().clone(),
                physical_inputs.to_vec(),
                shared,
            );
            return Ok(Some(Arc::new(exec)));
        }
        if let Some(node) = node.as_any().downcast_ref::<MainIdLookupNode>() {
            // The first child is the rows; the others are the stitch's inputs.
            let stitch_inputs: Vec<LogicalPlan> =
                logical_inputs[1..].iter().map(|&p| p.clone()).collect();
            let shared = self.shared(
                node.spec(),
                &stitch_inputs,
                &physical_inputs[1..],
                session.config_options(),
            )?;
            let exec = MainIdLookupExec::try_new(
                node.lookup(),
                Arc::clone(node.spec()),
                Arc::clone(&physical_inputs[0]),
                physical_inputs[1..].to_vec(),
                shared,
            )?;
            return Ok(Some(Arc::new(exec)));
        }
        Ok(None)
    }
}
