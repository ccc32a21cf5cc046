// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `valid_at`: a replay of pb's synchronous min-label propagation over one cluster.
//!
//! pb labels every edge with the smaller rid of its two nodes and propagates labels in
//! rounds until each node has one. The time a node ends up with depends on the round in
//! which each label reached it, so the rounds are replayed exactly:
//!
//! ```text
//! rows := { (node, label, t, d = 0) : one per distinct label of the node's edges,
//!           t = the earliest valid_at of those edges (NULL if all are NULL) }
//! final := {}
//! while rows is not empty:
//!     for each node:  pick(node)  := its best row            -- order: label, t NULLS LAST, d
//!     for each label: best(label) := the best pick(node) among rows labelled `label`
//!     each row (n, L, t, d) with best(L) = (L', t', d') and L' < L
//!         becomes (n, L', NULL if t or t' is NULL else max(t, t'), d' + 1)
//!     drop exact duplicates
//!     the rows of a label none of whose nodes has another label move to `final`
//! valid_at(node) := t of its final row with the smallest (t NULLS LAST, d)
//! ```
//!
//! Labels are compared as rids; within a cluster they are replaced by the rank of the
//! node's rid, which orders the same way. Work per round is linear in the rows still
//! active: rows stay grouped by node (a row's node never changes), so a round re-sorts
//! only each node's few rows, and rows of settled labels leave the loop.

use std::sync::atomic::{AtomicBool, Ordering};

use super::graph::{Edge, NULL_TIME};
use super::rid::Rid;

/// A row of the replay. Times are stored times (see [`NULL_TIME`]): their order is
/// pb's `ORDER BY t NULLS LAST`, and pb's "NULL if either is NULL, else the later" is
/// their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    node: u32,
    label: u32,
    t: i64,
    d: u32,
}

/// The best label a row can offer, in pb's order: label, time (NULLs last), distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Offer {
    label: u32,
    t: i64,
    d: u32,
}

/// Sorts and dedups the rows of each node, which are contiguous.
fn sort_within_nodes(rows: &mut Vec<Row>) {
    let mut write = 0;
    let mut start = 0;
    while start < rows.len() {
        let node = rows[start].node;
        let end = start + rows[start..].iter().take_while(|r| r.node == node).count();
        rows[start..end].sort_unstable();
        let mut last = None;
        for read in start..end {
            let row = rows[read];
            if last != Some(row) {
                rows[write] = row;
                write += 1;
                last = Some(row);
            }
        }
        start = end;
    }
    rows.truncate(write);
}

/// Scratch space reused across clusters, so that a million small clusters cost no
/// allocations of their own.
#[derive(Debug, Default)]
pub(super) struct Replay {
    /// Per position in the cluster's node list: the node's local id, its rid's rank.
    rank_of: Vec<u32>,
    by_rid: Vec<u32>,
    rows: Vec<Row>,
    finals: Vec<Row>,
    pick: Vec<Option<Offer>>,
    best: Vec<Option<Offer>>,
    touched: Vec<u32>,
    active: Vec<bool>,
    chosen: Vec<Option<(i64, u32)>>,
}

