// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The profile catalog: the entities, inputs, vars and cohorts defined in a session.
//!
//! Definitions are checked when they are created: an input names an entity that exists
//! and id types it declares, and its expressions are planned against its source, so a
//! wrong column fails at `CREATE INPUT`, not at the first query. Like a view, an input
//! keeps the plan of its source as it was then. Vars and cohorts are planned when they
//! are created too (see the `features` module); the catalog keeps what they reference, so
//! that nothing another definition uses can be dropped and no cycle can be made.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::LogicalPlan;
use knit_sql::{
    CreateCohortStatement, CreateEntityStatement, CreateEntityVarStatement, CreateInputStatement,
    CreateInputVarStatement, IdMatcher,
};
use regex::Regex;

use crate::entity_scope::EntityScopes;
use crate::error::{CoreError, Result};

/// An entity: a kind of thing with ids (a user, an account).
#[derive(Debug)]
pub struct Entity {
    /// Its name.
    pub name: String,
    /// Its id types, in declaration order.
    pub id_types: Vec<IdType>,
    /// The name of the main id column of its id graph.
    pub main_id_column: String,
    /// The statement that made it.
    pub definition: CreateEntityStatement,
    /// The plan of its stitch rules (`RULES FROM`): `id1, id1_type, action, id2, id2_type`.
    pub rules: Option<LogicalPlan>,
}

