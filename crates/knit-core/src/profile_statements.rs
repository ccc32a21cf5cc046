// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Running Knit's profile statements: entities, inputs, vars and cohorts into the
//! catalog, and the `SHOW` and `DESCRIBE` views of it.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::DFSchema;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::SessionContext;
use knit_sql::sqlparser;
use knit_sql::{CreateInputStatement, InputSource, ProfileObject, ShowObject, Statement};

use crate::catalog::{Catalog, Entity, Input, OCCURRED_AT, id_column};
use crate::error::{CoreError, Result};
use crate::features::{create_cohort, create_entity_var, create_input_var, normalize};
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
            let mut entity = Entity::try_new(create.as_ref().clone())?;
            if let Some(source) = &create.rules {
                entity.rules = Some(plan_rules(ctx, &entity.name, source).await?);
            }
            catalog.put_entity(entity, create.or_replace)?;
            empty(ctx)?
        }
        Statement::CreateInput(create) => {
            let input = plan_input(ctx, catalog, create).await?;
            catalog.put_input(input)?;
            empty(ctx)?
        }
        Statement::CreateEntityVar(create) => {
            create_entity_var(ctx, catalog, create).await?;
            empty(ctx)?
        }
        Statement::CreateInputVar(create) => {
            create_input_var(ctx, catalog, create).await?;
            empty(ctx)?
        }
        Statement::CreateCohort(create) => {
            create_cohort(ctx, catalog, create).await?;
            empty(ctx)?
        }
        Statement::Drop(drop) => {
            let name = &drop.name.value;
            let owner = drop
                .owner
                .as_ref()
                .map(|o| o.value.as_str())
                .unwrap_or_default();
            match drop.object {
                ProfileObject::Entity => catalog.drop_entity(name, drop.if_exists)?,
                ProfileObject::Input => catalog.drop_input(name, drop.if_exists)?,
                ProfileObject::EntityVar => {
                    catalog.drop_entity_var(owner, &normalize(&drop.name), drop.if_exists)?
                }
                ProfileObject::InputVar => {
                    catalog.drop_input_var(owner, &normalize(&drop.name), drop.if_exists)?
                }
                ProfileObject::Cohort => catalog.drop_cohort(name, drop.if_exists)?,
            }
            empty(ctx)?
        }
        Statement::Show(ShowObject::Vars) => show_vars(ctx, catalog)?,
        Statement::Show(ShowObject::Cohorts) => show_cohorts(ctx, catalog)?,
        Statement::Show(ShowObject::Entities) => {
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
                                .map(|t| match t.limit {
                                    Some(limit) => format!("{} LIMIT {limit}", t.name),
                                    None => t.name.clone(),
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .collect(),
                    entities.iter().map(|e| e.main_id_column.clone()).collect(),
                    inputs,
                ],
            )?
        }
        Statement::Show(ShowObject::Inputs) => {
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
        Statement::CreateProfileStore(location) => {
            create_profile_store(ctx, location)?;
            empty(ctx)?
        }
        Statement::RefreshProfileStore { .. } => {
            return Err(CoreError::invalid(
                "REFRESH PROFILE STORE is run by the knit command, which keeps the store's \
                 runs: put it in a script run with knit -f, or type it in knit's shell",
            ));
        }
    };
    Ok(Some(frame))
}

/// Names the session's profile store (`knit.profile_store`), making its folder if it is
/// a local one.
fn create_profile_store(ctx: &SessionContext, location: &str) -> Result<()> {
    if location.trim().is_empty() {
        return Err(CoreError::invalid(
            "CREATE PROFILE STORE: name the store's folder or s3:// URL, such as 'profiles/'",
        ));
    }
    if !location.contains("://") {
        let path = std::path::Path::new(location);
        if path.exists() && !path.is_dir() {
            return Err(CoreError::invalid(format!(
                "CREATE PROFILE STORE: '{location}' is a file: name a folder (it is made if \
                 missing)"
            )));
        }
        std::fs::create_dir_all(path).map_err(|e| {
            CoreError::invalid(format!(
                "CREATE PROFILE STORE: cannot make '{location}': {e}"
            ))
        })?;
    }
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .set("knit.profile_store", location)?;
    Ok(())
}

