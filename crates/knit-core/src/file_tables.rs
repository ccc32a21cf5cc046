// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Files as tables: `SELECT * FROM 'dir/*.parquet'` and `FROM 's3://bucket/events/'`.
//!
//! DataFusion's own URL-table factory turns every failure into "table not found",
//! which hides a wrong path, bad S3 credentials or a corrupt file behind the same
//! message. This factory only claims names that look like paths, and for those it
//! reports what actually went wrong, naming the path, and the damaged file among many.
//!
//! The format of a directory is that of its data files: files of no known format (a
//! `README.txt`, a `_SUCCESS` marker) are left out, and a directory that mixes formats
//! is refused, naming them. A folder holding a Delta table (`_delta_log/`) is read as
//! one, at its latest version. (DataFusion takes the format of whichever file it lists
//! first, so one README can make a directory unreadable.)

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{TableProvider, UrlTableFactory};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionState;
use datafusion::parquet::errors::ParquetError;
use datafusion_session::SessionStore;
use futures::TryStreamExt;
use glob::Pattern;
use object_store::ObjectMeta;
use url::Url;

use crate::error::{ReadFailure, read_failure};
use crate::panics::catch_panics;
use crate::parquet_check::{damaged_parquet_files, describe};

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

/// Compressions a file name may end with after its format.
const COMPRESSIONS: &[&str] = &["gz", "bz2", "xz", "zst"];

/// The format extension of a file name (`parquet`, `csv`, `csv.gz`), lower-cased, if
/// it has one Knit reads.
fn format_extension(state: &SessionState, name: &str) -> Option<String> {
    let lower = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    let mut parts = lower.rsplit('.');
    let last = parts.next()?;
    let (format, compression) = if COMPRESSIONS.contains(&last) {
        (parts.next()?, Some(last))
    } else {
        (last, None)
    };
    if !lower.contains('.') || state.get_file_format_factory(format).is_none() {
        return None;
    }
    Some(match compression {
        Some(compression) => format!("{format}.{compression}"),
        None => format.to_string(),
    })
}

/// The listing options of the data files in `files`: their one format, with the other
/// files left out.
fn listing_options(
    state: &SessionState,
    name: &str,
    files: &[ObjectMeta],
) -> Result<ListingOptions> {
    let mut formats: BTreeMap<String, &ObjectMeta> = BTreeMap::new();
    let mut others = Vec::new();
    for file in files {
        match format_extension(state, file.location.as_ref()) {
            Some(format) => {
                formats.entry(format).or_insert(file);
            }
            None => others.push(file.location.to_string()),
        }
    }
    let extension = match formats.len() {
        1 => formats.keys().next().cloned().unwrap_or_default(),
        0 => {
            others.truncate(3);
            return Err(DataFusionError::Plan(format!(
                "no data file in '{name}': found {}, but Knit reads .parquet, .csv, .json \
                 and .arrow files (with .gz, .bz2, .xz or .zst for compressed text)",
                others.join(", ")
            )));
        }
        _ => {
            let examples: Vec<String> = formats
                .iter()
                .map(|(format, file)| format!(".{format} ({})", file.location))
                .collect();
            return Err(DataFusionError::Plan(format!(
                "'{name}' holds files of several formats: {}; read one kind with a glob \
                 such as '{}*.{}'",
                examples.join(", "),
                if name.ends_with('/') {
                    name.to_string()
                } else {
                    format!("{name}/")
                },
                formats.keys().next().cloned().unwrap_or_default()
            )));
        }
    };
    if !others.is_empty() {
        tracing::debug!(table = name, ?others, "files of no data format left out");
    }
    let (format, compression) = match extension.split_once('.') {
        Some((format, compression)) => (format.to_string(), Some(compression.to_string())),
        None => (extension.clone(), None),
    };
    let mut options = HashMap::new();
    if let Some(compression) = compression {
        options.insert("format.compression".to_string(), compression);
    }
    let factory = state.get_file_format_factory(&format).ok_or_else(|| {
        crate::error::internal(format!("the format of '.{format}' files went missing"))
    })?;
    let file_format = factory.create(state, &options)?;
    Ok(ListingOptions::new(file_format).with_file_extension(format!(".{extension}")))
}

