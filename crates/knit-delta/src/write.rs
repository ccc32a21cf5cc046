// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Writing a query's rows to a Delta table, as one commit: appended, replacing the
//! table's rows, or merged on key columns.
//!
//! A merge makes the table equal to the query's rows, changing only what changed:
//! rows of new keys are inserted, rows whose other columns differ are updated, and rows
//! of keys the query no longer has are deleted (an upsert keeps those). Unchanged rows
//! are left alone, so the change data feed records exactly the inserts, updates and
//! deletes. Tables Knit creates record that feed (`delta.enableChangeDataFeed`).
//!
//! The rows are computed by the caller's session (with its planner, functions and
//! memory pool), streamed into new data files, and committed last: a query that fails
//! commits nothing, and the previous version stays current.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::TimeUnit;
use datafusion::catalog::Session;
use datafusion::common::Column;
use datafusion::common::config::TableParquetOptions;
use datafusion::dataframe::DataFrame;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, LogicalPlanBuilder, Operator, cast};
use datafusion::parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use deltalake_core::DeltaTable;
use deltalake_core::kernel::transaction::CommitBuilder;
use deltalake_core::operations::write::SchemaMode;
use deltalake_core::protocol::{DeltaOperation, SaveMode};

use crate::deletion_vectors::{self, DELETION_VECTORS};
use crate::error::{DeltaError, Result};
use crate::location::TableLocation;
use crate::schema_check::{check_append_schema, check_keys, column_difference};

/// The table property that makes a table record its change data feed.
pub const CHANGE_DATA_FEED: &str = "delta.enableChangeDataFeed";

/// How rows are written to a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteMode {
    /// Added to the table's rows; their columns must be the table's.
    Append,
    /// The table's rows are replaced (its schema too); earlier versions stay readable.
    Overwrite,
    /// The table becomes the rows, matched on these key columns: new keys inserted,
    /// changed rows updated, keys no longer there deleted.
    Merge(Vec<String>),
    /// As `Merge`, but rows of keys no longer there stay.
    Upsert(Vec<String>),
}

