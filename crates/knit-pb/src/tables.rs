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
//! column names in lower case; where Arrow's CSV reader reads a file otherwise than
//! PostgreSQL's loader (`""`, `t` for a boolean), the file is read through a view (see
//! `csv_values`). Parquet files and Delta tables carry their own types, and
//! their columns are renamed to lower case too: the project's SQL names them unquoted, as
//! a warehouse matches such names in any case.
//!
//! A `csv:` input is different: pb pastes each cell into SQL as a literal (`'a@b.com'`,
//! `NULL`, `1`), so its rows become a `VALUES` list.

use std::path::{Path, PathBuf};

use knit_sql::{quote_ident_if_needed, quote_literal};

use crate::csv_values;
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
    /// The name `table` registers: `name`, or for a CSV file read through a view (see
    /// `csv_values`) a name of its own, which `view` reads.
    pub files_table: String,
    /// For a CSV file read through a view, the view named `name` that gives its rows.
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
    // A text column holding `""` (PostgreSQL's empty text, which Arrow's reader makes
    // NULL) is read from a copy that marks it (see `csv_values`).
    let is_text: Vec<bool> = columns.iter().map(|c| c.sql_type == "VARCHAR").collect();
    let unused_marker = csv_values::unused_marker(&text);
    let marked = unused_marker.and_then(|marker| {
        csv_values::with_empty_text_marked(&text, &is_text, marker)
            .map(|(copy, columns)| (marker, copy, columns))
    });
    let (marker, marked_columns, location) = match marked {
        Some((marker, copy, columns)) => (
            Some(marker),
            columns,
            quote_literal(&marked_copy(&path, &copy)?.display().to_string()),
        ),
        None => {
            if unused_marker.is_none() && text.contains("\"\"") {
                tracing::warn!(
                    file = %path.display(),
                    "a quoted empty field (\"\") may read as NULL, not as PostgreSQL's \
                     empty text: the file holds every character Knit marks such fields \
                     with (\\x01 to \\x08); to keep '', give the table as Parquet"
                );
            }
            (None, Vec::new(), location)
        }
    };
    let viewed = marker.is_some() || columns.iter().any(|c| c.converted);
    if !viewed {
        let declared: Vec<String> = columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.sql_type))
            .collect();
        return Ok(TableSql {
            table: format!(
                "CREATE EXTERNAL TABLE IF NOT EXISTS {qualified} ({}) STORED AS CSV \
                 LOCATION {location} OPTIONS ('format.has_header' 'true')",
                declared.join(", ")
            ),
            files_table: qualified.clone(),
            name: qualified,
            qualifiers,
            view: None,
        });
    }
    // The file under a name of its own, its columns as text where the view converts
    // them; the view, named as the project names the table, gives the values.
    let mut file_parts = quoted.clone();
    if let Some(last) = file_parts.last_mut() {
        *last = quote_ident_if_needed(&format!("__knit_csv_{name}"));
    }
    let files_table = file_parts.join(".");
    let declared: Vec<String> = columns
        .iter()
        .map(|c| {
            let sql_type = if c.converted { "VARCHAR" } else { &c.sql_type };
            format!("{} {sql_type}", c.name)
        })
        .collect();
    let values: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let value = match marker {
                Some(marker) if marked_columns.get(i) == Some(&true) => {
                    csv_values::unmarked(&c.name, marker)
                }
                _ if c.converted => csv_values::converted(&c.sql_type, &c.name),
                _ => c.name.clone(),
            };
            format!("{value} AS {}", c.name)
        })
        .collect();
    Ok(TableSql {
        table: format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS {files_table} ({}) STORED AS CSV LOCATION \
             {location} OPTIONS ('format.has_header' 'true')",
            declared.join(", ")
        ),
        view: Some(format!(
            "CREATE OR REPLACE VIEW {qualified} AS SELECT {} FROM {files_table}",
            values.join(", ")
        )),
        files_table,
        name: qualified,
        qualifiers,
    })
}

