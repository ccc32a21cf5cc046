// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit project run --format delta`: each output a Delta table, each run one version
//! of it, merged on the output's keys; the change feed of a cohort between two runs
//! against a hand count; a failing run commits nothing; a Delta table as a pb input.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{knit, text, workspace_root};

const PROJECT: &str = "testdata/oracle/ecommerce/project";

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("knit-delta-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `knit -q --format csv -c SQL ...`; returns stdout.
fn query(sql: &[&str]) -> String {
    let mut command = knit();
    command.args(["-q", "--format", "csv"]);
    for statement in sql {
        command.arg("-c").arg(statement);
    }
    let output = command.output().unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    stdout
}

/// Runs the project into `out`, its changes into `changes` beside it.
fn run_project(tables: &Path, out: &Path) -> (bool, String) {
    let output = knit()
        .args(["project", "run", PROJECT, "--format", "delta", "--end-time"])
        .arg("2100-01-01T00:00:00Z")
        .arg("--tables")
        .arg(tables)
        .arg("--out")
        .arg(out)
        .arg("--changes-out")
        .arg(out.with_file_name("changes"))
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    (output.status.success(), stderr)
}

fn latest_version(table: &Path) -> String {
    query(&[&format!(
        "SELECT max(version) AS v FROM delta_history('{}')",
        table.display()
    )])
}

#[test]
fn project_runs_write_versions_and_a_change_feed() {
    let dir = scratch("runs");
    let tables = dir.join("tables");
    std::fs::create_dir_all(&tables).unwrap();
    std::fs::copy(
        workspace_root().join("testdata/oracle/ecommerce/tables/tracks.csv"),
        tables.join("tracks.csv"),
    )
    .unwrap();
    // The identifies table as a Delta table: pb inputs read Delta folders.
    query(&[&format!(
        "COPY (SELECT * FROM 'testdata/oracle/ecommerce/tables/identifies.csv') TO '{}' \
         STORED AS DELTA",
        tables.join("identifies").display()
    )]);
    let out = dir.join("out");

    let (ok, stderr) = run_project(&tables, &out);
    assert!(ok, "{stderr}");
    let manifest = std::fs::read_to_string(out.join("_knit_run.json")).unwrap();
    assert!(manifest.contains("\"version\": 0"), "{manifest}");
    let cohort = out.join("user_active_users");
    assert!(cohort.join("_delta_log").is_dir());
    assert_eq!(
        query(&[&format!("SELECT count(*) AS n FROM '{}'", cohort.display())]),
        "n\n4\n"
    );
    // The first run's changes: every member entered.
    let changes = dir.join("changes");
    let cohort_changes = changes.join("user_active_users_changes.parquet");
    let change_counts = |file: &Path| {
        query(&[&format!(
            "SELECT change, version, count(*) AS n FROM '{}' GROUP BY 1, 2 ORDER BY 1",
            file.display()
        )])
    };
    assert_eq!(
        change_counts(&cohort_changes),
        "change,version,n\nentered,0,4\n"
    );
    assert!(
        manifest.contains("\"file\": \"user_active_users_changes.parquet\""),
        "{manifest}"
    );

    // Two more active days for the anonymous visitor who had one: their cluster
    // enters the cohort, and no member leaves it.
    let mut tracks = std::fs::OpenOptions::new()
        .append(true)
        .open(tables.join("tracks.csv"))
        .unwrap();
    for (day, id) in [("2023-07-01", "e1"), ("2023-07-02", "e2")] {
        writeln!(
            tracks,
            "SNOWFLAKE,2ANhuvBuITaIXsUC7vgZbAVnGP1,Products Searched,1.0.5,{day}T10:00:00.000Z,\
             {id},products_searched,,2e54611a4dba354j"
        )
        .unwrap();
    }
    drop(tracks);
    let (ok, stderr) = run_project(&tables, &out);
    assert!(ok, "{stderr}");
    assert_eq!(latest_version(&cohort), "v\n1\n");
    assert_eq!(
        query(&[&format!(
            "SELECT user_main_id, _change_type, _commit_version FROM table_changes('{}', 1) \
             WHERE _change_type IN ('insert', 'delete')",
            cohort.display()
        )]),
        "user_main_id,_change_type,_commit_version\n\
         ridd557f9e4e8abacf073bc9e31a13160f8,insert,1\n"
    );
    // The feature view records the member's new count as an update.
    assert_eq!(
        query(&[&format!(
            "SELECT n_active_days_total, _change_type FROM table_changes('{}', 1) \
             WHERE user_main_id = 'ridd557f9e4e8abacf073bc9e31a13160f8' ORDER BY 2",
            out.join("user_feature_view").display()
        )]),
        "n_active_days_total,_change_type\n3,update_postimage\n1,update_preimage\n"
    );
    // The changes files say the same: one member entered the cohort, and the feature
    // view's row for it changed (with its new values); nothing exited.
    assert_eq!(
        query(&[&format!(
            "SELECT user_main_id, change, version FROM '{}'",
            cohort_changes.display()
        )]),
        "user_main_id,change,version\nridd557f9e4e8abacf073bc9e31a13160f8,entered,1\n"
    );
    assert_eq!(
        query(&[&format!(
            "SELECT user_main_id, n_active_days_total, change FROM '{}'",
            changes.join("user_feature_view_changes.parquet").display()
        )]),
        "user_main_id,n_active_days_total,change\n\
         ridd557f9e4e8abacf073bc9e31a13160f8,3,changed\n"
    );
    // The id graph did not change (no new ids): an empty version.
    let graph = out.join("user_id_stitcher");
    assert_eq!(latest_version(&graph), "v\n1\n");
    assert_eq!(
        query(&[&format!(
            "SELECT count(*) AS n FROM table_changes('{}', 1)",
            graph.display()
        )]),
        "n\n0\n"
    );
    assert_eq!(
        query(&[&format!(
            "SELECT count(*) AS n FROM '{}'",
            changes.join("user_id_stitcher_changes.parquet").display()
        )]),
        "n\n0\n"
    );

    // A data file the log names is gone: the error says so, naming the file.
    let data_file = std::fs::read_dir(out.join("user_all"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let kept = dir.join("kept.parquet");
    std::fs::rename(&data_file, &kept).unwrap();
    let output = knit()
        .args(["-q", "-c"])
        .arg(format!(
            "SELECT * FROM '{}'",
            out.join("user_all").display()
        ))
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("the log names a data file that is gone")
            && stderr.contains(&*data_file.file_name().unwrap().to_string_lossy()),
        "{stderr}"
    );
    std::fs::rename(&kept, &data_file).unwrap();

    // A run that fails commits nothing: every table stays at version 1.
    std::fs::write(tables.join("tracks.csv"), "not,a\n\"broken").unwrap();
    let (ok, stderr) = run_project(&tables, &out);
    assert!(!ok, "the broken run succeeded: {stderr}");
    assert_eq!(latest_version(&cohort), "v\n1\n");
    assert_eq!(latest_version(&graph), "v\n1\n");
    // ... and leaves the last run's changes as they were.
    assert_eq!(
        query(&[&format!(
            "SELECT version FROM '{}'",
            cohort_changes.display()
        )]),
        "version\n1\n"
    );
    // Changes come from the Delta change feed: other formats refuse them, before
    // running anything.
    let output = knit()
        .args(["project", "run", PROJECT, "--changes-out"])
        .arg(dir.join("nowhere"))
        .arg("--out")
        .arg(dir.join("parquet-out"))
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--changes-out needs --format delta"),
        "{stderr}"
    );
    assert!(!dir.join("parquet-out").join("_knit_run.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn project_runs_record_merged_main_ids() {
    let dir = scratch("redirects");
    let tables = dir.join("tables");
    std::fs::create_dir_all(&tables).unwrap();
    for table in ["tracks.csv", "identifies.csv"] {
        std::fs::copy(
            workspace_root()
                .join("testdata/oracle/ecommerce/tables")
                .join(table),
            tables.join(table),
        )
        .unwrap();
    }
    let out = dir.join("out");
    let (ok, stderr) = run_project(&tables, &out);
    assert!(ok, "{stderr}");
    let graph = out.join("user_id_stitcher");
    let redirects = out.join("user_id_stitcher_redirects");
    let main_of = |id: &str| {
        let text = query(&[&format!(
            "SELECT user_main_id FROM '{}' WHERE other_id = '{id}'",
            graph.display()
        )]);
        text.lines().nth(1).unwrap().to_string()
    };
    let (user2, user5) = (main_of("user2"), main_of("user5"));
    assert_ne!(user2, user5);
    let count = || {
        query(&[&format!(
            "SELECT count(*) AS n FROM '{}'",
            redirects.display()
        )])
    };
    assert_eq!(count(), "n\n0\n");

    // One browser seen with both users: they are one customer. user5 was seen first, so
    // its main id stays and user2's retires, redirected to it.
    let mut tracks = std::fs::OpenOptions::new()
        .append(true)
        .open(tables.join("tracks.csv"))
        .unwrap();
    for user in ["user2", "user5"] {
        writeln!(
            tracks,
            "SNOWFLAKE,2ANhuvBuITaIXsUC7vgZbAVnGP1,Products Searched,1.0.5,\
             2023-01-01T10:00:00.000Z,link-{user},products_searched,{user},shared-browser"
        )
        .unwrap();
    }
    drop(tracks);
    let (ok, stderr) = run_project(&tables, &out);
    assert!(ok, "{stderr}");
    assert_eq!(main_of("user2"), user5);
    assert_eq!(
        query(&[&format!(
            "SELECT old_main_id, new_main_id, run FROM '{}'",
            redirects.display()
        )]),
        format!("old_main_id,new_main_id,run\n{user2},{user5},1\n")
    );
    // The README's recipe maps any old main id to today's, through chains.
    let recipe = format!(
        "WITH RECURSIVE chain(old_main_id, main_id, hops) AS (\
           SELECT old_main_id, new_main_id, 1 FROM '{0}' \
           UNION ALL \
           SELECT c.old_main_id, r.new_main_id, c.hops + 1 FROM chain c \
           JOIN '{0}' r ON r.old_main_id = c.main_id) \
         SELECT old_main_id, last_value(main_id ORDER BY hops) AS current_main_id \
         FROM chain GROUP BY 1",
        redirects.display()
    );
    assert_eq!(
        query(&[&recipe]),
        format!("old_main_id,current_main_id\n{user2},{user5}\n")
    );
    // The retired main id is no id graph row's main id any more.
    assert_eq!(
        query(&[&format!(
            "SELECT count(*) AS n FROM '{}' WHERE user_main_id = '{user2}'",
            graph.display()
        )]),
        "n\n0\n"
    );
    let manifest = std::fs::read_to_string(out.join("_knit_run.json")).unwrap();
    assert!(
        manifest.contains("\"table\": \"user_id_stitcher_redirects\""),
        "{manifest}"
    );

    // A run that merges nothing adds no redirect.
    let (ok, stderr) = run_project(&tables, &out);
    assert!(ok, "{stderr}");
    assert_eq!(count(), "n\n1\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn project_sql_merges_each_output_on_its_keys() {
    let output = knit()
        .args([
            "project", "sql", PROJECT, "--format", "delta", "--out", "out",
        ])
        .args(["--tables", "testdata/oracle/ecommerce/tables"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    for expected in [
        "TO 'out/user_id_stitcher' STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' 'other_id, other_id_type', 'deletion_vectors' 'true', 'purge' '0.5')",
        "TO 'out/user_id_stitcher_edges' STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' 'id1, id1_type, id2, id2_type', 'deletion_vectors' 'true', 'purge' '0.5')",
        "TO 'out/user_active_users' STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' 'user_main_id', 'deletion_vectors' 'true', 'purge' '0.5')",
        "TO 'out/user_feature_view_with_email' STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' 'email', 'deletion_vectors' 'true', 'purge' '0.5')",
    ] {
        assert!(stdout.contains(expected), "{expected} not in:\n{stdout}");
    }
}

/// Merges started at once: each either commits or fails on the conflict, naming it and
/// committing nothing; the table holds one writer's rows whole, one version per success.
#[test]
fn concurrent_merges_commit_or_fail_cleanly() {
    let dir = scratch("concurrent");
    let table = dir.join("t").display().to_string();
    let merge = |factor: u32| {
        format!(
            "COPY (SELECT value AS id, value * {factor} AS v FROM range(200000)) TO '{table}' \
             STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' 'id')"
        )
    };
    query(&[&merge(1)]);
    let writers: Vec<_> = (2..5)
        .map(|factor| {
            knit()
                .args(["-q", "--format", "csv", "-c", &merge(factor)])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut committed = 0;
    for writer in writers {
        let output = writer.wait_with_output().unwrap();
        let (_, stderr) = text(&output);
        if output.status.success() {
            committed += 1;
        } else {
            assert!(
                stderr.contains("was changed by another writer")
                    && stderr.contains("nothing was committed"),
                "{stderr}"
            );
        }
    }
    assert!(committed >= 1);
    assert_eq!(
        query(&[&format!(
            "SELECT count(*) AS versions FROM delta_history('{table}')"
        )]),
        format!("versions\n{}\n", committed + 1)
    );
    // One writer's rows, whole: every row has the same factor.
    assert_eq!(
        query(&[&format!(
            "SELECT count(*) AS n, count(DISTINCT v / id) AS factors FROM '{table}' WHERE id > 0"
        )]),
        "n,factors\n199999,1\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `scripts/delta-reader ARGS` (the Python `deltalake`); `None` without
/// `KNIT_TEST_DELTA_READER` (set by scripts/test).
fn other_reader(args: &[&str]) -> Option<serde_json::Value> {
    let reader = std::env::var("KNIT_TEST_DELTA_READER").ok()?;
    let output = std::process::Command::new(reader)
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    Some(serde_json::from_str(&stdout).unwrap())
}

/// Knit's rows of `sql` as JSON objects, in the other reader's order.
fn knit_rows(sql: &str) -> serde_json::Value {
    let output = knit()
        .args(["-q", "--format", "json", "-c", sql])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let mut rows: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .flat_map(|line| match serde_json::from_str(line).unwrap() {
            serde_json::Value::Array(rows) => rows,
            row => vec![row],
        })
        .collect();
    rows.sort_by_key(|row| serde_json::to_string(row).unwrap());
    serde_json::Value::Array(rows)
}

#[test]
fn another_delta_reader_agrees() {
    if std::env::var("KNIT_TEST_DELTA_READER").is_err() {
        eprintln!("skipped: no other Delta reader (scripts/test sets KNIT_TEST_DELTA_READER)");
        return;
    }
    let dir = scratch("interop");
    let table = dir.join("people").display().to_string();
    let merge = |rows: &str| {
        format!(
            "COPY (SELECT * FROM (VALUES {rows}) t(id, name)) TO '{table}' STORED AS DELTA \
             OPTIONS ('mode' 'merge', 'keys' 'id')"
        )
    };
    query(&[
        &merge("(1, 'ann'), (2, 'bob'), (3, 'cat')"),
        &merge("(1, 'ann'), (2, 'ben'), (4, 'dan')"),
        &format!(
            "COPY (SELECT 5 AS id, 'eve' AS name) TO '{table}' STORED AS DELTA \
             OPTIONS ('mode' 'append')"
        ),
    ]);
    // Knit's table, read by the other reader: the latest version and the first.
    let latest = other_reader(&["read", &table]).unwrap();
    assert_eq!(latest["version"], 2);
    assert_eq!(
        latest["rows"],
        knit_rows(&format!("SELECT * FROM '{table}'"))
    );
    let first = other_reader(&["read", &table, "0"]).unwrap();
    assert_eq!(
        first["rows"],
        serde_json::json!([
            {"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}, {"id": 3, "name": "cat"}
        ])
    );
    // The change feed, both ways.
    assert_eq!(
        other_reader(&["changes", &table, "1"]).unwrap(),
        knit_rows(&format!(
            "SELECT id, name, _change_type, _commit_version FROM table_changes('{table}', 1)"
        ))
    );
    // A table whose merges mark rows deleted (deletion vectors), read by the other
    // reader, with its change feed.
    let marked = dir.join("marked").display().to_string();
    let merge_marked = |rows: &str| {
        format!(
            "COPY (SELECT * FROM (VALUES {rows}) t(id, name)) TO '{marked}' STORED AS DELTA \
             OPTIONS ('mode' 'merge', 'keys' 'id', 'deletion_vectors' 'true')"
        )
    };
    query(&[
        &merge_marked("(1, 'ann'), (2, 'bob'), (3, 'cat'), (4, 'dan')"),
        &merge_marked("(1, 'ann'), (2, 'ben'), (5, 'eve')"),
        &merge_marked("(2, 'ben'), (5, 'eva')"),
    ]);
    let latest = other_reader(&["read", &marked]).unwrap();
    assert_eq!(latest["version"], 2);
    assert_eq!(
        latest["rows"],
        serde_json::json!([{"id": 2, "name": "ben"}, {"id": 5, "name": "eva"}])
    );
    assert_eq!(
        latest["rows"],
        knit_rows(&format!("SELECT * FROM '{marked}'"))
    );
    assert_eq!(
        other_reader(&["read", &marked, "1"]).unwrap()["rows"],
        serde_json::json!([
            {"id": 1, "name": "ann"}, {"id": 2, "name": "ben"}, {"id": 5, "name": "eve"}
        ])
    );
    assert_eq!(
        other_reader(&["changes", &marked, "1"]).unwrap(),
        knit_rows(&format!(
            "SELECT id, name, _change_type, _commit_version FROM table_changes('{marked}', 1)"
        ))
    );
    // A table the other writer made, read by Knit at each version.
    let theirs = dir.join("theirs").display().to_string();
    other_reader(&["write", &theirs, r#"[{"id": 1, "city": "Oslo"}]"#]);
    other_reader(&["write", &theirs, r#"[{"id": 2, "city": "Rome"}]"#]);
    assert_eq!(
        query(&[
            &format!("SELECT id, city FROM '{theirs}' ORDER BY id"),
            &format!(
                "CREATE EXTERNAL TABLE v0 STORED AS DELTA LOCATION '{theirs}' \
                 OPTIONS ('version' '0')"
            ),
            "SELECT count(*) AS n FROM v0",
            &format!("SELECT version, operation FROM delta_history('{theirs}')"),
        ]),
        "id,city\n1,Oslo\n2,Rome\nn\n1\nversion,operation\n1,WRITE\n0,WRITE\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
