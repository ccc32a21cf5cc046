// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The profile store a session reads (`SET knit.profile_store = 'path'`: the folder or
//! `s3://` URL `knit project run --store` fills): the merge histories that
//! `current_main_id` replays. The store's `_knit/state.json` says which table holds each
//! entity's history (`entities.<name>.redirects`).

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::sql::parser::Statement as DFStatement;

use crate::error::{CoreError, Result};
use crate::merge_history::{called_entities, replay};
use crate::session::KnitSession;

impl KnitSession {
    /// Reads and replays the redirects of each entity `statement`'s `current_main_id`
    /// calls name, from the session's profile store.
    pub(crate) async fn resolve_current_main_ids(&self, statement: &DFStatement) -> Result<()> {
        let entities = called_entities(statement)?;
        if entities.is_empty() {
            return Ok(());
        }
        let Some(store) = self.profile_store() else {
            return Err(CoreError::invalid(
                "current_main_id reads a profile store's merge history: name the store \
                 first, with SET knit.profile_store = 'path' (the folder or s3:// URL given \
                 to knit project run --store)",
            ));
        };
        let store = store.trim_end_matches('/').to_string();
        let state_path = format!("{store}/_knit/state.json");
        let Some(bytes) = self.read_file(&state_path).await? else {
            return Err(CoreError::invalid(format!(
                "knit.profile_store '{store}' holds no completed run (no {state_path}): run \
                 knit project run DIR --store {store} first"
            )));
        };
        let state: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            CoreError::invalid(format!("'{state_path}' is not a store's state: {e}"))
        })?;
        for entity in entities {
            let Some(table) = state["entities"][&entity]["redirects"].as_str() else {
                let known: Vec<&str> = state["entities"]
                    .as_object()
                    .map(|e| e.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                return Err(CoreError::invalid(format!(
                    "current_main_id('{entity}', ...): the profile store '{store}' has no \
                     merge history of entity '{entity}'; it has: {}",
                    if known.is_empty() {
                        "none (run the project with --store again to record it)".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            let sql = format!(
                "SELECT old_main_id, new_main_id, run FROM {}",
                knit_sql::quote_literal(&format!("{store}/{table}"))
            );
            let batches = Box::pin(self.sql(&sql)).await?.collect().await?;
            let mut rows = Vec::new();
            for batch in batches {
                let column = |i: usize, to: &DataType| -> Result<ArrayRef> {
                    cast(batch.column(i), to).map_err(|e| CoreError::invalid(e.to_string()))
                };
                let (old, new) = (column(0, &DataType::Utf8)?, column(1, &DataType::Utf8)?);
                let run = column(2, &DataType::Int64)?;
                let (Some(old), Some(new), Some(run)) = (
                    old.as_any().downcast_ref::<StringArray>(),
                    new.as_any().downcast_ref::<StringArray>(),
                    run.as_any().downcast_ref::<Int64Array>(),
                ) else {
                    continue;
                };
                for i in 0..batch.num_rows() {
                    if old.is_valid(i) && new.is_valid(i) {
                        rows.push((
                            old.value(i).to_string(),
                            new.value(i).to_string(),
                            run.value(i),
                        ));
                    }
                }
            }
            self.redirects().insert(entity, replay(rows));
        }
        Ok(())
    }
}
