// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit project run --store`: refreshes over rows that arrive in files, or that an end
//! time lets in, equal one full run row for row; merges leave redirects; what makes a
//! run full says so; a held lock refuses a second run; a killed run leaves the store
//! readable and the next run correct; `knit store status`.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::{Scratch, knit, text};

/// A project of the features a refresh must get right: aggregates that combine
/// (count, sum, min, max), ordered first and last values, count distinct, a derived
/// var, a var with a filter and a default, an input var window partitioned by the row's
/// main id,
/// a cohort, and feature views by two id types. The ordered values are ordered on
/// every column they return: among rows tied on time, which one is first is not
/// defined (in pb neither), and a refresh reads rows in another order than a full run.
const PROJECT: &[(&str, &str)] = &[
    (
        "pb_project.yaml",
        "name: refresh_case\nschema_version: 99\nconnection: local\nmodel_folders:\n  - models\n\
         entities:\n  - name: user\n    id_stitcher: models/user_graph\n    id_types: [user_id, anonymous_id, email]\n\
         \x20   feature_views:\n      using_ids:\n        - id: email\n        - id: user_id\n\
         id_types:\n  - name: user_id\n  - name: anonymous_id\n    filters:\n      - type: exclude\n        value: unknown\n  - name: email\n",
    ),
    (
        "models/inputs.yaml",
        "inputs:\n  - name: events\n    app_defaults:\n      table: shop.events\n      occurred_at_col: ts\n      ids:\n\
         \x20       - {select: user_id, type: user_id, entity: user}\n\
         \x20       - {select: anonymous_id, type: anonymous_id, entity: user}\n\
         \x20       - {select: lower(email), type: email, entity: user}\n\
         \x20 - name: orders\n    app_defaults:\n      table: shop.orders\n      occurred_at_col: ts\n      ids:\n\
         \x20       - {select: user_id, type: user_id, entity: user}\n",
    ),
    (
        "models/profiles.yaml",
        "models:\n  - name: user_graph\n    model_type: id_stitcher\n    model_spec:\n      entity_key: user\n\
         \x20     edge_sources:\n        - from: inputs/events\n        - from: inputs/orders\n\
         \x20 - name: buyers\n    model_type: entity_cohort\n    model_spec:\n      extends: user/all\n\
         \x20     filter_pipeline:\n        - type: exclude\n          value: \"{{user.spent}} < 50\"\n\
         var_groups:\n  - name: vars\n    entity_key: user\n    vars:\n\
         \x20     - entity_var: {name: n_events, select: count(*), from: inputs/events}\n\
         \x20     - entity_var: {name: first_seen, select: min(ts), from: inputs/events}\n\
         \x20     - entity_var: {name: last_seen, select: max(ts), from: inputs/events}\n\
         \x20     - entity_var: {name: channels, select: count(distinct channel), from: inputs/events}\n\
         \x20     - entity_var:\n          name: first_channel\n          select: first_value(channel)\n          from: inputs/events\n          window:\n            order_by: [ts asc, channel asc]\n\
         \x20     - entity_var:\n          name: last_channel\n          select: last_value(channel)\n          from: inputs/events\n          window:\n            order_by: [ts asc, channel asc]\n\
         \x20     - entity_var: {name: spent, select: sum(amount), from: inputs/orders, default_value: 0}\n\
         \x20     - entity_var: {name: big_orders, select: count(*), from: inputs/orders, where: amount > 40}\n\
         \x20     - entity_var: {name: spend_per_event, select: \"{{user.spent}} / nullif({{user.n_events}}, 0)\"}\n\
         \x20     - input_var:\n          name: order_rank\n          select: rank()\n          from: inputs/orders\n          window:\n            partition_by: [rudder_id]\n            order_by: [amount desc]\n\
         \x20     - entity_var: {name: top_orders, select: \"count(*)\", from: inputs/orders, where: \"{{orders.Var(\\\"order_rank\\\")}} = 1\"}\n",
    ),
];

fn scratch(name: &str) -> Scratch {
    Scratch::new("knit-store", name)
}