impl Entity {
    /// Compiles a `CREATE ENTITY` statement.
    pub fn try_new(definition: CreateEntityStatement) -> Result<Self> {
        let name = definition.name.value.clone();
        let mut seen = HashSet::new();
        let mut id_types = Vec::with_capacity(definition.id_types.len());
        for def in &definition.id_types {
            let type_name = def.name.value.clone();
            if !seen.insert(type_name.clone()) {
                return Err(CoreError::invalid(format!(
                    "entity '{name}' declares id type '{type_name}' twice: declare it once, \
                     with all its filters"
                )));
            }
            let filters = def
                .filters
                .iter()
                .map(|filter| {
                    let matcher = match &filter.matcher {
                        IdMatcher::Values(values) => {
                            Matcher::Values(values.iter().cloned().collect())
                        }
                        IdMatcher::Regex(pattern) => {
                            Matcher::Regex(Regex::new(&anchored_regex(pattern)).map_err(|e| {
                                CoreError::invalid(format!(
                                    "invalid regex '{pattern}' for id type '{type_name}' of entity \
                                     '{name}': {}",
                                    regex_error_line(&e)
                                ))
                            })?)
                        }
                    };
                    Ok(IdTypeFilter {
                        include: filter.include,
                        matcher,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let limit = match def.limit {
                None => None,
                Some(limit @ 1..=MAX_LIMIT) => Some(limit as u32),
                Some(limit) => {
                    return Err(CoreError::invalid(format!(
                        "id type '{type_name}' of entity '{name}' has LIMIT {limit}; a limit is \
                         the most ids of the type one cluster may hold, from 1 to {MAX_LIMIT}"
                    )));
                }
            };
            id_types.push(IdType {
                name: type_name,
                filters,
                limit,
            });
        }
        if id_types.is_empty() {
            return Err(CoreError::invalid(format!(
                "entity '{name}' has no id types: list them, as in ID TYPES (user_id, email)"
            )));
        }
        if id_types.len() > MAX_ID_TYPES {
            return Err(CoreError::invalid(format!(
                "entity '{name}' declares {} id types; an entity has at most {MAX_ID_TYPES}",
                id_types.len()
            )));
        }
        let main_id_column = definition
            .main_id
            .as_ref()
            .map_or_else(|| format!("{name}_main_id"), |m| m.value.clone());
        Ok(Self {
            name,
            id_types,
            main_id_column,
            definition,
            rules: None,
        })
    }

    /// The position of an id type, if the entity declares it.
    pub fn id_type_index(&self, name: &str) -> Option<u16> {
        // `try_new` keeps the count within `u16`.
        let index = self.id_types.iter().position(|t| t.name == name)?;
        u16::try_from(index).ok()
    }

    pub(crate) fn id_type_names(&self) -> String {
        self.id_types
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The most id types an entity may declare: the stitch numbers them in 16 bits.
pub const MAX_ID_TYPES: usize = u16::MAX as usize + 1;

/// The largest `LIMIT` of an id type: a cluster counts its ids in `u32`.
pub const MAX_LIMIT: u64 = u32::MAX as u64;

/// An id filter's regex as it is matched: the whole pattern is anchored, alternatives
/// included, so that it must match the whole value.
pub fn anchored_regex(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// The regex crate's message is several lines, with a caret under the problem; the
/// last line says what is wrong, and the caret line where.
fn regex_error_line(error: &regex::Error) -> String {
    let text = error.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let what = lines.last().copied().unwrap_or("invalid");
    match lines.iter().find(|l| l.trim_start().starts_with('^')) {
        Some(caret) => {
            // The caret line is indented by the pattern's position plus the anchors' width.
            let column = caret.len() - caret.trim_start().len();
            let position = column.saturating_sub("    ^(?:".len() - 1);
            format!(
                "{} at position {position}",
                what.trim_start_matches("error: ")
            )
        }
        None => what.trim_start_matches("error: ").to_string(),
    }
}

/// One id type of an entity.
#[derive(Debug)]
pub struct IdType {
    /// Its name.
    pub name: String,
    /// Its filters, in the order written.
    pub filters: Vec<IdTypeFilter>,
    /// The most ids of this type one cluster may hold (`LIMIT n`), if limited.
    pub limit: Option<u32>,
}

impl IdType {
    /// True when `value` is an id of this type: not empty, and kept by every filter.
    /// (Filters each remove values, so applying them in order keeps exactly the values
    /// that every one of them keeps.)
    pub fn accepts(&self, value: &str) -> bool {
        !value.is_empty() && self.filters.iter().all(|f| f.keeps(value))
    }
}

/// `INCLUDE` or `EXCLUDE` values or a regex.
#[derive(Debug)]
pub struct IdTypeFilter {
    include: bool,
    matcher: Matcher,
}

#[derive(Debug)]
enum Matcher {
    Values(HashSet<String>),
    Regex(Regex),
}

impl IdTypeFilter {
    fn keeps(&self, value: &str) -> bool {
        let matches = match &self.matcher {
            Matcher::Values(values) => values.contains(value),
            Matcher::Regex(regex) => regex.is_match(value),
        };
        matches == self.include
    }
}

/// An input: where an entity's ids come from.
#[derive(Debug)]
pub struct Input {
    /// Its name.
    pub name: String,
    /// The entity its ids belong to.
    pub entity: String,
    /// The id type of each id column, in the order written.
    pub id_types: Vec<String>,
    /// The rows: one Utf8 column per id (`id_0`, ...), then `occurred_at`.
    pub plan: LogicalPlan,
    /// Every column of the source's rows that pass the input's `WHERE`.
    pub rows: LogicalPlan,
    /// The statement that made it.
    pub definition: CreateInputStatement,
}

/// The name of the time column of an input plan.
pub const OCCURRED_AT: &str = "occurred_at";

/// The name of the column holding a row's `i`-th id, in an input's plan and in the
/// rows a lookup maps to entities.
pub(crate) fn id_column(i: usize) -> String {
    format!("__knit_id_{i}")
}

impl Input {
    /// Whether the input's rows have this column.
    pub fn has_column(&self, name: &str) -> bool {
        self.rows.schema().fields().iter().any(|f| f.name() == name)
    }
}

/// An entity var: one value per entity.
#[derive(Debug, Clone)]
pub struct EntityVar {
    /// The entity.
    pub entity: String,
    /// The var's name, which is its column name.
    pub name: String,
    /// The input it aggregates, if any.
    pub from: Option<String>,
    /// The entity vars its expression, filter and default use.
    pub references: Vec<String>,
    /// The type of its values, as its check planned it.
    pub data_type: DataType,
    /// The statement that made it.
    pub definition: CreateEntityVarStatement,
}

/// An input var: one value per row of an input.
#[derive(Debug, Clone)]
pub struct InputVar {
    /// The input.
    pub input: String,
    /// The var's name, which is its column name.
    pub name: String,
    /// The input vars its expression, filter and default use.
    pub references: Vec<String>,
    /// The type of its values, as its check planned it.
    pub data_type: DataType,
    /// The statement that made it.
    pub definition: CreateInputVarStatement,
}

/// A cohort: the entities for which a condition over vars is true.
#[derive(Debug)]
pub struct Cohort {
    /// Its name.
    pub name: String,
    /// The entity.
    pub entity: String,
    /// The cohort it narrows.
    pub extends: Option<String>,
    /// The entity vars its condition uses.
    pub references: Vec<String>,
    /// The statement that made it.
    pub definition: CreateCohortStatement,
}

#[derive(Debug, Default)]
struct CatalogState {
    entities: BTreeMap<String, Arc<Entity>>,
    inputs: BTreeMap<String, Arc<Input>>,
    /// In the order they were created; a replaced var keeps its place.
    entity_vars: Vec<Arc<EntityVar>>,
    input_vars: Vec<Arc<InputVar>>,
    cohorts: BTreeMap<String, Arc<Cohort>>,
}

/// The entities and inputs of a session, shared by its statements and table functions.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    state: Arc<RwLock<CatalogState>>,
    /// The entities scoped to some of their clusters (by an incremental refresh).
    pub scopes: EntityScopes,
}

impl Catalog {
    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, CatalogState>> {
        self.state
            .read()
            .map_err(|_| CoreError::internal("the catalog lock is poisoned"))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, CatalogState>> {
        self.state
            .write()
            .map_err(|_| CoreError::internal("the catalog lock is poisoned"))
    }

    /// The entity of that name.
    pub fn entity(&self, name: &str) -> Result<Arc<Entity>> {
        let state = self.read()?;
        state.entities.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = state.entities.keys().map(String::as_str).collect();
            CoreError::invalid(format!(
                "unknown entity '{name}': create it with CREATE ENTITY {name} ID TYPES (...){}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" (entities: {})", known.join(", "))
                }
            ))
        })
    }

    /// Every entity, by name.
    pub fn entities(&self) -> Result<Vec<Arc<Entity>>> {
        Ok(self.read()?.entities.values().cloned().collect())
    }

    /// Every input, by name.
    pub fn inputs(&self) -> Result<Vec<Arc<Input>>> {
        Ok(self.read()?.inputs.values().cloned().collect())
    }

    /// The inputs of an entity, by name.
    pub fn inputs_of(&self, entity: &str) -> Result<Vec<Arc<Input>>> {
        Ok(self
            .read()?
            .inputs
            .values()
            .filter(|i| i.entity == entity)
            .cloned()
            .collect())
    }

    /// Adds or replaces an entity. A replacement must still declare every id type its
    /// inputs use.
    pub fn put_entity(&self, entity: Entity, or_replace: bool) -> Result<()> {
        let mut state = self.write()?;
        if state.entities.contains_key(&entity.name) {
            if !or_replace {
                return Err(CoreError::invalid(format!(
                    "entity '{}' already exists: use CREATE OR REPLACE ENTITY, or DROP ENTITY {} first",
                    entity.name, entity.name
                )));
            }
            for input in state.inputs.values().filter(|i| i.entity == entity.name) {
                if let Some(missing) = input
                    .id_types
                    .iter()
                    .find(|t| entity.id_type_index(t).is_none())
                {
                    return Err(CoreError::invalid(format!(
                        "entity '{}' would no longer declare id type '{missing}', which input '{}' \
                         uses: keep the id type, or drop the input first",
                        entity.name, input.name
                    )));
                }
            }
        }
        state.entities.insert(entity.name.clone(), Arc::new(entity));
        Ok(())
    }

    /// Checks that an input may be created: its entity exists and declares its id types.
    pub fn check_input(&self, definition: &CreateInputStatement) -> Result<Arc<Entity>> {
        let name = &definition.name.value;
        let entity = self.entity(&definition.entity.value)?;
        if definition.ids.is_empty() {
            return Err(CoreError::invalid(format!(
                "input '{name}' has no ids: list them in IDS (...)"
            )));
        }
        for id in &definition.ids {
            if entity.id_type_index(&id.id_type.value).is_none() {
                return Err(CoreError::invalid(format!(
                    "input '{name}': entity '{}' has no id type '{}' (its id types: {}): add it to \
                     the entity, or use one of those",
                    entity.name,
                    id.id_type.value,
                    entity.id_type_names()
                )));
            }
        }
        if !definition.or_replace && self.read()?.inputs.contains_key(name) {
            return Err(CoreError::invalid(format!(
                "input '{name}' already exists: use CREATE OR REPLACE INPUT, or DROP INPUT {name} first"
            )));
        }
        Ok(entity)
    }

    /// Adds or replaces an input checked by [`Catalog::check_input`].
    pub fn put_input(&self, input: Input) -> Result<()> {
        self.write()?
            .inputs
            .insert(input.name.clone(), Arc::new(input));
        Ok(())
    }

    /// Drops an entity, which must have no inputs left.
    pub fn drop_entity(&self, name: &str, if_exists: bool) -> Result<()> {
        let mut state = self.write()?;
        if !state.entities.contains_key(name) {
            return nothing_to_drop(format!("unknown entity '{name}'"), if_exists);
        }
        let inputs: Vec<&str> = state
            .inputs
            .values()
            .filter(|i| i.entity == name)
            .map(|i| i.name.as_str())
            .collect();
        if !inputs.is_empty() {
            return Err(CoreError::invalid(format!(
                "entity '{name}' still has inputs ({}): drop them first",
                inputs.join(", ")
            )));
        }
        let vars: Vec<String> = state
            .entity_vars
            .iter()
            .filter(|v| v.entity == name)
            .map(|v| format!("{name}.{}", v.name))
            .chain(
                state
                    .cohorts
                    .values()
                    .filter(|c| c.entity == name)
                    .map(|c| format!("cohort {}", c.name)),
            )
            .collect();
        if !vars.is_empty() {
            return Err(CoreError::invalid(format!(
                "entity '{name}' still has vars or cohorts ({}): drop them first",
                vars.join(", ")
            )));
        }
        state.entities.remove(name);
        Ok(())
    }

    /// Drops an input, which no var may use.
    pub fn drop_input(&self, name: &str, if_exists: bool) -> Result<()> {
        let mut state = self.write()?;
        if !state.inputs.contains_key(name) {
            return nothing_to_drop(format!("unknown input '{name}'"), if_exists);
        }
        let users: Vec<String> = state
            .entity_vars
            .iter()
            .filter(|v| v.from.as_deref() == Some(name))
            .map(|v| format!("{}.{}", v.entity, v.name))
            .chain(
                state
                    .input_vars
                    .iter()
                    .filter(|v| v.input == name)
                    .map(|v| format!("{}.{}", v.input, v.name)),
            )
            .collect();
        if !users.is_empty() {
            return Err(CoreError::invalid(format!(
                "input '{name}' is used by vars ({}): drop them first",
                users.join(", ")
            )));
        }
        state.inputs.remove(name);
        Ok(())
    }

    /// The entity vars of an entity, in the order they were created.
    pub fn entity_vars(&self, entity: &str) -> Result<Vec<Arc<EntityVar>>> {
        Ok(self
            .read()?
            .entity_vars
            .iter()
            .filter(|v| v.entity == entity)
            .cloned()
            .collect())
    }

    /// Every entity var, in the order they were created.
    pub fn all_entity_vars(&self) -> Result<Vec<Arc<EntityVar>>> {
        Ok(self.read()?.entity_vars.clone())
    }

    /// The input vars of an input, in the order they were created.
    pub fn input_vars(&self, input: &str) -> Result<Vec<Arc<InputVar>>> {
        Ok(self
            .read()?
            .input_vars
            .iter()
            .filter(|v| v.input == input)
            .cloned()
            .collect())
    }

    /// Every input var, in the order they were created.
    pub fn all_input_vars(&self) -> Result<Vec<Arc<InputVar>>> {
        Ok(self.read()?.input_vars.clone())
    }

    /// The input of that name.
    pub fn input(&self, name: &str) -> Result<Arc<Input>> {
        let state = self.read()?;
        state.inputs.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = state.inputs.keys().map(String::as_str).collect();
            CoreError::invalid(format!(
                "unknown input '{name}': create it with CREATE INPUT {name} FOR <entity> ...{}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" (inputs: {})", known.join(", "))
                }
            ))
        })
    }

    /// The cohort of that name.
    pub fn cohort(&self, name: &str) -> Result<Arc<Cohort>> {
        let state = self.read()?;
        state.cohorts.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = state.cohorts.keys().map(String::as_str).collect();
            CoreError::invalid(format!(
                "unknown cohort '{name}': create it with CREATE COHORT {name} FOR <entity> WHERE ...{}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" (cohorts: {})", known.join(", "))
                }
            ))
        })
    }

    /// Every cohort, by name.
    pub fn cohorts(&self) -> Result<Vec<Arc<Cohort>>> {
        Ok(self.read()?.cohorts.values().cloned().collect())
    }

    /// Adds or replaces an entity var whose expression was checked (planning it in its
    /// feature query also ordered its references, so a cycle never gets here).
    pub fn put_entity_var(&self, var: Arc<EntityVar>, or_replace: bool) -> Result<()> {
        let mut state = self.write()?;
        let position = state
            .entity_vars
            .iter()
            .position(|v| v.entity == var.entity && v.name == var.name);
        if position.is_some() && !or_replace {
            return Err(CoreError::invalid(format!(
                "entity var {0}.{1} already exists: use CREATE OR REPLACE ENTITY VAR, or DROP \
                 ENTITY VAR {0}.{1} first",
                var.entity, var.name
            )));
        }
        match position {
            Some(i) => state.entity_vars[i] = var,
            None => state.entity_vars.push(var),
        }
        Ok(())
    }

    /// Adds or replaces an input var whose expression was checked.
    pub fn put_input_var(&self, var: Arc<InputVar>, or_replace: bool) -> Result<()> {
        let mut state = self.write()?;
        let position = state
            .input_vars
            .iter()
            .position(|v| v.input == var.input && v.name == var.name);
        if position.is_some() && !or_replace {
            return Err(CoreError::invalid(format!(
                "input var {0}.{1} already exists: use CREATE OR REPLACE INPUT VAR, or DROP \
                 INPUT VAR {0}.{1} first",
                var.input, var.name
            )));
        }
        match position {
            Some(i) => state.input_vars[i] = var,
            None => state.input_vars.push(var),
        }
        Ok(())
    }

    /// Adds or replaces a cohort whose condition was checked.
    pub fn put_cohort(&self, cohort: Cohort, or_replace: bool) -> Result<()> {
        let mut state = self.write()?;
        if state.cohorts.contains_key(&cohort.name) && !or_replace {
            return Err(CoreError::invalid(format!(
                "cohort '{0}' already exists: use CREATE OR REPLACE COHORT, or DROP COHORT {0} first",
                cohort.name
            )));
        }
        let mut parent = cohort.extends.clone();
        while let Some(name) = parent {
            if name == cohort.name {
                return Err(CoreError::invalid(format!(
                    "cohort '{}' would extend itself",
                    cohort.name
                )));
            }
            parent = state.cohorts.get(&name).and_then(|c| c.extends.clone());
        }
        state.cohorts.insert(cohort.name.clone(), Arc::new(cohort));
        Ok(())
    }

    /// Drops an entity var that no other var or cohort uses.
    pub fn drop_entity_var(&self, entity: &str, name: &str, if_exists: bool) -> Result<()> {
        let mut state = self.write()?;
        let Some(position) = state
            .entity_vars
            .iter()
            .position(|v| v.entity == entity && v.name == name)
        else {
            return nothing_to_drop(format!("unknown entity var {entity}.{name}"), if_exists);
        };
        let users: Vec<String> = state
            .entity_vars
            .iter()
            .filter(|v| v.entity == entity && v.references.iter().any(|r| r == name))
            .map(|v| format!("{entity}.{}", v.name))
            .chain(
                state
                    .cohorts
                    .values()
                    .filter(|c| c.entity == entity && c.references.iter().any(|r| r == name))
                    .map(|c| format!("cohort {}", c.name)),
            )
            .collect();
        if !users.is_empty() {
            return Err(CoreError::invalid(format!(
                "entity var {entity}.{name} is used by {}: drop or replace them first",
                users.join(", ")
            )));
        }
        state.entity_vars.remove(position);
        Ok(())
    }

    /// Drops an input var that no other var uses.
    pub fn drop_input_var(&self, input: &str, name: &str, if_exists: bool) -> Result<()> {
        let mut state = self.write()?;
        let Some(position) = state
            .input_vars
            .iter()
            .position(|v| v.input == input && v.name == name)
        else {
            return nothing_to_drop(format!("unknown input var {input}.{name}"), if_exists);
        };
        let users: Vec<String> = state
            .input_vars
            .iter()
            .filter(|v| v.input == input && v.references.iter().any(|r| r == name))
            .map(|v| format!("{input}.{}", v.name))
            .collect();
        if !users.is_empty() {
            return Err(CoreError::invalid(format!(
                "input var {input}.{name} is used by {}: drop or replace them first",
                users.join(", ")
            )));
        }
        state.input_vars.remove(position);
        Ok(())
    }

    /// Drops a cohort that no other cohort extends.
    pub fn drop_cohort(&self, name: &str, if_exists: bool) -> Result<()> {
        let mut state = self.write()?;
        if !state.cohorts.contains_key(name) {
            return nothing_to_drop(format!("unknown cohort '{name}'"), if_exists);
        }
        let children: Vec<&str> = state
            .cohorts
            .values()
            .filter(|c| c.extends.as_deref() == Some(name))
            .map(|c| c.name.as_str())
            .collect();
        if !children.is_empty() {
            return Err(CoreError::invalid(format!(
                "cohort '{name}' is extended by {}: drop them first",
                children.join(", ")
            )));
        }
        state.cohorts.remove(name);
        Ok(())
    }
}

