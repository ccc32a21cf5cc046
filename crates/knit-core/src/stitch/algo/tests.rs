// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The id graph against pb's own outputs and against an independent reference.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;

use super::edge::Edge;
use super::graph::{IdGraph, build_id_graph};
use super::rid::{Rid, rid};
use super::time::Time;

/// The id graph of `edges` over nodes with `rids`.
fn id_graph(rids: &[Rid], edges: &[Edge]) -> IdGraph {
    build_id_graph(rids, edges).expect("the graph is built")
}

/// Reads a CSV file as written by the oracle: a header, and an empty field for NULL (an
/// id is never the empty string, and neither is a time).
fn read_csv(path: &Path) -> Vec<BTreeMap<String, Option<String>>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            header
                .iter()
                .cloned()
                .zip(
                    record
                        .iter()
                        .map(|c| (!c.is_empty()).then(|| c.to_string())),
                )
                .collect()
        })
        .collect()
}

/// `2021-06-10 15:20:47.981` (UTC) as microseconds since the epoch.
fn parse_timestamp(text: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .and_utc()
        .timestamp_micros()
}

#[test]
fn timestamps_parse_as_utc_micros() {
    assert_eq!(parse_timestamp("1970-01-01 00:00:00"), 0);
    assert_eq!(parse_timestamp("2000-01-01 00:00:01"), 946_684_801_000_000);
    assert_eq!(
        parse_timestamp("2021-06-10 15:20:47.981"),
        1_623_338_447_981_000
    );
}

/// Interns the nodes of an oracle edge file and gives the edges over them.
fn oracle_edges(path: &Path) -> (Vec<(String, String)>, Vec<Rid>, Vec<Edge>) {
    let mut index: HashMap<(String, String), u32> = HashMap::new();
    let mut nodes = Vec::new();
    let mut rids = Vec::new();
    let mut intern = |value: String, id_type: String| {
        *index
            .entry((value.clone(), id_type.clone()))
            .or_insert_with(|| {
                rids.push(rid(&value, &id_type));
                nodes.push((value, id_type));
                (nodes.len() - 1) as u32
            })
    };
    let mut edges = Vec::new();
    for row in read_csv(path) {
        let end = |v: &str, t: &str| row[v].clone().map(|value| (value, row[t].clone().unwrap()));
        let ends: Vec<u32> = [end("id1", "id1_type"), end("id2", "id2_type")]
            .into_iter()
            .flatten()
            .map(|(value, id_type)| intern(value, id_type))
            .collect();
        let valid_at = row["valid_at"].as_deref().map(parse_timestamp);
        edges.push(Edge::new(ends[0], *ends.last().unwrap(), valid_at));
    }
    (nodes, rids, edges)
}

fn check_against_oracle(dir: &str, stitcher: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/oracle")
        .join(dir);
    let (nodes, rids, edges) = oracle_edges(&root.join(format!("{stitcher}_edges.csv")));
    let graph = id_graph(&rids, &edges);
    let expected = read_csv(&root.join(format!("{stitcher}.csv")));
    assert_eq!(
        expected.len(),
        nodes.len(),
        "{dir}: one id graph row per node"
    );
    let position: HashMap<&(String, String), usize> =
        nodes.iter().enumerate().map(|(i, n)| (n, i)).collect();
    let main_column = expected[0]
        .keys()
        .find(|k| k.ends_with("_main_id"))
        .unwrap()
        .clone();
    let mut clusters = BTreeSet::new();
    for row in &expected {
        let key = (
            row["other_id"].clone().unwrap(),
            row["other_id_type"].clone().unwrap(),
        );
        let node = position[&key];
        let main = rids[graph.main[node] as usize].to_string();
        assert_eq!(
            Some(&main),
            row[&main_column].as_ref(),
            "{dir}: main id of {key:?}"
        );
        let time = |column: &str| row[column].as_deref().map(parse_timestamp);
        assert_eq!(
            graph.first_seen_at[node].micros(),
            time("first_seen_at"),
            "{dir}: first_seen_at of {key:?}"
        );
        assert_eq!(
            graph.valid_at[node].micros(),
            time("valid_at"),
            "{dir}: valid_at of {key:?}"
        );
        clusters.insert(main);
    }
    assert_eq!(graph.clusters, clusters.len(), "{dir}");
}

#[test]
fn ecommerce_matches_pb() {
    check_against_oracle("ecommerce/expected", "user_id_stitcher");
}

#[test]
fn sample_project_matches_pb() {
    check_against_oracle("sample_project/expected", "test_id__");
}

#[test]
fn random_clusters_match_pb() {
    check_against_oracle("cases/valid_at_random/expected", "user_id_graph");
}

#[test]
fn filtered_graph_matches_pb() {
    check_against_oracle("cases/filters/expected", "user_id_graph");
}

