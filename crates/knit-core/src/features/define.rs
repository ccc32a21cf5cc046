// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `CREATE ENTITY VAR`, `CREATE INPUT VAR` and `CREATE COHORT`: each definition is
//! resolved, planned inside a query of the shape it will be part of, and only then
//! stored, so a wrong column, a type error, a missing aggregate or a cycle fails at
//! `CREATE`.
//!
//! The check plans the definition alone: the vars it reads stand in as typed NULLs (each
//! var's type is kept from its own check), so checking the thousandth var of a project
//! costs what checking the first did.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use knit_sql::{CreateCohortStatement, CreateEntityVarStatement, CreateInputVarStatement};
use regex::Regex;

use super::compose::{AggregateNames, Shape, compose, input_rows_sql};
use super::model::{EntityModel, cohort_conditions};
use knit_sql::quote_ident;

use super::names::{Scope, check_only_vars, normalize};
use crate::catalog::{Catalog, Cohort, EntityVar, InputVar};
use crate::error::{CoreError, Result};
use crate::report::ErrorReport;

const NO_FROM_HINT: &str = "; an expression without FROM reads vars only: add FROM <input> \
                            to aggregate an input's column";

/// Checks and stores an entity var.
pub(crate) async fn create_entity_var(
    ctx: &SessionContext,
    catalog: &Catalog,
    create: &CreateEntityVarStatement,
) -> Result<()> {
    let model = EntityModel::load(catalog, &create.name.owner.value)?;
    let name = normalize(&create.name.name);
    let what = format!("entity var {}.{name}", model.entity.name);
    let names = model.var_names();
    let from = match &create.from {
        Some(input) => {
            if let Ok(other) = catalog.input(&input.value)
                && other.entity != model.entity.name
            {
                return Err(CoreError::invalid(format!(
                    "{what}: input '{}' is an input of entity '{}', not of '{}'",
                    other.name, other.entity, model.entity.name
                )));
            }
            let input = model
                .input(&input.value)
                .map_err(|e| CoreError::invalid(format!("{what}: {e}")))?;
            Some(Arc::clone(input))
        }
        None => None,
    };
    if from.is_none() && create.filter.is_some() {
        return Err(CoreError::invalid(format!(
            "{what}: WHERE filters the rows of an input, so it needs FROM <input>"
        )));
    }
    let references = model.with_scope(&names, from.as_deref(), |scope| -> Result<_> {
        let mut references = scope.var_references(&create.expr);
        if from.is_none() {
            check_only_vars(scope, &create.expr, &what, NO_FROM_HINT)?;
        }
        for expr in create.filter.iter() {
            references.extend(scope.var_references(expr));
        }
        Ok(references)
    })?;
    let mut references: BTreeSet<String> = references;
    if let Some(default) = &create.default {
        model.with_scope(&names, None, |scope| -> Result<()> {
            check_only_vars(scope, default, &format!("{what}: DEFAULT"), "")?;
            references.extend(scope.var_references(default));
            Ok(())
        })?;
    }
    let mut var = EntityVar {
        entity: model.entity.name.clone(),
        name: name.clone(),
        from: from.as_ref().map(|i| i.name.clone()),
        references: references.into_iter().collect(),
        data_type: DataType::Null,
        definition: create.clone(),
    };
    // A cycle through the vars it reads is found by name, before anything is planned.
    let with_var = model.clone().with_var(Arc::new(var.clone()));
    with_var.steps([name.as_str()])?;
    let check = model
        .for_check(
            var.from.as_deref(),
            &var.references,
            Some(Arc::new(var.clone())),
        )
        .map_err(|e| prefixed(&what, e))?;
    let aggregates = AggregateNames::of(&ctx.state());
    let sql = compose(&check, &[], Shape::Vars(&[name.as_str()]), &aggregates)
        .map_err(|e| prefixed(&what, e))?;
    let plan = check_plan(ctx, &sql, &what, from.is_some()).await?;
    var.data_type = column_type(&plan, &name)?;
    catalog.put_entity_var(Arc::new(var), create.or_replace)
}

/// Checks and stores an input var.
pub(crate) async fn create_input_var(
    ctx: &SessionContext,
    catalog: &Catalog,
    create: &CreateInputVarStatement,
) -> Result<()> {
    let input = catalog.input(&create.name.owner.value)?;
    let name = normalize(&create.name.name);
    let what = format!("input var {}.{name}", input.name);
    if input.has_column(&name) {
        return Err(CoreError::invalid(format!(
            "{what}: input '{}' already has a column '{name}': give the var another name",
            input.name
        )));
    }
    let mut model = EntityModel::load(catalog, &input.entity)?;
    let others: BTreeSet<String> = model
        .input_vars_of(&input.name)
        .iter()
        .map(|v| v.name.clone())
        .filter(|n| *n != name)
        .collect();
    let has_column = |column: &str| input.has_column(column);
    let scope = Scope {
        entity: &input.name,
        vars: &others,
        input: Some((&input.name, &has_column)),
    };
    let mut references = scope.var_references(&create.expr);
    for expr in create.filter.iter().chain(create.default.iter()) {
        references.extend(scope.var_references(expr));
    }
    let mut var = InputVar {
        input: input.name.clone(),
        name: name.clone(),
        references: references.into_iter().collect(),
        data_type: DataType::Null,
        definition: create.clone(),
    };
    // A cycle through the input vars it reads is found by name, before anything is
    // planned.
    let vars = model.input_vars.entry(input.name.clone()).or_default();
    match vars.iter().position(|v| v.name == name) {
        Some(i) => vars[i] = Arc::new(var.clone()),
        None => vars.push(Arc::new(var.clone())),
    }
    model
        .input_var_levels(&input.name)
        .map_err(|e| prefixed(&what, e))?;
    // The input vars it reads stand in as typed NULLs; the others are left out.
    let vars = model.input_vars.entry(input.name.clone()).or_default();
    let mut checked: Vec<Arc<InputVar>> = vars
        .iter()
        .filter(|v| v.name != name && var.references.contains(&v.name))
        .map(|v| Arc::new(v.placeholder()))
        .collect();
    checked.push(Arc::new(InputVar {
        definition: var.definition.clone(),
        references: var.references.clone(),
        ..var.placeholder()
    }));
    *vars = checked;
    let sql = input_rows_sql(&model, &input).map_err(|e| prefixed(&what, e))?;
    let sql = format!("SELECT {} FROM ({sql}) AS checked", quote_ident(&name));
    let planned = plan(ctx, &sql).await.map_err(|e| {
        let text = e.to_string();
        if text.contains("GROUP BY") {
            CoreError::invalid(format!(
                "{what} is computed for each row, so it cannot aggregate rows: use a window \
                 (sum(x) OVER (PARTITION BY ...)), or an entity var for one value per entity"
            ))
        } else {
            CoreError::invalid(format!("{what}: {text}"))
        }
    })?;
    var.data_type = column_type(&planned, &name)?;
    catalog.put_input_var(Arc::new(var), create.or_replace)
}

