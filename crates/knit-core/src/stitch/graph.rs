// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! From edges to the id graph: clusters, main ids, `first_seen_at` and `valid_at`.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::rid::Rid;
use super::union_find::UnionFind;
use super::valid_at::{Replay, sql_min};

/// One row of pb's edge table, over dense node ids: the nodes of one input row and the
/// earliest time they were seen together. A node seen alone has `b == a`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Edge {
    /// One node.
    pub a: u32,
    /// The other node, or `a` again.
    pub b: u32,
    /// Earliest `OCCURRED AT` of the rows that gave this pair; NULL if none had one.
    pub valid_at: Option<i64>,
}

/// The id graph of a set of nodes, indexed by node id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdGraph {
    /// For each node, the node whose rid is the main id of its cluster.
    pub main: Vec<u32>,
    /// For each node, the earliest `valid_at` of its edges.
    pub first_seen_at: Vec<Option<i64>>,
    /// For each node, its `valid_at` as pb's label propagation leaves it.
    pub valid_at: Vec<Option<i64>>,
    /// How many clusters there are.
    pub clusters: usize,
    /// The node count of the largest cluster.
    pub largest_cluster: usize,
}

/// Builds the id graph of nodes `0..rids.len()` (each with its rid) from `edges`.
/// Every node should appear in some edge; one that does not is a cluster of its own
/// with NULL times.
pub fn build_id_graph(rids: &[Rid], edges: &[Edge]) -> IdGraph {
    let never = AtomicBool::new(false);
    build_id_graph_until(rids, edges, &never).unwrap_or_else(|| IdGraph {
        main: Vec::new(),
        first_seen_at: Vec::new(),
        valid_at: Vec::new(),
        clusters: 0,
        largest_cluster: 0,
    })
}

/// [`build_id_graph`], giving up (`None`) soon after `cancelled` is set: between
/// clusters and between rounds of a cluster's replay.
pub fn build_id_graph_until(
    rids: &[Rid],
    edges: &[Edge],
    cancelled: &AtomicBool,
) -> Option<IdGraph> {
    Clusters::new(rids.len(), edges.to_vec()).solve(rids, cancelled)
}

/// The connected components of the edges, with each node's `first_seen_at`: all that
/// needs no rid, so that it can be built while the rids are computed.
#[derive(Debug)]
pub struct Clusters {
    first_seen_at: Vec<Option<i64>>,
    /// The nodes of each cluster, clusters numbered in order of their first node.
    nodes_by_cluster: Grouped<u32>,
    /// The edges of each cluster.
    edges_by_cluster: Grouped<Edge>,
}

impl Clusters {
    /// The clusters of nodes `0..nodes` under `edges`. A node in no edge is a cluster
    /// of its own.
    pub fn new(nodes: usize, edges: Vec<Edge>) -> Self {
        let mut first_seen_at: Vec<Option<i64>> = vec![None; nodes];
        let mut sets = UnionFind::new(nodes as u32);
        for edge in &edges {
            for node in [edge.a, edge.b] {
                let slot = &mut first_seen_at[node as usize];
                *slot = sql_min(*slot, edge.valid_at);
            }
            sets.union(edge.a, edge.b);
        }
        // Each node's cluster number, in place of its root.
        let mut cluster_of = sets.roots();
        let mut number_of_root = vec![u32::MAX; nodes];
        let mut clusters = 0u32;
        for cluster in &mut cluster_of {
            let number = &mut number_of_root[*cluster as usize];
            if *number == u32::MAX {
                *number = clusters;
                clusters += 1;
            }
            *cluster = *number;
        }
        drop(number_of_root);
        let nodes_by_cluster = group(
            (0..nodes as u32).map(|node| (cluster_of[node as usize], node)),
            clusters,
        );
        let edges_by_cluster = group(
            edges
                .iter()
                .map(|edge| (cluster_of[edge.a as usize], *edge)),
            clusters,
        );
        Self {
            first_seen_at,
            nodes_by_cluster,
            edges_by_cluster,
        }
    }

