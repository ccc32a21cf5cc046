// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Running statements and printing their results: the one path shared by scripts
//! (`-f`), commands (`-c`), standard input, `\i` and typed input.

use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use datafusion::common::runtime::SpawnedTask;
use datafusion::sql::parser::Statement as DFStatement;
use knit_core::{ErrorReport, KnitSession};
use knit_sql::sqlparser::ast::{Statement as SqlStatement, TableObject};
use knit_sql::{Statement, StatementText, split_statements};

use crate::deadline::{Deadline, expire};
use crate::error::{CliError, Result};
use crate::print::{PrintFormat, PrintOptions};
use crate::progress::Progress;
use crate::project::{self, SqlProfile};

/// The largest script Knit reads (`-f`, `\\i`, standard input): a bound, so that a path
/// such as `/dev/zero` is an error rather than all of memory.
pub const MAX_SCRIPT_BYTES: u64 = 256 << 20;

/// Reads a script of at most [`MAX_SCRIPT_BYTES`] from `reader`; `what` names it.
pub fn read_script(mut reader: impl Read, what: &str) -> Result<String> {
    let mut bytes = Vec::new();
    (&mut reader)
        .take(MAX_SCRIPT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| CliError::ReadScript {
            path: what.to_string(),
            source,
        })?;
    if bytes.len() as u64 > MAX_SCRIPT_BYTES {
        return Err(CliError::ReadScript {
            path: what.to_string(),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "it is larger than {} MiB; split it, or load data with COPY and \
                     CREATE EXTERNAL TABLE rather than in SQL text",
                    MAX_SCRIPT_BYTES >> 20
                ),
            ),
        });
    }
    String::from_utf8(bytes).map_err(|e| CliError::ReadScript {
        path: what.to_string(),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (at byte {})",
                e.utf8_error().valid_up_to()
            ),
        ),
    })
}

/// A failed statement with where it was written.
#[derive(Debug)]
pub struct StatementFailure {
    /// The script's name, `None` for `-c` commands and typed input.
    pub origin: Option<String>,
    /// 1-based line in the script or command text.
    pub line: Option<u64>,
    /// What went wrong.
    pub error: CliError,
    /// How to put it to the user, for engine errors.
    pub report: Option<ErrorReport>,
}

impl std::fmt::Display for StatementFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(origin) = &self.origin {
            match self.line {
                Some(line) => write!(f, "{origin}:{line}: ")?,
                None => write!(f, "{origin}: ")?,
            }
        }
        match &self.report {
            Some(report) => write!(f, "error: {report}"),
            None => write!(f, "error: {}", self.error),
        }
    }
}

/// Runs statements in one session and prints their results.
#[derive(Debug)]
pub struct Runner {
    session: KnitSession,
    /// How results are printed; the REPL's `\format` and `\timing` change it.
    pub print: PrintOptions,
    /// Whether long statements show progress on stderr.
    show_progress: bool,
    /// The statements that defined the session's profile, for `REFRESH PROFILE STORE`.
    profile: Mutex<SqlProfile>,
}

impl Runner {
    /// A runner over `session`; progress is shown when stderr is a terminal.
    pub fn new(session: KnitSession, print: PrintOptions) -> Self {
        let show_progress = io::stderr().is_terminal() && !print.quiet;
        Self {
            session,
            print,
            show_progress,
            profile: Mutex::default(),
        }
    }

    /// The session statements run in.
    pub fn session(&self) -> &KnitSession {
        &self.session
    }

    /// Runs every statement of `text` in order and stops at the first failure.
    /// `origin` names the script in error messages.
    pub async fn run_text(&self, text: &str, origin: Option<&str>) -> Result<(), StatementFailure> {
        let statements = split_statements(text).map_err(|e| {
            let error = CliError::Query(e.into());
            let report = self.report(&error);
            StatementFailure {
                origin: origin.map(str::to_string),
                line: report
                    .as_ref()
                    .and_then(|r| r.location)
                    .map(|(line, _)| line),
                error,
                report,
            }
        })?;
        for statement in statements {
            if let Err(error) = self.run_statement(statement.sql).await {
                return Err(self.locate(origin, &statement, error));
            }
        }
        Ok(())
    }

    /// Runs one statement, giving up when the user presses Ctrl-C or when it runs past
    /// the session's statement timeout (which covers printing its result too).
    pub async fn run_statement(&self, sql: &str) -> Result<()> {
        // A statement that does not parse is run anyway, for the engine's error.
        let parsed = knit_sql::parse_statement(sql).ok();
        if let Some(Statement::RefreshProfileStore { full, changes_to }) = parsed {
            return self.refresh_profile_store(full, changes_to).await;
        }
        self.run_engine_statement(sql).await?;
        if let Some(statement) = &parsed {
            let unreplayable = self.unreplayable(statement).await;
            let mut profile = self.profile.lock().unwrap_or_else(PoisonError::into_inner);
            profile.record(sql, statement);
            if let Some(what) = unreplayable {
                profile.note_unreplayable(what);
            }
        }
        Ok(())
    }

