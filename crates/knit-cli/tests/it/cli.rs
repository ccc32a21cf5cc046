// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Scripts, commands, standard input, output formats, errors and exit codes.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{Scratch, knit, run_with_stdin, text};

fn scratch_dir(name: &str) -> Scratch {
    Scratch::new("knit-cli-test", name)
}

#[test]
fn command_counts_rows_of_a_glob() {
    let output = knit()
        .args([
            "-c",
            "SELECT count(*) AS n FROM 'testdata/ecommerce/tracks/*.parquet'",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("| 5970 |"), "{stdout}");
    let last = stdout.lines().last().unwrap();
    assert!(
        last.starts_with("1 rows in ") && last.ends_with('s'),
        "{last}"
    );
}

#[test]
fn csv_json_and_ndjson_are_exact_and_summaries_go_to_stderr() {
    let sql = "SELECT order_id, total, user_id FROM 'testdata/ecommerce/orders/' \
               WHERE order_id IN ('o00001', 'o00002') ORDER BY order_id";
    let cases = [
        (
            "csv",
            "order_id,total,user_id\no00001,208.43,u0000\no00002,223.08,\n",
        ),
        (
            "json",
            "[{\"order_id\":\"o00001\",\"total\":208.43,\"user_id\":\"u0000\"},\
             {\"order_id\":\"o00002\",\"total\":223.08}]\n",
        ),
        (
            "ndjson",
            "{\"order_id\":\"o00001\",\"total\":208.43,\"user_id\":\"u0000\"}\n\
             {\"order_id\":\"o00002\",\"total\":223.08}\n",
        ),
    ];
    for (format, expected) in cases {
        let output = knit()
            .args(["--format", format, "-c", sql])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{format}: {stderr}");
        assert_eq!(stdout, expected, "{format}");
        assert!(stderr.starts_with("2 rows in "), "{format}: {stderr}");
    }
}

#[test]
fn empty_results_are_still_valid_output() {
    let sql = "SELECT order_id FROM 'testdata/ecommerce/orders/' WHERE false";
    let json = knit()
        .args(["-q", "--format", "json", "-c", sql])
        .output()
        .unwrap();
    assert_eq!(text(&json).0, "[]\n");
    let table = knit().args(["-c", sql]).output().unwrap();
    let (stdout, _) = text(&table);
    assert!(stdout.contains("| order_id |"), "{stdout}");
    assert!(
        stdout.ends_with("0 rows in 0.00s\n") || stdout.contains("\n0 rows in "),
        "{stdout}"
    );
}

#[test]
fn quiet_prints_only_results() {
    let output = knit()
        .args(["-q", "--format", "csv", "-c", "SELECT 1 AS one"])
        .output()
        .unwrap();
    assert_eq!(text(&output), ("one\n1\n".to_string(), String::new()));
}

#[test]
fn maxrows_limits_the_table_and_says_so() {
    let output = knit()
        .args([
            "--maxrows",
            "2",
            "-c",
            "SELECT value FROM generate_series(1, 10)",
        ])
        .output()
        .unwrap();
    let (stdout, _) = text(&output);
    assert!(
        stdout.contains("| 2     |") && !stdout.contains("| 3     |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("10 rows in ") && stdout.contains("(2 shown;"),
        "{stdout}"
    );
}

#[test]
fn scripts_run_before_commands_and_statements_split_on_tokens() {
    let dir = scratch_dir("order");
    let script = dir.join("setup.sql");
    std::fs::write(
        &script,
        "-- a comment; with a semicolon\nCREATE TABLE t AS VALUES ('a;b'), ('c');\n\
         SELECT count(*) AS n FROM t; SELECT 'x' AS\n  second;",
    )
    .unwrap();
    let output = knit()
        .args([
            "-q",
            "--format",
            "csv",
            "-c",
            "SELECT column1 FROM t ORDER BY 1",
            "-f",
        ])
        .arg(&script)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, "n\n2\nsecond\nx\ncolumn1\na;b\nc\n");
}

#[test]
fn standard_input_is_a_script() {
    let output = run_with_stdin(
        knit().args(["-q", "--format", "csv"]),
        b"SELECT 1 AS a;\nSELECT 'x;y' AS b",
    );
    assert_eq!(text(&output).0, "a\n1\nb\nx;y\n");
    assert!(output.status.success());
}

#[test]
fn misspelled_table_reports_file_and_line_and_stops() {
    let dir = scratch_dir("typo");
    let script = dir.join("report.sql");
    std::fs::write(
        &script,
        "-- report\nCREATE TABLE customers AS VALUES (1);\n\nSELECT count(*) AS n\n\
         FROM customers;\n\nSELECT * FROM custmers;\nSELECT 'never' AS reached;\n",
    )
    .unwrap();
    let output = knit().arg("-q").arg("-f").arg(&script).output().unwrap();
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout.contains("| 1 |"), "{stdout}");
    assert!(!stdout.contains("never"), "{stdout}");
    let expected = format!(
        "{}:7: error: table 'datafusion.public.custmers' not found (list tables with SHOW TABLES, \
         or read files directly with FROM 'dir/*.parquet')\n",
        script.display()
    );
    assert_eq!(stderr, expected);
}

#[test]
fn errors_point_at_the_line_inside_a_statement() {
    let dir = scratch_dir("lines");
    let script = dir.join("multi.sql");
    // The statement starts on line 2 and its bad column is on line 4.
    std::fs::write(
        &script,
        "CREATE TABLE t AS VALUES (1, 2);\nSELECT\n  column1,\n  colum2\nFROM t;\n",
    )
    .unwrap();
    let output = knit().arg("-f").arg(&script).output().unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.starts_with(&format!("{}:4: error: ", script.display())),
        "{stderr}"
    );
    assert!(stderr.contains("colum2"), "{stderr}");

    std::fs::write(
        &script,
        "SELECT 1;\n\nSELECT\n  1\nFROM t\n\nWHERE a = = 1;\n",
    )
    .unwrap();
    let output = knit().arg("-f").arg(&script).output().unwrap();
    let (_, stderr) = text(&output);
    assert!(
        stderr.starts_with(&format!(
            "{}:7: error: Expected: an expression, found: =",
            script.display()
        )),
        "{stderr}"
    );

    std::fs::write(&script, "SELECT 1;\nSELECT 'unterminated;\n").unwrap();
    let output = knit().arg("-f").arg(&script).output().unwrap();
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout.is_empty(),
        "nothing runs from a script that does not tokenize: {stdout}"
    );
    assert!(
        stderr.starts_with(&format!(
            "{}:2: error: Unterminated string literal",
            script.display()
        )),
        "{stderr}"
    );
}

