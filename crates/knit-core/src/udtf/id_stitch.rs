// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `id_stitch('entity')` and `id_stitch_edges('entity')`: an entity's id graph and edges.
//!
//! The function returns a table whose logical plan is an `IdStitch` node over the plans
//! of the entity's inputs, so the stitch is part of the query's plan: EXPLAIN shows it,
//! and the optimizer sees through it.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

use crate::catalog::Catalog;
use crate::stitch::{IdStitchNode, StitchOutput, StitchSpec};

/// The internal table function giving an entity's clusters (feature queries use it).
pub(crate) const CLUSTERS_FUNCTION: &str = "__knit_clusters";

/// The table function.
#[derive(Debug)]
pub(crate) struct IdStitchFunc {
    catalog: Catalog,
    output: StitchOutput,
}

impl IdStitchFunc {
    /// The function producing `output` for entities of `catalog`.
    pub(crate) fn new(catalog: Catalog, output: StitchOutput) -> Self {
        Self { catalog, output }
    }

    fn function_name(&self) -> &'static str {
        match self.output {
            StitchOutput::IdGraph => "id_stitch",
            StitchOutput::Edges => "id_stitch_edges",
            StitchOutput::Clusters => CLUSTERS_FUNCTION,
        }
    }
}

impl TableFunctionImpl for IdStitchFunc {
    fn call_with_args(&self, args: TableFunctionArgs<'_, '_>) -> Result<Arc<dyn TableProvider>> {
        let name = self.function_name();
        let entity = match args.exprs() {
            [
                Expr::Literal(
                    ScalarValue::Utf8(Some(entity)) | ScalarValue::Utf8View(Some(entity)),
                    _,
                ),
            ] => entity.clone(),
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "{name} takes the name of an entity, as in {name}('user')"
                )));
            }
        };
        let (spec, inputs) = StitchSpec::for_entity(&self.catalog, &entity, self.output)?;
        let node = IdStitchNode::try_new(spec, inputs)?;
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        });
        Ok(Arc::new(IdStitchTable::new(plan)))
    }
}

/// The table a call returns: a view over the `IdStitch` plan.
#[derive(Debug)]
pub(crate) struct IdStitchTable {
    plan: LogicalPlan,
    schema: SchemaRef,
}

impl IdStitchTable {
    pub(super) fn new(plan: LogicalPlan) -> Self {
        let schema = Arc::clone(plan.schema().inner());
        Self { plan, schema }
    }
}

#[async_trait]
impl TableProvider for IdStitchTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn get_logical_plan(&self) -> Option<Cow<'_, LogicalPlan>> {
        Some(Cow::Borrowed(&self.plan))
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // SQL inlines the plan above; this path serves DataFrame users of the provider.
        let plan = state.create_physical_plan(&self.plan).await?;
        let Some(projection) = projection else {
            return Ok(plan);
        };
        let exprs = projection
            .iter()
            .map(|&i| {
                let name = self.schema.field(i).name();
                ProjectionExpr::new(Arc::new(Column::new(name, i)), name.clone())
            })
            .collect::<Vec<_>>();
        Ok(Arc::new(ProjectionExec::try_new(exprs, plan)?))
    }
}
