// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Limits against over-stitching: the most ids of a type one cluster may hold.
//!
//! **The rule.** Within each connected component, the edges are applied one at a time
//! in time order (an edge's `valid_at`, NULL last), ties broken by the rids of its
//! nodes (the smaller first, then the larger): a stable key, the same whatever the
//! order or partitioning of the inputs. An edge that would join two clusters holding
//! together more ids of some type than its limit is refused; every other edge is
//! applied. The first sightings win: the customer who used an email first keeps it.
//!
//! **Cost.** Most components break no limit, and a component that breaks none keeps
//! all its edges (a part of it holds no more ids of a type than it). So only the
//! components over a limit are replayed, each on its own, with its edges sorted: a
//! count per component, then a sort of the offending components' edges.
//!
//! **What a refused edge leaves.** Its nodes stay in the graph, each as seen alone at
//! the edge's time (a self-edge), so `first_seen_at` is unchanged and a node whose
//! every edge was refused is a cluster of its own.

use std::cmp::Ordering;
use std::collections::HashSet;

use super::edge::Edge;
use super::graph::{Clusters, Grouped};
use super::rid::Rid;

/// An edge the limits refused, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RefusedEdge {
    /// The edge.
    pub edge: Edge,
    /// The id type (index into the entity's id types) whose limit it would break.
    pub id_type: u16,
    /// How many ids of that type the joined cluster would have held.
    pub would_hold: u32,
}

/// Per id type (indexed as the entity's), its limit if it has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The limited types and their limits.
    limited: Vec<(u16, u32)>,
}

impl Limits {
    /// The limits of the id types, in the entity's order.
    pub(crate) fn new(per_type: impl IntoIterator<Item = Option<u32>>) -> Self {
        let limited = per_type
            .into_iter()
            .enumerate()
            .filter_map(|(id_type, limit)| Some((id_type as u16, limit?)))
            .collect();
        Self { limited }
    }

    /// True when no id type is limited.
    pub(crate) fn is_empty(&self) -> bool {
        self.limited.is_empty()
    }

    /// Which limited type (position in `limited`) a node of `id_type` counts for.
    fn slot(&self, id_type: u16) -> Option<usize> {
        self.limited.iter().position(|&(t, _)| t == id_type)
    }
}

impl Clusters {
    /// The clusters under `limits`, and the refused edges. `type_of` gives a node's id
    /// type, `rids` its rid; the edges in `forced` (as `(smaller, larger)` nodes) are
    /// applied in their turn whatever the limits.
    pub(crate) fn limit(
        self,
        limits: &Limits,
        forced: &HashSet<(u32, u32)>,
        type_of: impl Fn(u32) -> u16,
        rids: &[Rid],
    ) -> (Self, Vec<RefusedEdge>) {
        if limits.is_empty() {
            return (self, Vec::new());
        }
        let slots = limits.limited.len();
        let clusters = self.nodes_by_cluster.len();
        let mut counts = vec![0u32; slots];
        let over: Vec<usize> = (0..clusters)
            .filter(|&cluster| {
                counts.fill(0);
                for &node in self.nodes_by_cluster.slice(cluster) {
                    if let Some(slot) = limits.slot(type_of(node)) {
                        counts[slot] += 1;
                    }
                }
                counts
                    .iter()
                    .zip(&limits.limited)
                    .any(|(&count, &(_, limit))| count > limit)
            })
            .collect();
        if over.is_empty() {
            return (self, Vec::new());
        }
        let mut refused = Vec::new();
        let mut nodes = Grouped::default();
        let mut edges = Grouped::default();
        let mut next_over = over.iter().copied().peekable();
        for cluster in 0..clusters {
            if next_over.peek() != Some(&cluster) {
                nodes.push_group(self.nodes_by_cluster.slice(cluster).iter().copied());
                edges.push_group(self.edges_by_cluster.slice(cluster).iter().copied());
                continue;
            }
            next_over.next();
            let split = Split::new(
                self.nodes_by_cluster.slice(cluster),
                self.edges_by_cluster.slice(cluster),
                limits,
                forced,
                &type_of,
                rids,
                &mut refused,
            );
            for (piece_nodes, piece_edges) in split.pieces {
                nodes.push_group(piece_nodes);
                edges.push_group(piece_edges);
            }
        }
        let limited = Self {
            first_seen_at: self.first_seen_at,
            nodes_by_cluster: nodes,
            edges_by_cluster: edges,
        };
        (limited, refused)
    }
}