    /// The id graph, given every node's rid: main ids and `valid_at`. `None` when
    /// `cancelled` was set before it was done.
    pub fn solve(self, rids: &[Rid], cancelled: &AtomicBool) -> Option<IdGraph> {
        let Self {
            first_seen_at,
            nodes_by_cluster,
            edges_by_cluster,
        } = self;
        let n = first_seen_at.len();
        let clusters = nodes_by_cluster.offsets.len() - 1;
        // Clusters are independent. They are solved in chunks of whole clusters of about
        // `CHUNK_NODES` nodes, which the threads take from a shared counter, largest
        // first: a giant cluster starts at once and the small ones fill in around it.
        let offsets = &nodes_by_cluster.offsets;
        let mut chunks: Vec<Range<usize>> = Vec::new();
        let mut start = 0;
        for cluster in 0..clusters {
            if offsets[cluster + 1] - offsets[start] >= CHUNK_NODES {
                chunks.push(start..cluster + 1);
                start = cluster + 1;
            }
        }
        if start < clusters {
            chunks.push(start..clusters);
        }
        chunks.sort_by_key(|c| std::cmp::Reverse(offsets[c.end] - offsets[c.start]));
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .clamp(1, 8)
            .min(chunks.len().max(1));
        let next_chunk = AtomicUsize::new(0);
        let solved: Vec<Option<Vec<SolvedChunk>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let (chunks, next_chunk) = (&chunks, &next_chunk);
                    let (nodes_by_cluster, edges_by_cluster) =
                        (&nodes_by_cluster, &edges_by_cluster);
                    let first_seen_at = &first_seen_at;
                    scope.spawn(move || {
                        let mut replay = Replay::new(n);
                        let mut done = Vec::new();
                        loop {
                            let i = next_chunk.fetch_add(1, Ordering::Relaxed);
                            let Some(range) = chunks.get(i) else {
                                return Some(done);
                            };
                            let results = solve_clusters(
                                range.clone(),
                                nodes_by_cluster,
                                edges_by_cluster,
                                rids,
                                first_seen_at,
                                &mut replay,
                                cancelled,
                            )?;
                            done.push((range.clone(), results));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().ok().flatten())
                .collect()
        });

        let mut main = vec![0u32; n];
        let mut valid_at: Vec<Option<i64>> = vec![None; n];
        let mut largest_cluster = 0;
        for (range, part) in solved
            .into_iter()
            .collect::<Option<Vec<_>>>()?
            .iter()
            .flatten()
        {
            largest_cluster = largest_cluster.max(part.largest);
            let nodes = &nodes_by_cluster.items[offsets[range.start]..offsets[range.end]];
            for ((&node, &m), &v) in nodes.iter().zip(&part.main).zip(&part.valid_at) {
                main[node as usize] = m;
                valid_at[node as usize] = v;
            }
        }
        Some(IdGraph {
            main,
            first_seen_at,
            valid_at,
            clusters,
            largest_cluster,
        })
    }
}

/// About how many nodes the clusters of one unit of solving work have.
const CHUNK_NODES: usize = 1 << 14;

/// A chunk of clusters and their results.
type SolvedChunk = (Range<usize>, ClusterResults);

/// Main ids and `valid_at` of a run of clusters, aligned with their nodes.
struct ClusterResults {
    main: Vec<u32>,
    valid_at: Vec<Option<i64>>,
    largest: usize,
}

/// Solves the clusters `range`: each one's main node, and its nodes' `valid_at`.
fn solve_clusters(
    range: Range<usize>,
    nodes_by_cluster: &Grouped<u32>,
    edges_by_cluster: &Grouped<Edge>,
    rids: &[Rid],
    first_seen_at: &[Option<i64>],
    replay: &mut Replay,
    cancelled: &AtomicBool,
) -> Option<ClusterResults> {
    let span = nodes_by_cluster.offsets[range.start]..nodes_by_cluster.offsets[range.end];
    let mut results = ClusterResults {
        main: vec![0; span.len()],
        valid_at: vec![None; span.len()],
        largest: 0,
    };
    for cluster in range {
        if cancelled.load(Ordering::Relaxed) {
            return None;
        }
        let nodes = nodes_by_cluster.slice(cluster);
        results.largest = results.largest.max(nodes.len());
        let &main_node = nodes.iter().min_by_key(|&&node| {
            let seen = first_seen_at[node as usize];
            (seen.is_none(), seen, rids[node as usize])
        })?;
        let at = nodes_by_cluster.offsets[cluster] - span.start;
        results.main[at..at + nodes.len()].fill(main_node);
        let out = &mut results.valid_at[at..at + nodes.len()];
        if !replay.run(nodes, edges_by_cluster.slice(cluster), rids, out, cancelled) {
            return None;
        }
    }
    Some(results)
}

/// Items grouped by a dense key, stored contiguously.
#[derive(Debug)]
struct Grouped<T> {
    offsets: Vec<usize>,
    items: Vec<T>,
}

impl<T> Grouped<T> {
    fn slice(&self, key: usize) -> &[T] {
        &self.items[self.offsets[key]..self.offsets[key + 1]]
    }
}

/// Groups `keyed` by key (below `keys`), keeping their order within a key: a counting
/// sort.
fn group<T: Copy + Default>(
    keyed: impl Iterator<Item = (u32, T)> + Clone,
    keys: u32,
) -> Grouped<T> {
    let mut offsets = vec![0usize; keys as usize + 1];
    for (key, _) in keyed.clone() {
        offsets[key as usize + 1] += 1;
    }
    for i in 1..offsets.len() {
        offsets[i] += offsets[i - 1];
    }
    let mut next = offsets.clone();
    let mut items = vec![T::default(); offsets[keys as usize]];
    for (key, item) in keyed {
        let at = &mut next[key as usize];
        items[*at] = item;
        *at += 1;
    }
    Grouped { offsets, items }
}
