// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit worker` processes on 127.0.0.1, and sessions and project runs that use them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::project::{PROJECTS, assert_outputs_match, project_args, scratch};
use crate::{knit, text};

const TOKEN: &str = "cli-test-token-5c1e";

/// A `knit worker` process, killed when dropped.
struct WorkerProcess {
    child: Child,
    address: String,
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a worker on a free port of 127.0.0.1 and reads the address it prints.
fn start_worker() -> WorkerProcess {
    let mut child = knit()
        .args(["worker", "--listen", "127.0.0.1:0", "--memory-limit", "1G"])
        .env("KNIT_WORKER_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("knit worker listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    WorkerProcess { child, address }
}

fn list(workers: &[WorkerProcess]) -> String {
    workers
        .iter()
        .map(|w| w.address.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// `knit` with the workers of `workers` and `token`.
fn knit_on(workers: &str, token: &str) -> Command {
    let mut command = knit();
    command
        .env("KNIT_WORKERS", workers)
        .env("KNIT_WORKER_TOKEN", token);
    command
}

const EVENTS: &str = "testdata/ecommerce/tracks";

/// Counts the events by type on `workers`, the scan spread over all of them.
fn spread_count(workers: &str, token: &str) -> Output {
    knit_on(workers, token)
        .args([
            "-c",
            "SET distributed.file_scan_config_bytes_per_partition = 1",
            "-c",
            &format!("SELECT event, count(*) FROM '{EVENTS}' GROUP BY event"),
        ])
        .output()
        .unwrap()
}

#[test]
fn a_project_runs_on_three_workers_with_pb_outputs() {
    let workers: Vec<_> = (0..3).map(|_| start_worker()).collect();
    let workers = list(&workers);
    for (project, tables, end) in [PROJECTS[0], PROJECTS[2]] {
        let out = scratch(&format!("workers-{}", project.replace('/', "_")));
        let output = knit_on(&workers, TOKEN)
            .args(project_args("run", project, tables, end, &out))
            .output()
            .unwrap();
        let (_, stderr) = text(&output);
        assert!(output.status.success(), "{project}: {stderr}");
        assert_outputs_match(&format!("{project}/expected"), &out);
        let _ = std::fs::remove_dir_all(&out);
    }

    // A query's plan (as run: EXPLAIN ANALYZE) shows its stages, and its answer is the
    // local one.
    let sql = format!(
        "SELECT event, count(*) AS n FROM '{EVENTS}' GROUP BY event ORDER BY n DESC, event"
    );
    let local = knit()
        .args(["-q", "--format", "csv", "-c", &sql])
        .output()
        .unwrap();
    assert!(local.status.success(), "{}", text(&local).1);
    let remote = knit_on(&workers, TOKEN)
        .args([
            "-q",
            "--format",
            "csv",
            "-c",
            "SET distributed.file_scan_config_bytes_per_partition = 1",
            "-c",
            &sql,
            "-c",
            &format!("EXPLAIN ANALYZE {sql}"),
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&remote);
    assert!(remote.status.success(), "{stderr}");
    assert!(stdout.starts_with(&text(&local).0), "{stdout}");
    assert!(stdout.contains("NetworkShuffleExec"), "{stdout}");
}

#[test]
fn workers_refuse_a_wrong_token_and_need_one() {
    // Two workers: a query is spread only over more than one.
    let workers: Vec<_> = (0..2).map(|_| start_worker()).collect();
    let output = spread_count(&list(&workers), "wrong-token");
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("token is wrong"), "{stderr}");
    assert!(
        !stderr.contains("wrong-token") && !stderr.contains(TOKEN),
        "{stderr}"
    );

    let output = knit()
        .args(["worker", "--listen", "127.0.0.1:0"])
        .env_remove("KNIT_WORKER_TOKEN")
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("set KNIT_WORKER_TOKEN"), "{stderr}");

    let output = knit()
        .args(["worker", "--listen", "nowhere"])
        .env("KNIT_WORKER_TOKEN", TOKEN)
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--listen 'nowhere' is not an address"),
        "{stderr}"
    );
}

#[test]
fn a_killed_worker_fails_the_query_naming_it() {
    let mut workers: Vec<_> = (0..2).map(|_| start_worker()).collect();
    let all = list(&workers);
    let dead = workers[1].address.clone();
    workers[1].child.kill().unwrap();
    workers[1].child.wait().unwrap();
    let started = Instant::now();
    let output = spread_count(&all, TOKEN);
    let (_, stderr) = text(&output);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(&dead), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60));
    drop(workers);
}
