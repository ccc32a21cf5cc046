// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `sql_template` models pb keeps (a table, its default, or a view) are outputs of a
//! project run, under the model's name; ephemeral ones are not. The oracle case
//! `sql_model_outputs` holds pb's rows of the view (pb's tables are not exported, so the
//! table's rows are checked against the input here).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::project::scratch;
use crate::{knit, text, workspace_root};

const CASE: &str = "testdata/oracle/cases/sql_model_outputs";
const END: &str = "2100-01-01T00:00:00Z";

/// Runs the case's project with `extra` arguments, writing to `out` if given; the
/// outputs written there, sorted.
fn run(tables: &Path, out: Option<&Path>, extra: &[&str]) -> (bool, String, Vec<String>) {
    let mut command = knit();
    command
        .args(["project", "run", &format!("{CASE}/project")])
        .args(["--tables", &tables.display().to_string()])
        .args(["--end-time", END]);
    if let Some(out) = out {
        command.args(["--out", &out.display().to_string()]);
    }
    let output = command.args(extra).output().unwrap();
    let Some(out) = out else {
        return (output.status.success(), text(&output).1, Vec::new());
    };
    let mut written: Vec<String> = std::fs::read_dir(out)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('_'))
                .collect()
        })
        .unwrap_or_default();
    written.sort();
    (output.status.success(), text(&output).1, written)
}

/// `SELECT` rows through `knit -c`, as CSV lines after the header.
fn query(sql: &str) -> Vec<String> {
    let output = knit()
        .args(["--format", "csv", "-c", sql])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{sql}: {stderr}");
    stdout.lines().skip(1).map(String::from).collect()
}

/// Each anonymous id's visits and latest time in the case's input, as
/// `visits_per_anon` computes them.
fn visits_per_anon() -> BTreeMap<String, (usize, String)> {
    let csv =
        std::fs::read_to_string(workspace_root().join(CASE).join("tables/web/visits.csv")).unwrap();
    let mut expected: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let entry = expected.entry(cells[1].to_string()).or_default();
        entry.0 += 1;
        entry.1 = entry.1.clone().max(cells[3].to_string());
    }
    expected
}

#[test]
fn kept_sql_models_are_outputs() {
    let tables = workspace_root().join(CASE).join("tables");
    let out = scratch("sql-models");
    let (ok, stderr, written) = run(&tables, Some(&out), &["--format", "csv"]);
    assert!(ok, "{stderr}");
    // The view and the table are written; the ephemeral model is not.
    assert!(
        written.contains(&"campaign_visits.csv".to_string()),
        "{written:?}"
    );
    assert!(
        written.contains(&"visits_per_anon.csv".to_string()),
        "{written:?}"
    );
    assert!(
        !written.iter().any(|w| w.starts_with("scratch_sources")),
        "{written:?}"
    );
    crate::project::assert_outputs_match(&format!("{CASE}/expected"), &out);
    let path = out.join("visits_per_anon.csv").display().to_string();
    let rows = query(&format!(
        "SELECT anon_id, visits, CAST(last_ts AS VARCHAR) FROM '{path}' ORDER BY anon_id"
    ));
    let expected: Vec<String> = visits_per_anon()
        .into_iter()
        .map(|(anon, (n, last))| format!("{anon},{n},{}", last.replace(' ', "T")))
        .collect();
    assert_eq!(rows, expected);

    // pb's model selection names a SQL model's output like any other.
    let _ = std::fs::remove_dir_all(&out);
    let (ok, stderr, written) = run(
        &tables,
        Some(&out),
        &["--format", "csv", "--model-refs", "models/visits_per_anon"],
    );
    assert!(ok, "{stderr}");
    assert_eq!(written, vec!["visits_per_anon.csv".to_string()]);
    let _ = std::fs::remove_dir_all(&out);
    let (ok, stderr, written) = run(
        &tables,
        Some(&out),
        &["--format", "csv", "--skip-models", "visits_per_anon"],
    );
    assert!(ok, "{stderr}");
    assert!(!written.contains(&"visits_per_anon.csv".to_string()));
    assert!(written.contains(&"campaign_visits.csv".to_string()));
    let _ = std::fs::remove_dir_all(&out);
}

