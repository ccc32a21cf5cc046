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
//! only each node's few rows, and rows of settled labels leave the loop. A row's label,
//! time and distance are packed into one integer in that order, so that pb's order is
//! one comparison. Two-node clusters, a quarter of a typical graph's, have a closed form
//! and skip the rounds.

use std::sync::atomic::{AtomicBool, Ordering};

use super::edge::Edge;
use super::rid::Rid;
use super::time::Time;

/// What a row offers its label's nodes, in pb's order — label, time (NULLs last),
/// distance — packed into one integer, so that comparing two is one comparison. Stored
/// times order as pb's `ORDER BY t NULLS LAST` (see [`Time`]), and pb's "NULL if either
/// is NULL, else the later" is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Offer(u128);

impl Offer {
    /// No offer: above every real one, as labels stay below `u32::MAX`.
    const NONE: Offer = Offer(u128::MAX);

    fn new(label: u32, t: Time, d: u32) -> Self {
        // Flipping the sign bit orders times as unsigned integers.
        let t = (t.to_bits() as u64) ^ (1 << 63);
        Offer(u128::from(label) << 96 | u128::from(t) << 32 | u128::from(d))
    }

    fn label(self) -> u32 {
        (self.0 >> 96) as u32
    }

    fn t(self) -> Time {
        Time::from_bits(((self.0 >> 32) as u64 ^ (1 << 63)) as i64)
    }

    fn d(self) -> u32 {
        self.0 as u32
    }

    /// Time and distance, in their order: how a node's final rows are ranked.
    fn time_and_distance(self) -> u128 {
        self.0 & ((1 << 96) - 1)
    }
}

/// A row of the replay: a node and the label, time and distance it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    node: u32,
    offer: Offer,
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
pub(crate) struct Replay {
    /// Per position in the cluster's node list: the node's local id, its rid's rank.
    rank_of: Vec<u32>,
    by_rid: Vec<u32>,
    rows: Vec<Row>,
    finals: Vec<Row>,
    pick: Vec<Offer>,
    best: Vec<Offer>,
    touched: Vec<u32>,
    active: Vec<bool>,
    chosen: Vec<Offer>,
}

impl Replay {
    /// Writes the `valid_at` of each of `nodes` (one cluster, in ascending order) into
    /// `out`; `rids` and `out` are aligned with `nodes`. `edges` are the cluster's
    /// edges. False when `cancelled` was set before the replay ended.
    pub(crate) fn run(
        &mut self,
        nodes: &[u32],
        rids: &[Rid],
        edges: &[Edge],
        out: &mut [Time],
        cancelled: &AtomicBool,
    ) -> bool {
        debug_assert!(nodes.is_sorted());
        if nodes.len() == 1 {
            // One node: its only label is its own rid; the replay ends where it starts.
            out[0] = edges.iter().map(|e| e.valid_at).min().unwrap_or(Time::NULL);
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
            let (mut low_time, mut between) = (Time::NULL, Time::NULL);
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
                    offer: Offer::new(label, edge.valid_at, 0),
                });
            }
        }
        // One row per (node, label) with the earliest time; sorting puts it first.
        rows.sort_unstable();
        rows.dedup_by_key(|r| (r.node, r.offer.label()));

        let finals = &mut self.finals;
        finals.clear();
        let (pick, best, active) = (&mut self.pick, &mut self.best, &mut self.active);
        pick.clear();
        pick.resize(k, Offer::NONE);
        best.clear();
        best.resize(k, Offer::NONE);
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
                let slot = &mut pick[row.node as usize];
                *slot = (*slot).min(row.offer);
            }
            for row in rows.iter() {
                let offer = pick[row.node as usize];
                let label = row.offer.label();
                let slot = &mut best[label as usize];
                if *slot == Offer::NONE {
                    touched.push(label);
                }
                *slot = (*slot).min(offer);
            }
            for row in rows.iter_mut() {
                pick[row.node as usize] = Offer::NONE;
                let offer = best[row.offer.label() as usize];
                if offer.label() < row.offer.label() {
                    row.offer =
                        Offer::new(offer.label(), offer.t().max(row.offer.t()), offer.d() + 1);
                }
            }
            for label in touched.drain(..) {
                best[label as usize] = Offer::NONE;
            }
            sort_within_nodes(rows);
            // A label is still active while one of its nodes has another label too.
            let mut start = 0;
            while start < rows.len() {
                let node = rows[start].node;
                let end = start + rows[start..].iter().take_while(|r| r.node == node).count();
                let first_label = rows[start].offer.label();
                if rows[start..end]
                    .iter()
                    .any(|r| r.offer.label() != first_label)
                {
                    for row in &rows[start..end] {
                        active[row.offer.label() as usize] = true;
                    }
                }
                start = end;
            }
            rows.retain(|row| {
                let keep = active[row.offer.label() as usize];
                if !keep {
                    finals.push(*row);
                }
                keep
            });
            for row in rows.iter() {
                active[row.offer.label() as usize] = false;
            }
        }

        if completed {
            let chosen = &mut self.chosen;
            chosen.clear();
            chosen.resize(k, Offer::NONE);
            for row in finals.iter() {
                let slot = &mut chosen[row.node as usize];
                if *slot == Offer::NONE || row.offer.time_and_distance() < slot.time_and_distance()
                {
                    *slot = row.offer;
                }
            }
            for (slot, &rank) in out.iter_mut().zip(rank_of.iter()) {
                let offer = chosen[rank as usize];
                *slot = if offer == Offer::NONE {
                    Time::NULL
                } else {
                    offer.t()
                };
            }
        }
        completed
    }
}
