// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Planning `connected_components((query))`: the relation planner that recognises the
//! call, its logical node, and its physical planner.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::planner::{
    PlannedRelation, RelationPlanner, RelationPlannerContext, RelationPlanning,
};
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, LogicalPlanBuilder, UserDefinedLogicalNode,
    UserDefinedLogicalNodeCore, cast,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, FunctionArg, FunctionArgExpr, TableFactor};
use datafusion_session::Session;

use super::exec::ConnectedComponentsExec;
use crate::error::internal;
use crate::relation_call::table_function_call;

const NAME: &str = "connected_components";

fn usage_error() -> DataFusionError {
    DataFusionError::Plan(format!(
        "{NAME} takes one query of two columns, as in {NAME}((SELECT src, dst FROM edges))"
    ))
}

/// Recognises `connected_components((query))` in `FROM`.
#[derive(Debug, Default)]
pub struct ConnectedComponentsRelationPlanner;

impl RelationPlanner for ConnectedComponentsRelationPlanner {
    fn plan_relation(
        &self,
        relation: TableFactor,
        context: &mut dyn RelationPlannerContext,
    ) -> Result<RelationPlanning> {
        let Some((args, alias)) = table_function_call(&relation, NAME) else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        let [FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Subquery(query)))] = args else {
            return Err(usage_error());
        };
        let input = context.plan(TableFactor::Derived {
            lateral: false,
            subquery: query.clone(),
            alias: None,
            sample: None,
        })?;
        let node = ConnectedComponentsNode::try_new(input)?;
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        });
        Ok(RelationPlanning::Planned(Box::new(PlannedRelation::new(
            plan,
            alias.clone(),
        ))))
    }
}

/// `data_type` without a dictionary or run-end encoding.
fn decoded(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Dictionary(_, values) => decoded(values),
        DataType::RunEndEncoded(_, values) => decoded(values.data_type()),
        other => other.clone(),
    }
}

/// `ConnectedComponents`: `(node, component)` of the edges its input's two columns give.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectedComponentsNode {
    input: LogicalPlan,
    schema: DFSchemaRef,
}

impl ConnectedComponentsNode {
    /// A node over a two-column plan; the second column is cast to the first's type.
    pub fn try_new(input: LogicalPlan) -> Result<Self> {
        let fields = input.schema().fields();
        let [first, second] = &fields[..] else {
            return Err(DataFusionError::Plan(format!(
                "{NAME} needs a query of exactly two columns, got {}: {}",
                fields.len(),
                fields
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        // Nodes are compared by value, so encodings (dictionary, run-end) are decoded.
        let data_type = decoded(first.data_type());
        let (a, b) = (
            input.schema().qualified_field(0),
            input.schema().qualified_field(1),
        );
        let as_node = |column: Expr, column_type: &DataType| {
            if column_type == &data_type {
                column
            } else {
                cast(column, data_type.clone())
            }
        };
        let a = as_node(Expr::Column(a.into()), first.data_type());
        let b = as_node(Expr::Column(b.into()), second.data_type());
        let input = LogicalPlanBuilder::from(input)
            .project(vec![a.alias("a"), b.alias("b")])?
            .build()?;
        let schema = Arc::new(DFSchema::try_from(Schema::new(vec![
            Field::new("node", data_type.clone(), false),
            Field::new("component", data_type, false),
        ]))?);
        Ok(Self { input, schema })
    }
}

impl PartialOrd for ConnectedComponentsNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        // The schema follows from the input.
        self.input.partial_cmp(&other.input)
    }
}

impl UserDefinedLogicalNodeCore for ConnectedComponentsNode {
    fn name(&self) -> &str {
        "ConnectedComponents"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectedComponents")
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        let input = inputs
            .pop()
            .ok_or_else(|| internal("ConnectedComponents has one input"))?;
        Ok(Self {
            input,
            schema: Arc::clone(&self.schema),
        })
    }
}

/// Plans `ConnectedComponents` nodes as [`ConnectedComponentsExec`].
#[derive(Debug, Default)]
pub struct ConnectedComponentsPlanner;

#[async_trait]
impl ExtensionPlanner for ConnectedComponentsPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        if node
            .as_any()
            .downcast_ref::<ConnectedComponentsNode>()
            .is_none()
        {
            return Ok(None);
        }
        let [input] = physical_inputs else {
            return Err(internal("ConnectedComponents has one input"));
        };
        Ok(Some(Arc::new(ConnectedComponentsExec::try_new(
            Arc::clone(input),
            session.config().target_partitions(),
        )?)))
    }
}