/// One component over a limit, split by replaying its edges in order.
struct Split {
    /// The pieces: each one's nodes (ascending) and edges.
    pieces: Vec<(Vec<u32>, Vec<Edge>)>,
}

impl Split {
    fn new(
        nodes: &[u32],
        edges: &[Edge],
        limits: &Limits,
        forced: &HashSet<(u32, u32)>,
        type_of: &impl Fn(u32) -> u16,
        rids: &[Rid],
        refused: &mut Vec<RefusedEdge>,
    ) -> Self {
        let slots = limits.limited.len();
        // The component's nodes are ascending: a node's place is found by search.
        let local = |node: u32| nodes.binary_search(&node).unwrap_or_default();
        let mut parent: Vec<u32> = (0..nodes.len() as u32).collect();
        let mut counts = vec![0u32; nodes.len() * slots];
        for (at, &node) in nodes.iter().enumerate() {
            if let Some(slot) = limits.slot(type_of(node)) {
                counts[at * slots + slot] = 1;
            }
        }
        let mut order: Vec<usize> = (0..edges.len())
            .filter(|&i| edges[i].a != edges[i].b)
            .collect();
        // A forced edge takes its place in time order like any other, but no limit
        // refuses it (the rules win).
        let is_forced = |e: &Edge| forced.contains(&(e.a.min(e.b), e.a.max(e.b)));
        order.sort_unstable_by(|&x, &y| edge_order(&edges[x], &edges[y], rids));
        let mut applied = vec![true; edges.len()];
        for at in order {
            let edge = &edges[at];
            let (a, b) = (
                find(&mut parent, local(edge.a) as u32),
                find(&mut parent, local(edge.b) as u32),
            );
            if a == b {
                continue;
            }
            let (a_counts, b_counts) = (a as usize * slots, b as usize * slots);
            // A union breaks a limit when it puts ids of the type from both sides
            // together over it (a cluster over a limit by a forced edge may still take
            // ids of other types).
            let broken = (!is_forced(edge))
                .then(|| {
                    (0..slots).find_map(|slot| {
                        let (a_held, b_held) = (counts[a_counts + slot], counts[b_counts + slot]);
                        let held = a_held + b_held;
                        let (id_type, limit) = limits.limited[slot];
                        (held > limit && a_held > 0 && b_held > 0).then_some((id_type, held))
                    })
                })
                .flatten();
            if let Some((id_type, would_hold)) = broken {
                refused.push(RefusedEdge {
                    edge: *edge,
                    id_type,
                    would_hold,
                });
                applied[at] = false;
                continue;
            }
            // The smaller index becomes the root: pieces then come in node order.
            let (root, child) = (a.min(b), a.max(b));
            parent[child as usize] = root;
            for slot in 0..slots {
                counts[root as usize * slots + slot] += counts[child as usize * slots + slot];
            }
        }
        // Pieces numbered by their first node.
        let mut piece_of_root = vec![u32::MAX; nodes.len()];
        let mut pieces: Vec<(Vec<u32>, Vec<Edge>)> = Vec::new();
        let mut piece_of = Vec::with_capacity(nodes.len());
        for (at, &node) in nodes.iter().enumerate() {
            let root = find(&mut parent, at as u32) as usize;
            if piece_of_root[root] == u32::MAX {
                piece_of_root[root] = pieces.len() as u32;
                pieces.push(Default::default());
            }
            let piece = piece_of_root[root] as usize;
            piece_of.push(piece);
            pieces[piece].0.push(node);
        }
        for (edge, &applied) in edges.iter().zip(&applied) {
            if applied {
                pieces[piece_of[local(edge.a)]].1.push(*edge);
            } else {
                for node in [edge.a, edge.b] {
                    pieces[piece_of[local(node)]].1.push(Edge {
                        a: node,
                        b: node,
                        valid_at: edge.valid_at,
                    });
                }
            }
        }
        Self { pieces }
    }
}

/// The order edges are applied in: by time (NULL last), then by the rids of their
/// nodes, the smaller first.
fn edge_order(x: &Edge, y: &Edge, rids: &[Rid]) -> Ordering {
    let key = |e: &Edge| {
        let (ra, rb) = (rids[e.a as usize], rids[e.b as usize]);
        (e.valid_at, ra.min(rb), ra.max(rb))
    };
    key(x).cmp(&key(y))
}

