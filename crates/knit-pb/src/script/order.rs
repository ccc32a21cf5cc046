// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The order of definitions that read one another.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Result;
use crate::project::Origin;

/// Names in an order where each comes after those it reads; a cycle is an error that
/// names it.
pub(super) fn dependency_order(nodes: Vec<(String, Vec<String>, &Origin)>) -> Result<Vec<String>> {
    let edges: BTreeMap<&str, (&[String], &Origin)> = nodes
        .iter()
        .map(|(name, references, origin)| (name.as_str(), (references.as_slice(), *origin)))
        .collect();
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    for (name, _, _) in &nodes {
        let mut path = Vec::new();
        visit(name, &edges, &mut done, &mut path, &mut order)?;
    }
    Ok(order)
}

fn visit(
    name: &str,
    edges: &BTreeMap<&str, (&[String], &Origin)>,
    done: &mut BTreeSet<String>,
    path: &mut Vec<String>,
    order: &mut Vec<String>,
) -> Result<()> {
    if done.contains(name) {
        return Ok(());
    }
    if let Some(start) = path.iter().position(|p| p == name) {
        let mut cycle = path[start..].to_vec();
        cycle.push(name.to_string());
        let origin = edges
            .get(path[start].as_str())
            .map(|(_, o)| (*o).clone())
            .unwrap_or_else(|| Origin {
                file: "pb_project.yaml".into(),
                key: name.into(),
            });
        return Err(origin.error(format!("these form a cycle: {}", cycle.join(" -> "))));
    }
    path.push(name.to_string());
    if let Some((references, _)) = edges.get(name) {
        for reference in *references {
            visit(reference, edges, done, path, order)?;
        }
    }
    path.pop();
    done.insert(name.to_string());
    order.push(name.to_string());
    Ok(())
}
