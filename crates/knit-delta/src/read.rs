// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Reading a Delta table: a DataFusion table provider over one version of it, which
//! skips files by the partition values and column statistics of the log, and can be
//! restricted to some of that version's data files (the files an incremental refresh
//! has not read yet).

use std::collections::HashSet;
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
use deltalake_core::DeltaTable;

use crate::error::{DeltaError, Result};
use crate::location::{TableLocation, TimeTravel};

/// One data file of a version of a Delta table, as its log lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaFile {
    /// The file's URL: the table's folder joined with the log's path.
    pub url: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was written, in milliseconds since the Unix epoch.
    pub modified_ms: i64,
    /// Its deletion vector, if rows of it are deleted: a change of it is a change of
    /// the file's rows.
    pub deletion_vector: Option<String>,
}

/// One version of a Delta table, as a table: DeltaLake's scan, which knows the version
/// it reads (shown by `DESCRIBE` and `\d`) and its data files.
#[derive(Debug)]
pub struct DeltaTableScan {
    inner: Arc<dyn TableProvider>,
    version: u64,
    table: TableLocation,
    /// The version's log, for [`Self::files`] (listed only when asked: most reads
    /// never do).
    log: DeltaTable,
    /// The URLs of the files read, when not all of the version's.
    only: Option<HashSet<String>>,
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
        Self::from_log(location, table, None, session).await
    }

    /// A scan of the loaded `table`, reading only those of its data files whose URLs
    /// are in `only` (all of them when `None`). A file the version does not have is an
    /// error when scanned.
    async fn from_log(
        location: &TableLocation,
        table: DeltaTable,
        only: Option<&[String]>,
        session: &SessionState,
    ) -> Result<Self> {
        let version = table.version().unwrap_or_default();
        let mut provider = table
            .table_provider()
            .with_session(Arc::new(session.clone()));
        if let Some(only) = only {
            provider = provider.with_file_paths(only.iter().cloned());
        }
        let inner = provider.await.map_err(|e| DeltaError::Log {
            path: location.display.clone(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            inner,
            version,
            table: location.clone(),
            log: table,
            only: only.map(|urls| urls.iter().cloned().collect()),
        })
    }

    /// The same version of the table, reading only the data files whose URLs are
    /// `urls` (which must be files of it).
    pub async fn with_only_files(&self, urls: &[String], session: &SessionState) -> Result<Self> {
        Self::from_log(&self.table, self.log.clone(), Some(urls), session).await
    }

    /// The version read.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The table's folder.
    pub fn location(&self) -> &str {
        self.table.url.as_str()
    }

    /// The data files read, as the version's log lists them, sorted by URL.
    pub fn files(&self) -> Result<Vec<DeltaFile>> {
        let snapshot = self.log.snapshot().map_err(|e| DeltaError::Log {
            path: self.table.display.clone(),
            detail: e.to_string(),
        })?;
        let mut files: Vec<DeltaFile> = snapshot
            .log_data()
            .iter()
            .map(|file| DeltaFile {
                // A log path is relative to the table's folder, or (a shallow clone's
                // files) a URL of its own.
                url: match file.path() {
                    path if path.contains("://") => path.into_owned(),
                    path => format!("{}{path}", self.table.url),
                },
                size: u64::try_from(file.size()).unwrap_or_default(),
                modified_ms: file.modification_time(),
                deletion_vector: file
                    .deletion_vector_descriptor()
                    .map(|dv| format!("{dv:?}")),
            })
            .filter(|file| {
                self.only
                    .as_ref()
                    .is_none_or(|only| only.contains(&file.url))
            })
            .collect();
        files.sort_by(|a, b| a.url.cmp(&b.url));
        Ok(files)
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
            self.table.url
        )))
    }
}
