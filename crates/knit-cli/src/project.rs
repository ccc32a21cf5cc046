// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit project run DIR` and `knit project sql DIR`: a pb project as a Knit SQL script
//! (see the `knit-pb` crate), run in a session or printed.
//!
//! `run` reads and checks the whole project before it runs anything, runs every
//! definition before the first output, and writes each output atomically (`COPY` writes
//! a temporary file and renames it). Progress goes to stderr, one line per output.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};
use datafusion::arrow::array::{Array, UInt64Array};
use datafusion::arrow::compute::kernels::cast_utils::string_to_datetime;
use knit_core::{ErrorReport, KnitSession, SessionBuilder, parse_memory_size};
use knit_pb::{OutputFormat, Project, Script, ScriptOptions, ScriptStatement};

/// `knit project ...`.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Run every model of a pb project and write its outputs.
    Run(ProjectArgs),
    /// Print the Knit SQL script equivalent to a pb project (run it with `knit -f`).
    Sql(ProjectArgs),
}

/// Where a project, its tables and its outputs are.
#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// The project folder (holding pb_project.yaml).
    dir: PathBuf,

    /// The folder of the warehouse tables: `schema.table` is read from
    /// TABLES/schema/table.parquet or .csv, or TABLES/table.* (default: the project folder).
    #[arg(long, value_name = "DIR")]
    tables: Option<PathBuf>,

    /// The folder outputs are written to (default: DIR/knit-output).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// The file format of outputs.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    format: Format,

    /// Leave out input rows that occurred before this time (RFC 3339), as pb's --begin_time.
    #[arg(long, value_name = "TIME")]
    begin_time: Option<String>,

    /// Leave out input rows that occurred after this time (RFC 3339), as pb's --end_time
    /// (default: now). It is also the valid_at of feature_table_model outputs.
    #[arg(long, value_name = "TIME")]
    end_time: Option<String>,

    /// Memory that queries may use, such as 512M or 4G (default: 80% of physical memory).
    #[arg(short = 'm', long, value_name = "SIZE")]
    memory_limit: Option<String>,
}

/// The output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Parquet,
    Csv,
}

/// Runs `knit project ...`.
pub async fn run(command: ProjectCommand) -> ExitCode {
    let (args, execute) = match command {
        ProjectCommand::Run(args) => (args, true),
        ProjectCommand::Sql(args) => (args, false),
    };
    let script = match load(&args) {
        Ok(script) => script,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    if !execute {
        print!("{script}");
        return ExitCode::SUCCESS;
    }
    match run_script(&args, &script).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn load(args: &ProjectArgs) -> Result<Script, String> {
    let project = Project::load(&args.dir).map_err(|e| e.to_string())?;
    let options = ScriptOptions {
        tables: args.tables.clone().unwrap_or_else(|| args.dir.clone()),
        out: args
            .out
            .clone()
            .unwrap_or_else(|| args.dir.join("knit-output")),
        format: match args.format {
            Format::Parquet => OutputFormat::Parquet,
            Format::Csv => OutputFormat::Csv,
        },
        begin_time: args.begin_time.clone(),
        end_time: args.end_time.clone().unwrap_or_else(knit_pb::now_rfc3339),
    };
    for (flag, time) in [
        ("--begin-time", &options.begin_time),
        ("--end-time", &Some(options.end_time.clone())),
    ] {
        if let Some(time) = time
            && !looks_like_time(time)
        {
            return Err(format!(
                "{flag} '{time}' is not a time; write it as 2024-06-30T00:00:00Z"
            ));
        }
    }
    project.script(&options).map_err(|e| e.to_string())
}

/// True for a time SQL reads (RFC 3339, or a date and time with a space).
fn looks_like_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && string_to_datetime(&Utc, text).is_ok()
}

async fn run_script(args: &ProjectArgs, script: &Script) -> Result<(), String> {
    let mut builder = SessionBuilder::new();
    if let Some(limit) = &args.memory_limit {
        builder = builder.with_memory_limit(
            parse_memory_size(limit).map_err(|e| format!("--memory-limit: {e}"))?,
        );
    }
    let session = builder.build().map_err(|e| e.to_string())?;
    let outputs = script
        .statements
        .iter()
        .filter(|s| s.output.is_some())
        .count();
    let started = Instant::now();
    let mut written = 0;
    for statement in &script.statements {
        let step = Instant::now();
        let rows = tokio::select! {
            result = execute(&session, statement) => result?,
            _ = tokio::signal::ctrl_c() => return Err("cancelled".to_string()),
        };
        if let Some(output) = &statement.output {
            written += 1;
            eprintln!(
                "[{written}/{outputs}] {output}: {rows} rows in {:.2}s",
                step.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "wrote {outputs} outputs in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs one statement; returns the rows a `COPY` wrote.
async fn execute(session: &KnitSession, statement: &ScriptStatement) -> Result<u64, String> {
    let describe = |e: knit_core::CoreError| {
        let report = ErrorReport::new(&e, session.memory_limit());
        match &statement.origin {
            Some(origin) => format!("{}: {}: {report}", origin.file, origin.key),
            None => report.to_string(),
        }
    };
    let frame = session.sql(&statement.sql).await.map_err(describe)?;
    let batches = frame.collect().await.map_err(|e| describe(e.into()))?;
    Ok(batches
        .iter()
        .filter_map(|b| b.column(0).as_any().downcast_ref::<UInt64Array>())
        .map(|counts| counts.iter().flatten().sum::<u64>())
        .sum())
}
