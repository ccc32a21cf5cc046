// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Feature queries computed as designed: one id graph per query, however often used.

use datafusion::arrow::util::pretty::pretty_format_batches;
use knit_core::SessionBuilder;

#[tokio::test]
async fn the_id_graph_is_computed_once_per_query() {
    let session = SessionBuilder::new().build().unwrap();
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/oracle/ecommerce/tables"
    );
    for sql in [
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
    ] {
        session.sql(&sql).await.unwrap().collect().await.unwrap();
    }
    let batches = session
        .sql("EXPLAIN ANALYZE SELECT * FROM feature_view('user', 'email')")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let plan = pretty_format_batches(&batches).unwrap().to_string();
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
