// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Delta Lake tables for Knit, on the `deltalake` crate: opening a table at a version
//! or a time ([`TableLocation`], [`DeltaTableScan`]), writing a query's rows by append,
//! overwrite or merge on keys ([`write`]), its change data feed ([`changes`]) and its
//! history ([`history`]).
//!
//! Tables are read and written through the object store the caller's session uses for
//! the path, and queries are planned and run by the caller's session state: the
//! session's planner must know the plan nodes of Delta's operations, which
//! [`extension_planner`] plans.

mod changes;
mod deletion_vectors;
mod error;
mod history;
mod location;
mod purge;
mod read;
mod schema_check;
mod write;

use std::sync::Arc;

use datafusion::physical_planner::ExtensionPlanner;

pub use changes::{changes, is_change_feed};
pub use deletion_vectors::DELETION_VECTORS;
pub use error::{DeltaError, Result};
pub use history::{history, history_schema};
pub use location::{TableLocation, TimeTravel};
pub use purge::{Purged, purge};
pub use read::{DeltaFile, DeltaTableScan};
pub use write::{CHANGE_DATA_FEED, WriteMode, Written, write};

/// The planner of the plan nodes Delta's writes and merges build; a session that runs
/// them lists it among its extension planners.
pub fn extension_planner() -> Arc<dyn ExtensionPlanner + Send + Sync> {
    deltalake_core::delta_datafusion::planner::DeltaExtensionPlanner::new()
}
