// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Printing query results as a table, CSV, JSON or NDJSON.
//!
//! Rows are written as they arrive, except in the table format, which sizes its columns
//! a page of rows at a time ([`crate::table`]). Data goes to stdout; the `N rows in
//! X.XXs` line goes to stdout after a table (both are for a person to read) and to
//! stderr after CSV and JSON, so that those stay machine-readable when piped.

use std::fmt;
use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::{ArrayWriter, LineDelimitedWriter};
use datafusion::error::DataFusionError;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

use crate::error::{CliError, Result};
use crate::table::{MAX_CELL_CHARS, PAGE_ROWS, TablePage};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrintFormat {
    /// An aligned table with borders.
    Table,
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

impl FromStr for PrintFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Self::Table),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            "ndjson" => Ok(Self::Ndjson),
            other => Err(format!(
                "unknown format '{other}': use table, csv, json or ndjson"
            )),
        }
    }
}

impl fmt::Display for PrintFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Table => "table",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Ndjson => "ndjson",
        };
        f.write_str(name)
    }
}

/// How many rows a table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxRows {
    /// Every row.
    Unlimited,
    /// At most this many rows; the rest are counted, not shown.
    Limited(usize),
}

impl FromStr for MaxRows {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("inf") || s.eq_ignore_ascii_case("all") {
            return Ok(Self::Unlimited);
        }
        s.parse()
            .map(Self::Limited)
            .map_err(|_| format!("invalid row count '{s}': use a number or 'inf'"))
    }
}

/// Settings for printing results.
#[derive(Debug, Clone)]
pub struct PrintOptions {
    /// The output format.
    pub format: PrintFormat,
    /// Rows shown by the table format.
    pub maxrows: MaxRows,
    /// No `N rows in X.XXs` line.
    pub quiet: bool,
    /// The `N rows` line also gives the elapsed time.
    pub timing: bool,
}

impl PrintOptions {
    /// Writes every batch of `stream` to `out` and returns the number of rows.
    pub async fn print_stream(
        &self,
        schema: SchemaRef,
        mut stream: SendableRecordBatchStream,
        out: &mut (dyn Write + Send),
    ) -> Result<PrintedRows> {
        let mut rows = 0usize;
        match self.format {
            PrintFormat::Table => {
                let limit = match self.maxrows {
                    MaxRows::Unlimited => usize::MAX,
                    MaxRows::Limited(n) => n,
                };
                let mut page = TablePage::new(&schema);
                let mut shown_rows = 0usize;
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    rows += batch.num_rows();
                    let take = limit.saturating_sub(shown_rows).min(batch.num_rows());
                    let mut start = 0;
                    while start < take {
                        let count = (PAGE_ROWS - page.len()).min(take - start);
                        page.push(&batch, start, count).map_err(arrow_io)?;
                        start += count;
                        if page.len() == PAGE_ROWS {
                            page.write(out)?;
                            // Between pages a cancelled statement stops.
                            tokio::task::yield_now().await;
                        }
                    }
                    shown_rows += take;
                }
                if page.len() > 0 || shown_rows == 0 {
                    page.write(out)?;
                }
                return Ok(PrintedRows {
                    rows,
                    shown: shown_rows.min(rows),
                    cut: page.cut,
                });
            }
            PrintFormat::Csv => {
                let mut writer = CsvWriterBuilder::new().with_header(true).build(&mut *out);
                while let Some(batch) = stream.next().await {
                    // CSV has no lists or structs: they are written as JSON text.
                    let batch = knit_core::nested_as_json(&batch?)?;
                    rows += batch.num_rows();
                    writer.write(&batch).map_err(arrow_io)?;
                }
            }
            PrintFormat::Json => {
                let mut writer = ArrayWriter::new(&mut *out);
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    rows += batch.num_rows();
                    writer.write(&batch).map_err(arrow_io)?;
                }
                writer.finish().map_err(arrow_io)?;
                writeln!(out)?;
            }
            PrintFormat::Ndjson => {
                let mut writer = LineDelimitedWriter::new(&mut *out);
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    rows += batch.num_rows();
                    writer.write(&batch).map_err(arrow_io)?;
                }
                writer.finish().map_err(arrow_io)?;
            }
        }
        Ok(PrintedRows {
            rows,
            shown: rows,
            cut: false,
        })
    }

    /// The line that ends a result: `N rows in X.XXs`, or `N rows` without timing.
    pub fn summary(&self, printed: PrintedRows, elapsed: Duration) -> String {
        let mut line = format!("{} rows", printed.rows);
        if self.timing {
            line.push_str(&format!(" in {:.2}s", elapsed.as_secs_f64()));
        }
        if printed.shown < printed.rows {
            line.push_str(&format!(
                " ({} shown; use --maxrows or \\maxrows to see more)",
                printed.shown
            ));
        }
        if printed.cut {
            line.push_str(&format!(
                " (values over {MAX_CELL_CHARS} characters cut; --format csv shows them whole)"
            ));
        }
        line
    }
}

/// How many rows a result had, and how many were shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintedRows {
    /// Rows in the result.
    pub rows: usize,
    /// Rows written out.
    pub shown: usize,
    /// Whether a value was cut to fit a table cell.
    pub cut: bool,
}

/// Keeps an I/O error inside arrow's error as an I/O error, so a closed pipe is seen
/// as one.
fn arrow_io(e: ArrowError) -> CliError {
    match e {
        ArrowError::IoError(_, io) => CliError::Io(io),
        other => CliError::from(DataFusionError::from(other)),
    }
}
