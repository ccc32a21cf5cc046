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
//! **Operator.** `ConnectedComponentsExec` reads its input once, for every output
//! partition ([`crate::shared_build`]), in four stages on threads of their own beside
//! the input's decoding (`build`): values' bytes and fingerprints, interning them into
//! dense `u32` ids (`crate::kernels::intern`, the stitch's interner), and union-find
//! (`crate::kernels::union_find`) joining each batch's edges as it arrives. The layout
//! then names each component and hashes the name to an output partition, as
//! DataFusion's repartitioning would. Each partition sorts its components by name and
//! renders them one after another, each component's nodes in order of first sight, a
//! batch at a time as it is read: the output is hash-partitioned and sorted on
//! `component`, so a `GROUP BY component` streams in place and an `ORDER BY component`
//! only merges.
//!
//! **Values** (`values`): strings and binary values are their own bytes, read in place;
//! other types are Arrow's row format. Either way bytes order as values do, so the
//! smallest node is the one with the smallest bytes, and any sortable type works.
//!
//! **Memory**: the interned values, the sets, the edges in flight and the layout are
//! reserved in the pool as they grow; a query over the limit fails naming
//! `ConnectedComponentsExec`. Output batches hold copies of their own values.
//!
//! Layers: `values`, `build`, `exec`, `plan`.

mod build;
mod exec;
mod plan;
mod values;

#[cfg(feature = "distributed")]
pub(crate) use exec::ConnectedComponentsExec;
pub(crate) use plan::{ConnectedComponentsPlanner, ConnectedComponentsRelationPlanner};
