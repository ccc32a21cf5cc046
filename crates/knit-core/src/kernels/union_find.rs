// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Union-find over dense `u32` node ids, with union by size and path halving.

/// Disjoint sets of the nodes `0..len`.
#[derive(Debug, Clone)]
pub(crate) struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `len` nodes, each alone.
    pub(crate) fn new(len: u32) -> Self {
        Self {
            parent: (0..len).collect(),
            size: vec![1; len as usize],
        }
    }

    /// The representative of `node`'s set.
    pub(crate) fn find(&mut self, mut node: u32) -> u32 {
        loop {
            let parent = self.parent[node as usize];
            if parent == node {
                return node;
            }
            // Path halving: point at the grandparent while walking up.
            let grandparent = self.parent[parent as usize];
            self.parent[node as usize] = grandparent;
            node = grandparent;
        }
    }

    /// Joins the sets of `a` and `b`; true if they were apart.
    pub(crate) fn union(&mut self, a: u32, b: u32) -> bool {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return false;
        }
        if self.size[a as usize] < self.size[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b as usize] = a;
        self.size[a as usize] += self.size[b as usize];
        true
    }

    /// Every node's representative.
    pub(crate) fn roots(&mut self) -> Vec<u32> {
        (0..self.parent.len() as u32)
            .map(|n| self.find(n))
            .collect()
    }

    /// Every node's cluster number, clusters numbered from 0 in order of their first
    /// node, and how many there are. Reuses the sets' own arrays: at a hundred million
    /// nodes, fresh ones would cost as much as the unions.
    pub(crate) fn into_clusters(mut self) -> (Vec<u32>, u32) {
        for node in 0..self.parent.len() as u32 {
            let root = self.find(node);
            self.parent[node as usize] = root;
        }
        let (mut cluster_of, mut number_of_root) = (self.parent, self.size);
        number_of_root.fill(u32::MAX);
        let mut clusters = 0u32;
        for cluster in &mut cluster_of {
            let number = &mut number_of_root[*cluster as usize];
            if *number == u32::MAX {
                *number = clusters;
                clusters += 1;
            }
            *cluster = *number;
        }
        (cluster_of, clusters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_join_sets() {
        let mut sets = UnionFind::new(6);
        assert!(sets.union(0, 1));
        assert!(sets.union(2, 3));
        assert!(!sets.union(1, 0));
        assert!(sets.union(1, 3));
        assert_eq!(sets.find(0), sets.find(2));
        assert_ne!(sets.find(0), sets.find(4));
        let roots = sets.roots();
        assert_eq!(roots[0], roots[3]);
        assert_ne!(roots[4], roots[5]);
        assert_eq!(sets.into_clusters(), (vec![0, 0, 0, 0, 1, 2], 3));
    }

    #[test]
    fn long_chain_is_one_set() {
        let n = 100_000;
        let mut sets = UnionFind::new(n);
        for i in 1..n {
            sets.union(i - 1, i);
        }
        let roots = sets.roots();
        assert!(roots.iter().all(|&r| r == roots[0]));
    }
}
