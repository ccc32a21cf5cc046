// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Finding the damaged file among many: a check of each Parquet file's frame (magic
//! bytes, footer length) and footer, run when reading a set of files has failed, so
//! that the error names the file to rewrite or leave out.
//!
//! The check reads 12 bytes and the footer of each file, so it runs only on the failure
//! path: reading a directory's schema already reads every footer.

use std::panic::AssertUnwindSafe;

use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::context::SessionState;
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use futures::TryStreamExt;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::panics;

/// Parquet's magic bytes, at the start and the end of every file.
const MAGIC: &[u8; 4] = b"PAR1";

/// How many damaged files are looked for before the check stops.
const MOST_REPORTED: usize = 3;

/// The Parquet files under `url` (those ending in `.parquet`, or every file when
/// `all_parquet`) whose frame or footer is damaged, each with what is wrong, in path
/// order; at most a few. Files that cannot be listed or read are left out: the original
/// error stands for them.
pub(crate) async fn damaged_parquet_files(
    state: &SessionState,
    url: &ListingTableUrl,
    all_parquet: bool,
) -> Vec<(String, String)> {
    let Ok(store) = state.runtime_env().object_store(url.object_store()) else {
        return Vec::new();
    };
    let Ok(stream) = url.list_all_files(state, store.as_ref(), "").await else {
        return Vec::new();
    };
    let Ok(mut files) = stream.try_collect::<Vec<ObjectMeta>>().await else {
        return Vec::new();
    };
    files.sort_by(|a, b| a.location.cmp(&b.location));
    let mut damaged = Vec::new();
    for file in files {
        let is_parquet = all_parquet
            || file
                .location
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
        if !is_parquet {
            continue;
        }
        if let Some(reason) = check(store.as_ref(), &file).await {
            let name = format!("{}{}", url.object_store().as_str(), file.location);
            damaged.push((name, reason));
            if damaged.len() == MOST_REPORTED {
                break;
            }
        }
    }
    damaged
}

/// What is wrong with one file's frame or footer, if anything.
async fn check(store: &dyn ObjectStore, file: &ObjectMeta) -> Option<String> {
    let size = file.size;
    if size < 12 {
        return Some(format!(
            "it has {size} bytes, fewer than the 12 of an empty Parquet file"
        ));
    }
    let head = store.get_range(&file.location, 0..4).await.ok()?;
    if head.as_ref() != MAGIC {
        return Some("it does not start with Parquet's magic bytes PAR1".to_string());
    }
    let tail = store.get_range(&file.location, size - 8..size).await.ok()?;
    if &tail[4..] != MAGIC {
        return Some("it does not end with Parquet's magic bytes PAR1 (truncated?)".to_string());
    }
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer > size - 12 {
        return Some(format!(
            "its footer claims {footer} bytes, but the file has {size} bytes (truncated?)"
        ));
    }
    let start = size - 8 - footer;
    let bytes = store
        .get_range(&file.location, start..size - 8)
        .await
        .ok()?;
    match std::panic::catch_unwind(AssertUnwindSafe(|| {
        ParquetMetaDataReader::decode_metadata(&bytes)
    })) {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(format!("its footer does not decode: {e}")),
        Err(payload) => Some(format!(
            "its footer does not decode: {}",
            panics::message(&*payload)
        )),
    }
}

/// The damaged files as one clause of an error message.
pub(crate) fn describe(damaged: &[(String, String)]) -> String {
    damaged
        .iter()
        .map(|(file, reason)| format!("'{file}' is not valid Parquet: {reason}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn each_kind_of_damage_is_named() {
        let dir = std::env::temp_dir().join(format!("knit-parquet-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/ecommerce/orders/part-0.parquet");
        let good = std::fs::read(good).unwrap();
        let mut long_footer = good.clone();
        let at = long_footer.len() - 8;
        long_footer[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut bad_footer = good.clone();
        let at = bad_footer.len() - 20;
        bad_footer[at..at + 8].copy_from_slice(&[0xFF; 8]);
        for (name, bytes) in [
            ("a_good.parquet", good.clone()),
            ("b_tiny.parquet", b"PAR1PAR1".to_vec()),
            ("c_not.parquet", b"this is not parquet at all".to_vec()),
            ("d_long_footer.parquet", long_footer),
            ("e_bad_footer.parquet", bad_footer),
            ("f_readme.txt", b"notes".to_vec()),
        ] {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let ctx = SessionContext::new();
        let url = ListingTableUrl::parse(dir.to_str().unwrap()).unwrap();
        let damaged = damaged_parquet_files(&ctx.state(), &url, false).await;
        let names: Vec<&str> = damaged
            .iter()
            .map(|(f, _)| f.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(
            names,
            ["b_tiny.parquet", "c_not.parquet", "d_long_footer.parquet"],
            "{damaged:?}"
        );
        assert!(damaged[0].1.contains("8 bytes"), "{damaged:?}");
        assert!(damaged[1].1.contains("magic"), "{damaged:?}");
        assert!(damaged[2].1.contains("footer claims"), "{damaged:?}");
        // Past the first three, the check stops; the fourth kind alone is found too.
        std::fs::remove_file(dir.join("b_tiny.parquet")).unwrap();
        let ctx = SessionContext::new();
        let damaged = damaged_parquet_files(&ctx.state(), &url, false).await;
        assert!(
            damaged[2].0.ends_with("e_bad_footer.parquet"),
            "{damaged:?}"
        );
        assert!(damaged[2].1.contains("does not decode"), "{damaged:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
