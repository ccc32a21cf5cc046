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

    /// Adds nodes, each alone, up to `len` in all; fewer than there are is a no-op.
    /// Lets the sets grow beside a reader that is still finding nodes.
    pub(crate) fn grow_to(&mut self, len: u32) {
        let from = self.parent.len() as u32;
        if len > from {
            self.parent.extend(from..len);
            self.size.resize(len as usize, 1);
        }
    }

    /// Bytes held, for memory accounting.
    pub(crate) fn allocated_bytes(&self) -> usize {
        (self.parent.capacity() + self.size.capacity()) * size_of::<u32>()
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
        assert_eq!(sets.find(0), sets.find(3));
        assert_ne!(sets.find(4), sets.find(5));
        assert_eq!(sets.into_clusters(), (vec![0, 0, 0, 0, 1, 2], 3));
    }

    #[test]
    fn sets_grow_as_nodes_arrive() {
        let mut sets = UnionFind::new(0);
        sets.grow_to(2);
        assert!(sets.union(0, 1));
        sets.grow_to(1);
        assert_eq!(sets.parent.len(), 2);
        sets.grow_to(4);
        assert!(sets.union(3, 1));
        assert!(!sets.union(0, 3));
        assert_eq!(sets.into_clusters(), (vec![0, 0, 1, 0], 2));
    }

    #[test]
    fn long_chain_is_one_set() {
        let n = 100_000;
        let mut sets = UnionFind::new(n);
        for i in 1..n {
            sets.union(i - 1, i);
        }
        assert_eq!(sets.into_clusters().1, 1);
    }
}
