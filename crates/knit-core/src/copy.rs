// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `COPY ... TO 'file'` without half-written files: the rows go to a hidden name beside
//! the target, which is renamed to the target once every row is written. A failing or
//! cancelled query leaves the target as it was (a cancelled one may leave the hidden
//! file, named `.<target>.knit-<pid>-<n>.tmp`).
//!
//! DataFusion writes straight to the target, so a query that fails after its first
//! batches leaves a truncated file under the name users read. Directory targets (a
//! trailing `/`, or `PARTITIONED BY`) are written as DataFusion writes them.

use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::logical_expr::LogicalPlan;
use datafusion::logical_expr::dml::CopyTo;
use datafusion::prelude::SessionContext;
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::error::Result;

/// The DataFusion option that makes the sink write one file at the exact path.
const SINGLE_FILE: &str = "single_file_output";

/// A copy to one file, staged under a temporary name.
pub(crate) struct StagedCopy {
    target: ListingTableUrl,
    temp: ListingTableUrl,
}

impl StagedCopy {
    /// The staging of a copy, or `None` when it writes a directory.
    pub fn prepare(copy: &CopyTo) -> Result<Option<Self>> {
        let target = ListingTableUrl::parse(&copy.output_url)?;
        let single_file = match copy.options.get(SINGLE_FILE).map(|v| v.trim()) {
            Some("true") => true,
            Some(_) => false,
            None => !target.is_collection() && target.file_extension().is_some(),
        };
        if !single_file || !copy.partition_by.is_empty() {
            return Ok(None);
        }
        let Some(name) = target.prefix().filename() else {
            return Ok(None);
        };
        static STAGED: AtomicU64 = AtomicU64::new(0);
        let temp_name = format!(
            ".{name}.knit-{}-{}.tmp",
            std::process::id(),
            STAGED.fetch_add(1, Ordering::Relaxed)
        );
        let temp = match copy.output_url.rsplit_once(name) {
            Some((directory, _)) => format!("{directory}{temp_name}"),
            None => return Ok(None),
        };
        Ok(Some(Self {
            target,
            temp: ListingTableUrl::parse(temp)?,
        }))
    }

    /// Runs the copy into the temporary file and renames it to the target; on failure
    /// the temporary file is removed. Returns the copy's result (the row count).
    pub async fn run(self, ctx: &SessionContext, copy: &CopyTo) -> Result<Vec<RecordBatch>> {
        let mut staged = copy.clone();
        staged.output_url = self.temp.as_str().to_string();
        staged
            .options
            .insert(SINGLE_FILE.to_string(), "true".to_string());
        let store = ctx.runtime_env().object_store(self.target.object_store())?;
        let written = async {
            ctx.execute_logical_plan(LogicalPlan::Copy(staged))
                .await?
                .collect()
                .await
        }
        .await;
        let temp_path: &Path = self.temp.prefix();
        match written {
            Ok(batches) => {
                store
                    .rename(temp_path, self.target.prefix())
                    .await
                    .map_err(|e| {
                        datafusion::error::DataFusionError::ObjectStore(Box::new(e))
                            .context(format!("renaming the copy to {}", self.target))
                    })?;
                tracing::debug!(target = %self.target, "copy committed");
                Ok(batches)
            }
            Err(error) => {
                if let Err(cleanup) = store.delete(temp_path).await
                    && !matches!(cleanup, object_store::Error::NotFound { .. })
                {
                    tracing::warn!(temp = %self.temp, %cleanup, "could not remove a staged copy");
                }
                Err(error.into())
            }
        }
    }
}
