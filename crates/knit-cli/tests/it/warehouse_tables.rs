// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! pb projects over tables exported from a warehouse, whose files name columns in the
//! warehouse's case (`USER_ID`) while the project's SQL names them unquoted.

use std::path::Path;

use crate::project::{assert_csv_equal, copy_dir, scratch};
use crate::{knit, text, workspace_root};

/// Writes `sql`'s rows to `file` as Parquet, with `knit -c "COPY ..."`.
fn write_parquet(sql: &str, file: &Path) {
    let output = knit()
        .args(["-c", &format!("COPY ({sql}) TO '{}'", file.display())])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
}

/// Runs the Snowflake test project `project` over `tables` into `out` as CSV, to pb's
/// end time of its expected outputs.
fn run_shop(project: &Path, tables: &Path, out: &Path) -> std::process::Output {
    knit()
        .args(["project", "run"])
        .arg(project)
        .arg("--tables")
        .arg(tables)
        .arg("--out")
        .arg(out)
        .args(["--format", "csv", "--end-time", "2024-07-01T00:00:00Z"])
        .output()
        .unwrap()
}

/// The identifies table of the Snowflake test project as Parquet (`select` over its
/// CSV), the CSV removed.
fn identifies_as_parquet(tables: &Path, select: &str) {
    let shop = tables.join("RS_DB/SHOP");
    let csv = shop.join("IDENTIFIES.csv");
    write_parquet(
        &format!("{select} FROM '{}'", csv.display()),
        &shop.join("IDENTIFIES.parquet"),
    );
    std::fs::remove_file(&csv).unwrap();
}

/// The Snowflake project's identifies table as Parquet with its columns in upper and
/// mixed case: the project's `user_id`, `email` and `timestamp` find them, and the
/// outputs are pb's, as with the CSV table.
#[test]
fn upper_case_columns_answer_to_unquoted_names() {
    let project = workspace_root().join("testdata/pb_projects/snowflake_shop");
    let tables = scratch("upper-case-columns");
    copy_dir(&project.join("tables"), &tables);
    identifies_as_parquet(
        &tables,
        "SELECT user_id AS \"USER_ID\", anonymous_id AS \"ANONYMOUS_ID\", email AS \"Email\", \
         CAST(\"timestamp\" AS TIMESTAMP WITH TIME ZONE) AS \"TIMESTAMP\"",
    );
    let out = tables.join("out");
    let output = run_shop(&project.join("project"), &tables, &out);
    assert!(output.status.success(), "{}", text(&output).1);
    let expected = workspace_root().join("testdata/oracle/cases/warehouse_project/expected");
    for name in ["user_graph.csv", "user_graph_edges.csv", "user_profile.csv"] {
        assert_csv_equal(&expected.join(name), &out.join(name));
    }
    // Quoted names in capitals are Snowflake's unquoted names: the same outputs.
    let quoted = tables.join("quoted_project");
    copy_dir(&project.join("project"), &quoted);
    let profiles = quoted.join("models/profiles.yaml");
    let yaml = std::fs::read_to_string(&profiles).unwrap();
    let edited = yaml
        .replace("select: max(timestamp)", "select: max(\"TIMESTAMP\")")
        .replace("select: sum(amount)", "select: sum(\"AMOUNT\")");
    assert_ne!(yaml, edited, "the project's vars changed");
    std::fs::write(&profiles, edited).unwrap();
    let quoted_out = tables.join("quoted_out");
    let output = run_shop(&quoted, &tables, &quoted_out);
    assert!(output.status.success(), "{}", text(&output).1);
    assert_csv_equal(
        &expected.join("user_profile.csv"),
        &quoted_out.join("user_profile.csv"),
    );
    std::fs::remove_dir_all(&tables).unwrap();
}

/// Two columns whose names differ only in case cannot both answer to one name: the
/// run fails naming the table and both columns, and writes nothing.
#[test]
fn columns_equal_in_lower_case_are_refused() {
    let project = workspace_root().join("testdata/pb_projects/snowflake_shop");
    let tables = scratch("same-lower-case");
    copy_dir(&project.join("tables"), &tables);
    identifies_as_parquet(
        &tables,
        "SELECT user_id, user_id AS \"USER_ID\", anonymous_id, email, \
         CAST(\"timestamp\" AS TIMESTAMP WITH TIME ZONE) AS \"timestamp\"",
    );
    let out = tables.join("out");
    let output = run_shop(&project.join("project"), &tables, &out);
    let stderr = text(&output).1;
    assert!(!output.status.success());
    assert!(
        stderr.contains("rs_db.shop.identifies")
            && stderr.contains("columns 'user_id' and 'USER_ID' have the same name in lower case"),
        "{stderr}"
    );
    let written = std::fs::read_dir(&out).map_or(0, |files| files.count());
    assert_eq!(written, 0, "a failed run wrote into {}", out.display());
    std::fs::remove_dir_all(&tables).unwrap();
}

