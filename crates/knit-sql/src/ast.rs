// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The statements Knit understands.

use std::fmt;

use datafusion_sql::parser::Statement as DFStatement;

/// One parsed statement.
///
/// Knit's own statements (entities, inputs, vars, cohorts) get a variant each; every
/// other statement is DataFusion's. `Display` prints SQL that parses back to an equal
/// value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// A statement DataFusion parses and plans: queries, DDL, `COPY`, `EXPLAIN`, `SET`.
    DataFusion(Box<DFStatement>),
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::DataFusion(stmt) => write!(f, "{stmt}"),
        }
    }
}
