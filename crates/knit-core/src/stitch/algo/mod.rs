// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The stitch's algorithms, with no DataFusion: what pb computes, over interned nodes.
//!
//! Layers, each importing only those above it in this list:
//! - [`time`]: times as stored (NULL last); [`rid`]: pb's node ids;
//! - [`edge`]: an edge over node ids; [`pairs`]: a row's pairs and their grouping into
//!   pb's edge table;
//! - [`valid_at`]: pb's label propagation replayed over one cluster;
//! - [`graph`]: clusters by union-find, main ids, `first_seen_at`, and the replay of
//!   every cluster on every core.

pub(crate) mod edge;
pub(crate) mod graph;
pub(crate) mod limits;
pub(crate) mod pairs;
pub(crate) mod rid;
pub(crate) mod time;
pub(crate) mod valid_at;

#[cfg(test)]
mod tests;
