// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! pb projects whose var groups have a `time_grain` whose boundary is before the run's
//! end time: computed in passes of their own (the oracle case `time_grains` checks the
//! values against pb), printed as parts, and refused where one time only is read.

use std::path::Path;

use crate::project::copy_dir;
use crate::{Scratch, knit, text, workspace_root};

const CASE: &str = "testdata/oracle/cases/time_grains";
/// A Wednesday noon: on the hour's boundary, not the day's, the week's or the month's.
const WEDNESDAY_NOON: &str = "2024-07-03T12:00:00Z";

/// Runs `knit project <command> PROJECT --tables .. --end-time END` and more.
fn project(command: &str, dir: &Path, end: &str, more: &[&str]) -> (bool, String, String) {
    let output = knit()
        .args(["project", command, &dir.display().to_string()])
        .args([
            "--tables",
            &workspace_root()
                .join(CASE)
                .join("tables")
                .display()
                .to_string(),
            "--end-time",
            end,
        ])
        .args(more)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    (output.status.success(), stdout, stderr)
}

/// A copy of the case's project with `edit` applied to its models file.
fn edited(scratch: &Scratch, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let dir = scratch.join("project");
    copy_dir(&workspace_root().join(CASE).join("project"), &dir);
    let models = dir.join("models/profiles.yaml");
    let text = std::fs::read_to_string(&models).unwrap();
    std::fs::write(&models, edit(text)).unwrap();
    dir
}

/// The CSV that `knit -q` prints for `queries`, run one after the other.
fn query(queries: &[String]) -> String {
    let mut command = knit();
    command.args(["-q", "--format", "csv"]);
    for sql in queries {
        command.arg("-c").arg(sql);
    }
    let output = command.output().unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    stdout
}

/// Every file and folder under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

#[test]
fn the_script_has_a_part_per_boundary_before_the_end_time() {
    let dir = workspace_root().join(CASE).join("project");
    let (ok, script, stderr) = project("sql", &dir, WEDNESDAY_NOON, &[]);
    assert!(ok, "{stderr}");
    assert!(script.starts_with("-- Part 1 of 3: "), "{script}");
    let monday = script.find("is 2024-07-01T00:00:00Z").unwrap();
    let midnight = script.find("is 2024-07-03T00:00:00Z").unwrap();
    let run = script.find("-- Part 3 of 3: the run").unwrap();
    assert!(monday < midnight && midnight < run, "{script}");
    // The run reads the day's vars from the pass at midnight, by main id.
    assert!(
        script[run..].contains(
            "CREATE ENTITY VAR \"user\".spent_day AS max(spent_day) FROM \
             \"__knit_grain_20240703T000000Z_user\""
        ),
        "{script}"
    );
    // The pass at Monday writes the vars of the week and the month (and the day's,
    // whose boundary it is too), the hidden one included.
    assert!(
        script[..midnight].contains(
            "COPY (SELECT user_main_id, events_day, spent_day, wk_plus, last_day, \
             events_week, first_month, emails_month, events_hour FROM entity_vars('user', \
             'events_day', 'spent_day', 'wk_plus', 'last_day', 'events_week', 'first_month', \
             'emails_month', 'events_hour'))"
        ),
        "{script}"
    );
    // On every boundary (a Monday's midnight), there is one part: the run.
    let (ok, script, stderr) = project("sql", &dir, "2024-07-01T00:00:00Z", &[]);
    assert!(ok, "{stderr}");
    assert!(!script.contains("-- Part"), "{script}");
    assert!(!script.contains("__knit_grain_"), "{script}");
}

