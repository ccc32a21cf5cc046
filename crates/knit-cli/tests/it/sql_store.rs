// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `CREATE PROFILE STORE` and `REFRESH PROFILE STORE` in Knit SQL scripts: refreshes
//! over rows that arrive in files equal one full refresh row for row; `FULL`, a store
//! that is current, and an input read by its path say so; what a refresh needs and
//! lacks is an error naming the fix.

use std::path::Path;
use std::process::Output;

use crate::store::{EVENTS, Lcg, ORDERS, differences_with, random_rows, write_table_file};
use crate::{Scratch, knit, text};

/// The tables, entity, vars and cohort of the pb project the store tests use, in SQL:
/// aggregates that combine, an ordered first value (ordered on every column it returns,
/// as ties on time are read in another order by a refresh), count distinct, a var over
/// vars, a filter and a default, and a cohort. `{from}` is each input's source.
fn profile(tables: &Path, store: &Path, refresh: &str, by_path: bool) -> String {
    let events = tables.join("shop/events/");
    let orders = tables.join("shop/orders/");
    let (events_from, orders_from) = if by_path {
        (
            format!("'{}'", events.display()),
            format!("'{}'", orders.display()),
        )
    } else {
        ("events".to_string(), "orders".to_string())
    };
    format!(
        "CREATE EXTERNAL TABLE events STORED AS PARQUET LOCATION '{}';
         CREATE EXTERNAL TABLE orders STORED AS PARQUET LOCATION '{}';
         CREATE ENTITY user ID TYPES (user_id, anonymous_id EXCLUDE ('unknown'), email);
         CREATE INPUT events FOR user FROM {events_from}
           IDS (user_id AS user_id, anonymous_id AS anonymous_id, lower(email) AS email)
           OCCURRED AT ts;
         CREATE INPUT orders FOR user FROM {orders_from} IDS (user_id AS user_id) OCCURRED AT ts;
         SELECT count(*) FROM events;
         CREATE ENTITY VAR user.n_events AS count(*) FROM events;
         CREATE ENTITY VAR user.first_seen AS min(ts) FROM events;
         CREATE ENTITY VAR user.last_seen AS max(ts) FROM events;
         CREATE ENTITY VAR user.channels AS count(DISTINCT channel) FROM events;
         CREATE ENTITY VAR user.first_channel AS first_value(channel ORDER BY ts, channel)
           FROM events;
         CREATE ENTITY VAR user.spent AS sum(amount) FROM orders DEFAULT 0;
         CREATE ENTITY VAR user.big_orders AS count(*) FROM orders WHERE amount > 40;
         CREATE ENTITY VAR user.per_event AS user.spent / nullif(user.n_events, 0);
         CREATE COHORT buyers FOR user WHERE spent >= 50;
         CREATE PROFILE STORE '{}';
         {refresh};",
        events.display(),
        orders.display(),
        store.display()
    )
}

/// Runs `script` with `knit -f` (and `-q` when `quiet`).
fn run_script_with(dir: &Path, script: &str, quiet: bool) -> Output {
    let path = dir.join("profile.sql");
    std::fs::write(&path, script).unwrap();
    let mut command = knit();
    if quiet {
        command.arg("-q");
    }
    command.arg("-f").arg(&path).output().unwrap()
}

/// Runs `script` with `knit -f`, which prints the refresh's progress lines.
fn run_script(dir: &Path, script: &str) -> Output {
    run_script_with(dir, script, false)
}

