// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! From edges to the id graph: clusters, main ids, `first_seen_at` and `valid_at`.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicUsize, Ordering};

use super::edge::Edge;
use super::rid::Rid;
use super::time::Time;
use super::valid_at::Replay;
use crate::kernels::union_find::UnionFind;

/// The id graph of a set of nodes, indexed by node id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdGraph {
    /// For each node, the node whose rid is the main id of its cluster.
    pub(crate) main: Vec<u32>,
    /// For each node, the earliest `valid_at` of its edges.
    pub(crate) first_seen_at: Vec<Time>,
    /// For each node, its `valid_at` as pb's label propagation leaves it.
    pub(crate) valid_at: Vec<Time>,
    /// How many clusters there are.
    pub(crate) clusters: usize,
    /// The node count of the largest cluster.
    pub(crate) largest_cluster: usize,
    /// The nodes of each cluster, clusters numbered in order of their first node.
    nodes_by_cluster: Grouped<u32>,
    /// The rid of each cluster's main node.
    main_rids: Vec<Rid>,
}

impl IdGraph {
    /// The rid of `cluster`'s main node: its main id.
    pub(crate) fn main_rid(&self, cluster: usize) -> Rid {
        self.main_rids[cluster]
    }

    /// The nodes of `cluster` (below `clusters`), in ascending order.
    pub(crate) fn cluster_nodes(&self, cluster: usize) -> &[u32] {
        self.nodes_by_cluster.slice(cluster)
    }
}

/// Builds the id graph of nodes `0..rids.len()` (each with its rid) from `edges`.
/// Every node should appear in some edge; one that does not is a cluster of its own
/// with NULL times.
#[cfg(test)]
pub(crate) fn build_id_graph(rids: &[Rid], edges: &[Edge]) -> Option<IdGraph> {
    let never = AtomicBool::new(false);
    Clusters::new(rids.len(), edges.iter().copied())
        .solve(rids, &never)
        .ok()
}

/// The connected components of the edges, with each node's `first_seen_at`: all of the
/// graph that needs no rid.
#[derive(Debug)]
pub(crate) struct Clusters {
    pub(super) first_seen_at: Vec<Time>,
    /// The nodes of each cluster, clusters numbered in order of their first node.
    pub(super) nodes_by_cluster: Grouped<u32>,
    /// The edges of each cluster.
    pub(super) edges_by_cluster: Grouped<Edge>,
}

impl Clusters {
    /// The clusters of nodes `0..nodes` under `edges`. A node in no edge is a cluster
    /// of its own. `edges` is walked rather than collected, so that a hundred million
    /// edges cost no copy of their own; each step runs two independent walks on two
    /// threads.
    pub(crate) fn new(nodes: usize, edges: impl Iterator<Item = Edge> + Clone + Send) -> Self {
        let (first_seen_at, (cluster_of, clusters)) = std::thread::scope(|scope| {
            let times = {
                let edges = edges.clone();
                scope.spawn(move || {
                    let mut first_seen_at: Vec<Time> = vec![Time::NULL; nodes];
                    for edge in edges {
                        for node in [edge.a, edge.b] {
                            let slot = &mut first_seen_at[node as usize];
                            *slot = (*slot).min(edge.valid_at);
                        }
                    }
                    first_seen_at
                })
            };
            let mut sets = UnionFind::new(nodes as u32);
            for edge in edges.clone() {
                sets.union(edge.a, edge.b);
            }
            let clusters = sets.into_clusters();
            (joined(times), clusters)
        });
        let (nodes_by_cluster, edges_by_cluster) = std::thread::scope(|scope| {
            let cluster_of = &cluster_of;
            let by_node = scope.spawn(move || {
                group(
                    (0..nodes as u32).map(|node| (cluster_of[node as usize], node)),
                    clusters,
                )
            });
            let by_edge = group(
                edges.map(|edge| (cluster_of[edge.a as usize], edge)),
                clusters,
            );
            (joined(by_node), by_edge)
        });
        Self {
            first_seen_at,
            nodes_by_cluster,
            edges_by_cluster,
        }
    }

