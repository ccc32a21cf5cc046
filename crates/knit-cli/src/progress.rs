// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Progress of a running statement on stderr, for statements that take a while.
//!
//! After a second, a line shows the elapsed time and the rows the plan's scans have
//! read so far; it is rewritten in place and erased when the statement ends. The
//! counts come from the live metrics of the plan's leaf operators.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use datafusion::common::runtime::SpawnedTask;
use datafusion::physical_plan::ExecutionPlan;

/// Quiet time before the first progress line: quick statements show none.
const FIRST_SHOWN_AFTER: Duration = Duration::from_secs(1);
/// How often the line is rewritten.
const REFRESH: Duration = Duration::from_millis(200);

/// Shows progress until dropped.
pub struct Progress {
    _task: SpawnedTask<()>,
    shown: Arc<AtomicBool>,
}

impl Progress {
    /// Starts watching `plan`.
    pub fn start(plan: Arc<dyn ExecutionPlan>) -> Self {
        let shown = Arc::new(AtomicBool::new(false));
        let task_shown = Arc::clone(&shown);
        let task = SpawnedTask::spawn(async move {
            let started = Instant::now();
            tokio::time::sleep(FIRST_SHOWN_AFTER).await;
            loop {
                let line = format!(
                    "\r\x1b[2K{:.1}s, {} rows read",
                    started.elapsed().as_secs_f64(),
                    group_digits(rows_read(plan.as_ref()))
                );
                draw(line.as_bytes());
                task_shown.store(true, Ordering::Relaxed);
                tokio::time::sleep(REFRESH).await;
            }
        });
        Self { _task: task, shown }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown.load(Ordering::Relaxed) {
            draw(b"\r\x1b[2K");
        }
    }
}

/// Writes to stderr. Progress is best effort: a failed write must not fail the query.
fn draw(bytes: &[u8]) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(bytes);
    let _ = err.flush();
}

/// Rows produced so far by the plan's leaves, which are its scans.
fn rows_read(plan: &dyn ExecutionPlan) -> usize {
    let children = plan.children();
    if children.is_empty() {
        return plan
            .metrics()
            .and_then(|m| m.output_rows())
            .unwrap_or_default();
    }
    children.into_iter().map(|c| rows_read(c.as_ref())).sum()
}

/// `1234567` as `1,234,567`.
fn group_digits(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped_in_thousands() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1234567), "1,234,567");
    }
}
