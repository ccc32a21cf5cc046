// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit project run DIR` and `knit project sql DIR`: a pb project as a Knit SQL script
//! (see the `knit-pb` crate), run in a session or printed.
//!
//! `run` reads and checks the whole project before it runs anything, and publishes its
//! outputs together: every output is written to a staging folder inside the output
//! folder (`OUT/.knit-run-<pid>-<time>/`), and only when all are written are they moved
//! into place, one rename each, and `OUT/_knit_run.json` written last, naming the run
//! and its outputs. A run that fails, or is cancelled, changes no output; one killed
//! while it publishes leaves the manifest of the last complete run, and the next run
//! removes staging folders whose process is gone. Progress goes to stderr, one line per
//! output.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand, ValueEnum};
use datafusion::arrow::array::{Array, UInt64Array};
use futures::{StreamExt, TryStreamExt};
use knit_core::{ErrorReport, KnitSession, SessionBuilder, parse_memory_size};
use knit_pb::{OutputFormat, Script, ScriptStatement};

use crate::deadline::{Deadline, expire, parse_timeout};
use grain_passes::ProjectScripts;
pub use load::project_definitions;
use store_run::StoreRun;

mod grain_passes;
mod load;
mod refresh;
mod refresh_scope;
mod refreshable;
mod run_plan;
mod sql_profile;
mod sql_refresh;
mod store_run;
pub(crate) mod store_state;

pub(crate) use sql_profile::SqlProfile;
pub(crate) use sql_refresh::{RefreshOptions, refresh_profile_store};

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

    /// The folder of the warehouse tables: `db.schema.table` is read from
    /// TABLES/db/schema/table.parquet (or .csv, or a folder), else TABLES/schema/table.*,
    /// else TABLES/table.*, names in any case (default: the project folder).
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

    /// The warehouse `warehouse.DatabaseType()` names in templates, so that a project
    /// takes the branches written for it.
    #[arg(long, value_enum, default_value_t = Dialect::Snowflake)]
    dialect: Dialect,

    /// A folder of package checkouts: a package whose url is a git repository is read
    /// from DIR/<repository name> (Knit does not fetch).
    #[arg(long, value_name = "DIR")]
    packages: Option<PathBuf>,

    /// Leave these models out (comma-separated names): a model Knit cannot run, such as
    /// a Python model, is dropped; any other writes no output.
    #[arg(long, value_name = "MODELS", value_delimiter = ',')]
    skip_models: Vec<String>,

    /// Write only these models' outputs (comma-separated, as `models/<name>` or a bare
    /// name), as pb's --model_refs.
    #[arg(long, value_name = "MODELS", value_delimiter = ',')]
    model_refs: Vec<String>,

    /// With --format delta: write each keyed output's changes of this run to
    /// DIR/<output>_changes.parquet, its rows with `change` ('entered', 'exited' or
    /// 'changed'), for a sync that sends only what changed.
    #[arg(long, value_name = "DIR")]
    changes_out: Option<PathBuf>,

    /// Keep the project's outputs and state in a profile store (a local folder or an
    /// s3:// URL): each output a Delta table there, and what each run read. A later run
    /// reads only input files not read before and re-stitches and recomputes only the
    /// clusters their rows touch, with the same result as a full run.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["out", "format"])]
    store: Option<PathBuf>,

    /// With --store: compute everything from all input files, as the first run does
    /// (pb's --rebase_incremental).
    #[arg(long, requires = "store")]
    rebuild: bool,

    /// With --store or --format delta: a merge marks the rows it replaces deleted
    /// (Delta's deletion vectors, which readers need to support: Spark and Databricks,
    /// DuckDB, Trino, delta-rs's DataFusion scan) rather than rewrite the files that
    /// hold them. `false` rewrites them, for readers without deletion vectors.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    deletion_vectors: bool,

    /// Memory that queries may use, such as 512M or 4G (default: 80% of physical memory).
    #[arg(short = 'm', long, value_name = "SIZE")]
    memory_limit: Option<String>,

    /// Stop a run that takes longer than this, such as 30m (default: no limit); a
    /// stopped run changes no output.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Option<Duration>,
}

impl ProjectArgs {
    /// `--memory-limit` in bytes.
    fn memory_limit_bytes(&self) -> Result<Option<usize>, String> {
        self.memory_limit
            .as_deref()
            .map(|limit| parse_memory_size(limit).map_err(|e| format!("--memory-limit: {e}")))
            .transpose()
    }
}