/// As a Delta table a SQL model's rows have no key to merge on: each run replaces them.
#[test]
fn sql_model_outputs_in_delta_are_replaced_whole() {
    let tables = workspace_root().join(CASE).join("tables");
    let out = scratch("sql-models-delta");
    for _ in 0..2 {
        let (ok, stderr, _) = run(&tables, Some(&out), &["--format", "delta"]);
        assert!(ok, "{stderr}");
    }
    let table = out.join("visits_per_anon").display().to_string();
    assert_eq!(
        query(&format!("SELECT count(*), sum(visits) FROM '{table}'")),
        vec![format!("{},60", visits_per_anon().len())]
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// A profile store's refresh cannot scope a SQL model's rows to the touched clusters:
/// the run is full, says why, and the table has every row.
#[test]
fn a_store_with_sql_model_outputs_refreshes_in_full() {
    let dir = scratch("sql-models-store");
    let visits = dir.join("tables/web/visits");
    std::fs::create_dir_all(&visits).unwrap();
    let csv =
        std::fs::read_to_string(workspace_root().join(CASE).join("tables/web/visits.csv")).unwrap();
    let (header, rows) = csv.split_once('\n').unwrap();
    let lines: Vec<&str> = rows.lines().collect();
    let (day1, day2) = lines.split_at(40);
    // A table's folder holds Parquet files: each day's rows are one.
    let write = |name: &str, rows: &[&str]| {
        let csv = dir.join(format!("{name}.csv"));
        std::fs::write(&csv, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
        let copy = format!(
            "COPY (SELECT * FROM '{}') TO '{}'",
            csv.display(),
            visits.join(format!("{name}.parquet")).display()
        );
        let output = knit().args(["-q", "-c", &copy]).output().unwrap();
        assert!(output.status.success(), "{}", text(&output).1);
    };
    write("day1", day1);
    let store: PathBuf = dir.join("store");
    let store_arg = store.display().to_string();
    let (ok, stderr, _) = run(&dir.join("tables"), None, &["--store", &store_arg]);
    assert!(ok && stderr.contains("run 1: full"), "{stderr}");
    write("day2", day2);
    let (ok, stderr, _) = run(&dir.join("tables"), None, &["--store", &store_arg]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(
            "run 2: full (output campaign_visits holds a SQL model's rows, which belong to no \
             entity's clusters)"
        ),
        "{stderr}"
    );
    let table = store.join("visits_per_anon").display().to_string();
    assert_eq!(
        query(&format!("SELECT sum(visits) FROM '{table}'")),
        vec!["60".to_string()]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An output type pb does not have is refused, naming the key and the types there are.
#[test]
fn an_unknown_output_type_is_refused() {
    let dir = scratch("sql-models-bad-type");
    let project = dir.join("project");
    std::fs::create_dir_all(project.join("models")).unwrap();
    let case = workspace_root().join(CASE).join("project");
    std::fs::copy(
        case.join("pb_project.yaml"),
        project.join("pb_project.yaml"),
    )
    .unwrap();
    std::fs::copy(
        case.join("models/inputs.yaml"),
        project.join("models/inputs.yaml"),
    )
    .unwrap();
    let profiles = std::fs::read_to_string(case.join("models/profiles.yaml"))
        .unwrap()
        .replace("output_type: view", "output_type: incremental");
    std::fs::write(project.join("models/profiles.yaml"), profiles).unwrap();
    let out = dir.join("out");
    let output = knit()
        .args(["project", "run", &project.display().to_string()])
        .args([
            "--tables",
            &workspace_root()
                .join(CASE)
                .join("tables")
                .display()
                .to_string(),
        ])
        .args(["--out", &out.display().to_string()])
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("models[1].model_spec.materialization.output_type")
            && stderr
                .contains("'incremental' is not an output type; write table, view or ephemeral"),
        "{stderr}"
    );
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A model that names a warehouse table absent from the tables folder fails before
/// anything runs, naming the table as the project writes it and every file looked for,
/// not DataFusion's name for it (`datafusion.shop.exclusions`).
#[test]
fn a_table_a_model_names_and_the_folder_lacks_is_an_error_naming_the_places() {
    let case = workspace_root().join("testdata/oracle/cases/id_type_sql_filter");
    let tables = scratch("model_table_missing");
    crate::project::copy_dir(&case.join("tables"), &tables);
    std::fs::remove_file(tables.join("shop/exclusions.csv")).unwrap();
    let out = tables.join("out");
    let output = knit()
        .args(["project", "run"])
        .arg(case.join("project"))
        .arg("--tables")
        .arg(&tables)
        .arg("--out")
        .arg(&out)
        .args(["--end-time", END])
        .output()
        .unwrap();
    let stderr = text(&output).1;
    assert!(!output.status.success());
    assert!(
        stderr.contains("models/profiles.yaml")
            && stderr.contains("table 'shop.exclusions' not found: looked for")
            && stderr.contains(&tables.join("shop/exclusions.csv").display().to_string())
            && stderr.contains(&tables.join("exclusions.parquet").display().to_string())
            && !stderr.contains("datafusion."),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written");
    let _ = std::fs::remove_dir_all(&tables);
}