fn refresh_ok(dir: &Path, script: &str) -> String {
    let output = run_script(dir, script);
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// Writes one arrival of random rows as files `part-<arrival>` of both tables.
fn arrive(rng: &mut Lcg, tables: &Path, arrival: usize) {
    let (n_events, n_orders) = (10 + rng.next(25) as usize, 1 + rng.next(8) as usize);
    let (events, orders) = random_rows(rng, n_events, n_orders);
    let file = format!("part-{arrival}");
    write_table_file(tables, "events", &file, EVENTS, &events);
    write_table_file(tables, "orders", &file, ORDERS, &orders);
}

#[test]
fn sql_refreshes_over_random_arrivals_equal_one_full_refresh() {
    let dir = Scratch::new("knit-sql-store", "random");
    for seed in 1..=3u64 {
        let mut rng = Lcg(seed * 104_729);
        let tables = dir.join(format!("tables-{seed}"));
        let store = dir.join(format!("store-{seed}"));
        let arrivals = 2 + rng.next(3) as usize;
        let mut runs = Vec::new();
        // Limits refuse edges by their time order, which late rows change: seeds 2 and
        // 3 stitch with a limit.
        let limited = |script: String| match seed {
            2 => script.replace("(user_id, anonymous_id", "(user_id LIMIT 1, anonymous_id"),
            3 => script.replace("email);", "email LIMIT 1);"),
            _ => script,
        };
        for arrival in 0..arrivals {
            arrive(&mut rng, &tables, arrival);
            let script = limited(profile(&tables, &store, "REFRESH PROFILE STORE", false));
            runs.push(refresh_ok(&dir, &script));
        }
        assert!(
            runs[0].contains("run 1: full (the store's first run)"),
            "{}",
            runs[0]
        );
        for (n, stderr) in runs.iter().enumerate().skip(1) {
            assert!(
                stderr.contains(&format!("run {}: incremental (2 new input files)", n + 1)),
                "seed {seed}, run {}: {stderr}",
                n + 1
            );
        }
        let full = dir.join(format!("full-{seed}"));
        let stderr = refresh_ok(
            &dir,
            &limited(profile(&tables, &full, "REFRESH PROFILE STORE", false)),
        );
        assert!(stderr.contains("run 1: full"), "{stderr}");
        assert_eq!(
            differences_with(knit(), &full, &store.display().to_string(), 5),
            Vec::<String>::new(),
            "seed {seed}"
        );
        if seed > 1 {
            // The limit did refuse edges.
            let refused = dir.join(format!("refused-{seed}.csv"));
            let count = format!(
                "COPY (SELECT count(*) AS refused FROM stitch_report('user', 'refused')) \
                 TO '{}'",
                refused.display()
            );
            refresh_ok(&dir, &limited(profile(&tables, &full, &count, false)));
            let text = std::fs::read_to_string(&refused).unwrap();
            let n: u64 = text.lines().nth(1).unwrap().parse().unwrap();
            assert!(n > 0, "seed {seed}: {text}");
        }
        // The outputs are the entity's and the cohort's, with real rows.
        let mut names: Vec<String> = std::fs::read_dir(&store)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('_'))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "buyers_features",
                "user_buyers",
                "user_features",
                "user_id_graph",
                "user_id_graph_edges",
                "user_id_graph_redirects"
            ]
        );
    }
}

#[test]
fn a_current_store_full_and_inputs_read_by_path_say_what_the_refresh_does() {
    let dir = Scratch::new("knit-sql-store", "plans");
    let tables = dir.join("tables");
    let store = dir.join("store");
    let mut rng = Lcg(17);
    arrive(&mut rng, &tables, 0);
    let script = profile(&tables, &store, "REFRESH PROFILE STORE", false);
    refresh_ok(&dir, &script);
    // The same definitions with other comments and line breaks: nothing to do.
    let edited = format!(
        "-- the shop's profile, edited\n{}",
        script
            .replace("\n         ", "\n")
            .replace(" FROM events;", " /* all events */ FROM events;")
    );
    assert_ne!(edited, script);
    let stderr = refresh_ok(&dir, &edited);
    assert!(
        stderr.contains("the store is current: no input file is new or changed since run 1\n"),
        "{stderr}"
    );
    let stderr = refresh_ok(
        &dir,
        &profile(&tables, &store, "REFRESH PROFILE STORE FULL", false),
    );
    assert!(
        stderr.contains("run 2: full (REFRESH PROFILE STORE FULL)"),
        "{stderr}"
    );
    // Inputs that read their files by path: a refresh cannot list which are new, so
    // each one is full, and says why; the result is still right.
    let by_path = dir.join("by-path");
    refresh_ok(
        &dir,
        &profile(&tables, &by_path, "REFRESH PROFILE STORE", true),
    );
    arrive(&mut rng, &tables, 1);
    let stderr = refresh_ok(
        &dir,
        &profile(&tables, &by_path, "REFRESH PROFILE STORE", true),
    );
    assert!(
        stderr.contains("run 2: full (input rows are read from ")
            && stderr.contains("which is not a table of CREATE EXTERNAL TABLE"),
        "{stderr}"
    );
    let stderr = refresh_ok(&dir, &script);
    assert!(
        stderr.contains("run 3: incremental (2 new input files)"),
        "{stderr}"
    );
    assert_eq!(
        differences_with(knit(), &by_path, &store.display().to_string(), 5),
        Vec::<String>::new()
    );
    // The store reads back as tables, and `knit store status` shows its runs.
    let output = knit()
        .args(["-q", "--format", "csv", "-c"])
        .arg(format!(
            "SELECT count(*) = count(DISTINCT user_main_id) AS one_row_each FROM '{}'",
            store.join("user_features").display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        text(&output).0,
        "one_row_each\ntrue\n",
        "{}",
        text(&output).1
    );
    let output = knit()
        .args(["store", "status"])
        .arg(&store)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("last run: 3 (incremental)"), "{stdout}");
    assert!(stdout.contains("events: 2 files"), "{stdout}");
}

