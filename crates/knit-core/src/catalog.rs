// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The profile catalog: the entities and inputs defined in a session.
//!
//! Definitions are checked when they are created: an input names an entity that exists
//! and id types it declares, and its expressions are planned against its source, so a
//! wrong column fails at `CREATE INPUT`, not at the first query. Like a view, an input
//! keeps the plan of its source as it was then.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};

use datafusion::logical_expr::LogicalPlan;
use knit_sql::{CreateEntityStatement, CreateInputStatement, IdMatcher};
use regex::Regex;

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
                            // Knit anchors the whole pattern, alternatives included.
                            let anchored = format!("^(?:{pattern})$");
                            Matcher::Regex(Regex::new(&anchored).map_err(|e| {
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
            id_types.push(IdType {
                name: type_name,
                filters,
            });
        }
        if id_types.is_empty() {
            return Err(CoreError::invalid(format!(
                "entity '{name}' has no id types: list them, as in ID TYPES (user_id, email)"
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
        })
    }

    /// The position of an id type, if the entity declares it.
    pub fn id_type_index(&self, name: &str) -> Option<usize> {
        self.id_types.iter().position(|t| t.name == name)
    }

    fn id_type_names(&self) -> String {
        self.id_types
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
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
    /// The statement that made it.
    pub definition: CreateInputStatement,
}

/// The name of the time column of an input plan.
pub const OCCURRED_AT: &str = "occurred_at";

/// The name of the `i`-th id column of an input plan.
pub fn id_column(i: usize) -> String {
    format!("id_{i}")
}

#[derive(Debug, Default)]
struct CatalogState {
    entities: BTreeMap<String, Arc<Entity>>,
    inputs: BTreeMap<String, Arc<Input>>,
}

/// The entities and inputs of a session, shared by its statements and table functions.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    state: Arc<RwLock<CatalogState>>,
}

impl Catalog {
    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, CatalogState>> {
        self.state
            .read()
            .map_err(|_| CoreError::invalid("the catalog lock is poisoned; this is a bug"))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, CatalogState>> {
        self.state
            .write()
            .map_err(|_| CoreError::invalid("the catalog lock is poisoned; this is a bug"))
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
            return if if_exists {
                Ok(())
            } else {
                Err(CoreError::invalid(format!(
                    "unknown entity '{name}': nothing to drop"
                )))
            };
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
        state.entities.remove(name);
        Ok(())
    }

    /// Drops an input.
    pub fn drop_input(&self, name: &str, if_exists: bool) -> Result<()> {
        let removed = self.write()?.inputs.remove(name);
        if removed.is_none() && !if_exists {
            return Err(CoreError::invalid(format!(
                "unknown input '{name}': nothing to drop"
            )));
        }
        Ok(())
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
}