/// The root of `node`, halving the path on the way.
fn find(parent: &mut [u32], mut node: u32) -> u32 {
    while parent[node as usize] != node {
        let up = parent[parent[node as usize] as usize];
        parent[node as usize] = up;
        node = up;
    }
    node
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::stitch::algo::rid::rid;
    use crate::stitch::algo::time::Time;

    /// A test graph: each node's type and rid, and edges over node numbers.
    struct Graph {
        types: Vec<u16>,
        rids: Vec<Rid>,
        edges: Vec<Edge>,
    }

    /// The clusters as sets of rids, and the refused edges as pairs of rids: what does
    /// not depend on how nodes are numbered.
    type Outcome = (BTreeSet<BTreeSet<Rid>>, BTreeSet<(Rid, Rid)>);

    fn outcome(graph: &Graph, limits: &Limits) -> Outcome {
        let clusters = Clusters::new(graph.types.len(), graph.edges.iter().copied());
        let (clusters, refused) = clusters.limit(
            limits,
            &HashSet::new(),
            |n| graph.types[n as usize],
            &graph.rids,
        );
        let sets = (0..clusters.nodes_by_cluster.len())
            .map(|c| {
                clusters
                    .nodes_by_cluster
                    .slice(c)
                    .iter()
                    .map(|&n| graph.rids[n as usize])
                    .collect()
            })
            .collect();
        let refused = refused
            .iter()
            .map(|r| {
                let (a, b) = (graph.rids[r.edge.a as usize], graph.rids[r.edge.b as usize]);
                (a.min(b), a.max(b))
            })
            .collect();
        (sets, refused)
    }

    /// The rule written plainly: every edge of the graph in order, one union-find.
    fn reference(graph: &Graph, limits: &Limits) -> Outcome {
        let n = graph.types.len();
        let mut parent: Vec<u32> = (0..n as u32).collect();
        let mut members: Vec<Vec<u32>> = (0..n as u32).map(|v| vec![v]).collect();
        let mut order: Vec<&Edge> = graph.edges.iter().collect();
        order.sort_by(|x, y| edge_order(x, y, &graph.rids));
        let mut refused = BTreeSet::new();
        for edge in order {
            let (a, b) = (find(&mut parent, edge.a), find(&mut parent, edge.b));
            if a == b {
                continue;
            }
            let over = limits.limited.iter().any(|&(t, limit)| {
                let held = members[a as usize]
                    .iter()
                    .chain(&members[b as usize])
                    .filter(|&&v| graph.types[v as usize] == t)
                    .count();
                held > limit as usize
            });
            if over {
                let (ra, rb) = (graph.rids[edge.a as usize], graph.rids[edge.b as usize]);
                refused.insert((ra.min(rb), ra.max(rb)));
                continue;
            }
            parent[b as usize] = a;
            let moved = std::mem::take(&mut members[b as usize]);
            members[a as usize].extend(moved);
        }
        let sets = members
            .iter()
            .filter(|m| !m.is_empty())
            .map(|m| m.iter().map(|&v| graph.rids[v as usize]).collect())
            .collect();
        (sets, refused)
    }

    fn random_graph(next: &mut impl FnMut(u64) -> u64) -> Graph {
        let n = 2 + next(40) as usize;
        let types: Vec<u16> = (0..n).map(|_| next(3) as u16).collect();
        let rids = (0..n).map(|v| rid(&format!("v{v}"), "t")).collect();
        let edges = (0..next(80))
            .map(|_| {
                let (a, b) = (next(n as u64) as u32, next(n as u64) as u32);
                // Few distinct times, so that ties are common; some edges untimed.
                let time = (next(4) != 0).then(|| next(5) as i64);
                Edge::new(a, b, time)
            })
            .collect();
        Graph { types, rids, edges }
    }

    /// The same graph with its nodes numbered in another order and its edges shuffled:
    /// what reading the inputs in another order or partitioning does.
    fn renumbered(graph: &Graph, next: &mut impl FnMut(u64) -> u64) -> Graph {
        let n = graph.types.len();
        let mut new_of: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            new_of.swap(i, next(i as u64 + 1) as usize);
        }
        let mut types = vec![0; n];
        let mut rids = vec![Rid::default(); n];
        for old in 0..n {
            types[new_of[old] as usize] = graph.types[old];
            rids[new_of[old] as usize] = graph.rids[old];
        }
        let mut edges: Vec<Edge> = graph
            .edges
            .iter()
            .map(|e| Edge {
                a: new_of[e.a as usize],
                b: new_of[e.b as usize],
                valid_at: e.valid_at,
            })
            .collect();
        for i in (1..edges.len()).rev() {
            edges.swap(i, next(i as u64 + 1) as usize);
        }
        Graph { types, rids, edges }
    }

    #[test]
    fn limits_match_the_plain_rule_under_any_order() {
        let mut state = 3u64;
        let mut next = move |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        for round in 0..500 {
            let graph = random_graph(&mut next);
            let limits = Limits::new([Some(1 + next(2) as u32), None, Some(2 + next(3) as u32)]);
            let expected = reference(&graph, &limits);
            assert_eq!(outcome(&graph, &limits), expected, "round {round}");
            let shuffled = renumbered(&graph, &mut next);
            assert_eq!(
                outcome(&shuffled, &limits),
                expected,
                "round {round}, renumbered"
            );
            // Every cluster is within its limits.
            for cluster in &expected.0 {
                for &(t, limit) in &limits.limited {
                    let held = cluster
                        .iter()
                        .filter(|r| {
                            graph
                                .rids
                                .iter()
                                .position(|x| x == *r)
                                .map(|v| graph.types[v])
                                == Some(t)
                        })
                        .count();
                    assert!(held <= limit as usize, "round {round}: {held} > {limit}");
                }
            }
        }
    }

    #[test]
    fn a_shared_email_keeps_its_first_user() {
        // u1 - e at t1, u2 - e at t2, u2 - f at t3: user_id limit 1 refuses u2 - e.
        let (u1, u2, e, f) = (0, 1, 2, 3);
        let graph = Graph {
            types: vec![0, 0, 1, 1],
            rids: (0..4).map(|v| rid(&format!("n{v}"), "t")).collect(),
            edges: vec![
                Edge::new(u2, f, Some(3)),
                Edge::new(u2, e, Some(2)),
                Edge::new(u1, e, Some(1)),
                Edge::new(e, e, Some(9)),
            ],
        };
        let limits = Limits::new([Some(1), None]);
        let clusters = Clusters::new(4, graph.edges.iter().copied());
        let (clusters, refused) = clusters.limit(
            &limits,
            &HashSet::new(),
            |n| graph.types[n as usize],
            &graph.rids,
        );
        assert_eq!(clusters.nodes_by_cluster.len(), 2);
        assert_eq!(clusters.nodes_by_cluster.slice(0), &[u1, e]);
        assert_eq!(clusters.nodes_by_cluster.slice(1), &[u2, f]);
        assert_eq!(
            refused,
            vec![RefusedEdge {
                edge: Edge::new(u2, e, Some(2)),
                id_type: 0,
                would_hold: 2,
            }]
        );
        // The refused edge leaves both its ids seen at its time.
        let times = |c: usize| -> Vec<(u32, u32, Time)> {
            clusters
                .edges_by_cluster
                .slice(c)
                .iter()
                .map(|e| (e.a, e.b, e.valid_at))
                .collect()
        };
        let t = |m| Time::from_micros(Some(m)).unwrap();
        assert!(times(0).contains(&(e, e, t(2))));
        assert!(times(1).contains(&(u2, u2, t(2))));
        // An edge the rules force is applied in its turn despite the limit; the edges
        // after it are judged as usual.
        let forced: HashSet<(u32, u32)> = [(u2.min(e), u2.max(e))].into();
        let (forced_clusters, refused) = Clusters::new(4, graph.edges.iter().copied()).limit(
            &limits,
            &forced,
            |n| graph.types[n as usize],
            &graph.rids,
        );
        assert_eq!(forced_clusters.nodes_by_cluster.len(), 1);
        assert!(refused.is_empty());
        // No limit, or none broken: the clusters are untouched.
        let untouched = Clusters::new(4, graph.edges.iter().copied());
        let (same, none) = untouched.limit(
            &Limits::new([Some(2), None]),
            &HashSet::new(),
            |n| graph.types[n as usize],
            &graph.rids,
        );
        assert!(none.is_empty());
        assert_eq!(same.nodes_by_cluster.len(), 1);
    }
}
