// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Delta Lake tables in Knit's SQL (on the `knit-delta` crate):
//!
//! - `CREATE EXTERNAL TABLE t STORED AS DELTA LOCATION 'dir'`, with
//!   `OPTIONS ('version' '3')` or `OPTIONS ('timestamp' '2024-06-01T00:00:00Z')` to read
//!   an earlier version; a Delta folder named as a table (`SELECT * FROM 'dir'`) reads
//!   its latest version ([`DeltaTableFactory`], and the file tables' factory);
//! - `COPY (...) TO 'dir' STORED AS DELTA OPTIONS ('mode' ...)`: append, overwrite,
//!   merge or upsert on key columns, one commit per statement ([`copy`]);
//! - `table_changes('dir', from [, to])` and `delta_history('dir')` ([`functions`]).
//!
//! Paths resolve through the session's object stores, so `s3://` tables use the same
//! credentials (environment, or `aws.*` options) as Parquet files.

pub(crate) mod copy;
pub(crate) mod functions;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::CreateExternalTable;
use knit_delta::{DeltaTableScan, TableLocation, TimeTravel};
use url::Url;

/// The name of Delta in `STORED AS`.
pub(crate) const DELTA: &str = "DELTA";

/// The location of the table at `path` (a local folder or a URL), through the
/// session's store for it.
pub(crate) fn table_location(runtime: &RuntimeEnv, path: &str) -> Result<TableLocation> {
    let listing = ListingTableUrl::parse(path)?;
    let store_url = listing.object_store();
    let store = runtime.object_store(&store_url)?;
    let root = Url::parse(store_url.as_str())
        .map_err(|e| DataFusionError::Plan(format!("'{path}' is not a valid location: {e}")))?;
    Ok(TableLocation::new(
        path,
        listing.get_url().clone(),
        store,
        root,
    ))
}

/// The version to read, from a table's `version` or `timestamp` option.
pub(crate) fn time_travel(options: &HashMap<String, String>, path: &str) -> Result<TimeTravel> {
    // DataFusion gives options without a prefix the prefix `format.`.
    let option = |name: &str| {
        options
            .iter()
            .find(|(key, _)| {
                let key = key.to_ascii_lowercase();
                key.strip_prefix("format.").unwrap_or(&key) == name
            })
            .map(|(_, value)| value.trim().to_string())
    };
    match (option("version"), option("timestamp")) {
        (Some(_), Some(_)) => Err(DataFusionError::Plan(format!(
            "Delta table '{path}': give 'version' or 'timestamp', not both"
        ))),
        (Some(version), None) => version
            .parse::<u64>()
            .map(TimeTravel::Version)
            .map_err(|_| {
                DataFusionError::Plan(format!(
                    "Delta table '{path}': version '{version}' is not a version number (0, 1, ...)"
                ))
            }),
        (None, Some(time)) => parse_time(&time).map(TimeTravel::Timestamp).ok_or_else(|| {
            DataFusionError::Plan(format!(
                "Delta table '{path}': timestamp '{time}' is not a time: write it as \
                 '2024-06-01T00:00:00Z' (RFC 3339) or '2024-06-01'"
            ))
        }),
        (None, None) => Ok(TimeTravel::Latest),
    }
}

/// An RFC 3339 time, or a date (its midnight, UTC).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc())
}

/// `CREATE EXTERNAL TABLE ... STORED AS DELTA`.
#[derive(Debug, Default)]
pub(crate) struct DeltaTableFactory;

/// The options a Delta table takes (besides `aws.*`, which give its store).
const TABLE_OPTIONS: &[&str] = &["version", "timestamp"];

#[async_trait]
impl TableProviderFactory for DeltaTableFactory {
    async fn create(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        let [path] = cmd.locations.as_slice() else {
            return Err(DataFusionError::Plan(format!(
                "a Delta table has one location, not {}: create one table per folder",
                cmd.locations.len()
            )));
        };
        let path = path.as_str();
        for key in cmd.options.keys() {
            let key = key.to_ascii_lowercase();
            let key = key.strip_prefix("format.").unwrap_or(&key);
            if !TABLE_OPTIONS.contains(&key) && !key.starts_with("aws.") {
                return Err(DataFusionError::Plan(format!(
                    "Delta table '{path}' has no option '{key}': its options are 'version' \
                     and 'timestamp' (and aws.* for S3)"
                )));
            }
        }
        if !cmd.schema.fields().is_empty() {
            return Err(DataFusionError::Plan(format!(
                "Delta table '{path}' takes its columns from its log: leave out the column \
                 list"
            )));
        }
        if !cmd.table_partition_cols.is_empty() {
            return Err(DataFusionError::Plan(format!(
                "Delta table '{path}' takes its partitions from its log: leave out \
                 PARTITIONED BY"
            )));
        }
        let travel = time_travel(&cmd.options, path)?;
        let location = table_location(state.runtime_env(), path)?;
        let state = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| crate::error::internal("a table was created outside a session"))?;
        let scan = DeltaTableScan::open(&location, travel, state).await?;
        tracing::debug!(path, version = scan.version(), "opened a Delta table");
        Ok(Arc::new(scan))
    }
}

/// The latest version of the Delta table at `path`, if the folder is one.
pub(crate) async fn open_if_delta(
    state: &SessionState,
    path: &str,
) -> Result<Option<Arc<dyn TableProvider>>> {
    let location = table_location(state.runtime_env(), path)?;
    if !location.is_delta_table().await {
        return Ok(None);
    }
    let scan = DeltaTableScan::open(&location, TimeTravel::Latest, state).await?;
    Ok(Some(Arc::new(scan)))
}
