// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Where a Delta table lives, and opening it at a version.
//!
//! The table's files are read and written through the object store the session already
//! uses for the bucket or the local disk, so a Delta table on S3 takes the same
//! credentials as Parquet files there. Commits are written with the store's
//! create-if-absent put (`PutMode::Create`: on S3 a conditional `If-None-Match: *`
//! write, which S3 has honoured since 2024), so of two writers committing the same
//! version one fails cleanly: no lock table is needed.

use std::sync::{Arc, Once};

use chrono::{DateTime, Utc};
use deltalake_core::logstore::{
    LogStore, LogStoreFactory, StorageConfig, default_logstore, logstore_factories,
};
use deltalake_core::{DeltaResult, DeltaTable, DeltaTableBuilder, DeltaTableError};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use url::Url;

use crate::error::{DeltaError, Result};

/// A Delta table's place: its URL, and the store (of the whole bucket, or of the local
/// disk) its files are read and written through.
#[derive(Debug, Clone)]
pub struct TableLocation {
    /// The path as the user wrote it, for messages.
    pub display: String,
    /// The table's folder, as a URL ending in '/'.
    pub url: Url,
    /// The store of `store_url`.
    pub store: Arc<dyn ObjectStore>,
    /// The root of the store (`file:///`, `s3://bucket/`).
    pub store_url: Url,
}

/// Which version of a table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeTravel {
    /// The latest.
    #[default]
    Latest,
    /// A version number.
    Version(u64),
    /// The last version committed at or before a time.
    Timestamp(DateTime<Utc>),
}

impl TableLocation {
    /// The location of the table at `url` in `store` (whose root is `store_url`).
    pub fn new(display: &str, mut url: Url, store: Arc<dyn ObjectStore>, store_url: Url) -> Self {
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Self {
            display: display.to_string(),
            url,
            store,
            store_url,
        }
    }

    /// The path of the table's folder in the store.
    fn store_path(&self) -> Path {
        let path = self.url.path().trim_matches('/');
        // Decoding keeps names with spaces and other escaped characters as written.
        Path::from_url_path(path).unwrap_or_else(|_| Path::from(path))
    }

    /// The path in the store of the table's file `relative` (as its log names it,
    /// decoded: `part-0.parquet`, `_change_data/cdc-1.parquet`).
    pub(crate) fn file_path(&self, relative: &str) -> Path {
        relative
            .split('/')
            .filter(|part| !part.is_empty())
            .fold(self.store_path(), |path, part| path.join(part))
    }

    /// True when the folder holds a Delta log (`_delta_log/` with at least one file).
    pub async fn is_delta_table(&self) -> bool {
        let log = self.store_path().clone().join("_delta_log");
        let mut listing = self.store.list(Some(&log));
        matches!(listing.next().await, Some(Ok(_)))
    }

    /// A builder of the table at this location, through the session's store.
    fn builder(&self) -> Result<DeltaTableBuilder> {
        register_log_stores();
        let builder = DeltaTableBuilder::from_url(self.url.clone())
            .map_err(|e| DeltaError::from_delta(&self.display, e))?;
        Ok(builder.with_storage_backend(Arc::clone(&self.store), self.store_url.clone()))
    }

    /// Opens the table at `travel`.
    pub async fn open(&self, travel: TimeTravel) -> Result<DeltaTable> {
        if !self.is_delta_table().await {
            return Err(DeltaError::NotATable {
                path: self.display.clone(),
            });
        }
        let mut builder = self.builder()?;
        builder = match travel {
            TimeTravel::Latest => builder,
            TimeTravel::Version(version) => builder.with_version(version),
            TimeTravel::Timestamp(time) => builder.with_timestamp(time),
        };
        let table = match builder.load().await {
            Ok(table) => table,
            Err(error) => return Err(self.travel_error(travel, error).await),
        };
        // The library reads the first version for a time before it; there is no
        // version of the table at such a time.
        if let TimeTravel::Timestamp(time) = travel
            && table.version() == Some(0)
        {
            let first: Vec<_> = table.history(None).collect().await;
            let created = first
                .last()
                .and_then(|commit| commit.as_ref().ok())
                .and_then(|commit| commit.timestamp)
                .and_then(DateTime::from_timestamp_millis);
            if let Some(created) = created
                && created > time
            {
                return Err(DeltaError::Invalid(format!(
                    "Delta table '{}' has no version at {}: its first version was \
                     committed at {}; name a later time",
                    self.display,
                    time.to_rfc3339(),
                    created.to_rfc3339()
                )));
            }
        }
        Ok(table)
    }

    /// The table, or an unloaded one when there is none yet (a write creates it).
    pub async fn open_for_write(&self) -> Result<DeltaTable> {
        if self.is_delta_table().await {
            return self.open(TimeTravel::Latest).await;
        }
        self.builder()?
            .build()
            .map_err(|e| DeltaError::from_delta(&self.display, e))
    }

    /// The error of a failed open at `travel`: a version or time the log does not
    /// have names the versions it does.
    async fn travel_error(&self, travel: TimeTravel, error: DeltaTableError) -> DeltaError {
        let latest = match travel {
            TimeTravel::Latest => None,
            _ => match self.builder() {
                Ok(builder) => builder.load().await.ok().and_then(|t| t.version()),
                Err(_) => None,
            },
        };
        let missing_version = matches!(
            error,
            DeltaTableError::InvalidVersion(_) | DeltaTableError::KernelError(_)
        ) || error.to_string().to_ascii_lowercase().contains("version");
        match (travel, latest) {
            (TimeTravel::Version(version), Some(latest)) if missing_version => {
                DeltaError::NoSuchVersion {
                    path: self.display.clone(),
                    version,
                    detail: format!("its versions are 0 to {latest}"),
                }
            }
            (TimeTravel::Timestamp(time), Some(_)) if missing_version => {
                DeltaError::Invalid(format!(
                    "Delta table '{}' has no version at or before {}: its first commit is \
                     later; name a later time",
                    self.display,
                    time.to_rfc3339()
                ))
            }
            _ => DeltaError::from_delta(&self.display, error),
        }
    }
}

/// Gives `s3://` tables the default log store (commits by conditional put) over the
/// store the session passes in; local tables have it already.
fn register_log_stores() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        if let Ok(scheme) = Url::parse("s3://") {
            logstore_factories().insert(scheme, Arc::new(ConditionalPutLogStores));
        }
    });
}

/// Log stores that commit with the store's create-if-absent put.
#[derive(Debug)]
struct ConditionalPutLogStores;

impl LogStoreFactory for ConditionalPutLogStores {
    fn with_options(
        &self,
        prefixed_store: deltalake_core::logstore::ObjectStoreRef,
        root_store: deltalake_core::logstore::ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}
