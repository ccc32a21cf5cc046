// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `CREATE TABLE t AS SELECT ...` with its rows in the memory pool.
//!
//! DataFusion collects the rows of such a table outside the pool, so a large one can
//! take all of the machine's memory past `--memory-limit`. Here the rows are collected
//! batch by batch into a reservation, which fails with the pool's resources error when
//! the limit is reached, and the table keeps the reservation for as long as it exists:
//! memory held by tables leaves less for queries, as it should.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Constraints, exec_err, not_impl_err};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::Result;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{CreateMemoryTable, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::{ExecutionPlan, execute_stream_partitioned};
use datafusion::prelude::SessionContext;
use futures::StreamExt;

/// Runs `CREATE [OR REPLACE] TABLE ... AS ...` as DataFusion does, with its rows reserved.
pub(crate) async fn create_memory_table(
    ctx: &SessionContext,
    create: CreateMemoryTable,
) -> Result<DataFrame> {
    let CreateMemoryTable {
        name,
        input,
        if_not_exists,
        or_replace,
        constraints,
        column_defaults,
        temporary,
    } = create;
    if temporary {
        return not_impl_err!("temporary tables are not supported: drop TEMPORARY");
    }
    let exists = ctx.table_exist(name.clone())?;
    match (if_not_exists, or_replace, exists) {
        (true, false, true) => return empty(ctx),
        (true, true, _) => return exec_err!("'IF NOT EXISTS' cannot coexist with 'REPLACE'"),
        (false, false, true) => return exec_err!("table '{name}' already exists"),
        _ => {}
    }
    let input = ctx.state().optimize(&Arc::unwrap_or_clone(input))?;
    let schema = Arc::clone(input.schema().inner());
    let plan = ctx.state().create_physical_plan(&input).await?;
    let task = ctx.task_ctx();
    let reservation =
        MemoryConsumer::new(format!("CREATE TABLE {name}")).register(task.memory_pool());
    let mut partitions = Vec::new();
    for mut stream in execute_stream_partitioned(plan, task)? {
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            reservation.try_grow(batch.get_array_memory_size())?;
            batches.push(batch);
        }
        partitions.push(batches);
    }
    let table = MemTable::try_new(Arc::clone(&schema), partitions)?
        .with_constraints(constraints)
        .with_column_defaults(column_defaults.into_iter().collect());
    if exists {
        ctx.deregister_table(name.clone())?;
    }
    ctx.register_table(
        name,
        Arc::new(ReservedTable {
            table,
            _reservation: reservation,
        }),
    )?;
    empty(ctx)
}

fn empty(ctx: &SessionContext) -> Result<DataFrame> {
    let plan = LogicalPlanBuilder::empty(false).build()?;
    Ok(DataFrame::new(ctx.state(), plan))
}

/// A table in memory that holds its rows' reservation in the pool.
#[derive(Debug)]
struct ReservedTable {
    table: MemTable,
    _reservation: MemoryReservation,
}

#[async_trait]
impl TableProvider for ReservedTable {
    fn schema(&self) -> SchemaRef {
        self.table.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.table.constraints()
    }

    fn table_type(&self) -> TableType {
        self.table.table_type()
    }

    fn get_logical_plan(&self) -> Option<Cow<'_, LogicalPlan>> {
        None
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.table.get_column_default(column)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.table.scan(state, projection, filters, limit).await
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.table.insert_into(state, input, insert_op).await
    }
}
