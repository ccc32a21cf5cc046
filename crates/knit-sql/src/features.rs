// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The AST of Knit's feature statements: entity vars, input vars and cohorts.

use std::fmt;

use datafusion_sql::sqlparser::ast::{Expr, Ident};

use crate::profile_ast::quoted;

/// A var's qualified name: `owner.name`, where the owner is an entity (entity vars) or
/// an input (input vars).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarName {
    /// The entity or input the var belongs to.
    pub owner: Ident,
    /// The var's own name, which is also its column name.
    pub name: Ident,
}

impl fmt::Display for VarName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.owner, self.name)
    }
}

/// `CREATE [OR REPLACE] ENTITY VAR entity.name AS expr [FROM input [WHERE cond]]
/// [DEFAULT value] [HIDDEN] [DESCRIPTION 'text']`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateEntityVarStatement {
    /// Replace a var of the same name.
    pub or_replace: bool,
    /// The entity and the var's name.
    pub name: VarName,
    /// An aggregate over the input's rows (with `FROM`), or an expression over other
    /// vars (without).
    pub expr: Expr,
    /// The input whose rows are aggregated.
    pub from: Option<Ident>,
    /// Which of the input's rows count.
    pub filter: Option<Expr>,
    /// The value for entities without rows (or whose value is NULL).
    pub default: Option<Expr>,
    /// Computed, usable by other vars and cohorts, but not a column of the feature table.
    pub hidden: bool,
    /// What the var means.
    pub description: Option<String>,
}

/// `CREATE [OR REPLACE] INPUT VAR input.name AS expr [WHERE cond] [DEFAULT value]
/// [DESCRIPTION 'text']`: a column computed for every row of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateInputVarStatement {
    /// Replace a var of the same name.
    pub or_replace: bool,
    /// The input and the var's name.
    pub name: VarName,
    /// A row-level expression, which may use window functions.
    pub expr: Expr,
    /// Rows that fail it get the default (or NULL) and take no part in windows.
    pub filter: Option<Expr>,
    /// The value where the expression is NULL or the row is filtered out.
    pub default: Option<Expr>,
    /// What the var means.
    pub description: Option<String>,
}

/// `CREATE [OR REPLACE] COHORT name FOR entity [EXTENDS cohort] WHERE cond
/// [DESCRIPTION 'text']`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCohortStatement {
    /// Replace a cohort of the same name.
    pub or_replace: bool,
    /// The cohort's name.
    pub name: Ident,
    /// The entity whose members it selects.
    pub entity: Ident,
    /// The cohort it narrows.
    pub extends: Option<Ident>,
    /// Which members belong: those for which it is true.
    pub condition: Expr,
    /// What the cohort is.
    pub description: Option<String>,
}

impl fmt::Display for CreateEntityVarStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_create(f, self.or_replace, "ENTITY VAR")?;
        write!(f, "{} AS {}", self.name, self.expr)?;
        if let Some(from) = &self.from {
            write!(f, " FROM {from}")?;
        }
        if let Some(filter) = &self.filter {
            write!(f, " WHERE {filter}")?;
        }
        if let Some(default) = &self.default {
            write!(f, " DEFAULT {default}")?;
        }
        if self.hidden {
            write!(f, " HIDDEN")?;
        }
        write_description(f, self.description.as_deref())
    }
}

impl fmt::Display for CreateInputVarStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_create(f, self.or_replace, "INPUT VAR")?;
        write!(f, "{} AS {}", self.name, self.expr)?;
        if let Some(filter) = &self.filter {
            write!(f, " WHERE {filter}")?;
        }
        if let Some(default) = &self.default {
            write!(f, " DEFAULT {default}")?;
        }
        write_description(f, self.description.as_deref())
    }
}

impl fmt::Display for CreateCohortStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_create(f, self.or_replace, "COHORT")?;
        write!(f, "{} FOR {}", self.name, self.entity)?;
        if let Some(extends) = &self.extends {
            write!(f, " EXTENDS {extends}")?;
        }
        write!(f, " WHERE {}", self.condition)?;
        write_description(f, self.description.as_deref())
    }
}

fn write_create(f: &mut fmt::Formatter<'_>, or_replace: bool, object: &str) -> fmt::Result {
    write!(f, "CREATE ")?;
    if or_replace {
        write!(f, "OR REPLACE ")?;
    }
    write!(f, "{object} ")
}

fn write_description(f: &mut fmt::Formatter<'_>, description: Option<&str>) -> fmt::Result {
    match description {
        Some(text) => write!(f, " DESCRIPTION {}", quoted(text)),
        None => Ok(()),
    }
}
