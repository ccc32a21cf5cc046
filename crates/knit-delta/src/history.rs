// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A table's history: one row per commit, newest first, with its time, operation and
//! the rows it wrote.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Builder, RecordBatch, StringBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use futures::TryStreamExt;

use crate::error::{DeltaError, Result};
use crate::location::{TableLocation, TimeTravel};

/// The columns of a history.
pub fn history_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("version", DataType::Int64, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("operation", DataType::Utf8, true),
        Field::new("rows_written", DataType::Int64, true),
        Field::new("parameters", DataType::Utf8, true),
        Field::new("metrics", DataType::Utf8, true),
    ]))
}

/// The metrics that count a commit's written rows, by operation: a write's added rows,
/// a merge's or an update's rows written out (copied ones included).
const ROWS_WRITTEN: &[&str] = &["num_added_rows", "num_output_rows", "num_copied_rows"];

/// The history of the table at `location`, newest commit first.
pub async fn history(location: &TableLocation) -> Result<RecordBatch> {
    let table = location.open(TimeTravel::Latest).await?;
    let latest = table.version().unwrap_or_default();
    let commits: Vec<_> = table
        .history(None)
        .try_collect()
        .await
        .map_err(|e| DeltaError::from_delta(&location.display, e))?;
    let mut version = Int64Builder::new();
    let mut timestamp = TimestampMillisecondBuilder::new().with_timezone("UTC");
    let mut operation = StringBuilder::new();
    let mut rows = Int64Builder::new();
    let mut parameters = StringBuilder::new();
    let mut metrics = StringBuilder::new();
    // The commits come newest first, one per version of the log.
    for (index, commit) in commits.iter().enumerate() {
        version.append_value(latest.saturating_sub(index as u64) as i64);
        timestamp.append_option(commit.timestamp);
        operation.append_option(commit.operation.as_deref());
        let operation_metrics = commit.info.get("operationMetrics");
        rows.append_option(operation_metrics.and_then(|m| {
            ROWS_WRITTEN
                .iter()
                .find_map(|key| m.get(*key).and_then(serde_json::Value::as_i64))
        }));
        parameters.append_option(
            commit
                .operation_parameters
                .as_ref()
                .and_then(|p| serde_json::to_string(p).ok()),
        );
        metrics.append_option(operation_metrics.map(|m| m.to_string()));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(version.finish()),
        Arc::new(timestamp.finish()),
        Arc::new(operation.finish()),
        Arc::new(rows.finish()),
        Arc::new(parameters.finish()),
        Arc::new(metrics.finish()),
    ];
    RecordBatch::try_new(history_schema(), columns)
        .map_err(|e| DeltaError::Invalid(format!("the history of '{}': {e}", location.display)))
}