/// Checks and stores a cohort.
pub(crate) async fn create_cohort(
    ctx: &SessionContext,
    catalog: &Catalog,
    create: &CreateCohortStatement,
) -> Result<()> {
    let model = EntityModel::load(catalog, &create.entity.value)?;
    let name = create.name.value.clone();
    let what = format!("cohort '{name}'");
    let mut conditions = Vec::new();
    if let Some(parent) = &create.extends {
        let (parent_entity, parent_conditions) = cohort_conditions(catalog, &parent.value)?;
        if parent_entity != model.entity.name {
            return Err(CoreError::invalid(format!(
                "{what} is for entity '{}', but the cohort it extends, '{}', is for '{parent_entity}'",
                model.entity.name, parent.value
            )));
        }
        conditions = parent_conditions;
    }
    conditions.push(create.condition.clone());
    let names = model.var_names();
    let references = model.with_scope(&names, None, |scope| -> Result<_> {
        check_only_vars(scope, &create.condition, &what, "")?;
        Ok(scope.var_references(&create.condition))
    })?;
    let mut reads: BTreeSet<String> = BTreeSet::new();
    model.with_scope(&names, None, |scope| {
        for condition in &conditions {
            reads.extend(scope.var_references(condition));
        }
    });
    let reads: Vec<String> = reads.into_iter().collect();
    let check = model
        .for_check(None, &reads, None)
        .map_err(|e| prefixed(&what, e))?;
    let aggregates = AggregateNames::of(&ctx.state());
    let sql = compose(&check, &conditions, Shape::Members, &aggregates)
        .map_err(|e| prefixed(&what, e))?;
    check_plan(ctx, &sql, &what, false).await?;
    catalog.put_cohort(
        Cohort {
            name,
            entity: model.entity.name.clone(),
            extends: create.extends.as_ref().map(|e| e.value.clone()),
            references: references.into_iter().collect(),
            definition: create.clone(),
        },
        create.or_replace,
    )
}

fn prefixed(what: &str, error: CoreError) -> CoreError {
    CoreError::invalid(format!("{what}: {error}"))
}

async fn plan(ctx: &SessionContext, sql: &str) -> Result<LogicalPlan> {
    Ok(ctx.state().create_logical_plan(sql).await?)
}

/// The type of a checked definition: its column's in the plan.
fn column_type(plan: &LogicalPlan, name: &str) -> Result<DataType> {
    plan.schema()
        .fields()
        .iter()
        .find(|f| f.name() == name)
        .map(|f| f.data_type().clone())
        .ok_or_else(|| CoreError::internal(format!("the check of '{name}' lost its column")))
}

/// Plans a composed query; a planning error is reported as the definition's, in the
/// user's names.
async fn check_plan(
    ctx: &SessionContext,
    sql: &str,
    what: &str,
    aggregates: bool,
) -> Result<LogicalPlan> {
    let error = match plan(ctx, sql).await {
        Ok(plan) => return Ok(plan),
        Err(error) => error,
    };
    let text = user_names(&ErrorReport::new(&error, None).to_string());
    if text.contains("GROUP BY") {
        return Err(CoreError::invalid(if aggregates {
            format!(
                "{what} reads rows FROM an input, so it must aggregate them into one value per \
                 entity (sum(x), count(*), max(x), first_value(x ORDER BY t), ...); for a value \
                 per row, use CREATE INPUT VAR"
            )
        } else {
            format!(
                "{what} has no FROM, so it is an expression over other vars and cannot \
                 aggregate: add FROM <input> to aggregate an input's rows"
            )
        }));
    }
    Err(CoreError::invalid(format!("{what}: {text}")))
}

/// An error message with the composed query's internal names put back, and its
/// internal columns left out of lists of valid fields.
pub(crate) fn user_names(text: &str) -> String {
    let text = text.replace("__knit_var_", "");
    let internal = Regex::new(r"(, )?\b(?:[a-z]\.)?__knit_\w+")
        .map(|re| re.replace_all(&text, "").into_owned());
    let text = internal.unwrap_or(text);
    Regex::new(r"\b[rs]\.(\w)")
        .map(|re| re.replace_all(&text, "$1").into_owned())
        .unwrap_or(text)
}
