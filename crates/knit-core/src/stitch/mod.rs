// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! ID stitching: from pb-style edges to the id graph, exactly as RudderStack Profiles
//! computes it.
//!
//! The input is pb's edge table: pairs of nodes `(id_type, value)` seen on one input row,
//! each pair with the earliest time it was seen (`valid_at`, NULL when no row had a
//! time); a pair with one side missing keeps its other node as a singleton. The output
//! gives every node its cluster's main id, its `first_seen_at` and its `valid_at`.
//!
//! **Clusters** are the connected components of the edges, found by union-find
//! (`crate::kernels::union_find`): exact at any size and any diameter (pb stops after 30 rounds of
//! label propagation, which leaves long chains split; Knit does not).
//!
//! **rid** (`algo::rid`): every node has `rid(value, type) = 'rid' ||
//! left(sha1_hex(left(sha1_hex(NS || value), 32) || type), 32)`.
//!
//! **first_seen_at** of a node is the earliest `valid_at` of its edges, NULL when all are.
//!
//! **Main id** of a cluster: the rid of its node with the earliest `first_seen_at`
//! (NULLs last); ties, and clusters without times, take the smallest rid.
//!
//! **valid_at** of a node is what pb's synchronous min-label propagation leaves on it,
//! replayed here cluster by cluster (`algo::valid_at`); see that module for the rules. For
//! the cluster's smallest-rid node it equals `first_seen_at`; elsewhere it is usually
//! the time at which the node joined the smallest-rid node, along the path the label
//! travelled first.
//!
//! **Operator.** `id_stitch('entity')` plans an `IdStitch` node over the plans of the
//! entity's inputs; `IdStitchExec` reads each input as one stream (its partitions are
//! still decoded in parallel), turns rows into pb's edges in three threads (interning
//! `(type, value)` keys into dense `u32` ids by 64-bit fingerprint with collisions
//! detected and kept apart (`crate::kernels::intern`); grouping the pairs; hashing new
//! ids' rids), then builds the graph on blocking threads (union-find
//! beside `first_seen_at` while the last rids are hashed, then the replay on every
//! core), and renders the columns a query reads, a batch at a time, in as many
//! partitions as the session's target partitions. With the main id among them, the id
//! graph is laid out by main id: hash-partitioned on it as DataFusion's repartitioning
//! would be, and sorted on it within a partition when it is the only column. Memory is reserved from DataFusion's pool
//! as it grows, so a stitch over `--memory-limit` fails with a resources error naming
//! `IdStitchExec`. A cancelled query stops the graph phase between clusters and between
//! replay rounds. `EXPLAIN ANALYZE` shows input rows, edges, nodes, clusters, the
//! largest cluster and the time of each phase.
//!
//! **Sharing.** Every stitch operator of one query over the same entity and inputs holds
//! one `SharedStitch`: the first to run starts the build of the `StitchState`, and all
//! await that one build (its failure too). Besides the id graph and the edges it offers
//! the entity's clusters, and the lookup maps any input's rows to their clusters by
//! probing the state's key index, which is how feature queries find each row's entity.
//!
//! **Across queries** (`cache`), a session keeps the stitches its recent queries built,
//! and a query over the same entity, inputs and input data reads the kept one: a
//! project run stitches once for all its outputs.
//!
//! **Across workers** (`spread`), a query's id graph or edges are stitched in many
//! tasks: rows are routed by a cluster label found from their ids' fingerprints
//! (`keys`, `labels`), and each task stitches whole clusters, so the answer is the
//! local one, row for row.
//!
//! **Layers**, each module importing only those listed before it: `spec` (what a stitch
//! reads and returns), `algo` (pb's rules, no DataFusion), `rules` (the entity's include
//! and exclude rules), `read` (batches to pairs), `keys` and `labels` (rows and their
//! cluster labels, for a spread stitch),
//! `state` (the shared build), `cache` (kept across queries), `logical` and `lookup`
//! (plan nodes), `render` and `exec` (the operator), `lookup_exec`, `inspect` (reports
//! and explanations), `spread` (the routed plan), `planner`, `wire` (the operators'
//! form on the way to a worker).
//!
//! **Limits** (`algo::limits`): an id type declared with `LIMIT n` holds at most `n`
//! ids in one cluster; the components over a limit are split by applying their edges
//! in time order and refusing each that would break it. `inspect` shows the refused
//! edges, the report and why two ids are one.
//!
//! Cost: union-find is near-linear in edges. The replay is linear in a cluster's rows
//! per round, and takes a number of rounds that grows with the cluster's diameter in
//! label order (a handful for real identity graphs, up to the chain length for a chain
//! whose rids increase along it).

mod algo;
mod cache;
mod exec;
mod inspect;
mod keys;
#[cfg(feature = "distributed")]
mod labels;
mod logical;
mod lookup;
mod lookup_exec;
mod planner;
mod read;
mod render;
mod rules;
mod spec;
#[cfg(feature = "distributed")]
mod spread;
mod state;
mod type_filter;
#[cfg(feature = "distributed")]
mod wire;

pub(crate) use cache::StitchCache;
pub(crate) use inspect::{Inspection, ReportSection, StitchInspectNode};
pub(crate) use logical::IdStitchNode;
pub(crate) use lookup::{LOOKUP_FUNCTION, MainIdLookupRelationPlanner};
pub(crate) use planner::IdStitchPlanner;
pub(crate) use spec::{CLUSTER_COLUMN, StitchOutput, StitchSpec};
#[cfg(feature = "distributed")]
pub(crate) use spread::{SpreadStitches, is_routed_stitch};
pub(crate) use type_filter::IdTypeFilter;
#[cfg(feature = "distributed")]
pub(crate) use wire::{
    SharedStitches, StitchNode, decode as decode_node, encode as encode_node, reads_kept_stitch,
};