/// Writes `copy`, the marked copy of the CSV file at `path` (see `csv_values`), to
/// Knit's folder in the temporary directory, named by its content, so that runs over an
/// unchanged file read the same copy (a profile store sees the same file); written
/// under another name and renamed, so that a concurrent run never reads half of it.
fn marked_copy(path: &Path, copy: &str) -> Result<PathBuf> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    copy.hash(&mut hasher);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let folder = std::env::temp_dir().join("knit-csv");
    let target = folder.join(format!("{stem}-{:016x}.csv", hasher.finish()));
    if target.is_file() {
        return Ok(target);
    }
    let write = |to: &Path, text: &str| -> std::io::Result<()> {
        std::fs::create_dir_all(&folder)?;
        std::fs::write(to, text)
    };
    let partial = folder.join(format!(
        ".{stem}-{}-{:016x}.partial",
        std::process::id(),
        hasher.finish()
    ));
    write(&partial, copy)
        .and_then(|()| std::fs::rename(&partial, &target))
        .map_err(|source| PbError::Write {
            path: target.clone(),
            source,
        })?;
    Ok(target)
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

/// A column of a CSV table.
struct CsvColumn {
    /// Its name, as SQL.
    name: String,
    /// Its type, as Knit names it.
    sql_type: String,
    /// It holds a value that PostgreSQL's loader reads and Arrow's CSV reader refuses
    /// (`t` for a boolean): it is read as text and converted.
    converted: bool,
}

/// The columns of a CSV table.
fn csv_columns(text: &str, path: &Path, origin: &Origin) -> Result<Vec<CsvColumn>> {
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
        let at = columns.len();
        let converted = records
            .iter()
            .skip(1)
            .filter_map(|record| record.get(at))
            .any(|value| csv_values::needs_conversion(&sql_type, value));
        columns.push(CsvColumn {
            name: quote_ident_if_needed(&name),
            sql_type,
            converted,
        });
    }
    Ok(columns)
}

