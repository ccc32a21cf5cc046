// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Why ids are one customer: `explain_link` (the shortest chain of edges joining two
//! ids) and `explain_id` (an id's cluster, and why its main id is what it is).
//!
//! An id is named by its value; a value held by ids of several types names them all,
//! and the chain starts at whichever is nearest. The chain follows the edges of the
//! clusters as stitched (an edge the limits refused joins nothing), breadth first from
//! the first id, neighbours taken in rid order, so the same graph always gives the same
//! chain. Each hop's time is the earliest time its two ids were seen together, and its
//! input the first input (in the order they were created) with a row that did so then.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringBuilder, UInt32Array, UInt64Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::temporal_conversions::timestamp_us_to_datetime;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use futures::StreamExt;

use super::report::{Link, View, times};
use crate::stitch::algo::time::Time;

/// One hop of a chain: from the node nearer the first id to the next, with the
/// earliest time they were seen together.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hop {
    from: u32,
    to: u32,
    time: Time,
}

/// The nodes holding `value`, of any id type.
fn nodes_of(view: &View<'_>, function: &str, value: &str) -> Result<Vec<u32>> {
    let nodes: Vec<u32> = (0..view.spec.entity.id_types.len() as u16)
        .filter_map(|id_type| view.state.collector.nodes.get(id_type, value.as_bytes()))
        .collect();
    if nodes.is_empty() {
        return Err(DataFusionError::Execution(format!(
            "{function}: '{value}' is not an id of entity '{}': no input gave it (after its \
             id type's filters); check the value with SELECT * FROM id_stitch('{}') WHERE \
             other_id = '{value}'",
            view.spec.entity.name, view.spec.entity.name
        )));
    }
    Ok(nodes)
}

/// The shortest chain of edges from an id `from` to an id `to`; empty when they are in
/// different clusters.
pub(super) fn link_path(view: &View<'_>, from: &str, to: &str) -> Result<Vec<Hop>> {
    let mut sources = nodes_of(view, "explain_link", from)?;
    let targets = nodes_of(view, "explain_link", to)?;
    let cluster_of = &view.cluster_of;
    let shared: Vec<u32> = sources
        .iter()
        .map(|&s| cluster_of[s as usize])
        .filter(|c| targets.iter().any(|&t| cluster_of[t as usize] == *c))
        .collect();
    if shared.is_empty() {
        return Ok(Vec::new());
    }
    sources.retain(|&s| shared.contains(&cluster_of[s as usize]));
    let links: Vec<Link> = view.links(|a, b| {
        let cluster = cluster_of[a as usize];
        cluster == cluster_of[b as usize] && shared.contains(&cluster)
    });
    let rids = &view.state.rids;
    let mut neighbours: HashMap<u32, Vec<(u32, Time)>> = HashMap::new();
    for &(a, b, time) in &links {
        neighbours.entry(a).or_default().push((b, time));
        neighbours.entry(b).or_default().push((a, time));
    }
    for list in neighbours.values_mut() {
        list.sort_unstable_by_key(|&(n, _)| rids[n as usize]);
    }
    sources.sort_unstable_by_key(|&n| rids[n as usize]);
    // Breadth first from every source at once; each reached node keeps the hop that
    // reached it.
    let mut reached: HashMap<u32, Option<Hop>> = sources.iter().map(|&s| (s, None)).collect();
    let mut queue: VecDeque<u32> = sources.iter().copied().collect();
    let mut end = sources.iter().copied().find(|s| targets.contains(s));
    while let (None, Some(node)) = (end, queue.pop_front()) {
        for &(next, time) in neighbours.get(&node).map_or(&[][..], Vec::as_slice) {
            if reached.contains_key(&next) {
                continue;
            }
            reached.insert(
                next,
                Some(Hop {
                    from: node,
                    to: next,
                    time,
                }),
            );
            if targets.contains(&next) {
                end = Some(next);
                break;
            }
            queue.push_back(next);
        }
    }
    let mut hops = Vec::new();
    let mut at = end;
    while let Some(Some(hop)) = at.and_then(|n| reached.get(&n).copied()) {
        hops.push(hop);
        at = Some(hop.from);
    }
    hops.reverse();
    Ok(hops)
}

