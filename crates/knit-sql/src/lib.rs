// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Knit's SQL front end: splits scripts into statements and parses them.
//!
//! Knit speaks DataFusion's SQL dialect plus its own profile statements. This crate
//! wraps DataFusion's [`DFParser`](datafusion_sql::parser::DFParser): it peeks at the
//! leading keywords of a statement, parses Knit's own statements itself and hands
//! everything else to DataFusion. It has no execution dependencies, so it builds and
//! tests quickly.
//!
//! ```
//! use knit_sql::{parse_statement, split_statements};
//!
//! let script = "SELECT 1;\n-- a comment; not a terminator\nSELECT 'a;b';";
//! let pieces = split_statements(script).unwrap();
//! assert_eq!(pieces.len(), 2);
//! assert_eq!(pieces[1].line, 3);
//! let stmt = parse_statement(pieces[1].sql).unwrap();
//! assert_eq!(stmt.to_string(), "SELECT 'a;b'");
//! ```
//!
//! - [`split_statements`]: script to statements, by the SQL tokenizer, with line numbers
//! - [`is_complete`]: whether typed input ends a statement (for the REPL)
//! - [`parse_statement`] / [`KnitParser`]: text to [`Statement`], whose `Display` prints
//!   SQL that parses back to the same [`Statement`]
//! - [`quote_ident`], [`quote_ident_if_needed`], [`quote_literal`]: names and text into
//!   the SQL Knit writes
//! - warehouse spellings (`datediff(day, a, b)`, `iff(c, a, b)`) rewritten before parsing,
//!   and Snowflake's `FLATTEN` rewritten as `unnest` after

#![warn(missing_docs)]

mod ast;
mod error;
mod features;
mod flatten;
mod parser;
mod profile_ast;
mod profile_parser;
mod quote;
mod split;
mod warehouse_ast;
mod warehouse_syntax;

pub use ast::Statement;
pub use error::{Result, SqlError};
pub use features::{
    CreateCohortStatement, CreateEntityVarStatement, CreateInputVarStatement, VarName,
};
pub use parser::{KnitParser, parse_statement, parse_statements};
pub use profile_ast::{
    CreateEntityStatement, CreateInputStatement, DropStatement, IdFilter, IdMatcher, IdTypeDef,
    InputId, InputSource, ProfileObject, ShowObject,
};
pub use quote::{quote_ident, quote_ident_if_needed, quote_literal};
pub use split::{StatementText, is_complete, significant_tokens, split_statements};
pub use warehouse_syntax::{MODE_DESC, date_part_name};

/// The sqlparser crate as DataFusion re-exports it, for callers that need its types.
pub use datafusion_sql::sqlparser;