/// A profile store of a project with grains before its end time runs its passes each
/// run, in full, and equals a fresh store; with nothing new it is current, and says so
/// without running a pass.
#[test]
fn a_store_runs_the_passes_in_full_each_run() {
    let scratch = Scratch::new("knit-grains", "store");
    let dir = workspace_root().join("testdata/oracle/cases/time_grains_models/project");
    let store = |name: &str| scratch.join(name).display().to_string();
    let (kept, fresh) = (store("kept"), store("fresh"));
    let thursday = "2024-07-04T12:00:00Z";
    let (ok, _, stderr) = project("run", &dir, WEDNESDAY_NOON, &["--store", &kept]);
    assert!(
        ok && stderr.contains("run 1: full (the store's first run)"),
        "{stderr}"
    );
    assert!(stderr.contains("published week_table"), "{stderr}");
    let (ok, _, stderr) = project("run", &dir, thursday, &["--store", &kept]);
    assert!(
        ok && stderr
            .contains("run 2: full (the project computes time grains as of their boundaries"),
        "{stderr}"
    );
    assert!(
        stderr.contains("as of 2024-07-01T00:00:00Z (time_grain)"),
        "{stderr}"
    );
    let (ok, _, stderr) = project("run", &dir, thursday, &["--store", &kept]);
    assert!(
        ok && stderr
            .starts_with("the store is current: no input file is new or changed since run 2"),
        "{stderr}"
    );
    assert!(!stderr.contains("time_grain"), "{stderr}");
    let (ok, _, stderr) = project("run", &dir, thursday, &["--store", &fresh]);
    assert!(ok, "{stderr}");
    let differences = crate::store::differences_with(knit(), &scratch.join("kept"), &fresh, 10);
    assert_eq!(differences, Vec::<String>::new());
    // Thursday's day boundary lets u7 (first seen Wednesday 08:00) into the day cohort,
    // and u5's cluster has merged into u6's (Wednesday 06:00).
    let members = query(&[format!(
        "SELECT string_agg(user_main_id, ' ' ORDER BY user_main_id) AS m \
         FROM '{kept}/user_day_buyers'"
    )]);
    assert!(
        members.contains("rid0829ab5c535bea5e4190f8b8b2935e8e")
            && !members.contains("rid3546bb6cabf3990e4339559d41c8d7fa"),
        "{members}"
    );
}

