// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Vars as `CREATE ENTITY VAR` and `CREATE INPUT VAR` statements, in dependency order.

use std::collections::{BTreeMap, BTreeSet};

use knit_sql::{quote_ident_if_needed, quote_literal};

use super::Writer;
use super::order::dependency_order;
use crate::error::Result;
use crate::project::{Origin, Project, Var, VarKind};
use crate::template::sql_type;

/// A var's statement, its entity, and what it reads.
pub(super) struct PlannedVar {
    pub entity: String,
    /// `entity <entity>.<name>` or `input <input>.<name>`.
    pub key: String,
    /// The keys of the vars it reads.
    pub reads: Vec<String>,
    /// The input (or model) whose rows it aggregates.
    pub from: Option<String>,
    pub sql: String,
    pub origin: Origin,
}

impl Writer<'_> {
    /// Every var's statement with its entity, in an order where each comes after the
    /// vars it reads.
    pub(super) fn vars(&self) -> Result<Vec<PlannedVar>> {
        let mut statements = BTreeMap::new();
        let mut graph = Vec::new();
        let input_vars: BTreeSet<(String, String)> = self
            .project
            .vars
            .iter()
            .filter(|v| v.kind == VarKind::Input)
            .filter_map(|v| Some((v.from.clone()?, v.name.clone())))
            .collect();
        for var in &self.project.vars {
            let (key, sql, references) = self.var(var, &input_vars)?;
            if statements.contains_key(&key) {
                return Err(var
                    .origin
                    .error(format!("a var named '{}' is defined twice", var.name)));
            }
            graph.push((key.clone(), references.clone(), &var.origin));
            statements.insert(key, (sql, var, references));
        }
        for (key, references, origin) in &graph {
            if let Some(unknown) = references.iter().find(|r| !statements.contains_key(*r)) {
                let name = unknown
                    .trim_start_matches("entity ")
                    .trim_start_matches("input ");
                return Err(origin.error(format!(
                    "{} reads {name}, which no var_groups entry defines",
                    key.trim_start_matches("entity ")
                        .trim_start_matches("input ")
                )));
            }
        }
        let mut planned = Vec::new();
        for key in dependency_order(graph)? {
            if let Some((sql, var, reads)) = statements.remove(&key) {
                planned.push(PlannedVar {
                    entity: var.entity.clone(),
                    reads,
                    key,
                    from: var.from.clone(),
                    sql,
                    origin: var.origin.clone(),
                });
            }
        }
        Ok(planned)
    }

    /// A var's statement, its key in the dependency graph and the keys it reads.
    fn var(
        &self,
        var: &Var,
        input_vars: &BTreeSet<(String, String)>,
    ) -> Result<(String, String, Vec<String>)> {
        let entity = Some(var.entity.as_str());
        let mut references = BTreeSet::new();
        let mut render = |text: &str, key: &str| -> Result<String> {
            let rendered = self.render(text, entity, &var.origin, key)?;
            for (owner, name) in &rendered.vars {
                references.insert(entity_var_key(owner, name));
            }
            for reference in &rendered.input_names {
                if input_vars.contains(reference) {
                    references.insert(format!("input {}.{}", reference.0, reference.1));
                }
            }
            Ok(rendered.sql)
        };
        let mut select = render(&var.select, "select")?;
        // Older schemas name the vars an expression reads by bare name in `dependencies`.
        let mut dependencies = Vec::new();
        for dependency in &var.dependencies {
            let project_vars = &self.project.vars;
            if project_vars.iter().any(|v| {
                v.kind == VarKind::Entity && v.entity == var.entity && &v.name == dependency
            }) {
                dependencies.push(entity_var_key(&var.entity, dependency));
            } else if let Some(input_var) = project_vars.iter().find(|v| {
                v.kind == VarKind::Input && v.entity == var.entity && &v.name == dependency
            }) && let Some(from) = &input_var.from
            {
                dependencies.push(format!("input {from}.{dependency}"));
            } else {
                return Err(var.origin.error(format!(
                    "dependencies: '{dependency}' is not a var of entity '{}'",
                    var.entity
                )));
            }
        }
        let filter = var
            .filter
            .as_ref()
            .map(|w| render(w, "where"))
            .transpose()?;
        let default = var
            .default
            .as_ref()
            .map(|d| render(d, "default_value"))
            .transpose()?;
        let window = match &var.window {
            Some(window) => Some((
                window
                    .partition_by
                    .iter()
                    .map(|p| render(p, "window.partition_by"))
                    .collect::<Result<Vec<_>>>()?,
                window
                    .order_by
                    .iter()
                    .map(|o| render(o, "window.order_by"))
                    .collect::<Result<Vec<_>>>()?,
                window.frame.clone(),
            )),
            None => None,
        };
        let data_type = match &var.data_type {
            Some(t) => Some(
                sql_type(render(t, "column_data_type")?.trim())
                    .map_err(|reason| var.origin.error(format!("column_data_type: {reason}")))?,
            ),
            None => None,
        };
        let knit_input = match &var.from {
            Some(from) => Some(
                self.knit_inputs
                    .get(&(from.clone(), var.entity.clone()))
                    .cloned()
                    .ok_or_else(|| {
                        var.origin
                            .error(no_ids_of_entity(self.project, from, &var.entity))
                    })?,
            ),
            None => None,
        };
        match (&window, var.kind, &knit_input) {
            // An ordered first or last value per entity.
            (Some((partition, order, _)), VarKind::Entity, Some(_)) => {
                if !partition.is_empty() {
                    return Err(var.origin.error(
                        "window.partition_by with from is not supported; \
                         an entity var's window is always one entity",
                    ));
                }
                select = ordered_aggregate(&select, order).ok_or_else(|| {
                    var.origin.error(
                        "a window with from is supported for first_value(x) and last_value(x)",
                    )
                })?;
            }
            (Some((partition, order, frame)), _, _) => {
                let mut over = Vec::new();
                if !partition.is_empty() {
                    over.push(format!("PARTITION BY {}", partition.join(", ")));
                }
                if !order.is_empty() {
                    over.push(format!("ORDER BY {}", order.join(", ")));
                }
                if let Some(frame) = frame {
                    over.push(frame.clone());
                }
                select = format!("{select} OVER ({})", over.join(" "));
            }
            // Snowflake, BigQuery, Redshift and PostgreSQL have first_value/last_value
            // as window functions only: pb's SQL fails there without a window.
            (None, VarKind::Entity, Some(_))
                if self.options.dialect != "databricks" && unordered_first_last(&select) =>
            {
                return Err(var.origin.error(
                    "first_value/last_value without window.order_by: the warehouse refuses it \
                     (it needs an OVER clause) and no row comes first; add window: order_by: \
                     [<time column> desc]",
                ));
            }
            (None, _, _) => {}
        }
        if let Some(data_type) = data_type {
            select = format!("CAST(({select}) AS {data_type})");
        }
        // Without from, a var reads other vars of its entity, and pb's where keeps the
        // entities it holds for: the others get NULL (then the default), as in pb.
        let filter = match filter {
            Some(filter) if var.kind == VarKind::Entity && knit_input.is_none() => {
                select = format!("CASE WHEN ({filter}) THEN ({select}) END");
                None
            }
            filter => filter,
        };
        let (key, mut sql) = match (var.kind, &knit_input) {
            (VarKind::Entity, _) => (
                entity_var_key(&var.entity, &var.name),
                format!(
                    "CREATE ENTITY VAR {}.{} AS {select}",
                    quote_ident_if_needed(&var.entity),
                    quote_ident_if_needed(&var.name)
                ),
            ),
            (VarKind::Input, Some(input)) => (
                format!(
                    "input {}.{}",
                    var.from.clone().unwrap_or_default(),
                    var.name
                ),
                format!(
                    "CREATE INPUT VAR {}.{} AS {select}",
                    quote_ident_if_needed(input),
                    quote_ident_if_needed(&var.name)
                ),
            ),
            (VarKind::Input, None) => {
                return Err(var.origin.error("an input_var needs from: inputs/<input>"));
            }
        };
        if var.kind == VarKind::Entity
            && let Some(input) = &knit_input
        {
            sql.push_str(&format!(" FROM {}", quote_ident_if_needed(input)));
        }
        if let Some(filter) = filter {
            sql.push_str(&format!(" WHERE {filter}"));
        }
        if let Some(default) = default {
            sql.push_str(&format!(" DEFAULT {default}"));
        }
        if var.hidden {
            sql.push_str(" HIDDEN");
        }
        if let Some(description) = &var.description {
            sql.push_str(&format!(
                " DESCRIPTION {}",
                quote_literal(description.trim())
            ));
        }
        references.extend(dependencies);
        Ok((key, sql, references.into_iter().collect()))
    }
}