/// SQL `min`: NULL only when every value is NULL.
fn sql_min(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Stored times as SQL sees them.
fn sql_times(times: &[Time]) -> Vec<Option<i64>> {
    times.iter().map(|&t| t.micros()).collect()
}

/// The replay of pb's propagation over the whole graph at once, written as directly as
/// the rules read: sets of rows, no clusters, no ranks.
fn reference_valid_at(rids: &[Rid], edges: &[Edge]) -> Vec<Option<i64>> {
    type Row = (u32, Rid, (bool, i64), u32);
    let key = |t: Option<i64>| (t.is_none(), t.unwrap_or(0));
    let mut init: BTreeMap<(u32, Rid), Option<i64>> = BTreeMap::new();
    for e in edges {
        let label = rids[e.a as usize].min(rids[e.b as usize]);
        let valid_at = e.valid_at.micros();
        for n in [e.a, e.b] {
            let slot = init.entry((n, label)).or_insert(valid_at);
            *slot = sql_min(*slot, valid_at);
        }
    }
    let mut rows: BTreeSet<Row> = init
        .into_iter()
        .map(|((n, l), t)| (n, l, key(t), 0))
        .collect();
    let mut finals: Vec<Row> = Vec::new();
    while !rows.is_empty() {
        let mut pick: BTreeMap<u32, (Rid, (bool, i64), u32)> = BTreeMap::new();
        for &(n, l, t, d) in &rows {
            let offer = (l, t, d);
            pick.entry(n)
                .and_modify(|p| *p = (*p).min(offer))
                .or_insert(offer);
        }
        let mut best: BTreeMap<Rid, (Rid, (bool, i64), u32)> = BTreeMap::new();
        for &(n, l, _, _) in &rows {
            let offer = pick[&n];
            best.entry(l)
                .and_modify(|b| *b = (*b).min(offer))
                .or_insert(offer);
        }
        let new: BTreeSet<Row> = rows
            .iter()
            .map(|&(n, l, t, d)| {
                let (bl, bt, bd) = best[&l];
                if bl < l {
                    let t = if bt.0 || t.0 {
                        (true, 0)
                    } else {
                        (false, bt.1.max(t.1))
                    };
                    (n, bl, t, bd + 1)
                } else {
                    (n, l, t, d)
                }
            })
            .collect();
        let mut labels_of: BTreeMap<u32, BTreeSet<Rid>> = BTreeMap::new();
        for &(n, l, _, _) in &new {
            labels_of.entry(n).or_default().insert(l);
        }
        let active: BTreeSet<Rid> = new
            .iter()
            .filter(|(n, _, _, _)| labels_of[n].len() > 1)
            .map(|&(_, l, _, _)| l)
            .collect();
        finals.extend(new.iter().filter(|r| !active.contains(&r.1)));
        rows = new.into_iter().filter(|r| active.contains(&r.1)).collect();
    }
    let mut out: Vec<Option<((bool, i64), u32)>> = vec![None; rids.len()];
    for (n, _, t, d) in finals {
        let slot = &mut out[n as usize];
        if slot.is_none_or(|current| (t, d) < current) {
            *slot = Some((t, d));
        }
    }
    out.into_iter()
        .map(|v| v.and_then(|((null, t), _)| (!null).then_some(t)))
        .collect()
}

/// Clusters by breadth-first search, as sets of nodes.
fn reference_clusters(nodes: usize, edges: &[Edge]) -> BTreeSet<BTreeSet<u32>> {
    let mut adjacent = vec![Vec::new(); nodes];
    for e in edges {
        adjacent[e.a as usize].push(e.b);
        adjacent[e.b as usize].push(e.a);
    }
    let mut seen = vec![false; nodes];
    let mut clusters = BTreeSet::new();
    for start in 0..nodes as u32 {
        if seen[start as usize] {
            continue;
        }
        let mut cluster = BTreeSet::new();
        let mut queue = VecDeque::from([start]);
        seen[start as usize] = true;
        while let Some(n) = queue.pop_front() {
            cluster.insert(n);
            for &m in &adjacent[n as usize] {
                if !seen[m as usize] {
                    seen[m as usize] = true;
                    queue.push_back(m);
                }
            }
        }
        clusters.insert(cluster);
    }
    clusters
}

/// A seeded random graph: `nodes` nodes, `edges` edges (some singletons), times from a
/// small range so that ties happen, some of them NULL.
fn random_graph(seed: u64, nodes: u32, edges: usize) -> (Vec<Rid>, Vec<Edge>) {
    let mut state = seed;
    let mut next = move |n: u64| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    };
    let rids = (0..nodes).map(|i| rid(&format!("n{i}"), "t")).collect();
    let mut list: Vec<Edge> = (0..edges)
        .map(|_| {
            let a = next(u64::from(nodes)) as u32;
            let b = if next(10) == 0 {
                a
            } else {
                next(u64::from(nodes)) as u32
            };
            let valid_at = (next(8) != 0).then(|| next(20) as i64 * 1_000_000);
            Edge::new(a, b, valid_at)
        })
        .collect();
    // Every node takes part in some edge, as nodes come from edges.
    for n in 0..nodes {
        list.push(Edge::new(
            n,
            n,
            (next(3) != 0).then(|| next(20) as i64 * 1_000_000),
        ));
    }
    (rids, list)
}

