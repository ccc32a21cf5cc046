// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The stitch renders its output in partitions, a batch at a time: the rows must not
//! depend on how many partitions or how large the batches are.

use std::sync::Arc;

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use knit_core::{KnitSession, SessionBuilder};

async fn session(partitions: usize, batch_size: usize) -> KnitSession {
    let session = SessionBuilder::new()
        .with_target_partitions(partitions)
        .build()
        .unwrap();
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/oracle/ecommerce/tables"
    );
    for sql in [
        format!("SET datafusion.execution.batch_size = {batch_size}"),
        "CREATE ENTITY user ID TYPES (user_id, anonymous_id, email)".to_string(),
        format!(
            "CREATE INPUT identifies FOR user FROM '{data}/identifies.csv' IDS (user_id AS \
             user_id, anonymous_id AS anonymous_id, lower(properties_email) AS email) \
             OCCURRED AT \"timestamp\""
        ),
        format!(
            "CREATE INPUT tracks FOR user FROM '{data}/tracks.csv' \
             IDS (user_id AS user_id, anonymous_id AS anonymous_id) OCCURRED AT \"timestamp\""
        ),
        "CREATE ENTITY VAR user.tracks AS count(*) FROM tracks".to_string(),
    ] {
        session.sql(&sql).await.unwrap().collect().await.unwrap();
    }
    session
}

async fn rows(session: &KnitSession, sql: &str) -> String {
    let batches = session.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

/// The output partition counts of every `IdStitchExec` in `plan`.
fn stitch_partitions(plan: &Arc<dyn ExecutionPlan>, found: &mut Vec<usize>) {
    if plan.name() == "IdStitchExec" {
        found.push(plan.output_partitioning().partition_count());
    }
    for child in plan.children() {
        stitch_partitions(child, found);
    }
}

#[tokio::test]
async fn output_rows_do_not_depend_on_partitions_or_batch_size() {
    let queries = [
        "SELECT * FROM id_stitch('user') ORDER BY other_id_type, other_id",
        "SELECT * FROM id_stitch_edges('user') ORDER BY 1, 2, 3, 4, 6",
        "SELECT * FROM feature_table('user') ORDER BY user_main_id",
    ];
    let one = session(1, 8192).await;
    let mut expected = Vec::new();
    for sql in queries {
        let rows = rows(&one, sql).await;
        // Each query gives real rows, not just a header.
        assert!(rows.lines().count() > 8, "{sql}:\n{rows}");
        expected.push(rows);
    }
    // More partitions than clusters or ids, batches of one and two rows, and a batch
    // size that leaves a short last batch.
    for (partitions, batch_size) in [(2, 1), (3, 2), (5, 7), (64, 8192)] {
        let session = session(partitions, batch_size).await;
        for (sql, expected) in queries.iter().zip(&expected) {
            assert_eq!(
                &rows(&session, sql).await,
                expected,
                "{sql} in {partitions} partitions of {batch_size}-row batches"
            );
        }
        let plan = session
            .sql("SELECT * FROM id_stitch('user')")
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let mut found = Vec::new();
        stitch_partitions(&plan, &mut found);
        assert_eq!(found, vec![partitions]);
    }
}
