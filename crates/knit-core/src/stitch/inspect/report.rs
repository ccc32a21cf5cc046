// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The sections of `stitch_report`, computed from a stitch's state.
//!
//! Counts are exact. Percentiles are nearest-rank: the p-th percentile of `n` sorted
//! sizes is the `ceil(p * n / 100)`-th. Degrees and co-occurring types count the
//! distinct edges the inputs gave, an edge and its reverse once, refused ones included
//! (a hub is what the data says, whatever the limits kept); bridges and articulation
//! points are those of the clusters as stitched.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, RecordBatch, StringBuilder, TimestampMicrosecondArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::Result;

use super::cuts::cuts;
use super::tables::{ALL_TYPES, HUBS_PER_TYPE, LARGEST_CLUSTERS, ReportSection};
use crate::stitch::algo::pairs::Side;
use crate::stitch::algo::rid::Rid;
use crate::stitch::algo::time::Time;
use crate::stitch::spec::StitchSpec;
use crate::stitch::state::StitchState;

/// An edge between two distinct nodes, the smaller first, with its earliest time.
pub(super) type Link = (u32, u32, Time);

/// What the sections read: the state, and the cluster of each node.
pub(super) struct View<'a> {
    pub spec: &'a StitchSpec,
    pub state: &'a StitchState,
    /// The cluster (index into the graph's clusters) of each node.
    pub cluster_of: Vec<u32>,
}

impl<'a> View<'a> {
    pub(super) fn new(spec: &'a StitchSpec, state: &'a StitchState) -> Self {
        let graph = &state.graph;
        let mut cluster_of = vec![0u32; graph.main.len()];
        for cluster in 0..graph.clusters {
            for &node in graph.cluster_nodes(cluster) {
                cluster_of[node as usize] = cluster as u32;
            }
        }
        Self {
            spec,
            state,
            cluster_of,
        }
    }

    /// A node's id type (index).
    pub(super) fn type_of(&self, node: u32) -> u16 {
        self.state.collector.nodes.key(node).0
    }

    /// A node's value and type name.
    pub(super) fn key(&self, node: u32) -> Result<(&'a str, &'a str)> {
        let (id_type, value) = self.state.node_key(self.spec, node)?;
        Ok((value, id_type))
    }

    /// The main id (rid) of a cluster.
    pub(super) fn main_rid(&self, cluster: u32) -> Rid {
        self.state.graph.main_rid(cluster as usize)
    }

    /// The distinct edges between two nodes the inputs gave (less those the rules
    /// exclude), an edge and its reverse once, each with its earliest time, ordered by
    /// nodes; only those `keep` accepts.
    pub(super) fn links(&self, keep: impl Fn(u32, u32) -> bool) -> Vec<Link> {
        let excluded = &self.state.excluded;
        let mut links: Vec<Link> = self
            .state
            .collector
            .list
            .iter()
            .filter_map(|pair| match pair.sides() {
                (Side::Node(a), Side::Node(b)) if a != b && keep(a, b) => {
                    Some((a.min(b), a.max(b), pair.time()))
                }
                _ => None,
            })
            .filter(|(a, b, _)| excluded.is_empty() || !excluded.contains(&(*a, *b)))
            .collect();
        links.sort_unstable();
        // Sorted by nodes then time: the first of each pair of nodes is its earliest.
        links.dedup_by_key(|&mut (a, b, _)| (a, b));
        links
    }
}

/// The rows of `section`.
pub(super) fn section(
    view: &View<'_>,
    section: ReportSection,
    schema: SchemaRef,
) -> Result<RecordBatch> {
    let columns = match section {
        ReportSection::Summary => summary(view)?,
        ReportSection::Sizes => sizes(view),
        ReportSection::Hubs => hubs(view)?,
        ReportSection::Refused => refused(view)?,
        ReportSection::Violations => violations(view),
        ReportSection::Types => types(view),
        ReportSection::Bridges => bridges(view)?,
    };
    Ok(RecordBatch::try_new(schema, columns)?)
}

fn counts(values: impl IntoIterator<Item = u64>) -> ArrayRef {
    Arc::new(values.into_iter().collect::<UInt64Array>())
}

