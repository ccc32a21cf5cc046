// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Property test of profile definitions over random small tables: entities with and
//! without filters, two inputs and vars with `WHERE` and `DEFAULT` plan and run without
//! a panic or an error; the clusters are the connected components of the rows' ids (a
//! union-find model of the same rows); and the id graph, its edges and the feature table
//! are the same under any row order, partition count and batch size.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::util::pretty::pretty_format_batches;
use knit_core::{KnitSession, SessionBuilder};
use proptest::prelude::*;

/// One row of the `events` table: ids drawn from small pools so that they meet.
#[derive(Debug, Clone)]
struct Event {
    user_id: Option<u8>,
    anonymous_id: Option<u8>,
    email: Option<u8>,
    /// Seconds after a base time: ties are likely.
    at: Option<u8>,
    amount: Option<i8>,
    /// Whether the row's anonymous id and email are also a row of `links`.
    linked: bool,
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop::option::weighted(0.7, 0..6u8),
        prop::option::weighted(0.8, 0..10u8),
        prop::option::weighted(0.5, 0..8u8),
        prop::option::weighted(0.9, 0..5u8),
        prop::option::weighted(0.9, -3..10i8),
        prop::bool::weighted(0.4),
    )
        .prop_map(|(user_id, anonymous_id, email, at, amount, linked)| Event {
            user_id,
            anonymous_id,
            email,
            at,
            amount,
            linked,
        })
}

/// The filters an entity may have.
#[derive(Debug, Clone, Copy)]
struct Filters {
    /// `user_id EXCLUDE ('u0')`.
    exclude_u0: bool,
    /// `email INCLUDE REGEX 'e[0-3]'`.
    emails_0_to_3: bool,
}

fn text(prefix: &str, id: Option<u8>) -> String {
    id.map_or("NULL".to_string(), |n| format!("'{prefix}{n}'"))
}

/// The statements that define the tables, the entity, its inputs and its vars.
fn definitions(events: &[Event], filters: Filters) -> Vec<String> {
    let mut sql = vec![
        "CREATE TABLE events (user_id VARCHAR, anonymous_id VARCHAR, email VARCHAR, \
         ts TIMESTAMP, amount INT)"
            .to_string(),
        "CREATE TABLE links (anonymous_id VARCHAR, email VARCHAR, ts TIMESTAMP)".to_string(),
    ];
    let time = |at: Option<u8>| {
        at.map_or("NULL".to_string(), |s| {
            format!("TIMESTAMP '2024-01-01 00:00:00' + INTERVAL '{s} seconds'")
        })
    };
    if !events.is_empty() {
        let rows: Vec<String> = events
            .iter()
            .map(|e| {
                format!(
                    "({}, {}, {}, {}, {})",
                    text("u", e.user_id),
                    text("a", e.anonymous_id),
                    text("e", e.email),
                    time(e.at),
                    e.amount.map_or("NULL".to_string(), |n| n.to_string())
                )
            })
            .collect();
        sql.push(format!("INSERT INTO events VALUES {}", rows.join(", ")));
        // Some rows also link their anonymous id and email, in another input.
        let links: Vec<String> = events
            .iter()
            .filter(|e| e.linked)
            .map(|e| {
                format!(
                    "({}, {}, {})",
                    text("a", e.anonymous_id),
                    text("e", e.email),
                    time(e.at)
                )
            })
            .collect();
        if !links.is_empty() {
            sql.push(format!("INSERT INTO links VALUES {}", links.join(", ")));
        }
    }
    let user_id = if filters.exclude_u0 {
        "user_id EXCLUDE ('u0')"
    } else {
        "user_id"
    };
    let email = if filters.emails_0_to_3 {
        "email INCLUDE REGEX 'e[0-3]'"
    } else {
        "email"
    };
    sql.extend([
        format!("CREATE ENTITY user ID TYPES ({user_id}, anonymous_id, {email})"),
        "CREATE INPUT events FOR user IDS (user_id AS user_id, anonymous_id AS anonymous_id) \
         OCCURRED AT ts"
            .to_string(),
        "CREATE INPUT links FOR user IDS (anonymous_id AS anonymous_id, email AS email) \
         OCCURRED AT ts"
            .to_string(),
        "CREATE ENTITY VAR user.n AS count(*) FROM events".to_string(),
        "CREATE ENTITY VAR user.paid AS sum(amount) FROM events WHERE amount > 0 DEFAULT 0"
            .to_string(),
        "CREATE ENTITY VAR user.emails AS count(DISTINCT email) FROM links".to_string(),
        "CREATE ENTITY VAR user.score AS n * 10 + paid".to_string(),
    ]);
    sql
}

