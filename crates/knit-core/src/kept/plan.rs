// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Planning `__knit_keep((query) [, 'column' ...])`: the relation planner that recognises the call, its
//! logical node, and its physical planner.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::planner::{
    PlannedRelation, RelationPlanner, RelationPlannerContext, RelationPlanning,
};
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, TableFactor, Value,
};
use datafusion_session::Session;

use super::exec::{KeepExec, KeptResults};
use crate::error::internal;
use crate::relation_call::table_function_call;

/// The name of the function, for the queries that call it.
pub(crate) const KEEP_FUNCTION: &str = "__knit_keep";

/// Recognises `__knit_keep((query))` in `FROM`.
#[derive(Debug, Default)]
pub struct KeepRelationPlanner;

impl RelationPlanner for KeepRelationPlanner {
    fn plan_relation(
        &self,
        relation: TableFactor,
        context: &mut dyn RelationPlannerContext,
    ) -> Result<RelationPlanning> {
        let Some((args, alias)) = table_function_call(&relation, KEEP_FUNCTION) else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        let usage = || {
            DataFusionError::Plan(format!(
                "{KEEP_FUNCTION} takes one query, then the names of the columns to keep its \
                 rows partitioned by, if any, as in {KEEP_FUNCTION}((SELECT ...), 'id')"
            ))
        };
        let Some((FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Subquery(query))), keys)) =
            args.split_first()
        else {
            return Err(usage());
        };
        let partition_by = keys
            .iter()
            .map(|key| match key {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Value(value))) => {
                    match &value.value {
                        Value::SingleQuotedString(column) => Ok(column.clone()),
                        _ => Err(usage()),
                    }
                }
                _ => Err(usage()),
            })
            .collect::<Result<Vec<_>>>()?;
        let input = context.plan(TableFactor::Derived {
            lateral: false,
            subquery: query.clone(),
            alias: None,
            sample: None,
        })?;
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(KeepNode::try_new(input, partition_by)?),
        });
        Ok(RelationPlanning::Planned(Box::new(PlannedRelation::new(
            plan,
            alias.clone(),
        ))))
    }
}

/// `Keep`: its input's rows, kept for the next queries that plan the same input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeepNode {
    input: LogicalPlan,
    /// The columns the rows are kept hash-partitioned by (none: as the input makes
    /// them), so that a join on them reads each partition as it is kept instead of
    /// sending every kept row to another partition again, query after query.
    partition_by: Vec<String>,
    /// The input's columns, unqualified: the call is a table of its own.
    schema: DFSchemaRef,
}

impl KeepNode {
    fn try_new(input: LogicalPlan, partition_by: Vec<String>) -> Result<Self> {
        let schema = Arc::new(DFSchema::try_from(input.schema().as_arrow().clone())?);
        if let Some(missing) = partition_by
            .iter()
            .find(|column| schema.field_with_unqualified_name(column).is_err())
        {
            return Err(DataFusionError::Plan(format!(
                "{KEEP_FUNCTION}: its query has no column '{missing}' to partition by"
            )));
        }
        Ok(Self {
            input,
            partition_by,
            schema,
        })
    }
}

impl PartialOrd for KeepNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        // The schema follows from the input.
        match self.input.partial_cmp(&other.input) {
            Some(std::cmp::Ordering::Equal) => self.partition_by.partial_cmp(&other.partition_by),
            order => order,
        }
    }
}

impl UserDefinedLogicalNodeCore for KeepNode {
    fn name(&self) -> &str {
        "Keep"
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
        write!(f, "Keep")?;
        if !self.partition_by.is_empty() {
            write!(f, ": partition_by=[{}]", self.partition_by.join(", "))?;
        }
        Ok(())
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        let input = inputs.pop().ok_or_else(|| internal("Keep has one input"))?;
        Self::try_new(input, self.partition_by.clone())
    }
}

/// Plans `Keep` nodes as [`KeepExec`], finding results kept by earlier queries in the
/// session's [`KeptResults`].
#[derive(Debug)]
pub(crate) struct KeepPlanner {
    results: Arc<KeptResults>,
}

impl KeepPlanner {
    /// The planner of one query.
    pub(crate) fn new(results: Arc<KeptResults>) -> Self {
        Self { results }
    }
}

#[async_trait]
impl ExtensionPlanner for KeepPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<KeepNode>() else {
            return Ok(None);
        };
        let [input] = physical_inputs else {
            return Err(internal("Keep has one input"));
        };
        let kept = self.results.kept(
            &node.input,
            &node.partition_by,
            input,
            session.config_options(),
        )?;
        let schema = input.schema();
        let partition_by = node
            .partition_by
            .iter()
            .map(|name| {
                Ok(Arc::new(Column::new_with_schema(name, &schema)?) as Arc<dyn PhysicalExpr>)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Arc::new(KeepExec::new(
            Arc::clone(input),
            kept,
            partition_by,
        ))))
    }
}