/// The warehouses a project's templates may branch on.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Dialect {
    Snowflake,
    Bigquery,
    Redshift,
    Databricks,
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Parquet,
    Csv,
    /// A Delta table per output (OUT/<output>/), each run one new version, merged on the
    /// output's keys.
    Delta,
}

/// Runs `knit project ...`.
pub async fn run(command: ProjectCommand) -> ExitCode {
    let (args, execute) = match command {
        ProjectCommand::Run(args) => (args, true),
        ProjectCommand::Sql(args) => (args, false),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.dir.join("knit-output"));
    let result = if let (true, Some(store)) = (execute, &args.store) {
        match StoreRun::of_project(&args) {
            // Ctrl-C ends the process, as a kill would.
            Ok(run) => Box::pin(refresh::run_store(&run, store, std::future::pending())).await,
            Err(e) => Err(e),
        }
    } else if execute {
        Box::pin(run_project(&args, &out)).await
    } else {
        ProjectScripts::load(&args, &out, output_format(args.format))
            .map(|scripts| print!("{scripts}"))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn output_format(format: Format) -> OutputFormat {
    match format {
        Format::Parquet => OutputFormat::Parquet,
        Format::Csv => OutputFormat::Csv,
        Format::Delta => OutputFormat::Delta,
    }
}

/// The name of a run's staging folder: `.knit-run-<pid>-<time>`.
const STAGING_PREFIX: &str = ".knit-run-";

/// How many outputs a run publishes at once: Delta merges leave cores idle in turns
/// (their scans, their rewrites), so two side by side take about 0.6 of the time.
const PUBLISHES_AT_ONCE: usize = 2;

/// The run's manifest, written last.
const MANIFEST: &str = "_knit_run.json";

/// Runs the project into a staging folder, then publishes every output at once.
async fn run_project(args: &ProjectArgs, out: &Path) -> Result<(), String> {
    let started_at = knit_pb::now_rfc3339();
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let staging = out.join(format!("{STAGING_PREFIX}{}-{stamp}", std::process::id()));
    // Delta outputs are computed into staged Parquet files first, like the others, and
    // merged into their tables only once every output is computed.
    let staged_format = match args.format {
        Format::Delta => OutputFormat::Parquet,
        other => output_format(other),
    };
    if args.changes_out.is_some() && args.format != Format::Delta {
        return Err(
            "--changes-out needs --format delta: the changes are read from each \
                    output's Delta change feed"
                .to_string(),
        );
    }
    let scripts = ProjectScripts::load(args, &staging, staged_format)?;
    if !out.display().to_string().contains("://") {
        if out.exists() && !out.is_dir() {
            return Err(format!(
                "--out: '{}' is a file: name a folder (it is created if missing)",
                out.display()
            ));
        }
        std::fs::create_dir_all(out)
            .map_err(|e| format!("--out: cannot create '{}': {e}", out.display()))?;
        remove_stale_staging(out);
    }
    let staging_text = staging.display().to_string();
    let memory_limit = args.memory_limit_bytes()?;
    let deadline = args.timeout.map(Deadline::starting_now);
    let (mut written, pass_outputs) = scripts
        .run_passes(memory_limit, &staging_text, deadline, false)
        .await?;
    let mut script = scripts.run;
    let session = new_session(memory_limit)?;
    let run_written = run_staged(
        &session,
        &script,
        false,
        false,
        &staging_text,
        deadline,
        "no output was changed",
    )
    .await?;
    // The passes' outputs are published with the run's, found by their statements.
    written.extend(run_written);
    script.statements.extend(pass_outputs);
    // Every output is written: move each into place (or merge it into its Delta
    // table), then the manifest.
    let publishes = written.iter().map(|(output, rows)| {
        let (session, script, staging) = (&session, &script, &staging);
        async move {
            let entry = if args.format == Format::Delta {
                let rows = staged_rows(staging, output);
                let dv = args.deletion_vectors;
                publish_delta(session, script, output, &rows, out, None, dv).await
            } else {
                let file = output_format(args.format).file_name(output);
                session
                    .rename_file(
                        &staging.join(&file).display().to_string(),
                        &out.join(&file).display().to_string(),
                    )
                    .await
                    .map(|()| serde_json::json!({ "output": output, "file": file, "rows": rows }))
                    .map_err(|e| e.to_string())
            };
            entry.map_err(|e| format!("publishing {output}: {e}"))
        }
    });
    let mut manifest: Vec<serde_json::Value> = futures::stream::iter(publishes)
        .buffered(PUBLISHES_AT_ONCE)
        .try_collect()
        .await?;
    if args.format == Format::Delta {
        for entry in &mut manifest {
            write_redirects(&session, &script, out, &started_at, entry)
                .await
                .map_err(|e| format!("writing the redirects of {}: {e}", entry["output"]))?;
        }
    }
    if let Some(changes) = &args.changes_out {
        for entry in &mut manifest {
            write_changes(&session, &script, out, changes, entry)
                .await
                .map_err(|e| format!("writing the changes of {}: {e}", entry["output"]))?;
        }
    }
    let manifest = serde_json::json!({
        "project": args.dir.display().to_string(),
        "started_at": started_at,
        "finished_at": knit_pb::now_rfc3339(),
        "knit_version": env!("CARGO_PKG_VERSION"),
        "outputs": manifest,
    });
    session
        .write_file(
            &out.join(MANIFEST).display().to_string(),
            serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
        )
        .await
        .map_err(|e| format!("writing the run's manifest: {e}"))?;
    if let Err(e) = session.remove_folder(&staging_text).await {
        tracing::warn!(%e, "could not remove the staging folder");
    }
    Ok(())
}

/// A session under a memory limit (in bytes).
fn new_session(memory_limit: Option<usize>) -> Result<KnitSession, String> {
    let mut builder = SessionBuilder::new();
    if let Some(limit) = memory_limit {
        builder = builder.with_memory_limit(limit);
    }
    builder.build().map_err(|e| e.to_string())
}

/// The query reading the staged Parquet file of `output`.
fn staged_rows(staging: &Path, output: &str) -> String {
    let staged = staging.join(format!("{output}.parquet"));
    format!(
        "SELECT * FROM {}",
        knit_sql::quote_literal(&staged.display().to_string())
    )
}

/// Merges the rows of `rows` (a query: the staged output) into the Delta table
/// `out/<output>`, on the output's keys: one new version, which changes only the rows
/// that changed. With `replace_where`, the rows replace only the table's rows it holds
/// for (see `COPY ... OPTIONS ('replace_where' ...)`). With `deletion_vectors`, the
/// rows replaced are marked deleted, not rewritten. Returns the manifest's entry.
async fn publish_delta(
    session: &KnitSession,
    script: &Script,
    output: &str,
    rows: &str,
    out: &Path,
    replace_where: Option<&str>,
    deletion_vectors: bool,
) -> Result<serde_json::Value, String> {
    let keys = script
        .statements
        .iter()
        .find(|s| s.output.as_deref() == Some(output))
        .map(|s| s.keys.join(", "))
        .unwrap_or_default();
    let mode = match (keys.is_empty(), replace_where) {
        (true, _) => "'mode' 'overwrite'".to_string(),
        (false, None) => format!("'mode' 'merge', 'keys' {}", knit_sql::quote_literal(&keys)),
        (false, Some(predicate)) => format!(
            "'mode' 'merge', 'keys' {}, 'replace_where' {}",
            knit_sql::quote_literal(&keys),
            knit_sql::quote_literal(predicate)
        ),
    };
    // Rows a merge marks deleted stay in their files until those are written again:
    // once half of a file's rows are, it is (see `COPY ... OPTIONS ('purge' ...)`).
    let purge = if deletion_vectors && !keys.is_empty() {
        format!(", 'purge' '{}'", knit_pb::DELTA_PURGE_SHARE)
    } else {
        String::new()
    };
    let table = out.join(output).display().to_string();
    let sql = format!(
        "COPY ({rows}) TO {} STORED AS DELTA OPTIONS ({mode}, 'deletion_vectors' '{deletion_vectors}'{purge})",
        knit_sql::quote_literal(&table),
    );
    let batches = collect(session, &sql).await?;
    let counts: Vec<u64> = batches
        .first()
        .map(|batch| {
            batch
                .columns()
                .iter()
                .filter_map(|c| c.as_any().downcast_ref::<UInt64Array>())
                .map(|c| c.value(0))
                .collect()
        })
        .unwrap_or_default();
    let [rows, version, inserted, updated, deleted] = counts[..] else {
        return Err("the Delta write gave no counts".to_string());
    };
    Ok(serde_json::json!({
        "output": output,
        "table": output,
        "rows": rows,
        "version": version,
        "inserted": inserted,
        "updated": updated,
        "deleted": deleted,
    }))
}

/// The merge history of an id graph output (one merged on `other_id, other_id_type`):
/// when two customers turn out to be one, the later one's main id disappears. Appends
/// to the Delta table `out/<output>_redirects` a row per main id that this run's version
/// retired: `old_main_id`, `new_main_id` (the main id most of its ids have now, ties to
/// the smallest), `run` (the id graph's version) and `merged_at` (the run's start).
/// Replaying the table in order keeps anything keyed on main ids current; a chain
/// (a to b in one run, b to c in a later one) resolves to its end. A run that retires
/// none appends no row (the table is made by the first run, empty).
async fn write_redirects(
    session: &KnitSession,
    script: &Script,
    out: &Path,
    started_at: &str,
    entry: &mut serde_json::Value,
) -> Result<(), String> {
    let (Some(output), Some(version)) = (entry["output"].as_str(), entry["version"].as_u64())
    else {
        return Ok(());
    };
    let is_id_graph = script
        .statements
        .iter()
        .any(|s| s.output.as_deref() == Some(output) && s.keys == ["other_id", "other_id_type"]);
    if !is_id_graph {
        return Ok(());
    }
    let table = knit_sql::quote_literal(&out.join(output).display().to_string());
    let frame = session
        .sql(&format!("SELECT * FROM {table}"))
        .await
        .map_err(|e| ErrorReport::new(&e, session.memory_limit()).to_string())?;
    let main = frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .find(|n| !["other_id", "other_id_type", "valid_at", "first_seen_at"].contains(&n.as_str()))
        .ok_or_else(|| format!("the id graph {output} has no main id column"))?;
    let main = knit_sql::quote_ident(&main);
    let redirects = out.join(redirects_table(output)).display().to_string();
    let sql = format!(
        "COPY (\
         WITH changed AS (SELECT * FROM table_changes({table}, {version}, {version})), \
         moved AS (SELECT pre.{main} AS old_main_id, post.{main} AS new_main_id, count(*) AS ids \
           FROM changed pre JOIN changed post USING (other_id, other_id_type) \
           WHERE pre._change_type = 'update_preimage' AND post._change_type = 'update_postimage' \
             AND pre.{main} <> post.{main} GROUP BY 1, 2), \
         retired AS (SELECT * FROM moved WHERE old_main_id NOT IN (SELECT {main} FROM {table})) \
         SELECT old_main_id, \
           first_value(new_main_id ORDER BY ids DESC, new_main_id) AS new_main_id, \
           CAST({version} AS BIGINT) AS run, \
           CAST({started} AS TIMESTAMP) AS merged_at \
         FROM retired GROUP BY old_main_id ORDER BY old_main_id) \
         TO {} STORED AS DELTA OPTIONS ('mode' 'append')",
        knit_sql::quote_literal(&redirects),
        started = knit_sql::quote_literal(started_at),
    );
    let rows = copied_rows(&collect(session, &sql).await?);
    entry["redirects"] = serde_json::json!({ "table": redirects_table(output), "rows": rows });
    Ok(())
}

/// The table of the merge history of the id graph output `graph`.
fn redirects_table(graph: &str) -> String {
    format!("{graph}_redirects")
}

/// The rows a `COPY` wrote: the first column of its result.
fn copied_rows(batches: &[datafusion::arrow::array::RecordBatch]) -> u64 {
    batches
        .first()
        .and_then(|b| b.column(0).as_any().downcast_ref::<UInt64Array>())
        .map_or(0, |counts| counts.value(0))
}

/// The batches of one statement, or its error as the user sees it.
async fn collect(
    session: &KnitSession,
    sql: &str,
) -> Result<Vec<datafusion::arrow::array::RecordBatch>, String> {
    let frame = session
        .sql(sql)
        .await
        .map_err(|e| ErrorReport::new(&e, session.memory_limit()).to_string())?;
    frame
        .collect()
        .await
        .map_err(|e| ErrorReport::new(&e.into(), session.memory_limit()).to_string())
}

/// Writes the changes that this run's version of a keyed Delta output made, as
/// `changes/<output>_changes.parquet`: entered rows (inserted), exited rows (deleted,
/// with their last values) and changed rows (updated, with their new values), each with
/// `change` and the table's `version`. Notes the file in the output's manifest `entry`.
/// An output without keys is rewritten whole each run, so it has no changes to give.
async fn write_changes(
    session: &KnitSession,
    script: &Script,
    out: &Path,
    changes: &Path,
    entry: &mut serde_json::Value,
) -> Result<(), String> {
    let (Some(output), Some(version)) = (entry["output"].as_str(), entry["version"].as_u64())
    else {
        return Ok(());
    };
    let keyed = script
        .statements
        .iter()
        .any(|s| s.output.as_deref() == Some(output) && !s.keys.is_empty());
    if !keyed {
        return Ok(());
    }
    let file = format!("{output}_changes.parquet");
    let table = out.join(output).display().to_string();
    let target = changes.join(&file).display().to_string();
    let sql = format!(
        "COPY (SELECT * EXCEPT (_change_type, _commit_version, _commit_timestamp), \
         CASE _change_type WHEN 'insert' THEN 'entered' WHEN 'delete' THEN 'exited' \
         ELSE 'changed' END AS change, _commit_version AS version \
         FROM table_changes({}, {version}, {version}) \
         WHERE _change_type <> 'update_preimage') TO {}",
        knit_sql::quote_literal(&table),
        knit_sql::quote_literal(&target),
    );
    if !target.contains("://") {
        std::fs::create_dir_all(changes).map_err(|e| {
            format!(
                "cannot create the changes folder '{}': {e}",
                changes.display()
            )
        })?;
    }
    let batches = collect(session, &sql).await?;
    let rows = copied_rows(&batches);
    entry["changes"] = serde_json::json!({ "file": file, "rows": rows });
    Ok(())
}

/// Removes the staging folders under `out` of runs whose process has ended (killed
/// runs); those of running processes stay.
fn remove_stale_staging(out: &Path) {
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(STAGING_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            tracing::debug!(folder = %name, "removing a killed run's staging folder");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Runs the script's statements (only its outputs when `outputs_only`), writing them
/// into the staging folder, until done, Ctrl-C or `deadline`; returns each output with
/// the rows written, and a line per output unless `quiet`. A run that fails or is
/// stopped publishes nothing: its staged files go, and the error says so with
/// `unchanged` (what was left as it was).
async fn run_staged(
    session: &KnitSession,
    script: &Script,
    outputs_only: bool,
    quiet: bool,
    staging: &str,
    deadline: Option<Deadline>,
    unchanged: &str,
) -> Result<Vec<(String, u64)>, String> {
    let written = tokio::select! {
        result = run_statements(session, script, outputs_only, quiet) => result,
        _ = tokio::signal::ctrl_c() => Err(format!("cancelled; {unchanged}")),
        Some(limit) = expire(deadline) => Err(format!(
            "the run took longer than --timeout {} and was stopped; {unchanged}",
            knit_core::format_duration(limit)
        )),
    };
    if written.is_err()
        && let Err(e) = session.remove_folder(staging).await
    {
        tracing::warn!(%e, "could not remove the staging folder");
    }
    written
}

/// How many outputs a run computes at once. Outputs read the same kept stitch and var
/// table, and then each writes its file on mostly one core, so two side by side keep
/// both cores busy.
const OUTPUTS_AT_ONCE: usize = 2;

/// Runs the script's statements, or only its outputs when `outputs_only` (the session
/// has its definitions); returns each output with the rows written. Definitions run in
/// order; each run of consecutive outputs (which read definitions, never each other)
/// is computed [`OUTPUTS_AT_ONCE`] at a time.
async fn run_statements(
    session: &KnitSession,
    script: &Script,
    outputs_only: bool,
    quiet: bool,
) -> Result<Vec<(String, u64)>, String> {
    let statements = &script.statements;
    let outputs = statements.iter().filter(|s| s.output.is_some()).count();
    let started = Instant::now();
    let mut written = Vec::with_capacity(outputs);
    let mut index = 0;
    while index < statements.len() {
        if statements[index].output.is_none() {
            if !outputs_only {
                execute(session, &statements[index]).await?;
            }
            index += 1;
            continue;
        }
        let end = statements[index..]
            .iter()
            .position(|s| s.output.is_none())
            .map_or(statements.len(), |n| index + n);
        let mut computed = futures::stream::iter(index..end)
            .map(|at| async move {
                let step = Instant::now();
                (at, execute(session, &statements[at]).await, step.elapsed())
            })
            .buffered(OUTPUTS_AT_ONCE);
        while let Some((at, result, took)) = computed.next().await {
            let output = statements[at].output.clone().unwrap_or_default();
            let rows = match result {
                Ok(rows) => rows,
                Err(message) => {
                    // Stop the other outputs before probing the vars one by one.
                    drop(computed);
                    // Which var failed, if one fails alone: the output's message cannot say.
                    return Err(failing_var(session, &statements[..at])
                        .await
                        .map_or(message, |var| {
                            format!("{var} (while computing output {output})")
                        }));
                }
            };
            written.push((output.clone(), rows));
            if !quiet {
                eprintln!(
                    "[{}/{outputs}] {output}: {rows} rows in {:.2}s",
                    written.len(),
                    took.as_secs_f64()
                );
            }
        }
        index = end;
    }
    if !quiet {
        eprintln!(
            "wrote {outputs} outputs in {:.2}s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(written)
}

/// Vars probed at most when an output fails, to find the one that fails.
const VARS_PROBED: usize = 200;

/// The first entity var of `defined` (in definition order) that fails when computed
/// alone, as `file: key: error`; `None` when none does (the failure is elsewhere: an
/// input var, a cohort, the output's own query). Each probe reads the var through
/// `entity_vars`, which computes it and the vars it reads, and nothing else: the
/// feature table computes all of an entity's vars at once.
async fn failing_var(session: &KnitSession, defined: &[ScriptStatement]) -> Option<String> {
    let vars = defined.iter().filter_map(|statement| {
        let Ok(knit_sql::Statement::CreateEntityVar(create)) =
            knit_sql::parse_statement(&statement.sql)
        else {
            return None;
        };
        let origin = statement.origin.as_ref()?;
        (!create.hidden).then_some((create, origin))
    });
    for (create, origin) in vars.take(VARS_PROBED) {
        let ident = |i: &datafusion::sql::sqlparser::ast::Ident| match i.quote_style {
            Some(_) => i.value.clone(),
            None => i.value.to_lowercase(),
        };
        let name = ident(&create.name.name);
        let probe = format!(
            "SELECT count({}) FROM entity_vars({}, {})",
            knit_sql::quote_ident(&name),
            knit_sql::quote_literal(&ident(&create.name.owner)),
            knit_sql::quote_literal(&name)
        );
        let result = match session.start(&probe).await {
            Ok(query) => query.stream.try_collect::<Vec<_>>().await.map(|_| ()),
            Err(e) => {
                tracing::debug!(%e, probe, "a var probe did not plan");
                continue;
            }
        };
        if let Err(e) = result {
            let report = ErrorReport::new(&e.into(), session.memory_limit());
            return Some(format!("{}: {}: {report}", origin.file, origin.key));
        }
    }
    None
}

/// Runs one statement; returns the rows a `COPY` wrote.
async fn execute(session: &KnitSession, statement: &ScriptStatement) -> Result<u64, String> {
    // An output's statement fails at run time in any var the output reads, so the
    // output is what it names, with where the output is defined.
    let describe = |e: knit_core::CoreError| {
        let report = ErrorReport::new(&e, session.memory_limit());
        match (&statement.output, &statement.origin) {
            (Some(output), Some(origin)) => format!(
                "computing output {output} (defined at {}: {}): {report}",
                origin.file, origin.key
            ),
            (Some(output), None) => format!("computing output {output}: {report}"),
            (None, Some(origin)) => format!("{}: {}: {report}", origin.file, origin.key),
            (None, None) => report.to_string(),
        }
    };
    let query = session.start(&statement.sql).await.map_err(describe)?;
    let batches: Vec<_> = query
        .stream
        .try_collect()
        .await
        .map_err(|e| describe(e.into()))?;
    Ok(batches
        .iter()
        .filter_map(|b| b.column(0).as_any().downcast_ref::<UInt64Array>())
        .map(|counts| counts.iter().flatten().sum::<u64>())
        .sum())
}
