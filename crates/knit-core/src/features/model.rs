// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! One entity's definitions as a query sees them, and the order its vars are computed in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::Expr;

use super::names::Scope;
use crate::catalog::{Catalog, Entity, EntityVar, Input, InputVar};
use crate::error::{CoreError, Result};

/// An entity with its inputs, input vars and entity vars, read from the catalog at once.
#[derive(Debug, Clone)]
pub(crate) struct EntityModel {
    pub entity: Arc<Entity>,
    /// Every input of the entity, by name.
    pub inputs: Vec<Arc<Input>>,
    /// The input vars of each input, in creation order.
    pub input_vars: BTreeMap<String, Vec<Arc<InputVar>>>,
    /// The entity's vars, in creation order.
    pub vars: Vec<Arc<EntityVar>>,
}

/// A var to compute, and the stage it is computed in: an aggregate comes one stage after
/// the vars it reads, an expression over vars in the stage of its latest var.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub var: Arc<EntityVar>,
    pub stage: usize,
}

impl EntityModel {
    /// The entity's definitions as they are now.
    pub fn load(catalog: &Catalog, entity: &str) -> Result<Self> {
        let entity = catalog.entity(entity)?;
        let inputs = catalog.inputs_of(&entity.name)?;
        let mut input_vars = BTreeMap::new();
        for input in &inputs {
            input_vars.insert(input.name.clone(), catalog.input_vars(&input.name)?);
        }
        let vars = catalog.entity_vars(&entity.name)?;
        Ok(Self {
            entity,
            inputs,
            input_vars,
            vars,
        })
    }

    /// The model with `var` added, or replacing the var of its name.
    pub fn with_var(mut self, var: Arc<EntityVar>) -> Self {
        match self.vars.iter().position(|v| v.name == var.name) {
            Some(i) => self.vars[i] = var,
            None => self.vars.push(var),
        }
        self
    }

    /// The names of the entity's vars.
    pub fn var_names(&self) -> BTreeSet<String> {
        self.vars.iter().map(|v| v.name.clone()).collect()
    }

    /// The input of that name, which must belong to the entity.
    pub fn input(&self, name: &str) -> Result<&Arc<Input>> {
        self.inputs.iter().find(|i| i.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
            CoreError::invalid(format!(
                "entity '{}' has no input '{name}'{}",
                self.entity.name,
                if known.is_empty() {
                    ": create one with CREATE INPUT ... FOR ...".to_string()
                } else {
                    format!(" (its inputs: {})", known.join(", "))
                }
            ))
        })
    }

    /// The input vars of an input.
    pub fn input_vars_of(&self, input: &str) -> &[Arc<InputVar>] {
        self.input_vars.get(input).map_or(&[], Vec::as_slice)
    }

    /// Whether the rows of `input` have a column of that name, input vars included.
    pub fn input_has_column(&self, input: &Input, name: &str) -> bool {
        input.has_column(name)
            || self
                .input_vars_of(&input.name)
                .iter()
                .any(|v| v.name == name)
    }

    /// Evaluates `f` with the scope in which the expressions of a var read from `from`
    /// are resolved.
    pub fn with_scope<T>(
        &self,
        vars: &BTreeSet<String>,
        from: Option<&Input>,
        f: impl FnOnce(&Scope<'_>) -> T,
    ) -> T {
        match from {
            Some(input) => {
                let has_column = |name: &str| self.input_has_column(input, name);
                f(&Scope {
                    entity: &self.entity.name,
                    vars,
                    input: Some((&input.name, &has_column)),
                })
            }
            None => f(&Scope {
                entity: &self.entity.name,
                vars,
                input: None,
            }),
        }
    }

    /// The vars `wanted` need (themselves included), each after the vars it reads, with
    /// their stages. A cycle is an error that names it.
    pub fn steps<'a>(&self, wanted: impl IntoIterator<Item = &'a str>) -> Result<Vec<Step>> {
        let by_name: HashMap<&str, &Arc<EntityVar>> =
            self.vars.iter().map(|v| (v.name.as_str(), v)).collect();
        let mut stages: HashMap<String, usize> = HashMap::new();
        let mut steps = Vec::new();
        for name in wanted {
            self.visit(name, &by_name, &mut Vec::new(), &mut stages, &mut steps)?;
        }
        Ok(steps)
    }

    fn visit(
        &self,
        name: &str,
        by_name: &HashMap<&str, &Arc<EntityVar>>,
        path: &mut Vec<String>,
        stages: &mut HashMap<String, usize>,
        steps: &mut Vec<Step>,
    ) -> Result<usize> {
        if let Some(stage) = stages.get(name) {
            return Ok(*stage);
        }
        if let Some(start) = path.iter().position(|p| p == name) {
            let mut cycle = path[start..].to_vec();
            cycle.push(name.to_string());
            return Err(CoreError::invalid(format!(
                "the vars of entity '{}' form a cycle: {}; replace one of them so that it no \
                 longer reads the next",
                self.entity.name,
                cycle.join(" -> ")
            )));
        }
        let var = by_name.get(name).copied().ok_or_else(|| {
            CoreError::invalid(format!("entity '{}' has no var '{name}'", self.entity.name))
        })?;
        path.push(name.to_string());
        let mut latest: Option<usize> = None;
        for reference in &var.references {
            let stage = self.visit(reference, by_name, path, stages, steps)?;
            latest = Some(latest.map_or(stage, |l| l.max(stage)));
        }
        path.pop();
        let stage = match (&var.from, latest) {
            (_, None) => 0,
            (Some(_), Some(latest)) => latest + 1,
            (None, Some(latest)) => latest,
        };
        stages.insert(name.to_string(), stage);
        steps.push(Step {
            var: Arc::clone(var),
            stage,
        });
        Ok(stage)
    }

    /// The input vars of `input` in an order where each comes after those it reads.
    pub fn input_var_order(&self, input: &str) -> Result<Vec<Arc<InputVar>>> {
        let vars = self.input_vars_of(input);
        let mut done: Vec<Arc<InputVar>> = Vec::with_capacity(vars.len());
        let mut remaining: Vec<&Arc<InputVar>> = vars.iter().collect();
        while !remaining.is_empty() {
            let before = remaining.len();
            remaining.retain(|var| {
                let ready = var
                    .references
                    .iter()
                    .all(|r| done.iter().any(|d| &d.name == r));
                if ready {
                    done.push(Arc::clone(var));
                }
                !ready
            });
            if remaining.len() == before {
                let names: Vec<&str> = remaining.iter().map(|v| v.name.as_str()).collect();
                return Err(CoreError::invalid(format!(
                    "the input vars of '{input}' form a cycle among {}",
                    names.join(", ")
                )));
            }
        }
        Ok(done)
    }
}

/// The condition of a cohort and of every cohort it extends, outermost first.
pub(crate) fn cohort_conditions(catalog: &Catalog, cohort: &str) -> Result<(String, Vec<Expr>)> {
    let mut conditions = Vec::new();
    let mut entity = None;
    let mut next = Some(cohort.to_string());
    while let Some(name) = next {
        let cohort = catalog.cohort(&name)?;
        entity.get_or_insert_with(|| cohort.entity.clone());
        conditions.push(cohort.definition.condition.clone());
        next = cohort.extends.clone();
    }
    conditions.reverse();
    Ok((entity.unwrap_or_default(), conditions))
}
