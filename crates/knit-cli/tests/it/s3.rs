// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! S3 against a real local server (`scripts/s3-server start`, which `scripts/test` runs):
//! `CREATE EXTERNAL TABLE`, URL tables with globs, `COPY ... TO`, and refused credentials.
//! Without `KNIT_TEST_S3_ENDPOINT` these tests say so and pass.

use std::process::{Command, Output};

use crate::{knit, text};

pub(crate) struct LocalS3 {
    endpoint: String,
    bucket: String,
    key_id: String,
    secret: String,
}

pub(crate) fn local_s3() -> Option<LocalS3> {
    let var = |name: &str| std::env::var(name).ok();
    let s3 = LocalS3 {
        endpoint: var("KNIT_TEST_S3_ENDPOINT")?,
        bucket: var("KNIT_TEST_S3_BUCKET")?,
        key_id: var("KNIT_TEST_S3_ACCESS_KEY_ID")?,
        secret: var("KNIT_TEST_S3_SECRET_ACCESS_KEY")?,
    };
    Some(s3)
}

impl LocalS3 {
    /// `knit` with the server's settings in the `AWS_*` environment.
    pub(crate) fn knit(&self) -> Command {
        let mut command = knit();
        command
            .env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_ENDPOINT", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1");
        command
    }

    /// A prefix of the bucket that no other test uses.
    pub(crate) fn prefix(&self, test: &str) -> String {
        format!("s3://{}/{test}-{}", self.bucket, std::process::id())
    }
}

fn run(command: &mut Command, args: &[&str]) -> Output {
    command.arg("-q").arg("--format").arg("csv");
    for sql in args {
        command.arg("-c").arg(sql);
    }
    command.output().unwrap()
}

macro_rules! require_s3 {
    () => {
        match local_s3() {
            Some(s3) => s3,
            None => {
                eprintln!("skipped: no local S3 (run scripts/s3-server start and source its env)");
                return;
            }
        }
    };
}

#[test]
fn copy_then_read_with_url_tables_and_globs() {
    let s3 = require_s3!();
    let prefix = s3.prefix("roundtrip");
    let output = run(
        &mut s3.knit(),
        &[
            &format!(
                "COPY (SELECT * FROM 'testdata/ecommerce/orders/' WHERE status = 'completed') \
                 TO '{prefix}/orders/completed.parquet' STORED AS PARQUET"
            ),
            &format!(
                "COPY (SELECT * FROM 'testdata/ecommerce/orders/' WHERE status = 'refunded') \
                 TO '{prefix}/orders/refunded.parquet' STORED AS PARQUET"
            ),
            &format!("SELECT count(*) AS n FROM '{prefix}/orders/'"),
            &format!("SELECT count(*) AS n FROM '{prefix}/orders/ref*.parquet'"),
            &format!("SELECT round(sum(total), 2) AS total FROM '{prefix}/orders/*.parquet'"),
        ],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "count\n217\ncount\n30\nn\n247\nn\n30\ntotal\n32231.64\n"
    );
}

#[test]
fn external_table_with_credentials_in_options() {
    let s3 = require_s3!();
    let prefix = s3.prefix("options");
    let setup = run(
        &mut s3.knit(),
        &[&format!(
            "COPY (SELECT * FROM 'testdata/ecommerce/identifies/') TO '{prefix}/identifies/part-0.parquet' \
             STORED AS PARQUET"
        )],
    );
    assert!(setup.status.success(), "{}", text(&setup).1);
    // No AWS_* environment at all: everything comes from the table's options.
    let create = format!(
        "CREATE EXTERNAL TABLE identifies STORED AS PARQUET LOCATION '{prefix}/identifies/' \
         OPTIONS ('aws.access_key_id' '{}', 'aws.secret_access_key' '{}', \
         'aws.endpoint' '{}', 'aws.allow_http' 'true', 'aws.region' 'us-east-1')",
        s3.key_id, s3.secret, s3.endpoint
    );
    let output = run(
        &mut knit(),
        &[
            &create,
            "SELECT count(*) AS n, count(DISTINCT user_id) AS users FROM identifies",
        ],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, "n,users\n670,159\n");
}