impl Replay {
    /// Writes the `valid_at` of each of `nodes` (one cluster, in ascending order) into
    /// `out`; `rids` and `out` are aligned with `nodes`. `edges` are the cluster's
    /// edges. False when `cancelled` was set before the replay ended.
    pub(super) fn run(
        &mut self,
        nodes: &[u32],
        rids: &[Rid],
        edges: &[Edge],
        out: &mut [i64],
        cancelled: &AtomicBool,
    ) -> bool {
        debug_assert!(nodes.is_sorted());
        if nodes.len() == 1 {
            // One node: its only label is its own rid; the replay ends where it starts.
            out[0] = edges.iter().map(|e| e.valid_at).min().unwrap_or(NULL_TIME);
            return true;
        }
        if nodes.len() == 2 {
            // Two nodes, a quarter of the clusters of a typical identity graph, solved
            // without the rounds. The smaller rid's label is the only one its node ever
            // has, with the node's earliest time. The other node is offered it at
            // once, at the earliest time of the pairs between the two; its own label
            // (from pairs with itself) turns into it one round later, at a time no
            // earlier, and so loses.
            let low = usize::from(rids[1] < rids[0]);
            let low_node = nodes[low];
            let (mut low_time, mut between) = (NULL_TIME, NULL_TIME);
            for edge in edges {
                if edge.a != edge.b {
                    between = between.min(edge.valid_at);
                }
                if edge.a == low_node || edge.b == low_node {
                    low_time = low_time.min(edge.valid_at);
                }
            }
            out[low] = low_time;
            out[1 - low] = between;
            return true;
        }
        // Local ids are rid ranks, so that comparing labels compares rids. A node's
        // position in the sorted `nodes` leads to its rank: no array over every node of
        // the graph, whose pages a hundred million nodes would make costly.
        let by_rid = &mut self.by_rid;
        by_rid.clear();
        by_rid.extend(0..nodes.len() as u32);
        by_rid.sort_unstable_by_key(|&at| rids[at as usize]);
        let rank_of = &mut self.rank_of;
        rank_of.clear();
        rank_of.resize(nodes.len(), 0);
        for (rank, &at) in by_rid.iter().enumerate() {
            rank_of[at as usize] = rank as u32;
        }
        let local = |node: u32| rank_of[nodes.partition_point(|&n| n < node)];
        let k = nodes.len();

        let rows = &mut self.rows;
        rows.clear();
        for edge in edges {
            let (a, b) = (local(edge.a), local(edge.b));
            let label = a.min(b);
            for node in [a, b] {
                rows.push(Row {
                    node,
                    label,
                    t: edge.valid_at,
                    d: 0,
                });
            }
        }
        // One row per (node, label) with the earliest time; sorting puts it first.
        rows.sort_unstable();
        rows.dedup_by_key(|r| (r.node, r.label));

        let finals = &mut self.finals;
        finals.clear();
        let (pick, best, active) = (&mut self.pick, &mut self.best, &mut self.active);
        pick.clear();
        pick.resize(k, None);
        best.clear();
        best.resize(k, None);
        active.clear();
        active.resize(k, false);
        let touched = &mut self.touched;
        touched.clear();
        let mut completed = true;
        while !rows.is_empty() {
            if cancelled.load(Ordering::Relaxed) {
                completed = false;
                break;
            }
            for row in rows.iter() {
                let offer = Offer {
                    label: row.label,
                    t: row.t,
                    d: row.d,
                };
                let slot = &mut pick[row.node as usize];
                if slot.is_none_or(|current| offer < current) {
                    *slot = Some(offer);
                }
            }
            for row in rows.iter() {
                let Some(offer) = pick[row.node as usize] else {
                    continue;
                };
                let slot = &mut best[row.label as usize];
                if slot.is_none() {
                    touched.push(row.label);
                }
                if slot.is_none_or(|current| offer < current) {
                    *slot = Some(offer);
                }
            }
            for row in rows.iter_mut() {
                pick[row.node as usize] = None;
                let Some(offer) = best[row.label as usize] else {
                    continue;
                };
                if offer.label < row.label {
                    *row = Row {
                        node: row.node,
                        label: offer.label,
                        t: offer.t.max(row.t),
                        d: offer.d + 1,
                    };
                }
            }
            for label in touched.drain(..) {
                best[label as usize] = None;
            }
            sort_within_nodes(rows);
            // A label is still active while one of its nodes has another label too.
            let mut start = 0;
            while start < rows.len() {
                let node = rows[start].node;
                let end = start + rows[start..].iter().take_while(|r| r.node == node).count();
                let first_label = rows[start].label;
                if rows[start..end].iter().any(|r| r.label != first_label) {
                    for row in &rows[start..end] {
                        active[row.label as usize] = true;
                    }
                }
                start = end;
            }
            rows.retain(|row| {
                let keep = active[row.label as usize];
                if !keep {
                    finals.push(*row);
                }
                keep
            });
            for row in rows.iter() {
                active[row.label as usize] = false;
            }
        }

        if completed {
            let chosen = &mut self.chosen;
            chosen.clear();
            chosen.resize(k, None);
            for row in finals.iter() {
                let key = (row.t, row.d);
                let slot = &mut chosen[row.node as usize];
                if slot.is_none_or(|current| key < current) {
                    *slot = Some(key);
                }
            }
            for (slot, &rank) in out.iter_mut().zip(rank_of.iter()) {
                *slot = chosen[rank as usize].map_or(NULL_TIME, |(t, _)| t);
            }
        }
        completed
    }
}