pub(crate) fn write_project(dir: &Path) -> PathBuf {
    let project = dir.join("project");
    for (file, text) in PROJECT {
        let path = project.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    project
}

/// A small deterministic generator.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    /// `Some(prefix + k)` for k below `pool`, or NULL one time in `nulls`.
    fn id(&mut self, prefix: &str, pool: u64, nulls: u64) -> String {
        if self.next(nulls) == 0 {
            String::new()
        } else {
            format!("{prefix}{}", self.next(pool))
        }
    }
}

/// Random events and orders rows as CSV lines (without header).
pub(crate) fn random_rows(
    rng: &mut Lcg,
    events: usize,
    orders: usize,
) -> (Vec<String>, Vec<String>) {
    let time = |rng: &mut Lcg| {
        if rng.next(12) == 0 {
            String::new()
        } else {
            // Few distinct times, so that ties are common.
            format!("2024-01-{:02} 10:00:00", 1 + rng.next(9))
        }
    };
    let events = (0..events)
        .map(|_| {
            let anonymous = if rng.next(15) == 0 {
                "unknown".to_string()
            } else {
                rng.id("a", 14, 3)
            };
            format!(
                "{},{anonymous},{},{},{}",
                rng.id("u", 8, 2),
                rng.id("E", 6, 2),
                ["web", "app", "shop", ""][rng.next(4) as usize],
                time(rng)
            )
        })
        .collect();
    let orders = (0..orders)
        .map(|_| format!("{},{},{}", rng.id("u", 8, 6), 5 + rng.next(60), time(rng)))
        .collect();
    (events, orders)
}

/// Writes `rows` of a table as `tables/shop/<table>/<file>.parquet`.
pub(crate) fn write_table_file(
    tables: &Path,
    table: &str,
    file: &str,
    header: &str,
    rows: &[String],
) {
    let folder = tables.join("shop").join(table);
    std::fs::create_dir_all(&folder).unwrap();
    let csv = folder.with_extension(format!("{file}.csv"));
    std::fs::write(&csv, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let types = if header.contains("channel") {
        "user_id VARCHAR, anonymous_id VARCHAR, email VARCHAR, channel VARCHAR, ts TIMESTAMP"
    } else if header.contains("anonymous_id") {
        "user_id VARCHAR, anonymous_id VARCHAR, amount BIGINT, ts TIMESTAMP"
    } else {
        "user_id VARCHAR, amount BIGINT, ts TIMESTAMP"
    };
    let sql = format!(
        "CREATE EXTERNAL TABLE t ({types}) STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true')",
        csv.display()
    );
    let copy = format!(
        "COPY (SELECT * FROM t) TO '{}'",
        folder.join(format!("{file}.parquet")).display()
    );
    let output = knit()
        .args(["-q", "-c", &sql, "-c", &copy])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
    std::fs::remove_file(csv).unwrap();
}

/// Appends `rows` of a table to the Delta table `tables/shop/<table>/` (one version).
fn append_delta_rows(tables: &Path, table: &str, header: &str, rows: &[String]) {
    let folder = tables.join("shop").join(table);
    write_table_file(tables, &format!("{table}-staged"), "rows", header, rows);
    let staged = tables.join("shop").join(format!("{table}-staged"));
    let output = knit()
        .args(["-q", "-c"])
        .arg(format!(
            "COPY (SELECT * FROM '{}/rows.parquet') TO '{}' STORED AS DELTA OPTIONS ('mode' 'append')",
            staged.display(),
            folder.display()
        ))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
    std::fs::remove_dir_all(staged).unwrap();
}

/// `knit project run PROJECT --tables TABLES --store STORE --end-time END`.
fn command(project: &Path, tables: &Path, store: &Path, end: &str) -> std::process::Command {
    let mut command = knit();
    command
        .args(["project", "run"])
        .arg(project)
        .arg("--tables")
        .arg(tables)
        .arg("--store")
        .arg(store)
        .args(["--end-time", end]);
    command
}

fn run(project: &Path, tables: &Path, store: &Path, end: &str, extra: &[&str]) -> Output {
    command(project, tables, store, end)
        .args(extra)
        .output()
        .unwrap()
}

fn run_ok(project: &Path, tables: &Path, store: &Path, end: &str) -> String {
    let output = run(project, tables, store, end, &[]);
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// The outputs of two stores that differ, as `output: rows only in a, rows only in b`.
fn differences(a: &Path, b: &Path) -> Vec<String> {
    differences_with(knit(), a, &b.display().to_string(), 10)
}

/// [`differences`] of a local store `a` of at least `tables` tables and a store `b` that
/// `command` reads (one on S3).
pub(crate) fn differences_with(
    mut command: std::process::Command,
    a: &Path,
    b: &str,
    tables: usize,
) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(a)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('_') && !n.starts_with('.') && !n.ends_with("_redirects"))
        .collect();
    names.sort();
    assert!(names.len() >= tables, "{names:?}");
    command.args(["-q", "--format", "csv"]);
    for name in &names {
        let (x, y) = (a.join(name).display().to_string(), format!("{b}/{name}"));
        command.arg("-c").arg(format!(
            "SELECT '{name}' AS o, (SELECT count(*) FROM (SELECT * FROM '{x}' EXCEPT ALL SELECT * FROM '{y}')) AS a, \
             (SELECT count(*) FROM (SELECT * FROM '{y}' EXCEPT ALL SELECT * FROM '{x}')) AS b"
        ));
    }
    let output = command.output().unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    stdout
        .lines()
        .filter(|l| !l.starts_with("o,") && !l.ends_with(",0,0"))
        .map(str::to_string)
        .collect()
}

