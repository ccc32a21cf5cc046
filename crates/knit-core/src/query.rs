// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Running a query: its physical plan and a stream of its batches whose read errors
//! name the files being read, and whose panics come back as errors.
//!
//! Parquet and CSV decoders report what is wrong ("eof decoding byte array") but not
//! where; a user with a thousand files needs the file. The plan knows which files its
//! scans read, so a decoding or storage error is given that list as context. A decoder
//! that panics on a damaged file (parquet-rs does, on some corrupt pages) gives the same
//! error as one that fails cleanly; any other panic is a bug, reported as Knit's
//! internal error ([`crate::panics`]).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::physical_plan::{CsvSource, FileScanConfig};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream, execute_stream};
use futures::{StreamExt, TryStreamExt};

use crate::csv_check::{CsvFile, failing_csv_file};
use crate::error::{ReadFailure, Result, read_failure};
use crate::panics::{catch_panics, panic_error};

/// Files named in full before the rest are counted.
const FILES_NAMED: usize = 3;

/// A query that has started: its plan (for progress and metrics) and its batches.
pub struct RunningQuery {
    /// The result's schema.
    pub schema: SchemaRef,
    /// The physical plan being executed; its metrics are live.
    pub plan: Arc<dyn ExecutionPlan>,
    /// The result batches; read errors name the files the plan reads.
    pub stream: SendableRecordBatchStream,
}

impl std::fmt::Debug for RunningQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningQuery")
            .field("schema", &self.schema)
            .finish()
    }
}

/// Plans `frame` and starts executing it.
pub(crate) async fn start(frame: DataFrame) -> Result<RunningQuery> {
    let schema = Arc::clone(frame.schema().inner());
    let task = Arc::new(frame.task_ctx());
    let plan = catch_panics(frame.create_physical_plan()).await?;
    let mut files = Vec::new();
    let mut csv_files = Vec::new();
    scanned_files(plan.as_ref(), &mut files, &mut csv_files);
    let runtime = task.runtime_env();
    let stream = execute_stream(Arc::clone(&plan), task)?;
    // Each poll runs under `catch_unwind`; after a panic the stream ends, since the
    // plan's state is unknown.
    let mut stream = AssertUnwindSafe(stream).catch_unwind();
    let mut panicked = false;
    let stream = futures::stream::poll_fn(move |cx| {
        if panicked {
            return Poll::Ready(None);
        }
        match stream.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(item))) => Poll::Ready(Some(item)),
            Poll::Ready(Some(Err(payload))) => {
                panicked = true;
                Poll::Ready(Some(Err(panic_error(&*payload))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    });
    let files = Arc::new(files);
    let csv_files = Arc::new(csv_files);
    // Only errors go through the naming; batches pass untouched.
    let stream = stream.or_else(move |error| {
        let (files, csv_files, runtime) = (
            Arc::clone(&files),
            Arc::clone(&csv_files),
            Arc::clone(&runtime),
        );
        async move { Err(name_files(error, &files, &csv_files, &runtime).await) }
    });
    let stream = Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&schema), stream));
    Ok(RunningQuery {
        schema,
        plan,
        stream,
    })
}

/// Appends the paths of the files every scan of `plan` reads, and the CSV files apart.
fn scanned_files(plan: &dyn ExecutionPlan, out: &mut Vec<String>, csv: &mut Vec<CsvFile>) {
    if let Some(config) = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|scan| scan.data_source().downcast_ref::<FileScanConfig>())
    {
        // The store URL ends with '/', and object paths have no leading '/'.
        let store = config.object_store_url.as_str();
        let delimiter = config
            .file_source()
            .downcast_ref::<CsvSource>()
            .map(CsvSource::delimiter);
        for file in config.file_groups.iter().flat_map(|group| group.iter()) {
            out.push(format!("{store}{}", file.object_meta.location));
            if let Some(delimiter) = delimiter {
                csv.push(CsvFile {
                    store: config.object_store_url.clone(),
                    location: file.object_meta.location.clone(),
                    size: file.object_meta.size,
                    delimiter,
                });
            }
        }
    }
    for child in plan.children() {
        scanned_files(child.as_ref(), out, csv);
    }
}

/// Adds the scanned files as context to errors from reading or decoding them: the one
/// file, when a CSV line that does not parse can be traced to it.
async fn name_files(
    error: DataFusionError,
    files: &[String],
    csv_files: &[CsvFile],
    runtime: &Arc<RuntimeEnv>,
) -> DataFusionError {
    if files.len() > 1
        && read_failure(&error) == Some(ReadFailure::OtherFormat)
        && let Some(file) = failing_csv_file(&error.to_string(), csv_files, runtime).await
    {
        return error.context(format!("reading '{file}'"));
    }
    list_files(error, files)
}

/// Adds the scanned files, a few by name, as context to errors from reading them.
fn list_files(error: DataFusionError, files: &[String]) -> DataFusionError {
    if files.is_empty() || read_failure(&error).is_none() {
        return error;
    }
    let mut named = files
        .iter()
        .take(FILES_NAMED)
        .map(|f| format!("'{f}'"))
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > FILES_NAMED {
        named.push_str(&format!(" and {} more", files.len() - FILES_NAMED));
    }
    let context = if files.len() == 1 {
        format!("reading {named}")
    } else {
        format!("reading one of {named}")
    };
    error.context(context)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::error::ArrowError;

    use super::*;

    #[test]
    fn read_errors_name_the_files() {
        let error = DataFusionError::ArrowError(
            Box::new(ArrowError::ParquetError("eof decoding byte array".into())),
            None,
        );
        let files: Vec<String> = (0..5).map(|i| format!("d/part-{i}.parquet")).collect();
        let message = list_files(error, &files).to_string();
        assert!(message.contains("'d/part-0.parquet'"), "{message}");
        assert!(message.contains("and 2 more"), "{message}");
        assert!(message.contains("eof decoding byte array"), "{message}");
    }

    #[test]
    fn other_errors_are_left_alone() {
        let error = DataFusionError::Execution("division by zero".into());
        let message = list_files(error, &["a.parquet".to_string()]).to_string();
        assert!(!message.contains("a.parquet"), "{message}");
    }
}
