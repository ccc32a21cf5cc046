// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Running past one machine: Knit workers on datafusion-distributed (feature
//! `distributed`).
//!
//! A worker (`knit worker --listen 127.0.0.1:7701`, `KnitSession::serve_worker`) runs the stages of
//! plans; a session with `knit.workers` set sends them there. Planning stays in the
//! coordinating session, so Knit's planners, table functions and catalog work as they
//! do locally; only the physical operators travel, Knit's through one codec.
//!
//! Layers: `access` (token and version), `tls`, `channel`, `merge`, `codec`,
//! `coordinator`, `worker`.

mod access;
mod channel;
mod codec;
mod coordinator;
mod merge;
mod tls;
mod worker;

pub use access::{WORKER_TOKEN_ENV, token_from_env};
pub(crate) use coordinator::distribute;
pub use coordinator::parse_workers;
pub use tls::{WORKER_CA_ENV, WorkerTls};
pub(crate) use worker::serve;

/// The environment variable naming the workers of a session (`host:port,...`), as
/// `--workers` does.
pub const WORKERS_ENV: &str = "KNIT_WORKERS";