/// The input of each hop: the first input, in order, with a row that gave the hop's
/// two ids together at its time.
pub(super) async fn hop_inputs(
    view: &View<'_>,
    hops: &[Hop],
    inputs: &[Arc<dyn ExecutionPlan>],
    ctx: &Arc<TaskContext>,
) -> Result<Vec<Option<String>>> {
    let mut found: Vec<Option<String>> = vec![None; hops.len()];
    // Each hop as the types and values of its ends, and its time.
    let ends = hops
        .iter()
        .map(|hop| {
            let key = |node: u32| {
                let (id_type, value) = view.state.collector.nodes.key(node);
                (id_type, value.to_vec())
            };
            (key(hop.from), key(hop.to), hop.time.micros())
        })
        .collect::<Vec<_>>();
    for (input, definition) in inputs.iter().zip(&view.spec.inputs) {
        if found.iter().all(Option::is_some) {
            break;
        }
        let types = &definition.column_types;
        // The stitch may have run this plan already in this query: a fresh copy of its
        // operators' state reads it again.
        let input = reset_plan_states(Arc::clone(input))?;
        for partition in 0..input.properties().partitioning.partition_count() {
            let mut stream = input.execute(partition, Arc::clone(ctx))?;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                let ids = (0..types.len())
                    .map(|i| cast(batch.column(i), &DataType::Utf8View))
                    .collect::<Result<Vec<_>, _>>()?;
                let ids: Vec<_> = ids.iter().map(|a| a.as_string_view()).collect();
                let time = cast(
                    batch.column(types.len()),
                    &DataType::Timestamp(TimeUnit::Microsecond, None),
                )?;
                let time = time.as_primitive::<TimestampMicrosecondType>();
                for row in 0..batch.num_rows() {
                    let row_time = time.is_valid(row).then(|| time.value(row));
                    for (hop, ((ta, va), (tb, vb), hop_time)) in ends.iter().enumerate() {
                        if found[hop].is_some() || row_time != *hop_time {
                            continue;
                        }
                        let column_of = |id_type: u16, value: &[u8], other: Option<usize>| {
                            (0..types.len()).find(|&c| {
                                Some(c) != other
                                    && types[c] == id_type
                                    && ids[c].is_valid(row)
                                    && ids[c].value(row).as_bytes() == value
                            })
                        };
                        if let Some(a) = column_of(*ta, va, None)
                            && column_of(*tb, vb, Some(a)).is_some()
                        {
                            found[hop] = Some(definition.name.clone());
                        }
                    }
                }
                if found.iter().all(Option::is_some) {
                    break;
                }
            }
        }
    }
    Ok(found)
}

/// The rows of `explain_link`.
pub(super) fn link_batch(
    view: &View<'_>,
    hops: &[Hop],
    inputs: &[Option<String>],
    schema: SchemaRef,
) -> Result<RecordBatch> {
    let mut columns: [StringBuilder; 5] = std::array::from_fn(|_| StringBuilder::new());
    for (hop, input) in hops.iter().zip(inputs) {
        let (from_value, from_type) = view.key(hop.from)?;
        let (to_value, to_type) = view.key(hop.to)?;
        columns[0].append_value(from_value);
        columns[1].append_value(from_type);
        columns[2].append_value(to_value);
        columns[3].append_value(to_type);
        columns[4].append_option(input.as_deref());
    }
    let [id1, id1_type, id2, id2_type, input] =
        columns.map(|mut c| Arc::new(c.finish()) as ArrayRef);
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new((1..=hops.len() as u32).collect::<UInt32Array>()),
            id1,
            id1_type,
            id2,
            id2_type,
            input,
            times(hops.iter().map(|h| h.time)),
        ],
    )?)
}

fn show_time(time: Time) -> String {
    time.micros()
        .and_then(timestamp_us_to_datetime)
        .map_or_else(|| "no time".to_string(), |t| t.to_string())
}

/// The rows of `explain_id`: one per id holding the value.
pub(super) fn id_batch(view: &View<'_>, value: &str, schema: SchemaRef) -> Result<RecordBatch> {
    let nodes = nodes_of(view, "explain_id", value)?;
    let graph = &view.state.graph;
    let mut text: [StringBuilder; 6] = std::array::from_fn(|_| StringBuilder::new());
    let (mut sizes, mut refused) = (Vec::new(), Vec::new());
    let mut node_times = (Vec::new(), Vec::new(), Vec::new());
    for &node in &nodes {
        let (id, id_type) = view.key(node)?;
        let cluster = view.cluster_of[node as usize];
        let members = graph.cluster_nodes(cluster as usize);
        let anchor = graph.main[node as usize];
        let (anchor_id, anchor_type) = view.key(anchor)?;
        let anchor_seen = graph.first_seen_at[anchor as usize];
        let tied = members
            .iter()
            .filter(|&&n| graph.first_seen_at[n as usize] == anchor_seen)
            .count();
        let why = if anchor_seen == Time::NULL {
            format!(
                "no id of the cluster's {} has a time, so the main id is the smallest rid: \
                 that of {anchor_id} ({anchor_type})",
                members.len()
            )
        } else if tied > 1 {
            let others = if tied == 2 { "other" } else { "others" };
            format!(
                "{anchor_id} ({anchor_type}) was seen first of the cluster's {} ids, at {}, \
                 with {} {others}; of those, its rid is the smallest",
                members.len(),
                show_time(anchor_seen),
                tied - 1
            )
        } else {
            format!(
                "{anchor_id} ({anchor_type}) was seen first of the cluster's {} ids, at {}, \
                 so its rid is the main id",
                members.len(),
                show_time(anchor_seen)
            )
        };
        let main = view.main_rid(cluster).to_string();
        for (builder, value) in text.iter_mut().zip([
            id,
            id_type,
            main.as_str(),
            anchor_id,
            anchor_type,
            why.as_str(),
        ]) {
            builder.append_value(value);
        }
        sizes.push(members.len() as u64);
        refused.push(
            view.state
                .refused
                .iter()
                .filter(|r| r.edge.a == node || r.edge.b == node)
                .count() as u64,
        );
        node_times.0.push(graph.first_seen_at[node as usize]);
        node_times.1.push(graph.valid_at[node as usize]);
        node_times.2.push(anchor_seen);
    }
    let [id, id_type, main, anchor_id, anchor_type, why] =
        text.map(|mut c| Arc::new(c.finish()) as ArrayRef);
    Ok(RecordBatch::try_new(
        schema,
        vec![
            id,
            id_type,
            main,
            Arc::new(UInt64Array::from(sizes)),
            times(node_times.0),
            times(node_times.1),
            anchor_id,
            anchor_type,
            times(node_times.2),
            Arc::new(UInt64Array::from(refused)),
            why,
        ],
    )?)
}