#[test]
fn random_graphs_match_the_reference() {
    for seed in 0..40 {
        let nodes = 5 + (seed as u32 * 7) % 60;
        let (rids, edges) = random_graph(seed, nodes, (nodes as usize * 3) / 4);
        let graph = id_graph(&rids, &edges);
        let clusters = reference_clusters(rids.len(), &edges);
        assert_eq!(graph.clusters, clusters.len(), "seed {seed}");
        for cluster in &clusters {
            let main = graph.main[*cluster.first().unwrap() as usize];
            assert!(
                cluster.contains(&main),
                "seed {seed}: main id from another cluster"
            );
            assert!(
                cluster.iter().all(|&n| graph.main[n as usize] == main),
                "seed {seed}"
            );
            let expected_main = *cluster
                .iter()
                .min_by_key(|&&n| {
                    let seen = graph.first_seen_at[n as usize].micros();
                    (seen.is_none(), seen, rids[n as usize])
                })
                .unwrap();
            assert_eq!(main, expected_main, "seed {seed}");
        }
        assert_eq!(
            sql_times(&graph.valid_at),
            reference_valid_at(&rids, &edges),
            "seed {seed}"
        );
    }
}

#[test]
fn two_node_clusters_match_the_reference() {
    // Two-node clusters skip the rounds: pairs in both directions, repeated, with
    // self-pairs earlier and later than the pair between them, and NULL times.
    for seed in 0..200 {
        let (mut rids, edges) = random_graph(seed, 2, 1 + (seed as usize % 4));
        if seed % 2 == 1 {
            // Either node has the smaller rid.
            rids.reverse();
        }
        let graph = id_graph(&rids, &edges);
        if graph.clusters != 1 {
            continue;
        }
        assert_eq!(
            sql_times(&graph.valid_at),
            reference_valid_at(&rids, &edges),
            "seed {seed}: {edges:?}"
        );
    }
}

#[test]
fn long_chain_is_one_cluster_with_exact_times() {
    // pb caps its propagation at 30 rounds, which splits chains longer than that.
    let n = 10_000u32;
    let rids: Vec<Rid> = (0..n)
        .map(|i| rid(&format!("c{i}"), "anonymous_id"))
        .collect();
    let edges: Vec<Edge> = (1..n)
        .map(|i| Edge::new(i - 1, i, Some(i64::from(i))))
        .collect();
    let graph = id_graph(&rids, &edges);
    assert_eq!((graph.clusters, graph.largest_cluster), (1, n as usize));
    // Nodes 0 and 1 are seen first (time 1, together): the smaller rid is the main id.
    let main = if rids[0] < rids[1] { 0 } else { 1 };
    assert!(graph.main.iter().all(|&m| m == main));
    assert_eq!(graph.first_seen_at[0].micros(), Some(1));
    let small: Vec<Edge> = edges[..200].to_vec();
    let small_rids = &rids[..201];
    assert_eq!(
        sql_times(&id_graph(small_rids, &small).valid_at),
        reference_valid_at(small_rids, &small)
    );
}

#[test]
fn star_with_many_leaves() {
    let leaves = 100_000u32;
    let rids: Vec<Rid> = (0..=leaves)
        .map(|i| rid(&format!("s{i}"), "email"))
        .collect();
    let edges: Vec<Edge> = (1..=leaves)
        .map(|i| Edge::new(0, i, Some(i64::from(leaves - i))))
        .collect();
    let graph = id_graph(&rids, &edges);
    assert_eq!(
        (graph.clusters, graph.largest_cluster),
        (1, leaves as usize + 1)
    );
    // The last leaf's edge is the earliest (time 0): the hub and that leaf tie on
    // first_seen_at, and the smaller rid of the two wins.
    let main = if rids[0] < rids[leaves as usize] {
        0
    } else {
        leaves
    };
    assert!(graph.main.iter().all(|&m| m == main));
    assert_eq!(graph.first_seen_at[0].micros(), Some(0));
}

#[test]
fn singletons_and_self_loops() {
    let rids: Vec<Rid> = ["a", "b", "c"].iter().map(|v| rid(v, "t")).collect();
    let edges = [
        Edge::new(0, 0, None),
        Edge::new(1, 1, Some(5)),
        Edge::new(1, 1, Some(3)),
        Edge::new(2, 2, None),
    ];
    let graph = id_graph(&rids, &edges);
    assert_eq!(graph.clusters, 3);
    assert_eq!(graph.main, vec![0, 1, 2]);
    assert_eq!(sql_times(&graph.first_seen_at), vec![None, Some(3), None]);
    assert_eq!(sql_times(&graph.valid_at), vec![None, Some(3), None]);
}

#[test]
fn empty_graph() {
    let graph = id_graph(&[], &[]);
    assert_eq!((graph.clusters, graph.largest_cluster), (0, 0));
}