/// The deletion vector files of a store's tables.
fn deletion_vector_files(store: &Path) -> usize {
    std::fs::read_dir(store)
        .unwrap()
        .flatten()
        .filter(|table| table.path().is_dir())
        .flat_map(|table| std::fs::read_dir(table.path()).unwrap().flatten())
        .filter(|file| {
            let name = file.file_name().to_string_lossy().into_owned();
            name.starts_with("deletion_vector_") && name.ends_with(".bin")
        })
        .count()
}

pub(crate) const EVENTS: &str = "user_id,anonymous_id,email,channel,ts";
pub(crate) const ORDERS: &str = "user_id,amount,ts";
const END: &str = "2100-01-01T00:00:00Z";

#[test]
fn refreshes_over_random_arrivals_equal_one_full_run() {
    let dir = scratch("random");
    let project = write_project(&dir);
    for seed in 1..=4u64 {
        let mut rng = Lcg(seed * 7919);
        let arrivals = 2 + rng.next(3) as usize;
        let tables = dir.join(format!("tables-{seed}"));
        let store = dir.join(format!("store-{seed}"));
        let mut incremental = 0;
        for arrival in 0..arrivals {
            let (n_events, n_orders) = (10 + rng.next(25) as usize, rng.next(8) as usize);
            let (events, orders) = random_rows(&mut rng, n_events, n_orders);
            let file = format!("part-{arrival}");
            write_table_file(&tables, "events", &file, EVENTS, &events);
            if !orders.is_empty() || arrival == 0 {
                write_table_file(&tables, "orders", &file, ORDERS, &orders);
            }
            // Some runs end earlier: rows after that time come in with a later run.
            let end = if arrival + 1 < arrivals && rng.next(2) == 0 {
                format!("2024-01-0{}T00:00:00Z", 3 + arrival)
            } else {
                END.to_string()
            };
            // Odd seeds merge by deletion vectors (the default), even ones rewrite files.
            let rewrite: &[&str] = if seed % 2 == 0 {
                &["--deletion-vectors", "false"]
            } else {
                &[]
            };
            let output = run(&project, &tables, &store, &end, rewrite);
            let (_, stderr) = text(&output);
            assert!(output.status.success(), "{stderr}");
            incremental += usize::from(stderr.contains("incremental"));
        }
        assert!(incremental >= 1, "seed {seed}: no run was incremental");
        assert_eq!(
            deletion_vector_files(&store) > 0,
            seed % 2 == 1,
            "seed {seed}: deletion vectors written only when asked"
        );
        let full = dir.join(format!("full-{seed}"));
        run_ok(&project, &tables, &full, END);
        assert_eq!(
            differences(&full, &store),
            Vec::<String>::new(),
            "seed {seed}"
        );
    }
}

