// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The errors of Delta tables, each naming the table's path and what to do.

use deltalake_core::DeltaTableError;

/// A failure to read or write a Delta table.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    /// The folder has no `_delta_log`.
    #[error(
        "'{path}' is not a Delta table (it has no _delta_log folder): check the path, or read \
         its files as Parquet"
    )]
    NotATable {
        /// The table's path, as the user wrote it.
        path: String,
    },
    /// Time travel to a version the log does not have.
    #[error("Delta table '{path}' has no version {version}: {detail}")]
    NoSuchVersion {
        /// The table's path.
        path: String,
        /// The version asked for.
        version: u64,
        /// Which versions it has.
        detail: String,
    },
    /// The log is damaged or a file it names is missing.
    #[error(
        "the log of Delta table '{path}' cannot be read: {detail}; restore the file from a \
         backup or read an earlier version with OPTIONS ('version' 'N')"
    )]
    Log {
        /// The table's path.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// Rows whose columns do not fit the table.
    #[error("cannot write to Delta table '{path}': {detail}")]
    Schema {
        /// The table's path.
        path: String,
        /// Which column, and the fix.
        detail: String,
    },
    /// Another writer committed first.
    #[error(
        "Delta table '{path}' was changed by another writer while this one wrote \
         ({detail}); nothing was committed: run it again"
    )]
    Conflict {
        /// The table's path.
        path: String,
        /// The conflict.
        detail: String,
    },
    /// The query whose rows were being written failed.
    #[error(
        "the rows for Delta table '{path}' could not be computed: {detail}; nothing was committed"
    )]
    Query {
        /// The table's path.
        path: String,
        /// The query's error.
        detail: String,
    },
    /// A wrong argument or option.
    #[error("{0}")]
    Invalid(String),
    /// Any other failure of the Delta library, with the table it was about.
    #[error("Delta table '{path}': {detail}")]
    Delta {
        /// The table's path.
        path: String,
        /// The library's error (its first line: the kernel's errors append a backtrace).
        detail: String,
    },
}

/// Results of this crate.
pub type Result<T, E = DeltaError> = std::result::Result<T, E>;

impl DeltaError {
    /// `error` of the library, about the table at `path`, as the variant that says what
    /// to do.
    pub(crate) fn from_delta(path: &str, error: DeltaTableError) -> Self {
        let path = path.to_string();
        match error {
            DeltaTableError::NotATable(_) => DeltaError::NotATable { path },
            DeltaTableError::InvalidVersion(version) => DeltaError::NoSuchVersion {
                path,
                version,
                detail: "its log has no such commit".to_string(),
            },
            DeltaTableError::VersionAlreadyExists(version) => DeltaError::Conflict {
                path,
                detail: format!("version {version} already exists"),
            },
            DeltaTableError::Transaction { source } => DeltaError::Conflict {
                path,
                detail: first_line(&source)
                    .trim_start_matches("Failed to commit transaction: ")
                    .trim_start_matches("Commit failed: ")
                    .trim_end_matches('.')
                    .to_string(),
            },
            DeltaTableError::SchemaMismatch { msg } => DeltaError::Schema { path, detail: msg },
            DeltaTableError::InvalidJsonLog { .. }
            | DeltaTableError::Io { .. }
            | DeltaTableError::MetadataError(_) => DeltaError::Log {
                path,
                detail: first_line(&error),
            },
            DeltaTableError::ObjectStore {
                source: object_store::Error::NotFound { path: missing, .. },
            } => DeltaError::Log {
                path,
                detail: format!("'{missing}' is missing"),
            },
            DeltaTableError::KernelError(ref kernel) => {
                // The kernel's errors carry a backtrace after their first line.
                let text = first_line(kernel);
                if text.contains("No such file")
                    || text.contains("not found")
                    || text.to_ascii_lowercase().contains("json")
                {
                    DeltaError::Log { path, detail: text }
                } else {
                    DeltaError::Delta { path, detail: text }
                }
            }
            other => DeltaError::Delta {
                path,
                detail: first_line(&other),
            },
        }
    }
}

impl DeltaError {
    /// `error` of a write to the table at `path`: errors of computing the rows (which
    /// the library reports as its Arrow or generic errors) say so.
    pub(crate) fn from_write(path: &str, error: DeltaTableError) -> Self {
        match error {
            DeltaTableError::Arrow { source } => DeltaError::Query {
                path: path.to_string(),
                detail: first_line(&source),
            },
            DeltaTableError::Generic(detail) if detail.contains("multiple source rows") => {
                DeltaError::Invalid(format!(
                    "cannot merge into Delta table '{path}': two of the query's rows have the \
                     same keys; a merge takes one row per key: deduplicate the rows, or merge \
                     on more columns"
                ))
            }
            DeltaTableError::Generic(detail) => DeltaError::Query {
                path: path.to_string(),
                detail: first_line(&detail)
                    .trim_start_matches("Generic DeltaTable error: ")
                    .to_string(),
            },
            other => DeltaError::from_delta(path, other),
        }
    }
}

impl From<DeltaError> for datafusion::error::DataFusionError {
    fn from(error: DeltaError) -> Self {
        match error {
            DeltaError::Invalid(_)
            | DeltaError::NotATable { .. }
            | DeltaError::NoSuchVersion { .. }
            | DeltaError::Schema { .. } => Self::Plan(error.to_string()),
            other => Self::Execution(other.to_string()),
        }
    }
}

/// The first line of `error`'s message: the Delta kernel's errors append a backtrace.
fn first_line(error: &dyn std::fmt::Display) -> String {
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
