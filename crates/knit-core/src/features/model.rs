// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! One entity's definitions as a query sees them, and the order its vars are computed in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::sql::sqlparser::ast::{Expr, Value};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

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

/// A var to compute, and where: the stage it is computed in (an aggregate comes one
/// stage after the vars it reads, an expression over vars in the stage of its latest
/// var), and within the stage its level (0 for aggregates; an expression comes one level
/// after the vars of its stage it reads, so that each level is one projection).
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub var: Arc<EntityVar>,
    pub stage: usize,
    pub level: usize,
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
        let mut placed: HashMap<String, (usize, usize)> = HashMap::new();
        let mut steps = Vec::new();
        for name in wanted {
            self.place(name, &by_name, &mut placed, &mut steps)?;
        }
        Ok(steps)
    }

    /// Places `name` and every var it reads (depth first, with an explicit stack, so that
    /// a chain of thousands of vars needs no deep recursion): each var's stage and level.
    fn place(
        &self,
        name: &str,
        by_name: &HashMap<&str, &Arc<EntityVar>>,
        placed: &mut HashMap<String, (usize, usize)>,
        steps: &mut Vec<Step>,
    ) -> Result<()> {
        if placed.contains_key(name) {
            return Ok(());
        }
        let lookup = |name: &str| {
            by_name.get(name).copied().ok_or_else(|| {
                CoreError::invalid(format!("entity '{}' has no var '{name}'", self.entity.name))
            })
        };
        // The vars being placed, each with how many of its references are done.
        let mut path: Vec<(&Arc<EntityVar>, usize)> = vec![(lookup(name)?, 0)];
        while let Some((var, next)) = path.last_mut() {
            let var = *var;
            if let Some(reference) = var.references.get(*next) {
                *next += 1;
                if placed.contains_key(reference) {
                    continue;
                }
                if let Some(start) = path.iter().position(|(v, _)| &v.name == reference) {
                    let mut cycle: Vec<&str> =
                        path[start..].iter().map(|(v, _)| v.name.as_str()).collect();
                    cycle.push(reference);
                    return Err(CoreError::invalid(format!(
                        "the vars of entity '{}' form a cycle: {}; replace one of them so that \
                         it no longer reads the next",
                        self.entity.name,
                        cycle.join(" -> ")
                    )));
                }
                path.push((lookup(reference)?, 0));
                continue;
            }
            path.pop();
            let read = var.references.iter().map(|r| placed[r.as_str()]);
            let latest = read.clone().map(|(stage, _)| stage).max();
            let (stage, level) = match (&var.from, latest) {
                (Some(_), None) => (0, 0),
                (Some(_), Some(latest)) => (latest + 1, 0),
                (None, latest) => {
                    let stage = latest.unwrap_or(0);
                    let below = read
                        .filter(|&(s, _)| s == stage)
                        .map(|(_, level)| level)
                        .max()
                        .unwrap_or(0);
                    (stage, below + 1)
                }
            };
            placed.insert(var.name.clone(), (stage, level));
            steps.push(Step {
                var: Arc::clone(var),
                stage,
                level,
            });
        }
        Ok(())
    }

    /// The input vars of `input` by level: each var comes one level after the input vars
    /// it reads, so that each level is one projection over the rows.
    pub fn input_var_levels(&self, input: &str) -> Result<Vec<Vec<Arc<InputVar>>>> {
        let vars = self.input_vars_of(input);
        let mut level_of: HashMap<&str, usize> = HashMap::new();
        let mut levels: Vec<Vec<Arc<InputVar>>> = Vec::new();
        let mut remaining: Vec<&Arc<InputVar>> = vars.iter().collect();
        while !remaining.is_empty() {
            let before = remaining.len();
            remaining.retain(|var| {
                let read: Option<Vec<usize>> = var
                    .references
                    .iter()
                    .map(|r| level_of.get(r.as_str()).copied())
                    .collect();
                let Some(read) = read else {
                    return true;
                };
                let level = read.into_iter().max().map_or(0, |l| l + 1);
                level_of.insert(var.name.as_str(), level);
                if levels.len() <= level {
                    levels.resize_with(level + 1, Vec::new);
                }
                levels[level].push(Arc::clone(var));
                false
            });
            if remaining.len() == before {
                let names: Vec<&str> = remaining.iter().map(|v| v.name.as_str()).collect();
                return Err(CoreError::invalid(format!(
                    "the input vars of '{input}' form a cycle among {}",
                    names.join(", ")
                )));
            }
        }
        Ok(levels)
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

/// An expression of `data_type` that is always NULL: what a var is replaced by when
/// another definition is checked, so that the check plans only that definition.
pub(crate) fn typed_null(data_type: &DataType) -> Expr {
    let sql = format!("arrow_cast(NULL, '{data_type}')");
    Parser::new(&GenericDialect {})
        .try_with_sql(&sql)
        .and_then(|mut parser| parser.parse_expr())
        .unwrap_or(Expr::Value(Value::Null.into()))
}

impl EntityModel {
    /// The model a definition is checked in: the input `from` alone, its input vars and
    /// the entity vars in `reads` as typed NULLs, and `var` (if any). Planned, it has the
    /// shape of the full query for that definition, but its size does not grow with the
    /// number of other definitions.
    pub fn for_check(
        &self,
        from: Option<&str>,
        reads: &[String],
        var: Option<Arc<EntityVar>>,
    ) -> Result<Self> {
        let by_name: HashMap<&str, &Arc<EntityVar>> =
            self.vars.iter().map(|v| (v.name.as_str(), v)).collect();
        let mut vars = Vec::with_capacity(reads.len() + 1);
        for name in reads {
            let read = by_name.get(name.as_str()).ok_or_else(|| {
                CoreError::invalid(format!("entity '{}' has no var '{name}'", self.entity.name))
            })?;
            vars.push(Arc::new(read.placeholder()));
        }
        vars.extend(var);
        let inputs: Vec<Arc<Input>> = match from {
            Some(from) => vec![Arc::clone(self.input(from)?)],
            None => Vec::new(),
        };
        let input_vars = inputs
            .iter()
            .map(|input| {
                let placeholders = self
                    .input_vars_of(&input.name)
                    .iter()
                    .map(|v| Arc::new(v.placeholder()))
                    .collect();
                (input.name.clone(), placeholders)
            })
            .collect();
        Ok(Self {
            entity: Arc::clone(&self.entity),
            inputs,
            input_vars,
            vars,
        })
    }
}

impl EntityVar {
    /// This var as a typed NULL of the same name (see [`typed_null`]).
    fn placeholder(&self) -> EntityVar {
        let mut definition = self.definition.clone();
        definition.expr = typed_null(&self.data_type);
        definition.from = None;
        definition.filter = None;
        definition.default = None;
        EntityVar {
            entity: self.entity.clone(),
            name: self.name.clone(),
            from: None,
            references: Vec::new(),
            data_type: self.data_type.clone(),
            definition,
        }
    }
}

impl InputVar {
    /// This var as a typed NULL of the same name (see [`typed_null`]).
    pub(crate) fn placeholder(&self) -> InputVar {
        let mut definition = self.definition.clone();
        definition.expr = typed_null(&self.data_type);
        definition.filter = None;
        definition.default = None;
        InputVar {
            input: self.input.clone(),
            name: self.name.clone(),
            references: Vec::new(),
            data_type: self.data_type.clone(),
            definition,
        }
    }
}