    /// The id graph, given every node's rid: main ids and `valid_at`. Stops when
    /// `cancelled` is set before it is done, or when a worker panics.
    pub(crate) fn solve(self, rids: &[Rid], cancelled: &AtomicBool) -> Result<IdGraph, Stopped> {
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
        // Each worker writes the nodes of its own clusters, so plain relaxed stores into
        // the shared arrays suffice; no per-chunk results are copied afterwards.
        let main: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
        let valid_at: Vec<AtomicI64> = (0..n)
            .map(|_| AtomicI64::new(Time::NULL.to_bits()))
            .collect();
        let solved: Vec<Result<Solved, Stopped>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let (chunks, next_chunk) = (&chunks, &next_chunk);
                    let clusters = Solving {
                        nodes_by_cluster: &nodes_by_cluster,
                        edges_by_cluster: &edges_by_cluster,
                        rids,
                        first_seen_at: &first_seen_at,
                        main: &main,
                        valid_at: &valid_at,
                    };
                    scope.spawn(move || {
                        let mut replay = Replay::default();
                        let mut solved = Solved::default();
                        loop {
                            let i = next_chunk.fetch_add(1, Ordering::Relaxed);
                            let Some(range) = chunks.get(i) else {
                                return Ok(solved);
                            };
                            let mut main_rids = Vec::with_capacity(range.len());
                            let largest = clusters
                                .solve(range.clone(), &mut replay, &mut main_rids, cancelled)
                                .ok_or(Stopped::Cancelled)?;
                            solved.largest = solved.largest.max(largest);
                            solved.main_rids.push((range.start, main_rids));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .map_err(|panic| Stopped::Panicked(crate::panics::message(&*panic)))?
                })
                .collect()
        });
        let solved = solved.into_iter().collect::<Result<Vec<_>, _>>()?;
        let largest_cluster = solved.iter().map(|s| s.largest).max().unwrap_or(0);
        let mut main_rids = vec![Rid::default(); clusters];
        for (start, rids) in solved.into_iter().flat_map(|s| s.main_rids) {
            main_rids[start..start + rids.len()].copy_from_slice(&rids);
        }
        Ok(IdGraph {
            main: main.into_iter().map(AtomicU32::into_inner).collect(),
            first_seen_at,
            valid_at: valid_at
                .into_iter()
                .map(|t| Time::from_bits(t.into_inner()))
                .collect(),
            clusters,
            largest_cluster,
            nodes_by_cluster,
            main_rids,
        })
    }
}

/// Why [`Clusters::solve`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// The query was cancelled.
    Cancelled,
    /// A worker panicked, with this message: a bug.
    Panicked(String),
}

/// What one worker of [`Clusters::solve`] gives back besides what it wrote in place.
#[derive(Debug, Default)]
struct Solved {
    /// The node count of the largest cluster it solved.
    largest: usize,
    /// The main ids of the chunks it solved: each chunk's first cluster, and theirs.
    main_rids: Vec<(usize, Vec<Rid>)>,
}

/// The result of a scoped thread; a panic in it goes on in the caller.
fn joined<T>(thread: std::thread::ScopedJoinHandle<'_, T>) -> T {
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// About how many nodes the clusters of one unit of solving work have.
const CHUNK_NODES: usize = 1 << 14;

/// What the workers of [`Clusters::solve`] share: the clusters, and the arrays they
/// write their results into.
struct Solving<'a> {
    nodes_by_cluster: &'a Grouped<u32>,
    edges_by_cluster: &'a Grouped<Edge>,
    rids: &'a [Rid],
    first_seen_at: &'a [Time],
    main: &'a [AtomicU32],
    valid_at: &'a [AtomicI64],
}

impl Solving<'_> {
    /// Solves the clusters `range`: each one's main node, and its nodes' `valid_at`.
    /// Appends their main ids to `main_rids`. Gives the node count of the largest, or
    /// `None` when `cancelled` was set.
    fn solve(
        &self,
        range: Range<usize>,
        replay: &mut Replay,
        main_rids: &mut Vec<Rid>,
        cancelled: &AtomicBool,
    ) -> Option<usize> {
        // The rids and first sightings of the chunk's nodes, gathered in one pass, so
        // that each cluster's come as slices aligned with its nodes.
        let offsets = &self.nodes_by_cluster.offsets;
        let first = offsets[range.start];
        let chunk_nodes = &self.nodes_by_cluster.items[first..offsets[range.end]];
        let node_rids: Vec<Rid> = chunk_nodes
            .iter()
            .map(|&node| self.rids[node as usize])
            .collect();
        let first_seen: Vec<Time> = chunk_nodes
            .iter()
            .map(|&node| self.first_seen_at[node as usize])
            .collect();
        let mut largest = 0;
        let mut out = Vec::new();
        for cluster in range {
            if cancelled.load(Ordering::Relaxed) {
                return None;
            }
            let at = offsets[cluster] - first..offsets[cluster + 1] - first;
            let (nodes, rids) = (&chunk_nodes[at.clone()], &node_rids[at.clone()]);
            largest = largest.max(nodes.len());
            let main_at = (0..nodes.len()).min_by_key(|&i| (first_seen[at.start + i], rids[i]))?;
            let main_node = nodes[main_at];
            main_rids.push(rids[main_at]);
            out.clear();
            out.resize(nodes.len(), Time::NULL);
            let edges = self.edges_by_cluster.slice(cluster);
            if !replay.run(nodes, rids, edges, &mut out, cancelled) {
                return None;
            }
            for (&node, &time) in nodes.iter().zip(&out) {
                self.main[node as usize].store(main_node, Ordering::Relaxed);
                self.valid_at[node as usize].store(time.to_bits(), Ordering::Relaxed);
            }
        }
        Some(largest)
    }
}

/// Items grouped by a dense key, stored contiguously.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Grouped<T> {
    offsets: Vec<usize>,
    items: Vec<T>,
}

impl<T> Default for Grouped<T> {
    fn default() -> Self {
        Self {
            offsets: vec![0],
            items: Vec::new(),
        }
    }
}

impl<T> Grouped<T> {
    /// The items of group `key`.
    pub(super) fn slice(&self, key: usize) -> &[T] {
        &self.items[self.offsets[key]..self.offsets[key + 1]]
    }

    /// How many groups there are.
    pub(super) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Appends a group.
    pub(super) fn push_group(&mut self, items: impl IntoIterator<Item = T>) {
        self.items.extend(items);
        self.offsets.push(self.items.len());
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
