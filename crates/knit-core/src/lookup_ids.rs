// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The ids of an entity's lookup rows, for a refresh's scope.
//!
//! A lookup-only input (`LOOKUP IDS`: pb's inputs that are no id stitcher's edge
//! source) makes no edge: its rows only find their cluster in the id graph, by the
//! first of their ids the graph holds. So a refresh that scoped an entity by the new
//! rows' edges alone would miss two things: a new lookup row, whose cluster its vars
//! change but no new edge touches; and a lookup row that, unlike an edge, spans clusters
//! (`u1` of one customer beside `a7` of another), whose cluster in a full run may be one
//! the scope leaves out, while the scoped run would give it to the one the scope holds.
//! A refresh adds the ids of such rows to the scope until it holds every cluster of
//! every lookup row that has an id in it.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use crate::catalog::{Catalog, id_column};
use crate::error::Result;

/// The ids, as `(id type, id)`, of `entity`'s lookup-only inputs' rows that hold an id
/// of its scope (every row when it has none), each one that its id type accepts (not
/// empty, kept by the type's filters).
pub(crate) async fn lookup_row_ids(
    ctx: &SessionContext,
    catalog: &Catalog,
    entity: &str,
) -> Result<Vec<(String, String)>> {
    let definition = catalog.entity(entity)?;
    let scope = catalog.scopes.get(entity)?;
    let mut ids = Vec::new();
    for input in catalog.inputs_of(entity)? {
        if !input.definition.lookup_only {
            continue;
        }
        let columns: Vec<String> = (0..input.id_types.len()).map(id_column).collect();
        let types: Vec<&str> = input.id_types.iter().map(String::as_str).collect();
        let plan = match &scope {
            Some(scope) => scope.restrict(input.plan.clone(), &columns, &types)?,
            None => input.plan.clone(),
        };
        let batches = ctx.execute_logical_plan(plan).await?.collect().await?;
        for batch in batches {
            for (column, id_type) in columns.iter().zip(&types) {
                let Some(kind) = definition.id_types.iter().find(|t| t.name == *id_type) else {
                    continue;
                };
                let Some(values) = batch.column_by_name(column) else {
                    continue;
                };
                let values = cast(values, &DataType::Utf8).map_err(DataFusionError::from)?;
                let values = values.as_string::<i32>();
                for row in 0..values.len() {
                    if values.is_valid(row) && kind.accepts(values.value(row)) {
                        ids.push((id_type.to_string(), values.value(row).to_string()));
                    }
                }
            }
        }
    }
    Ok(ids)
}
