// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit project run DIR --store PATH` and Knit SQL's `REFRESH PROFILE STORE`: a run that
//! keeps its outputs as Delta tables in a profile store and refreshes them
//! incrementally.
//!
//! Every run lists the files of each input table once and reads exactly those (files
//! landing meanwhile wait for the next run). The first run, and any run that cannot
//! only add rows, computes everything. A later run compares the files with those the
//! last run read:
//!
//! - none new, and the same end time (a pb project's; Knit SQL inputs have none): the
//!   store is current, and nothing is written;
//! - a file changed or deleted, other definitions, a new `--begin-time`, an earlier
//!   end time, or a definition that an incremental run cannot compute from some
//!   clusters alone (a window over entities, a SQL model that joins or aggregates, a var
//!   reading the end time once it moved): a full run, and one line says why;
//! - otherwise new rows: those of the new files, and those of the old files whose time
//!   falls between the last end time and this one. The clusters they touch are the
//!   ones holding their ids, as the new rows stitch them and as the stored id graph has
//!   them; each entity is scoped to those clusters (`knit_core::EntityScope`), every
//!   output computed for them alone, and each output table's rows of those clusters
//!   replaced by the new ones in one merge, so that its version records exactly what
//!   changed.
//!
//! The result is the full run's, row for row: clusters are closed under rows (a scope
//! takes in every cluster of a lookup row it holds an id of, as such a row makes no
//! edge), and the stitch, vars and cohorts of a cluster depend on its rows only.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::{Array, StringArray};
use futures::{StreamExt, TryStreamExt};
use knit_core::KnitSession;
use knit_pb::Script;
use knit_sql::{quote_ident, quote_literal};

use crate::deadline::Deadline;

use super::refresh_scope::{EntityRefresh, define, register, scope, scope_table};
use super::refreshable::graph_output;
use super::run_plan::{Plan, current_before_passes, plan, say_current};
use super::store_run::StoreRun;
use super::store_state::{
    STATE_FOLDER, StoreLock, StoreState, fingerprint, remove_staging_folders,
};
use super::{
    PUBLISHES_AT_ONCE, STAGING_PREFIX, collect, publish_delta, redirects_table, run_staged,
    staged_rows, write_changes, write_redirects,
};

/// Runs the definitions into the store at `store` (a local folder or an `s3://` URL),
/// holding the store's lock, unless `stop` resolves first (with why): the run is then
/// dropped where it is, as a killed run would be, and the lock given up.
pub(crate) async fn run_store(
    run: &StoreRun<'_>,
    store: &Path,
    stop: impl Future<Output = String>,
) -> Result<(), String> {
    if !store.display().to_string().contains("://") {
        if store.exists() && !store.is_dir() {
            return Err(format!(
                "--store: '{}' is a file: name a folder (it is created if missing)",
                store.display()
            ));
        }
        std::fs::create_dir_all(store.join(STATE_FOLDER))
            .map_err(|e| format!("--store: cannot create '{}': {e}", store.display()))?;
    }
    let session = run.session()?;
    let lock = StoreLock::acquire(&session, store).await?;
    // `stop` is polled first, so that it listens (Ctrl-C's handler is registered when
    // first polled) before the run starts and says so.
    let result = tokio::select! {
        biased;
        why = stop => Err(format!(
            "{why}: the store keeps its last complete run (the next refresh reads what this \
             one would have)"
        )),
        result = Box::pin(run_locked(run, &session, store)) => result,
    };
    lock.release(&session).await;
    result
}

