// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `COPY (query) TO 'dir' STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' 'id')`: the
//! query's rows written to a Delta table as one commit.
//!
//! `PARTITIONED BY (col, ...)` partitions a table the statement creates or overwrites.
//! Modes: `overwrite` (the default, as a `COPY` to a file replaces it; earlier versions
//! stay readable), `append`, `merge` (the table becomes the rows, changing only what
//! changed, keyed on `keys`) and `upsert` (as `merge`, keeping keys the rows lack).
//! `'replace_where' 'predicate'` limits a merge to the table's rows the predicate holds
//! for (over the table's columns, as `target.col` or `col`; subqueries allowed): those
//! become the rows, and the others stay, as Delta's `replaceWhere` does for an
//! overwrite. `'deletion_vectors' 'true'` makes merges mark the rows they replace
//! deleted rather than rewrite the files holding them (Delta's deletion vectors, turned
//! on for the table); `'false'` rewrites them; without it the table's
//! `delta.enableDeletionVectors` decides. `'purge' '0.25'` then writes again, without
//! those rows, each file of which at least that share of rows is marked deleted (one
//! more version, with no data change). The result is one row: the rows written, the
//! version committed, and the rows inserted, updated and deleted.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::dataframe::DataFrame;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{CopyToSource, CopyToStatement, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{ObjectName, Query, Statement as SqlStatement, Value};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use knit_delta::{WriteMode, write};

use super::{DELTA, table_location};
use crate::functions::interval_text::durations_as_text;
use crate::options::KnitOptions;

/// The options of a Delta `COPY` (besides `aws.*`).
const COPY_OPTIONS: &[&str] = &["mode", "keys", "replace_where", "deletion_vectors", "purge"];

/// True for a `COPY ... STORED AS DELTA`.
pub(crate) fn is_delta_copy(statement: &DFStatement) -> bool {
    matches!(statement, DFStatement::CopyTo(copy)
        if copy.stored_as.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(DELTA)))
}

/// The text of an option's value.
pub(crate) fn option_text(value: &Value) -> String {
    match value {
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
        Value::Number(n, _) => n.clone(),
        other => other.to_string(),
    }
}

/// The options of `copy`, keys in lower case.
pub(crate) fn copy_options(copy: &CopyToStatement) -> HashMap<String, String> {
    copy.options
        .iter()
        .map(|(key, value)| (key.to_ascii_lowercase(), option_text(value)))
        .collect()
}

/// Runs a `COPY ... STORED AS DELTA`; its store (for `aws.*` options) is registered
/// by the caller.
pub(crate) async fn copy_to_delta(
    ctx: &SessionContext,
    copy: CopyToStatement,
) -> Result<DataFrame> {
    let target = copy.target.clone();
    let options = copy_options(&copy);
    for key in options.keys() {
        if !COPY_OPTIONS.contains(&key.as_str()) && !key.starts_with("aws.") {
            return Err(DataFusionError::Plan(format!(
                "COPY to Delta table '{target}' has no option '{key}': its options are \
                 'mode' ('overwrite', 'append', 'merge' or 'upsert'), 'keys' (for merge \
                 and upsert), 'replace_where' (for merge), 'deletion_vectors' ('true' or \
                 'false') and 'purge' (a share of deleted rows, 0 to 1)"
            )));
        }
    }
    let mode = WriteMode::parse(
        options
            .get("mode")
            .map(String::as_str)
            .unwrap_or("overwrite"),
        options.get("keys").map(String::as_str),
    )?;
    if options.contains_key("replace_where") && !matches!(mode, WriteMode::Merge(_)) {
        return Err(DataFusionError::Plan(format!(
            "COPY to Delta table '{target}': 'replace_where' applies to mode 'merge' only"
        )));
    }
    let deletion_vectors = match options
        .get("deletion_vectors")
        .map(|v| v.to_ascii_lowercase())
    {
        None => None,
        Some(value) if value == "true" => Some(true),
        Some(value) if value == "false" => Some(false),
        Some(other) => {
            return Err(DataFusionError::Plan(format!(
                "COPY to Delta table '{target}': 'deletion_vectors' is 'true' or 'false', \
                 not '{other}'"
            )));
        }
    };
    let purge = match options.get("purge") {
        None => None,
        Some(text) => match text.trim().parse::<f64>() {
            Ok(share) if (0.0..=1.0).contains(&share) => Some(share),
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "COPY to Delta table '{target}': 'purge' is the share of a file's rows \
                     that are deleted from which it is written again, from 0 to 1 (such as \
                     '0.25'), not '{text}'"
                )));
            }
        },
    };
    let partitioned_by = copy.partitioned_by.clone();
    let query = match copy.source {
        CopyToSource::Query(query) => query,
        CopyToSource::Relation(name) => select_all_from(name)?,
    };
    // A Delta write runs in this process, as workers would not: the library walks the
    // plans it is given (a merge looks for the scans whose rows it marks deleted),
    // which a plan cut into stages for workers hides from it.
    let mut state = ctx.state();
    if let Some(options) = state
        .config_mut()
        .options_mut()
        .extensions
        .get_mut::<KnitOptions>()
    {
        options.workers = None;
    }
    let plan = state
        .statement_to_plan(DFStatement::Statement(Box::new(SqlStatement::Query(query))))
        .await?;
    // Delta has no type for a duration (`max(t) - min(t)`): its text, as CSV has it.
    let plan = durations_as_text(plan)?;
    let location = table_location(ctx.runtime_env().as_ref(), &target)?;
    let replaced = match options.get("replace_where") {
        Some(predicate) if location.is_delta_table().await => {
            let sql = format!(
                "SELECT * FROM {} AS target WHERE {predicate}",
                knit_sql::quote_literal(&target)
            );
            let statement = Parser::new(&GenericDialect {})
                .try_with_sql(&sql)
                .and_then(|mut parser| parser.parse_statement())
                .map_err(|e| {
                    DataFusionError::Plan(format!(
                        "COPY to Delta table '{target}': 'replace_where' is not a predicate \
                         ({e})"
                    ))
                })?;
            Some(
                state
                    .statement_to_plan(DFStatement::Statement(Box::new(statement)))
                    .await?,
            )
        }
        // A table the statement creates has no rows to replace.
        _ => None,
    };
    let written = write(
        &location,
        &state,
        plan,
        &mode,
        &partitioned_by,
        replaced,
        deletion_vectors,
    )
    .await?;
    tracing::debug!(%target, ?written, "wrote a Delta table");
    if let Some(share) = purge {
        let purged = knit_delta::purge(&location, &state, share).await?;
        tracing::debug!(%target, ?purged, "purged the rows deletion vectors mark");
    }
    let schema = Arc::new(Schema::new(
        ["count", "version", "inserted", "updated", "deleted"]
            .map(|name| Field::new(name, DataType::UInt64, false))
            .to_vec(),
    ));
    let batch = RecordBatch::try_new(
        schema,
        [
            written.source_rows,
            written.version,
            written.inserted,
            written.updated,
            written.deleted,
        ]
        .map(|value| Arc::new(UInt64Array::from(vec![value])) as _)
        .to_vec(),
    )?;
    ctx.read_batch(batch)
}

/// `SELECT * FROM name`, as a query.
fn select_all_from(name: ObjectName) -> Result<Box<Query>> {
    let sql = format!("SELECT * FROM {name}");
    Parser::new(&GenericDialect {})
        .try_with_sql(&sql)
        .and_then(|mut parser| parser.parse_query())
        .map_err(|e| DataFusionError::Plan(format!("COPY {name}: {e}")))
}
