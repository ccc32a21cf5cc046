// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Feature queries computed as designed: one id graph per query, however often used.

use datafusion::arrow::util::pretty::pretty_format_batches;
use knit_core::{KnitSession, SessionBuilder};

/// The e-commerce oracle example's tables.
const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/oracle/ecommerce/tables"
);

/// A session where `statements` have run.
async fn session_with(statements: &[String]) -> KnitSession {
    let session = SessionBuilder::new().build().unwrap();
    for sql in statements {
        session.sql(sql).await.unwrap().collect().await.unwrap();
    }
    session
}

/// The result of `sql`, as a table.
async fn table(session: &KnitSession, sql: &str) -> String {
    let batches = session.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

/// A session with the e-commerce example's users: two inputs, a var counting each.
async fn users_with_two_vars() -> KnitSession {
    let data = DATA;
    session_with(&[
        "CREATE ENTITY user ID TYPES (user_id, anonymous_id, email)".to_string(),
        format!(
            "CREATE INPUT identifies FOR user FROM '{data}/identifies.csv' IDS (user_id AS \
             user_id, anonymous_id AS anonymous_id, lower(properties_email) AS email)"
        ),
        format!(
            "CREATE INPUT tracks FOR user FROM '{data}/tracks.csv' \
             IDS (user_id AS user_id, anonymous_id AS anonymous_id)"
        ),
        "CREATE ENTITY VAR user.tracks AS count(*) FROM tracks".to_string(),
        "CREATE ENTITY VAR user.identifies AS count(*) FROM identifies".to_string(),
    ])
    .await
}

#[tokio::test]
async fn the_id_graph_is_computed_once_per_query() {
    let session = users_with_two_vars().await;
    let plan = table(
        &session,
        "EXPLAIN ANALYZE SELECT * FROM feature_view('user', 'email')",
    )
    .await;
    let stitches: Vec<&str> = plan
        .lines()
        .filter(|l| l.contains("IdStitchExec") || l.contains("MainIdLookupExec"))
        .collect();
    // Each input's rows are looked up in the stitch, the entities are listed from it,
    // and the view joins the id graph.
    let count = |name: &str| stitches.iter().filter(|l| l.contains(name)).count();
    assert_eq!(count("MainIdLookupExec"), 2, "{plan}");
    assert_eq!(count("output=clusters"), 1, "{plan}");
    assert_eq!(count("output=id_graph"), 1, "{plan}");
    assert!(stitches.iter().all(|l| l.contains(", shared")), "{plan}");
    let computed: Vec<&&str> = stitches
        .iter()
        .filter(|l| !l.contains(", input_rows=0,"))
        .collect();
    assert_eq!(computed.len(), 1, "{plan}");
    assert!(computed[0].contains(", input_rows=127,"), "{plan}");
}

#[tokio::test]
async fn distinct_counts_aggregate_with_the_other_vars_of_their_input() {
    let data = DATA;
    let session = session_with(&[
        "CREATE ENTITY user ID TYPES (user_id, anonymous_id)".to_string(),
        format!(
            "CREATE INPUT tracks FOR user FROM '{data}/tracks.csv' \
             IDS (user_id AS user_id, anonymous_id AS anonymous_id)"
        ),
        "CREATE ENTITY VAR user.events AS count(*) FROM tracks".to_string(),
        "CREATE ENTITY VAR user.kinds AS count(DISTINCT event) FROM tracks".to_string(),
        "CREATE ENTITY VAR user.days AS count(DISTINCT CAST(\"timestamp\" AS DATE)) FROM tracks"
            .to_string(),
    ])
    .await;
    let plan = table(&session, "EXPLAIN SELECT * FROM feature_table('user')").await;
    // One lookup of the input's rows, one aggregation of all three vars.
    let lookups = plan.matches("MainIdLookupExec").count();
    assert_eq!(lookups, 1, "{plan}");
    assert!(plan.matches("__knit_count_distinct").count() >= 2, "{plan}");
    let values = table(
        &session,
        "SELECT count(*) AS n, sum(events) AS e, sum(kinds) AS k, sum(days) AS d, \
         min(kinds) AS mk, max(days) AS md FROM feature_table('user')",
    )
    .await;
    let expected = table(
        &session,
        &format!(
            "SELECT count(*) AS n, sum(events) AS e, sum(kinds) AS k, sum(days) AS d, \
               min(kinds) AS mk, max(days) AS md FROM (\
               SELECT g.user_main_id, count(*) AS events, count(DISTINCT t.event) AS kinds,\
                 count(DISTINCT CAST(t.\"timestamp\" AS DATE)) AS days \
               FROM id_stitch('user') g JOIN '{data}/tracks.csv' t \
                 ON (g.other_id_type = 'user_id' AND g.other_id = t.user_id) \
                 OR (t.user_id IS NULL AND g.other_id_type = 'anonymous_id' \
                     AND g.other_id = t.anonymous_id) \
               GROUP BY g.user_main_id)"
        ),
    )
    .await;
    assert_eq!(values, expected);
}

#[tokio::test]
async fn feature_views_read_the_kept_vars_in_the_partitions_they_join_on() {
    let session = users_with_two_vars().await;
    let whole = table(&session, "SELECT count(*) AS n FROM feature_table('user')").await;
    let plan = table(
        &session,
        "EXPLAIN ANALYZE SELECT * FROM feature_view('user', 'email')",
    )
    .await;
    // The vars are kept hash-partitioned by main id, so the view's join on the main id
    // reads each kept partition as it is: no repartition between the join and them.
    let lines: Vec<&str> = plan.lines().collect();
    let keep = lines
        .iter()
        .position(|l| l.contains("KeepExec: partition_by=[__knit_main"))
        .unwrap_or_else(|| panic!("{plan}"));
    let join = lines[..keep]
        .iter()
        .rposition(|l| l.contains("HashJoinExec"))
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(
        !lines[join..keep]
            .iter()
            .any(|l| l.contains("RepartitionExec")),
        "{plan}"
    );
    // The feature table's query found the same kept result: the view computed nothing.
    assert!(lines[keep + 1].contains("RepartitionExec"), "{plan}");
    assert!(lines[keep + 1].contains("metrics=[]"), "{plan}");
    assert!(whole.contains("| 5 |"), "{whole}");
}

/// The error that planning `sql` gives, as text ('' if it plans).
async fn planning_error(session: &KnitSession, sql: &str) -> String {
    session
        .sql(sql)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_kept_query_partitions_only_by_columns_it_has() {
    let session = SessionBuilder::new().build().unwrap();
    let missing = planning_error(&session, "SELECT * FROM __knit_keep((SELECT 1 AS a), 'b')").await;
    assert!(
        missing.contains("__knit_keep: its query has no column 'b' to partition by"),
        "{missing}"
    );
    let not_a_name =
        planning_error(&session, "SELECT * FROM __knit_keep((SELECT 1 AS a), 1)").await;
    assert!(
        not_a_name.contains("then the names of the columns"),
        "{not_a_name}"
    );
    let kept = table(&session, "SELECT a FROM __knit_keep((SELECT 1 AS a), 'a')").await;
    assert!(kept.contains("| 1 |"), "{kept}");
}