/// Runs the project into the store, whose lock this process holds.
async fn run_locked(
    args: &StoreRun<'_>,
    session: &KnitSession,
    store: &Path,
) -> Result<(), String> {
    remove_staging_folders(session, store).await?;
    let previous = StoreState::read(session, store).await?;
    let started_at = knit_pb::now_rfc3339();
    let clock = Instant::now();
    let end_time =
        args.run_end_time(args.end_time.clone().unwrap_or_else(|| started_at.clone()))?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let staging = store.join(format!("{STAGING_PREFIX}{}-{stamp}", std::process::id()));
    let scripts = args.scripts(&staging, args.begin_time.clone(), end_time.clone())?;
    let mut script = scripts.run.clone();
    let staging_text = staging.display().to_string();
    let statements = scripts.run_texts();
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    let print = fingerprint(&statements, &staging_text, &end_time);
    if current_before_passes(args, previous.as_ref(), &scripts, &print, &end_time).await? {
        return Ok(());
    }
    // A pb project's time grains before the end time are computed first, in passes
    // whose files the run's definitions read.
    let deadline = args.timeout.map(Deadline::starting_now);
    let (mut pass_written, pass_outputs) = scripts
        .run_passes(args.memory_limit, &staging_text, deadline, args.quiet)
        .await?;

    let tables = define(session, &script, None).await?;
    let plan = plan(
        args,
        previous.as_ref(),
        &script,
        &tables,
        &print,
        &end_time,
        scripts.early,
    );
    let run = previous.as_ref().map_or(1, |p| p.run + 1);
    let (mode, refreshes) = match &plan {
        Plan::Current => {
            if !scripts.passes.is_empty()
                && let Err(e) = session.remove_folder(&staging_text).await
            {
                tracing::warn!(%e, "could not remove the staging folder");
            }
            say_current(args, previous.as_ref());
            return Ok(());
        }
        Plan::Full(reason) => {
            args.say(format_args!("run {run}: full ({reason})"));
            ("full", Vec::new())
        }
        Plan::Incremental { added, window_from } => {
            let files: usize = added.values().map(Vec::len).sum();
            args.say(format_args!(
                "run {run}: incremental ({files} new input files)"
            ));
            let step = Instant::now();
            let old = previous
                .as_ref()
                .map(|p| p.tables.clone())
                .unwrap_or_default();
            let scoped = scope(
                args,
                session,
                &script,
                store,
                added,
                &old,
                window_from.as_deref(),
                &end_time,
            )
            .await?;
            match scoped {
                Some(refreshes) => {
                    args.say(format_args!(
                        "scoped the run to the touched clusters in {:.2}s",
                        step.elapsed().as_secs_f64()
                    ));
                    ("incremental", refreshes)
                }
                None => {
                    args.say(format_args!(
                        "run {run}: full (the touched clusters kept growing through refused edges)"
                    ));
                    ("full", Vec::new())
                }
            }
        }
    };
    let mut touched = serde_json::Map::new();
    for refresh in &refreshes {
        touched.insert(
            refresh.entity.clone(),
            serde_json::json!({
                "ids": refresh.ids.len(),
                "stored_clusters": refresh.stored_clusters,
            }),
        );
        args.say(format_args!(
            "  {}: {} ids in {} stored clusters touched ({} rounds)",
            refresh.entity,
            refresh.ids.len(),
            refresh.stored_clusters,
            refresh.rounds
        ));
    }

    let written = run_staged(
        session,
        &script,
        true,
        args.quiet,
        &staging_text,
        deadline,
        "the store keeps its last complete run (the next refresh reads what this one would have)",
    )
    .await?;
    // The passes' outputs (models of a grain) are published with the run's.
    let written = {
        pass_written.extend(written);
        pass_written
    };
    script.statements.extend(pass_outputs);
    if mode == "incremental" {
        for refresh in &refreshes {
            register_scope(session, &script, &staging, refresh).await?;
        }
    }
    // The tables are independent: their merges run side by side.
    let publishes = written.iter().map(|(output, _)| {
        let script = &script;
        let staging = &staging;
        async move {
            let (rows, replace_where) = if mode == "incremental" {
                let (rows, in_scope) = scoped_rows(session, script, output, staging)?;
                (rows, Some(in_scope))
            } else {
                (staged_rows(staging, output), None)
            };
            let step = Instant::now();
            let entry = publish_delta(
                session,
                script,
                output,
                &rows,
                store,
                replace_where.as_deref(),
                args.deletion_vectors,
            )
            .await
            .map_err(|e| format!("publishing {output}: {e}"))?;
            args.say(format_args!(
                "published {output}: {} inserted, {} updated, {} deleted in {:.2}s",
                entry["inserted"],
                entry["updated"],
                entry["deleted"],
                step.elapsed().as_secs_f64()
            ));
            Ok::<_, String>(entry)
        }
    });
    let mut manifest: Vec<serde_json::Value> = futures::stream::iter(publishes)
        .buffered(PUBLISHES_AT_ONCE)
        .try_collect()
        .await?;
    for entry in &mut manifest {
        write_redirects(session, &script, store, &started_at, entry)
            .await
            .map_err(|e| format!("writing the redirects of {}: {e}", entry["output"]))?;
    }
    if let Some(changes) = &args.changes_out {
        for entry in &mut manifest {
            write_changes(session, &script, store, changes, entry)
                .await
                .map_err(|e| format!("writing the changes of {}: {e}", entry["output"]))?;
        }
    }
    let state = StoreState {
        run,
        knit_version: env!("CARGO_PKG_VERSION").to_string(),
        mode: mode.to_string(),
        fingerprint: print,
        begin_time: args.begin_time.clone(),
        end_time,
        started_at,
        finished_at: knit_pb::now_rfc3339(),
        tables: tables
            .into_iter()
            .filter_map(|(table, files)| files.map(|f| (table, f)))
            .collect(),
        outputs: manifest,
        touched: serde_json::Value::Object(touched),
        entities: entity_tables(&script),
    };
    let bytes = serde_json::to_vec_pretty(&state.to_json()).unwrap_or_default();
    session
        .write_file(&StoreState::path(store).display().to_string(), bytes)
        .await
        .map_err(|e| format!("writing the store's state: {e}"))?;
    if let Err(e) = session.remove_folder(&staging_text).await {
        tracing::warn!(%e, "could not remove the staging folder");
    }
    args.say(format_args!(
        "run {run} ({mode}) finished in {:.2}s",
        clock.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Each entity's id graph and merge history tables, for the store's state.
fn entity_tables(script: &Script) -> serde_json::Value {
    let entities: BTreeSet<&str> = script
        .statements
        .iter()
        .filter_map(|s| s.entity.as_deref())
        .collect();
    let tables: serde_json::Map<String, serde_json::Value> = entities
        .into_iter()
        .filter_map(|entity| {
            let graph = graph_output(script, entity)?;
            let tables = serde_json::json!({
                "id_graph": graph,
                "redirects": redirects_table(graph),
            });
            Some((entity.to_string(), tables))
        })
        .collect();
    serde_json::Value::Object(tables)
}

/// Registers the refresh's tables of an entity: its touched ids, and the main ids its
/// touched clusters had (in the stored graph) and have (in this run's graph).
async fn register_scope(
    session: &KnitSession,
    script: &Script,
    staging: &Path,
    refresh: &EntityRefresh,
) -> Result<(), String> {
    let graph = graph_output(script, &refresh.entity)
        .ok_or_else(|| format!("entity {} has no id graph output", refresh.entity))?;
    let main = session
        .catalog()
        .entity(&refresh.entity)
        .map_err(|e| e.to_string())?
        .main_id_column
        .clone();
    let sql = format!(
        "SELECT DISTINCT {} FROM ({})",
        quote_ident(&main),
        staged_rows(staging, graph)
    );
    let mut mains = refresh.mains.clone();
    for batch in collect(session, &sql).await? {
        if let Some(values) = batch.column(0).as_any().downcast_ref::<StringArray>() {
            mains.extend(values.iter().flatten().map(str::to_string));
        }
    }
    register(
        session,
        &scope_table("ids", &refresh.entity),
        &["other_id_type", "other_id"],
        refresh
            .ids
            .iter()
            .map(|(t, i)| vec![t.clone(), i.clone()])
            .collect(),
    )?;
    register(
        session,
        &scope_table("edges", &refresh.entity),
        &["id1", "id1_type", "id2", "id2_type"],
        refresh.new_edges.iter().map(|e| e.to_vec()).collect(),
    )?;
    register(
        session,
        &scope_table("mains", &refresh.entity),
        &["main"],
        mains.into_iter().map(|m| vec![m]).collect(),
    )
}

/// What an incremental run merges into `output`: this run's rows (the touched
/// clusters'), and the predicate (over the table, as `target`) of the table's rows they
/// replace, the touched clusters' rows; the table's other rows stay.
///
/// The edges are narrower: an edge's row (its ids, the smaller rid of the two, and the
/// time of the earliest row holding it) depends on no other edge, so only the edges of
/// the new rows can be new or change. Their rows alone are compared with the table's,
/// rather than every edge of the touched clusters.
fn scoped_rows(
    session: &KnitSession,
    script: &Script,
    output: &str,
    staging: &Path,
) -> Result<(String, String), String> {
    let statement = script
        .statements
        .iter()
        .find(|s| s.output.as_deref() == Some(output))
        .ok_or_else(|| format!("no statement writes {output}"))?;
    let entity = statement
        .entity
        .as_deref()
        .ok_or_else(|| format!("output {output} belongs to no entity"))?;
    let id_types: Vec<String> = session
        .catalog()
        .entity(entity)
        .map_err(|e| e.to_string())?
        .id_types
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let ids = scope_table("ids", entity);
    let mains = scope_table("mains", entity);
    let edges = scope_table("edges", entity);
    let inside = |id_type: &str, id: &str| {
        format!(
            "EXISTS (SELECT 1 FROM {ids} s WHERE s.other_id_type = {id_type} \
             AND s.other_id = {id})"
        )
    };
    // A missing id is '' on both sides, so that the probe is an equi-join.
    let new_edge = |row: &str| {
        format!(
            "EXISTS (SELECT 1 FROM {edges} e WHERE e.id1_type = {row}.id1_type \
             AND e.id2_type = {row}.id2_type AND e.id1 = coalesce({row}.id1, '') \
             AND e.id2 = coalesce({row}.id2, ''))"
        )
    };
    let staged = staged_rows(staging, output);
    let keys: Vec<&str> = statement.keys.iter().map(String::as_str).collect();
    let in_scope = match keys.as_slice() {
        ["other_id", "other_id_type"] => inside("target.other_id_type", "target.other_id"),
        ["id1", "id1_type", "id2", "id2_type"] => {
            let rows = format!(
                "SELECT * FROM ({staged}) staged WHERE {}",
                new_edge("staged")
            );
            return Ok((rows, new_edge("target")));
        }
        [id] if id_types.iter().any(|t| t == id) => {
            inside(&quote_literal(id), &format!("target.{}", quote_ident(id)))
        }
        [main] => format!(
            "EXISTS (SELECT 1 FROM {mains} m WHERE m.main = target.{})",
            quote_ident(main)
        ),
        _ => {
            return Err(format!(
                "output {output} is keyed by {}, which a refresh cannot scope",
                keys.join(", ")
            ));
        }
    };
    Ok((staged, in_scope))
}
