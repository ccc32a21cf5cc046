// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Files as tables: `SELECT * FROM 'dir/*.parquet'` and `FROM 's3://bucket/events/'`.
//!
//! DataFusion's own URL-table factory turns every failure into "table not found",
//! which hides a wrong path, bad S3 credentials or a corrupt file behind the same
//! message. This factory only claims names that look like paths, and for those it
//! reports what actually went wrong, naming the path.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{TableProvider, UrlTableFactory};
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::listing::ListingTableConfigExt;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionState;
use datafusion_session::SessionStore;
use futures::StreamExt;

/// File extensions that make a bare name a path (`'orders.parquet'`).
const FILE_EXTENSIONS: &[&str] = &[".parquet", ".csv", ".json", ".ndjson", ".arrow", ".tsv"];

/// Resolves path-like table names to listing tables over the files they match.
#[derive(Debug, Default)]
pub(crate) struct FileTableFactory {
    session: SessionStore,
}

impl FileTableFactory {
    /// The store the session is put in once it exists (the factory is part of it).
    pub(crate) fn session_store(&self) -> &SessionStore {
        &self.session
    }
}

/// True for names that can only mean a file or a directory.
fn looks_like_path(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.contains('/')
        || name.contains('\\')
        || name.contains('*')
        || FILE_EXTENSIONS.iter().any(|ext| lower.ends_with(ext))
}

#[async_trait]
impl UrlTableFactory for FileTableFactory {
    async fn try_new(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if !looks_like_path(name) {
            return Ok(None);
        }
        let url = ListingTableUrl::parse(name)?;
        let state = self
            .session
            .get_session()
            .upgrade()
            .and_then(|s| s.read().as_any().downcast_ref::<SessionState>().cloned())
            .ok_or_else(|| {
                DataFusionError::Internal("the session is gone; this is a bug".to_string())
            })?;
        let store = state.runtime_env().object_store(url.object_store())?;
        let first_file = url
            .list_all_files(&state, store.as_ref(), "")
            .await?
            .next()
            .await
            .transpose()?;
        if first_file.is_none() {
            return Err(DataFusionError::Plan(format!(
                "no file matches '{name}': check the path (a directory, a file, or a glob \
                 such as 'dir/*.parquet')"
            )));
        }
        let config = ListingTableConfig::new(url)
            .infer_options(&state)
            .await?
            .infer_partitions_from_path(&state)
            .await?
            .infer_schema(&state)
            .await
            .map_err(|e| e.context(format!("reading the schema of '{name}'")))?;
        Ok(Some(Arc::new(ListingTable::try_new(config)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_path_like_names_are_files() {
        for path in ["a/b.parquet", "x.csv", "s3://b/k/", "data/*.parquet", "T.PARQUET"] {
            assert!(looks_like_path(path), "{path}");
        }
        for name in ["orders", "my table", "public.orders"] {
            assert!(!looks_like_path(name), "{name}");
        }
    }
}