impl WriteMode {
    /// The mode of the `mode` option (and `keys`, for `merge` and `upsert`).
    pub fn parse(mode: &str, keys: Option<&str>) -> Result<Self> {
        let key_list = || -> Result<Vec<String>> {
            let keys: Vec<String> = keys
                .unwrap_or_default()
                .split(',')
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect();
            if keys.is_empty() {
                return Err(DeltaError::Invalid(format!(
                    "mode '{mode}' needs the key columns to match rows on: add \
                     OPTIONS ('keys' 'col1, col2')"
                )));
            }
            Ok(keys)
        };
        let parsed = match mode.trim().to_ascii_lowercase().as_str() {
            "append" => WriteMode::Append,
            "overwrite" => WriteMode::Overwrite,
            "merge" => WriteMode::Merge(key_list()?),
            "upsert" => WriteMode::Upsert(key_list()?),
            other => {
                return Err(DeltaError::Invalid(format!(
                    "unknown Delta write mode '{other}': use 'append', 'overwrite', 'merge' \
                     or 'upsert'"
                )));
            }
        };
        if keys.is_some() && matches!(parsed, WriteMode::Append | WriteMode::Overwrite) {
            return Err(DeltaError::Invalid(format!(
                "the 'keys' option applies to modes 'merge' and 'upsert', not '{mode}': \
                 remove it or set 'mode' 'merge'"
            )));
        }
        Ok(parsed)
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    /// The version committed (a merge that changes nothing commits an empty one).
    pub version: u64,
    /// Rows the query gave.
    pub source_rows: u64,
    /// Rows inserted.
    pub inserted: u64,
    /// Rows updated.
    pub updated: u64,
    /// Rows deleted.
    pub deleted: u64,
}

/// Writes the rows of `plan`, planned and run in `state`, to the table at `location`.
/// A table created (or overwritten) is partitioned by `partition_by`; an existing one
/// keeps its partitioning, which `partition_by` must then name, if anything.
///
/// With `Merge`, `replaced` (a query of the table's rows, such as those of some
/// customers) limits what becomes the rows: those of its rows that the rows lack are
/// deleted, and the table's other rows stay as they are. Only those rows are compared
/// with the new ones, which is what makes replacing a few customers' rows of a large
/// table cheap.
///
/// `deletion_vectors` chooses how a merge removes rows: `Some(true)` turns the table's
/// deletion vectors on (on a table it creates, or on an existing one with its first
/// merge that changes rows) and marks rows deleted; `Some(false)` rewrites the files that
/// hold them; `None` does as the table's `delta.enableDeletionVectors` says.
pub async fn write(
    location: &TableLocation,
    state: &SessionState,
    plan: LogicalPlan,
    mode: &WriteMode,
    partition_by: &[String],
    replaced: Option<LogicalPlan>,
    deletion_vectors: Option<bool>,
) -> Result<Written> {
    if replaced.is_some() && !matches!(mode, WriteMode::Merge(_)) {
        return Err(DeltaError::Invalid(format!(
            "writing Delta table '{}': 'replace_where' applies to mode 'merge' only",
            location.display
        )));
    }
    let table = location.open_for_write().await?;
    let session: Arc<dyn Session> = Arc::new(state.clone());
    let plan = with_delta_types(plan).map_err(|e| DeltaError::Query {
        path: location.display.clone(),
        detail: e.to_string(),
    })?;
    let rows = plan.schema().as_arrow().clone();
    for column in partition_by {
        if rows.field_with_name(column).is_err() {
            return Err(DeltaError::Invalid(format!(
                "partition column '{column}' of Delta table '{}' is not a column of the query",
                location.display
            )));
        }
    }
    let snapshot = table.snapshot().ok();
    let existing_partitions: Option<Vec<String>> =
        snapshot.map(|s| s.metadata().partition_columns().to_vec());
    if let Some(existing) = &existing_partitions
        && !partition_by.is_empty()
        && existing[..] != *partition_by
        && *mode != WriteMode::Overwrite
    {
        return Err(DeltaError::Schema {
            path: location.display.clone(),
            detail: format!(
                "the table is partitioned by ({}), not ({}); leave out PARTITIONED BY, or \
                 replace the table with OPTIONS ('mode' 'overwrite')",
                existing.join(", "),
                partition_by.join(", ")
            ),
        });
    }
    // A table Knit creates has nullable columns: the library checks the rows a merge
    // deletes against the table's NOT NULL columns too, with their values gone.
    let creates = table.snapshot().is_err() || *mode == WriteMode::Overwrite;
    let written_plan = if creates {
        nullable_columns(plan.clone()).map_err(|e| DeltaError::Query {
            path: location.display.clone(),
            detail: e.to_string(),
        })?
    } else {
        plan.clone()
    };
    let write = |save_mode: SaveMode| {
        let plan = match save_mode {
            SaveMode::Overwrite => written_plan.clone(),
            _ if creates => written_plan.clone(),
            _ => plan.clone(),
        };
        append(
            location,
            table.clone(),
            session.clone(),
            plan,
            save_mode,
            partition_by,
            deletion_vectors == Some(true),
        )
    };
    match mode {
        WriteMode::Merge(keys) | WriteMode::Upsert(keys) => {
            check_keys(location, &rows, keys)?;
            let Ok(snapshot) = table.snapshot() else {
                return write(SaveMode::Append).await;
            };
            let delete_missing = matches!(mode, WriteMode::Merge(_));
            // The table becomes the rows: when their columns are not the table's, a merge
            // would keep columns the rows no longer have, so the table is replaced.
            if delete_missing && let Some(difference) = column_difference(&snapshot.schema(), &rows)
            {
                if replaced.is_some() {
                    // Replacing some rows cannot drop a column the others still have.
                    return Err(DeltaError::Schema {
                        path: location.display.clone(),
                        detail: format!(
                            "a merge with 'replace_where' needs the table's columns: \
                             {difference}; write the whole table instead"
                        ),
                    });
                }
                tracing::debug!(table = %location.url, "columns changed: the merge overwrites");
                return write(SaveMode::Overwrite).await;
            }
            let frame = DataFrame::new(state.clone(), plan.clone());
            let replaced = replaced.map(|plan| DataFrame::new(state.clone(), plan));
            merge(
                location,
                table.clone(),
                session.clone(),
                state,
                frame,
                keys,
                delete_missing,
                replaced,
                deletion_vectors,
            )
            .await
        }
        WriteMode::Append => {
            if let Ok(snapshot) = table.snapshot() {
                check_append_schema(location, &snapshot.schema(), &rows)?;
            }
            write(SaveMode::Append).await
        }
        WriteMode::Overwrite => write(SaveMode::Overwrite).await,
    }
}

/// `plan` with its columns of types Delta does not have as the types Delta stores them
/// in.
/// - Times: microseconds, and a time zone of `UTC` for instants (Delta's `timestamp`) or
///   none for wall-clock times (`timestamp_ntz`). An instant in another zone (`+00:00`,
///   as `now()` gives, or `Europe/Paris`) is the same instant in UTC; left alone, the
///   library would refuse it, or store it without its zone.
/// - Unsigned integers (`rank()` and `row_number()` give `UInt64`): a signed type that
///   holds every value (`UInt64` as `Int64`: a value past `i64::MAX` fails the write).
///   Left alone, the library would create the column as signed and every later write
///   would bring `UInt64`, which a merge cannot compare with the table's column.
fn with_delta_types(plan: LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
    let delta_type = |data_type: &DataType| match data_type {
        DataType::Timestamp(unit, zone) => {
            let zone = zone.as_ref().map(|_| Arc::<str>::from("UTC"));
            let wanted = DataType::Timestamp(TimeUnit::Microsecond, zone.clone());
            (*unit != TimeUnit::Microsecond || zone.as_deref() != data_type_zone(data_type))
                .then_some(wanted)
        }
        DataType::UInt8 => Some(DataType::Int16),
        DataType::UInt16 => Some(DataType::Int32),
        DataType::UInt32 | DataType::UInt64 => Some(DataType::Int64),
        _ => None,
    };
    let schema = plan.schema().clone();
    if !schema
        .fields()
        .iter()
        .any(|f| delta_type(f.data_type()).is_some())
    {
        return Ok(plan);
    }
    let columns: Vec<Expr> = schema
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            match delta_type(field.data_type()) {
                Some(wanted) => cast(column, wanted).alias(field.name()),
                None => column,
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(columns)?.build()
}

/// `plan` with every column nullable (each passed through a `CASE` without `ELSE`).
fn nullable_columns(plan: LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
    let schema = plan.schema().clone();
    if schema.fields().iter().all(|f| f.is_nullable()) {
        return Ok(plan);
    }
    let columns = schema
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            if field.is_nullable() {
                Ok(column)
            } else {
                datafusion::logical_expr::when(datafusion::prelude::lit(true), column)
                    .end()
                    .map(|e| e.alias(field.name()))
            }
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    LogicalPlanBuilder::from(plan).project(columns)?.build()
}

/// The time zone of a timestamp type.
fn data_type_zone(data_type: &DataType) -> Option<&str> {
    match data_type {
        DataType::Timestamp(_, zone) => zone.as_deref(),
        _ => None,
    }
}

/// Appends (or, with `Overwrite`, replaces) the table's rows; creates the table, with
/// its change data feed on (and its deletion vectors, with `deletion_vectors`), when
/// there is none.
async fn append(
    location: &TableLocation,
    table: DeltaTable,
    session: Arc<dyn Session>,
    plan: LogicalPlan,
    save_mode: SaveMode,
    partition_by: &[String],
    deletion_vectors: bool,
) -> Result<Written> {
    let properties = writer_properties(session.as_ref()).map_err(|e| {
        DeltaError::Invalid(format!(
            "the session's Parquet options do not apply to Delta table '{}': {e}",
            location.display
        ))
    })?;
    let mut builder = table
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(session)
        .with_save_mode(save_mode)
        .with_writer_properties(properties)
        .with_configuration(
            [(CHANGE_DATA_FEED, Some("true"))]
                .into_iter()
                .chain(deletion_vectors.then_some((DELETION_VECTORS, Some("true")))),
        );
    if save_mode == SaveMode::Overwrite {
        builder = builder.with_schema_mode(SchemaMode::Overwrite);
    }
    if !partition_by.is_empty() {
        builder = builder.with_partition_columns(partition_by.to_vec());
    }
    let table = builder
        .await
        .map_err(|e| DeltaError::from_write(&location.display, e))?;
    let version = table.version().unwrap_or_default();
    let rows = last_commit_rows(&table).await;
    tracing::debug!(table = %location.url, version, rows, ?save_mode, "committed a write");
    Ok(Written {
        version,
        source_rows: rows,
        inserted: rows,
        ..Written::default()
    })
}

/// The Parquet writer settings of `session` (compression, row group and page sizes,
/// statistics), so that a Delta table's data files are written as `COPY ... STORED AS
/// PARQUET` writes files (zstd at level 1 in a Knit session), and read back as fast.
pub(crate) fn writer_properties(
    session: &dyn Session,
) -> datafusion::error::Result<WriterProperties> {
    let mut options = TableParquetOptions {
        global: session.config().options().execution.parquet.clone(),
        ..TableParquetOptions::default()
    };
    // The table's schema is in its log; its files need no Arrow schema of their own.
    options.global.skip_arrow_metadata = true;
    Ok(WriterPropertiesBuilder::try_from(&options)?.build())
}

/// The rows the table's last commit added, from its operation metrics.
async fn last_commit_rows(table: &DeltaTable) -> u64 {
    use futures::StreamExt;
    let mut history = table.history(Some(1));
    match history.next().await {
        Some(Ok(info)) => info
            .info
            .get("operationMetrics")
            .and_then(|m| m.get("num_added_rows"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or_default(),
        _ => 0,
    }
}

/// Merges `source` into `table` on `keys`.
///
/// The library's merge keeps a copy of every target row that a source row matches
/// without changing it, one row at a time, which makes a merge of a large, mostly
/// unchanged table take minutes. So the source given to it holds only what changes:
/// the rows not in the table as they are (new keys, and keys whose other columns
/// differ), and, when `delete_missing`, the table's rows whose keys the rows no longer
/// have, marked for deletion. Rows that are the same are matched by nothing.
#[allow(clippy::too_many_arguments)]
async fn merge(
    location: &TableLocation,
    table: DeltaTable,
    session: Arc<dyn Session>,
    state: &SessionState,
    source: DataFrame,
    keys: &[String],
    delete_missing: bool,
    replaced: Option<DataFrame>,
    deletion_vectors: Option<bool>,
) -> Result<Written> {
    let snapshot = table
        .snapshot()
        .map_err(|e| DeltaError::from_delta(&location.display, e))?;
    let read_version = table.version();
    let target_schema = snapshot.schema();
    for key in keys {
        if target_schema.field(key).is_none() {
            return Err(DeltaError::Schema {
                path: location.display.clone(),
                detail: format!(
                    "key column '{key}' is not a column of the table; merge on its columns, \
                     or write it anew with OPTIONS ('mode' 'overwrite')"
                ),
            });
        }
    }
    let query = |e: datafusion::error::DataFusionError| DeltaError::Query {
        path: location.display.clone(),
        detail: e.to_string(),
    };
    let columns: Vec<String> = source
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    // An upsert keeps rows the query lacks, so the table's count is not the query's.
    let source_count = if delete_missing {
        None
    } else {
        Some(source.clone().count().await.map_err(query)? as u64)
    };
    let changes = changed_rows(&table, state, &source, keys, delete_missing, replaced)
        .await
        .map_err(query)?;
    let target = |name: &str| Expr::Column(Column::new(Some("target"), name));
    let from_source = |name: &str| Expr::Column(Column::new(Some("source"), name));
    let on = keys
        .iter()
        .map(|k| {
            Expr::BinaryExpr(BinaryExpr::new(
                Box::new(target(k)),
                Operator::IsNotDistinctFrom,
                Box::new(from_source(k)),
            ))
        })
        .reduce(Expr::and)
        .ok_or_else(|| DeltaError::Invalid("a merge needs key columns".to_string()))?;
    let on_sql = on.to_string();
    let (changes, rows_before) = match changes {
        Some((changes, rows_before))
            if deletion_vectors::applies(snapshot.snapshot(), deletion_vectors) =>
        {
            let properties = writer_properties(session.as_ref()).map_err(query)?;
            let before = rows_before.unwrap_or_default();
            let merged = deletion_vectors::merge(
                location, &table, state, changes, keys, properties, &on_sql,
            )
            .await?;
            let Some(merged) = merged else {
                let rows = source_count.unwrap_or(before);
                let version = commit_unchanged(location, &table, &on_sql, rows).await?;
                return Ok(Written {
                    version,
                    source_rows: rows,
                    ..Written::default()
                });
            };
            let written = Written {
                version: merged.version,
                // After a merge the table holds the query's rows; after an upsert, more.
                source_rows: source_count
                    .unwrap_or((before + merged.inserted).saturating_sub(merged.deleted)),
                inserted: merged.inserted,
                updated: merged.updated,
                deleted: merged.deleted,
            };
            tracing::debug!(table = %location.url, ?written, "committed a merge by deletion vectors");
            return Ok(written);
        }
        Some((changes, rows_before)) => {
            (merge_source(changes, &columns).map_err(query)?, rows_before)
        }
        // The table lacks some of the rows' columns (an upsert that adds one): every
        // row goes to the merge, which adds the columns.
        None => (
            source
                .with_column(DELETE_MARK, datafusion::prelude::lit(false))
                .map_err(query)?,
            None,
        ),
    };
    let marked = from_source(DELETE_MARK);
    let kept = Expr::Not(Box::new(marked.clone()));
    let others: Vec<&String> = columns.iter().filter(|c| !keys.contains(c)).collect();
    let mut builder = table
        .merge(changes, on)
        .with_source_alias("source")
        .with_target_alias("target")
        .with_session_state(session)
        .with_merge_schema(true)
        .when_matched_delete(|delete| delete.predicate(marked.clone()))
        .map_err(|e| DeltaError::from_delta(&location.display, e))?;
    if !others.is_empty() {
        builder = builder
            .when_matched_update(|update| {
                others
                    .iter()
                    .fold(update.predicate(kept.clone()), |update, c| {
                        update.update(Column::new_unqualified(c.as_str()), from_source(c))
                    })
            })
            .map_err(|e| DeltaError::from_delta(&location.display, e))?;
    }
    builder = builder
        .when_not_matched_insert(|insert| {
            columns
                .iter()
                .fold(insert.predicate(kept.clone()), |insert, c| {
                    insert.set(Column::new_unqualified(c.as_str()), from_source(c))
                })
        })
        .map_err(|e| DeltaError::from_delta(&location.display, e))?;
    let (table, metrics) = builder
        .await
        .map_err(|e| DeltaError::from_write(&location.display, e))?;
    let mut version = table.version().unwrap_or_default();
    let inserted = metrics.num_target_rows_inserted as u64;
    let deleted = metrics.num_target_rows_deleted as u64;
    // The rows the query gave: after a merge the table holds exactly them.
    let source_rows = match (rows_before, source_count) {
        (_, Some(count)) => count,
        (Some(before), None) => (before + inserted).saturating_sub(deleted),
        (None, None) => metrics.num_source_rows as u64,
    };
    if Some(version) == read_version {
        // Nothing changed, and the library commits nothing then; a merge is still a
        // version, as each project run is one, whose change feed is empty.
        version = commit_unchanged(location, &table, &on_sql, source_rows).await?;
    }
    tracing::debug!(table = %location.url, version, ?metrics, "committed a merge");
    Ok(Written {
        version,
        source_rows,
        inserted,
        updated: metrics.num_target_rows_updated as u64,
        deleted,
    })
}

/// The column marking a merge's source rows that delete their key.
const DELETE_MARK: &str = "__knit_delete";

/// The rows of `source` that change `table` (new keys, or other columns that differ),
/// and, when `delete_missing`, the keys of the table (of its `replaced` rows, when
/// given) that `source` lacks; with the table's row count. `None` when the table lacks
/// a column of `source`.
async fn changed_rows(
    table: &DeltaTable,
    state: &SessionState,
    source: &DataFrame,
    keys: &[String],
    delete_missing: bool,
    replaced: Option<DataFrame>,
) -> datafusion::error::Result<Option<(DataFrame, Option<u64>)>> {
    let provider = table
        .table_provider()
        .with_session(Arc::new(state.clone()))
        .await
        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
    let target_schema = provider.schema();
    let source_schema = source.schema().as_arrow().clone();
    if source_schema
        .fields()
        .iter()
        .any(|f| target_schema.field_with_name(f.name()).is_err())
    {
        return Ok(None);
    }
    let scan = LogicalPlanBuilder::scan(
        "target",
        datafusion::datasource::provider_as_source(provider),
        None,
    )?
    .build()?;
    let whole = DataFrame::new(state.clone(), scan);
    let rows_before = whole.clone().count().await? as u64;
    let target = replaced.unwrap_or(whole);
    // One pass over the source (its query may not give the same rows twice): joined
    // to the table on the keys, a row is new, changed, the same, or (with no source
    // row) gone.
    let present = |alias: &str| Expr::Column(Column::new(Some(alias), PRESENT));
    let column = |alias: &str, name: &str| Expr::Column(Column::new(Some(alias), name));
    let mut target_columns: Vec<Expr> = source_schema
        .fields()
        .iter()
        .map(|f| {
            cast(
                Expr::Column(Column::new_unqualified(f.name())),
                f.data_type().clone(),
            )
            .alias(f.name())
        })
        .collect();
    target_columns.push(datafusion::prelude::lit(true).alias(PRESENT));
    let target = target.select(target_columns)?.alias("t")?;
    let source = source
        .clone()
        .with_column(PRESENT, datafusion::prelude::lit(true))?
        .alias("s")?;
    let on: Vec<Expr> = keys
        .iter()
        .map(|k| {
            Expr::BinaryExpr(BinaryExpr::new(
                Box::new(column("s", k)),
                Operator::IsNotDistinctFrom,
                Box::new(column("t", k)),
            ))
        })
        .collect();
    let joined = source.join_on(target, datafusion::common::JoinType::Full, on)?;
    let differs = source_schema
        .fields()
        .iter()
        .filter(|f| !keys.contains(f.name()))
        .map(|f| {
            Expr::BinaryExpr(BinaryExpr::new(
                Box::new(column("s", f.name())),
                Operator::IsDistinctFrom,
                Box::new(column("t", f.name())),
            ))
        })
        .fold(present("t").is_null(), Expr::or);
    let mut wanted = present("s").is_not_null().and(differs);
    if delete_missing {
        wanted = wanted.or(present("s").is_null());
    }
    // Each change row carries both images: the query's values by name (NULL for a gone
    // key) and the table's under `BEFORE` (NULL for a new key), with where it was found.
    let mut rows: Vec<Expr> = source_schema
        .fields()
        .iter()
        .map(|f| column("s", f.name()).alias(f.name()))
        .collect();
    rows.extend(
        source_schema.fields().iter().map(|f| {
            column("t", f.name()).alias(format!("{}{}", deletion_vectors::BEFORE, f.name()))
        }),
    );
    rows.push(
        present("s")
            .is_not_null()
            .alias(deletion_vectors::IN_SOURCE),
    );
    rows.push(present("t").is_not_null().alias(deletion_vectors::IN_TABLE));
    let changes = joined.filter(wanted)?.select(rows)?;
    Ok(Some((changes, Some(rows_before))))
}

/// The source of the library's merge for `changes` (see [`changed_rows`]): each row with
/// the query's values, or for a gone key the table's (which meet its constraints),
/// marked `true` in [`DELETE_MARK`] when its key is to be deleted.
fn merge_source(changes: DataFrame, columns: &[String]) -> datafusion::error::Result<DataFrame> {
    let in_source = Expr::Column(Column::new_unqualified(deletion_vectors::IN_SOURCE));
    let mut rows = columns
        .iter()
        .map(|name| {
            datafusion::logical_expr::when(
                in_source.clone(),
                Expr::Column(Column::new_unqualified(name)),
            )
            .otherwise(Expr::Column(Column::new_unqualified(format!(
                "{}{name}",
                deletion_vectors::BEFORE
            ))))
            .map(|e| e.alias(name))
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    rows.push(Expr::Not(Box::new(in_source)).alias(DELETE_MARK));
    changes.select(rows)
}

/// The column marking rows present on one side of a merge's join.
const PRESENT: &str = "__knit_present";

/// Commits a version without data changes after a merge that changed nothing.
async fn commit_unchanged(
    location: &TableLocation,
    table: &DeltaTable,
    on: &str,
    source_rows: u64,
) -> Result<u64> {
    let snapshot = table
        .snapshot()
        .map_err(|e| DeltaError::from_delta(&location.display, e))?;
    let operation = DeltaOperation::Merge {
        predicate: None,
        merge_predicate: Some(on.to_string()),
        matched_predicates: Vec::new(),
        not_matched_predicates: Vec::new(),
        not_matched_by_source_predicates: Vec::new(),
    };
    let metrics = serde_json::json!({
        "num_source_rows": source_rows,
        "num_target_rows_inserted": 0,
        "num_target_rows_updated": 0,
        "num_target_rows_deleted": 0,
        "num_output_rows": 0,
    });
    let commit = CommitBuilder::default()
        .with_actions(Vec::new())
        .with_app_metadata(HashMap::from([("operationMetrics".to_string(), metrics)]))
        .build(Some(snapshot), table.log_store(), operation)
        .await
        .map_err(|e| DeltaError::from_delta(&location.display, e))?;
    Ok(commit.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_with_their_keys() {
        assert_eq!(WriteMode::parse("APPEND", None).unwrap(), WriteMode::Append);
        assert_eq!(
            WriteMode::parse("merge", Some(" a, b ,")).unwrap(),
            WriteMode::Merge(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            WriteMode::parse("upsert", Some("id")).unwrap(),
            WriteMode::Upsert(vec!["id".into()])
        );
        let error = WriteMode::parse("merge", Some(" , "))
            .unwrap_err()
            .to_string();
        assert!(error.contains("needs the key columns"), "{error}");
        let error = WriteMode::parse("overwrite", Some("id"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("applies to modes 'merge' and 'upsert'"),
            "{error}"
        );
        let error = WriteMode::parse("replace", None).unwrap_err().to_string();
        assert!(
            error.contains("unknown Delta write mode 'replace'"),
            "{error}"
        );
    }
}
