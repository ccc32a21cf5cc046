// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The error type of the SQL front end.

use datafusion_sql::sqlparser::tokenizer::TokenizerError;

/// Errors from splitting or parsing SQL text.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The text could not be tokenized (an unterminated string or comment, say).
    #[error("{message} at line {line}, column {column}")]
    Tokenize {
        /// What the tokenizer found wrong.
        message: String,
        /// 1-based line of the problem.
        line: u64,
        /// 1-based column of the problem.
        column: u64,
    },
    /// A statement did not parse.
    #[error("{0}")]
    Parse(String),
    /// The caller asked for exactly one statement and the text held another count.
    #[error("expected one SQL statement, found {found}")]
    StatementCount {
        /// How many statements the text held.
        found: usize,
    },
}

impl From<TokenizerError> for SqlError {
    fn from(e: TokenizerError) -> Self {
        SqlError::Tokenize {
            message: e.message,
            line: e.location.line,
            column: e.location.column,
        }
    }
}

impl From<datafusion_sql::sqlparser::parser::ParserError> for SqlError {
    fn from(e: datafusion_sql::sqlparser::parser::ParserError) -> Self {
        SqlError::Parse(e.to_string())
    }
}

/// Result with [`SqlError`] as the default error.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;
