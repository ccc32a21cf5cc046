// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `COPY ... TO 'file'` is atomic: a failing query leaves no file under the target name,
//! nor its staging file; a successful one leaves exactly the target.

use std::path::Path;

use knit_core::SessionBuilder;

use crate::Scratch;

fn scratch(name: &str) -> Scratch {
    Scratch::new("knit-copy", name)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Many batches of rows, then a division by zero: DataFusion has written the first
/// batches by the time the query fails.
const FAILS_LATE: &str = "SELECT CASE WHEN value < 3000000 THEN value ELSE 1 / (value - value) END \
                          AS v FROM generate_series(1, 4000000)";

#[tokio::test]
async fn a_failed_copy_leaves_nothing_behind() {
    let dir = scratch("failed");
    let session = SessionBuilder::new().build().unwrap();
    for format in ["csv", "parquet"] {
        let target = dir.join(format!("out.{format}"));
        let err = session
            .sql(&format!("COPY ({FAILS_LATE}) TO '{}'", target.display()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("Divide by zero"), "{err}");
    }
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
}

#[tokio::test]
async fn a_failed_copy_keeps_the_previous_file() {
    let dir = scratch("previous");
    let session = SessionBuilder::new().build().unwrap();
    let target = dir.join("out.csv");
    std::fs::write(&target, "v\n1\n").unwrap();
    session
        .sql(&format!("COPY ({FAILS_LATE}) TO '{}'", target.display()))
        .await
        .unwrap_err();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "v\n1\n");
    assert_eq!(listing(&dir), vec!["out.csv"]);
}

#[tokio::test]
async fn a_copy_writes_the_target_and_reports_its_rows() {
    let dir = scratch("ok");
    let session = SessionBuilder::new().build().unwrap();
    let target = dir.join("out.csv");
    let batches = session
        .sql(&format!(
            "COPY (SELECT value AS v FROM generate_series(1, 5)) TO '{}'",
            target.display()
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let count = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(count.contains("| 5     |"), "{count}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "v\n1\n2\n3\n4\n5\n"
    );
    assert_eq!(listing(&dir), vec!["out.csv"]);
    // A directory target is written as DataFusion writes it.
    let out_dir = dir.join("parts");
    session
        .sql(&format!(
            "COPY (SELECT 1 AS v) TO '{}/' STORED AS PARQUET",
            out_dir.display()
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(listing(&out_dir).len(), 1);
}

#[cfg(unix)]
#[tokio::test]
async fn a_copy_keeps_the_targets_mode_and_writes_through_links() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("mode");
    let session = SessionBuilder::new().build().unwrap();
    let target = dir.join("private.csv");
    std::fs::write(&target, "v\n0\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    session
        .sql(&format!("COPY (SELECT 1 AS v) TO '{}'", target.display()))
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "v\n1\n");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // A link is written through: the file it points to changes, the link stays.
    let link = dir.join("latest.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    session
        .sql(&format!("COPY (SELECT 2 AS v) TO '{}'", link.display()))
        .await
        .unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "v\n2\n");

    // A read-only file is refused, and stays as it was.
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o444)).unwrap();
    let error = session
        .sql(&format!("COPY (SELECT 3 AS v) TO '{}'", target.display()))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("is read-only"), "{error}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "v\n2\n");

    // A folder in the place of the file is refused, not written into.
    let folder = dir.join("folder.parquet");
    std::fs::create_dir_all(&folder).unwrap();
    let error = session
        .sql(&format!("COPY (SELECT 1 AS v) TO '{}'", folder.display()))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("is a folder"), "{error}");
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
}

#[tokio::test]
async fn staged_files_of_killed_copies_are_removed() {
    let dir = scratch("stale");
    let session = SessionBuilder::new().build().unwrap();
    // A process that is gone (pid 999999999) left these; a live one's stays.
    let stale = [
        ".out.csv.knit-999999999-0.tmp",
        ".out.csv.knit-999999999-3.tmp#1",
    ];
    for name in stale {
        std::fs::write(dir.join(name), "partial").unwrap();
    }
    let live = format!(".other.csv.knit-{}-7.tmp", std::process::id());
    std::fs::write(dir.join(&live), "partial").unwrap();
    session
        .sql(&format!(
            "COPY (SELECT 1 AS v) TO '{}'",
            dir.join("out.csv").display()
        ))
        .await
        .unwrap();
    let mut expected = vec!["out.csv".to_string(), live];
    expected.sort();
    assert_eq!(listing(&dir), expected);
}

/// Places the file system refuses are errors that name the target and the cause, at
/// once (a file under /proc made the store retry forever), and a device that runs out
/// of space is a write failure, not DataFusion's internal error.
#[tokio::test]
async fn targets_the_file_system_refuses_are_named_errors() {
    let session = SessionBuilder::new().build().unwrap();
    let started = std::time::Instant::now();
    let err = session
        .sql("COPY (SELECT 1 AS a) TO '/proc/knit-copy-test.csv'")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot write '/proc/knit-copy-test.csv': "),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let frame = session
        .sql("COPY (SELECT 1 AS a) TO '/dev/full' STORED AS CSV")
        .await;
    let err = match frame {
        Ok(frame) => frame.collect().await.unwrap_err(),
        Err(e) => panic!("planned: {e}"),
    };
    let report = knit_core::ErrorReport::new(&err.into(), None).to_string();
    assert!(
        report.starts_with(
            "writing the output failed: the file could not be finished: the disk may be full"
        ),
        "{report}"
    );
    assert!(!report.contains("DataFusion"), "{report}");
}
