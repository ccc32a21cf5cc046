// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Running Knit's profile statements: entities and inputs into the catalog, and the
//! `SHOW` and `DESCRIBE` views of it.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::SessionContext;
use knit_sql::{CreateInputStatement, InputSource, ProfileObject, Statement};

use crate::catalog::{Catalog, Entity, Input, OCCURRED_AT, id_column};
use crate::error::{CoreError, Result};
use crate::report::ErrorReport;

/// Runs a profile statement; `None` when the statement is DataFusion's.
pub(crate) async fn execute_profile(
    ctx: &SessionContext,
    catalog: &Catalog,
    statement: &Statement,
) -> Result<Option<DataFrame>> {
    let frame = match statement {
        Statement::DataFusion(_) => return Ok(None),
        Statement::CreateEntity(create) => {
            catalog.put_entity(Entity::try_new(create.as_ref().clone())?, create.or_replace)?;
            empty(ctx)?
        }
        Statement::CreateInput(create) => {
            let input = plan_input(ctx, catalog, create).await?;
            catalog.put_input(input)?;
            empty(ctx)?
        }
        Statement::Drop(drop) => {
            match drop.object {
                ProfileObject::Entity => catalog.drop_entity(&drop.name.value, drop.if_exists)?,
                ProfileObject::Input => catalog.drop_input(&drop.name.value, drop.if_exists)?,
            }
            empty(ctx)?
        }
        Statement::Show(ProfileObject::Entity) => {
            let entities = catalog.entities()?;
            let mut inputs = Vec::new();
            for entity in &entities {
                let names: Vec<String> = catalog
                    .inputs_of(&entity.name)?
                    .iter()
                    .map(|i| i.name.clone())
                    .collect();
                inputs.push(names.join(", "));
            }
            table(
                ctx,
                &["entity", "id_types", "main_id", "inputs"],
                vec![
                    entities.iter().map(|e| e.name.clone()).collect(),
                    entities
                        .iter()
                        .map(|e| {
                            e.id_types
                                .iter()
                                .map(|t| t.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .collect(),
                    entities.iter().map(|e| e.main_id_column.clone()).collect(),
                    inputs,
                ],
            )?
        }
        Statement::Show(ProfileObject::Input) => {
            let inputs = catalog.inputs()?;
            table(
                ctx,
                &["input", "entity", "source", "ids", "occurred_at", "filter"],
                vec![
                    inputs.iter().map(|i| i.name.clone()).collect(),
                    inputs.iter().map(|i| i.entity.clone()).collect(),
                    inputs.iter().map(|i| source_text(&i.definition)).collect(),
                    inputs
                        .iter()
                        .map(|i| {
                            i.definition
                                .ids
                                .iter()
                                .map(|id| format!("{} AS {}", id.expr, id.id_type))
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .collect(),
                    inputs
                        .iter()
                        .map(|i| {
                            i.definition
                                .occurred_at
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default()
                        })
                        .collect(),
                    inputs
                        .iter()
                        .map(|i| {
                            i.definition
                                .filter
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default()
                        })
                        .collect(),
                ],
            )?
        }
        Statement::DescribeEntity(name) => {
            let entity = catalog.entity(&name.value)?;
            let inputs = catalog.inputs_of(&entity.name)?;
            let definitions = &entity.definition.id_types;
            table(
                ctx,
                &["id_type", "filters", "inputs"],
                vec![
                    definitions.iter().map(|t| t.name.value.clone()).collect(),
                    definitions
                        .iter()
                        .map(|t| {
                            t.filters
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .collect(),
                    definitions
                        .iter()
                        .map(|t| {
                            inputs
                                .iter()
                                .flat_map(|input| {
                                    input
                                        .definition
                                        .ids
                                        .iter()
                                        .filter(|id| id.id_type.value == t.name.value)
                                        .map(|id| format!("{}: {}", input.name, id.expr))
                                        .collect::<Vec<_>>()
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .collect(),
                ],
            )?
        }
    };
    Ok(Some(frame))
}

/// Checks an input and plans its rows: one VARCHAR column per id, then the time.
async fn plan_input(
    ctx: &SessionContext,
    catalog: &Catalog,
    create: &CreateInputStatement,
) -> Result<Input> {
    let entity = catalog.check_input(create)?;
    let name = create.name.value.clone();
    let mut columns: Vec<String> = create
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!("CAST(({}) AS VARCHAR) AS {}", id.expr, id_column(i)))
        .collect();
    columns.push(match &create.occurred_at {
        Some(time) => format!("CAST(({time}) AS TIMESTAMP) AS {OCCURRED_AT}"),
        None => format!("CAST(NULL AS TIMESTAMP) AS {OCCURRED_AT}"),
    });
    let mut sql = format!("SELECT {} FROM {}", columns.join(", "), source_text(create));
    if let Some(filter) = &create.filter {
        sql.push_str(&format!(" WHERE ({filter})"));
    }
    let plan = ctx.state().create_logical_plan(&sql).await.map_err(|e| {
        // The planner's message is right, but its location would point into the SQL
        // composed here, not into the user's statement.
        let report = ErrorReport::new(&CoreError::DataFusion(e), None);
        CoreError::invalid(format!(
            "input '{name}' of entity '{}': {}",
            entity.name, report
        ))
    })?;
    Ok(Input {
        name,
        entity: entity.name.clone(),
        id_types: create
            .ids
            .iter()
            .map(|id| id.id_type.value.clone())
            .collect(),
        plan,
        definition: create.clone(),
    })
}

/// The FROM clause of an input: its table, its query, or the table named like it.
fn source_text(create: &CreateInputStatement) -> String {
    match &create.source {
        Some(InputSource::Table(table)) => table.to_string(),
        Some(InputSource::Query(query)) => format!("({query}) AS input_rows"),
        None => create.name.to_string(),
    }
}

/// The result of a statement that returns no rows.
fn empty(ctx: &SessionContext) -> Result<DataFrame> {
    let plan = LogicalPlanBuilder::empty(false).build()?;
    Ok(DataFrame::new(ctx.state(), plan))
}

/// A small table of text columns.
fn table(ctx: &SessionContext, names: &[&str], columns: Vec<Vec<String>>) -> Result<DataFrame> {
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns
        .into_iter()
        .map(|values| Arc::new(StringArray::from(values)) as ArrayRef)
        .collect();
    let batch =
        RecordBatch::try_new(schema, arrays).map_err(datafusion::error::DataFusionError::from)?;
    Ok(ctx.read_batch(batch)?)
}