/// `error`, naming the damaged Parquet files under `url` when reading Parquet failed.
pub(crate) async fn name_damaged_files(
    error: DataFusionError,
    state: &SessionState,
    url: &ListingTableUrl,
    all_parquet: bool,
) -> DataFusionError {
    // A panic while reading footers is most likely a damaged footer: if the check finds
    // one, that is the error.
    let internal = crate::error::causes(&error).any(|cause| cause.is::<crate::InternalError>());
    if read_failure(&error) != Some(ReadFailure::Parquet) && !internal {
        return error;
    }
    let damaged = damaged_parquet_files(state, url, all_parquet).await;
    if damaged.is_empty() {
        return error;
    }
    DataFusionError::ParquetError(Box::new(ParquetError::General(describe(&damaged))))
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
            .ok_or_else(|| crate::error::internal("the session is gone"))?;
        // A folder with a Delta log is a Delta table: its latest version, not every
        // data file the folder has ever held. (A data file's name, or a glob, is no
        // folder.)
        if !name.contains(GLOB_START)
            && format_extension(&state, name.trim_end_matches('/')).is_none()
            && let Some(table) = crate::delta::open_if_delta(&state, name).await?
        {
            return Ok(Some(table));
        }
        let store = state.runtime_env().object_store(url.object_store())?;
        let files: Vec<ObjectMeta> = url
            .list_all_files(&state, store.as_ref(), "")
            .await?
            .try_collect()
            .await?;
        if files.is_empty() {
            return Err(DataFusionError::Plan(format!(
                "no file matches '{name}': check the path (a directory, a file, or a glob \
                 such as 'dir/*.parquet')"
            )));
        }
        let options = listing_options(&state, name, &files)?;
        let is_parquet = options.format.get_ext() == "parquet";
        let format = Arc::clone(&options.format);
        let config = ListingTableConfig::new(url.clone())
            .with_listing_options(options)
            .infer_partitions_from_path(&state)
            .await?;
        let config = match catch_panics(config.infer_schema(&state)).await {
            Ok(config) => config,
            Err(e) => {
                let e = name_damaged_files(e, &state, &url, is_parquet).await;
                let e =
                    name_conflicting_files(e, &state, &url, format.as_ref(), &files, name).await;
                return Err(e.context(format!("reading the schema of '{name}'")));
            }
        };
        Ok(Some(Arc::new(ListingTable::try_new(config)?)))
    }
}

/// Files whose own schemas are read to say which disagree, at most.
const FILES_COMPARED: usize = 1000;

/// `error`, or when the files' schemas could not be merged over a column, which files
/// have which type of it: DataFusion names the column and the types, not the files.
async fn name_conflicting_files(
    error: DataFusionError,
    state: &SessionState,
    url: &ListingTableUrl,
    format: &dyn FileFormat,
    files: &[ObjectMeta],
    name: &str,
) -> DataFusionError {
    let text = error.to_string();
    let Some(column) = text
        .split_once("Fail to merge schema field '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(column, _)| column.to_string())
    else {
        return error;
    };
    let Ok(store) = state.runtime_env().object_store(url.object_store()) else {
        return error;
    };
    let mut by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files.iter().take(FILES_COMPARED) {
        let Ok(schema) = format
            .infer_schema(state, &store, std::slice::from_ref(file))
            .await
        else {
            continue;
        };
        if let Ok(field) = schema.field_with_name(&column) {
            by_type
                .entry(field.data_type().to_string())
                .or_default()
                .push(format!("{}{}", url.object_store().as_str(), file.location));
        }
    }
    if by_type.len() < 2 {
        return error;
    }
    let groups: Vec<String> = by_type
        .iter()
        .map(|(data_type, files)| match files.len() {
            1 => format!("{data_type} in '{}'", files[0]),
            n => format!("{data_type} in '{}' and {} more", files[0], n - 1),
        })
        .collect();
    DataFusionError::Plan(format!(
        "the files of '{name}' disagree on the type of column '{column}': {}: rewrite them \
         with one type, or read each group as a table of its own and CAST the column",
        groups.join("; ")
    ))
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
