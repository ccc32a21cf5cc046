// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The sqllogictest suite: every `sql/slt/**/*.slt` file, each in a fresh session.
//!
//! Files run with the workspace root as working directory, so they name sample data
//! as `testdata/...`; `$__TEST_DIR__` (after `control substitution on`) is a scratch
//! directory of the file's own. Errors are matched against the one-line report users
//! see, so the suite also pins the wording of error messages.
//!
//! Complete mode rewrites the expected output of every file from what Knit returns:
//! `KNIT_SLT_COMPLETE=1 cargo test -p knit-core --test it slt` (review the diff!).
//! `KNIT_SLT_FILTER=name` runs only the files whose path contains `name`.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::TryStreamExt;
use knit_core::{ErrorReport, KnitSession, SessionBuilder};
use sqllogictest::{
    AsyncDB, DBOutput, DefaultColumnType, Runner, default_normalizer, default_validator,
    strict_column_validator,
};

/// Partitions are pinned so that plans (and EXPLAIN output) do not depend on the machine.
const PARTITIONS: usize = 4;

/// An error as the user sees it.
#[derive(Debug)]
struct ReportedError(String);

impl std::fmt::Display for ReportedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReportedError {}

/// One file's connection: a Knit session.
struct Knit {
    session: KnitSession,
}

impl Knit {
    /// A session whose queries run on `workers`, scans spread over all of them.
    #[cfg(feature = "distributed")]
    async fn on_workers(workers: &str) -> Result<Self, ReportedError> {
        let session = crate::distributed::session_on(workers, crate::distributed::TOKEN).await;
        Ok(Self { session })
    }

    fn try_new() -> Result<Self, ReportedError> {
        let session = SessionBuilder::new()
            .with_target_partitions(PARTITIONS)
            .with_memory_limit(2 << 30)
            .build()
            .map_err(|e| ReportedError(e.to_string()))?;
        Ok(Self { session })
    }

    async fn run_sql(
        &self,
        sql: &str,
    ) -> knit_core::Result<(Vec<DefaultColumnType>, Vec<Vec<String>>, bool)> {
        let query = self.session.start(sql).await?;
        let schema = query.schema;
        let batches: Vec<RecordBatch> = query.stream.try_collect().await?;
        if schema.fields().is_empty() {
            return Ok((Vec::new(), Vec::new(), true));
        }
        let types = schema
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let mut rows = Vec::new();
        for batch in &batches {
            rows.extend(format_rows(batch)?);
        }
        Ok((types, rows, false))
    }
}

#[async_trait]
impl AsyncDB for Knit {
    type Error = ReportedError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, ReportedError> {
        match self.run_sql(sql).await {
            Ok((_, _, true)) => Ok(DBOutput::StatementComplete(0)),
            Ok((types, rows, false)) => Ok(DBOutput::Rows { types, rows }),
            Err(e) => Err(ReportedError(
                ErrorReport::new(&e, self.session.memory_limit()).to_string(),
            )),
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "knit"
    }

    async fn sleep(duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    if data_type.is_integer() {
        DefaultColumnType::Integer
    } else if data_type.is_floating()
        || matches!(
            data_type,
            DataType::Decimal128(..) | DataType::Decimal256(..)
        )
    {
        DefaultColumnType::FloatingPoint
    } else if matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        DefaultColumnType::Text
    } else {
        DefaultColumnType::Any
    }
}

/// Cells as text: NULL as `NULL`, the empty string as `(empty)` so that it survives
/// the whitespace-separated format.
fn format_rows(batch: &RecordBatch) -> knit_core::Result<Vec<Vec<String>>> {
    let options = FormatOptions::default().with_null("NULL");
    let formatters = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()
        .map_err(datafusion::error::DataFusionError::from)?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let mut cells = Vec::with_capacity(formatters.len());
        for (column, formatter) in batch.columns().iter().zip(&formatters) {
            // Plans end with a newline, which would end the record in an .slt file.
            let cell = formatter
                .value(row)
                .to_string()
                .trim_end_matches('\n')
                .to_string();
            cells.push(if cell.is_empty() && !column.is_null(row) {
                "(empty)".to_string()
            } else {
                cell
            });
        }
        rows.extend(split_lines(cells));
    }
    Ok(rows)
}

/// A row whose cells span lines (plans) becomes one row per line, so that each line
/// of the expected output is one row, as the .slt format has it; a later line holds
/// only the cells that reach down to it.
fn split_lines(cells: Vec<String>) -> Vec<Vec<String>> {
    let height = cells.iter().map(|c| c.lines().count()).max().unwrap_or(1);
    if height <= 1 {
        return vec![cells];
    }
    (0..height)
        .map(|line| {
            cells
                .iter()
                .filter_map(|c| c.lines().nth(line).map(str::to_string))
                .filter(|text| line == 0 || !text.is_empty())
                .collect()
        })
        .collect()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            slt_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "slt") {
            out.push(path);
        }
    }
    Ok(())
}

/// The files whose answers are pb's (`oracle_*.slt`), on three workers: a distributed
/// session gives pb's answers too.
#[cfg(feature = "distributed")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oracle_files_on_three_workers() {
    let root = workspace_root().canonicalize().unwrap();
    std::env::set_current_dir(&root).unwrap();
    let mut files = Vec::new();
    slt_files(&root.join("sql/slt"), &mut files).unwrap();
    files.retain(|f| {
        f.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("oracle_"))
    });
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let workers = crate::distributed::start_workers(3, crate::distributed::TOKEN).await;
    let mut failures = Vec::new();
    for file in &files {
        let list = workers.list.clone();
        let mut runner = Runner::new(move || {
            let list = list.clone();
            async move { Knit::on_workers(&list).await }
        });
        runner.with_column_validator(strict_column_validator);
        if let Err(e) = runner.run_file_async(file).await {
            eprintln!("FAILED  {} on workers\n{}", file.display(), e.display(true));
            failures.push(file.display().to_string());
        }
    }
    assert!(failures.is_empty(), "failed on workers: {failures:?}");
}

#[tokio::test]
async fn sqllogictests() {
    let root = workspace_root().canonicalize().unwrap();
    std::env::set_current_dir(&root).unwrap();
    let mut files = Vec::new();
    slt_files(&root.join("sql/slt"), &mut files).unwrap();
    files.sort();
    if let Ok(filter) = std::env::var("KNIT_SLT_FILTER") {
        files.retain(|f| f.to_string_lossy().contains(&filter));
    }
    assert!(!files.is_empty(), "no .slt files under sql/slt");
    let complete = std::env::var("KNIT_SLT_COMPLETE").is_ok_and(|v| v == "1");

    let mut failures = Vec::new();
    for file in &files {
        let name = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        let mut runner = Runner::new(|| async { Knit::try_new() });
        runner.with_column_validator(strict_column_validator);
        let result = if complete {
            runner
                .update_test_file(
                    file,
                    " ",
                    default_validator,
                    default_normalizer,
                    strict_column_validator,
                )
                .await
                .map_err(|e| e.to_string())
        } else {
            runner
                .run_file_async(file)
                .await
                .map_err(|e| e.display(true).to_string())
        };
        match result {
            Ok(()) => eprintln!("ok      {name}"),
            Err(e) => {
                eprintln!("FAILED  {name}\n{e}");
                failures.push(name);
            }
        }
    }
    eprintln!(
        "sqllogictest: {} passed, {} failed",
        files.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "failed .slt files: {failures:?}");
}
