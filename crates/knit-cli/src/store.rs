// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit store status PATH`: what a profile store holds, from its state and its tables:
//! the last complete run (when, full or incremental, and why), the files each input
//! table read, and each output table with its version, rows and size on disk.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::project::store_state::StoreState;

/// `knit store ...`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Show a profile store's last run, the files it read and its tables.
    Status {
        /// The store's folder (as given to `knit project run --store`).
        path: PathBuf,
    },
}

/// Runs `knit store ...`.
pub fn run(command: StoreCommand) -> ExitCode {
    let StoreCommand::Status { path } = command;
    match status(&path) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The status of the store at `store`, as text.
fn status(store: &Path) -> Result<String, String> {
    if !store.is_dir() {
        return Err(format!(
            "'{}' is not a folder: name the folder given to --store",
            store.display()
        ));
    }
    let Some(state) = StoreState::read(store)? else {
        return Err(format!(
            "'{}' holds no completed run: run `knit project run DIR --store {}` first",
            store.display(),
            store.display()
        ));
    };
    let mut text = format!(
        "store {}\nlast run: {} ({}), {} to {}, end time {}{}\n",
        store.display(),
        state.run,
        state.mode,
        state.started_at,
        state.finished_at,
        state.end_time,
        state
            .begin_time
            .as_ref()
            .map(|b| format!(", begin time {b}"))
            .unwrap_or_default()
    );
    if let Ok(lock) = std::fs::read_to_string(store.join("_knit").join("lock")) {
        text.push_str(&format!("a run holds the lock: process {}\n", lock.trim()));
    }
    text.push_str("input tables:\n");
    for (table, files) in &state.tables {
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        text.push_str(&format!(
            "  {table}: {} files, {}\n",
            files.len(),
            human_bytes(bytes)
        ));
    }
    text.push_str("output tables:\n");
    for output in &state.outputs {
        let name = output["output"].as_str().unwrap_or_default();
        text.push_str(&format!(
            "  {name}: version {}, {} rows (+{} ~{} -{}), {}\n",
            output["version"],
            output["rows"],
            output["inserted"],
            output["updated"],
            output["deleted"],
            human_bytes(folder_size(&store.join(name)))
        ));
    }
    text.push_str(&format!(
        "store size: {}\n",
        human_bytes(folder_size(store))
    ));
    Ok(text)
}

/// The bytes of the files under `dir`.
fn folder_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => folder_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A size as people read it (1.5 MB).
fn human_bytes(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}
