// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The statements Knit understands, and how they print.
//!
//! DataFusion's own `Display` for `CREATE EXTERNAL TABLE` drops the column list, the
//! partition columns, `OPTIONS` and `OR REPLACE`, and `COPY` prints its target without
//! quotes; printed and parsed again, such a statement would lose its credentials or
//! not parse at all. Knit prints those statements itself, so that every statement
//! prints as SQL that parses back to the same statement.

use std::fmt;

use datafusion_sql::parser::{CopyToStatement, CreateExternalTable, Statement as DFStatement};
use datafusion_sql::sqlparser::ast::{Ident, Value};

use crate::features::{CreateCohortStatement, CreateEntityVarStatement, CreateInputVarStatement};
use crate::profile_ast::{
    CreateEntityStatement, CreateInputStatement, DropStatement, ShowObject, quoted,
};

/// One parsed statement.
///
/// Knit's own statements (entities, inputs, vars, cohorts) get a variant each; every
/// other statement is DataFusion's. `Display` prints SQL that parses back to an equal
/// value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// A statement DataFusion parses and plans: queries, DDL, `COPY`, `EXPLAIN`, `SET`.
    DataFusion(Box<DFStatement>),
    /// `CREATE [OR REPLACE] ENTITY ...`.
    CreateEntity(Box<CreateEntityStatement>),
    /// `CREATE [OR REPLACE] INPUT ...`.
    CreateInput(Box<CreateInputStatement>),
    /// `CREATE [OR REPLACE] ENTITY VAR ...`.
    CreateEntityVar(Box<CreateEntityVarStatement>),
    /// `CREATE [OR REPLACE] INPUT VAR ...`.
    CreateInputVar(Box<CreateInputVarStatement>),
    /// `CREATE [OR REPLACE] COHORT ...`.
    CreateCohort(Box<CreateCohortStatement>),
    /// `DROP ENTITY|INPUT|ENTITY VAR|INPUT VAR|COHORT [IF EXISTS] name`.
    Drop(DropStatement),
    /// `SHOW ENTITIES|INPUTS|VARS|COHORTS`.
    Show(ShowObject),
    /// `DESCRIBE ENTITY name`.
    DescribeEntity(Ident),
    /// `CREATE PROFILE STORE 'location'`: the session's profile store, a folder or an
    /// `s3://` URL.
    CreateProfileStore(String),
    /// `REFRESH PROFILE STORE [FULL] [CHANGES TO 'location']`: the session's entities,
    /// vars and cohorts into its profile store, incrementally unless `FULL` (or nothing
    /// allows it).
    RefreshProfileStore {
        /// `FULL`: compute everything from all input files.
        full: bool,
        /// `CHANGES TO 'location'`: where each output's changes of the run are written,
        /// a folder or an `s3://` URL.
        changes_to: Option<String>,
    },
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::DataFusion(statement) => fmt_datafusion(statement, f),
            Statement::CreateEntity(create) => write!(f, "{create}"),
            Statement::CreateInput(create) => write!(f, "{create}"),
            Statement::CreateEntityVar(create) => write!(f, "{create}"),
            Statement::CreateInputVar(create) => write!(f, "{create}"),
            Statement::CreateCohort(create) => write!(f, "{create}"),
            Statement::Drop(drop) => write!(f, "{drop}"),
            Statement::Show(object) => write!(f, "{object}"),
            Statement::DescribeEntity(name) => write!(f, "DESCRIBE ENTITY {name}"),
            Statement::CreateProfileStore(location) => {
                write!(f, "CREATE PROFILE STORE {}", crate::quote_literal(location))
            }
            Statement::RefreshProfileStore { full, changes_to } => {
                write!(
                    f,
                    "REFRESH PROFILE STORE{}",
                    if *full { " FULL" } else { "" }
                )?;
                match changes_to {
                    Some(location) => {
                        write!(f, " CHANGES TO {}", crate::quote_literal(location))
                    }
                    None => Ok(()),
                }
            }
        }
    }
}