fn texts<'s>(values: impl IntoIterator<Item = Option<&'s str>>) -> ArrayRef {
    let mut builder = StringBuilder::new();
    for value in values {
        builder.append_option(value);
    }
    Arc::new(builder.finish())
}

pub(super) fn times(values: impl IntoIterator<Item = Time>) -> ArrayRef {
    Arc::new(
        values
            .into_iter()
            .map(Time::micros)
            .collect::<TimestampMicrosecondArray>(),
    )
}

/// The nearest-rank `p`-th percentile of ascending `sorted` (0 when empty).
fn percentile(sorted: &[u64], p: u64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as u64).div_ceil(100).max(1);
    sorted[rank as usize - 1]
}

/// One summary row's figures: how many ids each cluster holding some has.
#[derive(Default)]
struct Tally {
    per_cluster: Vec<u64>,
    singletons: u64,
}

fn summary(view: &View<'_>) -> Result<Vec<ArrayRef>> {
    let graph = &view.state.graph;
    let types = view.spec.entity.id_types.len();
    let mut tallies: Vec<Tally> = (0..types).map(|_| Tally::default()).collect();
    let mut all = Tally::default();
    let mut held = vec![0u64; types];
    let mut touched: Vec<u16> = Vec::new();
    for cluster in 0..graph.clusters {
        let nodes = graph.cluster_nodes(cluster);
        for &node in nodes {
            let id_type = view.type_of(node);
            if held[usize::from(id_type)] == 0 {
                touched.push(id_type);
            }
            held[usize::from(id_type)] += 1;
        }
        for id_type in touched.drain(..) {
            let tally = &mut tallies[usize::from(id_type)];
            tally.per_cluster.push(held[usize::from(id_type)]);
            tally.singletons += u64::from(nodes.len() == 1);
            held[usize::from(id_type)] = 0;
        }
        all.per_cluster.push(nodes.len() as u64);
        all.singletons += u64::from(nodes.len() == 1);
    }
    let mut refused_by_type = vec![0u64; types];
    for refused in &view.state.refused {
        refused_by_type[usize::from(refused.id_type)] += 1;
    }
    let mut names: Vec<&str> = Vec::with_capacity(types + 1);
    let mut rows: Vec<(Tally, Option<u32>, u64)> = Vec::with_capacity(types + 1);
    for (id_type, tally) in view.spec.entity.id_types.iter().zip(tallies) {
        names.push(&id_type.name);
        let refused = refused_by_type[rows.len()];
        rows.push((tally, id_type.limit, refused));
    }
    names.push(ALL_TYPES);
    rows.push((all, None, view.state.refused.len() as u64));
    for (tally, _, _) in &mut rows {
        tally.per_cluster.sort_unstable();
    }
    let figure = |f: &dyn Fn(&Tally) -> u64| counts(rows.iter().map(|(t, _, _)| f(t)));
    Ok(vec![
        texts(names.iter().map(|&n| Some(n))),
        figure(&|t| t.per_cluster.iter().sum()),
        figure(&|t| t.per_cluster.len() as u64),
        figure(&|t| t.singletons),
        figure(&|t| t.per_cluster.last().copied().unwrap_or(0)),
        figure(&|t| percentile(&t.per_cluster, 50)),
        figure(&|t| percentile(&t.per_cluster, 90)),
        figure(&|t| percentile(&t.per_cluster, 99)),
        Arc::new(
            rows.iter()
                .map(|(_, limit, _)| *limit)
                .collect::<UInt32Array>(),
        ),
        counts(rows.iter().map(|(_, _, refused)| *refused)),
    ])
}

