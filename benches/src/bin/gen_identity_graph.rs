// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Writes a seeded identity graph as Parquet: `gen_identity_graph OUT_DIR EDGES [SEED]`.
//!
//! `EDGES` may be written as `1e6` or `10000000`. Files: identifies, devices, orders
//! and edges (`.parquet`), in parts of about a million edges, written through temporary
//! names. See `knit_benches::identity_graph` for the shape of the data.

#![allow(clippy::print_stderr)]

use std::fs::File;
use std::path::Path;
use std::process::ExitCode;

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use knit_benches::identity_graph::{Tables, generate_people};
use knit_benches::rng::SplitMix64;

/// Edges generated and written at a time, to bound memory.
const EDGES_PER_PART: usize = 1_000_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(out), Some(edges)) = (
        args.first(),
        args.get(1).and_then(|e| e.parse::<f64>().ok()),
    ) else {
        eprintln!("usage: gen_identity_graph OUT_DIR EDGES [SEED]");
        return ExitCode::from(2);
    };
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(42);
    match write_graph(Path::new(out), edges as usize, seed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_graph(out: &Path, edges: usize, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    let names = ["identifies", "devices", "orders", "edges"];
    for name in names {
        std::fs::create_dir_all(out.join(name))?;
    }
    let mut rng = SplitMix64::new(seed);
    let mut person = 0;
    let mut written = 0;
    let mut part = 0;
    while written < edges {
        let mut tables = Tables::default();
        person = generate_people(
            &mut rng,
            person,
            EDGES_PER_PART.min(edges - written),
            &mut tables,
        );
        written += tables.edges.len();
        for (name, batch) in names.iter().zip(tables.batches()?) {
            write_part(&out.join(name), part, &batch)?;
        }
        part += 1;
    }
    eprintln!("wrote {} ({written} edges, {person} people)", out.display());
    Ok(())
}

fn write_part(
    dir: &Path,
    part: usize,
    batch: &RecordBatch,
) -> Result<(), Box<dyn std::error::Error>> {
    let path = dir.join(format!("part-{part:04}.parquet"));
    let temporary = dir.join(format!(".part-{part:04}.parquet.tmp"));
    let mut writer = ArrowWriter::try_new(File::create(&temporary)?, batch.schema(), None)?;
    writer.write(batch)?;
    writer.close()?;
    std::fs::rename(&temporary, &path)?;
    Ok(())
}
