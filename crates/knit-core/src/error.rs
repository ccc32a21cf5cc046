// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The error type of the engine.

use datafusion::error::DataFusionError;
use knit_sql::SqlError;

/// What an Arrow offset overflow means: the text (or binary) values a query builds in
/// one batch of a column add up to more than its 32-bit offsets reach.
pub(crate) const TEXT_OVER_2GIB: &str = "the text values one batch of a column holds add up to more than 2 GiB, the most an \
     Arrow text column holds";

/// A failure of Knit's own code: a bug, reported as Knit's (what failed, that it is a
/// bug in Knit, where to report it, the version), never as the user's or DataFusion's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalError {
    what: String,
}

impl InternalError {
    /// An internal error saying what failed.
    pub fn new(what: impl Into<String>) -> Self {
        Self { what: what.into() }
    }

    /// What failed.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl std::fmt::Display for InternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "internal error: {}. This is a bug in Knit {}, not a problem with your query or \
             data: please report it at {}/issues with the statement that caused it",
            self.what,
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_REPOSITORY")
        )
    }
}

impl std::error::Error for InternalError {}

/// An [`InternalError`] as DataFusion carries errors, for use inside DataFusion's traits.
pub(crate) fn internal(what: impl Into<String>) -> DataFusionError {
    DataFusionError::External(Box::new(InternalError::new(what)))
}

/// Errors from the engine.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The SQL text did not split or parse.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// DataFusion failed to plan or run a statement.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    /// A setting or an argument is not valid; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// Writing a file or a folder failed; `detail` says why and what to do.
    #[error("cannot write '{target}': {detail}")]
    Write {
        /// The file or folder being written, as the statement named it.
        target: String,
        /// Why, and what to do.
        detail: String,
    },
    /// A bug in Knit.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl CoreError {
    /// An [`CoreError::Invalid`] with the given message.
    pub fn invalid(message: impl Into<String>) -> Self {
        CoreError::Invalid(message.into())
    }

    /// A [`CoreError::Internal`] saying what failed.
    pub fn internal(what: impl Into<String>) -> Self {
        CoreError::Internal(InternalError::new(what))
    }
}

/// DataFusion's message when a file writer fails to finish (its cause is dropped).
const UNFINISHED_WRITE: &str = "Error encountered while finalizing writes";

/// What to say when a writer could not finish a file.
pub(crate) const UNFINISHED_WRITE_ADVICE: &str = "the file could not be finished: the disk \
     may be full, or the file system may refuse the write (read-only, or not a place for \
     files); free space or write elsewhere";

/// Whether `error` is DataFusion failing to finish writing a file: it reports that as
/// its own internal error and drops the cause, which on local disk is almost always a
/// full disk or a file system that refuses the write.
pub(crate) fn is_unfinished_write(error: &DataFusionError) -> bool {
    causes(error).any(|cause| cause.to_string().contains(UNFINISHED_WRITE))
}

/// Result with [`CoreError`] as the default error.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// `error` and every error below it in its source chain, including errors shared
/// between partitions (`Arc<DataFusionError>`), which `DataFusionError::iter` skips.
pub(crate) fn causes(
    error: &DataFusionError,
) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    let top: &(dyn std::error::Error + 'static) = error;
    std::iter::successors(Some(top), |e| e.source())
}

/// One error of a chain as a DataFusion error, also when it is shared between
/// partitions (`Arc<DataFusionError>`).
pub(crate) fn as_datafusion<'a>(
    cause: &'a (dyn std::error::Error + 'static),
) -> Option<&'a DataFusionError> {
    cause.downcast_ref::<DataFusionError>().or_else(|| {
        cause
            .downcast_ref::<std::sync::Arc<DataFusionError>>()
            .map(|e| e.as_ref())
    })
}

/// Which kind of failure a chain of errors comes down to, for hints and context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadFailure {
    /// A Parquet file could not be decoded.
    Parquet,
    /// Another file format (CSV, JSON, Arrow IPC) could not be decoded.
    OtherFormat,
    /// The object store or the file system failed.
    Storage,
}

/// The read failure behind `error`, if reading or decoding a file is what failed. A
/// storage or network failure anywhere in the chain is what failed, even when a decoder
/// wrapped it (parquet-rs reports a dropped connection as its own error).
pub(crate) fn read_failure(error: &DataFusionError) -> Option<ReadFailure> {
    let kinds: Vec<ReadFailure> = causes(error).filter_map(cause_kind).collect();
    if kinds.contains(&ReadFailure::Storage) {
        return Some(ReadFailure::Storage);
    }
    kinds.first().copied()
}

/// The kind of read failure one error of a chain is, if any.
fn cause_kind(cause: &(dyn std::error::Error + 'static)) -> Option<ReadFailure> {
    use datafusion::arrow::error::ArrowError;
    use datafusion::parquet::errors::ParquetError;
    if cause.is::<ParquetError>() {
        return Some(ReadFailure::Parquet);
    }
    if cause.is::<object_store::Error>() || cause.is::<std::io::Error>() {
        return Some(ReadFailure::Storage);
    }
    if let Some(arrow) = cause.downcast_ref::<ArrowError>() {
        return match arrow {
            ArrowError::ParquetError(_) => Some(ReadFailure::Parquet),
            ArrowError::CsvError(_) | ArrowError::JsonError(_) | ArrowError::IpcError(_) => {
                Some(ReadFailure::OtherFormat)
            }
            ArrowError::IoError(..) => Some(ReadFailure::Storage),
            _ => None,
        };
    }
    match as_datafusion(cause)? {
        DataFusionError::ParquetError(_) => Some(ReadFailure::Parquet),
        DataFusionError::ObjectStore(_) | DataFusionError::IoError(_) => Some(ReadFailure::Storage),
        DataFusionError::ArrowError(arrow, _) => match arrow.as_ref() {
            ArrowError::ParquetError(_) => Some(ReadFailure::Parquet),
            ArrowError::CsvError(_) | ArrowError::JsonError(_) | ArrowError::IpcError(_) => {
                Some(ReadFailure::OtherFormat)
            }
            ArrowError::IoError(..) => Some(ReadFailure::Storage),
            _ => None,
        },
        _ => None,
    }
}
