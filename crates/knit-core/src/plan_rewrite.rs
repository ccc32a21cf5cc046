// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Physical plans rewritten node by node, bottom up: the body of Knit's physical
//! optimizer rules that replace one operator (and maybe its inputs) by another.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result;
use datafusion::physical_plan::ExecutionPlan;

/// `plan` with each node that `rewrite` has a replacement for replaced, children first.
pub(crate) fn rewrite_bottom_up(
    plan: Arc<dyn ExecutionPlan>,
    rewrite: impl Fn(&Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        Ok(match rewrite(&node)? {
            Some(rewritten) => Transformed::yes(rewritten),
            None => Transformed::no(node),
        })
    })
    .data()
}
