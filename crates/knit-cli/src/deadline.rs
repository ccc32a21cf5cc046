// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Time limits of statements and runs: `--timeout` values, and waiting one out.

use std::time::{Duration, Instant};

/// Parses `--timeout`.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    knit_core::parse_duration(text)
        .ok_or_else(|| format!("'{text}' is not a duration: write one such as 30s, 10m or 1h"))
}

/// A `--timeout` counted from when a statement or a run started (a run's spans the
/// sessions it runs in turn).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    /// The timeout as given.
    pub given: Duration,
    started: Instant,
}

impl Deadline {
    /// A deadline `given` from now.
    pub fn starting_now(given: Duration) -> Self {
        Self {
            given,
            started: Instant::now(),
        }
    }
}

/// Resolves with the timeout as given once the deadline has passed; never, without one.
pub async fn expire(deadline: Option<Deadline>) -> Option<Duration> {
    match deadline {
        Some(deadline) => {
            tokio::time::sleep(deadline.given.saturating_sub(deadline.started.elapsed())).await;
            Some(deadline.given)
        }
        None => std::future::pending().await,
    }
}
