// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The files behind a project's warehouse tables, and the SQL that reads them.
//!
//! `db.schema.table` is `TABLES/db/schema/table.parquet` (or `.csv`, or a folder of
//! Parquet files, or a Delta table's folder), else `TABLES/schema/table.*`, else `TABLES/table.*`, names matched in
//! any case.
//! A CSV table is read with the column types a warehouse loader gives it: those of a
//! `table.types.yaml` sidecar (`column: postgres_type`), `timestamptz` for columns named
//! `timestamp` or ending in `_timestamp`, `_at` or `_ts`, and text for the rest, with
//! column names in lower case. Parquet files and Delta tables carry their own types, and
//! their columns are renamed to lower case too: the project's SQL names them unquoted, as
//! a warehouse matches such names in any case.
//!
//! A `csv:` input is different: pb pastes each cell into SQL as a literal (`'a@b.com'`,
//! `NULL`, `1`), so its rows become a `VALUES` list.

use std::path::{Path, PathBuf};

use knit_sql::{quote_ident_if_needed, quote_literal};

use crate::csv_quoting;
use crate::error::{PbError, Result};
use crate::project::Origin;

/// The statements that register a warehouse table, and the name queries use for it.
pub(crate) struct TableSql {
    /// `db.schema.table`, `schema.table` or `table`, as the project names it (lower case).
    pub name: String,
    /// `CREATE DATABASE` / `CREATE SCHEMA` for its qualifiers.
    pub qualifiers: Vec<String>,
    /// The `CREATE EXTERNAL TABLE` of its files.
    pub table: String,
    /// The name `table` registers: `name`, or for a CSV file read raw (see
    /// `csv_quoting`) the raw table's, which `view` reads.
    pub files_table: String,
    /// For a CSV file read raw, the view named `name` that gives its rows.
    pub view: Option<String>,
}

