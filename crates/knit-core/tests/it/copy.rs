// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `COPY ... TO 'file'` is atomic: a failing query leaves no file under the target name,
//! nor its staging file; a successful one leaves exactly the target.

use std::path::PathBuf;

use knit_core::SessionBuilder;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("knit-copy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn listing(dir: &PathBuf) -> Vec<String> {
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