/// An input that is no edge source only finds each row's cluster (pb's input outside
/// the id stitcher's `edge_sources`, Knit's `LOOKUP IDS`): a refresh takes in the
/// clusters of its new rows, which touch no edge, and every cluster of a row that spans
/// two (a row maps to the cluster of its first id the graph holds, which the scope must
/// hold too, or the row would count for the other), but not the clusters of rows that
/// only share an id of no cluster with it.
#[test]
fn a_refresh_takes_in_the_clusters_of_lookup_rows() {
    let dir = scratch("lookup");
    let project = dir.join("project");
    for (file, text) in [
        (
            "pb_project.yaml",
            "name: lookup_case\nschema_version: 99\nconnection: local\nmodel_folders: [models]\n\
             entities:\n  - name: user\n    id_stitcher: models/user_graph\n    id_types: [user_id, anonymous_id]\n\
             id_types:\n  - name: user_id\n  - name: anonymous_id\n",
        ),
        (
            "models/profiles.yaml",
            "inputs:\n  - name: events\n    app_defaults:\n      table: shop.events\n      occurred_at_col: ts\n      ids:\n\
             \x20       - {select: user_id, type: user_id, entity: user}\n\
             \x20       - {select: anonymous_id, type: anonymous_id, entity: user}\n\
             \x20 - name: orders\n    app_defaults:\n      table: shop.orders\n      occurred_at_col: ts\n      ids:\n\
             \x20       - {select: user_id, type: user_id, entity: user}\n\
             \x20       - {select: anonymous_id, type: anonymous_id, entity: user}\n\
             models:\n  - name: user_graph\n    model_type: id_stitcher\n    model_spec:\n      entity_key: user\n\
             \x20     edge_sources:\n        - from: inputs/events\n\
             var_groups:\n  - name: vars\n    entity_key: user\n    vars:\n\
             \x20     - entity_var: {name: spent, select: sum(amount), from: inputs/orders}\n\
             \x20     - entity_var: {name: n_orders, select: count(*), from: inputs/orders}\n",
        ),
    ] {
        let path = project.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    const LOOKUP_ORDERS: &str = "user_id,anonymous_id,amount,ts";
    let tables = dir.join("tables");
    let store = dir.join("store");
    let events = |file: &str, rows: &[&str]| {
        let rows: Vec<String> = rows
            .iter()
            .map(|r| format!("{r},,,2024-01-01 10:00:00"))
            .collect();
        write_table_file(&tables, "events", file, EVENTS, &rows);
    };
    let orders = |file: &str, rows: &[&str]| {
        let rows: Vec<String> = rows
            .iter()
            .map(|r| format!("{r},2024-01-02 10:00:00"))
            .collect();
        write_table_file(&tables, "orders", file, LOOKUP_ORDERS, &rows);
    };
    // Three customers; u1's order also names a3, of the third: it is u1's (user_id
    // comes first).
    events("day1", &["u1,a1", "u2,a2", "u3,a3", "u4,a4", "u5,a5"]);
    orders("day1", &["u1,a3,5", "u1,,10", "u4,x,1", "u5,x,2"]);
    run_ok(&project, &tables, &store, END);
    // Day 2: an order of u2, which makes no edge, and an event that touches u3's
    // cluster (whose rows include u1's order by a3). The order's `x` is in no cluster:
    // u4's and u5's orders, which hold it too, stay out.
    events("day2", &["u3,a3b"]);
    orders("day2", &["u2,x,20"]);
    let stderr = run_ok(&project, &tables, &store, END);
    assert!(stderr.contains("incremental"), "{stderr}");
    assert!(stderr.contains("in 3 stored clusters touched"), "{stderr}");
    let full = dir.join("full");
    run_ok(&project, &tables, &full, END);
    assert_eq!(
        differences_with(knit(), &full, &store.display().to_string(), 4),
        Vec::<String>::new()
    );
    let output = knit()
        .args(["-q", "--format", "csv", "-c"])
        .arg(format!(
            "SELECT g.other_id, v.spent, v.n_orders FROM '{0}/user_feature_view' v \
             JOIN '{0}/user_graph' g ON g.user_main_id = v.user_main_id \
             WHERE g.other_id_type = 'user_id' ORDER BY 1",
            store.display()
        ))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "other_id,spent,n_orders\nu1,15,2\nu2,20,1\nu3,,\nu4,1,1\nu5,2,1\n"
    );
}

