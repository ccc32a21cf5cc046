// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A table's change data feed between two versions: the rows inserted, updated
//! (before and after) and deleted, with `_change_type`, `_commit_version` and
//! `_commit_timestamp`, as Databricks' `table_changes` gives them.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::TableType;
use datafusion::error::Result as DataFusionResult;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use deltalake_core::DeltaTableError;
use deltalake_core::delta_datafusion::DeltaCdfTableProvider;

use crate::error::{DeltaError, Result};
use crate::location::{TableLocation, TimeTravel};

/// The changes of the table at `location` from version `from` to `to` (the latest when
/// `None`), both included.
pub async fn changes(
    location: &TableLocation,
    from: u64,
    to: Option<u64>,
) -> Result<Arc<dyn TableProvider>> {
    let table = location.open(TimeTravel::Latest).await?;
    let latest = table.version().unwrap_or_default();
    let range = format!("its versions are 0 to {latest}");
    for version in std::iter::once(from).chain(to) {
        if version > latest {
            return Err(DeltaError::NoSuchVersion {
                path: location.display.clone(),
                version,
                detail: range,
            });
        }
    }
    if let Some(to) = to
        && to < from
    {
        return Err(DeltaError::Invalid(format!(
            "table_changes('{}', {from}, {to}): the first version is after the last; name \
             the earlier version first",
            location.display
        )));
    }
    let mut builder = table.scan_cdf().with_starting_version(from);
    if let Some(to) = to {
        builder = builder.with_ending_version(to);
    }
    let provider = DeltaCdfTableProvider::try_new(builder).map_err(|e| match e {
        DeltaTableError::ChangeDataNotEnabled { version }
        | DeltaTableError::ChangeDataNotRecorded { version, .. } => DeltaError::Invalid(format!(
            "Delta table '{}' does not record its change data feed at version {version}: \
             set the table property {} = true (tables Knit creates have it) and read \
             changes from a later version",
            location.display,
            crate::write::CHANGE_DATA_FEED
        )),
        other => DeltaError::from_delta(&location.display, other),
    })?;
    Ok(Arc::new(ChangeFeed {
        inner: Arc::new(provider),
    }))
}

/// True when `provider` is a table of [`changes`]: its scan reads the table's files
/// through an object store that delta-rs registers in the planning session alone, so
/// it plans and runs only in the session that reads it.
pub fn is_change_feed(provider: &dyn TableProvider) -> bool {
    provider.is::<ChangeFeed>()
}

/// The change feed's table: Delta's, whose scan is a union of the scans of the change
/// files, the added files and the removed ones, any of which may have no file.
#[derive(Debug)]
struct ChangeFeed {
    inner: Arc<dyn TableProvider>,
}

#[async_trait]
impl TableProvider for ChangeFeed {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        // A scan of no file has no partition, which operators above it (a sort pushed
        // into the union) cannot take: it becomes an empty scan of one partition.
        plan.transform_up(|node| {
            if node.children().is_empty() && node.output_partitioning().partition_count() == 0 {
                let empty: Arc<dyn ExecutionPlan> = Arc::new(EmptyExec::new(node.schema()));
                Ok(Transformed::yes(empty))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .map(|transformed| transformed.data)
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DataFusionResult<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }
}
