// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Cohorts as `CREATE COHORT` statements, in `EXTENDS` order: a `filter_pipeline`'s
//! steps or a `filter_expression`, each condition rendered as a template.

use std::collections::{BTreeMap, BTreeSet};

use knit_sql::quote_ident_if_needed;

use super::Writer;
use super::order::dependency_order;
use super::vars::entity_var_key;
use crate::error::Result;
use crate::project::{FilterExpression, Origin};

/// A cohort's statement, its entity, and what it reads.
pub(super) struct PlannedCohort {
    pub name: String,
    pub entity: String,
    /// The cohort it extends.
    pub extends: Option<String>,
    /// The keys of the vars its conditions read (`entity <entity>.<name>`).
    pub reads: BTreeSet<String>,
    pub sql: String,
    pub origin: Origin,
}

impl Writer<'_> {
    /// Cohorts in `EXTENDS` order, each with its entity and statement.
    pub(super) fn cohorts(&self) -> Result<Vec<PlannedCohort>> {
        let cohorts = &self.project.cohorts;
        let order = dependency_order(
            cohorts
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.extends.iter().cloned().collect(),
                        &c.origin,
                    )
                })
                .collect(),
        )?;
        let mut entities: BTreeMap<String, String> = BTreeMap::new();
        let mut result = Vec::new();
        for name in order {
            let Some(cohort) = cohorts.iter().find(|c| c.name == name) else {
                let origin = cohorts
                    .iter()
                    .find(|c| c.extends.as_deref() == Some(name.as_str()))
                    .map(|c| c.origin.clone());
                return Err(origin
                    .map(|o| o.error(format!("extends: no entity_cohort model named '{name}'")))
                    .unwrap_or_else(|| {
                        Origin {
                            file: "pb_project.yaml".into(),
                            key: name.clone(),
                        }
                        .error("unknown cohort")
                    }));
            };
            let entity = match &cohort.extends {
                Some(parent) => entities.get(parent).cloned().unwrap_or_default(),
                None => cohort.entity.clone(),
            };
            if !self.names.entities.contains(&entity) {
                return Err(cohort.origin.error(format!(
                    "model_spec.extends: entity '{entity}' is not declared in pb_project.yaml"
                )));
            }
            let mut reads = BTreeSet::new();
            let mut conditions = Vec::new();
            for (n, (include, condition)) in cohort.steps.iter().enumerate() {
                let key = format!("model_spec.filter_pipeline[{n}].value");
                let rendered = self.render(condition, Some(&entity), &cohort.origin, &key)?;
                reads.extend(var_keys(&rendered.vars));
                let rendered = rendered.sql;
                // pb pastes `NOT` before the text, without parentheses.
                conditions.push(if *include {
                    format!("({rendered})")
                } else {
                    format!("(NOT {rendered})")
                });
            }
            if let Some(expression) = &cohort.expression {
                let rendered = self.render_filter_expression(
                    expression,
                    &entity,
                    &cohort.origin,
                    "model_spec.filter_expression",
                    &mut reads,
                )?;
                conditions.push(rendered);
            }
            let condition = if conditions.is_empty() {
                "TRUE".to_string()
            } else {
                conditions.join(" AND ")
            };
            let extends = cohort
                .extends
                .as_ref()
                .map(|p| format!(" EXTENDS {}", quote_ident_if_needed(p)))
                .unwrap_or_default();
            let sql = format!(
                "CREATE COHORT {} FOR {}{extends} WHERE {condition}",
                quote_ident_if_needed(&cohort.name),
                quote_ident_if_needed(&entity)
            );
            entities.insert(cohort.name.clone(), entity.clone());
            result.push(PlannedCohort {
                name: cohort.name.clone(),
                entity,
                extends: cohort.extends.clone(),
                reads,
                sql,
                origin: cohort.origin.clone(),
            });
        }
        Ok(result)
    }

    /// A cohort's `filter_expression` as SQL, each condition rendered as a template and
    /// put in parentheses (as pb does: checked against pb, nested `AND`/`OR` included).
    fn render_filter_expression(
        &self,
        expression: &FilterExpression,
        entity: &str,
        origin: &Origin,
        key: &str,
        reads: &mut BTreeSet<String>,
    ) -> Result<String> {
        let (operands, operator) = match expression {
            FilterExpression::Condition(condition) => {
                let rendered = self.render(condition, Some(entity), origin, key)?;
                reads.extend(var_keys(&rendered.vars));
                return Ok(format!("({})", rendered.sql));
            }
            FilterExpression::All(operands) => (operands, " AND "),
            FilterExpression::Any(operands) => (operands, " OR "),
        };
        if operands.is_empty() {
            return Err(origin.error(format!("{key}: an empty AND or OR list")));
        }
        let parts = operands
            .iter()
            .map(|o| self.render_filter_expression(o, entity, origin, key, reads))
            .collect::<Result<Vec<_>>>()?;
        Ok(format!("({})", parts.join(operator)))
    }
}

/// The dependency keys of the vars a template read, `(entity, name)` each.
fn var_keys(vars: &BTreeSet<(String, String)>) -> impl Iterator<Item = String> + '_ {
    vars.iter().map(|(owner, name)| entity_var_key(owner, name))
}