    /// What `statement` (which ran) changed that a replay of the session's definitions
    /// would not have: rows inserted into a table that is not read from files, or
    /// updated or deleted in place.
    async fn unreplayable(&self, statement: &Statement) -> Option<String> {
        let Statement::DataFusion(df) = statement else {
            return None;
        };
        let DFStatement::Statement(inner) = df.as_ref() else {
            return None;
        };
        match inner.as_ref() {
            SqlStatement::Insert(insert) => {
                let TableObject::TableName(name) = &insert.table else {
                    return Some("INSERT".to_string());
                };
                // Rows inserted into a table of files are in its files, which a replay reads.
                match self.session.table_files(&name.to_string()).await {
                    Ok(Some(_)) => None,
                    _ => Some(format!("INSERT INTO {name}")),
                }
            }
            SqlStatement::Update(_) => Some("UPDATE".to_string()),
            SqlStatement::Delete(_) => Some("DELETE".to_string()),
            SqlStatement::Truncate(_) => Some("TRUNCATE".to_string()),
            _ => None,
        }
    }

    /// `REFRESH PROFILE STORE`: the statements that defined the session's profile, run
    /// into its store, within the statement timeout for its outputs. Ctrl-C stops it
    /// as a kill would, and gives the store's lock up. `-q` leaves out its progress
    /// lines.
    async fn refresh_profile_store(&self, full: bool, changes_to: Option<String>) -> Result<()> {
        let profile = self
            .profile
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let started = Instant::now();
        let stop = async {
            if tokio::signal::ctrl_c().await.is_err() {
                // No handler for Ctrl-C: nothing stops the refresh.
                std::future::pending::<()>().await;
            }
            "cancelled".to_string()
        };
        let options = project::RefreshOptions {
            full,
            changes_to: changes_to.map(PathBuf::from),
            quiet: self.print.quiet,
        };
        project::refresh_profile_store(&self.session, &profile, &options, stop)
            .await
            .map_err(CliError::Store)?;
        if !self.print.quiet {
            eprintln!("refreshed in {:.2}s", started.elapsed().as_secs_f64());
        }
        Ok(())
    }

    /// Runs one statement in the engine.
    async fn run_engine_statement(&self, sql: &str) -> Result<()> {
        let timeout = self.session.statement_timeout();
        let session = self.session.clone();
        let print = self.print.clone();
        let show_progress = self.show_progress;
        let sql = sql.to_string();
        // The statement runs as a task of its own, so that Ctrl-C is noticed even while
        // a long poll of the plan keeps a worker thread busy. Dropping the task cancels
        // the statement.
        let task = SpawnedTask::spawn(async move {
            execute_and_print(&session, &print, show_progress, &sql).await
        });
        tokio::select! {
            joined = task.join() => match joined {
                Ok(result) => result,
                // The engine catches panics where it plans and runs statements; one that
                // got past it is still an error of this statement, not the end of the shell.
                Err(e) if e.is_panic() => Err(knit_core::panic_to_error(&*e.into_panic()).into()),
                Err(e) => Err(CliError::Query(knit_core::CoreError::internal(format!(
                    "the statement's task failed: {e}"
                )))),
            },
            _ = tokio::signal::ctrl_c() => Err(CliError::Cancelled),
            Some(limit) = expire(timeout.map(Deadline::starting_now)) => Err(CliError::TimedOut(limit)),
        }
    }

    /// Describes an engine error for the user.
    pub fn report(&self, error: &CliError) -> Option<ErrorReport> {
        tracing::debug!(?error, "statement failed");
        match error {
            CliError::Query(e) => Some(ErrorReport::new(e, self.session.memory_limit())),
            _ => None,
        }
    }

    /// Places an error at its line: the statement's first line, moved down to the
    /// line the parser or planner pointed at within the statement.
    fn locate(
        &self,
        origin: Option<&str>,
        statement: &StatementText<'_>,
        error: CliError,
    ) -> StatementFailure {
        let report = self.report(&error);
        let offset = report
            .as_ref()
            .and_then(|r| r.location)
            .map_or(0, |(line, _)| line.saturating_sub(1));
        StatementFailure {
            origin: origin.map(str::to_string),
            line: Some(statement.line + offset),
            error,
            report,
        }
    }
}

/// Runs one statement and prints its result and the `N rows in X.XXs` line.
async fn execute_and_print(
    session: &KnitSession,
    print: &PrintOptions,
    show_progress: bool,
    sql: &str,
) -> Result<()> {
    let started = Instant::now();
    let query = session.start(sql).await?;
    let progress = show_progress.then(|| Progress::start(Arc::clone(&query.plan)));
    let mut out = PipeAware::new(BufWriter::new(io::stdout()));
    let printed = print
        .print_stream(query.schema, query.stream, &mut out)
        .await;
    drop(progress);
    // Writers such as arrow's CSV writer turn I/O errors into text; the closed pipe
    // behind them is remembered here.
    if out.closed {
        return Err(CliError::Io(io::ErrorKind::BrokenPipe.into()));
    }
    let printed = printed?;
    out.flush()?;
    if !print.quiet {
        let summary = print.summary(printed, started.elapsed());
        if print.format == PrintFormat::Table {
            writeln!(out, "{summary}")?;
            out.flush()?;
        } else {
            eprintln!("{summary}");
        }
    }
    Ok(())
}

/// A writer that remembers whether its reader went away.
struct PipeAware<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> PipeAware<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            closed: false,
        }
    }

    fn note<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            self.closed |= e.kind() == io::ErrorKind::BrokenPipe;
        }
        result
    }
}

impl<W: Write> Write for PipeAware<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = self.inner.write(buf);
        self.note(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = self.inner.flush();
        self.note(result)
    }
}
