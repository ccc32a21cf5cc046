// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Reading a Delta table: a DataFusion table provider over one version of it, which
//! skips files by the partition values and column statistics of the log.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result as DataFusionResult;
use datafusion::execution::SessionState;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::error::{DeltaError, Result};
use crate::location::{TableLocation, TimeTravel};

/// One version of a Delta table, as a table: DeltaLake's scan, which knows the version
/// it reads (shown by `DESCRIBE` and `\d`).
#[derive(Debug)]
pub struct DeltaTableScan {
    inner: Arc<dyn TableProvider>,
    version: u64,
    location: String,
}

impl DeltaTableScan {
    /// The table at `location`, at `travel`, read as `session` reads Parquet (strings
    /// as plain or view arrays, filter pushdown).
    pub async fn open(
        location: &TableLocation,
        travel: TimeTravel,
        session: &SessionState,
    ) -> Result<Self> {
        let table = location.open(travel).await?;
        let version = table.version().unwrap_or_default();
        let inner = table
            .table_provider()
            .with_session(Arc::new(session.clone()))
            .await
            .map_err(|e| DeltaError::Log {
                path: location.display.clone(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            inner,
            version,
            location: location.url.to_string(),
        })
    }

    /// The version read.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The table's folder.
    pub fn location(&self) -> &str {
        &self.location
    }
}

#[async_trait]
impl TableProvider for DeltaTableScan {
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
        self.inner.scan(state, projection, filters, limit).await
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> DataFusionResult<ScanResult> {
        self.inner.scan_with_args(state, args).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DataFusionResult<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<datafusion::common::Statistics> {
        self.inner.statistics()
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        _input: Arc<dyn ExecutionPlan>,
        _insert_op: InsertOp,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        Err(datafusion::error::DataFusionError::Plan(format!(
            "INSERT INTO a Delta table is not supported: write with COPY (...) TO '{}' \
             STORED AS DELTA OPTIONS ('mode' 'append')",
            self.location
        )))
    }
}