#[test]
fn a_merge_across_days_leaves_a_redirect_and_cohort_changes() {
    let dir = scratch("story");
    let project = write_project(&dir);
    let tables = dir.join("tables");
    let store = dir.join("store");
    let changes = dir.join("changes");
    // Day 1: two customers, one of them a buyer.
    write_table_file(
        &tables,
        "events",
        "day1",
        EVENTS,
        &[
            "u1,a1,,web,2024-01-01 10:00:00".into(),
            "u2,a2,,app,2024-01-02 10:00:00".into(),
        ],
    );
    write_table_file(
        &tables,
        "orders",
        "day1",
        ORDERS,
        &["u2,60,2024-01-02 11:00:00".into()],
    );
    let stderr = run_ok(&project, &tables, &store, END);
    assert!(
        stderr.contains("run 1: full (the store's first run)"),
        "{stderr}"
    );
    // Day 2: one device shows both are one customer, the earlier one's main id stays.
    write_table_file(
        &tables,
        "events",
        "day2",
        EVENTS,
        &["u2,a1,,web,2024-01-03 10:00:00".into()],
    );
    let changes_dir = changes.display().to_string();
    let output = run(
        &project,
        &tables,
        &store,
        END,
        &["--changes-out", &changes_dir],
    );
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("run 2: incremental (1 new input files)"),
        "{stderr}"
    );
    let query = |sql: &str| {
        let output = knit()
            .args(["-q", "--format", "csv", "-c", sql])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{stderr}");
        stdout
    };
    let graph = store.join("user_graph").display().to_string();
    let redirects = store.join("user_graph_redirects").display().to_string();
    // The retired main id is day 1's main id of u2; it now points to u1's.
    let expected = query(&format!(
        "SELECT count(DISTINCT user_main_id) AS clusters FROM '{graph}'"
    ));
    assert_eq!(expected, "clusters\n1\n");

    let redirect = query(&format!(
        "SELECT r.run, r.new_main_id = (SELECT min(user_main_id) FROM '{graph}') AS to_today \
         FROM '{redirects}' r"
    ));
    assert_eq!(redirect, "run,to_today\n1,true\n");
    // The buyers cohort: the merged customer stays a member under the surviving main
    // id; the retired main id exits.
    let cohort = query(&format!(
        "SELECT change, count(*) AS n FROM '{}' GROUP BY change ORDER BY change",
        changes.join("user_buyers_changes.parquet").display()
    ));
    assert_eq!(cohort, "change,n\nentered,1\nexited,1\n");
    // Nothing new: the store is current and nothing is written.
    let stderr = run_ok(&project, &tables, &store, END);
    assert!(stderr.contains("the store is current"), "{stderr}");
    let status = knit()
        .args(["store", "status"])
        .arg(&store)
        .output()
        .unwrap();
    let (stdout, _) = text(&status);
    assert!(stdout.contains("last run: 2 (incremental)"), "{stdout}");
    assert!(stdout.contains("shop.events: 2 files"), "{stdout}");
    assert!(stdout.contains("user_graph: version 1, 4 rows"), "{stdout}");

    // Day 3: a customer seen earlier still (a late file) shares a device with the
    // merged one, and the earliest id's main id takes over: a chain day 1 -> day 2 ->
    // day 3, which current_main_id follows to its end.
    write_table_file(
        &tables,
        "events",
        "day3",
        EVENTS,
        &["u3,a2,,web,2023-12-31 10:00:00".into()],
    );
    let stderr = run_ok(&project, &tables, &store, END);
    assert!(stderr.contains("run 3: incremental"), "{stderr}");
    let store_text = store.display().to_string();
    let set_store = format!("SET knit.profile_store = '{store_text}'");
    let resolved = knit()
        .args(["-q", "--format", "csv", "-c", &set_store, "-c"])
        .arg(format!(
            "SELECT count(*) AS retired, \
               count(DISTINCT current_main_id('user', old_main_id)) AS targets, \
               bool_and(current_main_id('user', old_main_id) = \
                 (SELECT min(user_main_id) FROM '{graph}')) AS to_today, \
               min(run) AS first_run, max(run) AS last_run \
             FROM '{redirects}'"
        ))
        .args(["-c", "SELECT current_main_id('user', 'never-a-main-id') AS kept, current_main_id('user', NULL) AS null_kept"])
        .arg("-c")
        .arg(format!(
            "SELECT count(*) AS today_kept FROM '{graph}' \
             WHERE current_main_id('user', user_main_id) = user_main_id"
        ))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&resolved);
    assert!(resolved.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "retired,targets,to_today,first_run,last_run\n2,1,true,1,2\n\
         kept,null_kept\nnever-a-main-id,\ntoday_kept\n5\n"
    );
    // Bad input: no store named, an entity the store does not have, an entity that is
    // not text.
    for (setup, sql, error) in [
        (
            "SELECT 1",
            "SELECT current_main_id('user', 'x')",
            "SET knit.profile_store = 'path'",
        ),
        (
            set_store.as_str(),
            "SELECT current_main_id('account', 'x')",
            "has no merge history of entity 'account'; it has: user",
        ),
        (
            set_store.as_str(),
            "SELECT current_main_id(upper('user'), 'x')",
            "the first argument is an entity's name",
        ),
    ] {
        let output = knit()
            .args(["-q", "-c", setup, "-c", sql])
            .output()
            .unwrap();
        let (_, stderr) = text(&output);
        assert!(!output.status.success(), "{sql}");
        assert!(stderr.contains(error), "{sql}: {stderr}");
    }
}

