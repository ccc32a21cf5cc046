// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit store status PATH`: what a profile store holds, from its state and its tables:
//! the last complete run (when, full or incremental, and why), the files each input
//! table read, and each output table with its version, rows and size on disk.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use knit_core::{KnitSession, SessionBuilder};

use crate::project::store_state::{STATE_FOLDER, StoreState};

/// `knit store ...`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Show a profile store's last run, the files it read and its tables.
    Status {
        /// The store's folder (as given to `knit project run --store` or `CREATE PROFILE
        /// STORE`).
        path: PathBuf,
    },
}

/// Runs `knit store ...`.
pub async fn run(command: StoreCommand) -> ExitCode {
    let StoreCommand::Status { path } = command;
    match status(&path).await {
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

/// The status of the store at `store` (a folder or an `s3://` URL), as text.
async fn status(store: &Path) -> Result<String, String> {
    let location = store.display().to_string();
    if !location.contains("://") && !store.is_dir() {
        return Err(format!(
            "'{location}' is not a folder: name the folder given to --store"
        ));
    }
    let session = SessionBuilder::new().build().map_err(|e| e.to_string())?;
    let Some(state) = StoreState::read(&session, store).await? else {
        return Err(format!(
            "'{}' holds no completed run: run `knit project run DIR --store {}` (or, in a \
             Knit SQL script, REFRESH PROFILE STORE) first",
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
    let lock = store.join(STATE_FOLDER).join("lock").display().to_string();
    if let Ok(Some(holder)) = session.read_file(&lock).await {
        text.push_str(&format!(
            "a run holds the lock: process {}\n",
            String::from_utf8_lossy(&holder).trim()
        ));
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
            human_bytes(folder_size(&session, &store.join(name)).await?)
        ));
    }
    text.push_str(&format!(
        "store size: {}\n",
        human_bytes(folder_size(&session, store).await?)
    ));
    Ok(text)
}

/// The bytes of the files under `dir`.
async fn folder_size(session: &KnitSession, dir: &Path) -> Result<u64, String> {
    session
        .folder_size(&dir.display().to_string())
        .await
        .map_err(|e| e.to_string())
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