/// Resolves `db.schema.table` (or `schema.table`, or `table`) under `tables` and writes
/// its statements. The file is looked for at `db/schema/table`, then `schema/table`, then
/// `table`, each as `.parquet`, `.csv` or a folder, with names matched case-insensitively
/// (warehouses upper-case them).
pub(crate) fn external_table(tables: &Path, table: &str, origin: &Origin) -> Result<TableSql> {
    let lower = table.to_lowercase();
    let parts: Vec<&str> = lower.split('.').map(|p| p.trim_matches('"')).collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(origin.error(format!(
            "table '{table}' is not a table name (table, schema.table or db.schema.table)"
        )));
    }
    let Some((name, qualifiers)) = parts.split_last() else {
        return Err(origin.error("the table name is empty"));
    };
    // The folders to look in: every suffix of the qualifiers, longest first.
    let mut candidates = Vec::new();
    for skip in 0..=qualifiers.len() {
        let folder = qualifiers[skip..]
            .iter()
            .fold(tables.to_path_buf(), |dir, part| dir.join(part));
        for file in [
            format!("{name}.parquet"),
            format!("{name}.csv"),
            name.to_string(),
        ] {
            candidates.push(folder.join(file));
        }
    }
    let path = candidates
        .iter()
        .find_map(|p| find_case_insensitive(tables, p))
        .ok_or_else(|| {
            origin.error(format!(
                "table '{table}' not found: looked for {} (names in any case); \
                 pass the folder of the tables with --tables",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let quoted: Vec<String> = parts.iter().map(|p| quote_ident_if_needed(p)).collect();
    let qualified = quoted.join(".");
    let mut qualifiers = Vec::new();
    match quoted.as_slice() {
        [db, schema, _] => {
            qualifiers.push(format!("CREATE DATABASE IF NOT EXISTS {db}"));
            qualifiers.push(format!("CREATE SCHEMA IF NOT EXISTS {db}.{schema}"));
        }
        [schema, _] => qualifiers.push(format!("CREATE SCHEMA IF NOT EXISTS {schema}")),
        _ => {}
    }
    let location = quote_literal(&path.display().to_string());
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        let format = if path.join("_delta_log").is_dir() {
            "DELTA"
        } else {
            "PARQUET"
        };
        return Ok(TableSql {
            table: format!(
                "CREATE EXTERNAL TABLE IF NOT EXISTS {qualified} STORED AS {format} LOCATION \
                 {location} OPTIONS ('knit.column_names' 'lowercase')"
            ),
            files_table: qualified.clone(),
            name: qualified,
            qualifiers,
            view: None,
        });
    }
    let text = read(&path)?;
    let columns = csv_columns(&text, &path, origin)?;
    let declared = |column: &(String, String)| format!("{} {}", column.0, column.1);
    let quoting = csv_quoting::quoting(&text);
    let raw_quote = csv_quoting::unused_quote(&text);
    let (true, false, Some(raw_quote)) = (quoting.quoted_empty, quoting.needs_reader, raw_quote)
    else {
        if quoting.quoted_empty {
            tracing::warn!(
                file = %path.display(),
                "a quoted empty field (\"\") reads as NULL: a quoted field of this file holds \
                 a comma, a line break or a quote, which only the CSV reader splits right"
            );
        }
        return Ok(TableSql {
            table: format!(
                "CREATE EXTERNAL TABLE IF NOT EXISTS {qualified} ({}) STORED AS CSV \
                 LOCATION {location} OPTIONS ('format.has_header' 'true')",
                columns.iter().map(declared).collect::<Vec<_>>().join(", ")
            ),
            files_table: qualified.clone(),
            name: qualified,
            qualifiers,
            view: None,
        });
    };
    // Read raw (see `csv_quoting`): each field with its quotes, as text, under a name of
    // its own; the view named as the project names the table gives the values.
    let mut raw_parts = quoted.clone();
    if let Some(last) = raw_parts.last_mut() {
        *last = quote_ident_if_needed(&format!("__knit_csv_{}", name));
    }
    let raw = raw_parts.join(".");
    let text_columns: Vec<String> = columns
        .iter()
        .map(|(column, _)| format!("{column} VARCHAR"))
        .collect();
    let values: Vec<String> = columns
        .iter()
        .map(|(column, sql_type)| {
            let value = csv_quoting::unquoted(column);
            if sql_type == "VARCHAR" {
                format!("{value} AS {column}")
            } else {
                format!("CAST({value} AS {sql_type}) AS {column}")
            }
        })
        .collect();
    Ok(TableSql {
        table: format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS {raw} ({}) STORED AS CSV LOCATION {location} \
             OPTIONS ('format.has_header' 'true', 'format.quote' '{raw_quote}')",
            text_columns.join(", ")
        ),
        view: Some(format!(
            "CREATE OR REPLACE VIEW {qualified} AS SELECT {} FROM {raw}",
            values.join(", ")
        )),
        files_table: raw,
        name: qualified,
        qualifiers,
    })
}

/// `wanted` (a path under `root`, in lower case) as it exists on disk, each component
/// below `root` matched without regard to case; exact matches win.
fn find_case_insensitive(root: &Path, wanted: &Path) -> Option<PathBuf> {
    if wanted.exists() {
        return Some(wanted.to_path_buf());
    }
    let relative = wanted.strip_prefix(root).ok()?;
    let mut current = root.to_path_buf();
    for component in relative.components() {
        let target = component.as_os_str().to_string_lossy().to_lowercase();
        let entry = std::fs::read_dir(&current)
            .ok()?
            .flatten()
            .find(|entry| entry.file_name().to_string_lossy().to_lowercase() == target)?;
        current = entry.path();
    }
    Some(current)
}

/// The name (as SQL) and the type of each column of a CSV table.
fn csv_columns(text: &str, path: &Path, origin: &Origin) -> Result<Vec<(String, String)>> {
    let records = csv_records(text, path, origin)?;
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
        columns.push((quote_ident_if_needed(&name), sql_type));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(csv: &str) -> TableSql {
        let dir = std::env::temp_dir().join(format!("knit-pb-tables-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("shop")).unwrap();
        std::fs::write(dir.join("shop/visits.csv"), csv).unwrap();
        let origin = Origin {
            file: "models/inputs.yaml".into(),
            key: "inputs[0]".into(),
        };
        let sql = external_table(&dir, "shop.visits", &origin).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        sql
    }

    #[test]
    fn a_csv_with_a_quoted_empty_field_is_read_raw_through_a_view() {
        let sql = registered("user_id,page,created_at\nu1,\"\",2024-01-01\nu2,,\n");
        assert_eq!(sql.name, "shop.visits");
        assert_eq!(sql.files_table, "shop.__knit_csv_visits");
        assert_eq!(sql.qualifiers, ["CREATE SCHEMA IF NOT EXISTS shop"]);
        assert!(sql.table.starts_with(
            "CREATE EXTERNAL TABLE IF NOT EXISTS shop.__knit_csv_visits (user_id VARCHAR, \
             page VARCHAR, created_at VARCHAR) STORED AS CSV"
        ));
        assert!(
            sql.table.ends_with("'format.quote' '\u{1}')"),
            "{}",
            sql.table
        );
        let view = sql.view.unwrap();
        assert!(view.starts_with("CREATE OR REPLACE VIEW shop.visits AS SELECT "));
        assert!(
            view.contains(" AS page, CAST(CASE WHEN created_at LIKE"),
            "{view}"
        );
        assert!(
            view.ends_with(
                "AS TIMESTAMP WITH TIME ZONE) AS created_at FROM shop.__knit_csv_visits"
            )
        );
    }

    #[test]
    fn a_csv_without_one_or_whose_quotes_hold_a_comma_is_read_as_ever() {
        for csv in [
            "user_id,page\nu1,\nu2,\"home\"\n",
            "user_id,page\nu1,\"\"\nu2,\"a, b\"\n",
        ] {
            let sql = registered(csv);
            assert_eq!(sql.files_table, "shop.visits");
            assert!(sql.view.is_none());
            assert!(sql.table.starts_with(
                "CREATE EXTERNAL TABLE IF NOT EXISTS shop.visits (user_id VARCHAR, page VARCHAR) \
                 STORED AS CSV LOCATION "
            ));
            assert!(sql.table.ends_with("OPTIONS ('format.has_header' 'true')"));
        }
    }
}
