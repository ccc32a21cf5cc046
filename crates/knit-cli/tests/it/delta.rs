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

fn run_project(tables: &Path, out: &Path) -> (bool, String) {
    let output = knit()
        .args(["project", "run", PROJECT, "--format", "delta", "--end-time"])
        .arg("2100-01-01T00:00:00Z")
        .arg("--tables")
        .arg(tables)
        .arg("--out")
        .arg(out)
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
        "TO 'out/user_id_stitcher' STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' 'other_id, other_id_type')",
        "TO 'out/user_id_stitcher_edges' STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' 'id1, id1_type, id2, id2_type')",
        "TO 'out/user_active_users' STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' 'user_main_id')",
        "TO 'out/user_feature_view_with_email' STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' 'email')",
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
