// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Mapping an input's rows to their entities: the internal relation
//! `__knit_lookup('entity', (query), 'id_type', ...)` and its `MainIdLookup` plan node.
//!
//! The query's columns `__knit_id_0`, `__knit_id_1`, ... hold a row's ids, of the id
//! types given after the query, in order. Each row gets the cluster
//! ([`CLUSTER_COLUMN`]) of the first of its ids that the entity's graph holds; a row
//! none of whose ids is in the graph belongs to no entity and is dropped.
//!
//! For an input that feeds the stitch this is the cluster of the row's first id that
//! its id type's filters keep: every kept id of such a row is a node of one cluster,
//! and a value a filter rejects is never a node of that type. For a `LOOKUP IDS` input
//! it is pb's coalesce over the ids' main ids. Either way the row is found by a probe
//! of the stitch's own key index, instead of a join of every row with the whole id graph.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::planner::{
    PlannedRelation, RelationPlanner, RelationPlannerContext, RelationPlanning,
};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, TableFactor, Value,
};

use super::spec::{CLUSTER_COLUMN, StitchOutput, StitchSpec};
use crate::catalog::{Catalog, id_column};
use crate::error::internal;
use crate::relation_call::table_function_call;

/// The internal relation's name.
pub(crate) const LOOKUP_FUNCTION: &str = "__knit_lookup";

fn usage_error() -> DataFusionError {
    DataFusionError::Plan(format!(
        "{LOOKUP_FUNCTION} takes an entity, a query and the id type of each of its \
         __knit_id_<n> columns, as in {LOOKUP_FUNCTION}('user', (SELECT ...), 'email')"
    ))
}

/// The id types of a lookup's id columns, as indexes into the entity's id types.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub(crate) struct Lookup {
    /// The id type of column `__knit_id_<i>`, for each `i`.
    pub(crate) id_types: Vec<u16>,
}

impl Lookup {
    /// The names of the id types, for EXPLAIN.
    pub(crate) fn type_names(&self, spec: &StitchSpec) -> String {
        self.id_types
            .iter()
            .map(|&t| spec.type_name(t))
            .collect::<Vec<&str>>()
            .join(", ")
    }
}

/// Recognises `__knit_lookup('entity', (query), 'id_type', ...)` in `FROM`.
#[derive(Debug)]
pub(crate) struct MainIdLookupRelationPlanner {
    catalog: Catalog,
}

impl MainIdLookupRelationPlanner {
    /// The planner over the entities of `catalog`.
    pub(crate) fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }
}

impl RelationPlanner for MainIdLookupRelationPlanner {
    fn plan_relation(
        &self,
        relation: TableFactor,
        context: &mut dyn RelationPlannerContext,
    ) -> Result<RelationPlanning> {
        let Some((args, alias)) = table_function_call(&relation, LOOKUP_FUNCTION) else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        let string = |arg: &FunctionArg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Value(value))) => {
                match &value.value {
                    Value::SingleQuotedString(text) => Ok(text.clone()),
                    _ => Err(usage_error()),
                }
            }
            _ => Err(usage_error()),
        };
        let [entity, query, id_types @ ..] = args else {
            return Err(usage_error());
        };
        let FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Subquery(query))) = query else {
            return Err(usage_error());
        };
        let (spec, stitch_inputs) =
            StitchSpec::for_entity(&self.catalog, &string(entity)?, StitchOutput::Clusters)?;
        let id_types = id_types
            .iter()
            .map(|arg| {
                let name = string(arg)?;
                spec.entity.id_type_index(&name).ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "entity '{}' has no id type '{name}'",
                        spec.entity.name
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = context.plan(TableFactor::Derived {
            lateral: false,
            subquery: query.clone(),
            alias: None,
            sample: None,
        })?;
        let node = MainIdLookupNode::try_new(spec, Lookup { id_types }, rows, stitch_inputs)?;
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        });
        Ok(RelationPlanning::Planned(Box::new(PlannedRelation::new(
            plan,
            alias.clone(),
        ))))
    }
}

/// `MainIdLookup`: the rows of its first child, each with its cluster in the stitch of
/// the other children (the entity's inputs).
#[derive(Debug, Clone)]
pub(crate) struct MainIdLookupNode {
    spec: Arc<StitchSpec>,
    lookup: Lookup,
    /// The rows, then the stitch's inputs.
    inputs: Vec<LogicalPlan>,
    schema: DFSchemaRef,
}

impl MainIdLookupNode {
    /// A node mapping `rows` through the stitch of `spec` over `stitch_inputs`.
    pub(crate) fn try_new(
        spec: Arc<StitchSpec>,
        lookup: Lookup,
        rows: LogicalPlan,
        stitch_inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        for i in 0..lookup.id_types.len() {
            let name = id_column(i);
            if rows.schema().index_of_column_by_name(None, &name).is_none() {
                return Err(DataFusionError::Plan(format!(
                    "{LOOKUP_FUNCTION}: the query has no column {name}"
                )));
            }
        }
        let cluster = DFSchema::try_from(Schema::new(vec![Field::new(
            CLUSTER_COLUMN,
            DataType::UInt32,
            false,
        )]))?;
        let schema = Arc::new(rows.schema().join(&cluster)?);
        let mut inputs = vec![rows];
        inputs.extend(stitch_inputs);
        Ok(Self {
            spec,
            lookup,
            inputs,
            schema,
        })
    }

    /// The stitch the rows are looked up in.
    pub(crate) fn spec(&self) -> &Arc<StitchSpec> {
        &self.spec
    }

    /// The id types of the id columns.
    pub(crate) fn lookup(&self) -> Lookup {
        self.lookup.clone()
    }
}

impl PartialEq for MainIdLookupNode {
    fn eq(&self, other: &Self) -> bool {
        self.spec.same_stitch(&other.spec)
            && self.lookup == other.lookup
            && self.inputs == other.inputs
    }
}

impl Eq for MainIdLookupNode {}

impl Hash for MainIdLookupNode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.spec.entity.name.hash(state);
        self.spec.inputs.hash(state);
        self.lookup.hash(state);
        self.inputs.hash(state);
    }
}

impl PartialOrd for MainIdLookupNode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        if !self.spec.same_stitch(&other.spec) || self.lookup != other.lookup {
            return None;
        }
        self.inputs.partial_cmp(&other.inputs)
    }
}

impl UserDefinedLogicalNodeCore for MainIdLookupNode {
    fn name(&self) -> &str {
        "MainIdLookup"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        self.inputs.iter().collect()
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MainIdLookup: entity={}, ids=[{}]",
            self.spec.entity.name,
            self.lookup.type_names(&self.spec)
        )
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        if inputs.is_empty() {
            return Err(internal("MainIdLookup lost its rows"));
        }
        let rows = inputs.remove(0);
        Self::try_new(Arc::clone(&self.spec), self.lookup.clone(), rows, inputs)
    }

    fn necessary_children_exprs(&self, output_columns: &[usize]) -> Option<Vec<Vec<usize>>> {
        // The rows keep the columns asked for and the ids; the stitch reads its inputs whole.
        let rows = self.inputs[0].schema();
        let mut needed: Vec<usize> = output_columns
            .iter()
            .copied()
            .filter(|&i| i < rows.fields().len())
            .collect();
        for i in 0..self.lookup.id_types.len() {
            needed.push(rows.index_of_column_by_name(None, &id_column(i))?);
        }
        needed.sort_unstable();
        needed.dedup();
        let mut children = vec![needed];
        children.extend(
            self.inputs[1..]
                .iter()
                .map(|input| (0..input.schema().fields().len()).collect()),
        );
        Some(children)
    }
}