/// A refresh of a profile store pins each table to the files it has not read yet; a
/// table whose columns are renamed stays renamed: the second run reads only the new
/// file of upper-case identifies and gives pb's outputs over all rows.
#[test]
fn a_refresh_reads_new_files_of_upper_case_columns() {
    let project = workspace_root().join("testdata/oracle/ecommerce");
    let dir = scratch("upper-case-refresh");
    let tables = dir.join("tables");
    std::fs::create_dir_all(tables.join("identifies")).unwrap();
    std::fs::copy(project.join("tables/tracks.csv"), tables.join("tracks.csv")).unwrap();
    let csv = project.join("tables/identifies.csv");
    let header = std::fs::read_to_string(&csv).unwrap();
    let upper: Vec<String> = header
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(|c| format!("{c} AS \"{}\"", c.to_uppercase()))
        .collect();
    let rows = |part: &str| {
        format!(
            "SELECT {} FROM '{}' ORDER BY \"timestamp\", id {part}",
            upper.join(", "),
            csv.display()
        )
    };
    let store = dir.join("store");
    let run = || {
        let output = knit()
            .args(["project", "run"])
            .arg(project.join("project"))
            .arg("--tables")
            .arg(&tables)
            .arg("--store")
            .arg(&store)
            .args(["--end-time", "2100-01-01T00:00:00Z"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output).1);
        text(&output).1
    };
    write_parquet(&rows("LIMIT 5"), &tables.join("identifies/first.parquet"));
    assert!(run().contains("run 1: full"));
    write_parquet(&rows("OFFSET 5"), &tables.join("identifies/second.parquet"));
    let second = run();
    assert!(
        second.contains("run 2: incremental (1 new input files)"),
        "{second}"
    );
    for name in ["user_feature_view", "user_id_stitcher"] {
        let output = knit()
            .args(["-q", "--format", "csv", "-c"])
            .arg(format!("SELECT * FROM '{}'", store.join(name).display()))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output).1);
        let got = dir.join(format!("{name}.csv"));
        std::fs::write(&got, &output.stdout).unwrap();
        assert_csv_equal(&project.join(format!("expected/{name}.csv")), &got);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Snowflake's and Databricks' `array_agg` leaves NULLs out, and a group of NULLs only
/// gathers an empty array (PostgreSQL's and DataFusion's keep them).
#[test]
fn array_agg_leaves_nulls_out_in_snowflake_and_databricks() {
    let source = workspace_root().join("testdata/pb_projects/snowflake_shop");
    let dir = scratch("array-agg-nulls");
    let project = dir.join("project");
    copy_dir(&source.join("project"), &project);
    let profiles = project.join("models/profiles.yaml");
    let yaml = std::fs::read_to_string(&profiles).unwrap();
    let edited = yaml.replace(
        "      features:\n        - amounts\n",
        "      features:\n        - amounts\n        - emails_seen\n        - no_emails\n",
    ) + "      - entity_var:\n          name: emails_seen\n          select: array_agg(lower(email)) within group (order by timestamp)\n          from: inputs/rsIdentifies\n      - entity_var:\n          name: no_emails\n          select: array_agg(case when email = 'none' then email end)\n          from: inputs/rsIdentifies\n";
    assert_ne!(yaml, edited, "the project's vars changed");
    std::fs::write(&profiles, edited).unwrap();
    let out = dir.join("out");
    let output = run_shop(&project, &source.join("tables"), &out);
    assert!(output.status.success(), "{}", text(&output).1);
    let file = out.join("user_extras.csv").display().to_string();
    let output = knit()
        .args(["--format", "csv", "-c"])
        .arg(format!(
            "SELECT emails_seen, no_emails FROM '{file}' ORDER BY emails_seen"
        ))
        .output()
        .unwrap();
    let (rows, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    // a1's first identify has no email, and u1's cluster is {u1, a1}: one email.
    assert!(rows.contains("\"[\"\"ann@example.com\"\"]\",[]"), "{rows}");
    assert!(!rows.contains("null"), "{rows}");
    // Databricks' too; BigQuery's stays as written (BigQuery fails on a NULL in an array).
    let sql = |dialect: &str| {
        let output = knit()
            .args(["project", "sql"])
            .arg(&project)
            .arg("--tables")
            .arg(source.join("tables"))
            .args(["--end-time", "2024-07-01T00:00:00Z", "--dialect", dialect])
            .output()
            .unwrap();
        text(&output).0
    };
    let ignoring = "coalesce(array_agg(lower(email)) within group (order by timestamp) \
                    IGNORE NULLS, make_array())";
    assert!(sql("databricks").contains(ignoring));
    assert!(!sql("bigquery").contains("IGNORE NULLS"));
    let _ = std::fs::remove_dir_all(&dir);
}
