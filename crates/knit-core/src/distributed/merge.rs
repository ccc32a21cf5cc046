// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `MergePartitionsExec`: a graph operator's input, whole, in each task that runs the
//! operator.
//!
//! DataFusion merges an input that must be one partition with `CoalescePartitionsExec`,
//! and datafusion-distributed would cut a stage below it and spread the input's scan
//! over the workers. Under Knit's graph operators that is wrong: the operator needs
//! all of its input in its own task, and an operator that finds its stitch already
//! built never reads its inputs, which would leave their remote stages unread (and the
//! query waiting for them). So, in distributed plans, those merges become this node,
//! which shows the distributed planner no children: it is a leaf run whole by every
//! task of its stage, and its input (encoded inside it) is read only when the operator
//! reads it. (A query holding a lookup runs in the session's process: see the
//! coordinator.)

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties,
    Partitioning, PlanProperties, ReplaceChildrenOptions, SendableRecordBatchStream, displayable,
};
use futures::StreamExt;

use crate::error::internal;

/// Merges the partitions of its input into one, each read by a task of its own; the
/// input is hidden from plan walks (see the module's doc).
#[derive(Debug)]
pub(crate) struct MergePartitionsExec {
    input: Arc<dyn ExecutionPlan>,
    cache: Arc<PlanProperties>,
}

impl MergePartitionsExec {
    /// The input it reads.
    pub(crate) fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }

    pub(crate) fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(input.schema()),
            Partitioning::UnknownPartitioning(1),
            input.pipeline_behavior(),
            input.boundedness(),
        ));
        Self { input, cache }
    }
}

impl DisplayAs for MergePartitionsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The input is no child of the plan: its first line says what it reads.
        let input = displayable(self.input.as_ref()).one_line().to_string();
        write!(f, "MergePartitionsExec: input=[{}]", input.trim_end())
    }
}

impl ExecutionPlan for MergePartitionsExec {
    fn name(&self) -> &str {
        "MergePartitionsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
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
        if children.is_empty() {
            Ok(self)
        } else {
            Err(internal("MergePartitionsExec has no children to replace"))
        }
    }

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(internal(format!(
                "MergePartitionsExec has one partition, not {partition}"
            )));
        }
        let partitions = self.input.output_partitioning().partition_count();
        if partitions == 1 {
            return self.input.execute(0, ctx);
        }
        let mut builder = RecordBatchReceiverStream::builder(self.schema(), partitions);
        for partition in 0..partitions {
            let (input, ctx, tx) = (Arc::clone(&self.input), Arc::clone(&ctx), builder.tx());
            builder.spawn(async move {
                let mut stream = input.execute(partition, ctx)?;
                while let Some(batch) = stream.next().await {
                    if tx.send(batch).await.is_err() {
                        break;
                    }
                }
                Ok(())
            });
        }
        Ok(builder.build())
    }
}

/// `plan` with each partition merge directly under a graph operator (a node `is_graph`
/// holds) replaced by a [`MergePartitionsExec`].
pub(crate) fn merge_in_task(
    plan: Arc<dyn ExecutionPlan>,
    is_graph: impl Fn(&dyn ExecutionPlan) -> bool,
) -> Result<Arc<dyn ExecutionPlan>> {
    Ok(plan
        .transform_up(|node| {
            if !is_graph(node.as_ref()) {
                return Ok(Transformed::no(node));
            }
            let mut changed = false;
            let children = node
                .children()
                .into_iter()
                .map(
                    |child| match child.downcast_ref::<CoalescePartitionsExec>() {
                        Some(merge) if merge.fetch().is_none() => {
                            changed = true;
                            Arc::new(MergePartitionsExec::new(Arc::clone(merge.input())))
                                as Arc<dyn ExecutionPlan>
                        }
                        _ => Arc::clone(child),
                    },
                )
                .collect();
            if !changed {
                return Ok(Transformed::no(node));
            }
            let node = node.replace_children(
                children,
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )?;
            Ok(Transformed::yes(node))
        })?
        .data)
}
