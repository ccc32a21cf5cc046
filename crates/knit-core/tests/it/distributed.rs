// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Sessions with workers: queries on three in-process workers (real gRPC servers on
//! 127.0.0.1) give the answers of a local session, and bad setups fail clearly.

use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::runtime::SpawnedTask;
use knit_core::{KnitSession, SessionBuilder};
use tokio::sync::oneshot;

pub(crate) const TOKEN: &str = "test-token-3f9a";

/// Workers serving on loopback until dropped.
pub(crate) struct Workers {
    pub(crate) list: String,
    stops: Vec<oneshot::Sender<()>>,
    /// The servers' tasks, aborted when dropped.
    _servers: Vec<SpawnedTask<()>>,
}

impl Drop for Workers {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
    }
}

/// Starts `n` workers accepting `token`.
pub(crate) async fn start_workers(n: usize, token: &str) -> Workers {
    let mut addresses = Vec::new();
    let mut stops = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..n {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addresses.push(listener.local_addr().unwrap().to_string());
        let (stop, stopped) = oneshot::channel::<()>();
        stops.push(stop);
        let session = SessionBuilder::new()
            .with_target_partitions(2)
            .with_memory_limit(1 << 30);
        let token = token.to_string();
        servers.push(SpawnedTask::spawn(async move {
            let session = session.build().unwrap();
            session
                .serve_worker(listener, token, None, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        }));
    }
    Workers {
        list: addresses.join(","),
        stops,
        _servers: servers,
    }
}

/// A session on `workers` whose scans spread over every worker however small.
pub(crate) async fn session_on(workers: &str, token: &str) -> KnitSession {
    let session = SessionBuilder::new()
        .with_target_partitions(4)
        .with_memory_limit(1 << 30)
        .with_workers(workers)
        .unwrap()
        .with_worker_token(token)
        .build()
        .unwrap();
    session
        .sql("SET distributed.file_scan_config_bytes_per_partition = 1")
        .await
        .unwrap();
    session
}

fn local_session() -> KnitSession {
    SessionBuilder::new()
        .with_target_partitions(4)
        .with_memory_limit(1 << 30)
        .build()
        .unwrap()
}

async fn rows(session: &KnitSession, sql: &str) -> String {
    let batches: Vec<RecordBatch> = session.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

/// The plan `sql` ran with, stages and all (plain EXPLAIN shows the local plan).
async fn plan(session: &KnitSession, sql: &str) -> String {
    rows(session, &format!("EXPLAIN ANALYZE {sql}")).await
}

/// The error of `sql`, whether planning or running it fails.
async fn error_of(session: &KnitSession, sql: &str) -> String {
    match session.sql(sql).await {
        Ok(frame) => frame.collect().await.unwrap_err().to_string(),
        Err(e) => e.to_string(),
    }
}

async fn run_all(session: &KnitSession, statements: &[&str]) {
    for sql in statements {
        session.sql(sql).await.unwrap().collect().await.unwrap();
    }
}

/// Three files of events and an identity table, written by a local session.
async fn write_tables(dir: &std::path::Path) {
    let local = local_session();
    let dir = dir.display();
    for part in 0..3 {
        local
            .sql(&format!(
                "COPY (SELECT 'u' || (i % 997) AS user_id, 'a' || (i % 1994) AS anonymous_id, \
                 i % 13 AS amount, to_timestamp(1704067200 + i * 60) AS ts \
                 FROM generate_series({}, {}) AS t(i)) TO '{dir}/events/part-{part}.parquet'",
                part * 4000,
                part * 4000 + 3999
            ))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
    }
}

fn profile_statements(dir: &std::path::Path) -> Vec<String> {
    let dir = dir.display();
    vec![
        "CREATE ENTITY user ID TYPES (user_id, anonymous_id)".to_string(),
        format!(
            "CREATE INPUT events FOR user FROM '{dir}/events/' \
             IDS (user_id AS user_id, anonymous_id AS anonymous_id) OCCURRED AT ts"
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queries_on_three_workers_match_a_local_session() {
    let dir = tempfile_dir("distributed_match");
    write_tables(&dir).await;
    let workers = start_workers(3, TOKEN).await;
    let remote = session_on(&workers.list, TOKEN).await;
    let local = local_session();
    let setup = profile_statements(&dir);
    let setup: Vec<&str> = setup.iter().map(String::as_str).collect();
    run_all(&remote, &setup).await;
    run_all(&local, &setup).await;

    let events = format!("'{}/events/'", dir.display());
    let queries = [
        // Scans and aggregates spread over the workers.
        format!(
            "SELECT amount, count(*) AS n, sum(amount) AS s, count(DISTINCT user_id) AS users \
             FROM {events} GROUP BY amount ORDER BY amount"
        ),
        // The stitch: its stage runs as one task, fed by the scans.
        "SELECT count(*) AS ids, count(DISTINCT user_main_id) AS clusters, \
         min(valid_at) AS first_valid, max(first_seen_at) AS last_seen FROM id_stitch('user')"
            .to_string(),
        "SELECT user_main_id, other_id, other_id_type, valid_at, first_seen_at \
         FROM id_stitch('user') ORDER BY other_id_type, other_id LIMIT 50"
            .to_string(),
        // Rows mapped to their entity (the lookup), then aggregated.
        "SELECT user_main_id, count(*) AS n FROM id_stitch('user') GROUP BY user_main_id \
         ORDER BY n DESC, user_main_id LIMIT 5"
            .to_string(),
        format!(
            "SELECT count(*) AS nodes, count(DISTINCT component) AS components FROM \
             connected_components((SELECT user_id AS a, anonymous_id AS b FROM {events}))"
        ),
    ];
    // A query over the id graph: the stitch emits the whole graph, so it runs as one
    // task (here, in this process), with its inputs read in that task.
    let by_type = "SELECT other_id_type, count(*) AS ids FROM id_stitch('user') \
                   GROUP BY other_id_type ORDER BY other_id_type";
    assert_eq!(rows(&remote, by_type).await, rows(&local, by_type).await);
    for sql in &queries {
        let expected = rows(&local, sql).await;
        assert_eq!(rows(&remote, sql).await, expected, "{sql}");
        // Each plan runs to its end, stages and all (a kept stitch is read locally).
        plan(&remote, sql).await;
    }
    // The scans did go to the workers.
    let explained = plan(&remote, &queries[0]).await;
    assert!(explained.contains("DistributedExec"), "{explained}");
    assert!(explained.contains("NetworkShuffleExec"), "{explained}");

    // Entity vars and a feature table, in a session that has not stitched yet.
    let vars = [
        "CREATE ENTITY VAR user.events_count AS count(*) FROM events",
        "CREATE ENTITY VAR user.total_amount AS sum(amount) FROM events",
        "CREATE ENTITY VAR user.last_amount AS last_value(amount ORDER BY ts) FROM events",
        "CREATE ENTITY VAR user.anonymous_ids AS count(DISTINCT anonymous_id) FROM events",
    ];
    let fresh = session_on(&workers.list, TOKEN).await;
    run_all(&fresh, &setup).await;
    run_all(&fresh, &vars).await;
    run_all(&local, &vars).await;
    let features = "SELECT user_main_id, events_count, total_amount, last_amount, anonymous_ids \
                    FROM feature_table('user') ORDER BY user_main_id";
    // A feature table is kept for the session's next queries (KeepExec), which only
    // this process can do: the query runs here, with the same answer.
    let explained = plan(&fresh, features).await;
    assert!(explained.contains("KeepExec"), "{explained}");
    let expected = rows(&local, features).await;
    assert!(expected.lines().count() > 900, "{expected}");
    assert_eq!(rows(&fresh, features).await, expected);
    drop(workers);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two inputs of different widths, with NULL ids and times, values the id types'
/// filters refuse, clusters that only the second input joins, and a hub id that joins
/// some twenty of them.
async fn write_graph_tables(dir: &std::path::Path) {
    let local = local_session();
    let dir = dir.display();
    for part in 0..2 {
        local
            .sql(&format!(
                "COPY (SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE 'u' || (i / 6) END AS user_id, \
                 CASE WHEN i % 11 = 0 THEN 'unknown' ELSE 'a' || (i / 3) END AS anonymous_id, \
                 CASE WHEN i % 5 = 0 THEN NULL ELSE to_timestamp(1704067200 + (i * 7919) % 100000) END AS ts \
                 FROM generate_series({}, {}) AS t(i)) TO '{dir}/events/part-{part}.parquet'",
                part * 3000,
                part * 3000 + 2999
            ))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
    }
    local
        .sql(&format!(
            "COPY (SELECT 'u' || (i / 2) AS user_id, \
             CASE WHEN i % 97 = 0 THEN 'qa@example.com' WHEN i % 3 = 0 THEN NULL \
             ELSE 'e' || (i / 4) || '@example.com' END AS email, \
             CASE WHEN i % 4 = 0 THEN NULL ELSE 'd' || (i / 8) END AS device_id, \
             to_timestamp(1704067200 + i * 13) AS ts \
             FROM generate_series(0, 1999) AS t(i)) TO '{dir}/identifies.parquet'"
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
}

/// An entity over the tables of [`write_graph_tables`], its user ids declared as
/// `user_id` says, with `rules` after its id types.
fn graph_entity(dir: &std::path::Path, entity: &str, user_id: &str, rules: &str) -> Vec<String> {
    let d = dir.display();
    vec![
        format!(
            "CREATE ENTITY {entity} ID TYPES ({user_id}, anonymous_id EXCLUDE ('unknown'), \
             email INCLUDE REGEX '[^@ ]+@[^@ ]+', device_id) {rules}"
        ),
        format!(
            "CREATE INPUT {entity}_events FOR {entity} FROM '{d}/events/' \
             IDS (user_id AS user_id, anonymous_id AS anonymous_id) OCCURRED AT ts"
        ),
        format!(
            "CREATE INPUT {entity}_identifies FOR {entity} FROM '{d}/identifies.parquet' \
             IDS (user_id AS user_id, email AS email, device_id AS email, device_id AS device_id) \
             OCCURRED AT ts"
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stitch_spread_over_three_workers_matches_the_local_one() {
    let dir = tempfile_dir("distributed_stitch");
    write_graph_tables(&dir).await;
    let workers = start_workers(3, TOKEN).await;
    let remote = session_on(&workers.list, TOKEN).await;
    let local = local_session();
    let d = dir.display();
    let setup = graph_entity(&dir, "user", "user_id", "");
    let setup: Vec<&str> = setup.iter().map(String::as_str).collect();
    run_all(&remote, &setup).await;
    run_all(&local, &setup).await;
    let queries = [
        "SELECT user_main_id, other_id, other_id_type, valid_at, first_seen_at \
         FROM id_stitch('user') ORDER BY other_id_type, other_id",
        "SELECT * FROM id_stitch_edges('user') \
         ORDER BY id1_type, id1, id2_type, id2, valid_at",
        // A grouping by main id, planned over the routed stitch, whose partitions
        // are not those of the main id's hash.
        "SELECT user_main_id, count(*) AS ids, min(other_id) AS first_id \
         FROM id_stitch('user') GROUP BY user_main_id ORDER BY ids DESC, user_main_id",
    ];
    let clusters = "SELECT count(DISTINCT user_main_id) AS clusters FROM id_stitch('user')";
    let expected = rows(&local, clusters).await;
    assert!(expected.contains("| 230 "), "{expected}");
    assert_eq!(rows(&remote, clusters).await, expected);
    for sql in queries {
        let expected = rows(&local, sql).await;
        assert!(expected.lines().count() > 200, "{expected}");
        assert_eq!(rows(&remote, sql).await, expected, "{sql}");
    }
    // The stitch was routed by cluster and stitched in more than one task.
    let explained = plan(&remote, queries[0]).await;
    assert!(explained.contains("routed"), "{explained}");
    assert!(explained.contains("IdKeysExec"), "{explained}");
    assert!(explained.contains("IdLabelsExec"), "{explained}");

    // An entity with rules (each partition reads them whole) and a limit.
    local
        .sql(&format!(
            "COPY (SELECT * FROM (VALUES \
             ('person', 'qa@example.com', 'email', 'exclude', NULL, NULL), \
             ('person', 'd3', 'email', 'include', NULL, NULL), \
             ('person', 'u0', 'user_id', 'exclude', 'a0', 'anonymous_id'), \
             ('person', 'u9', 'user_id', 'include', 'e4@example.com', 'email')) \
             AS t(entity, id1, id1_type, action, id2, id2_type)) TO '{d}/rules.parquet'"
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let setup = graph_entity(
        &dir,
        "person",
        "user_id LIMIT 3",
        &format!("RULES FROM '{d}/rules.parquet'"),
    );
    let setup: Vec<&str> = setup.iter().map(String::as_str).collect();
    run_all(&remote, &setup).await;
    run_all(&local, &setup).await;
    let graph = "SELECT person_main_id, other_id, other_id_type, valid_at, first_seen_at \
                 FROM id_stitch('person') ORDER BY other_id_type, other_id";
    let expected = rows(&local, graph).await;
    assert!(expected.contains("| d3 "), "the included id: {expected}");
    assert!(
        !expected.contains("qa@example.com"),
        "the excluded id: {expected}"
    );
    assert_eq!(rows(&remote, graph).await, expected);
    let explained = plan(&remote, graph).await;
    assert!(explained.contains("routed"), "{explained}");
    drop(workers);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_token_is_refused_naming_the_token() {
    let dir = tempfile_dir("distributed_token");
    write_tables(&dir).await;
    let workers = start_workers(2, TOKEN).await;
    let remote = session_on(&workers.list, "not-the-token").await;
    let sql = format!(
        "SELECT amount, count(*) FROM '{}/events/' GROUP BY amount",
        dir.display()
    );
    let err = error_of(&remote, &sql).await;
    assert!(err.contains("token is wrong"), "{err}");
    assert!(
        !err.contains(TOKEN) && !err.contains("not-the-token"),
        "{err}"
    );
    drop(workers);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_worker_fails_the_query_in_bounded_time() {
    let dir = tempfile_dir("distributed_unreachable");
    write_tables(&dir).await;
    // Ports nobody listens on: bound, then closed. (Two, since a query is spread only
    // over more than one worker.)
    let closed_port = || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let address = closed_port();
    let address = format!("{address},{}", closed_port());
    let remote = session_on(&address, TOKEN).await;
    let sql = format!(
        "SELECT amount, count(*) FROM '{}/events/' GROUP BY amount",
        dir.display()
    );
    let started = Instant::now();
    let err = error_of(&remote, &sql).await;
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        address.split(',').any(|worker| err.contains(worker)),
        "{err}"
    );
    // The session is still usable: with no workers, queries run locally.
    remote.sql("SET knit.workers = ''").await.unwrap();
    assert!(rows(&remote, &sql).await.contains("| 12"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_worker_settings_are_refused() {
    let err = SessionBuilder::new().with_workers("localhost").unwrap_err();
    assert!(
        err.to_string()
            .contains("worker 'localhost' is not an address"),
        "{err}"
    );
    let session = local_session();
    session.sql("SET knit.workers = 'nohost'").await.unwrap();
    let err = error_of(&session, "SELECT 2").await;
    assert!(err.contains("worker 'nohost' is not an address"), "{err}");
    session
        .sql("SET knit.workers = '127.0.0.1:1'")
        .await
        .unwrap();
    // No token given, and none in the test's environment.
    if std::env::var_os("KNIT_WORKER_TOKEN").is_none() {
        let err = error_of(&session, "SELECT 1").await;
        assert!(err.contains("KNIT_WORKER_TOKEN is not set"), "{err}");
    }
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("knit_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A project run computes two outputs at once. Over workers, an id graph output spreads
/// (its stitch routed to the workers); the feature table and a feature view that follow
/// it, side by side, still give a local session's rows. Queries that map rows to their
/// entity run where the stitch is: a lookup on a worker numbered clusters by a build of
/// its own, in the order the input's files arrived, so vars could land on another
/// entity.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outputs_computed_side_by_side_on_workers_match_a_local_session() {
    let dir = tempfile_dir("distributed_side_by_side");
    write_tables(&dir).await;
    let workers = start_workers(3, TOKEN).await;
    let remote = session_on(&workers.list, TOKEN).await;
    let local = local_session();
    let mut setup = profile_statements(&dir);
    setup.extend([
        "CREATE ENTITY VAR user.events_count AS count(*) FROM events".to_string(),
        "CREATE ENTITY VAR user.last_amount AS last_value(amount ORDER BY ts) FROM events"
            .to_string(),
    ]);
    let setup: Vec<&str> = setup.iter().map(String::as_str).collect();
    run_all(&remote, &setup).await;
    run_all(&local, &setup).await;
    let graph =
        "SELECT count(*) AS ids, count(DISTINCT user_main_id) AS clusters FROM id_stitch('user')";
    let edges = "SELECT count(*) FROM id_stitch_edges('user')";
    let table = "SELECT * FROM feature_table('user') ORDER BY user_main_id";
    let view = "SELECT * FROM feature_view('user', 'user_id') ORDER BY user_id";
    let expected = (
        rows(&local, graph).await,
        rows(&local, table).await,
        rows(&local, view).await,
    );
    let (graph_rows, _) = tokio::join!(rows(&remote, graph), rows(&remote, edges));
    let (table_rows, view_rows) = tokio::join!(rows(&remote, table), rows(&remote, view));
    assert_eq!(graph_rows, expected.0);
    assert_eq!(table_rows, expected.1);
    assert_eq!(view_rows, expected.2);
    for sql in [table, view] {
        let explained = plan(&remote, sql).await;
        assert!(!explained.contains("DistributedExec"), "{explained}");
    }
    // Vars without a kept result, in a session with no stitch yet: nothing else keeps
    // the lookups in this process, where they would otherwise spread.
    let fresh = session_on(&workers.list, TOKEN).await;
    run_all(&fresh, &setup).await;
    let vars = "SELECT * FROM entity_vars('user', 'events_count', 'last_amount') \
                ORDER BY user_main_id";
    let explained = plan(&fresh, vars).await;
    assert!(explained.contains("MainIdLookupExec"), "{explained}");
    assert!(!explained.contains("DistributedExec"), "{explained}");
    assert_eq!(rows(&fresh, vars).await, rows(&local, vars).await);
    drop(workers);
    let _ = std::fs::remove_dir_all(&dir);
}