#[test]
fn what_cannot_only_add_rows_makes_a_full_run_and_says_why() {
    let dir = scratch("full");
    let project = write_project(&dir);
    let tables = dir.join("tables");
    let store = dir.join("store");
    write_table_file(
        &tables,
        "events",
        "a",
        EVENTS,
        &["u1,a1,,web,2024-01-01 10:00:00".into()],
    );
    write_table_file(
        &tables,
        "orders",
        "a",
        ORDERS,
        &["u1,10,2024-01-01 10:00:00".into()],
    );
    run_ok(&project, &tables, &store, END);
    // A file read before is rewritten.
    write_table_file(
        &tables,
        "events",
        "a",
        EVENTS,
        &["u9,a9,,web,2024-01-01 10:00:00".into()],
    );
    let stderr = run_ok(&project, &tables, &store, END);
    assert!(
        stderr.contains("run 2: full (input file file://"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a.parquet changed since run 1)"),
        "{stderr}"
    );
    // --rebuild, and an end time before the last run's.
    let output = run(&project, &tables, &store, END, &["--rebuild"]);
    assert!(text(&output).1.contains("run 3: full (--rebuild)"));
    let stderr = run_ok(&project, &tables, &store, "2099-01-01T00:00:00Z");
    assert!(stderr.contains("is before the last run's"), "{stderr}");
    // The end result is that of the files there are.
    let full = dir.join("full");
    run_ok(&project, &tables, &full, "2099-01-01T00:00:00Z");
    assert_eq!(differences(&full, &store), Vec::<String>::new());
    // An input var window partitioned by an id column: its rows whose id is NULL span
    // clusters (pb counts them over every entity's rows), so new rows make a full run.
    let profiles = project.join("models/profiles.yaml");
    let yaml = std::fs::read_to_string(&profiles).unwrap();
    let by_id = yaml.replace("partition_by: [rudder_id]", "partition_by: [user_id]");
    assert_ne!(yaml, by_id);
    std::fs::write(&profiles, by_id).unwrap();
    run_ok(&project, &tables, &store, "2099-01-01T00:00:00Z");
    write_table_file(
        &tables,
        "orders",
        "b",
        ORDERS,
        &[",20,2024-01-02 10:00:00".into()],
    );
    let stderr = run_ok(&project, &tables, &store, "2099-01-01T00:00:00Z");
    assert!(
        stderr.contains("is a window not partitioned by the row's main id"),
        "{stderr}"
    );
    // Bad input: --store with --out, a store that is a file.
    let output = run(&project, &tables, &store, END, &["--out", "x"]);
    assert!(!output.status.success());
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let output = run(&project, &tables, &file, END, &[]);
    assert!(
        text(&output).1.contains("is a file: name a folder"),
        "{}",
        text(&output).1
    );
    let output = knit()
        .args(["store", "status"])
        .arg(dir.join("none"))
        .output()
        .unwrap();
    assert!(!output.status.success());
}

