// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Damaged files give an error naming the file, never a panic: a file too short to be
//! Parquet, one whose footer claims more bytes than the file has, one damaged file in a
//! directory of good ones, and a few hundred files each with one byte flipped.

use std::path::Path;

use futures::TryStreamExt;
use knit_core::{ErrorReport, KnitSession, SessionBuilder};

use crate::Scratch;

fn scratch(name: &str) -> Scratch {
    Scratch::new("knit-damaged", name)
}

/// Runs a query to its end: its rows, or the one-line error a user sees.
async fn run(session: &KnitSession, sql: &str) -> Result<usize, String> {
    let report = |e: knit_core::CoreError| ErrorReport::new(&e, None).to_string();
    let query = session.start(sql).await.map_err(report)?;
    let batches: Vec<_> = query
        .stream
        .try_collect()
        .await
        .map_err(|e| report(e.into()))?;
    Ok(batches.iter().map(|b| b.num_rows()).sum())
}

fn good_file() -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/ecommerce/orders/part-0.parquet"),
    )
    .unwrap()
}

#[tokio::test]
async fn a_damaged_file_is_named() {
    let dir = scratch("named");
    let session = SessionBuilder::new().build().unwrap();
    let tiny = dir.join("tiny.parquet");
    std::fs::write(&tiny, b"PAR1PAR1").unwrap();
    let error = run(&session, &format!("SELECT * FROM '{}'", tiny.display()))
        .await
        .unwrap_err();
    assert!(
        error.contains("tiny.parquet' is not valid Parquet"),
        "{error}"
    );
    assert!(error.contains("8 bytes"), "{error}");

    // A footer length past the start of the file.
    let mut long = good_file();
    let at = long.len() - 8;
    let claimed = long.len() as u32 * 2;
    long[at..at + 4].copy_from_slice(&claimed.to_le_bytes());
    let long_path = dir.join("long.parquet");
    std::fs::write(&long_path, long).unwrap();
    let error = run(
        &session,
        &format!("SELECT * FROM '{}'", long_path.display()),
    )
    .await
    .unwrap_err();
    assert!(
        error.contains("long.parquet' is not valid Parquet"),
        "{error}"
    );
    assert!(error.contains("footer claims"), "{error}");

    // One damaged file among good ones: the directory's error names it.
    let many = dir.join("many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..4 {
        std::fs::write(many.join(format!("part-{i}.parquet")), good_file()).unwrap();
    }
    std::fs::write(many.join("part-9.parquet"), b"PAR1PAR1").unwrap();
    let error = run(
        &session,
        &format!("SELECT count(*) FROM '{}/'", many.display()),
    )
    .await
    .unwrap_err();
    assert!(
        error.contains("part-9.parquet' is not valid Parquet"),
        "{error}"
    );
    assert!(!error.contains("part-0.parquet"), "{error}");
    // The same through CREATE EXTERNAL TABLE.
    let error = session
        .sql(&format!(
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}/'",
            many.display()
        ))
        .await
        .map(|_| ())
        .map_err(|e| ErrorReport::new(&e, None).to_string())
        .unwrap_err();
    assert!(
        error.contains("part-9.parquet' is not valid Parquet"),
        "{error}"
    );
    // A README beside the data is not data; the directory reads without the bad file.
    std::fs::remove_file(many.join("part-9.parquet")).unwrap();
    std::fs::write(many.join("README.txt"), "about these files").unwrap();
    let rows = run(&session, &format!("SELECT * FROM '{}/'", many.display()))
        .await
        .unwrap();
    assert_eq!(rows, 4 * 247);
}

#[tokio::test]
async fn flipped_bytes_never_panic() {
    let dir = scratch("flipped");
    let session = SessionBuilder::new().build().unwrap();
    let source = dir.join("source.parquet");
    run(
        &session,
        &format!(
            "COPY (SELECT i, 'v' || (i % 7) AS s, i * 1.5 AS f FROM generate_series(1, 3000) \
             AS t(i)) TO '{}'",
            source.display()
        ),
    )
    .await
    .unwrap();
    let good = std::fs::read(&source).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let (mut failed, mut read) = (0, 0);
    for flip in 0..300 {
        let mut bytes = good.clone();
        // Half the flips in the last kilobyte, where the footer and page headers are.
        let at = if flip % 2 == 0 {
            next(bytes.len())
        } else {
            bytes.len() - 1 - next(1024.min(bytes.len()))
        };
        bytes[at] ^= (1 + next(255)) as u8;
        let path = dir.join(format!("flip-{flip}.parquet"));
        std::fs::write(&path, bytes).unwrap();
        let sql = format!(
            "SELECT count(*), max(i), max(s), min(f) FROM '{}'",
            path.display()
        );
        match run(&session, &sql).await {
            Ok(_) => read += 1,
            Err(error) => {
                failed += 1;
                assert!(
                    error.contains(&format!("flip-{flip}.parquet")),
                    "flip {flip} at byte {at}: {error}"
                );
                assert!(!error.contains("internal error"), "flip {flip}: {error}");
            }
        }
        std::fs::remove_file(&path).unwrap();
    }
    assert_eq!(read + failed, 300);
    assert!(failed > 10, "only {failed} of 300 flips failed");
}
