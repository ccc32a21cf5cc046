// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The stitch renders its output in partitions, a batch at a time: the rows must not
//! depend on how many partitions or how large the batches are, and the id graph's
//! partitions must hold what the operator declares of them.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{
    ExecutionPlan, ExecutionPlanProperties, Partitioning, collect_partitioned,
};
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

/// The first `IdStitchExec` in `plan`.
fn find_stitch(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    if plan.name() == "IdStitchExec" {
        return Some(Arc::clone(plan));
    }
    plan.children().into_iter().find_map(find_stitch)
}

/// The `IdStitchExec` of the physical plan of `sql`.
async fn stitch_of(session: &KnitSession, sql: &str) -> Arc<dyn ExecutionPlan> {
    let plan = session
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    find_stitch(&plan).unwrap()
}

/// The main ids (first column) of each partition's rows, in order.
fn main_ids_by_partition(partitions: &[Vec<RecordBatch>]) -> Vec<Vec<String>> {
    partitions
        .iter()
        .map(|batches| {
            batches
                .iter()
                .flat_map(|b| {
                    let ids = b.column(0).as_string::<i32>();
                    (0..ids.len())
                        .map(|i| ids.value(i).to_string())
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn id_graph_is_partitioned_and_sorted_as_declared() {
    // Every node's main id, from one partition: what the partitions must share out.
    let one = session(1, 8192).await;
    let mut every_row = main_ids_by_partition(
        &collect_partitioned(
            stitch_of(&one, "SELECT user_main_id FROM id_stitch('user')").await,
            one.context().task_ctx(),
        )
        .await
        .unwrap(),
    )
    .concat();
    every_row.sort();
    assert!(every_row.len() > 8);
    for partitions in [2, 3, 5] {
        let session = session(partitions, 3).await;
        // The main id alone comes sorted as well; with other columns, in node order.
        for (sql, sorted) in [
            ("SELECT user_main_id FROM id_stitch('user')", true),
            (
                "SELECT user_main_id, other_id FROM id_stitch('user')",
                false,
            ),
        ] {
            let context = format!("{sql} in {partitions} partitions");
            let stitch = stitch_of(&session, sql).await;
            let Partitioning::Hash(keys, count) = stitch.output_partitioning() else {
                panic!("not hash-partitioned: {context}");
            };
            assert_eq!((keys.len(), *count), (1, partitions), "{context}");
            assert_eq!(stitch.output_ordering().is_some(), sorted, "{context}");
            let task = session.context().task_ctx();
            let rendered = collect_partitioned(Arc::clone(&stitch), Arc::clone(&task))
                .await
                .unwrap();
            // Every node once, every cluster whole in one partition, sorted there when
            // declared so.
            let by_partition = main_ids_by_partition(&rendered);
            let mut rows = by_partition.concat();
            rows.sort();
            assert_eq!(rows, every_row, "{context}");
            if sorted {
                for ids in &by_partition {
                    assert!(ids.is_sorted(), "{context}: {ids:?}");
                }
            }
            let found: Vec<BTreeSet<String>> = by_partition
                .into_iter()
                .map(|ids| ids.into_iter().collect())
                .collect();
            let total: usize = found.iter().map(BTreeSet::len).sum();
            let all: BTreeSet<&String> = found.iter().flatten().collect();
            assert_eq!(total, all.len(), "{context}: a main id in two partitions");
            assert!(all.len() > 3, "{context}");
            // DataFusion's own hash repartitioning of the same rows puts each in the
            // same partition: joins and aggregates relying on the declaration agree.
            let rows: Vec<RecordBatch> = rendered.into_iter().flatten().collect();
            let source = MemorySourceConfig::try_new_exec(&[rows], stitch.schema(), None).unwrap();
            let repartitioned =
                RepartitionExec::try_new(source, Partitioning::Hash(keys.clone(), partitions))
                    .unwrap();
            let by_datafusion = collect_partitioned(Arc::new(repartitioned), task)
                .await
                .unwrap();
            let expected: Vec<BTreeSet<String>> = main_ids_by_partition(&by_datafusion)
                .into_iter()
                .map(|ids| ids.into_iter().collect())
                .collect();
            assert_eq!(found, expected, "{context}");
        }
        // Without the main id, nothing is declared.
        let stitch = stitch_of(&session, "SELECT other_id FROM id_stitch('user')").await;
        assert!(matches!(
            stitch.output_partitioning(),
            Partitioning::UnknownPartitioning(_)
        ));
        assert!(stitch.output_ordering().is_none());
    }
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

/// A filter on the id type folded into the stitch (module `stitch::type_filter`) gives
/// the rows the filter gives above it, in every layout the operator renders in (sorted
/// by main id, by main id unsorted, in ranges), any partitioning and batch size.
#[tokio::test]
async fn rows_of_some_id_types_are_those_the_filter_keeps() {
    // `other_id_type || ''` is no column: that filter stays above the operator.
    let queries = [
        (
            "SELECT user_main_id FROM id_stitch('user') WHERE {t} = 'email'",
            "1",
        ),
        (
            "SELECT user_main_id, other_id FROM id_stitch('user') \
             WHERE {t} IN ('email', 'anonymous_id', 'phone', 'user_id')",
            "2",
        ),
        (
            "SELECT other_id, valid_at FROM id_stitch('user') \
             WHERE {t} = 'user_id' OR {t} = 'email'",
            "1",
        ),
        (
            "SELECT other_id FROM id_stitch('user') WHERE {t} = 'anonymous_id' AND length(other_id) > 3",
            "1",
        ),
    ];
    for (partitions, batch_size) in [(1, 8192), (3, 2), (4, 5)] {
        let session = session(partitions, batch_size).await;
        for (query, order) in queries {
            let folded = format!("{} ORDER BY {order}", query.replace("{t}", "other_id_type"));
            let kept = format!(
                "{} ORDER BY {order}",
                query.replace("{t}", "(other_id_type || '')")
            );
            let stitch = stitch_of(&session, &folded).await;
            let plan = datafusion::physical_plan::displayable(stitch.as_ref())
                .one_line()
                .to_string();
            assert!(plan.contains("id_types=["), "{folded}: {plan}");
            let rows = rows(&session, &folded).await;
            assert!(rows.lines().count() > 4, "{folded}:\n{rows}");
            assert_eq!(rows, self::rows(&session, &kept).await, "{folded}");
        }
    }
}