/// `DROP` of something that does not exist: fine with `IF EXISTS`, an error without.
fn nothing_to_drop(what: String, if_exists: bool) -> Result<()> {
    if if_exists {
        Ok(())
    } else {
        Err(CoreError::invalid(format!("{what}: nothing to drop")))
    }
}

#[cfg(test)]
mod tests {
    use knit_sql::{Statement, parse_statement};

    use super::*;

    fn entity(sql: &str) -> Result<Entity> {
        match parse_statement(sql).unwrap() {
            Statement::CreateEntity(create) => Entity::try_new(*create),
            other => panic!("not an entity: {other}"),
        }
    }

    #[test]
    fn filters_keep_what_every_filter_keeps() {
        let user = entity(
            "CREATE ENTITY user ID TYPES (email INCLUDE REGEX '.+@.+' EXCLUDE ('test@company.com'), \
             anonymous_id EXCLUDE ('unknown') EXCLUDE REGEX 'AC0+|AC9+')",
        )
        .unwrap();
        let email = &user.id_types[0];
        assert!(email.accepts("a@b.com"));
        assert!(!email.accepts("test@company.com"));
        assert!(!email.accepts("not-an-email"));
        assert!(!email.accepts(""));
        let anonymous = &user.id_types[1];
        assert!(anonymous.accepts(" "));
        assert!(!anonymous.accepts("unknown"));
        // The whole pattern is anchored, alternatives included.
        assert!(!anonymous.accepts("AC000") && !anonymous.accepts("AC99"));
        assert!(anonymous.accepts("AC0123") && anonymous.accepts("XAC999"));
        assert_eq!(user.main_id_column, "user_main_id");
    }

    #[test]
    fn bad_definitions_name_the_problem() {
        let err = entity("CREATE ENTITY user ID TYPES (email INCLUDE REGEX '(.+@')").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("invalid regex '(.+@' for id type 'email' of entity 'user': "),
            "{text}"
        );
        assert!(text.contains("position"), "{text}");
        let err = entity("CREATE ENTITY user ID TYPES (email, email)").unwrap_err();
        assert!(err.to_string().contains("declares id type 'email' twice"));
    }

    /// The stitch numbers id types in 16 bits: one more than fits is refused, rather
    /// than wrapping around to another type.
    #[test]
    fn id_types_are_capped_at_what_the_stitch_numbers() {
        let types = |n: usize| {
            (0..n)
                .map(|i| format!("t{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let most = entity(&format!(
            "CREATE ENTITY user ID TYPES ({})",
            types(MAX_ID_TYPES)
        ))
        .unwrap();
        assert_eq!(most.id_type_index("t65535"), Some(u16::MAX));
        let err = entity(&format!(
            "CREATE ENTITY user ID TYPES ({})",
            types(MAX_ID_TYPES + 1)
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "entity 'user' declares 65537 id types; an entity has at most 65536"
        );
    }
}
