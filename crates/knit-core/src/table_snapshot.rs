// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The files a table reads, and pinning a table to a given list of them.
//!
//! A table over a folder (or a glob) reads whatever files are there when a query lists
//! them. A run that must say what it read, and an incremental refresh that reads only
//! the files that are new, list a table's files once and pin the table to that list:
//! files that land while the run goes on are left for the next run, and the run's record
//! of what it read is exactly what it read.
//!
//! A Delta table's files are those of the version it reads, as its log lists them; a
//! file whose deletion vector changed counts as changed. Pinned, it reads that version
//! restricted to the listed files (with their partition values and deletion vectors).

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use futures::TryStreamExt;
use knit_delta::DeltaTableScan;

use crate::column_names::LowercaseColumns;
use crate::error::{CoreError, Result};
use crate::session::KnitSession;

/// One data file of a table, as its object store (or its Delta log) lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFile {
    /// The file's URL (`file:///...` or `s3://bucket/...`).
    pub url: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last modified, in milliseconds since the Unix epoch.
    pub modified_ms: i64,
    /// Its entity tag, where the store gives one; for a Delta table's file, its
    /// deletion vector (a new one is a change of the file's rows).
    pub e_tag: Option<String>,
}

impl KnitSession {
    /// The table registered as `table`: a table over files, or a Delta table (under the
    /// renaming of its columns to lower case, if it has one).
    async fn file_table(&self, table: &str) -> Result<Arc<dyn TableProvider>> {
        let registered = self
            .context()
            .table_provider(table)
            .await
            .map_err(|e| CoreError::invalid(format!("table '{table}': {e}")))?;
        let provider = match registered.downcast_ref::<LowercaseColumns>() {
            Some(renamed) => Arc::clone(renamed.source()),
            None => registered,
        };
        if !provider.is::<ListingTable>() && !provider.is::<DeltaTableScan>() {
            return Err(CoreError::invalid(format!(
                "table '{table}' is not read from files (a view or a table in memory), so \
                 the files it reads cannot be listed"
            )));
        }
        Ok(provider)
    }

    /// The data files `table` (a table over files, such as one made by `CREATE EXTERNAL
    /// TABLE`, or a Delta table) reads now, sorted by URL; `None` for a table not read
    /// from files (a view, a table in memory).
    pub async fn table_files(&self, table: &str) -> Result<Option<Vec<TableFile>>> {
        let Ok(provider) = self.file_table(table).await else {
            return Ok(None);
        };
        if let Some(delta) = provider.downcast_ref::<DeltaTableScan>() {
            let files = delta
                .files()
                .map_err(DataFusionError::from)?
                .into_iter()
                .map(|f| TableFile {
                    url: f.url,
                    size: f.size,
                    modified_ms: f.modified_ms,
                    e_tag: f.deletion_vector,
                })
                .collect();
            return Ok(Some(files));
        }
        let Some(listing) = provider.downcast_ref::<ListingTable>() else {
            return Ok(None);
        };
        let state = self.context().state();
        let extension = listing.options().file_extension.clone();
        let mut files = Vec::new();
        for url in listing.table_paths() {
            let store = self
                .context()
                .runtime_env()
                .object_store(url.object_store())?;
            let listed: Vec<_> = url
                .list_all_files(&state, store.as_ref(), &extension)
                .await?
                .try_collect()
                .await?;
            for meta in listed {
                files.push(TableFile {
                    url: format!("{}{}", url.object_store().as_str(), meta.location),
                    size: meta.size,
                    modified_ms: meta.last_modified.timestamp_millis(),
                    e_tag: meta.e_tag,
                });
            }
        }
        files.sort_by(|a, b| a.url.cmp(&b.url));
        files.dedup_by(|a, b| a.url == b.url);
        Ok(Some(files))
    }

    /// Makes `table` read exactly `files` (none: no rows), with its columns and format
    /// as they are. Plans made before keep the table they planned with, so pin a table
    /// before defining what reads it.
    pub async fn pin_table_files(&self, table: &str, files: &[TableFile]) -> Result<()> {
        let provider = self.file_table(table).await?;
        let schema = provider.schema();
        let pinned: Arc<dyn TableProvider> =
            if let Some(delta) = provider.downcast_ref::<DeltaTableScan>() {
                if files.is_empty() {
                    Arc::new(EmptyTable::new(schema))
                } else {
                    let urls: Vec<String> = files.iter().map(|f| f.url.clone()).collect();
                    let state = self.context().state();
                    let only = delta.with_only_files(&urls, &state).await;
                    Arc::new(only.map_err(DataFusionError::from)?)
                }
            } else {
                let Some(listing) = provider.downcast_ref::<ListingTable>() else {
                    return Err(CoreError::internal("a listing table is not one"));
                };
                let options = listing.options().clone();
                if !options.table_partition_cols.is_empty() {
                    return Err(CoreError::invalid(format!(
                        "table '{table}' is partitioned by folder names, which pinning it to a \
                     list of files would lose"
                    )));
                }
                if files.is_empty() {
                    Arc::new(EmptyTable::new(schema))
                } else {
                    let urls = files
                        .iter()
                        .map(|f| ListingTableUrl::parse(&f.url))
                        .collect::<datafusion::error::Result<Vec<_>>>()?;
                    let config = ListingTableConfig::new_with_multi_paths(urls)
                        .with_listing_options(options)
                        .with_schema(schema);
                    Arc::new(ListingTable::try_new(config)?)
                }
            };
        let context = self.context();
        let renamed = context
            .table_provider(table)
            .await?
            .downcast_ref::<LowercaseColumns>()
            .is_some();
        let pinned = if renamed {
            LowercaseColumns::wrap(&TableReference::from(table), pinned)?
        } else {
            pinned
        };
        context.deregister_table(table)?;
        context.register_table(table, pinned)?;
        Ok(())
    }
}
