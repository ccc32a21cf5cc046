// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit`: the SQL shell and script runner of Knit.
//!
//! `knit` alone opens the REPL; `knit -f script.sql` and `knit -c "SQL"` (both
//! repeatable; scripts run first) run statements and exit; SQL piped into `knit` runs
//! as a script. A script stops at its first failing statement with
//! `file:line: error: ...` on stderr and exit code 1. `knit project run|sql DIR` runs or
//! prints a RudderStack Profiles project ([`project`]); `knit report stitch ENTITY`
//! writes an entity's stitch report as an HTML page ([`report`]).

// The CLI is the one crate that talks to its user directly.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod command;
mod deadline;
mod error;
mod exec;
mod print;
mod progress;
mod project;
mod repl;
mod report;
mod store;
mod table;
#[cfg(feature = "distributed")]
mod worker;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use knit_core::{SessionBuilder, parse_memory_size};

use crate::deadline::parse_timeout;
use crate::error::CliError;
use crate::exec::{Runner, StatementFailure, read_script};
use crate::print::{MaxRows, PrintFormat, PrintOptions};

/// Rows a table shows in the REPL unless told otherwise; scripts show every row.
const REPL_MAXROWS: usize = 40;
/// Exit code after Ctrl-C, as shells report a SIGINT.
const EXIT_INTERRUPTED: u8 = 130;
/// The stack of every thread that plans or runs a statement. Planning, optimizing and
/// evaluating recurse over expressions and plans; a statement of thousands of terms, or
/// a project of hundreds of vars, needs more than the default 2 MiB (which ends the
/// process with a stack overflow). Only the pages a thread touches are committed.
const STACK_SIZE: usize = 64 << 20;
/// How long the process waits at exit for cancelled statements to clean up.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Exit code after a bug in Knit got past every statement's guard.
const EXIT_INTERNAL: u8 = 70;

/// Customer profiles with plain SQL over Parquet and CSV files, local or on S3.
#[derive(Debug, Parser)]
#[command(name = "knit", version, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<TopCommand>,

    /// Run the statements of this SQL file (repeatable; files run before commands).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Run this SQL (repeatable).
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    commands: Vec<String>,

    /// Output format of results.
    #[arg(long, value_enum, default_value_t = PrintFormat::Table)]
    format: PrintFormat,

    /// Rows a table shows: a number or 'inf' (default: 40 in the REPL, every row otherwise).
    #[arg(long, value_name = "N|inf")]
    maxrows: Option<MaxRows>,

    /// Memory that queries may use, such as 512M or 4G (default: 80% of physical memory).
    #[arg(short = 'm', long, value_name = "SIZE")]
    memory_limit: Option<String>,

    /// Cancel a statement that runs longer than this, such as 30s or 10m (default: no
    /// limit; `SET knit.statement_timeout` changes it in a session).
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Option<Duration>,

    /// Print only results: no `N rows in X.XXs` lines and no progress.
    #[arg(short = 'q', long)]
    quiet: bool,

    /// Run queries on these knit workers, host:port separated by commas (default:
    /// $KNIT_WORKERS; `SET knit.workers` changes it in a session). Needs
    /// KNIT_WORKER_TOKEN, the workers' token.
    #[cfg(feature = "distributed")]
    #[arg(long, value_name = "HOST:PORT,...")]
    workers: Option<String>,
}

/// Knit's subcommands.
#[derive(Debug, clap::Subcommand)]
enum TopCommand {
    /// Run or translate a RudderStack Profiles (pb) project.
    #[command(subcommand)]
    Project(project::ProjectCommand),
    /// Write reports: `knit report stitch ENTITY -f setup.sql --out report.html`.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Look at a profile store: `knit store status PATH`.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Run a worker that sessions with `--workers` send queries to.
    #[cfg(feature = "distributed")]
    Worker(worker::WorkerArgs),
}

/// Warnings, but not the Delta library's: its notes on its own metrics and fallbacks,
/// and its log of the errors it returns, which Knit reports itself.
const DEFAULT_LOG_FILTER: &str = "warn,deltalake_core=off,buoyant_kernel=off";

