// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! knit-core's integration tests, in one binary so that DataFusion is linked once.

// Test code: a failed unwrap is a failed test, and tests report on stderr.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod copy;
mod damaged_files;
#[cfg(feature = "distributed")]
mod distributed;
mod features;
mod properties;
mod slt;
mod stitch_output;

/// A test's scratch folder under the system's temporary folder, made empty, and removed
/// when the test ends, passed or failed, so that runs leave nothing behind.
#[derive(Debug)]
pub struct Scratch(std::path::PathBuf);

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
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