/// The DataFusion type of a PostgreSQL column type.
fn postgres_type(pg: &str) -> Option<String> {
    let pg = pg.trim().to_lowercase();
    // A length (`varchar(255)`) or a fractional-seconds precision (`timestamp(3)`,
    // `timestamp(3) with time zone`) changes no value Knit reads.
    let sized = |name: &str| {
        pg.strip_prefix(name)
            .and_then(|rest| rest.trim_start().strip_prefix('('))
            .and_then(|rest| rest.split_once(')'))
            .filter(|(size, _)| size.trim().chars().all(|c| c.is_ascii_digit()))
            .map(|(_, after)| format!("{name}{after}"))
    };
    let pg = [
        "varchar",
        "character varying",
        "char",
        "character",
        "timestamptz",
        "timestamp",
    ]
    .iter()
    .find_map(|name| sized(name))
    .unwrap_or(pg);
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
            // uuid and JSON are text to Knit (JSON functions read JSON text).
            "text" | "varchar" | "character varying" | "char" | "character" | "uuid" | "json"
            | "jsonb" | "citext" => "VARCHAR",
            "integer" | "int" | "int4" | "serial" | "serial4" => "INT",
            "bigint" | "int8" | "bigserial" | "serial8" => "BIGINT",
            "smallint" | "int2" => "SMALLINT",
            "double precision" | "float8" | "float" | "double" => "DOUBLE",
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
        if let Some((cell, column)) = cells
            .iter()
            .zip(&header)
            .find(|(cell, _)| !is_sql_value(cell))
        {
            return Err(origin.error(format!(
                "{}: row {}, column {column}: {cell} is no SQL value: pb pastes a csv \
                 input's cells into its SQL as they are written, so text is written in \
                 quotes ('{}') and a missing value as NULL or an empty cell",
                path.display(),
                n + 2,
                quoted_text(cell),
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

/// `cell`'s text with its quotes doubled, as a SQL string holds it; a cell quoted
/// already (`'it's'`) is the text between its quotes.
fn quoted_text(cell: &str) -> String {
    let text = (cell.strip_prefix('\''))
        .and_then(|rest| rest.strip_suffix('\''))
        .unwrap_or(cell);
    text.replace('\'', "''")
}

/// Whether `cell`, pasted into SQL, is a value: one expression that reads no column
/// (`'a@b.com'`, `12`, `NULL`, `'2024-01-01'::date`), where `a@b.com` or
/// `2024-01-01 10:00:00` is no expression, and `abc` a column of no table.
fn is_sql_value(cell: &str) -> bool {
    use knit_sql::sqlparser::ast::{Expr, visit_expressions};
    use knit_sql::sqlparser::dialect::GenericDialect;
    use knit_sql::sqlparser::parser::Parser;
    use knit_sql::sqlparser::tokenizer::Token;
    let Ok(mut parser) = Parser::new(&GenericDialect {}).try_with_sql(cell) else {
        return false;
    };
    let Ok(expr) = parser.parse_expr() else {
        return false;
    };
    if parser.peek_token().token != Token::EOF {
        return false;
    }
    let reads_column = visit_expressions(&expr, |e| match e {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => std::ops::ControlFlow::Break(()),
        _ => std::ops::ControlFlow::Continue(()),
    });
    reads_column.is_continue()
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
        registered_with_types(csv, None)
    }

    fn registered_with_types(csv: &str, types: Option<&str>) -> TableSql {
        // Tests run at once: each registration has a folder of its own.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("knit-pb-tables-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("shop")).unwrap();
        std::fs::write(dir.join("shop/visits.csv"), csv).unwrap();
        if let Some(types) = types {
            std::fs::write(dir.join("shop/visits.types.yaml"), types).unwrap();
        }
        let origin = Origin {
            file: "models/inputs.yaml".into(),
            key: "inputs[0]".into(),
        };
        let sql = external_table(&dir, "shop.visits", &origin).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        sql
    }

    /// `pasted_csv` of `csv`, written to a file of its own.
    fn pasted(csv: &str) -> Result<String> {
        let path = std::env::temp_dir().join(format!(
            "knit-pb-pasted-{}-{}.csv",
            std::process::id(),
            csv.len()
        ));
        std::fs::write(&path, csv).unwrap();
        let origin = Origin {
            file: "models/inputs.yaml".into(),
            key: "inputs[0]".into(),
        };
        let pasted = pasted_csv(&path, &origin);
        let _ = std::fs::remove_file(&path);
        pasted
    }

    #[test]
    fn csv_inputs_paste_their_cells_as_sql_values() {
        let sql = pasted(
            "ID,AMOUNT,AT,NOTE\n'a@b.com',12.5,'2024-01-01 10:00:00'::timestamp,NULL\n\
             'c',-3,'2024-01-02',\n",
        )
        .unwrap();
        assert_eq!(
            sql,
            "(SELECT * FROM (VALUES ('a@b.com', 12.5, '2024-01-01 10:00:00'::timestamp, \
             NULL), ('c', -3, '2024-01-02', NULL)) AS t(id, amount, at, note))"
        );
        // Text without quotes, a time without quotes, and a half-quoted value are no
        // values: the error names the file's row and column and says how to write them.
        for (cell, shown) in [
            ("an02", "an02"),
            ("2025-05-12 09:30:44", "2025-05-12 09:30:44"),
            ("'it's'", "it''s"),
        ] {
            let message = pasted(&format!("id,at\n'x',1\n'y',{cell}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                message.contains("models/inputs.yaml: inputs[0]")
                    && message.contains("row 3, column at")
                    && message.contains(&format!("text is written in quotes ('{shown}')")),
                "{message}"
            );
        }
    }

    #[test]
    fn postgres_types_with_sizes_and_aliases_are_read() {
        for (pg, knit) in [
            ("varchar(255)", "VARCHAR"),
            ("character varying (64)", "VARCHAR"),
            ("uuid", "VARCHAR"),
            ("jsonb", "VARCHAR"),
            ("numeric(10, 2)", "DECIMAL(10, 2)"),
            ("numeric", "DOUBLE"),
            ("bigserial", "BIGINT"),
            ("timestamp(3)", "TIMESTAMP"),
            ("timestamp(6) with time zone", "TIMESTAMP WITH TIME ZONE"),
            ("TIMESTAMPTZ(3)", "TIMESTAMP WITH TIME ZONE"),
            ("Boolean", "BOOLEAN"),
        ] {
            assert_eq!(postgres_type(pg).as_deref(), Some(knit), "{pg}");
        }
        for unknown in ["interval", "varchar(x)", "text[]"] {
            assert_eq!(postgres_type(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn a_csv_with_a_quoted_empty_text_field_is_read_from_a_marked_copy_through_a_view() {
        let sql = registered(
            "user_id,page,created_at\nu1,\"\",2024-01-01\nu2,,\n\"a, \"\"b\"\"\",\"\",\"\"\n",
        );
        assert_eq!(sql.name, "shop.visits");
        assert_eq!(sql.files_table, "shop.__knit_csv_visits");
        assert_eq!(sql.qualifiers, ["CREATE SCHEMA IF NOT EXISTS shop"]);
        assert!(sql.table.starts_with(
            "CREATE EXTERNAL TABLE IF NOT EXISTS shop.__knit_csv_visits (user_id VARCHAR, \
             page VARCHAR, created_at TIMESTAMP WITH TIME ZONE) STORED AS CSV LOCATION '"
        ));
        assert!(sql.table.ends_with("OPTIONS ('format.has_header' 'true')"));
        // The copy: `""` of the text column is the marker, of the time column empty;
        // the quoted comma and doubled quotes are kept.
        let location = sql.table.split('\'').nth(1).unwrap();
        assert!(location.contains("knit-csv"), "{location}");
        assert_eq!(
            std::fs::read_to_string(location).unwrap(),
            "user_id,page,created_at\nu1,\u{1},2024-01-01\nu2,,\n\"a, \"\"b\"\"\",\u{1},\n"
        );
        assert_eq!(
            sql.view.as_deref(),
            Some(
                "CREATE OR REPLACE VIEW shop.visits AS SELECT user_id AS user_id, CASE WHEN \
                 page = chr(1) THEN '' ELSE page END AS page, created_at AS created_at FROM \
                 shop.__knit_csv_visits"
            )
        );
        // The same content reads the same copy.
        let again = registered(
            "user_id,page,created_at\nu1,\"\",2024-01-01\nu2,,\n\"a, \"\"b\"\"\",\"\",\"\"\n",
        );
        assert_eq!(again.table, sql.table);
    }

    #[test]
    fn booleans_and_times_arrow_refuses_are_read_as_text_and_converted() {
        let sql = registered_with_types(
            "user_id,active,n,created_at\nu1,t,1,2024-01-07 10:00\nu2,FALSE,2,\n",
            Some("active: boolean\nn: integer\n"),
        );
        assert_eq!(sql.files_table, "shop.__knit_csv_visits");
        assert!(
            sql.table.contains(
                "(user_id VARCHAR, active VARCHAR, n INT, created_at VARCHAR) STORED AS CSV"
            ),
            "{}",
            sql.table
        );
        assert!(!sql.table.contains("format.quote"), "{}", sql.table);
        let view = sql.view.unwrap();
        assert!(
            view.contains(
                "SELECT user_id AS user_id, to_boolean(trim(active)) AS active, n AS n, \
                 CAST(regexp_replace(trim(created_at), "
            ),
            "{view}"
        );
        // Values Arrow reads need no view.
        let plain = registered_with_types(
            "user_id,active,created_at\nu1,true,2024-01-07 10:00:00\n",
            Some("active: boolean\n"),
        );
        assert!(plain.view.is_none());
    }

    #[test]
    fn a_csv_without_a_quoted_empty_text_field_is_read_as_it_is() {
        for csv in [
            "user_id,page\nu1,\nu2,\"home\"\n",
            "user_id,page\nu1,\"a \"\"b\"\"\"\nu2,\"a, b\"\n",
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