#[test]
fn a_held_lock_refuses_a_run_and_a_killed_run_leaves_the_next_correct() {
    let dir = scratch("lock");
    let project = write_project(&dir);
    let tables = dir.join("tables");
    let store = dir.join("store");
    let mut rng = Lcg(99);
    let (events, orders) = random_rows(&mut rng, 3000, 500);
    write_table_file(&tables, "events", "a", EVENTS, &events);
    write_table_file(&tables, "orders", "a", ORDERS, &orders);
    run_ok(&project, &tables, &store, END);
    // Another run holds the lock (a live process stands for it).
    let mut holder = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::fs::write(store.join("_knit/lock"), holder.id().to_string()).unwrap();
    let output = run(&project, &tables, &store, END, &[]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("another knit run (process {})", holder.id())),
        "{stderr}"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    // A refresh killed at some point (the lock of its dead process is taken over).
    let (events, orders) = random_rows(&mut rng, 3000, 500);
    write_table_file(&tables, "events", "b", EVENTS, &events);
    write_table_file(&tables, "orders", "b", ORDERS, &orders);
    for delay_ms in [150, 400] {
        let mut child = command(&project, &tables, &store, END)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
    }
    run_ok(&project, &tables, &store, END);
    let full = dir.join("full");
    run_ok(&project, &tables, &full, END);
    assert_eq!(differences(&full, &store), Vec::<String>::new());
}

