// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit project run` and `knit project sql | knit -f` on pb projects, compared with the
//! outputs pb itself produced (`testdata/oracle/`), and on broken projects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{knit, text, workspace_root};

/// Each project with pb's expected outputs: (folder, tables folder, pb's --end_time).
pub(crate) const PROJECTS: &[(&str, &str, &str)] = &[
    (
        "testdata/oracle/ecommerce",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/sample_project",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/features",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/entity_windows",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/filters",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/input_var_windows",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/float_text",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/valid_at_random",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/bundled_sample",
        "../../../ecommerce",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/project_coverage",
        "tables",
        "2024-06-30T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/warehouse_project",
        "tables",
        "2024-07-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/cohort_vars",
        "../warehouse_project/tables",
        "2024-07-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/input_vars_main_id",
        "../warehouse_project/tables",
        "2024-07-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/id_type_sql_filter",
        "tables",
        "2024-07-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/read_file",
        "../warehouse_project/tables",
        "2024-07-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/feature_view_names",
        "../warehouse_project/tables",
        "2024-07-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/deref_rows",
        "../warehouse_project/tables",
        "2024-02-15T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/incremental_templates",
        "../warehouse_project/tables",
        "2024-07-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/var_tables",
        "tables",
        "2024-07-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/corpus_forms",
        "tables",
        "2024-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/cohort_scoped_vars",
        "tables",
        "2024-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/main_id_models",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/sql_model_outputs",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    // Its input is a `csv:` file of the project: no warehouse tables.
    (
        "testdata/oracle/cases/multi_sql_models",
        "project",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/grains_and_cohorts",
        "project",
        "2024-07-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/where_without_from",
        "project",
        "2100-01-01T00:00:00Z",
    ),
    // Var groups of grains whose boundaries are before the end time: computed in
    // passes of their own, as pb does.
    (
        "testdata/oracle/cases/time_grains",
        "tables",
        "2024-07-03T12:00:00Z",
    ),
    // Cohorts and a feature table of grains: written as of their boundaries.
    (
        "testdata/oracle/cases/time_grains_models",
        "../time_grains/tables",
        "2024-07-03T12:00:00Z",
    ),
    // A default_time_grain: the run is as of its boundary.
    (
        "testdata/oracle/cases/time_grains_default",
        "../time_grains/tables",
        "2024-07-03T12:00:00Z",
    ),
    // The same project on random tables (108 users at the end time, 300 events).
    (
        "testdata/oracle/cases/time_grains_random",
        "tables",
        "2024-07-03T12:00:00Z",
    ),
    // Input vars of a grain, read by entity vars of that grain: computed in its pass.
    (
        "testdata/oracle/cases/time_grains_input_vars",
        "../time_grains/tables",
        "2024-07-03T12:00:00Z",
    ),
    // And an id stitcher with a grain: the run stitches as of its boundary.
    (
        "testdata/oracle/cases/time_grains_stitcher",
        "../time_grains/tables",
        "2024-07-03T12:00:00Z",
    ),
    (
        "testdata/oracle/cases/model_entity",
        "project",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/serve_traits",
        "project",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/old_schema_names",
        "tables",
        "2025-07-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/avg_rounding",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/feature_view_models",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/distinct_lists",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/two_entity_features",
        "tables",
        "2024-04-05T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/models_read_entity",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/input_var_attributes",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    (
        "testdata/oracle/cases/default_stitcher_flags",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
    // CSV tables whose quoted empty fields are empty text, as PostgreSQL loads them.
    (
        "testdata/oracle/cases/csv_quoted_empty",
        "tables",
        "2100-01-01T00:00:00Z",
    ),
];

pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("knit-project-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub(crate) fn project_args(
    command: &str,
    project: &str,
    tables: &str,
    end: &str,
    out: &Path,
) -> Vec<String> {
    let dir = Path::new(project);
    vec![
        "project".into(),
        command.into(),
        dir.join("project").display().to_string(),
        "--tables".into(),
        dir.join(tables).display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--format".into(),
        "csv".into(),
        "--end-time".into(),
        end.into(),
    ]
}

#[test]
fn project_run_matches_pb() {
    for (project, tables, end) in PROJECTS {
        let out = scratch(&project.replace('/', "_"));
        let output = knit()
            .args(project_args("run", project, tables, end, &out))
            .output()
            .unwrap();
        let (_, stderr) = text(&output);
        assert!(output.status.success(), "{project}: {stderr}");
        assert!(stderr.contains("outputs in"), "{project}: {stderr}");
        assert_outputs_match(&format!("{project}/expected"), &out);
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// The same projects with each CSV table given as a folder of three Parquet files (the
/// rows as Knit reads the CSV, split by row number): pb's outputs still. An input read
/// from several files delivers its rows in another order on every run, which the
/// stitch's cluster numbering follows, so every operator reading one stitch must read
/// the same build of it.
#[test]
fn project_run_over_tables_split_into_files_matches_pb() {
    for (project, tables, end) in PROJECTS {
        let dir = Path::new(project);
        let out = scratch(&format!("split-{}", project.replace('/', "_")));
        let split = out.join("tables");
        // The project's own statements register its tables as it reads them.
        let output = knit()
            .args(project_args(
                "sql",
                project,
                tables,
                end,
                &out.join("unused"),
            ))
            .output()
            .unwrap();
        let (script, stderr) = text(&output);
        assert!(output.status.success(), "{project}: {stderr}");
        let mut command = knit();
        command.arg("-q");
        let mut copies = Vec::new();
        for statement in script.split(";\n") {
            let statement = statement
                .lines()
                .filter(|line| !line.starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            let statement = statement.trim();
            if ![
                "CREATE SCHEMA",
                "CREATE DATABASE",
                "CREATE EXTERNAL TABLE",
                "CREATE OR REPLACE VIEW",
            ]
            .iter()
            .any(|start| statement.starts_with(start))
            {
                continue;
            }
            command.arg("-c").arg(statement);
            // A CSV table's rows (through its view when it has one) become three files
            // in a folder at the CSV's place.
            let Some(name) = csv_table(statement) else {
                continue;
            };
            // At the table's name (a CSV with a quoted empty field is read from a copy
            // elsewhere), which Knit looks at first.
            let relative: PathBuf = name
                .replace("__knit_csv_", "")
                .split('.')
                .map(|part| part.trim_matches('"'))
                .collect();
            for part in 0..3 {
                copies.push(format!(
                    "COPY (SELECT * EXCLUDE (__n) FROM (SELECT *, row_number() OVER () AS __n \
                     FROM {}) WHERE __n % 3 = {part}) TO '{}' STORED AS PARQUET",
                    name.replace("__knit_csv_", ""),
                    split
                        .join(&relative)
                        .join(format!("part-{part}.parquet"))
                        .display()
                ));
            }
        }
        if copies.is_empty() {
            continue;
        }
        // After every registration: a view reads the table registered before it.
        for copy in &copies {
            command.arg("-c").arg(copy);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{project}: {}", text(&output).1);
        let written = out.join("out");
        let output = knit()
            .args(["project", "run"])
            .arg(dir.join("project"))
            .arg("--tables")
            .arg(&split)
            .arg("--out")
            .arg(&written)
            .args(["--format", "csv", "--end-time", end])
            .output()
            .unwrap();
        assert!(output.status.success(), "{project}: {}", text(&output).1);
        assert_outputs_match(&format!("{project}/expected"), &written);
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// The table a `CREATE EXTERNAL TABLE` over a CSV file registers.
fn csv_table(statement: &str) -> Option<String> {
    let rest = statement.strip_prefix("CREATE EXTERNAL TABLE IF NOT EXISTS ")?;
    let name = rest.split([' ', '(']).next()?.to_string();
    let location = rest
        .split(" LOCATION '")
        .nth(1)?
        .split('\'')
        .next()?
        .to_string();
    location.ends_with(".csv").then_some(name)
}

/// The oracle case `warehouse_project` written as a Snowflake project (old schema,
/// `db.schema.table` names in upper case, keys that change no output, Snowflake SQL)
/// gives pb's id graph and feature table; its Snowflake-only vars give Snowflake's
/// answers (text compared with a boolean read as one), arrays and objects as JSON text
/// in CSV, and lists counted from 0 (`array_agg(..)[0]`); an incremental `sql_template`
/// takes its full branch and a var's `merge` is read past, as in pb's first run;
/// `rlike`/`regexp_like` match the whole text (Snowflake's), and `months_between`,
/// `add_months` count as Snowflake does.
#[test]
fn a_snowflake_project_runs_unchanged() {
    let project = workspace_root().join("testdata/pb_projects/snowflake_shop");
    let out = scratch("snowflake");
    let output = knit()
        .args([
            "project",
            "run",
            &project.join("project").display().to_string(),
        ])
        .args(["--tables", &project.join("tables").display().to_string()])
        .args(["--out", &out.display().to_string(), "--format", "csv"])
        .args(["--end-time", "2024-07-01T00:00:00Z"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
    let expected = workspace_root().join("testdata/oracle/cases/warehouse_project/expected");
    for name in ["user_graph.csv", "user_graph_edges.csv", "user_profile.csv"] {
        assert_csv_equal(&expected.join(name), &out.join(name));
    }
    // user_extras, keyed by each user's first email (carl has no order).
    let profile = read_csv(&out.join("user_profile.csv"));
    let email_of = |main_id: &str| {
        profile
            .iter()
            .find(|row| row["user_main_id"] == main_id)
            .map(|row| row["first_email"].clone())
            .unwrap()
    };
    let extras: BTreeMap<String, Vec<String>> = read_csv(&out.join("user_extras.csv"))
        .into_iter()
        .map(|row| {
            let columns = [
                "amounts",
                "emails",
                "summary",
                "days_active",
                "big_spender",
                "gift_orders",
                "latest_amount",
                "first_amount",
                "bob_matches",
                "months_ordering",
            ];
            (
                email_of(&row["user_main_id"]),
                columns.iter().map(|c| row[*c].clone()).collect(),
            )
        })
        .collect();
    let expected_extras: BTreeMap<String, Vec<&str>> = [
        (
            "ann@example.com",
            vec![
                "[50,150]",
                "ann@example.com",
                r#"{"orders":2,"spend":200}"#,
                "58.000000000",
                "true",
                "1.000000000",
                "150.000000000",
                "50.000000000",
                "0.000000000",
                "1.935484000",
            ],
        ),
        (
            "bob@example.com",
            vec![
                "[200,-20]",
                "bob2@example.com|bob@example.com",
                r#"{"orders":2,"spend":180}"#,
                "8.000000000",
                "true",
                "1.000000000",
                "-20.000000000",
                "200.000000000",
                "2.000000000",
                "0.258065000",
            ],
        ),
        (
            "carl@example.com",
            vec![
                "",
                "carl@example.com",
                "",
                "",
                "false",
                "0.000000000",
                "",
                "",
                "0.000000000",
                "",
            ],
        ),
        (
            "dee@example.com",
            vec![
                "[999]",
                "dee@example.com",
                r#"{"orders":1,"spend":999}"#,
                "",
                "true",
                "0.000000000",
                "999.000000000",
                "999.000000000",
                "0.000000000",
                "",
            ],
        ),
        (
            "",
            vec![
                "[10]",
                "",
                r#"{"orders":1,"spend":10}"#,
                "0.000000000",
                "false",
                "1.000000000",
                "10.000000000",
                "10.000000000",
                "",
                "0.000000000",
            ],
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(extras.len(), expected_extras.len(), "{extras:?}");
    // serve_traits (the older feature_views): the features by email.
    let by_email: Vec<String> = read_csv(&out.join("profile_by_email.csv"))
        .into_iter()
        .map(|row| row["email"].clone())
        .collect();
    assert!(
        by_email.contains(&"bob2@example.com".to_string()),
        "{by_email:?}"
    );
    for (email, values) in &expected_extras {
        assert_eq!(&extras[email], values, "user_extras of '{email}'");
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// `--dialect` picks the branches of `warehouse.DatabaseType()`; `include_untimed: false`
/// drops rows without a time; a model's `time_grain` whose boundary is not the end time
/// puts the model in a pass as of the boundary.
#[test]
fn dialects_untimed_rows_and_time_grains() {
    let project = workspace_root().join("testdata/pb_projects/snowflake_shop");
    let sql = |dir: &Path, extra: &[&str]| {
        let output = knit()
            .args(["project", "sql", &dir.display().to_string()])
            .args(["--tables", &project.join("tables").display().to_string()])
            .args(extra)
            .output()
            .unwrap();
        (output.status.success(), text(&output).0, text(&output).1)
    };
    let (ok, snowflake, _) = sql(
        &project.join("project"),
        &["--end-time", "2024-07-01T00:00:00Z"],
    );
    assert!(
        ok && snowflake.contains("datediff(day, \"user\".last_order_at, '2024-07-01 00:00:00')"),
        "{snowflake}"
    );
    let (ok, bigquery, _) = sql(
        &project.join("project"),
        &[
            "--end-time",
            "2024-07-01T00:00:00Z",
            "--dialect",
            "bigquery",
        ],
    );
    assert!(
        ok && bigquery.contains("date_diff(date('2024-07-01'), date(\"user\".last_order_at), day)"),
        "{bigquery}"
    );
    assert!(
        snowflake.contains("OR \"timestamp\" IS NULL"),
        "{snowflake}"
    );

    let copy = scratch("untimed");
    copy_dir(&project.join("project"), &copy);
    let yaml = std::fs::read_to_string(copy.join("pb_project.yaml")).unwrap();
    std::fs::write(
        copy.join("pb_project.yaml"),
        format!("{yaml}include_untimed: false\n"),
    )
    .unwrap();
    let (ok, untimed, stderr) = sql(&copy, &["--end-time", "2024-07-01T00:00:00Z"]);
    assert!(ok, "{stderr}");
    assert!(!untimed.contains("IS NULL)"), "{untimed}");

    // Off its boundary, the feature table of grain day is written by a pass as of it.
    let (ok, script, stderr) = sql(
        &project.join("project"),
        &["--end-time", "2024-07-01T12:00:00Z"],
    );
    assert!(ok, "{stderr}");
    let run = script.find("-- Part 2 of 2: the run").unwrap();
    let extras = script.find("knit-output/user_extras.parquet").unwrap();
    assert!(extras < run, "{script}");
    assert!(
        script[..run].contains("arrow_cast('2024-07-01T00:00:00Z', 'Timestamp(Microsecond, Some(\"UTC\"))') AS valid_at"),
        "{script}"
    );
    let _ = std::fs::remove_dir_all(&copy);
}

/// A `sql_template` model reads another entity's feature table, id graph and cohort
/// through `this.DeRef`, and an entity var reads rows of its entity's id graph (`from:
/// models/<id stitcher>`): each runs after what it reads.
#[test]
fn models_read_feature_tables_and_id_graphs() {
    let project = "name: p
schema_version: 99
connection: local
model_folders: [models]
entities:
  - name: user
    id_stitcher: models/user_graph
    id_types: [user_id, email]
  - name: shop
    id_stitcher: models/shop_graph
    id_types: [shop_id]
id_types:
  - name: user_id
  - name: email
  - name: shop_id
";
    let models = r#"inputs:
  - name: events
    app_defaults:
      table: shop.events
      occurred_at_col: timestamp
      ids:
        - select: user_id
          type: user_id
          entity: user
        - select: email
          type: email
          entity: user
        - select: shop_id
          type: shop_id
          entity: shop
models:
  - name: user_graph
    model_type: id_stitcher
    model_spec:
      entity_key: user
      edge_sources:
        - from: inputs/events
  - name: shop_graph
    model_type: id_stitcher
    model_spec:
      entity_key: shop
      edge_sources:
        - from: inputs/events
  - name: shop_features
    model_type: feature_table_model
    model_spec:
      entity_key: shop
      features: [revenue]
  - name: revenue_by_shop
    model_type: sql_template
    model_spec:
      single_sql: |
        {% with F = this.DeRef("models/shop_features") G = this.DeRef("models/shop_graph") %}
        select g.other_id as shop_id, f.revenue from {{F}} f
        join {{G}} g on f.shop_main_id = g.shop_main_id and g.other_id_type = 'shop_id'
        {% endwith %}
  - name: user_shop_revenue
    model_type: sql_template
    model_spec:
      single_sql: |
        {% with E = this.DeRef("inputs/events") R = this.DeRef("models/revenue_by_shop") %}
        select e.user_id, r.revenue from {{E}} e join {{R}} r on e.shop_id = r.shop_id
        {% endwith %}
      ids:
        - select: user_id
          type: user_id
          entity: user
  - name: big_shops
    model_type: entity_cohort
    model_spec:
      extends: shop/all
      filter_pipeline:
        - type: include
          value: "{{shop.Var('revenue')}} > 10"
  - name: events_in_big_shops
    model_type: sql_template
    model_spec:
      single_sql: |
        {% with E = this.DeRef("inputs/events") C = this.DeRef("models/big_shops") G = this.DeRef("models/shop_graph") %}
        select e.user_id from {{E}} e
        join {{G}} g on e.shop_id = g.other_id and g.other_id_type = 'shop_id'
        join {{C}} c on c.shop_main_id = g.shop_main_id
        {% endwith %}
      ids:
        - select: user_id
          type: user_id
          entity: user
  - name: users
    model_type: feature_table_model
    model_spec:
      entity_key: user
      features: [best_shop_revenue, emails_known, big_shop_events]
var_groups:
  - name: shop_vars
    entity_key: shop
    vars:
      - entity_var:
          name: revenue
          select: sum(amount)
          from: inputs/events
  - name: user_vars
    entity_key: user
    vars:
      - entity_var:
          name: best_shop_revenue
          select: max(revenue)
          from: models/user_shop_revenue
      - entity_var:
          name: emails_known
          select: count(distinct other_id)
          from: models/user_graph
          where: other_id_type = 'email'
      - entity_var:
          name: big_shop_events
          select: count(*)
          from: models/events_in_big_shops
"#;
    let dir = broken_project("deref-models", project, models);
    std::fs::write(
        dir.join("tables/shop/events.csv"),
        "user_id,email,shop_id,amount,timestamp\n\
         u1,a@x.com,s1,10,2024-01-01T00:00:00Z\n\
         u1,a2@x.com,s2,5,2024-01-02T00:00:00Z\n\
         u2,,s1,7,2024-01-03T00:00:00Z\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tables/shop/events.types.yaml"),
        "amount: integer\n",
    )
    .unwrap();
    let (output, out) = run_in_place(&dir, &["--end-time", "2024-07-01T00:00:00Z"]);
    assert!(output.status.success(), "{}", text(&output).1);
    // A view reads another entity's cohort: both users bought in s1 (revenue 17 > 10).
    let big: Vec<String> = read_csv(&out.join("users.csv"))
        .into_iter()
        .map(|row| row["big_shop_events"].clone())
        .collect();
    assert_eq!(big, vec![format!("{:.9}", 1.0); 2]);
    let mut users: Vec<(String, String)> = read_csv(&out.join("users.csv"))
        .into_iter()
        .map(|row| {
            (
                row["best_shop_revenue"].clone(),
                row["emails_known"].clone(),
            )
        })
        .collect();
    users.sort();
    // u2 has no email: pb leaves a count whose `where` keeps no row NULL.
    let number = |n: f64| format!("{n:.9}");
    assert_eq!(
        users,
        vec![(number(17.0), String::new()), (number(17.0), number(2.0))]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A model Knit cannot run is refused by name; `--skip-models` leaves it out (and
/// leaves out the outputs of models it can run) so that the rest runs.
#[test]
fn skip_models_runs_the_rest() {
    let models = format!(
        "{GOOD_INPUTS}models:\n  - name: churn\n    model_type: python_model\n    model_spec:\n      \
         occurred_at_col: timestamp\n  - name: tbl\n    model_type: feature_table_model\n    \
         model_spec:\n      entity_key: user\n      features: [total]\nvar_groups:\n  - name: v\n    \
         entity_key: user\n    vars:\n      - entity_var:\n          name: total\n          \
         select: count(*)\n          from: inputs/events\n"
    );
    let dir = broken_project("skip-models", GOOD_PROJECT, &models);
    let run = |extra: &[&str]| {
        let out = dir.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let output = knit()
            .args(["project", "run", &dir.display().to_string()])
            .args(["--tables", &dir.join("tables").display().to_string()])
            .args(["--out", &out.display().to_string(), "--format", "csv"])
            .args(extra)
            .output()
            .unwrap();
        let mut written: Vec<String> = std::fs::read_dir(&out)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".csv"))
                    .collect()
            })
            .unwrap_or_default();
        written.sort();
        (output.status.success(), text(&output).1, written)
    };
    let (ok, stderr, written) = run(&[]);
    assert!(!ok && written.is_empty());
    assert!(
        stderr.contains(
            "models[0].model_type: model 'churn' is of type 'python_model', which Knit cannot run"
        ) && stderr.contains("--skip-models churn"),
        "{stderr}"
    );
    let (ok, stderr, written) = run(&["--skip-models", "churn"]);
    assert!(ok, "{stderr}");
    assert!(written.contains(&"tbl.csv".to_string()), "{written:?}");
    let (ok, stderr, written) = run(&["--skip-models", "churn,TBL"]);
    assert!(ok, "{stderr}");
    assert!(!written.contains(&"tbl.csv".to_string()), "{written:?}");
    assert!(
        written.contains(&"user_feature_view.csv".to_string()),
        "{written:?}"
    );
    // pb's model selection: only the named model's output; the Python model is left out.
    let (ok, stderr, written) = run(&["--model-refs", "models/tbl"]);
    assert!(ok, "{stderr}");
    assert_eq!(written, vec!["tbl.csv".to_string()]);
    let (ok, stderr, _) = run(&["--model-refs", "models/nope"]);
    assert!(!ok && stderr.contains("no model named 'nope'"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Packages: one from a git URL read from `--packages`, one from a folder; the
/// package's input mapped to the project's (`inputsMap`), its vars and feature table
/// run, and the project's id type extends the package's of the same name.
#[test]
fn packages_merge_into_the_project() {
    let project = workspace_root().join("testdata/pb_projects/with_packages");
    let run = |packages: Option<&Path>| {
        let out = scratch("packages");
        let mut command = knit();
        command
            .args([
                "project",
                "run",
                &project.join("project").display().to_string(),
            ])
            .args(["--tables", &project.join("tables").display().to_string()])
            .args(["--out", &out.display().to_string(), "--format", "csv"]);
        if let Some(packages) = packages {
            command.args(["--packages", &packages.display().to_string()]);
        }
        let output = command.output().unwrap();
        (output.status.success(), text(&output).1, out)
    };
    let (ok, stderr, out) = run(Some(&project.join("checkouts")));
    assert!(ok, "{stderr}");
    let mut counts: Vec<String> = read_csv(&out.join("lib_users.csv"))
        .into_iter()
        .map(|row| row["identify_count"].clone())
        .collect();
    counts.sort();
    assert_eq!(counts, ["1.000000000", "1.000000000", "2.000000000"]);
    // rsTracks (mapped to nil) and last_seen (turned off) are left out, with the vars
    // and the SQL model that read them; the union of rsIdentifies and rsTracks reads
    // rsIdentifies alone.
    let header = std::fs::read_to_string(out.join("lib_users.csv")).unwrap();
    assert!(
        header.starts_with("user_main_id,valid_at,identify_count,event_count,twice\n"),
        "{header}"
    );
    for row in read_csv(&out.join("lib_users.csv")) {
        assert_eq!(row["event_count"], row["identify_count"], "{row:?}");
        let count: f64 = row["identify_count"].parse().unwrap();
        let twice: f64 = row["twice"].parse().unwrap();
        assert_eq!(twice, 2.0 * count, "{row:?}");
    }
    let ids: Vec<String> = read_csv(&out.join("user_default_id_stitcher.csv"))
        .into_iter()
        .map(|row| row["other_id"].clone())
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    // The package's regex drops `notanemail`; the project's filter drops the test address.
    assert!(
        !ids.iter()
            .any(|id| id == "notanemail" || id == "test@example.com"),
        "{ids:?}"
    );
    let _ = std::fs::remove_dir_all(&out);

    let (ok, stderr, _) = run(None);
    assert!(!ok);
    assert!(
        stderr.contains("pb_project.yaml: packages[0].url: package 'lib': 'https://github.com/example/profiles-lib/tag/schema_{{best_schema_version}}' is a git repository, which Knit does not fetch")
            && stderr.contains("--packages"),
        "{stderr}"
    );
    let (ok, stderr, _) = run(Some(&project.join("tables")));
    assert!(!ok);
    assert!(
        stderr.contains("is not checked out: no pb_project.yaml in"),
        "{stderr}"
    );
    assert!(stderr.contains("profiles-lib"), "{stderr}");
}

/// Older schemas' forms: an input without `app_defaults` and one with only its table
/// under it (pb's migration moves the other keys there), an id stitcher's `main_id_type`
/// and `edge_sources` as bare names, a feature table with its own
/// macros and vars, vars naming the vars they read by bare name in `dependencies`,
/// `entityvar`/`inputvar` and `{{timestamp}}` (the end time), as pb's migration renames
/// them; and a `common_column_union_new` model of two inputs, read by a var.
#[test]
fn an_old_schema_project_runs() {
    let models = "inputs:
  - name: events
    table: shop.events
    occurred_at_col: timestamp
    ids:
      - select: user_id
        type: user_id
        entity: user
  - name: events_again
    app_defaults:
      table: shop.events
    occurred_at_col: timestamp
    ids:
      - select: user_id
        type: user_id
        entity: user
var_groups:
  - name: v
    cohort: user/all
    vars:
      - entity_var:
          name: union_rows
          select: count(*)
          from: models/all_events
      - entity_var:
          name: big_rows
          select: count(*)
          from: inputs/events
          where: amount > 5
          default: 0
models:
  - name: graph
    model_type: id_stitcher
    model_spec:
      entity_key: user
      main_id_type: main_id
      edge_sources:
        - inputs/events
        - inputs/events_again
  - name: all_events
    model_type: common_column_union_new
    model_spec:
      inputs:
        - inputs/events
        - inputs/events_again
  - name: feats
    model_type: feature_table_model
    model_spec:
      cohort: user/all
      macros:
        - name: plus_one
          inputs: [x]
          value: \"{{x}} + 1\"
      vars:
        - entity_var:
            name: b
            select: \"{{plus_one('a')}} * 10\"
            dependencies: [a]
        - entityvar:
            name: a
            select: count(*)
            from: inputs/events
        - entity_var:
            name: c
            select: max(t)
            from: inputs/events
            dependencies: [t]
        - entityvar:
            name: d
            select: datediff(day, max(timestamp), to_timestamp_tz(replace('{{timestamp}}', ' UTC')))
            from: inputs/events
        - inputvar:
            name: t
            select: row_number()
            from: inputs/events
            window:
              partition_by: [user_id]
              order_by: [timestamp]
";
    let project = GOOD_PROJECT.replace("99", "40").replace(
        "    id_types: [user_id]\n",
        "    id_stitcher: models/graph\n    id_types: [user_id]\n",
    );
    let dir = broken_project("old-schema", &project, models);
    std::fs::write(
        dir.join("tables/shop/events.csv"),
        "user_id,amount,timestamp\nu1,1,2024-01-01T00:00:00Z\nu1,1,2024-01-02T00:00:00Z\nu2,1,2024-01-01T00:00:00Z\n",
    )
    .unwrap();
    let (output, out) = run_in_place(&dir, &["--end-time", "2024-01-11T00:00:00Z"]);
    assert!(output.status.success(), "{}", text(&output).1);
    // The stitcher's `main_id_type` names the main id column, as pb's migration makes
    // it the entity's `id_column_name`.
    let graph = std::fs::read_to_string(out.join("graph.csv")).unwrap();
    assert!(graph.starts_with("main_id,other_id,"), "{graph}");
    let mut rows: Vec<Vec<String>> = read_csv(&out.join("feats.csv"))
        .into_iter()
        .map(|row| {
            ["a", "b", "c", "d"]
                .map(|column| row[column].clone())
                .to_vec()
        })
        .collect();
    rows.sort();
    let n = |v: f64| format!("{v:.9}");
    // `d`: days from the last event to the end time that `{{timestamp}}` writes as Go
    // writes a time (`2024-01-11 00:00:00 +0000 UTC`).
    assert_eq!(
        rows,
        vec![
            vec![n(1.0), n(11.0), n(1.0), n(10.0)],
            vec![n(2.0), n(12.0), n(2.0), n(9.0)]
        ]
    );
    let mut unions: Vec<String> = read_csv(&out.join("user_feature_view.csv"))
        .into_iter()
        .map(|row| row["union_rows"].clone())
        .collect();
    unions.sort();
    assert_eq!(unions, vec![n(2.0), n(4.0)]);
    // `default`, older schemas' name of default_value, fills the users without rows.
    let big: Vec<String> = read_csv(&out.join("user_feature_view.csv"))
        .into_iter()
        .map(|row| row["big_rows"].clone())
        .collect();
    assert_eq!(big, vec![n(0.0), n(0.0)]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `feature_views.name` names the view keyed by the main id (pb: `customer_features`
/// instead of `user_feature_view`, same rows); an id stitcher's logging keys change
/// nothing.
#[test]
fn feature_views_name_renames_the_main_view() {
    let project = GOOD_PROJECT.replace(
        "    id_types: [user_id]\n",
        "    id_stitcher: models/graph\n    id_types: [user_id]\n    feature_views:\n      name: customer_features\n",
    ) + "carry_forward_privileges: true\n";
    let models = format!(
        "{GOOD_INPUTS}models:
  - name: graph
    model_type: id_stitcher
    model_spec:
      entity_key: user
      log_direct_edge_info: true
      log_node_metadata: true
      incremental_timedelta: 12h
      edge_sources:
        - from: inputs/events
var_groups:
  - name: v
    entity_key: user
    vars:
      - entity_var:
          name: total
          select: count(*)
          from: inputs/events
"
    );
    let dir = broken_project("feature-views-name", &project, &models);
    let (output, out) = run_in_place(&dir, &[]);
    assert!(output.status.success(), "{}", text(&output).1);
    assert!(!out.join("user_feature_view.csv").exists());
    let rows = read_csv(&out.join("customer_features.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["total"], format!("{:.9}", 1.0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `knit project run DIR --tables DIR/tables --out DIR/out --format csv EXTRA...`: its
/// output and the out folder.
fn run_in_place(dir: &Path, extra: &[&str]) -> (std::process::Output, PathBuf) {
    let out = dir.join("out");
    let output = knit()
        .args(["project", "run", &dir.display().to_string()])
        .args(["--tables", &dir.join("tables").display().to_string()])
        .args(["--out", &out.display().to_string(), "--format", "csv"])
        .args(extra)
        .output()
        .unwrap();
    (output, out)
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// Files that start with a byte-order mark, as editors on Windows write them, read as
/// the same YAML and CSV.
#[test]
fn files_with_a_byte_order_mark_read_as_without() {
    let vars = format!(
        "\u{feff}{GOOD_INPUTS}var_groups:\n  - name: v\n    entity_key: user\n    vars:\n      \
         - entity_var:\n          name: total\n          select: sum(amount)\n          \
         from: inputs/events\n"
    );
    let dir = broken_project("bom", &format!("\u{feff}{GOOD_PROJECT}"), &vars);
    std::fs::write(
        dir.join("tables/shop/events.csv"),
        "\u{feff}user_id,amount,timestamp\nu1,3,2024-01-01T00:00:00Z\nu1,4,2024-01-02T00:00:00Z\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tables/shop/events.types.yaml"),
        "\u{feff}amount: integer\n",
    )
    .unwrap();
    let (output, out) = run_in_place(&dir, &[]);
    assert!(output.status.success(), "{}", text(&output).1);
    let view = std::fs::read_to_string(out.join("user_feature_view.csv")).unwrap();
    assert!(view.lines().any(|line| line.ends_with(",7")), "{view}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run past `--timeout` stops, says so, and publishes nothing.
#[test]
fn a_run_past_its_timeout_changes_no_output() {
    let (project, tables, end) = PROJECTS[0];
    let out = scratch("timeout");
    let output = knit()
        .args(project_args("run", project, tables, end, &out))
        .args(["--timeout", "1ms"])
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "the run took longer than --timeout 1ms and was stopped; no output was changed"
        ),
        "{stderr}"
    );
    // --out names a folder.
    let file = scratch("out-file");
    std::fs::write(&file, "a file").unwrap();
    let output = knit()
        .args(project_args("run", project, tables, end, &file))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).1.contains("is a file: name a folder"),
        "{}",
        text(&output).1
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a file");
    std::fs::remove_file(&file).unwrap();
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir_all(&out);
}

/// pb's `--begin_time` keeps the rows between it and the end time (and those without a
/// time): the e-commerce example from mid-June 2021 on.
#[test]
fn begin_time_matches_pb() {
    let (project, tables, end) = PROJECTS[0];
    let out = scratch("begin-time");
    let output = knit()
        .args(project_args("run", project, tables, end, &out))
        .args(["--begin-time", "2021-06-15T00:00:00Z"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
    assert_outputs_match("testdata/oracle/ecommerce/expected_begin_time", &out);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn project_sql_runs_to_the_same_outputs() {
    for (project, tables, end) in [PROJECTS[1], PROJECTS[7]] {
        let out = scratch(&format!("sql-{}", project.replace('/', "_")));
        let file = project_script(project, tables, end, &out);
        // Nothing runs when a script is only printed.
        assert!(!out.exists());
        let output = knit()
            .args(["-q", "-f", &file.display().to_string()])
            .output()
            .unwrap();
        assert!(output.status.success(), "{project}: {}", text(&output).1);
        assert_outputs_match(&format!("{project}/expected"), &out);
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::remove_file(&file);
    }
}

/// Every entity var, those that are no feature included, equals pb's: pb's var table of
/// each oracle case (`<entity>_var_table.csv`) against Knit SQL's `var_table(entity)`
/// after the project's script, on pb's columns (Knit's also holds the vars of cohorts
/// and of old feature tables, which pb keeps in tables of their own).
#[test]
fn var_tables_match_pb() {
    for (project, tables, end) in PROJECTS {
        let expected_dir = workspace_root().join(project).join("expected");
        let mut entities: Vec<String> = std::fs::read_dir(&expected_dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.strip_suffix("_var_table.csv").map(str::to_string)
            })
            .collect();
        entities.sort();
        if entities.is_empty() {
            continue;
        }
        let out = scratch(&format!("vt-{}", project.replace('/', "_")));
        let file = project_script(project, tables, end, &out);
        let mut knit_args = vec!["-q".to_string(), "-f".into(), file.display().to_string()];
        for entity in &entities {
            let target = out.join(format!("{entity}_var_table.csv"));
            knit_args.extend([
                "-c".to_string(),
                format!(
                    "COPY (SELECT * FROM var_table('{entity}')) TO '{}' STORED AS CSV",
                    target.display()
                ),
            ]);
        }
        let output = knit().args(&knit_args).output().unwrap();
        assert!(output.status.success(), "{project}: {}", text(&output).1);
        for entity in &entities {
            let name = format!("{entity}_var_table.csv");
            let expected = read_csv(&expected_dir.join(&name));
            let columns: Vec<String> = match expected.first() {
                Some(row) => row.keys().cloned().collect(),
                None => continue,
            };
            let mut got: Vec<BTreeMap<String, String>> = read_csv(&out.join(&name))
                .into_iter()
                .map(|row| {
                    columns
                        .iter()
                        .map(|c| (c.clone(), row.get(c).cloned().unwrap_or_default()))
                        .collect()
                })
                .collect();
            got.sort();
            assert_eq!(expected, got, "{project}: {name}");
        }
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::remove_file(&file);
    }
}

/// `knit project sql` of an oracle case, its outputs going to `out`, written to a file
/// of its own (returned) for `knit -f`.
fn project_script(project: &str, tables: &str, end: &str, out: &Path) -> PathBuf {
    let output = knit()
        .args(project_args("sql", project, tables, end, out))
        .output()
        .unwrap();
    let (script, stderr) = text(&output);
    assert!(output.status.success(), "{project}: {stderr}");
    assert!(script.contains("CREATE ENTITY"), "{script}");
    let file = std::env::temp_dir().join(format!(
        "knit-project-{}-{}.sql",
        std::process::id(),
        project.replace('/', "_")
    ));
    std::fs::write(&file, &script).unwrap();
    file
}

#[test]
fn parquet_is_the_default_format() {
    let (project, tables, end) = PROJECTS[0];
    let out = scratch("parquet");
    let mut args = project_args("run", project, tables, end, &out);
    args.truncate(args.len() - 4);
    args.extend(["--end-time".to_string(), end.to_string()]);
    let output = knit().args(&args).output().unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
    let query = format!(
        "SELECT count(*) AS n FROM '{}'",
        out.join("user_feature_view_with_email.parquet").display()
    );
    let output = knit()
        .args(["-q", "--format", "csv", "-c", &query])
        .output()
        .unwrap();
    assert_eq!(text(&output).0, "n\n4\n");
    let _ = std::fs::remove_dir_all(&out);
}

/// Every CSV pb wrote (but its var table, which lists hidden vars) equals Knit's, column
/// by column and row by row, after both are put in one rendering: PostgreSQL and arrow
/// print timestamps, booleans and numerics differently.
pub(crate) fn assert_outputs_match(fixture: &str, out: &Path) {
    let expected_dir = workspace_root().join(fixture);
    let mut compared = 0;
    for entry in std::fs::read_dir(&expected_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".csv") || name.ends_with("_var_table.csv") {
            continue;
        }
        assert_csv_equal(&path, &workspace_root().join(out).join(&name));
        compared += 1;
    }
    assert!(compared > 0, "{fixture}: no outputs to compare");
}

/// pb's CSV output `expected` equals Knit's `got`, in one rendering (see above).
pub(crate) fn assert_csv_equal(expected: &Path, got: &Path) {
    assert!(got.exists(), "Knit wrote no {}", got.display());
    let (expected_rows, got_rows) = (read_csv(expected), read_csv(got));
    let name = expected.display();
    assert_eq!(
        expected_rows.len(),
        got_rows.len(),
        "{name}: row counts differ"
    );
    for (e, g) in expected_rows.iter().zip(&got_rows) {
        assert_eq!(e, g, "{name}: rows differ");
    }
}

/// A CSV file as sorted rows of normalized cells, keyed by column name.
fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut rows: Vec<BTreeMap<String, String>> = reader
        .records()
        .map(|record| {
            header
                .iter()
                .cloned()
                .zip(record.unwrap().iter().map(normalize))
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// One rendering for both: `2021-06-10 15:20:47.981` for timestamps (UTC, without zone
/// and trailing zeros), `true`/`false`, and numbers to 9 decimals.
fn normalize(cell: &str) -> String {
    let bytes = cell.as_bytes();
    let is_timestamp = bytes.len() >= 19
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && (bytes[10] == b' ' || bytes[10] == b'T')
        && bytes[13] == b':';
    if is_timestamp {
        let mut text = cell.replacen('T', " ", 1);
        for suffix in ["+00:00", "+00", "Z"] {
            if let Some(stripped) = text.strip_suffix(suffix) {
                text = stripped.to_string();
            }
        }
        if text.contains('.') {
            text = text.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        return text;
    }
    match cell {
        "t" | "true" => return "true".into(),
        "f" | "false" => return "false".into(),
        _ => {}
    }
    match cell.parse::<f64>() {
        Ok(number) if cell.chars().any(|c| c.is_ascii_digit()) => format!("{number:.9}"),
        _ => cell.to_string(),
    }
}

/// A small project in a fresh folder: `pb_project.yaml` and `models/profiles.yaml` as
/// given, and one table `shop.events`.
fn broken_project(name: &str, project_yaml: &str, profiles_yaml: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::create_dir_all(dir.join("tables/shop")).unwrap();
    std::fs::write(dir.join("pb_project.yaml"), project_yaml).unwrap();
    std::fs::write(dir.join("models/profiles.yaml"), profiles_yaml).unwrap();
    std::fs::write(
        dir.join("tables/shop/events.csv"),
        "user_id,amount,timestamp\nu1,3,2024-01-01T00:00:00Z\n",
    )
    .unwrap();
    dir
}

const GOOD_PROJECT: &str = "name: p
schema_version: 99
connection: local
model_folders: [models]
entities:
  - name: user
    id_types: [user_id]
id_types:
  - name: user_id
";

const GOOD_INPUTS: &str = "inputs:
  - name: events
    app_defaults:
      table: shop.events
      occurred_at_col: timestamp
      ids:
        - select: user_id
          type: user_id
          entity: user
";

/// An id stitcher model `g` of GOOD_INPUTS' events, with `extra` keys in its spec.
fn stitcher_g(extra: &str) -> String {
    format!(
        "  - name: g\n    model_type: id_stitcher\n    model_spec:\n      entity_key: user\n\
         {extra}      edge_sources: [inputs/events]\n"
    )
}

/// Runs `knit project run` on a broken project: it must fail, write nothing, and say
/// `expected` on stderr.
fn assert_fails(name: &str, project_yaml: &str, profiles_yaml: &str, expected: &str) {
    let dir = broken_project(name, project_yaml, profiles_yaml);
    let out = dir.join("out");
    let output = knit()
        .args(["project", "run", &dir.display().to_string()])
        .args(["--tables", &dir.join("tables").display().to_string()])
        .args(["--out", &out.display().to_string()])
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(!output.status.success(), "{name}: succeeded");
    assert!(
        stderr.contains(expected),
        "{name}: expected `{expected}` in: {stderr}"
    );
    let written = std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0);
    assert_eq!(written, 0, "{name}: outputs were written");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn broken_projects_fail_before_any_output() {
    let var = |body: &str| {
        format!("{GOOD_INPUTS}var_groups:\n  - name: v\n    entity_key: user\n    vars:\n{body}")
    };
    assert_fails(
        "yaml",
        GOOD_PROJECT,
        "inputs: [unclosed",
        "models/profiles.yaml: not valid YAML",
    );
    // pb's first schema versions' feature table, which pb 0.26 neither runs nor migrates.
    assert_fails(
        "first-schema-features",
        GOOD_PROJECT,
        &format!(
            "{GOOD_INPUTS}models:
  - name: t
    model_type: feature_table_model
    model_spec:
      features:
        - tablevar:
            name: first_seen
            ref: inputs/events
            value: min(timestamp)
"
        ),
        "models/profiles.yaml: models[0].model_spec.features[0]: this is the feature table of \
         pb's first schema versions",
    );
    assert_fails(
        "unsupported-key",
        &format!("{GOOD_PROJECT}frobnicate: true\n"),
        GOOD_INPUTS,
        "pb_project.yaml: frobnicate: unknown key; the keys here are: model_folders",
    );
    assert_fails(
        "source-key-twice",
        GOOD_PROJECT,
        &GOOD_INPUTS.replace(
            "    app_defaults:",
            "    occurred_at_col: ts\n    app_defaults:",
        ),
        "models/profiles.yaml: inputs[0].occurred_at_col: occurred_at_col is given twice (under the input and under app_defaults); keep one",
    );
    assert_fails(
        "misspelt-key",
        &GOOD_PROJECT.replace("model_folders", "model_folder"),
        GOOD_INPUTS,
        "pb_project.yaml: model_folder: unknown key; did you mean 'model_folders'?",
    );
    assert_fails(
        "maximum-edges",
        &format!("{GOOD_PROJECT}    maximum_edges:\n      - email: 1\n"),
        GOOD_INPUTS,
        "pb_project.yaml: id_types[0].maximum_edges: maximum_edges (pb's cardinality rules) \
         would drop edges, and Knit does not reproduce pb's choice of which",
    );
    assert_fails(
        "misspelt-var-key",
        GOOD_PROJECT,
        &var("      - entity_var:\n          name: a\n          selct: count(*)\n"),
        "var_groups[0].vars[0].entity_var.selct: unknown key; did you mean 'select'?",
    );
    // pb allows a var's merge only on an append-only source.
    assert_fails(
        "merge-not-append-only",
        GOOD_PROJECT,
        &var(
            "      - entity_var:\n          name: a\n          select: count(*)\n          from: inputs/events\n          merge: sum({{rowset.a}})\n",
        ),
        "models/profiles.yaml: var_groups[0].vars[0].entity_var: a has a merge, which pb \
         allows only on an append-only source, and 'events' does not say it is one",
    );
    assert_fails(
        "model-type",
        GOOD_PROJECT,
        &format!(
            "{GOOD_INPUTS}models:\n  - name: m\n    model_type: python_model\n    model_spec: {{}}\n"
        ),
        "models/profiles.yaml: models[0].model_type: model 'm' is of type 'python_model', \
         which Knit cannot run",
    );
    assert_fails(
        "missing-table",
        GOOD_PROJECT,
        &GOOD_INPUTS.replace("shop.events", "shop.nowhere"),
        "models/profiles.yaml: inputs[0].app_defaults: table 'shop.nowhere' not found",
    );
    assert_fails(
        "unknown-var",
        GOOD_PROJECT,
        &var(
            "      - entity_var:\n          name: a\n          select: \"{{user.Var('nope')}} + 1\"\n",
        ),
        "models/profiles.yaml: var_groups[0].vars[0].entity_var: user.a reads user.nope, \
         which no var_groups entry defines",
    );
    assert_fails(
        "cycle",
        GOOD_PROJECT,
        &var(
            "      - entity_var:\n          name: a\n          select: \"{{user.b}} + 1\"\n\
             \x20     - entity_var:\n          name: b\n          select: \"{{user.a}} + 1\"\n",
        ),
        "these form a cycle: entity user.a -> entity user.b -> entity user.a",
    );
    assert_fails(
        "max-iterations",
        GOOD_PROJECT,
        &format!(
            "{GOOD_INPUTS}models:\n{}",
            stitcher_g("      max_iterations: 5\n")
        ),
        "models/profiles.yaml: models[0].model_spec.max_iterations: max_iterations caps pb's \
         rounds of merging clusters",
    );
    // A model that reads a feature table listing the var that reads the model: pb
    // refuses it too (a model that reads a table not listing the var is no cycle; see
    // the oracle case models_read_entity).
    assert_fails(
        "cycle-through-model",
        &GOOD_PROJECT.replace(
            "    id_types: [user_id]",
            "    id_stitcher: models/g\n    id_types: [user_id]",
        ),
        &format!(
            "{GOOD_INPUTS}models:\n{}  - name: t
    model_type: feature_table_model
    model_spec:
      entity_key: user
      features: [r]
  - name: ranked
    model_type: sql_template
    model_spec:
      single_sql: select user_main_id as uid from {{{{this.DeRef('models/t')}}}}
      ids:
        - select: uid
          type: user_id
          entity: user
var_groups:
  - name: v
    entity_key: user
    vars:
      - entity_var:
          name: r
          select: count(*)
          from: models/ranked
",
            stitcher_g("")
        ),
        "models/profiles.yaml: models[2]: these form a cycle: view ranked -> var entity user.r \
         -> lookup user/ranked -> view ranked",
    );
    assert_fails(
        "wrong-column",
        GOOD_PROJECT,
        &var(
            "      - entity_var:\n          name: a\n          select: sum(no_such_column)\n          from: inputs/events\n",
        ),
        "models/profiles.yaml: var_groups[0].vars[0].entity_var: ",
    );
    assert_fails(
        "template",
        GOOD_PROJECT,
        &var("      - entity_var:\n          name: a\n          select: \"{% if x %}1{% endif\"\n"),
        "var_groups[0].vars[0].entity_var.select: template `{% if x %}1{% endif`: ",
    );
    assert_fails(
        "template-name",
        GOOD_PROJECT,
        &var(
            "      - entity_var:\n          name: a\n          select: \"{{ acount.Var('x') }}\"\n",
        ),
        "var_groups[0].vars[0].entity_var.select: template `{{ acount.Var('x') }}`: ",
    );
    assert_fails(
        "window",
        GOOD_PROJECT,
        &var(
            "      - entity_var:\n          name: a\n          select: rank()\n          from: inputs/events\n          window:\n            order_by: [amount]\n",
        ),
        "a window with from is supported for first_value(x) and last_value(x)",
    );
    // A feature_view model without using_ids takes the entity's views by id, names
    // included: two outputs of one name (pb refuses it too, "conflicting db name").
    assert_fails(
        "feature-view-clash",
        &GOOD_PROJECT.replace(
            "id_types: [user_id]",
            "id_types: [user_id]\n    feature_views:\n      using_ids:\n        - {id: user_id, name: by_user}",
        ),
        &format!(
            "{GOOD_INPUTS}models:\n  - name: export\n    model_type: feature_view\n    model_spec:\n      entity_key: user\n"
        ),
        "models/profiles.yaml: models[0]: its output 'by_user' is also written by pb_project.yaml: entities[0]; give one of them another name",
    );
    assert_fails(
        "feature-view-entity",
        GOOD_PROJECT,
        &format!(
            "{GOOD_INPUTS}models:\n  - name: export\n    model_type: feature_view\n    model_spec:\n      entity_key: account\n"
        ),
        "models/profiles.yaml: models[0]: model_spec.entity_key: entity 'account' is not declared",
    );
    assert_fails(
        "undeclared-id-type",
        &GOOD_PROJECT.replace("id_types: [user_id]", "id_types: [user_id, email]"),
        GOOD_INPUTS,
        "pb_project.yaml: entities[0]: id_types: id type 'email' is not declared under id_types",
    );
    assert_fails(
        "unknown-edge-source",
        &GOOD_PROJECT.replace(
            "id_types: [user_id]",
            "id_types: [user_id]\n    id_stitcher: models/g",
        ),
        &format!(
            "{GOOD_INPUTS}models:\n  - name: g\n    model_type: id_stitcher\n    model_spec:\n      entity_key: user\n      edge_sources:\n        - from: inputs/nowhere\n"
        ),
        "models/profiles.yaml: models[0]: model_spec.edge_sources: no input named 'nowhere'",
    );
    assert_fails(
        "unknown-parent-cohort",
        GOOD_PROJECT,
        &format!(
            "{GOOD_INPUTS}models:\n  - name: c\n    model_type: entity_cohort\n    model_spec:\n      extends: models/nowhere\n"
        ),
        "models/profiles.yaml: models[0]: extends: no entity_cohort model named 'nowhere'",
    );
    let cohort = |spec: &str| {
        format!(
            "{GOOD_INPUTS}models:\n  - name: c\n    model_type: entity_cohort\n    model_spec:\n      extends: user/all\n{spec}"
        )
    };
    assert_fails(
        "filter-expression-operator",
        GOOD_PROJECT,
        &cohort("      filter_expression:\n        XOR:\n          - \"1 = 1\"\n"),
        "models[0].model_spec.filter_expression: 'XOR' is not an operator of filter_expression; use AND or OR",
    );
    assert_fails(
        "filter-expression-and-pipeline",
        GOOD_PROJECT,
        &cohort(
            "      filter_expression: \"1 = 1\"\n      filter_pipeline:\n        - type: include\n          value: \"1 = 1\"\n",
        ),
        "filter_expression and filter_pipeline cannot be used together",
    );
    assert_fails(
        "filter-pipeline-value-and-sql",
        GOOD_PROJECT,
        &cohort(
            "      filter_pipeline:\n        - type: include\n          value: \"1 = 1\"\n          sql:\n            select: user_main_id\n            from: t\n",
        ),
        "models[0].model_spec.filter_pipeline[0].sql: a step filters by value or by sql, not both",
    );
    assert_fails(
        "filter-pipeline-sql-without-from",
        GOOD_PROJECT,
        &cohort(
            "      filter_pipeline:\n        - type: include\n          sql:\n            select: user_main_id\n",
        ),
        "models[0].model_spec.filter_pipeline[0].sql.from: missing",
    );
    let model = |spec: &str| {
        format!(
            "{GOOD_INPUTS}models:\n  - name: m\n    model_type: sql_template\n    model_spec:\n{spec}"
        )
    };
    assert_fails(
        "model-features-without-ids",
        GOOD_PROJECT,
        &model("      single_sql: select 1 as x\n      features:\n        - name: x\n"),
        "models[0].model_spec: features: a model's features need ids that map its rows to an entity",
    );
    assert_fails(
        "multi-sql",
        GOOD_PROJECT,
        &model("      multi_sql: \"CREATE TABLE {{this}} AS (select 1 as x); select 2\"\n"),
        "models[0].model_spec.multi_sql: a statement comes after the one that makes {{this}}; \
         Knit runs a multi_sql of one statement that makes {{this}}",
    );
    assert_fails(
        "model-folder-missing",
        &GOOD_PROJECT.replace(
            "model_folders: [models]",
            "model_folders: [models, more_models]",
        ),
        GOOD_INPUTS,
        "pb_project.yaml: model_folders[1]: no folder 'more_models' in the project",
    );
    assert_fails(
        "rudder-id-edge-source",
        GOOD_PROJECT,
        &GOOD_INPUTS.replace("type: user_id", "type: rudder_id"),
        "inputs[0]: ids: a rudder_id (the main id of entity 'user') maps a model's rows to their entity but cannot add edges",
    );
    assert_fails(
        "unordered-first-value",
        GOOD_PROJECT,
        &var(
            "      - entity_var:\n          name: a\n          select: first_value(amount)\n          from: inputs/events\n",
        ),
        "var_groups[0].vars[0].entity_var: first_value/last_value without window.order_by: the warehouse refuses it",
    );
    assert_fails(
        "entity-key-and-entity-cohort",
        GOOD_PROJECT,
        &format!(
            "{GOOD_INPUTS}var_groups:\n  - name: v\n    entity_key: user\n    entity_cohort: user/all\n    vars: []\n"
        ),
        "var_groups[0].entity_cohort: give entity_key or entity_cohort, not both",
    );
    assert_fails(
        "cohort-and-entity-cohort",
        GOOD_PROJECT,
        &format!(
            "{GOOD_INPUTS}var_groups:\n  - name: v\n    entity_cohort: user/all\n    cohort: user/all\n    vars: []\n"
        ),
        "var_groups[0].cohort: cohort is the older name of entity_cohort, which is also given",
    );
    assert_fails("no-project", "", "", "pb_project.yaml");
}

/// A run that fails after some outputs were computed changes none: every output, and
/// the manifest of the last good run, stay as they were, and no staging folder is left.
#[test]
fn a_failing_run_changes_no_output() {
    let vars = |select: &str| {
        format!(
            "{GOOD_INPUTS}var_groups:\n  - name: v\n    entity_key: user\n    vars:\n      \
             - entity_var:\n          name: fine\n          select: count(*)\n          \
             from: inputs/events\n      \
             - entity_var:\n          name: n\n          select: {select}\n          \
             from: inputs/events\n"
        )
    };
    let dir = broken_project("atomic", GOOD_PROJECT, &vars("count(*)"));
    let out = dir.join("out");
    let run = || {
        knit()
            .args(["project", "run", &dir.display().to_string()])
            .args(["--tables", &dir.join("tables").display().to_string()])
            .args(["--out", &out.display().to_string(), "--format", "csv"])
            .output()
            .unwrap()
    };
    let output = run();
    assert!(output.status.success(), "{}", text(&output).1);
    let snapshot = || {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap_or_default(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = snapshot();
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"user_feature_view.csv"), "{names:?}");
    assert!(names.contains(&"user_default_id_stitcher.csv"), "{names:?}");
    let manifest = String::from_utf8(
        before
            .iter()
            .find(|(n, _)| n == "_knit_run.json")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert!(
        manifest.contains("\"output\": \"user_feature_view\""),
        "{manifest}"
    );
    // The id graph is written before the feature view, whose second var now fails as
    // it runs: the message names that var, though the view computes both at once.
    std::fs::write(dir.join("models/profiles.yaml"), vars("count(*) / 0")).unwrap();
    let output = run();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains(
            "models/profiles.yaml: var_groups[0].vars[1].entity_var: Divide by zero error \
             (while computing output user_feature_view)"
        ),
        "{stderr}"
    );
    assert_eq!(snapshot(), before);
    // A killed run's staging folder goes at the next run; a live one's stays.
    let stale = out.join(".knit-run-999999999-1");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("x.csv"), "a\n").unwrap();
    std::fs::write(dir.join("models/profiles.yaml"), vars("count(*) + 1")).unwrap();
    let output = run();
    assert!(output.status.success(), "{}", text(&output).1);
    assert!(!stale.exists());
    let feature_view = std::fs::read_to_string(out.join("user_feature_view.csv")).unwrap();
    assert!(feature_view.ends_with(",2\n"), "{feature_view}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CSV table with a quoted empty field (`""`) beside quoted fields that hold a comma
/// and doubled quotes reads as PostgreSQL's loader reads it: `""` is the empty text,
/// which `count` counts, and the quoted comma is one value. A file that holds every
/// marker character cannot be marked: `""` reads as NULL, and a warning names the file
/// and the fix.
#[test]
fn a_csv_with_quoted_empty_text_beside_quoted_commas_reads_as_postgres() {
    let dir = scratch("csv_marked");
    std::fs::create_dir_all(dir.join("project/models")).unwrap();
    std::fs::create_dir_all(dir.join("tables/shop")).unwrap();
    std::fs::write(
        dir.join("project/pb_project.yaml"),
        "name: p\nschema_version: 99\nconnection: local\nmodel_folders: [models]\n\
         id_types: [{name: user_id}]\nentities: [{name: user, id_types: [user_id]}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("project/models/inputs.yaml"),
        "inputs:\n- name: visits\n  app_defaults:\n    table: shop.visits\n    ids:\n    \
         - {select: user_id, type: user_id, entity: user}\n\
         var_groups:\n- name: v\n  entity_key: user\n  vars:\n  \
         - entity_var: {name: n_pages, select: count(page), from: inputs/visits}\n  \
         - entity_var: {name: pages, select: \"string_agg(page, '|' ORDER BY page)\", \
         from: inputs/visits}\n",
    )
    .unwrap();
    let run = |csv: &str| {
        std::fs::write(dir.join("tables/shop/visits.csv"), csv).unwrap();
        let out = dir.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let output = knit()
            .args(["project", "run"])
            .arg(dir.join("project"))
            .arg("--tables")
            .arg(dir.join("tables"))
            .arg("--out")
            .arg(&out)
            .args(["--format", "csv"])
            .output()
            .unwrap();
        let (_, stderr) = text(&output);
        assert!(output.status.success(), "{stderr}");
        let view = std::fs::read_to_string(out.join("user_feature_view.csv")).unwrap();
        (view.lines().nth(1).unwrap().to_string(), stderr)
    };
    let (row, stderr) = run("user_id,page\nu1,\"\"\nu1,\"a, \"\"b\"\"\"\nu1,\n");
    assert!(row.ends_with(",2,\"|a, \"\"b\"\"\""), "{row}");
    assert!(!stderr.contains("quoted empty field"), "{stderr}");
    // Every marker character is taken.
    let (row, stderr) =
        run("user_id,page\nu1,\"\"\nu1,\"a, b\"\nu1,x\u{1}\u{2}\u{3}\u{4}\u{5}\u{6}\u{7}\u{8}\n");
    assert!(
        stderr.contains("a quoted empty field (\"\") may read as NULL")
            && stderr.contains("give the table as Parquet")
            && stderr.contains("visits.csv"),
        "{stderr}"
    );
    assert!(row.contains(",2,"), "{row}");
    let _ = std::fs::remove_dir_all(&dir);
}
