// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The CLI's error type and how each error reaches the user.

use std::io;

use datafusion::error::DataFusionError;
use knit_core::CoreError;

/// Everything that can stop a statement, a script or the CLI.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The engine rejected or failed a statement.
    #[error(transparent)]
    Query(#[from] CoreError),
    /// Writing output or reading input failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The line editor failed.
    #[error("line editor: {0}")]
    Readline(#[from] rustyline::error::ReadlineError),
    /// A file given to `-f` or `\i` cannot be read.
    #[error("cannot read script '{path}': {source}")]
    ReadScript {
        /// The path as given.
        path: String,
        /// Why it cannot be read.
        source: io::Error,
    },
    /// The user pressed Ctrl-C while a statement ran.
    #[error("cancelled")]
    Cancelled,
    /// A statement ran past `knit.statement_timeout` and was cancelled.
    #[error(
        "the statement ran longer than the statement timeout of {} and was cancelled: \
         raise it with --timeout or SET knit.statement_timeout = '10m' ('0' turns it off)",
        knit_core::format_duration(*.0)
    )]
    TimedOut(std::time::Duration),
    /// `knit report` could not be made or written.
    #[error("{0}")]
    Report(String),
    /// `REFRESH PROFILE STORE` failed; the store is as the last refresh left it.
    #[error("{0}")]
    Store(String),
}

impl From<DataFusionError> for CliError {
    fn from(e: DataFusionError) -> Self {
        CliError::Query(CoreError::DataFusion(e))
    }
}

impl CliError {
    /// True when stdout was closed under us (`knit ... | head`): not an error to report.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Result with [`CliError`] as the default error.
pub type Result<T, E = CliError> = std::result::Result<T, E>;
