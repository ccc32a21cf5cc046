// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! An entity's stitch rules (`RULES FROM table`), pb's rules table: per row `entity, id1,
//! id1_type, action [, id2, id2_type]`, `action` being `include` or `exclude`.
//!
//! **Node rules** (no `id2`): an excluded id is no id, as if its type's filters dropped
//! it; an included id is one even if the filters would drop it. **Edge rules**: an
//! excluded edge joins nothing (its ids stay, each as seen alone); an included edge is
//! applied in its turn (time order) even if it breaks a limit, and the edges after it
//! are judged by the limits as usual. So rules come last and win, as in pb: filters,
//! then limits, then rules. A rule
//! written both ways is an exclusion. An edge rule names an edge the inputs gave; it
//! makes none.

use std::collections::HashSet;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};

use crate::catalog::Entity;
use crate::kernels::intern::Interner;

/// An id: its type (index into the entity's) and value.
type Key = (u16, String);

/// The rules of one stitch.
#[derive(Debug, Default)]
pub(crate) struct StitchRules {
    include_ids: HashSet<Key>,
    exclude_ids: HashSet<Key>,
    include_edges: Vec<(Key, Key)>,
    exclude_edges: Vec<(Key, Key)>,
}

/// Edges between interned nodes, each as `(smaller, larger)`.
pub(crate) type NodePairs = HashSet<(u32, u32)>;

impl StitchRules {
    /// The rules in `batches` (`id1, id1_type, action, id2, id2_type`, text), for `entity`.
    pub(crate) fn read(batches: &[RecordBatch], entity: &Entity) -> Result<Self> {
        let mut rules = Self::default();
        let mut row_number = 0;
        for batch in batches {
            let columns = (0..5)
                .map(|i| cast(batch.column(i), &DataType::Utf8))
                .collect::<Result<Vec<_>, _>>()?;
            let text: Vec<_> = columns.iter().map(|c| c.as_string::<i32>()).collect();
            let cell = |c: usize, row: usize| text[c].is_valid(row).then(|| text[c].value(row));
            for row in 0..batch.num_rows() {
                row_number += 1;
                let bad = |what: String| {
                    DataFusionError::Execution(format!(
                        "rule {row_number} of entity '{}': {what}",
                        entity.name
                    ))
                };
                let key = |id: usize, id_type: usize| -> Result<Option<Key>> {
                    let (Some(value), Some(type_name)) = (cell(id, row), cell(id_type, row)) else {
                        return Ok(None);
                    };
                    let index = entity.id_type_index(type_name).ok_or_else(|| {
                        bad(format!(
                            "'{type_name}' is not an id type of the entity (it has {})",
                            entity.id_type_names()
                        ))
                    })?;
                    Ok(Some((index, value.to_string())))
                };
                let first =
                    key(0, 1)?.ok_or_else(|| bad("id1 and id1_type are needed".to_string()))?;
                let include = match cell(2, row).map(|a| a.trim().to_ascii_lowercase()) {
                    Some(action) if action == "include" => true,
                    Some(action) if action == "exclude" => false,
                    other => {
                        return Err(bad(format!(
                            "action is {}; it is 'include' or 'exclude'",
                            other.map_or("NULL".to_string(), |a| format!("'{a}'"))
                        )));
                    }
                };
                match (key(3, 4)?, include) {
                    (None, true) => {
                        rules.include_ids.insert(first);
                    }
                    (None, false) => {
                        rules.exclude_ids.insert(first);
                    }
                    (Some(second), true) => rules.include_edges.push((first, second)),
                    (Some(second), false) => rules.exclude_edges.push((first, second)),
                }
            }
        }
        Ok(rules)
    }

    /// True when there are no node rules: ids are what the filters keep.
    pub(crate) fn no_id_rules(&self) -> bool {
        self.include_ids.is_empty() && self.exclude_ids.is_empty()
    }

    /// Whether `value` of type `id_type` is an id, given whether its type's filters
    /// keep it.
    pub(crate) fn keeps(&self, id_type: u16, value: &str, filters_keep: bool) -> bool {
        if value.is_empty() {
            return false;
        }
        let key = || (id_type, value.to_string());
        if self.exclude_ids.contains(&key()) {
            return false;
        }
        filters_keep || self.include_ids.contains(&key())
    }

    /// The excluded and the included edges between interned nodes (a rule naming an id
    /// the inputs never gave names no edge). An excluded edge is not included.
    pub(crate) fn edges(&self, nodes: &Interner) -> (NodePairs, NodePairs) {
        let pairs = |rules: &[(Key, Key)]| -> NodePairs {
            rules
                .iter()
                .filter_map(|((ta, a), (tb, b))| {
                    let (a, b) = (nodes.get(*ta, a.as_bytes())?, nodes.get(*tb, b.as_bytes())?);
                    Some((a.min(b), a.max(b)))
                })
                .collect()
        };
        let excluded = pairs(&self.exclude_edges);
        let mut included = pairs(&self.include_edges);
        included.retain(|pair| !excluded.contains(pair));
        (excluded, included)
    }
}