#[test]
fn wrong_credentials_are_refused_with_advice() {
    let s3 = require_s3!();
    let prefix = s3.prefix("denied");
    let setup = run(
        &mut s3.knit(),
        &[&format!(
            "COPY (SELECT 1 AS x) TO '{prefix}/one.parquet' STORED AS PARQUET"
        )],
    );
    assert!(setup.status.success(), "{}", text(&setup).1);
    let output = run(
        s3.knit().env("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
        &[&format!("SELECT * FROM '{prefix}/'")],
    );
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("403 Forbidden: SignatureDoesNotMatch"),
        "{stderr}"
    );
    assert!(
        stderr.contains("(S3 refused the credentials: check AWS_ACCESS_KEY_ID"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn unreachable_endpoint_says_so() {
    let s3 = require_s3!();
    let output = run(
        s3.knit().env("AWS_ENDPOINT", "http://127.0.0.1:9"),
        &[&format!("SELECT * FROM 's3://{}/x.parquet'", s3.bucket)],
    );
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains(
            "the network to the object store failed (the file may be fine): check AWS_ENDPOINT"
        ),
        "{stderr}"
    );
}

/// An endpoint that accepts connections and never answers (a stalled network): the query
/// fails within the bounds set, saying the network failed, not that the file is bad.
#[test]
fn a_stalled_endpoint_fails_in_bounded_time_as_a_network_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let started = std::time::Instant::now();
    let output = knit()
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT", format!("http://127.0.0.1:{port}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_TIMEOUT", "1 second")
        .env("AWS_MAX_RETRIES", "1")
        .env("AWS_RETRY_TIMEOUT", "3s")
        .args(["-c", "SELECT count(*) FROM 's3://stalled/events.parquet'"])
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(elapsed.as_secs() < 20, "took {elapsed:?}: {stderr}");
    assert!(
        stderr.contains("the network to the object store failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("not valid Parquet"), "{stderr}");
}

/// Without credentials, and with the instance metadata service turned off, the error is
/// at once, and says what to set.
#[test]
fn missing_credentials_are_named_at_once() {
    let started = std::time::Instant::now();
    let output = knit()
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args([
            "-c",
            "SELECT count(*) FROM 's3://somebucket/events.parquet'",
        ])
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(started.elapsed().as_secs() < 10, "{stderr}");
    assert!(
        stderr.contains("no S3 credentials for bucket 'somebucket'"),
        "{stderr}"
    );
    assert!(stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
}

#[test]
fn delta_tables_on_s3_write_merge_travel_and_change_feed() {
    let s3 = require_s3!();
    let table = format!("{}/people", s3.prefix("delta"));
    let merge = |rows: &str| {
        format!(
            "COPY (SELECT * FROM (VALUES {rows}) t(id, name)) TO '{table}' STORED AS DELTA \
             OPTIONS ('mode' 'merge', 'keys' 'id')"
        )
    };
    let output = run(
        &mut s3.knit(),
        &[
            &merge("(1, 'ann'), (2, 'bob')"),
            &merge("(1, 'ann'), (2, 'ben'), (3, 'cat')"),
            &format!("SELECT id, name FROM '{table}' ORDER BY id"),
            &format!(
                "SELECT id, _change_type FROM table_changes('{table}', 1) ORDER BY id, _change_type"
            ),
            &format!(
                "CREATE EXTERNAL TABLE first STORED AS DELTA LOCATION '{table}' OPTIONS ('version' '0')"
            ),
            "SELECT count(*) AS n FROM first",
            &format!("SELECT version, operation FROM delta_history('{table}')"),
        ],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "count,version,inserted,updated,deleted\n2,0,2,0,0\n\
         count,version,inserted,updated,deleted\n3,1,1,1,0\n\
         id,name\n1,ann\n2,ben\n3,cat\n\
         id,_change_type\n2,update_postimage\n2,update_preimage\n3,insert\n\
         n\n2\n\
         version,operation\n1,MERGE\n0,WRITE\n"
    );
}

#[test]
fn a_project_writes_delta_outputs_to_s3() {
    let s3 = require_s3!();
    let out = s3.prefix("project-delta");
    for _ in 0..2 {
        let output = s3
            .knit()
            .args([
                "project",
                "run",
                "testdata/oracle/ecommerce/project",
                "--format",
                "delta",
            ])
            .args([
                "--tables",
                "testdata/oracle/ecommerce/tables",
                "--out",
                &out,
            ])
            .args(["--end-time", "2100-01-01T00:00:00Z"])
            .output()
            .unwrap();
        let (_, stderr) = text(&output);
        assert!(output.status.success(), "{stderr}");
    }
    let output = run(
        &mut s3.knit(),
        &[
            &format!("SELECT count(*) AS n FROM '{out}/user_active_users'"),
            &format!("SELECT version, operation FROM delta_history('{out}/user_id_stitcher')"),
        ],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, "n\n4\nversion,operation\n1,MERGE\n0,WRITE\n");
}

/// Commits on S3 are conditional puts: of merges started at once on one table, each
/// commits or fails on the conflict, and the table holds one writer's rows whole.
#[test]
fn concurrent_delta_merges_on_s3_commit_or_fail_cleanly() {
    let s3 = require_s3!();
    let table = format!("{}/contended", s3.prefix("delta-commits"));
    let merge = |factor: u32| {
        format!(
            "COPY (SELECT value AS id, value * {factor} AS v FROM range(50000)) TO '{table}' \
             STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' 'id')"
        )
    };
    let first = run(&mut s3.knit(), &[&merge(1)]);
    assert!(first.status.success(), "{}", text(&first).1);
    let writers: Vec<_> = (2..5)
        .map(|factor| {
            s3.knit()
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
            assert!(stderr.contains("was changed by another writer"), "{stderr}");
        }
    }
    assert!(committed >= 1);
    let output = run(
        &mut s3.knit(),
        &[
            &format!("SELECT count(*) AS versions FROM delta_history('{table}')"),
            &format!(
                "SELECT count(*) AS n, count(DISTINCT v / id) AS factors FROM '{table}' \
                 WHERE id > 0"
            ),
        ],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        format!("versions\n{}\nn,factors\n49999,1\n", committed + 1)
    );
}