/// Checks an input and plans its rows: one VARCHAR column per id, then the time.
async fn plan_input(
    ctx: &SessionContext,
    catalog: &Catalog,
    create: &CreateInputStatement,
) -> Result<Input> {
    let entity = catalog.check_input(create)?;
    let name = create.name.value.clone();
    let filter = create
        .filter
        .as_ref()
        .map(|f| format!(" WHERE ({f})"))
        .unwrap_or_default();
    // The planner's message is right, but its location would point into the SQL
    // composed here, not into the user's statement.
    let input_error = |e| {
        let report = ErrorReport::new(&CoreError::DataFusion(e), None);
        CoreError::invalid(format!(
            "input '{name}' of entity '{}': {}",
            entity.name, report
        ))
    };
    // The ids and the time as written, to check their types first.
    let mut columns: Vec<String> = create
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!("({}) AS {}", id.expr, id_column(i)))
        .collect();
    columns.push(match &create.occurred_at {
        Some(time) => format!("({time}) AS {OCCURRED_AT}"),
        None => format!("NULL AS {OCCURRED_AT}"),
    });
    let sql = format!(
        "SELECT {} FROM {}{filter}",
        columns.join(", "),
        source_text(create)
    );
    let written = ctx
        .state()
        .create_logical_plan(&sql)
        .await
        .map_err(input_error)?;
    check_input_types(create, written.schema(), &entity.name)?;
    // Ids as text; the time as microseconds, whose range (years -290,000 to 294,000)
    // takes any date a warehouse holds, as nanoseconds (1677 to 2262) would not.
    for (i, id) in create.ids.iter().enumerate() {
        columns[i] = format!("CAST(({}) AS VARCHAR) AS {}", id.expr, id_column(i));
    }
    columns[create.ids.len()] = format!(
        "arrow_cast({}, '{MICROS}') AS {OCCURRED_AT}",
        create
            .occurred_at
            .as_ref()
            .map(|t| format!("({t})"))
            .unwrap_or_else(|| "NULL".to_string())
    );
    let sql = format!(
        "SELECT {} FROM {}{filter}",
        columns.join(", "),
        source_text(create)
    );
    let rows = format!("SELECT * FROM {}{filter}", source_text(create));
    let plan = ctx
        .state()
        .create_logical_plan(&sql)
        .await
        .map_err(input_error)?;
    let rows = ctx
        .state()
        .create_logical_plan(&rows)
        .await
        .map_err(input_error)?;
    Ok(Input {
        name,
        entity: entity.name.clone(),
        id_types: create
            .ids
            .iter()
            .map(|id| id.id_type.value.clone())
            .collect(),
        plan,
        rows,
        definition: create.clone(),
    })
}

/// The type the stitch reads times as.
const MICROS: &str = "Timestamp(Microsecond, None)";