#[test]
fn a_refresh_without_a_store_or_an_entity_is_an_error_naming_the_fix() {
    let dir = Scratch::new("knit-sql-store", "errors");
    let cases: [(&str, &str); 6] = [
        (
            "REFRESH PROFILE STORE",
            "REFRESH PROFILE STORE: the session has no profile store: name one first with \
             CREATE PROFILE STORE 'path'",
        ),
        (
            "CREATE PROFILE STORE '{dir}'; REFRESH PROFILE STORE",
            "REFRESH PROFILE STORE: the session defines no entity: define one with CREATE \
             ENTITY",
        ),
        (
            "CREATE PROFILE STORE '{dir}/profile.sql'",
            "is a file: name a folder",
        ),
        ("REFRESH PROFILE STORE NOW", "Expected: end of statement"),
        (
            "REFRESH PROFILE STORE CHANGES TO changes",
            "Expected: literal string: the changes' folder or s3:// URL",
        ),
        // Rows inserted into a table in memory are not in the definitions a refresh
        // replays: it refuses to compute without them.
        (
            "CREATE TABLE t (user_id VARCHAR, ts TIMESTAMP);
             INSERT INTO t VALUES ('u1', TIMESTAMP '2024-01-01 00:00:00');
             CREATE ENTITY user ID TYPES (user_id);
             CREATE INPUT t FOR user FROM t IDS (user_id AS user_id) OCCURRED AT ts;
             CREATE PROFILE STORE '{dir}'; REFRESH PROFILE STORE",
            "REFRESH PROFILE STORE: the session changed rows that a refresh cannot replay \
             (INSERT INTO t)",
        ),
    ];
    for (script, expected) in cases {
        let script = script.replace("{dir}", &dir.display().to_string());
        let output = run_script(&dir, &script);
        let (_, stderr) = text(&output);
        assert!(!output.status.success(), "{script}");
        assert!(stderr.contains(expected), "{script}: {stderr}");
    }
    // Nothing was written for a refresh that failed before it ran.
    assert!(!dir.join("_knit").exists());
}

#[test]
fn ctrl_c_stops_a_refresh_and_gives_the_lock_up() {
    use std::io::{BufRead, BufReader};
    let dir = Scratch::new("knit-sql-store", "ctrl-c");
    let tables = dir.join("tables");
    let store = dir.join("store");
    let mut rng = Lcg(5);
    let (events, orders) = random_rows(&mut rng, 60_000, 8_000);
    write_table_file(&tables, "events", "part-0", EVENTS, &events);
    write_table_file(&tables, "orders", "part-0", ORDERS, &orders);
    let script = profile(&tables, &store, "REFRESH PROFILE STORE", false);
    let path = dir.join("profile.sql");
    std::fs::write(&path, &script).unwrap();
    let mut child = knit()
        .arg("-f")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // Once the run has started computing its outputs, as a user's Ctrl-C.
    while !seen.contains("run 1: full") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
    }
    let signal = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signal.success());
    std::io::Read::read_to_string(&mut stderr, &mut seen).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{seen}");
    // Whether the signal lands while the outputs are computed or after, the run stops
    // with the store as it was.
    assert!(
        seen.contains("error: cancelled") && seen.contains("the store keeps its last complete run"),
        "{seen}"
    );
    assert!(!store.join("_knit/lock").exists());
    assert!(!store.join("_knit/state.json").exists());
    // The next refresh takes the store as new.
    let stderr = refresh_ok(&dir, &script);
    assert!(
        stderr.contains("run 1: full (the store's first run)"),
        "{stderr}"
    );
}