fn sizes(view: &View<'_>) -> Vec<ArrayRef> {
    let graph = &view.state.graph;
    // Bucket 0 holds size 1; bucket k > 0 holds sizes 2^(k-1)+1 ..= 2^k.
    let mut buckets: Vec<(u64, u64)> = Vec::new();
    for cluster in 0..graph.clusters {
        let size = graph.cluster_nodes(cluster).len() as u64;
        let bucket = (u64::BITS - (size - 1).leading_zeros()) as usize;
        if bucket >= buckets.len() {
            buckets.resize(bucket + 1, (0, 0));
        }
        buckets[bucket].0 += 1;
        buckets[bucket].1 += size;
    }
    let kept: Vec<usize> = (0..buckets.len()).filter(|&b| buckets[b].0 > 0).collect();
    let from = |b: usize| if b == 0 { 1 } else { (1u64 << (b - 1)) + 1 };
    vec![
        counts(kept.iter().map(|&b| from(b))),
        counts(kept.iter().map(|&b| 1u64 << b)),
        counts(kept.iter().map(|&b| buckets[b].0)),
        counts(kept.iter().map(|&b| buckets[b].1)),
    ]
}

fn hubs(view: &View<'_>) -> Result<Vec<ArrayRef>> {
    let mut degree = vec![0u64; view.cluster_of.len()];
    for (a, b, _) in view.links(|_, _| true) {
        degree[a as usize] += 1;
        degree[b as usize] += 1;
    }
    let rids = &view.state.rids;
    let mut by_type: Vec<Vec<u32>> = vec![Vec::new(); view.spec.entity.id_types.len()];
    for node in 0..degree.len() as u32 {
        if degree[node as usize] > 0 {
            by_type[usize::from(view.type_of(node))].push(node);
        }
    }
    let mut rows: Vec<(u16, u32, u32)> = Vec::new();
    for (id_type, nodes) in by_type.iter_mut().enumerate() {
        // Most neighbours first; ties by rid, which does not depend on input order. Only
        // the first few are wanted: they are picked out, then sorted.
        let key = |&n: &u32| (std::cmp::Reverse(degree[n as usize]), rids[n as usize]);
        if nodes.len() > HUBS_PER_TYPE {
            nodes.select_nth_unstable_by_key(HUBS_PER_TYPE - 1, key);
            nodes.truncate(HUBS_PER_TYPE);
        }
        nodes.sort_unstable_by_key(key);
        for (rank, &node) in nodes.iter().take(HUBS_PER_TYPE).enumerate() {
            rows.push((id_type as u16, rank as u32 + 1, node));
        }
    }
    let keys = rows
        .iter()
        .map(|&(_, _, node)| view.key(node))
        .collect::<Result<Vec<_>>>()?;
    let graph = &view.state.graph;
    let clusters: Vec<u32> = rows
        .iter()
        .map(|&(_, _, n)| view.cluster_of[n as usize])
        .collect();
    let mains: Vec<String> = clusters
        .iter()
        .map(|&c| view.main_rid(c).to_string())
        .collect();
    Ok(vec![
        texts(keys.iter().map(|&(_, t)| Some(t))),
        Arc::new(
            rows.iter()
                .map(|&(_, rank, _)| rank)
                .collect::<UInt32Array>(),
        ),
        texts(keys.iter().map(|&(v, _)| Some(v))),
        counts(rows.iter().map(|&(_, _, n)| degree[n as usize])),
        texts(mains.iter().map(|m| Some(m.as_str()))),
        counts(
            clusters
                .iter()
                .map(|&c| graph.cluster_nodes(c as usize).len() as u64),
        ),
    ])
}

fn refused(view: &View<'_>) -> Result<Vec<ArrayRef>> {
    let refused = &view.state.refused;
    let ends = refused
        .iter()
        .map(|r| Ok((view.key(r.edge.a)?, view.key(r.edge.b)?)))
        .collect::<Result<Vec<_>>>()?;
    let entity = &view.spec.entity;
    let limited =
        |r: &crate::stitch::algo::limits::RefusedEdge| &entity.id_types[usize::from(r.id_type)];
    let reasons: Vec<String> = refused
        .iter()
        .map(|r| {
            let id_type = limited(r);
            format!(
                "joining their clusters would give one cluster {} {} ids; the limit is {}",
                r.would_hold,
                id_type.name,
                id_type.limit.unwrap_or_default()
            )
        })
        .collect();
    Ok(vec![
        texts(ends.iter().map(|((v, _), _)| Some(*v))),
        texts(ends.iter().map(|((_, t), _)| Some(*t))),
        texts(ends.iter().map(|(_, (v, _))| Some(*v))),
        texts(ends.iter().map(|(_, (_, t))| Some(*t))),
        times(refused.iter().map(|r| r.edge.valid_at)),
        texts(refused.iter().map(|r| Some(limited(r).name.as_str()))),
        Arc::new(
            refused
                .iter()
                .map(|r| limited(r).limit.unwrap_or_default())
                .collect::<UInt32Array>(),
        ),
        Arc::new(
            refused
                .iter()
                .map(|r| r.would_hold)
                .collect::<UInt32Array>(),
        ),
        texts(reasons.iter().map(|r| Some(r.as_str()))),
    ])
}

