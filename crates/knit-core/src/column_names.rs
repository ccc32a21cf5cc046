// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Tables whose columns answer to their names in lower case, whatever case their files
//! use.
//!
//! Warehouses match an unquoted column name in any case (Snowflake stores it upper-cased,
//! BigQuery and Databricks ignore case), so tables exported from them often carry
//! `ORDER_ID` or `Email`, and the SQL written against them says `order_id`. Knit, as
//! DataFusion, folds an unquoted name to lower case and then matches it exactly, so
//! `SELECT order_id` cannot see `ORDER_ID`.
//!
//! `CREATE EXTERNAL TABLE ... OPTIONS ('knit.column_names' 'lowercase')` reads such a
//! table with each column renamed to its name in lower case. The renaming is a
//! projection over the scan that planning inlines, so filters and column pruning still
//! reach the files. Two columns whose names differ only in case cannot both be renamed:
//! that is an error naming them. `'as_is'` (the default) keeps the names of the files.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::{Column, TableReference};
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    CreateExternalTable, Expr, LogicalPlan, LogicalPlanBuilder, TableProviderFilterPushDown,
    TableType,
};
use datafusion::physical_plan::ExecutionPlan;

/// The `CREATE EXTERNAL TABLE` option that chooses how columns are named.
pub(crate) const COLUMN_NAMES_OPTION: &str = "knit.column_names";

/// A table read with its columns renamed to lower case.
#[derive(Debug)]
pub(crate) struct LowercaseColumns {
    /// The table as its files name the columns.
    source: Arc<dyn TableProvider>,
    /// `SELECT "ORDER_ID" AS order_id, ... FROM source`.
    renamed: ViewTable,
}

impl LowercaseColumns {
    /// `source` with its columns renamed to lower case, or `source` itself when its
    /// names are in lower case already. `name` is the table's, for plans and errors.
    pub(crate) fn wrap(
        name: &TableReference,
        source: Arc<dyn TableProvider>,
    ) -> Result<Arc<dyn TableProvider>> {
        let schema = source.schema();
        if schema
            .fields()
            .iter()
            .all(|f| f.name().to_lowercase() == *f.name())
        {
            return Ok(source);
        }
        let mut seen: HashMap<String, &str> = HashMap::new();
        let mut columns = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let lower = field.name().to_lowercase();
            if let Some(other) = seen.insert(lower.clone(), field.name()) {
                return Err(DataFusionError::Plan(format!(
                    "table '{name}': columns '{other}' and '{}' have the same name in lower \
                     case, so '{COLUMN_NAMES_OPTION}' 'lowercase' cannot rename them; leave \
                     the option out and quote the names, or rename one in the files",
                    field.name()
                )));
            }
            columns.push(Expr::Column(Column::new(Some(name.clone()), field.name())).alias(lower));
        }
        let plan =
            LogicalPlanBuilder::scan(name.clone(), provider_as_source(Arc::clone(&source)), None)?
                .project(columns)?
                .build()?;
        Ok(Arc::new(Self {
            source,
            renamed: ViewTable::new(plan, None),
        }))
    }

    /// The table as its files name the columns.
    pub(crate) fn source(&self) -> &Arc<dyn TableProvider> {
        &self.source
    }
}

#[async_trait]
impl TableProvider for LowercaseColumns {
    fn schema(&self) -> SchemaRef {
        self.renamed.schema()
    }

    fn table_type(&self) -> TableType {
        self.source.table_type()
    }

    fn get_logical_plan(&self) -> Option<Cow<'_, LogicalPlan>> {
        self.renamed.get_logical_plan()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.renamed.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.renamed.scan(state, projection, filters, limit).await
    }
}

/// A table factory that honours [`COLUMN_NAMES_OPTION`] and leaves the rest of the
/// statement to the format's own factory.
#[derive(Debug)]
pub(crate) struct ColumnNamesFactory {
    format: Arc<dyn TableProviderFactory>,
}

impl ColumnNamesFactory {
    /// Wraps the factory of one `STORED AS` format.
    pub(crate) fn new(format: Arc<dyn TableProviderFactory>) -> Self {
        Self { format }
    }
}

#[async_trait]
impl TableProviderFactory for ColumnNamesFactory {
    async fn create(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        let mut cmd = cmd.clone();
        let naming = cmd.options.remove(COLUMN_NAMES_OPTION);
        let table = self.format.create(state, &cmd).await?;
        match naming.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("as_is") => Ok(table),
            Some("lowercase") => LowercaseColumns::wrap(&cmd.name, table),
            Some(other) => Err(DataFusionError::Plan(format!(
                "table '{}': option '{COLUMN_NAMES_OPTION}' is 'lowercase' or 'as_is', not \
                 '{other}'",
                cmd.name
            ))),
        }
    }
}