/// The members and columns of `changes` (a `CHANGES TO` file) as
/// `change user_id column=value` lines, sorted, each member named by its user id.
fn member_changes(store: &Path, changes: &Path, column: &str) -> Vec<String> {
    let sql = format!(
        "SELECT c.change || ' ' || g.other_id || ' ' || '{column}=' || \
           coalesce(CAST(c.{column} AS VARCHAR), 'NULL') AS line \
         FROM '{}' c JOIN '{}' g ON g.user_main_id = c.user_main_id \
         WHERE g.other_id_type = 'user_id' ORDER BY line",
        changes.display(),
        store.join("user_id_graph").display()
    );
    query_lines(&sql)
}

/// The rows of the query `sql`, as CSV lines without the header.
fn query_lines(sql: &str) -> Vec<String> {
    let output = knit()
        .args(["-q", "--format", "csv", "-c", sql])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    stdout.lines().skip(1).map(str::to_string).collect()
}

#[test]
fn changes_to_writes_what_each_refresh_changed_and_quiet_prints_nothing() {
    let dir = Scratch::new("knit-sql-store", "changes");
    let tables = dir.join("tables");
    let store = dir.join("store");
    // Day 1: u1 has spent 30 and u2 60 (a buyer); u3 has only browsed.
    write_table_file(
        &tables,
        "events",
        "part-0",
        EVENTS,
        &[
            "u1,a1,,web,2024-01-01 10:00:00".to_string(),
            "u2,a2,,app,2024-01-01 11:00:00".to_string(),
            "u3,a3,,web,2024-01-01 12:00:00".to_string(),
        ],
    );
    write_table_file(
        &tables,
        "orders",
        "part-0",
        ORDERS,
        &[
            "u1,30,2024-01-01 10:05:00".to_string(),
            "u2,60,2024-01-01 11:05:00".to_string(),
        ],
    );
    let day = |n: u32| {
        let changes = dir.join(format!("changes-day-{n}"));
        let refresh = format!("REFRESH PROFILE STORE CHANGES TO '{}'", changes.display());
        let output = run_script_with(&dir, &profile(&tables, &store, &refresh, false), true);
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{stderr}");
        // `-q`: the script's query result alone, no progress line.
        assert_eq!(stderr, "", "day {n}");
        assert!(stdout.contains("count(*)"), "{stdout}");
        changes
    };
    let first = day(1);
    // The first run: every member entered.
    assert_eq!(
        member_changes(
            &store,
            &first.join("user_buyers_changes.parquet"),
            "version"
        ),
        ["entered u2 version=0"]
    );
    // Day 2: u1 orders 25 more (spent 55: enters the buyers), u3 spends 10 (no buyer,
    // but its spent changes), u2 is unchanged.
    write_table_file(
        &tables,
        "orders",
        "part-1",
        ORDERS,
        &[
            "u1,25,2024-01-02 10:00:00".to_string(),
            "u3,10,2024-01-02 12:00:00".to_string(),
        ],
    );
    let second = day(2);
    assert_eq!(
        member_changes(
            &store,
            &second.join("user_buyers_changes.parquet"),
            "version"
        ),
        ["entered u1 version=1"]
    );
    assert_eq!(
        member_changes(
            &store,
            &second.join("user_features_changes.parquet"),
            "spent"
        ),
        ["changed u1 spent=55", "changed u3 spent=10"]
    );
    let state = std::fs::read_to_string(store.join("_knit/state.json")).unwrap();
    assert!(state.contains("\"mode\": \"incremental\""), "{state}");

    // Day 3: a late event of u2's, older than its first: the edge of u2 and a2 is now
    // valid from then (a refresh compares only the new rows' edges), and u2 changes.
    write_table_file(
        &tables,
        "events",
        "part-2",
        EVENTS,
        &["u2,a2,,web,2023-12-31 09:00:00".to_string()],
    );
    let third = day(3);
    let sql = format!(
        "SELECT change || ' ' || CAST(valid_at AS VARCHAR) AS line FROM '{}' \
         WHERE coalesce(id1, '') IN ('u2', 'a2') AND coalesce(id2, '') IN ('u2', 'a2') \
         ORDER BY line",
        third.join("user_id_graph_edges_changes.parquet").display()
    );
    assert_eq!(query_lines(&sql), ["changed 2023-12-31T09:00:00"]);
    assert_eq!(
        member_changes(
            &store,
            &third.join("user_features_changes.parquet"),
            "first_seen"
        ),
        ["changed u2 first_seen=2023-12-31T09:00:00"]
    );
    // And the store is a full run's, row for row.
    let full = dir.join("full");
    refresh_ok(
        &dir,
        &profile(&tables, &full, "REFRESH PROFILE STORE", false),
    );
    assert_eq!(
        differences_with(knit(), &full, &store.display().to_string(), 5),
        Vec::<String>::new()
    );
}