/// The clusters the rows make: connected components of their ids, after the filters.
fn model_clusters(events: &[Event], filters: Filters) -> BTreeSet<BTreeSet<String>> {
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    fn find(parent: &mut BTreeMap<String, String>, x: &str) -> String {
        let up = parent[x].clone();
        if up == x {
            return up;
        }
        let root = find(parent, &up);
        parent.insert(x.to_string(), root.clone());
        root
    }
    let mut add_row = |ids: Vec<String>| {
        for id in &ids {
            parent.entry(id.clone()).or_insert_with(|| id.clone());
        }
        for pair in ids.windows(2) {
            let (a, b) = (find(&mut parent, &pair[0]), find(&mut parent, &pair[1]));
            parent.insert(a, b);
        }
    };
    let user = |e: &Event| {
        e.user_id
            .filter(|&n| !(filters.exclude_u0 && n == 0))
            .map(|n| format!("u{n}/user_id"))
    };
    let anonymous = |e: &Event| e.anonymous_id.map(|n| format!("a{n}/anonymous_id"));
    let email = |e: &Event| {
        e.email
            .filter(|&n| !(filters.emails_0_to_3 && n > 3))
            .map(|n| format!("e{n}/email"))
    };
    for e in events {
        add_row([user(e), anonymous(e)].into_iter().flatten().collect());
    }
    for e in events.iter().filter(|e| e.linked) {
        add_row([anonymous(e), email(e)].into_iter().flatten().collect());
    }
    let ids: Vec<String> = parent.keys().cloned().collect();
    let mut clusters: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for id in ids {
        let root = find(&mut parent, &id);
        clusters.entry(root).or_default().insert(id);
    }
    clusters.into_values().collect()
}

async fn run(session: &KnitSession, sql: &str) -> String {
    let batches = session
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    pretty_format_batches(&batches).unwrap().to_string()
}

/// What the definitions give: the id graph, its edges, the feature table (as text), and
/// the clusters (ids grouped by main id).
async fn outcome(
    events: &[Event],
    filters: Filters,
    partitions: usize,
    batch_size: usize,
) -> (Vec<String>, BTreeSet<BTreeSet<String>>) {
    let session = SessionBuilder::new()
        .with_target_partitions(partitions)
        .build()
        .unwrap();
    run(
        &session,
        &format!("SET datafusion.execution.batch_size = {batch_size}"),
    )
    .await;
    for sql in definitions(events, filters) {
        run(&session, &sql).await;
    }
    let graph = run(
        &session,
        "SELECT other_id, other_id_type, user_main_id, first_seen_at, valid_at \
         FROM id_stitch('user') ORDER BY other_id_type, other_id",
    )
    .await;
    let edges = run(
        &session,
        "SELECT * FROM id_stitch_edges('user') ORDER BY 1, 2, 3, 4, 5",
    )
    .await;
    let features = run(
        &session,
        "SELECT user_main_id, n, paid, emails, score FROM feature_table('user') \
         ORDER BY user_main_id",
    )
    .await;
    let batches = session
        .sql("SELECT other_id || '/' || other_id_type AS id, user_main_id FROM id_stitch('user')")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut clusters: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for batch in &batches {
        let ids = datafusion::arrow::array::AsArray::as_string::<i32>(batch.column(0));
        let mains = datafusion::arrow::array::AsArray::as_string::<i32>(batch.column(1));
        for (id, main) in ids.iter().zip(mains.iter()) {
            clusters
                .entry(main.unwrap().to_string())
                .or_default()
                .insert(id.unwrap().to_string());
        }
    }
    (
        vec![graph, edges, features],
        clusters.into_values().collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn definitions_over_random_rows_agree_with_the_model_in_any_order(
        (events, shuffled) in prop::collection::vec(event(), 0..24)
            .prop_flat_map(|rows| (Just(rows.clone()), Just(rows).prop_shuffle())),
        exclude_u0 in any::<bool>(),
        emails_0_to_3 in any::<bool>(),
        partitions in 1..5usize,
        batch_size in 1..9usize,
    ) {
        let filters = Filters { exclude_u0, emails_0_to_3 };
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (first, clusters) = runtime.block_on(outcome(&events, filters, 1, 8192));
        prop_assert_eq!(&clusters, &model_clusters(&events, filters));
        let (second, _) =
            runtime.block_on(outcome(&shuffled, filters, partitions, batch_size));
        prop_assert_eq!(first, second);
    }
}
