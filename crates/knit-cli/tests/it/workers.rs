// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit worker` processes on 127.0.0.1, and sessions and project runs that use them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::project::{PROJECTS, assert_outputs_match, project_args, scratch};
use crate::repl::Terminal;
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
    start_worker_with(&[])
}

/// The test certificates (`testdata/tls`).
const TLS: &str = "testdata/tls";

/// Starts a worker serving TLS with the test certificate, trusting the test authority
/// for the workers it reads from.
fn start_tls_worker() -> WorkerProcess {
    start_worker_with(&[
        "--tls-cert",
        &format!("{TLS}/worker.pem"),
        "--tls-key",
        &format!("{TLS}/worker.key"),
    ])
}

/// Starts a worker with `extra` arguments, as [`start_worker`].
fn start_worker_with(extra: &[&str]) -> WorkerProcess {
    let mut child = knit()
        .args(["worker", "--listen", "127.0.0.1:0", "--memory-limit", "1G"])
        .args(extra)
        .env("KNIT_WORKER_CA", format!("{TLS}/ca.pem"))
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

/// pb projects on three workers give pb's outputs, with scans spread however small
/// (the engine's option set from the environment, as a project run has no `SET`): the
/// id graph's stitch is routed to the workers, and outputs computed two at a time.
#[test]
fn a_project_runs_on_three_workers_with_pb_outputs() {
    let workers: Vec<_> = (0..3).map(|_| start_worker()).collect();
    let workers = list(&workers);
    // The bundled sample's tracks are two files: rows arrive in a different order
    // from run to run.
    for (project, tables, end) in [PROJECTS[0], PROJECTS[2], PROJECTS[6]] {
        let out = scratch(&format!("workers-{}", project.replace('/', "_")));
        let output = knit_on(&workers, TOKEN)
            .env(
                "DATAFUSION_DISTRIBUTED_FILE_SCAN_CONFIG_BYTES_PER_PARTITION",
                "1",
            )
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

    let stderr = refused_start(&["--listen", "nowhere"]);
    assert!(
        stderr.contains("--listen 'nowhere' is not an address"),
        "{stderr}"
    );

    // An engine option from the environment that does not parse names the variable.
    let output = knit_on(&list(&workers), TOKEN)
        .env(
            "DATAFUSION_DISTRIBUTED_FILE_SCAN_CONFIG_BYTES_PER_PARTITION",
            "lots",
        )
        .args(["-q", "-c", "SELECT 1"])
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("DATAFUSION_DISTRIBUTED_FILE_SCAN_CONFIG_BYTES_PER_PARTITION")
            && stderr.contains("'lots'"),
        "{stderr}"
    );
}

/// Starts `knit worker` with the token and `args`, which it must refuse; its stderr.
fn refused_start(args: &[&str]) -> String {
    let output = knit()
        .arg("worker")
        .args(args)
        .env("KNIT_WORKER_TOKEN", TOKEN)
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(!output.status.success(), "{stderr}");
    stderr
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

/// The CPU time a process has used, in clock ticks (Linux's `/proc/PID/stat`).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's name (in parentheses, which may hold spaces):
    // utime and stime are the 12th and 13th of them.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

#[test]
fn a_worker_killed_mid_query_fails_it_naming_the_worker_and_the_shell_goes_on() {
    let mut workers: Vec<_> = (0..2).map(|_| start_worker()).collect();
    let all = list(&workers);
    let mut shell = Terminal::start_with(
        "worker-killed",
        &[("KNIT_WORKERS", all.as_str()), ("KNIT_WORKER_TOKEN", TOKEN)],
    );
    // A scan spread over the workers, each row's work long enough (tens of seconds in
    // a debug build) that the kill lands while a worker computes; small batches keep
    // each batch's text far below 2 GiB.
    shell.send(b"SET distributed.file_scan_config_bytes_per_partition = 1;\r");
    shell.send(b"SET datafusion.execution.batch_size = 64;\r");
    shell.send(b"SELECT 'settings' || ' done' AS s;\r");
    shell.wait_for("settings done");
    let before: Vec<u64> = workers.iter().map(|w| cpu_ticks(w.child.id())).collect();
    shell.send(
        format!(
            "SELECT event, sum(length(regexp_replace(repeat(event, 20000), 'o', 'x', 'g'))) \
             FROM '{EVENTS}' GROUP BY event;\r"
        )
        .as_bytes(),
    );
    // The worker to kill is one that runs a task of the query (the engine may place
    // both tasks on one worker).
    let started = Instant::now();
    let busy = loop {
        let busy = (0..workers.len()).find(|&i| cpu_ticks(workers[i].child.id()) > before[i] + 50);
        if let Some(busy) = busy {
            break busy;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no worker ran the query: {}",
            shell.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let dead = workers[busy].address.clone();
    let alive = workers[1 - busy].address.clone();
    workers[busy].child.kill().unwrap();
    workers[busy].child.wait().unwrap();
    let killed_at = Instant::now();
    let screen = shell.wait_for(&format!(
        "knit worker {dead} failed or could not be reached"
    ));
    assert!(
        killed_at.elapsed() < Duration::from_secs(60),
        "{:?}",
        killed_at.elapsed()
    );
    assert!(
        screen.contains("leave it out of the worker list"),
        "{screen}"
    );
    // The session goes on: on the worker left, the same scan answers.
    shell.send(format!("SET knit.workers = '{alive}';\r").as_bytes());
    shell.send(
        format!("SELECT event, count(*) AS n FROM '{EVENTS}' GROUP BY event ORDER BY event;\r")
            .as_bytes(),
    );
    let screen = shell.wait_for("| product_viewed  | 2864 ");
    assert!(screen.contains("| added_to_cart   | 1455 "), "{screen}");
    shell.send(b"\\q\r");
    assert_eq!(shell.wait_for_exit(), 0);
    drop(workers);
}

#[test]
fn tls_workers_answer_coordinators_that_trust_their_authority() {
    let workers: Vec<_> = (0..2).map(|_| start_tls_worker()).collect();
    let all = list(&workers);
    assert!(all.starts_with("https://127.0.0.1:"), "{all}");
    let count = |ca: Option<&str>, list: &str| {
        let mut command = knit_on(list, TOKEN);
        match ca {
            Some(ca) => command.env("KNIT_WORKER_CA", format!("{TLS}/{ca}")),
            None => command.env_remove("KNIT_WORKER_CA"),
        };
        let output = command
            .args([
                "--format",
                "csv",
                "-c",
                "SET distributed.file_scan_config_bytes_per_partition = 1",
                "-c",
                &format!(
                    "EXPLAIN ANALYZE SELECT event, count(*) AS n FROM '{EVENTS}' GROUP BY event"
                ),
                "-c",
                &format!(
                    "SELECT event, count(*) AS n FROM '{EVENTS}' GROUP BY event ORDER BY event"
                ),
            ])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&output);
        (output.status.success(), stdout, stderr)
    };
    // Trusted: the query runs on the workers (their shuffle too is over TLS).
    let (ok, stdout, stderr) = count(Some("ca.pem"), &all);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("NetworkShuffleExec"), "{stdout}");
    assert!(
        stdout.ends_with(
            "event,n\nadded_to_cart,1455\norder_completed,235\npage_viewed,1416\nproduct_viewed,2864\n"
        ),
        "{stdout}"
    );
    // Another authority: the certificate is refused, naming the worker.
    let (ok, _, stderr) = count(Some("other_ca.pem"), &all);
    assert!(!ok);
    assert!(
        stderr.contains(&workers[0].address.replace("https://", ""))
            || stderr.contains(&workers[1].address.replace("https://", "")),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
    // No authority named: the error says which variable to set.
    let (ok, _, stderr) = count(None, &all);
    assert!(!ok);
    assert!(stderr.contains("KNIT_WORKER_CA is not set"), "{stderr}");
    // In clear to a worker that serves TLS: refused, naming the worker.
    let plain = all.replace("https://", "");
    let (ok, _, stderr) = count(Some("ca.pem"), &plain);
    assert!(!ok);
    assert!(
        stderr.contains("failed or could not be reached")
            && stderr.contains("the list does not say https://"),
        "{stderr}"
    );
    assert!(!stderr.contains("object store"), "{stderr}");
}

#[test]
fn a_worker_refuses_a_certificate_file_that_holds_none() {
    let readme = format!("{TLS}/README.md");
    let key = format!("{TLS}/worker.key");
    let stderr = refused_start(&["--tls-cert", &readme, "--tls-key", &key]);
    assert!(
        stderr.contains("README.md' holds no PEM certificate"),
        "{stderr}"
    );
    let stderr = refused_start(&["--tls-cert", &format!("{TLS}/worker.pem")]);
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

/// A profile store filled and refreshed on three workers, scans spread however small:
/// the store's own tables (Delta, with deletion vectors and change feeds), a refresh's
/// scope of ids and its lookups are read in the coordinator, and the store ends equal,
/// row for row, to one full local run over the same files.
#[test]
fn a_store_refreshes_on_three_workers_as_a_local_full_run() {
    use crate::store::{
        EVENTS, Lcg, ORDERS, differences_with, random_rows, write_project, write_table_file,
    };

    let workers: Vec<_> = (0..3).map(|_| start_worker()).collect();
    let workers = list(&workers);
    let dir = scratch("workers-store");
    let _ = std::fs::remove_dir_all(&dir);
    let project = write_project(&dir);
    let tables = dir.join("tables");
    let run = |store: &std::path::Path, on_workers: bool| {
        let mut command = if on_workers {
            let mut command = knit_on(&workers, TOKEN);
            command.env(
                "DATAFUSION_DISTRIBUTED_FILE_SCAN_CONFIG_BYTES_PER_PARTITION",
                "1",
            );
            command
        } else {
            knit()
        };
        let output = command
            .args(["project", "run"])
            .arg(&project)
            .arg("--tables")
            .arg(&tables)
            .arg("--store")
            .arg(store)
            .args(["--end-time", "2100-01-01T00:00:00Z"])
            .output()
            .unwrap();
        let (_, stderr) = text(&output);
        assert!(output.status.success(), "{stderr}");
        stderr
    };
    let mut rng = Lcg(4242);
    let mut incremental = 0;
    for arrival in 0..3 {
        let (events, orders) = random_rows(&mut rng, 30, 6);
        let file = format!("part-{arrival}");
        write_table_file(&tables, "events", &file, EVENTS, &events);
        write_table_file(&tables, "orders", &file, ORDERS, &orders);
        incremental += usize::from(run(&dir.join("store"), true).contains("incremental"));
    }
    assert_eq!(incremental, 2);
    run(&dir.join("full"), false);
    assert_eq!(
        differences_with(
            knit(),
            &dir.join("full"),
            &dir.join("store").display().to_string(),
            10
        ),
        Vec::<String>::new()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