/// Refuses ids whose text would not be one value each (lists, structs, maps, bytes:
/// `[NULL]` and `[]` are both `'[]'` as text) and times that are not times.
fn check_input_types(create: &CreateInputStatement, schema: &DFSchema, entity: &str) -> Result<()> {
    let what = format!("input '{}' of entity '{entity}'", create.name.value);
    for (i, id) in create.ids.iter().enumerate() {
        let data_type = schema.field(i).data_type();
        let refused = matches!(
            data_type,
            DataType::List(_)
                | DataType::LargeList(_)
                | DataType::ListView(_)
                | DataType::LargeListView(_)
                | DataType::FixedSizeList(..)
                | DataType::Struct(_)
                | DataType::Map(..)
                | DataType::Union(..)
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::FixedSizeBinary(_)
        );
        if refused {
            return Err(CoreError::invalid(format!(
                "{what}: the id '{}' ({}) is a {data_type}; ids are single values (text, \
                 numbers, dates): pick one element or field, as in {}[1] or {}['key'], or \
                 hash the whole value, as in sha256(...)",
                id.expr, id.id_type.value, id.expr, id.expr
            )));
        }
    }
    if let Some(time) = &create.occurred_at {
        let data_type = schema.field(create.ids.len()).data_type();
        let is_time = matches!(
            data_type,
            DataType::Timestamp(..)
                | DataType::Date32
                | DataType::Date64
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Null
        ) || matches!(data_type, DataType::Dictionary(_, value) if matches!(value.as_ref(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View));
        if !is_time {
            return Err(CoreError::invalid(format!(
                "{what}: OCCURRED AT {time} is a {data_type}, not a time: give a timestamp, \
                 a date or timestamp text (for epoch seconds, to_timestamp({time}))"
            )));
        }
    }
    Ok(())
}

/// `SHOW VARS`: every entity var, then every input var.
fn show_vars(ctx: &SessionContext, catalog: &Catalog) -> Result<DataFrame> {
    let text = |e: Option<&sqlparser::ast::Expr>| e.map(ToString::to_string).unwrap_or_default();
    let mut rows: Vec<[String; 9]> = Vec::new();
    for var in catalog.all_entity_vars()? {
        let d = &var.definition;
        rows.push([
            var.entity.clone(),
            var.name.clone(),
            "entity".to_string(),
            d.expr.to_string(),
            var.from.clone().unwrap_or_default(),
            text(d.filter.as_ref()),
            text(d.default.as_ref()),
            d.hidden.to_string(),
            d.description.clone().unwrap_or_default(),
        ]);
    }
    for var in catalog.all_input_vars()? {
        let d = &var.definition;
        rows.push([
            var.input.clone(),
            var.name.clone(),
            "input".to_string(),
            d.expr.to_string(),
            var.input.clone(),
            text(d.filter.as_ref()),
            text(d.default.as_ref()),
            "false".to_string(),
            d.description.clone().unwrap_or_default(),
        ]);
    }
    let names = [
        "owner",
        "var",
        "kind",
        "expression",
        "from",
        "filter",
        "default",
        "hidden",
        "description",
    ];
    let columns = (0..names.len())
        .map(|i| rows.iter().map(|r| r[i].clone()).collect())
        .collect();
    table(ctx, &names, columns)
}

/// `SHOW COHORTS`.
fn show_cohorts(ctx: &SessionContext, catalog: &Catalog) -> Result<DataFrame> {
    let cohorts = catalog.cohorts()?;
    table(
        ctx,
        &["cohort", "entity", "extends", "condition", "description"],
        vec![
            cohorts.iter().map(|c| c.name.clone()).collect(),
            cohorts.iter().map(|c| c.entity.clone()).collect(),
            cohorts
                .iter()
                .map(|c| c.extends.clone().unwrap_or_default())
                .collect(),
            cohorts
                .iter()
                .map(|c| c.definition.condition.to_string())
                .collect(),
            cohorts
                .iter()
                .map(|c| c.definition.description.clone().unwrap_or_default())
                .collect(),
        ],
    )
}

/// The FROM clause of an input: its table, its query, or the table named like it.
/// The plan of an entity's stitch rules: the rows of `source` for the entity, as text
/// columns `id1, id1_type, action, id2, id2_type` (pb's rules table; `id2` and
/// `id2_type` may be absent, for node rules only).
async fn plan_rules(
    ctx: &SessionContext,
    entity: &str,
    source: &InputSource,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    let from = match source {
        InputSource::Table(table) => table.to_string(),
        InputSource::Query(query) => format!("({query}) AS rules"),
    };
    let rules_error = |e| {
        let report = ErrorReport::new(&CoreError::DataFusion(e), None);
        CoreError::invalid(format!(
            "the rules of entity '{entity}' ({from}): {report}; a rules table has the \
             columns entity, id1, id1_type, action ('include' or 'exclude') and, for edge \
             rules, id2 and id2_type"
        ))
    };
    let state = ctx.state();
    let columns = state
        .create_logical_plan(&format!("SELECT * FROM {from}"))
        .await
        .map_err(rules_error)?;
    let has = |name: &str| {
        columns
            .schema()
            .fields()
            .iter()
            .any(|f| f.name().eq_ignore_ascii_case(name))
    };
    let text = |name: &str| {
        if has(name) {
            format!("CAST({name} AS VARCHAR) AS {name}")
        } else {
            format!("CAST(NULL AS VARCHAR) AS {name}")
        }
    };
    let sql = format!(
        "SELECT CAST(id1 AS VARCHAR) AS id1, CAST(id1_type AS VARCHAR) AS id1_type, \
         CAST(action AS VARCHAR) AS action, {}, {} FROM {from} \
         WHERE CAST(entity AS VARCHAR) = {}",
        text("id2"),
        text("id2_type"),
        knit_sql::quote_literal(entity)
    );
    state.create_logical_plan(&sql).await.map_err(rules_error)
}

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
