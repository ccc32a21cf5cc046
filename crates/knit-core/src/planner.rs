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
use crate::kept::{KeepPlanner, KeptResults};
use crate::stitch::{IdStitchPlanner, StitchCache};

/// DataFusion's planner, taught Knit's plan nodes; one per session.
#[derive(Debug, Default)]
pub(crate) struct KnitQueryPlanner {
    /// The stitches of the session's recent queries.
    stitches: Arc<StitchCache>,
    /// The kept results (`__knit_keep`) of the session's recent queries.
    kept: Arc<KeptResults>,
}

impl KnitQueryPlanner {
    /// Every extension planner, new for each query: stitches are shared within a query,
    /// and across queries through the session's cache.
    fn extension_planners(&self) -> Vec<Arc<dyn ExtensionPlanner + Send + Sync>> {
        vec![
            Arc::new(IdStitchPlanner::new(Arc::clone(&self.stitches))),
            Arc::new(ConnectedComponentsPlanner),
            Arc::new(KeepPlanner::new(Arc::clone(&self.kept))),
            // The nodes of Delta writes and merges, which run in Knit's session.
            knit_delta::extension_planner(),
        ]
    }
}

#[async_trait]
impl QueryPlanner for KnitQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.stitches.begin_query()?;
        self.kept.begin_query()?;
        DefaultPhysicalPlanner::with_extension_planners(self.extension_planners())
            .create_physical_plan(logical_plan, session)
            .await
    }
}
