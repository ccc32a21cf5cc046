// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `__knit_keep((query))`: a query's result kept for the session's next queries.
//!
//! Feature queries read their entity's vars through it: the feature table, each
//! feature view and each cohort of an entity compose the same query of all its vars
//! (`crate::features`), so a project run (or a script) computes each var once and
//! derives every output from the kept table, as the stitch is kept (`crate::stitch`).
//!
//! A result is found again when the query's optimized plan and the data its scans read
//! are the same (`crate::data_version`): a changed definition, input file or in-memory
//! table computes it anew. The result's batches are reserved in the memory pool; a
//! result over the limit fails the query naming `KeepExec`, and one that some queries
//! in a row have not read is dropped (`crate::recent`). A failed computation is not
//! kept.
//!
//! Layers: `plan` (the call, the logical node), `exec` (the operator and the cache).

mod exec;
mod plan;

#[cfg(feature = "distributed")]
pub(crate) use exec::KeepExec;
pub(crate) use exec::KeptResults;
pub(crate) use plan::{KEEP_FUNCTION, KeepPlanner, KeepRelationPlanner};
