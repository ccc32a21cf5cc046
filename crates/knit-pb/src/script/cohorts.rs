// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Cohorts as `CREATE COHORT` statements, in `EXTENDS` order: a `filter_pipeline`'s
//! steps or a `filter_expression`, each condition rendered as a template.

use std::collections::BTreeMap;

use knit_sql::quote_ident_if_needed;

use super::Writer;
use super::order::dependency_order;
use crate::error::Result;
use crate::project::{FilterExpression, Origin};

impl Writer<'_> {
    /// Cohorts in `EXTENDS` order, each with its entity; the statements of those of
    /// entity `write` are written (`None`: none).
    pub(super) fn cohorts(&mut self, write: Option<&str>) -> Result<Vec<(String, String)>> {
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
            let mut conditions = Vec::new();
            for (n, (include, condition)) in cohort.steps.iter().enumerate() {
                let key = format!("model_spec.filter_pipeline[{n}].value");
                let rendered = self
                    .render(condition, Some(&entity), &cohort.origin, &key)?
                    .sql;
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
            if write == Some(entity.as_str()) {
                self.script.push(
                    format!(
                        "CREATE COHORT {} FOR {}{extends} WHERE {condition}",
                        quote_ident_if_needed(&cohort.name),
                        quote_ident_if_needed(&entity)
                    ),
                    Some(cohort.origin.clone()),
                );
            }
            entities.insert(cohort.name.clone(), entity.clone());
            result.push((cohort.name.clone(), entity));
        }
        Ok(result)
    }

    /// A cohort's `filter_expression` as SQL, each condition rendered as a template and
    /// put in parentheses (as pb does: checked against pb, nested `AND`/`OR` included).
    fn render_filter_expression(
        &mut self,
        expression: &FilterExpression,
        entity: &str,
        origin: &Origin,
        key: &str,
    ) -> Result<String> {
        let (operands, operator) = match expression {
            FilterExpression::Condition(condition) => {
                let rendered = self.render(condition, Some(entity), origin, key)?.sql;
                return Ok(format!("({rendered})"));
            }
            FilterExpression::All(operands) => (operands, " AND "),
            FilterExpression::Any(operands) => (operands, " OR "),
        };
        if operands.is_empty() {
            return Err(origin.error(format!("{key}: an empty AND or OR list")));
        }
        let parts = operands
            .iter()
            .map(|o| self.render_filter_expression(o, entity, origin, key))
            .collect::<Result<Vec<_>>>()?;
        Ok(format!("({})", parts.join(operator)))
    }
}