#[test]
fn readers_of_another_time_are_refused_naming_the_time() {
    let scratch = Scratch::new("knit-grains", "refused");
    // An input var of grain day (computed in the day's pass), read by a var without a
    // grain: pb 0.26.4 fails on it (the column is not in the run's var table).
    let input_var = edited(&scratch, |yaml| {
        yaml.replace(
            "      - entity_var:\n          name: events_hour",
            "      - input_var:\n          name: amount_x2\n          select: amount * 2\n          \
             from: inputs/tracks\n      - entity_var:\n          name: events_hour",
        )
        .replace("time_grain: hour", "time_grain: day")
        .replace(
            "  - name: live\n    entity_key: user\n    vars:\n",
            "  - name: live\n    entity_key: user\n    vars:\n      - entity_var:\n          \
             name: spent_x2\n          select: sum({{tracks.Var(\"amount_x2\")}})\n          \
             from: inputs/tracks\n",
        )
    });
    let out = scratch.join("out");
    let out = out.display().to_string();
    let (ok, _, stderr) = project("run", &input_var, WEDNESDAY_NOON, &["--out", &out]);
    assert!(!ok);
    assert!(
        stderr.contains("var_groups[0].vars[0]")
            && stderr.contains(
                "reads input var amount_x2 of time_grain day, which pb computes only as of the \
                 grain's last boundary, 2024-07-03T00:00:00Z"
            )
            && stderr.contains("give its var group time_grain day too"),
        "{stderr}"
    );
    assert!(
        !scratch
            .join("out")
            .join("user_feature_view.parquet")
            .exists()
    );

    // A cohort without a grain extending one of grain day would read it as of
    // another time than pb's.
    let models = workspace_root().join("testdata/oracle/cases/time_grains_models/project");
    let reader = scratch.join("reader");
    copy_dir(&models, &reader);
    let yaml = std::fs::read_to_string(reader.join("models/profiles.yaml")).unwrap();
    std::fs::write(
        reader.join("models/profiles.yaml"),
        yaml.replacen(
            "      extends: models/day_buyers\n      time_grain: day\n",
            "      extends: models/day_buyers\n",
            1,
        ),
    )
    .unwrap();
    let (ok, _, stderr) = project("sql", &reader, WEDNESDAY_NOON, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("'big_buyers' reads cohort 'day_buyers', whose time_grain makes pb compute it as of 2024-07-03T00:00:00Z")
            && stderr.contains("give 'big_buyers' the same time_grain, or run with --end-time 2024-07-03T00:00:00Z"),
        "{stderr}"
    );
    // So must a sql_template reading a model of grain week, and the vars of a
    // sql_template of grain day.
    let deref = "  - name: weekly_copy\n    model_type: sql_template\n    model_spec:\n      \
                 single_sql: \"SELECT * FROM {{ this.DeRef('models/week_table') }}\"\n";
    let rows = "  - name: day_rows\n    model_type: sql_template\n    model_spec:\n      \
                time_grain: day\n      occurred_at_col: timestamp\n      ids:\n        - select: \
                anonymous_id\n          type: anonymous_id\n          entity: user\n      \
                single_sql: \"SELECT * FROM {{ this.DeRef('inputs/tracks') }}\"\n";
    let row_var = "      - entity_var:\n          name: day_rows_n\n          select: count(*)\n          \
                   from: models/day_rows\n";
    for (added, var, reader, model) in [
        (deref, "", "weekly_copy", "week_table"),
        (rows, row_var, "day_rows_n", "day_rows"),
    ] {
        let dir = scratch.join(reader);
        copy_dir(&models, &dir);
        let path = dir.join("models/profiles.yaml");
        let yaml = std::fs::read_to_string(&path).unwrap();
        let yaml = yaml.replacen("var_groups:\n", &format!("{added}var_groups:\n"), 1);
        let yaml = yaml.replacen("    vars:\n", &format!("    vars:\n{var}"), 1);
        std::fs::write(&path, yaml).unwrap();
        let (ok, _, stderr) = project("sql", &dir, WEDNESDAY_NOON, &[]);
        assert!(!ok, "{reader}");
        assert!(
            stderr.contains(&format!(
                "'{reader}' reads model '{model}', whose time_grain"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn a_failing_pass_writes_no_output_and_says_which_pass() {
    let scratch = Scratch::new("knit-grains", "failing");
    let dir = edited(&scratch, |yaml| {
        yaml.replace("select: sum(amount)\n          from: inputs/tracks\n          default_value: 0",
            "select: sum(no_such_column)\n          from: inputs/tracks\n          default_value: 0")
    });
    let out = scratch.join("out");
    let out_arg = out.display().to_string();
    let (ok, _, stderr) = project("run", &dir, WEDNESDAY_NOON, &["--out", &out_arg]);
    assert!(!ok);
    assert!(
        stderr.contains("computing the time grains as of 2024-07-01T00:00:00Z")
            && stderr.contains("no_such_column"),
        "{stderr}"
    );
    let left = walk(&out);
    assert!(left.is_empty(), "{left:?}");
}

/// With `default_time_grain: day`, a run at noon is the run at midnight, and a profile
/// store's refresh at a later noon reads the rows from the midnight before the first
/// up to its own midnight: it equals a full run.
#[test]
fn a_default_grain_moves_the_run_to_its_boundary_and_a_store_follows() {
    use crate::store::{EVENTS, Lcg, ORDERS, differences_with, random_rows, write_table_file};
    let scratch = Scratch::new("knit-grains", "default");
    let project = crate::store::write_project(&scratch);
    let yaml = std::fs::read_to_string(project.join("pb_project.yaml")).unwrap();
    std::fs::write(
        project.join("pb_project.yaml"),
        format!("{yaml}default_time_grain: day\n"),
    )
    .unwrap();
    let tables = scratch.join("tables");
    let mut rng = Lcg(42);
    for part in ["part-0", "part-1"] {
        let (events, orders) = random_rows(&mut rng, 40, 12);
        write_table_file(&tables, "events", part, EVENTS, &events);
        write_table_file(&tables, "orders", part, ORDERS, &orders);
    }
    let run = |store: &Path, end: &str| {
        let output = knit()
            .args(["project", "run", &project.display().to_string()])
            .args(["--tables", &tables.display().to_string()])
            .args(["--store", &store.display().to_string(), "--end-time", end])
            .output()
            .unwrap();
        let (_, stderr) = text(&output);
        assert!(output.status.success(), "{stderr}");
        stderr
    };
    let refreshed = scratch.join("refreshed");
    run(&refreshed, "2024-01-03T12:00:00Z");
    let second = run(&refreshed, "2024-01-05T12:00:00Z");
    assert!(second.contains("run 2: incremental"), "{second}");
    let (noon, midnight) = (scratch.join("noon"), scratch.join("midnight"));
    run(&noon, "2024-01-05T12:00:00Z");
    run(&midnight, "2024-01-05T00:00:00Z");
    let same = |a: &Path, b: &Path| differences_with(knit(), a, &b.display().to_string(), 10);
    assert_eq!(same(&noon, &midnight), Vec::<String>::new());
    assert_eq!(same(&noon, &refreshed), Vec::<String>::new());
    // Rows of 2024-01-05 10:00 are after the boundary: no run read them.
    let first_seen = query(&[format!(
        "SELECT max(first_seen_at) FROM '{}/user_graph'",
        noon.display()
    )]);
    assert!(first_seen.contains("2024-01-04T10:00:00"), "{first_seen}");
}

/// The grain forms of pb's own test projects (`default_time_grain: day`, an id stitcher,
/// cohorts, a `multi_sql` model and a feature table of grain day, var groups of grain
/// week, one of a cohort) run on a Wednesday noon give pb's outputs of that run.
#[test]
fn pbs_own_grain_forms_off_their_boundaries_match_pb() {
    let case = "testdata/oracle/cases/grains_and_cohorts";
    let scratch = Scratch::new("knit-grains", "pb-forms");
    let out = scratch.join("out");
    let output = knit()
        .args(crate::project::project_args(
            "run",
            case,
            "project",
            WEDNESDAY_NOON,
            &out,
        ))
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    crate::project::assert_outputs_match(&format!("{case}/expected_wednesday"), &out);
}

/// With `--begin-time`, each pass reads the rows from the same begin time up to its
/// boundary, as pb's runs of each grain do.
#[test]
fn a_begin_time_holds_for_every_pass() {
    let scratch = Scratch::new("knit-grains", "begin");
    let out = scratch.join("out");
    let mut args = crate::project::project_args("run", CASE, "tables", WEDNESDAY_NOON, &out);
    args.extend([
        "--begin-time".to_string(),
        "2024-06-26T00:00:00Z".to_string(),
    ]);
    let output = knit().args(args).output().unwrap();
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    crate::project::assert_outputs_match(&format!("{CASE}/expected_begin_time"), &out);
}

/// `knit report` looks at the stitch as of the end time: var groups' and models' grains
/// change no edge and are left out; an id stitcher's grain stitches as of its boundary
/// (15 ids at Wednesday noon; 12 at its midnight, before u7 and a7).
#[test]
fn a_stitch_report_reads_the_stitch_as_of_its_grain() {
    let scratch = Scratch::new("knit-grains", "report");
    for (case, ids) in [("time_grains_models", 15), ("time_grains_stitcher", 12)] {
        let page = scratch.join(format!("{case}.html"));
        let output = knit()
            .args(["report", "stitch", "user", "--project"])
            .arg(workspace_root().join(format!("testdata/oracle/cases/{case}/project")))
            .arg("--tables")
            .arg(workspace_root().join(CASE).join("tables"))
            .args(["--end-time", WEDNESDAY_NOON, "--out"])
            .arg(&page)
            .output()
            .unwrap();
        let (_, stderr) = text(&output);
        assert!(output.status.success(), "{case}: {stderr}");
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(
            html.contains(&format!("(all)</td><td class=\"n\">{ids}</td>")),
            "{case}: {html}"
        );
    }
}

/// Outputs a pass writes are published with the run's in Delta tables too, with their
/// changes (`--changes-out`): the day cohort's members entered, the week table's rows.
#[test]
fn pass_outputs_are_published_as_delta_tables_with_their_changes() {
    let scratch = Scratch::new("knit-grains", "delta");
    let (out, changes) = (scratch.join("out"), scratch.join("changes"));
    let dir = workspace_root().join("testdata/oracle/cases/time_grains_models/project");
    let (ok, _, stderr) = project(
        "run",
        &dir,
        WEDNESDAY_NOON,
        &[
            "--out",
            &out.display().to_string(),
            "--format",
            "delta",
            "--changes-out",
            &changes.display().to_string(),
        ],
    );
    assert!(ok, "{stderr}");
    let counts = query(&[
        format!("SELECT count(*) AS n FROM '{}/week_table'", out.display()),
        format!(
            "SELECT change, count(*) AS n FROM '{}/user_day_buyers_changes.parquet' \
             GROUP BY change",
            changes.display()
        ),
    ]);
    assert_eq!(counts, "n\n3\nchange,n\nentered,4\n");
}
