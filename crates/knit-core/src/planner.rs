// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Knit's query planner: DataFusion's physical planner with every extension planner of
//! Knit's plan nodes.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::error::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use datafusion_session::Session;

use crate::components::ConnectedComponentsPlanner;
use crate::stitch::IdStitchPlanner;

/// DataFusion's planner, taught Knit's plan nodes.
#[derive(Debug, Default)]
pub(crate) struct KnitQueryPlanner;

/// Every extension planner, new for each query: stitches are shared within a query,
/// never across.
fn extension_planners() -> Vec<Arc<dyn ExtensionPlanner + Send + Sync>> {
    vec![
        Arc::new(IdStitchPlanner::default()),
        Arc::new(ConnectedComponentsPlanner),
    ]
}

#[async_trait]
impl QueryPlanner for KnitQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(extension_planners())
            .create_physical_plan(logical_plan, session)
            .await
    }
}
