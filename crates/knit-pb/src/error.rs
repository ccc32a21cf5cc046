// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Errors of reading a pb project: each names the file and the key path at fault.

use std::path::PathBuf;

/// Why a pb project cannot be read or translated.
#[derive(Debug, thiserror::Error)]
pub enum PbError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file Knit writes for a table (a CSV file's marked copy) could not be written.
    #[error("cannot write {}: {source} (set TMPDIR to a folder Knit may write to)", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A YAML file does not parse.
    #[error("{file}: not valid YAML: {source}")]
    Yaml {
        /// The file, relative to the project.
        file: String,
        /// The parser's complaint.
        source: serde_yaml::Error,
    },
    /// A key is missing, unsupported or wrong.
    #[error("{file}: {key}: {reason}")]
    Key {
        /// The file, relative to the project.
        file: String,
        /// The key path, such as `var_groups[0].vars[2].entity_var.select`.
        key: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// The result of reading a project.
pub type Result<T, E = PbError> = std::result::Result<T, E>;