#[test]
fn a_profile_that_reads_the_time_of_the_run_refreshes_in_full_every_time() {
    let dir = Scratch::new("knit-sql-store", "now");
    let tables = dir.join("tables");
    let store = dir.join("store");
    let mut rng = Lcg(23);
    arrive(&mut rng, &tables, 0);
    let script = profile(&tables, &store, "REFRESH PROFILE STORE", false).replace(
        "CREATE PROFILE STORE",
        "CREATE ENTITY VAR user.days_since AS \
           date_part('day', now() - max(ts)) FROM events;\nCREATE PROFILE STORE",
    );
    refresh_ok(&dir, &script);
    // No new file, yet each customer's days_since moved: a full run, saying why.
    let stderr = refresh_ok(&dir, &script);
    assert!(
        stderr.contains("run 2: full (CREATE ENTITY VAR user.days_since")
            && stderr
                .contains("reads the time of the run (now()), which moves for every customer)"),
        "{stderr}"
    );
    arrive(&mut rng, &tables, 1);
    let stderr = refresh_ok(&dir, &script);
    assert!(
        stderr.contains("run 3: full (CREATE ENTITY VAR"),
        "{stderr}"
    );
}

/// A profile whose tables, store and changes are all on S3 (the local server): the
/// refresh lists the new file of the S3 table, reads it alone and writes its changes.
#[test]
fn a_profile_on_s3_refreshes_from_the_new_files_of_its_tables() {
    let Some(s3) = crate::s3::local_s3() else {
        eprintln!("skipped: no local S3 (run scripts/s3-server start and source its env)");
        return;
    };
    let dir = Scratch::new("knit-sql-store", "s3");
    let prefix = s3.prefix("sql-store");
    let put = |file: &str, rows: &str| {
        let output = s3
            .knit()
            .args(["-q", "-c"])
            .arg(format!(
                "COPY (SELECT * FROM (VALUES {rows}) t(user_id, anonymous_id, ts)) \
                 TO '{prefix}/events/{file}.parquet'"
            ))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output).1);
    };
    let script = format!(
        "CREATE EXTERNAL TABLE events STORED AS PARQUET LOCATION '{prefix}/events/';
         CREATE ENTITY user ID TYPES (user_id, anonymous_id);
         CREATE INPUT events FOR user FROM events
           IDS (user_id AS user_id, anonymous_id AS anonymous_id) OCCURRED AT ts;
         CREATE ENTITY VAR user.n AS count(*) FROM events;
         CREATE PROFILE STORE '{prefix}/store/';
         REFRESH PROFILE STORE CHANGES TO '{prefix}/changes/';"
    );
    let path = dir.join("profile.sql");
    std::fs::write(&path, &script).unwrap();
    let refresh = || {
        let output = s3.knit().arg("-f").arg(&path).output().unwrap();
        let (_, stderr) = text(&output);
        assert!(output.status.success(), "{stderr}");
        stderr
    };
    put(
        "part-0",
        "('u1', 'a1', TIMESTAMP '2024-01-01 10:00:00'), \
         ('u2', 'a2', TIMESTAMP '2024-01-01 11:00:00')",
    );
    assert!(refresh().contains("run 1: full (the store's first run)"));
    // u1 comes back on a new device; u3 is new.
    put(
        "part-1",
        "('u1', 'a3', TIMESTAMP '2024-01-02 10:00:00'), \
         ('u3', 'a4', TIMESTAMP '2024-01-02 11:00:00')",
    );
    let stderr = refresh();
    assert!(
        stderr.contains("run 2: incremental (1 new input files)")
            && stderr.contains("user: 5 ids in 1 stored clusters touched"),
        "{stderr}"
    );
    let output = s3
        .knit()
        .args(["-q", "--format", "csv", "-c"])
        .arg(format!(
            "SELECT g.other_id, c.n, c.change FROM '{prefix}/changes/user_features_changes.parquet' c \
             JOIN '{prefix}/store/user_id_graph' g ON g.user_main_id = c.user_main_id \
             WHERE g.other_id_type = 'user_id' ORDER BY g.other_id"
        ))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, "other_id,n,change\nu1,2,changed\nu3,1,entered\n");
}