fn violations(view: &View<'_>) -> Vec<ArrayRef> {
    let graph = &view.state.graph;
    let id_types = &view.spec.entity.id_types;
    let mut held = vec![0u64; id_types.len()];
    // Rows: cluster, id type, ids of it held.
    let mut rows: Vec<(u32, u16, u64)> = Vec::new();
    for cluster in 0..graph.clusters {
        held.fill(0);
        for &node in graph.cluster_nodes(cluster) {
            held[usize::from(view.type_of(node))] += 1;
        }
        for (id_type, definition) in id_types.iter().enumerate() {
            if let Some(limit) = definition.limit
                && held[id_type] > u64::from(limit)
            {
                rows.push((cluster as u32, id_type as u16, held[id_type]));
            }
        }
    }
    rows.sort_unstable_by_key(|&(cluster, id_type, _)| (view.main_rid(cluster), id_type));
    let mains: Vec<String> = rows
        .iter()
        .map(|r| view.main_rid(r.0).to_string())
        .collect();
    vec![
        texts(mains.iter().map(|m| Some(m.as_str()))),
        counts(
            rows.iter()
                .map(|r| graph.cluster_nodes(r.0 as usize).len() as u64),
        ),
        texts(rows.iter().map(|r| Some(view.spec.type_name(r.1)))),
        counts(rows.iter().map(|r| r.2)),
        Arc::new(
            rows.iter()
                .map(|r| id_types[usize::from(r.1)].limit.unwrap_or_default())
                .collect::<UInt32Array>(),
        ),
    ]
}

fn types(view: &View<'_>) -> Vec<ArrayRef> {
    let graph = &view.state.graph;
    let n = view.spec.entity.id_types.len();
    // Pairs of types (t1 <= t2) with counts; few types in practice, so a map.
    let mut together: HashMap<(u16, u16), (u64, u64)> = HashMap::new();
    let mut held = vec![0u64; n];
    let mut present: Vec<u16> = Vec::new();
    for cluster in 0..graph.clusters {
        for &node in graph.cluster_nodes(cluster) {
            let id_type = view.type_of(node);
            if held[usize::from(id_type)] == 0 {
                present.push(id_type);
            }
            held[usize::from(id_type)] += 1;
        }
        present.sort_unstable();
        for (i, &t1) in present.iter().enumerate() {
            if held[usize::from(t1)] > 1 {
                together.entry((t1, t1)).or_default().0 += 1;
            }
            for &t2 in &present[i + 1..] {
                together.entry((t1, t2)).or_default().0 += 1;
            }
        }
        for id_type in present.drain(..) {
            held[usize::from(id_type)] = 0;
        }
    }
    for (a, b, _) in view.links(|_, _| true) {
        let (ta, tb) = (view.type_of(a), view.type_of(b));
        together.entry((ta.min(tb), ta.max(tb))).or_default().1 += 1;
    }
    let mut rows: Vec<((u16, u16), (u64, u64))> = together.into_iter().collect();
    rows.sort_unstable();
    let name = |t: u16| Some(view.spec.type_name(t));
    vec![
        texts(rows.iter().map(|&((t1, _), _)| name(t1))),
        texts(rows.iter().map(|&((_, t2), _)| name(t2))),
        counts(rows.iter().map(|&(_, (clusters, _))| clusters)),
        counts(rows.iter().map(|&(_, (_, edges))| edges)),
    ]
}

