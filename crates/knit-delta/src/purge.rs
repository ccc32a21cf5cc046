// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Dropping the rows deletion vectors mark: files of which a share of rows is deleted
//! are written again without them, in one commit that changes no row (as Databricks'
//! `REORG TABLE ... APPLY (PURGE)`).
//!
//! Merges by deletion vectors leave replaced rows in their files, so a table refreshed
//! every day would be read through ever more dead rows. The library's compaction only
//! takes small files, whatever their vectors; this takes files by their deleted share.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::physical_plan::execute_stream;
use deltalake_core::kernel::transaction::CommitBuilder;
use deltalake_core::kernel::{Action, Add};
use deltalake_core::protocol::DeltaOperation;
use deltalake_core::writer::{DeltaWriter as _, record_batch::RecordBatchWriter};
use futures::StreamExt;

use crate::deletion_vectors::{image, num_records, removal};
use crate::error::{DeltaError, Result};
use crate::location::TableLocation;
use crate::write::writer_properties;

/// What a purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purged {
    /// The version committed.
    pub version: u64,
    /// Files written again.
    pub files: u64,
    /// Deleted rows dropped from them.
    pub dropped_rows: u64,
    /// Rows kept, written to the new files.
    pub kept_rows: u64,
}

/// Writes again the files of the table at `location` of which at least
/// `min_deleted_share` (0 to 1) of rows are marked deleted, leaving out those rows.
/// `None` when no file has that share (and nothing is committed).
pub async fn purge(
    location: &TableLocation,
    state: &SessionState,
    min_deleted_share: f64,
) -> Result<Option<Purged>> {
    let delta = |e: deltalake_core::DeltaTableError| DeltaError::from_write(&location.display, e);
    let query = |e: datafusion::error::DataFusionError| DeltaError::Query {
        path: location.display.clone(),
        detail: e.to_string(),
    };
    let table = location.open_for_write().await?;
    let snapshot = table.snapshot().map_err(delta)?;
    #[allow(deprecated)] // a removal repeats the log's own add action
    let files: Vec<Add> = snapshot
        .snapshot()
        .log_data()
        .iter()
        .map(|f| f.add_action())
        .collect();
    let chosen: Vec<(Add, u64)> = files
        .into_iter()
        .filter_map(|file| {
            let deleted = u64::try_from(file.deletion_vector.as_ref()?.cardinality).ok()?;
            let records = num_records(&file)?;
            (records > 0 && deleted as f64 >= min_deleted_share * records as f64)
                .then_some((file, deleted))
        })
        .collect();
    if chosen.is_empty() {
        return Ok(None);
    }
    let urls: Vec<String> = chosen
        .iter()
        .map(|(file, _)| format!("{}{}", location.url, file.path))
        .collect();
    let provider = table
        .table_provider()
        .with_session(Arc::new(state.clone()))
        .with_file_paths(urls)
        .await
        .map_err(query)?;
    let scan = LogicalPlanBuilder::scan(
        "purged",
        datafusion::datasource::provider_as_source(provider),
        None,
    )
    .and_then(LogicalPlanBuilder::build)
    .map_err(query)?;
    let plan = state.create_physical_plan(&scan).await.map_err(query)?;
    let properties = writer_properties(state).map_err(query)?;
    let mut writer = RecordBatchWriter::for_table(&table)
        .map_err(delta)?
        .with_writer_properties(properties);
    let schema = writer.arrow_schema();
    let mut stream = execute_stream(plan, state.task_ctx()).map_err(query)?;
    let mut kept_rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = image(&batch.map_err(query)?, &schema, "").map_err(query)?;
        kept_rows += batch.num_rows() as u64;
        if batch.num_rows() > 0 {
            writer.write(batch).await.map_err(delta)?;
        }
    }
    // The rows are the same, in other files: no data change, so readers of the change
    // feed see nothing of it.
    let mut actions: Vec<Action> = writer
        .flush()
        .await
        .map_err(delta)?
        .into_iter()
        .map(|add| {
            Action::Add(Add {
                data_change: false,
                ..add
            })
        })
        .collect();
    let now = chrono::Utc::now().timestamp_millis();
    let mut dropped_rows = 0;
    for (file, deleted) in &chosen {
        dropped_rows += deleted;
        actions.push(Action::Remove(removal(file, false, now)));
    }
    let metrics = serde_json::json!({
        "numRemovedFiles": chosen.len(),
        "numAddedFiles": actions.len() - chosen.len(),
        "numDeletionVectorsRemoved": chosen.len(),
        "num_purged_rows": dropped_rows,
        "num_output_rows": kept_rows,
    });
    let commit = CommitBuilder::default()
        .with_actions(actions)
        .with_app_metadata(HashMap::from([("operationMetrics".to_string(), metrics)]))
        .build(
            Some(snapshot),
            table.log_store(),
            DeltaOperation::Optimize {
                predicate: Some("deleted rows purged".to_string()),
                target_size: 0,
            },
        )
        .await
        .map_err(|e| DeltaError::from_delta(&location.display, e))?;
    let purged = Purged {
        version: commit.version,
        files: chosen.len() as u64,
        dropped_rows,
        kept_rows,
    };
    tracing::debug!(table = %location.url, ?purged, "purged deleted rows");
    Ok(Some(purged))
}