/// A store on S3 (the local server): a full run, then a refresh, equal to a local full
/// run; `knit store status` reads it; runs started at once on it each finish or are
/// refused by the lock, and leave it correct.
#[test]
fn a_store_on_s3_refreshes_and_locks_as_a_local_one() {
    let Some(s3) = crate::s3::local_s3() else {
        eprintln!("skipped: no local S3 (run scripts/s3-server start and source its env)");
        return;
    };
    let dir = scratch("s3");
    let project = write_project(&dir);
    let tables = dir.join("tables");
    let store = s3.prefix("store");
    let on_s3 = |extra: &[&str]| {
        let mut command = s3.knit();
        command
            .args(["project", "run"])
            .arg(&project)
            .arg("--tables")
            .arg(&tables)
            .args(["--store", &store, "--end-time", END])
            .args(extra);
        command
    };
    let sync = format!("{store}-sync");
    let mut rng = Lcg(2026);
    let mut modes = Vec::new();
    for arrival in 0..2 {
        let (events, orders) = random_rows(&mut rng, 400, 60);
        let file = format!("part-{arrival}");
        write_table_file(&tables, "events", &file, EVENTS, &events);
        write_table_file(&tables, "orders", &file, ORDERS, &orders);
        let output = on_s3(&["--changes-out", &sync]).output().unwrap();
        let (_, stderr) = text(&output);
        assert!(output.status.success(), "{stderr}");
        modes.push(stderr.lines().next().unwrap_or_default().to_string());
    }
    assert!(
        modes[0].contains("run 1: full (the store's first run)"),
        "{modes:?}"
    );
    assert!(
        modes[1].contains("run 2: incremental (2 new input files)"),
        "{modes:?}"
    );
    let full = dir.join("full");
    run_ok(&project, &tables, &full, END);
    assert_eq!(
        differences_with(s3.knit(), &full, &store, 10),
        Vec::<String>::new()
    );
    let status = s3
        .knit()
        .args(["store", "status", &store])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&status);
    assert!(status.status.success(), "{stderr}");
    assert!(stdout.contains("last run: 2 (incremental)"), "{stdout}");
    assert!(stdout.contains("shop.orders: 2 files"), "{stdout}");
    assert!(!stdout.contains("holds the lock"), "{stdout}");
    // The refresh's changes went to S3 too: as many as its version of the table holds.
    let changes = s3
        .knit()
        .args(["-q", "--format", "csv", "-c"])
        .arg(format!(
            "SELECT (SELECT count(*) FROM '{sync}/user_graph_changes.parquet') = \
             (SELECT count(*) FROM table_changes('{store}/user_graph', 1, 1) \
              WHERE _change_type <> 'update_preimage') AS same"
        ))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&changes);
    assert!(changes.status.success(), "{stderr}");
    assert_eq!(stdout, "same\ntrue\n");
    // current_main_id reads the merge history of a store on S3: today's main ids are
    // their own.
    let current = s3
        .knit()
        .args(["-q", "--format", "csv", "-c"])
        .arg(format!("SET knit.profile_store = '{store}'"))
        .arg("-c")
        .arg(format!(
            "SELECT bool_and(current_main_id('user', user_main_id) = user_main_id) AS kept \
             FROM '{store}/user_graph'"
        ))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&current);
    assert!(current.status.success(), "{stderr}");
    assert_eq!(stdout, "kept\ntrue\n");

    // Three runs at once over a third arrival: the lock lets one change the store at a
    // time; the others finish after it (finding the store current) or are refused.
    let (events, orders) = random_rows(&mut rng, 400, 60);
    write_table_file(&tables, "events", "part-2", EVENTS, &events);
    write_table_file(&tables, "orders", "part-2", ORDERS, &orders);
    let runs: Vec<_> = (0..3)
        .map(|_| {
            on_s3(&[])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut finished = 0;
    for run in runs {
        let output = run.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.success() {
            finished += 1;
        } else {
            assert!(stderr.contains("another knit run (process "), "{stderr}");
        }
    }
    assert!(finished >= 1);
    let full = dir.join("full-3");
    run_ok(&project, &tables, &full, END);
    assert_eq!(
        differences_with(s3.knit(), &full, &store, 10),
        Vec::<String>::new()
    );
}

/// Delta tables as inputs: a version that only adds files is read alone (its new
/// files), equal to a full run; one that removes or rewrites files makes a full run.
#[test]
fn delta_inputs_refresh_from_the_files_new_versions_add() {
    let dir = scratch("delta-inputs");
    let project = write_project(&dir);
    let tables = dir.join("tables");
    let store = dir.join("store");
    let mut rng = Lcg(77);
    let (events, orders) = random_rows(&mut rng, 300, 40);
    append_delta_rows(&tables, "events", EVENTS, &events);
    write_table_file(&tables, "orders", "a", ORDERS, &orders);
    let stderr = run_ok(&project, &tables, &store, END);
    assert!(stderr.contains("run 1: full"), "{stderr}");
    // Two appends: two new versions, read as their new files.
    for _ in 0..2 {
        let (events, _) = random_rows(&mut rng, 60, 0);
        append_delta_rows(&tables, "events", EVENTS, &events);
    }
    let stderr = run_ok(&project, &tables, &store, END);
    assert!(
        stderr.contains("run 2: incremental (2 new input files)"),
        "{stderr}"
    );
    let full = dir.join("full");
    run_ok(&project, &tables, &full, END);
    assert_eq!(differences(&full, &store), Vec::<String>::new());
    let status = knit()
        .args(["store", "status"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(
        text(&status).0.contains("shop.events: 3 files"),
        "{}",
        text(&status).0
    );
    // A version that deletes rows rewrites (removes) a file read before: a full run.
    let events_table = tables.join("shop").join("events");
    let output = knit()
        .args(["-q", "-c"])
        .arg(format!(
            "COPY (SELECT * FROM '{t}' WHERE channel IS DISTINCT FROM 'web') TO '{t}' STORED AS DELTA",
            t = events_table.display()
        ))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
    let stderr = run_ok(&project, &tables, &store, END);
    assert!(
        stderr.contains("run 3: full (input file file://"),
        "{stderr}"
    );
    assert!(stderr.contains("was deleted since run 2"), "{stderr}");
    let full = dir.join("full-2");
    run_ok(&project, &tables, &full, END);
    assert_eq!(differences(&full, &store), Vec::<String>::new());
}