fn fmt_datafusion(statement: &DFStatement, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match statement {
        DFStatement::CreateExternalTable(create) => fmt_create_external_table(create, f),
        DFStatement::CopyTo(copy) => fmt_copy(copy, f),
        DFStatement::Explain(explain) => {
            // DataFusion's EXPLAIN prefix is right, but it prints the inner statement
            // with DataFusion's Display: print the prefix alone, then the statement.
            let mut prefix_only = explain.clone();
            let placeholder = placeholder().ok_or(fmt::Error)?;
            prefix_only.statement = Box::new(DFStatement::Statement(Box::new(placeholder)));
            let rendered = DFStatement::Explain(prefix_only).to_string();
            let prefix = rendered.strip_suffix(PLACEHOLDER).ok_or(fmt::Error)?;
            write!(f, "{prefix}")?;
            fmt_datafusion(&explain.statement, f)
        }
        other => write!(f, "{other}"),
    }
}

/// The text that stands in for an explained statement while its prefix is printed.
const PLACEHOLDER: &str = "SELECT 1";

fn placeholder() -> Option<datafusion_sql::sqlparser::ast::Statement> {
    let dialect = datafusion_sql::sqlparser::dialect::GenericDialect {};
    datafusion_sql::sqlparser::parser::Parser::parse_sql(&dialect, PLACEHOLDER)
        .ok()?
        .pop()
}

fn fmt_create_external_table(
    create: &CreateExternalTable,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    write!(f, "CREATE ")?;
    if create.or_replace {
        write!(f, "OR REPLACE ")?;
    }
    if create.unbounded {
        write!(f, "UNBOUNDED ")?;
    }
    write!(f, "EXTERNAL ")?;
    if create.temporary {
        write!(f, "TEMPORARY ")?;
    }
    write!(f, "TABLE ")?;
    if create.if_not_exists {
        write!(f, "IF NOT EXISTS ")?;
    }
    write!(f, "{}", create.name)?;
    if !create.columns.is_empty() || !create.constraints.is_empty() {
        let parts: Vec<String> = create
            .columns
            .iter()
            .map(ToString::to_string)
            .chain(create.constraints.iter().map(ToString::to_string))
            .collect();
        write!(f, " ({})", parts.join(", "))?;
    }
    write!(f, " STORED AS {}", create.file_type)?;
    if !create.table_partition_cols.is_empty() {
        write!(
            f,
            " PARTITIONED BY ({})",
            create.table_partition_cols.join(", ")
        )?;
    }
    for ordering in &create.order_exprs {
        let exprs: Vec<String> = ordering.iter().map(ToString::to_string).collect();
        write!(f, " WITH ORDER ({})", exprs.join(", "))?;
    }
    let locations: Vec<String> = create.locations.iter().map(|l| quoted(l)).collect();
    match locations.as_slice() {
        [one] => write!(f, " LOCATION {one}")?,
        many => write!(f, " LOCATION ({})", many.join(", "))?,
    }
    fmt_options(&create.options, f)
}

fn fmt_copy(copy: &CopyToStatement, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "COPY {} TO {}", copy.source, quoted(&copy.target))?;
    if let Some(file_type) = &copy.stored_as {
        write!(f, " STORED AS {file_type}")?;
    }
    if !copy.partitioned_by.is_empty() {
        write!(f, " PARTITIONED BY ({})", copy.partitioned_by.join(", "))?;
    }
    fmt_options(&copy.options, f)
}

fn fmt_options(options: &[(String, Value)], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if options.is_empty() {
        return Ok(());
    }
    let parts: Vec<String> = options
        .iter()
        .map(|(key, value)| format!("{} {value}", quoted(key)))
        .collect();
    write!(f, " OPTIONS ({})", parts.join(", "))
}