/// The dependency key of entity var `name` of `entity`, as vars, cohorts and the steps
/// that order them name it.
pub(super) fn entity_var_key(entity: &str, name: &str) -> String {
    format!("entity {entity}.{name}")
}

/// `first_value(x)` as `first_value(x ORDER BY ...)` (and `last_value`): pb's window
/// over one entity's rows, of which it keeps one row's value.
/// Whether `select` is `first_value(x)` or `last_value(x)` with no order of its own.
fn unordered_first_last(select: &str) -> bool {
    let Ok(pattern) = regex::Regex::new(r"(?is)^\s*(first_value|last_value)\s*\((.*)\)\s*$") else {
        return false;
    };
    pattern
        .captures(select)
        .and_then(|c| c.get(2))
        .is_some_and(|argument| {
            let argument = argument.as_str().to_lowercase();
            !argument.contains(" order by ") && !argument.contains(" over ")
        })
}

fn ordered_aggregate(select: &str, order: &[String]) -> Option<String> {
    let pattern = regex::Regex::new(r"(?is)^\s*(first_value|last_value)\s*\((.*)\)\s*$").ok()?;
    let captures = pattern.captures(select)?;
    let function = captures.get(1)?.as_str();
    let argument = captures.get(2)?.as_str();
    if order.is_empty() {
        return Some(format!("{function}({argument})"));
    }
    Some(format!(
        "{function}({argument} ORDER BY {})",
        order.join(", ")
    ))
}

/// Why the rows of input (or model) `from` cannot be read by a var of `entity`: it has
/// no ids of the entity, or only ids of types the entity lacks.
fn no_ids_of_entity(project: &Project, from: &str, entity: &str) -> String {
    let types: Vec<&str> = project
        .inputs
        .iter()
        .filter(|input| input.name == from)
        .flat_map(|input| &input.ids)
        .filter(|id| id.entity == entity)
        .map(|id| id.id_type.as_str())
        .collect();
    if types.is_empty() {
        return format!("from: input '{from}' has no ids of entity '{entity}'");
    }
    let known = project
        .entities
        .iter()
        .find(|e| e.name == entity)
        .map(|e| e.id_types.join(", "))
        .unwrap_or_default();
    format!(
        "from: input '{from}' has ids of entity '{entity}' only of types ({}) that are not \
         among the entity's id types ({known}): give each id one of those types, or \
         `main_id` for a column holding the entity's main id",
        types.join(", ")
    )
}