/// mimalloc, as DataFusion's own CLI uses. It asks the system for transparent huge
/// pages (2 MB) for its large regions, which Debian's default (`madvise`) grants only on
/// request: with 4 KB pages every random read of a table of hundreds of MB (the
/// stitch's interner and union-find, DataFusion's hash tables) also misses the TLB.
/// Against the system allocator, `connected_components` over 10M edges took about 15%
/// less time (see the README's benchmarks).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        .init();
    // Panics while a statement runs come back as that statement's error (a damaged
    // file's name, or Knit's internal error), so the hook only records them.
    knit_core::install_hook(true);
    // The runtime is driven from a thread with the same large stack as its workers.
    let main = std::thread::Builder::new()
        .name("knit-main".to_string())
        .stack_size(STACK_SIZE)
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_stack_size(STACK_SIZE)
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let code = runtime.block_on(run(args));
            // A cancelled statement may still be inside a long poll on a worker thread;
            // it stops at its next yield. The process waits a moment for that, so that
            // a cancelled COPY removes its staged files, but not for a poll that is long.
            runtime.shutdown_timeout(SHUTDOWN_GRACE);
            code
        });
    match main.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => code,
        Ok(Err(panic)) => {
            eprintln!("error: {}", knit_core::panic_to_error(&*panic));
            ExitCode::from(EXIT_INTERNAL)
        }
        Err(e) => {
            eprintln!("error: cannot start the main thread: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> ExitCode {
    match args.command {
        Some(TopCommand::Project(command)) => return project::run(command).await,
        Some(TopCommand::Report(command)) => return report::run(command).await,
        Some(TopCommand::Store(command)) => return store::run(command).await,
        #[cfg(feature = "distributed")]
        Some(TopCommand::Worker(args)) => return worker::run(args).await,
        None => {}
    }
    let mut builder = SessionBuilder::new();
    if let Some(limit) = &args.memory_limit {
        match parse_memory_size(limit) {
            Ok(bytes) => builder = builder.with_memory_limit(bytes),
            Err(e) => {
                eprintln!("error: --memory-limit: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(timeout) = args.timeout {
        builder = builder.with_statement_timeout(timeout);
    }
    #[cfg(feature = "distributed")]
    if let Some(workers) = &args.workers {
        match builder.with_workers(workers) {
            Ok(with_workers) => builder = with_workers,
            Err(e) => {
                eprintln!("error: --workers: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let session = match builder.build() {
        Ok(session) => session,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };

    let batch_mode = !args.files.is_empty() || !args.commands.is_empty();
    let interactive = !batch_mode && std::io::stdin().is_terminal();
    let maxrows = args.maxrows.unwrap_or(if interactive {
        MaxRows::Limited(REPL_MAXROWS)
    } else {
        MaxRows::Unlimited
    });
    let print = PrintOptions {
        format: args.format,
        maxrows,
        quiet: args.quiet,
        timing: true,
    };
    let mut runner = Runner::new(session, print);

    if interactive {
        return match repl::run(&mut runner).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if !batch_mode {
        let text = match read_script(std::io::stdin(), "<stdin>") {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        return exit_code(runner.run_text(&text, Some("<stdin>")).await);
    }
    for path in &args.files {
        let what = path.display().to_string();
        let text = match std::fs::File::open(path)
            .map_err(|source| CliError::ReadScript {
                path: what.clone(),
                source,
            })
            .and_then(|file| read_script(file, &what))
        {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        let origin = path.display().to_string();
        let code = exit_code(runner.run_text(&text, Some(&origin)).await);
        if code != ExitCode::SUCCESS {
            return code;
        }
    }
    for command in &args.commands {
        let code = exit_code(runner.run_text(command, None).await);
        if code != ExitCode::SUCCESS {
            return code;
        }
    }
    ExitCode::SUCCESS
}

/// Reports a failed script or command and picks the exit code.
fn exit_code(result: Result<(), StatementFailure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`knit ... | head`): nothing left to say, and no failure.
        Err(failure) if failure.error.is_broken_pipe() => ExitCode::SUCCESS,
        Err(failure) if matches!(failure.error, CliError::Cancelled) => {
            eprintln!("cancelled");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}
