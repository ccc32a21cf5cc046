// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Bridges and articulation points of one connected graph, by Hopcroft and Tarjan's
//! depth-first search, written with an explicit stack (a giant cluster is a path of a
//! hundred thousand ids deep) in O(V + E).
//!
//! A **bridge** is an edge whose removal splits the cluster: the one link holding two
//! groups of ids together, often the shared email or device that over-stitched them.
//! An **articulation point** is an id whose removal splits it: a hub.

/// The cut edges and cut vertices of a graph.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Cuts {
    /// Bridges, as pairs of vertices `(parent, child)` of the search tree.
    pub bridges: Vec<(u32, u32)>,
    /// Articulation points, ascending.
    pub articulation_points: Vec<u32>,
}

/// The cuts of the graph over vertices `0..adjacency.len()` whose neighbours are
/// `adjacency` (each undirected edge listed at both ends, no parallel edges, no loops).
pub(crate) fn cuts(adjacency: &[Vec<u32>]) -> Cuts {
    let n = adjacency.len();
    const UNSEEN: u32 = u32::MAX;
    let mut order = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut is_cut = vec![false; n];
    let mut bridges = Vec::new();
    let mut counter = 0u32;
    // Frames of the search: a vertex, its parent and the next neighbour to look at.
    let mut stack: Vec<(u32, u32, usize)> = Vec::new();
    for root in 0..n as u32 {
        if order[root as usize] != UNSEEN {
            continue;
        }
        order[root as usize] = counter;
        low[root as usize] = counter;
        counter += 1;
        let mut root_children = 0;
        stack.push((root, UNSEEN, 0));
        while let Some(frame) = stack.last_mut() {
            let (v, parent, next) = *frame;
            if let Some(&w) = adjacency[v as usize].get(next) {
                frame.2 += 1;
                if w == parent {
                    continue;
                }
                if order[w as usize] == UNSEEN {
                    order[w as usize] = counter;
                    low[w as usize] = counter;
                    counter += 1;
                    if v == root {
                        root_children += 1;
                    }
                    stack.push((w, v, 0));
                } else {
                    low[v as usize] = low[v as usize].min(order[w as usize]);
                }
                continue;
            }
            // Every neighbour of v is done: hand its low point to its parent.
            stack.pop();
            if parent == UNSEEN {
                continue;
            }
            low[parent as usize] = low[parent as usize].min(low[v as usize]);
            if low[v as usize] > order[parent as usize] {
                bridges.push((parent, v));
            }
            if parent != root && low[v as usize] >= order[parent as usize] {
                is_cut[parent as usize] = true;
            }
        }
        if root_children > 1 {
            is_cut[root as usize] = true;
        }
    }
    Cuts {
        bridges,
        articulation_points: (0..n as u32).filter(|&v| is_cut[v as usize]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(u32, u32)]) -> Vec<Vec<u32>> {
        let mut adjacency = vec![Vec::new(); n];
        for &(a, b) in edges {
            adjacency[a as usize].push(b);
            adjacency[b as usize].push(a);
        }
        adjacency
    }

    /// Cuts by brute force: remove each edge (vertex) and count components.
    fn brute(n: usize, edges: &[(u32, u32)]) -> (Vec<(u32, u32)>, Vec<u32>) {
        let components = |skip_edge: Option<usize>, skip_vertex: Option<u32>| {
            let mut parent: Vec<usize> = (0..n).collect();
            fn find(p: &mut [usize], x: usize) -> usize {
                if p[x] != x {
                    let r = find(p, p[x]);
                    p[x] = r;
                }
                p[x]
            }
            for (i, &(a, b)) in edges.iter().enumerate() {
                if Some(i) == skip_edge || Some(a) == skip_vertex || Some(b) == skip_vertex {
                    continue;
                }
                let (ra, rb) = (find(&mut parent, a as usize), find(&mut parent, b as usize));
                parent[ra] = rb;
            }
            (0..n)
                .filter(|&v| Some(v as u32) != skip_vertex && find(&mut parent, v) == v)
                .count()
        };
        let base = components(None, None);
        let mut bridges: Vec<(u32, u32)> = (0..edges.len())
            .filter(|&i| components(Some(i), None) > base)
            .map(|i| (edges[i].0.min(edges[i].1), edges[i].0.max(edges[i].1)))
            .collect();
        bridges.sort_unstable();
        let points = (0..n as u32)
            .filter(|&v| components(None, Some(v)) > base)
            .collect();
        (bridges, points)
    }

    fn sorted(mut cuts: Cuts) -> (Vec<(u32, u32)>, Vec<u32>) {
        let mut bridges: Vec<(u32, u32)> = cuts
            .bridges
            .iter()
            .map(|&(a, b)| (a.min(b), a.max(b)))
            .collect();
        bridges.sort_unstable();
        cuts.articulation_points.sort_unstable();
        (bridges, cuts.articulation_points)
    }

    #[test]
    fn two_triangles_joined_by_one_edge() {
        // 0-1-2 triangle, 3-4-5 triangle, bridge 2-3: 2 and 3 are the cut vertices.
        let edges = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (2, 3)];
        let found = sorted(cuts(&graph(6, &edges)));
        assert_eq!(found, (vec![(2, 3)], vec![2, 3]));
    }

    #[test]
    fn a_long_path_needs_no_recursion() {
        let n = 200_000u32;
        let edges: Vec<(u32, u32)> = (1..n).map(|v| (v - 1, v)).collect();
        let found = cuts(&graph(n as usize, &edges));
        assert_eq!(found.bridges.len(), n as usize - 1);
        assert_eq!(found.articulation_points.len(), n as usize - 2);
    }

    #[test]
    fn random_graphs_match_brute_force() {
        let mut state = 5u64;
        let mut next = move |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        for _ in 0..300 {
            let n = 1 + next(12) as usize;
            let mut edges: Vec<(u32, u32)> = Vec::new();
            for _ in 0..next(20) {
                let (a, b) = (next(n as u64) as u32, next(n as u64) as u32);
                if a != b && !edges.contains(&(a, b)) && !edges.contains(&(b, a)) {
                    edges.push((a, b));
                }
            }
            let found = sorted(cuts(&graph(n, &edges)));
            assert_eq!(found, brute(n, &edges), "graph {edges:?} on {n} vertices");
        }
    }
}
