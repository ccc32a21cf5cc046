// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! What a stitch reads and returns: the entity, its inputs (each input's id columns by
//! id type) and the table produced, with its columns as a type.
//!
//! A [`StitchSpec`] is the whole serialisable part of a stitch operator: the rows come
//! from the operator's children, and the computed graph is state made when the query
//! runs (the `state` module).

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::LogicalPlan;

use crate::catalog::{Catalog, Entity, id_column};

/// Which table the stitch produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum StitchOutput {
    /// One row per node: main id, id, id type, `valid_at`, `first_seen_at`.
    IdGraph,
    /// pb's edge table.
    Edges,
    /// One row per cluster: its number ([`CLUSTER_COLUMN`]) and its main id. Feature
    /// queries group rows by cluster number and name the entities at the end.
    Clusters,
}

impl fmt::Display for StitchOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StitchOutput::IdGraph => "id_graph",
            StitchOutput::Edges => "edges",
            StitchOutput::Clusters => "clusters",
        })
    }
}

/// The column holding a cluster's number: the id of its main node, dense enough to
/// group on and cheaper than the main id's text.
pub(crate) const CLUSTER_COLUMN: &str = "__knit_cluster";

/// A column of a stitch's output. What a column holds depends on the output where the
/// names are shared: [`StitchColumn::MainId`] is a node's main id in the id graph and
/// the clusters, and pb's starting label (the smaller rid of the edge's nodes) in the
/// edges; [`StitchColumn::ValidAt`] is a node's `valid_at` in the id graph and the
/// edge's earliest time in the edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum StitchColumn {
    /// `<entity>_main_id`.
    MainId,
    /// The id graph's `other_id`: the node's value.
    OtherId,
    /// The id graph's `other_id_type`.
    OtherIdType,
    /// `valid_at`.
    ValidAt,
    /// The id graph's `first_seen_at`.
    FirstSeenAt,
    /// The edges' `id1` (NULL for a side without a node).
    Id1,
    /// The edges' `id1_type`.
    Id1Type,
    /// The edges' `id2`.
    Id2,
    /// The edges' `id2_type`.
    Id2Type,
    /// The clusters' number ([`CLUSTER_COLUMN`]).
    Cluster,
}

impl StitchOutput {
    /// The columns of the table, in order.
    pub(crate) fn columns(self) -> &'static [StitchColumn] {
        use StitchColumn::*;
        match self {
            StitchOutput::IdGraph => &[MainId, OtherId, OtherIdType, ValidAt, FirstSeenAt],
            StitchOutput::Edges => &[Id1, Id1Type, Id2, Id2Type, MainId, ValidAt],
            StitchOutput::Clusters => &[Cluster, MainId],
        }
    }
}

/// One input of a stitch: its name and the id type (index into the entity's id types)
/// of each of its id columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct StitchInput {
    /// The input's name.
    pub name: String,
    /// The id type of each id column.
    pub column_types: Vec<u16>,
}

/// Everything a stitch operator needs besides the rows.
#[derive(Debug)]
pub(crate) struct StitchSpec {
    /// The entity whose ids are stitched.
    pub entity: Arc<Entity>,
    /// Its inputs, in the order of the plan's children.
    pub inputs: Vec<StitchInput>,
    /// Which table to produce.
    pub output: StitchOutput,
    /// True when the entity has stitch rules: their plan is the last child, after the
    /// inputs'.
    pub rules: bool,
}

impl StitchSpec {
    /// The stitch of `entity` producing `output`, and the plans of the inputs it reads
    /// (`LOOKUP IDS` inputs add no edges, so they are left out).
    pub(crate) fn for_entity(
        catalog: &Catalog,
        entity: &str,
        output: StitchOutput,
    ) -> Result<(Arc<Self>, Vec<LogicalPlan>)> {
        let plan_error = |e: crate::CoreError| DataFusionError::Plan(e.to_string());
        let entity = catalog.entity(entity).map_err(plan_error)?;
        let inputs: Vec<_> = catalog
            .inputs_of(&entity.name)
            .map_err(plan_error)?
            .into_iter()
            .filter(|input| !input.definition.lookup_only)
            .collect();
        let mut definitions = Vec::with_capacity(inputs.len());
        for input in &inputs {
            let column_types = input
                .id_types
                .iter()
                .map(|t| {
                    entity.id_type_index(t).ok_or_else(|| {
                        crate::error::internal(format!(
                            "input '{}' uses id type '{t}', which entity '{}' lacks",
                            input.name, entity.name
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            definitions.push(StitchInput {
                name: input.name.clone(),
                column_types,
            });
        }
        let mut plans: Vec<LogicalPlan> = inputs.iter().map(|i| i.plan.clone()).collect();
        if let Some(scope) = catalog.scopes.get(&entity.name)? {
            for (plan, input) in plans.iter_mut().zip(&inputs) {
                let columns: Vec<String> = (0..input.id_types.len()).map(id_column).collect();
                let types: Vec<&str> = input.id_types.iter().map(String::as_str).collect();
                *plan = scope.restrict(plan.clone(), &columns, &types)?;
            }
        }
        plans.extend(entity.rules.clone());
        let spec = Arc::new(Self {
            rules: entity.rules.is_some(),
            entity,
            inputs: definitions,
            output,
        });
        Ok((spec, plans))
    }

    /// The field of `column` in this spec's output.
    pub(crate) fn field(&self, column: StitchColumn) -> Field {
        let time = || DataType::Timestamp(TimeUnit::Microsecond, None);
        let main = self.entity.main_id_column.as_str();
        match column {
            StitchColumn::MainId => Field::new(main, DataType::Utf8, false),
            StitchColumn::OtherId => Field::new("other_id", DataType::Utf8, false),
            StitchColumn::OtherIdType => Field::new("other_id_type", DataType::Utf8, false),
            StitchColumn::ValidAt => Field::new("valid_at", time(), true),
            StitchColumn::FirstSeenAt => Field::new("first_seen_at", time(), true),
            StitchColumn::Id1 => Field::new("id1", DataType::Utf8, true),
            StitchColumn::Id1Type => Field::new("id1_type", DataType::Utf8, false),
            StitchColumn::Id2 => Field::new("id2", DataType::Utf8, true),
            StitchColumn::Id2Type => Field::new("id2_type", DataType::Utf8, false),
            StitchColumn::Cluster => Field::new(CLUSTER_COLUMN, DataType::UInt32, false),
        }
    }

    /// The schema of the produced table.
    pub(crate) fn schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .output
            .columns()
            .iter()
            .map(|&column| self.field(column))
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// The input names, for EXPLAIN.
    pub(crate) fn input_names(&self) -> String {
        self.inputs
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The name of an id type of the entity.
    pub(crate) fn type_name(&self, id_type: u16) -> &str {
        self.entity.id_types[usize::from(id_type)].name.as_str()
    }

    /// True when both produce the same table from the same stitch.
    pub(crate) fn same(&self, other: &Self) -> bool {
        self.output == other.output && self.same_stitch(other)
    }

    /// True when both stitch the same entity from the same inputs (whatever the output).
    pub(crate) fn same_stitch(&self, other: &Self) -> bool {
        self.entity.name == other.entity.name
            && self.inputs == other.inputs
            && self.rules == other.rules
    }

    /// How many child plans a stitch operator has: the inputs, and the rules.
    pub(crate) fn children(&self) -> usize {
        self.inputs.len() + usize::from(self.rules)
    }
}