#[test]
fn command_errors_exit_one_without_a_file_name() {
    let output = knit()
        .args(["-c", "SELECT nope FROM (SELECT 1 AS yes)"])
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: No field named nope."),
        "{stderr}"
    );
}

#[test]
fn missing_script_and_bad_arguments_are_clear() {
    let output = knit().args(["-f", "no/such/script.sql"]).output().unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: cannot read script 'no/such/script.sql': "),
        "{stderr}"
    );

    let output = knit()
        .args(["--memory-limit", "lots", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("invalid memory size 'lots'"));

    let output = knit()
        .args(["--format", "xml", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn endless_and_binary_scripts_are_refused() {
    // /dev/zero never ends: reading stops at the bound instead of taking all memory.
    let output = knit().args(["-f", "/dev/zero"]).output().unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot read script '/dev/zero': it is larger than 256 MiB"),
        "{stderr}"
    );

    let output = run_with_stdin(&mut knit(), b"SELECT 1;\nSELECT '\xff';\n");
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("'<stdin>': it is not UTF-8 text (at byte 18)"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "nothing runs: {stdout}");
}

#[test]
fn missing_and_malformed_files_name_the_file() {
    let cases = [
        (
            "SELECT * FROM 'testdata/nothing/*.parquet'",
            "error: no file matches 'testdata/nothing/*.parquet'",
        ),
        (
            "SELECT * FROM 'testdata/malformed/truncated.parquet'",
            "error: reading the schema of 'testdata/malformed/truncated.parquet': Parquet error",
        ),
        (
            "SELECT count(DISTINCT order_id) FROM 'testdata/malformed/corrupt_pages.parquet'",
            "error: reading 'file:///",
        ),
    ];
    for (sql, start) in cases {
        let output = knit().args(["-c", sql]).output().unwrap();
        let (_, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(1), "{sql}");
        assert!(stderr.starts_with(start), "{sql}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}

#[test]
fn memory_limit_is_enforced_with_a_clear_error() {
    let sql = "SELECT count(*) FROM generate_series(1, 300000) a \
               JOIN generate_series(1, 300000) b ON a.value || 'x' = b.value || 'x'";
    let output = knit()
        .args(["--memory-limit", "4M", "-c", sql])
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: Resources exhausted"), "{stderr}");
    assert!(
        stderr.contains("the memory limit is 4.0 MiB: raise it with --memory-limit"),
        "{stderr}"
    );
}

#[test]
fn closed_pipe_ends_quietly() {
    let mut child = knit()
        .args([
            "--format",
            "csv",
            "-c",
            "SELECT value FROM generate_series(1, 5000000)",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut header = String::new();
    stdout.read_line(&mut header).unwrap();
    assert_eq!(header, "value\n");
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn interrupt_cancels_a_long_query() {
    // Billions of rows: minutes of work unless the interrupt stops it.
    let sql = "SELECT sum(value % 7) FROM generate_series(1, 100000000000)";
    let child = knit()
        .args(["-c", sql])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let interrupted = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "took {:?}",
        interrupted.elapsed()
    );
    assert_eq!(output.status.code(), Some(130));
    assert_eq!(text(&output).1, "cancelled\n");
}

#[test]
fn a_statement_past_its_timeout_is_cancelled_and_the_script_stops() {
    let long = "SELECT sum(value % 7) FROM generate_series(1, 100000000000)";
    let started = Instant::now();
    let output = knit()
        .args(["--timeout", "500ms", "-c", "SELECT 1 AS quick", "-c", long])
        .args(["-c", "SELECT 'never reached'"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "error: the statement ran longer than the statement timeout of 500ms and was \
         cancelled: raise it with --timeout or SET knit.statement_timeout = '10m' ('0' \
         turns it off)\n"
    );
    assert!(stdout.contains("| 1     |"), "{stdout}");
    assert!(!stdout.contains("never reached"), "{stdout}");

    // Set in the session, it bounds the statements after it; 0 lifts it again.
    let output = knit()
        .args(["-c", "SET knit.statement_timeout = '300ms'", "-c", long])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).1.contains("statement timeout of 300ms"));
    let output = knit()
        .args(["--timeout", "300ms", "-c", "SET knit.statement_timeout = 0"])
        .args([
            "-c",
            "SELECT count(*) AS n FROM generate_series(1, 3000000)",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);

    let output = knit()
        .args(["--timeout", "soon", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("'soon' is not a duration"));
}

#[test]
fn a_copy_past_its_timeout_leaves_the_target_and_no_staged_file() {
    let dir = scratch_dir("copy-timeout");
    for name in ["out.csv", "out.parquet"] {
        let target = dir.join(name);
        std::fs::write(&target, "before").unwrap();
        let sql = format!(
            "COPY (SELECT value, value * 2 AS twice FROM generate_series(1, 100000000000)) \
             TO '{}'",
            target.display()
        );
        let output = knit()
            .args(["--timeout", "700ms", "-c", &sql])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", text(&output).1);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "before");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