/// The largest clusters of more than one id, largest first (ties by main id).
pub(super) fn largest_clusters(view: &View<'_>, count: usize) -> Vec<u32> {
    let graph = &view.state.graph;
    let mut clusters: Vec<u32> = (0..graph.clusters as u32)
        .filter(|&c| graph.cluster_nodes(c as usize).len() > 1)
        .collect();
    clusters.sort_unstable_by_key(|&c| {
        (
            std::cmp::Reverse(graph.cluster_nodes(c as usize).len()),
            view.main_rid(c),
        )
    });
    clusters.truncate(count);
    clusters
}

fn bridges(view: &View<'_>) -> Result<Vec<ArrayRef>> {
    let graph = &view.state.graph;
    let chosen = largest_clusters(view, LARGEST_CLUSTERS);
    let cluster_of = &view.cluster_of;
    let links = view.links(|a, b| {
        let cluster = cluster_of[a as usize];
        cluster == cluster_of[b as usize] && chosen.contains(&cluster)
    });
    // Rows: cluster, kind, first node, second node.
    let mut rows: Vec<(u32, &str, u32, Option<u32>)> = Vec::new();
    for &cluster in &chosen {
        let nodes = graph.cluster_nodes(cluster as usize);
        let local = |node: u32| nodes.binary_search(&node).unwrap_or_default() as u32;
        let mut adjacency = vec![Vec::new(); nodes.len()];
        for &(a, b, _) in links.iter().filter(|l| cluster_of[l.0 as usize] == cluster) {
            let (a, b) = (local(a), local(b));
            adjacency[a as usize].push(b);
            adjacency[b as usize].push(a);
        }
        let found = cuts(&adjacency);
        // Each bridge's ends, and the bridges, in the order of their ids' values and
        // types: the same whatever order the nodes were numbered in.
        let mut bridges = found
            .bridges
            .iter()
            .map(|&(a, b)| {
                let (a, b) = (nodes[a as usize], nodes[b as usize]);
                let (ka, kb) = (view.key(a)?, view.key(b)?);
                Ok(if ka <= kb {
                    (ka, kb, a, b)
                } else {
                    (kb, ka, b, a)
                })
            })
            .collect::<Result<Vec<_>>>()?;
        bridges.sort_unstable();
        rows.extend(
            bridges
                .into_iter()
                .map(|(_, _, a, b)| (cluster, "bridge", a, Some(b))),
        );
        let mut points = found
            .articulation_points
            .iter()
            .map(|&v| Ok((view.key(nodes[v as usize])?, nodes[v as usize])))
            .collect::<Result<Vec<_>>>()?;
        points.sort_unstable();
        rows.extend(
            points
                .into_iter()
                .map(|(_, v)| (cluster, "articulation_point", v, None)),
        );
    }
    let firsts = rows
        .iter()
        .map(|r| view.key(r.2))
        .collect::<Result<Vec<_>>>()?;
    let seconds = rows
        .iter()
        .map(|r| r.3.map(|n| view.key(n)).transpose())
        .collect::<Result<Vec<_>>>()?;
    let mains: Vec<String> = rows
        .iter()
        .map(|r| view.main_rid(r.0).to_string())
        .collect();
    Ok(vec![
        texts(mains.iter().map(|m| Some(m.as_str()))),
        counts(
            rows.iter()
                .map(|r| graph.cluster_nodes(r.0 as usize).len() as u64),
        ),
        texts(rows.iter().map(|r| Some(r.1))),
        texts(firsts.iter().map(|&(v, _)| Some(v))),
        texts(firsts.iter().map(|&(_, t)| Some(t))),
        texts(seconds.iter().map(|s| s.map(|(v, _)| v))),
        texts(seconds.iter().map(|s| s.map(|(_, t)| t))),
    ])
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sizes: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&sizes, 50), 5);
        assert_eq!(percentile(&sizes, 90), 9);
        assert_eq!(percentile(&sizes, 99), 10);
        assert_eq!(percentile(&[7], 50), 7);
        assert_eq!(percentile(&[], 50), 0);
    }
}
