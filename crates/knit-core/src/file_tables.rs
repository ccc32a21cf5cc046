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
use datafusion::datasource::listing::ListingTableConfigExt;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionState;
use datafusion_session::SessionStore;
use futures::StreamExt;
use glob::Pattern;
use url::Url;

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

/// Characters that start a glob, as DataFusion's listing tables understand them.
const GLOB_START: &[char] = &['*', '?', '['];

/// Parses a path or URL, with a glob in its last segments. DataFusion splits globs off
/// local paths only; `s3://bucket/events/*.parquet` is split here the same way, into
/// the directory URL and the pattern below it.
fn parse_table_url(name: &str) -> Result<ListingTableUrl> {
    let Some(scheme_end) = name.find("://") else {
        return ListingTableUrl::parse(name);
    };
    let Some(glob_start) = name.find(GLOB_START) else {
        return ListingTableUrl::parse(name);
    };
    let authority_start = scheme_end + "://".len();
    let base_end = name[..glob_start]
        .rfind('/')
        .filter(|&slash| slash >= authority_start)
        .map(|slash| slash + 1)
        .ok_or_else(|| {
            DataFusionError::Plan(format!(
                "'{name}' has a glob in its bucket or host name: globs may only follow it"
            ))
        })?;
    let base = Url::parse(&name[..base_end])
        .map_err(|e| DataFusionError::Plan(format!("'{name}' is not a valid URL: {e}")))?;
    let pattern = Pattern::new(&name[base_end..])
        .map_err(|e| DataFusionError::Plan(format!("invalid glob in '{name}': {e}")))?;
    ListingTableUrl::try_new(base, Some(pattern))
}

#[async_trait]
impl UrlTableFactory for FileTableFactory {
    async fn try_new(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if !looks_like_path(name) {
            return Ok(None);
        }
        let url = parse_table_url(name)?;
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
    fn globs_in_urls_split_off_the_directory() {
        let url = parse_table_url("s3://bucket/events/2024-*/*.parquet").unwrap();
        assert_eq!(url.as_str(), "s3://bucket/events/");
        let path = object_store::path::Path::from("events/2024-01/part-0.parquet");
        assert!(url.contains(&path, false));
        let other = object_store::path::Path::from("events/2023-12/part-0.parquet");
        assert!(!url.contains(&other, false));
        let plain = parse_table_url("s3://bucket/events/").unwrap();
        assert_eq!(plain.as_str(), "s3://bucket/events/");
        assert!(parse_table_url("s3://buck*/x").is_err());
    }

    #[test]
    fn only_path_like_names_are_files() {
        for path in [
            "a/b.parquet",
            "x.csv",
            "s3://b/k/",
            "data/*.parquet",
            "T.PARQUET",
        ] {
            assert!(looks_like_path(path), "{path}");
        }
        for name in ["orders", "my table", "public.orders"] {
            assert!(!looks_like_path(name), "{name}");
        }
    }
}
