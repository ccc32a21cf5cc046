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
