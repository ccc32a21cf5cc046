// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Knit's engine: a DataFusion session set up for profile work over lakehouse files.
//!
//! [`SessionBuilder`] is the one place that builds a DataFusion `SessionContext` for
//! Knit. The session it gives ([`KnitSession`]) reads Parquet, CSV and JSON from local
//! disk or S3 by path (`SELECT * FROM 'dir/*.parquet'`), has `information_schema`,
//! keeps its memory in a pool with a limit, and registers `s3://` object stores on
//! demand, per bucket, from the `AWS_*` environment or from the `aws.*` options of
//! `CREATE EXTERNAL TABLE` and `COPY`.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use knit_core::SessionBuilder;
//!
//! let session = SessionBuilder::new().with_memory_limit(1 << 30).build().unwrap();
//! let batches = session.sql("SELECT 40 + 2 AS answer").await.unwrap().collect().await.unwrap();
//! assert_eq!(batches[0].num_rows(), 1);
//! # });
//! ```
//!
//! It also runs Knit's profile statements: `CREATE ENTITY` and `CREATE INPUT` fill the
//! session's [`catalog::Catalog`], and `id_stitch('entity')` stitches an entity's ids
//! into its id graph with the same answers as RudderStack Profiles.
//!
//! - [`SessionBuilder`], [`KnitSession`]: sessions and statement execution
//! - [`catalog`]: entities and inputs; the modules behind the statements (the stitch,
//!   `connected_components`, the table functions, vars) are private: the session is
//!   their interface
//! - [`parse_memory_size`]: `4G`-style sizes, as `--memory-limit` takes them;
//!   [`parse_duration`]: `30s`-style durations, as `--timeout` takes them
//! - [`ErrorReport`]: one-line, user-facing descriptions of errors, with a hint

#![warn(missing_docs)]
#![deny(clippy::clone_on_ref_ptr)]

pub mod catalog;
mod column_names;
mod components;
mod copy;
mod csv_check;
mod data_version;
mod delta;
mod distinct_order;
#[cfg(feature = "distributed")]
pub mod distributed;
mod entity_scope;
mod error;
mod exact_numbers;
mod expr_rewrite;
mod features;
mod file_tables;
mod files;
mod float_text_casts;
mod functions;
mod integer_casts;
mod kept;
mod kernels;
mod lookup_ids;
mod memory;
mod memory_table;
mod merge_history;
mod object_stores;
mod options;
mod overflow;
mod panics;
mod parquet_check;
mod plan_identity;
mod plan_rewrite;
mod planner;
mod profile_statements;
mod profile_store;
mod query;
mod recent;
mod relation_call;
mod report;
mod session;
mod shared_build;
mod statement_visit;
mod stitch;
mod table_snapshot;
mod udtf;
mod volatile_between;
mod volatile_case;

pub use entity_scope::EntityScope;
pub use error::{CoreError, InternalError, Result};
pub use functions::to_json::nested_as_json;
pub use memory::{default_memory_limit, parse_memory_size};
pub use object_stores::S3_OPTIONS;
pub use options::{format_duration, parse_duration};
pub use panics::{install_hook, panic_to_error};
pub use query::RunningQuery;
pub use report::ErrorReport;
pub use session::{KnitSession, SessionBuilder};
pub use table_snapshot::TableFile;
