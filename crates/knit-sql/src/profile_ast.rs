// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The AST of Knit's profile statements: entities and their inputs, and the `DROP`
//! and `SHOW` of every profile object.

use std::fmt;

use datafusion_sql::sqlparser::ast::{Expr, Ident, ObjectName, Query, Value};

/// `CREATE [OR REPLACE] ENTITY name ID TYPES (...) [MAIN ID column]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateEntityStatement {
    /// Replace an entity of the same name.
    pub or_replace: bool,
    /// The entity's name.
    pub name: Ident,
    /// Its id types, in the order written.
    pub id_types: Vec<IdTypeDef>,
    /// The name of the main id column; `<entity>_main_id` when absent.
    pub main_id: Option<Ident>,
    /// `RULES FROM source`: the table of the stitch's include and exclude rules.
    pub rules: Option<InputSource>,
}

/// One id type of an entity, with its filters in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTypeDef {
    /// The id type's name (`email`).
    pub name: Ident,
    /// Filters, applied in order.
    pub filters: Vec<IdFilter>,
    /// `LIMIT n`: the most ids of this type one cluster may hold.
    pub limit: Option<u64>,
}

/// `INCLUDE|EXCLUDE (values)` or `INCLUDE|EXCLUDE REGEX 'pattern'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdFilter {
    /// Keep only matching values (`INCLUDE`) or drop matching values (`EXCLUDE`).
    pub include: bool,
    /// What a value is matched against.
    pub matcher: IdMatcher,
}

/// What an id filter matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdMatcher {
    /// Exact values.
    Values(Vec<String>),
    /// A regular expression that must match the whole value.
    Regex(String),
}

/// `CREATE [OR REPLACE] INPUT name FOR entity [FROM table | FROM (query)]
/// [LOOKUP] IDS (expr AS id_type, ...) [OCCURRED AT expr] [WHERE cond]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateInputStatement {
    /// Replace an input of the same name.
    pub or_replace: bool,
    /// The input's name.
    pub name: Ident,
    /// The entity the input's ids belong to.
    pub entity: Ident,
    /// Where the rows come from; the table named like the input when absent.
    pub source: Option<InputSource>,
    /// The id expressions and their id types, in the order written.
    pub ids: Vec<InputId>,
    /// `LOOKUP IDS`: the ids only find each row's entity in the id graph; they make no
    /// edges (pb's inputs that are not among the id stitcher's `edge_sources`).
    pub lookup_only: bool,
    /// When each row happened.
    pub occurred_at: Option<Expr>,
    /// Which rows count.
    pub filter: Option<Expr>,
}

/// The rows of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource {
    /// A table, a file path in quotes, or a URL.
    Table(ObjectName),
    /// A query.
    Query(Box<Query>),
}

/// `expr AS id_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputId {
    /// The value of the id, computed from the row.
    pub expr: Expr,
    /// The id type it has.
    pub id_type: Ident,
}

/// What `DROP` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileObject {
    /// An entity.
    Entity,
    /// An input.
    Input,
    /// An entity var, named `entity.var`.
    EntityVar,
    /// An input var, named `input.var`.
    InputVar,
    /// A cohort.
    Cohort,
}

impl ProfileObject {
    /// Whether its name has an owner (`owner.name`).
    pub fn is_var(self) -> bool {
        matches!(self, ProfileObject::EntityVar | ProfileObject::InputVar)
    }
}

impl fmt::Display for ProfileObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProfileObject::Entity => "ENTITY",
            ProfileObject::Input => "INPUT",
            ProfileObject::EntityVar => "ENTITY VAR",
            ProfileObject::InputVar => "INPUT VAR",
            ProfileObject::Cohort => "COHORT",
        })
    }
}

/// What `SHOW` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowObject {
    /// `SHOW ENTITIES`.
    Entities,
    /// `SHOW INPUTS`.
    Inputs,
    /// `SHOW VARS`: entity vars and input vars.
    Vars,
    /// `SHOW COHORTS`.
    Cohorts,
}

impl fmt::Display for ShowObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShowObject::Entities => "SHOW ENTITIES",
            ShowObject::Inputs => "SHOW INPUTS",
            ShowObject::Vars => "SHOW VARS",
            ShowObject::Cohorts => "SHOW COHORTS",
        })
    }
}

/// `DROP ENTITY|INPUT|COHORT [IF EXISTS] name` or
/// `DROP ENTITY VAR|INPUT VAR [IF EXISTS] owner.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropStatement {
    /// What kind of object.
    pub object: ProfileObject,
    /// No error when it does not exist.
    pub if_exists: bool,
    /// The entity or input a var belongs to; `None` for other objects.
    pub owner: Option<Ident>,
    /// Its name.
    pub name: Ident,
}

impl fmt::Display for CreateEntityStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CREATE ")?;
        if self.or_replace {
            write!(f, "OR REPLACE ")?;
        }
        write!(f, "ENTITY {} ID TYPES (", self.name)?;
        for (i, id_type) in self.id_types.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{}", id_type.name)?;
            for filter in &id_type.filters {
                write!(f, " {filter}")?;
            }
            if let Some(limit) = id_type.limit {
                write!(f, " LIMIT {limit}")?;
            }
        }
        write!(f, ")")?;
        if let Some(main_id) = &self.main_id {
            write!(f, " MAIN ID {main_id}")?;
        }
        match &self.rules {
            Some(InputSource::Table(table)) => write!(f, " RULES FROM {table}")?,
            Some(InputSource::Query(query)) => write!(f, " RULES FROM ({query})")?,
            None => {}
        }
        Ok(())
    }
}

impl fmt::Display for IdFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.include { "INCLUDE " } else { "EXCLUDE " })?;
        match &self.matcher {
            IdMatcher::Values(values) => {
                let values: Vec<String> = values.iter().map(|v| quoted(v)).collect();
                write!(f, "({})", values.join(", "))
            }
            IdMatcher::Regex(regex) => write!(f, "REGEX {}", quoted(regex)),
        }
    }
}

impl fmt::Display for CreateInputStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CREATE ")?;
        if self.or_replace {
            write!(f, "OR REPLACE ")?;
        }
        write!(f, "INPUT {} FOR {}", self.name, self.entity)?;
        match &self.source {
            Some(InputSource::Table(table)) => write!(f, " FROM {table}")?,
            Some(InputSource::Query(query)) => write!(f, " FROM ({query})")?,
            None => {}
        }
        let ids: Vec<String> = self
            .ids
            .iter()
            .map(|id| format!("{} AS {}", id.expr, id.id_type))
            .collect();
        let lookup = if self.lookup_only { " LOOKUP" } else { "" };
        write!(f, "{lookup} IDS ({})", ids.join(", "))?;
        if let Some(occurred_at) = &self.occurred_at {
            write!(f, " OCCURRED AT {occurred_at}")?;
        }
        if let Some(filter) = &self.filter {
            write!(f, " WHERE {filter}")?;
        }
        Ok(())
    }
}

impl fmt::Display for DropStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DROP {} ", self.object)?;
        if self.if_exists {
            write!(f, "IF EXISTS ")?;
        }
        if let Some(owner) = &self.owner {
            write!(f, "{owner}.")?;
        }
        write!(f, "{}", self.name)
    }
}

/// A single-quoted SQL string literal.
pub(crate) fn quoted(text: &str) -> String {
    Value::SingleQuotedString(text.to_string()).to_string()
}
