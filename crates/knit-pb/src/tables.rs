// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The files behind a project's warehouse tables, and the SQL that reads them.
//!
//! `schema.table` is `TABLES/schema/table.parquet` (or `.csv`), else `TABLES/table.*`.
//! A CSV table is read with the column types a warehouse loader gives it: those of a
//! `table.types.yaml` sidecar (`column: postgres_type`), `timestamptz` for columns named
//! `timestamp` or ending in `_timestamp`, `_at` or `_ts`, and text for the rest, with
//! column names in lower case. Parquet files carry their own types.
//!
//! A `csv:` input is different: pb pastes each cell into SQL as a literal (`'a@b.com'`,
//! `NULL`, `1`), so its rows become a `VALUES` list.

use std::path::Path;

use knit_sql::{quote_ident_if_needed, quote_literal};

use crate::error::{PbError, Result};
use crate::project::Origin;

/// The statement that registers a warehouse table, and the name queries use for it.
pub(crate) struct TableSql {
    pub name: String,
    pub create: String,
}

/// Resolves `schema.table` under `tables` and writes its `CREATE EXTERNAL TABLE`.
pub(crate) fn external_table(tables: &Path, table: &str, origin: &Origin) -> Result<TableSql> {
    let lower = table.to_lowercase();
    let (schema, name) = match lower.split_once('.') {
        Some((schema, name)) => (Some(schema), name),
        None => (None, lower.as_str()),
    };
    let mut candidates = Vec::new();
    for base in [schema.map(|s| tables.join(s)), Some(tables.to_path_buf())]
        .into_iter()
        .flatten()
    {
        for extension in ["parquet", "csv"] {
            candidates.push(base.join(format!("{name}.{extension}")));
        }
        // A folder of Parquet files.
        candidates.push(base.join(name));
    }
    let path = candidates.iter().find(|p| p.exists()).ok_or_else(|| {
        origin.error(format!(
            "table '{table}' not found: looked for {}; pass the folder of the tables with --tables",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let qualified = match schema {
        Some(schema) => format!(
            "{}.{}",
            quote_ident_if_needed(schema),
            quote_ident_if_needed(name)
        ),
        None => quote_ident_if_needed(name),
    };
    let location = quote_literal(&path.display().to_string());
    let create = if path.extension().is_some_and(|e| e == "csv") {
        let columns = csv_columns(path, origin)?;
        format!(
            "CREATE EXTERNAL TABLE {qualified} ({}) STORED AS CSV LOCATION {location} \
             OPTIONS ('format.has_header' 'true')",
            columns.join(", ")
        )
    } else {
        format!("CREATE EXTERNAL TABLE {qualified} STORED AS PARQUET LOCATION {location}")
    };
    Ok(TableSql {
        name: qualified,
        create,
    })
}

/// `name TYPE` for each column of a CSV table.
fn csv_columns(path: &Path, origin: &Origin) -> Result<Vec<String>> {
    let text = read(path)?;
    let records = csv_records(&text, path, origin)?;
    let header = records.first().cloned().unwrap_or_default();
    let sidecar = path.with_extension("types.yaml");
    let types: Vec<(String, String)> = if sidecar.exists() {
        let value: serde_yaml::Value =
            serde_yaml::from_str(&read(&sidecar)?).map_err(|source| PbError::Yaml {
                file: sidecar.display().to_string(),
                source,
            })?;
        value
            .as_mapping()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        Some((k.as_str()?.to_lowercase(), v.as_str()?.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut columns = Vec::new();
    for name in header {
        let name = name.to_lowercase();
        let sql_type = match types.iter().find(|(c, _)| *c == name) {
            Some((_, t)) => postgres_type(t).ok_or_else(|| {
                origin.error(format!(
                    "{}: type '{t}' of column '{name}' is not supported",
                    sidecar.display()
                ))
            })?,
            None if name == "timestamp"
                || name.ends_with("_timestamp")
                || name.ends_with("_at")
                || name.ends_with("_ts") =>
            {
                "TIMESTAMP WITH TIME ZONE".to_string()
            }
            None => "VARCHAR".to_string(),
        };
        columns.push(format!("{} {sql_type}", quote_ident_if_needed(&name)));
    }
    Ok(columns)
}

/// The DataFusion type of a PostgreSQL column type.
fn postgres_type(pg: &str) -> Option<String> {
    let pg = pg.trim().to_lowercase();
    if let Some(args) = pg
        .strip_prefix("numeric")
        .or_else(|| pg.strip_prefix("decimal"))
    {
        let args = args.trim();
        return Some(if args.is_empty() {
            "DOUBLE".to_string()
        } else {
            format!("DECIMAL{args}")
        });
    }
    Some(
        match pg.as_str() {
            "text" | "varchar" | "character varying" | "char" | "character" => "VARCHAR",
            "integer" | "int" | "int4" => "INT",
            "bigint" | "int8" => "BIGINT",
            "smallint" | "int2" => "SMALLINT",
            "double precision" | "float8" | "float" => "DOUBLE",
            "real" | "float4" => "REAL",
            "boolean" | "bool" => "BOOLEAN",
            "date" => "DATE",
            "timestamp" | "timestamp without time zone" => "TIMESTAMP",
            "timestamptz" | "timestamp with time zone" => "TIMESTAMP WITH TIME ZONE",
            _ => return None,
        }
        .to_string(),
    )
}

/// A `csv:` input's rows as `(SELECT * FROM (VALUES ...) AS t(columns))`, each cell
/// pasted as SQL text as pb does.
pub(crate) fn pasted_csv(path: &Path, origin: &Origin) -> Result<String> {
    let text = read(path)?;
    let mut records = csv_records(&text, path, origin)?.into_iter();
    let header: Vec<String> = records
        .next()
        .unwrap_or_default()
        .iter()
        .map(|c| quote_ident_if_needed(&c.to_lowercase()))
        .collect();
    let mut rows = Vec::new();
    for (n, record) in records.enumerate() {
        let cells: Vec<String> = record
            .into_iter()
            .map(|c| {
                if c.trim().is_empty() {
                    "NULL".to_string()
                } else {
                    c
                }
            })
            .collect();
        if cells.len() != header.len() {
            return Err(origin.error(format!(
                "{}: row {} has {} cells, the header {}",
                path.display(),
                n + 2,
                cells.len(),
                header.len()
            )));
        }
        rows.push(format!("({})", cells.join(", ")));
    }
    if rows.is_empty() {
        return Err(origin.error(format!(
            "{}: no rows; pb cannot paste an empty csv input either",
            path.display()
        )));
    }
    Ok(format!(
        "(SELECT * FROM (VALUES {}) AS t({}))",
        rows.join(", "),
        header.join(", ")
    ))
}

/// The records of a CSV text (a header first), each a list of cells; blank lines are
/// skipped.
fn csv_records(text: &str, path: &Path, origin: &Origin) -> Result<Vec<Vec<String>>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|record| {
            record
                .map(|r| r.iter().map(String::from).collect())
                .map_err(|e| origin.error(format!("{}: not valid CSV: {e}", path.display())))
        })
        .collect()
}

fn read(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|source| PbError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // A byte-order mark (editors on Windows write one) is not part of the text.
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}
