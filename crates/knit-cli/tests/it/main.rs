// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Tests of the `knit` binary, run as a user runs it; one binary so that DataFusion is
//! linked once.

// Test code: a failed unwrap is a failed test, and tests report on stderr.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod cli;
mod delta;
mod examples;
mod project;
mod repl;
mod report;
mod s3;
mod sql_models;
mod sql_store;
mod store;
mod time_grains;
mod warehouse_tables;
mod workers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root, where the README's commands run.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `knit` run from the workspace root, with no S3 settings from the environment.
pub fn knit() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_knit"));
    command.current_dir(workspace_root());
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") {
            command.env_remove(key);
        }
    }
    command
}

/// Runs `command` with `input` on its standard input, and waits for it.
pub fn run_with_stdin(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A process that exits early closes its end; what it read is what counts.
    let _ = std::io::Write::write_all(&mut child.stdin.take().unwrap(), input);
    child.wait_with_output().unwrap()
}

/// Stdout and stderr as text.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A test's scratch folder under the system's temporary folder, made empty, and removed
/// when the test ends, passed or failed, so that runs leave nothing behind.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// The folder `<prefix>-<process id>-<name>`.
    pub fn new(prefix: &str, name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
