// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Writes the bundled e-commerce sample as Parquet: `gen_sample OUT_DIR [SEED] [USERS]`.
//!
//! `testdata/ecommerce/` is this program's output with the defaults; rerunning it
//! reproduces those files.

#![allow(clippy::print_stderr)]

use std::fs::File;
use std::path::Path;
use std::process::ExitCode;

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use knit_benches::ecommerce;

const DEFAULT_SEED: u64 = 20_261_128;
const DEFAULT_USERS: usize = 200;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: gen_sample OUT_DIR [SEED] [USERS]");
        return ExitCode::from(2);
    };
    let seed = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let users = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_USERS);
    match write_sample(Path::new(out), seed, users) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_sample(out: &Path, seed: u64, users: usize) -> Result<(), Box<dyn std::error::Error>> {
    let sample = ecommerce::generate(seed, users)?;
    write_parquet(&out.join("identifies"), &[sample.identifies])?;
    // Two files, so that the sample also shows reading a directory or a glob.
    let tracks = sample.tracks;
    let half = tracks.num_rows() / 2;
    write_parquet(
        &out.join("tracks"),
        &[
            tracks.slice(0, half),
            tracks.slice(half, tracks.num_rows() - half),
        ],
    )?;
    write_parquet(&out.join("orders"), &[sample.orders])?;
    Ok(())
}

/// Writes one `part-N.parquet` per batch into `dir`, each through a temporary name.
fn write_parquet(dir: &Path, parts: &[RecordBatch]) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    for (n, batch) in parts.iter().enumerate() {
        let path = dir.join(format!("part-{n}.parquet"));
        let temporary = dir.join(format!(".part-{n}.parquet.tmp"));
        let properties = WriterProperties::builder().build();
        let mut writer =
            ArrowWriter::try_new(File::create(&temporary)?, batch.schema(), Some(properties))?;
        writer.write(batch)?;
        writer.close()?;
        std::fs::rename(&temporary, &path)?;
        eprintln!("wrote {} ({} rows)", path.display(), batch.num_rows());
    }
    Ok(())
}
