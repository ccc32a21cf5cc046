// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `connected_components((SELECT a, b FROM t))`: connected components of any edge list.
//!
//! The generic form of stitching: each row is an edge between the values of its two
//! columns (one type: dictionary and run-end encodings are decoded, and the second
//! column is cast to the first's). A NULL is never a node; a NULL end leaves the other
//! value as a node of its own. The result has one row per distinct value, `(node,
//! component)`, where a component is named by its smallest node in the type's order.
//!
//! Values are compared and interned in Arrow's row format, whose bytes order as the
//! values do, so any sortable type works. Union-find over the interned ids gives the
//! components. The interned values and the edges are reserved in the memory pool as
//! they grow; the output batches, built at the end, are not.

mod exec;
mod plan;

pub(crate) use plan::{ConnectedComponentsPlanner, ConnectedComponentsRelationPlanner};
