// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! What a store run does, decided from the last run's state and the files there are
//! now: nothing (the store is current), everything (and why), or a refresh of the
//! clusters new rows touch.

use std::collections::BTreeMap;

use chrono::Utc;
use datafusion::arrow::compute::kernels::cast_utils::string_to_datetime;
use knit_core::TableFile;
use knit_pb::Script;

use super::execute;
use super::grain_passes::ProjectScripts;
use super::refreshable::{normal, not_incremental, reads_current_time, row_tables};
use super::store_run::StoreRun;
use super::store_state::{StoreState, file_changes};

/// What a run does.
#[derive(Debug)]
pub(super) enum Plan {
    /// Everything, for this reason.
    Full(String),
    /// Nothing: no input file is new or changed, and the end time is the same.
    Current,
    /// Refresh the clusters the new rows touch: the new files of each table, and the
    /// end time of the last run when this one is later (rows of old files between the
    /// two are new).
    Incremental {
        added: BTreeMap<String, Vec<TableFile>>,
        window_from: Option<String>,
    },
}

/// Decides what the run does, from the last run's state and the files there are now.
/// A run that computes time grains before its end time (`early`) is full unless current.
pub(super) fn plan(
    args: &StoreRun<'_>,
    previous: Option<&StoreState>,
    script: &Script,
    tables: &BTreeMap<String, Option<Vec<TableFile>>>,
    print: &str,
    end_time: &str,
    early: bool,
) -> Plan {
    let Some(previous) = previous else {
        return Plan::Full("the store's first run".to_string());
    };
    if args.rebuild {
        return Plan::Full(args.rebuild_flag().to_string());
    }
    if previous.knit_version != env!("CARGO_PKG_VERSION") {
        return Plan::Full(format!(
            "the last run was made by Knit {}",
            previous.knit_version
        ));
    }
    if previous.fingerprint != print {
        return Plan::Full("the project's definitions changed".to_string());
    }
    if previous.begin_time != args.begin_time {
        return Plan::Full("--begin-time changed".to_string());
    }
    if let Some(reason) = not_incremental(script).or_else(|| reads_current_time(script)) {
        return Plan::Full(reason);
    }
    let mut added = BTreeMap::new();
    for (table, files) in tables {
        let Some(files) = files else {
            return Plan::Full(format!(
                "input table {table} is not read from files (a view or a table in memory), so \
                 its new rows cannot be told apart"
            ));
        };
        let before = previous.tables.get(table).map_or(&[][..], Vec::as_slice);
        let changes = file_changes(before, files);
        if let Some(changed) = changes.changed {
            return Plan::Full(format!("input file {changed} since run {}", previous.run));
        }
        if !changes.added.is_empty() {
            added.insert(table.clone(), changes.added);
        }
    }
    if early {
        return if added.is_empty() && time(&previous.end_time) == time(end_time) {
            Plan::Current
        } else {
            Plan::Full(
                "the project computes time grains as of their boundaries before the end time, \
                 which are no increment of the last run"
                    .to_string(),
            )
        };
    }
    let rows = row_tables(script);
    // Input rows must come from tables whose files were listed: a Knit SQL input may
    // read files by their path instead (a pb project's script registers every table).
    if let Some(table) = rows
        .iter()
        .find(|t| !tables.keys().any(|k| normal(k) == **t))
    {
        return Plan::Full(format!(
            "input rows are read from {table}, which is not a table of CREATE EXTERNAL TABLE, \
             so its new files cannot be told apart"
        ));
    }
    if let Some(table) = added.keys().find(|t| !rows.contains(&normal(t))) {
        return Plan::Full(format!(
            "table {table} has new files, and it is read beside input rows (by an id type \
             filter or a join), so they may change rows read before"
        ));
    }
    let moved = if args.bounded_by_end_time() {
        let (Some(before), Some(now)) = (time(&previous.end_time), time(end_time)) else {
            return Plan::Full("the end times cannot be compared".to_string());
        };
        if now < before {
            return Plan::Full(format!(
                "the end time {end_time} is before the last run's, {}",
                previous.end_time
            ));
        }
        now > before
    } else {
        false
    };
    if moved
        && let Some(statement) = script.statements.iter().find(|s| {
            s.sql.contains(end_time) && !s.sql.starts_with("CREATE INPUT ") && s.table.is_none()
        })
    {
        let what = statement.origin.as_ref().map_or_else(
            || statement.sql.clone(),
            |o| format!("{}: {}", o.file, o.key),
        );
        return Plan::Full(format!("{what} reads the end time, which moved"));
    }
    if added.is_empty() && !moved {
        return Plan::Current;
    }
    Plan::Incremental {
        added,
        window_from: moved.then(|| previous.end_time.clone()),
    }
}

/// Whether the store is current, told before a pb project's passes run (and then said):
/// the passes (time grains before the end time) write files that the run's definitions
/// read, and each takes about as long as the run, so a current store runs none. The
/// tables are listed in a session of their own, without the rest of the definitions.
pub(super) async fn current_before_passes(
    args: &StoreRun<'_>,
    previous: Option<&StoreState>,
    scripts: &ProjectScripts,
    print: &str,
    end_time: &str,
) -> Result<bool, String> {
    if scripts.passes.is_empty() || previous.is_none() {
        return Ok(false);
    }
    let session = args.session()?;
    let mut tables = BTreeMap::new();
    for statement in scripts.run.statements.iter().filter(|s| s.output.is_none()) {
        // The settings and the schemas the tables are registered in come before them.
        let catalog = ["SET ", "CREATE DATABASE ", "CREATE SCHEMA "]
            .iter()
            .any(|start| statement.sql.starts_with(start));
        if !catalog && statement.table.is_none() {
            continue;
        }
        execute(&session, statement).await?;
        if let Some(table) = &statement.table {
            let files = session
                .table_files(table)
                .await
                .map_err(|e| e.to_string())?;
            tables.insert(table.clone(), files);
        }
    }
    let planned = plan(
        args,
        previous,
        &scripts.run,
        &tables,
        print,
        end_time,
        scripts.early,
    );
    let current = matches!(planned, Plan::Current);
    if current {
        say_current(args, previous);
    }
    Ok(current)
}

/// Says that the store is current (nothing is written).
pub(super) fn say_current(args: &StoreRun<'_>, previous: Option<&StoreState>) {
    args.say(format_args!(
        "the store is current: no input file is new or changed since run {}{}",
        previous.map_or(0, |p| p.run),
        if args.bounded_by_end_time() {
            ", and the end time is the same"
        } else {
            ""
        }
    ));
}

/// A time given as RFC 3339 (or SQL's date and time), in microseconds.
fn time(text: &str) -> Option<i64> {
    string_to_datetime(&Utc, text)
        .ok()
        .map(|t| t.timestamp_micros())
}
