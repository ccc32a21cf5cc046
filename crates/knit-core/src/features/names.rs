// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! What the names in a var's expression mean, and their rewriting into the columns of
//! the composed query.
//!
//! In a var with `FROM input`, a bare name is a column of the input (or one of its input
//! vars) when the input has it, and otherwise an entity var; `entity.var` is always the
//! entity var and `input.column` always the column. Without `FROM`, and in a cohort's
//! condition, every name is an entity var. Entity vars become columns named
//! [`var_column`], so that they never collide with the input's own columns.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, Expr, FunctionArguments, Ident, ObjectNamePart, VisitMut, VisitorMut,
    visit_expressions, visit_expressions_mut,
};

use crate::error::{CoreError, Result};

/// The column of an entity's main id inside composed queries.
pub(crate) const MAIN: &str = "__knit_main";

/// The column of an entity var inside composed queries.
pub(crate) fn var_column(name: &str) -> String {
    format!("__knit_var_{name}")
}

/// An identifier as DataFusion resolves it: unquoted names are lower-cased.
pub fn normalize(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// Whether an input's rows have a column of that name.
pub(crate) type HasColumn<'a> = &'a (dyn Fn(&str) -> bool + Sync);

/// Where the names of one expression are looked up.
pub(crate) struct Scope<'a> {
    /// The entity, for `entity.var`.
    pub entity: &'a str,
    /// The names of the entity's vars.
    pub vars: &'a BTreeSet<String>,
    /// The input the expression reads, with a test for its columns.
    pub input: Option<(&'a str, HasColumn<'a>)>,
}

/// What one name in an expression is.
enum Name {
    /// An entity var.
    Var(String),
    /// A column of the input.
    Column(String),
    /// Neither; the planner will say so.
    Unknown,
}

impl Scope<'_> {
    fn resolve(&self, expr: &Expr) -> Option<Name> {
        match expr {
            Expr::Identifier(ident) => {
                let name = normalize(ident);
                Some(match self.input {
                    Some((_, has_column)) if has_column(&name) => Name::Column(name),
                    _ if self.vars.contains(&name) => Name::Var(name),
                    _ => Name::Unknown,
                })
            }
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                let owner = &parts[0];
                let is = |name: &str| owner.value == name || normalize(owner) == name;
                let name = normalize(&parts[1]);
                if is(self.entity) && self.vars.contains(&name) {
                    Some(Name::Var(name))
                } else if self.input.is_some_and(|(input, _)| is(input)) {
                    Some(Name::Column(name))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// The entity vars `expr` uses, in name order.
    pub fn var_references(&self, expr: &Expr) -> BTreeSet<String> {
        let expr = qualified_names(expr);
        let mut found = BTreeSet::new();
        let _ = visit_expressions(&expr, |e| {
            if let Some(Name::Var(name)) = self.resolve(e) {
                found.insert(name);
            }
            ControlFlow::<()>::Continue(())
        });
        found
    }

    /// The names in `expr` that are neither vars nor columns.
    pub fn unknown_names(&self, expr: &Expr) -> Vec<String> {
        let expr = qualified_names(expr);
        let mut found = Vec::new();
        let _ = visit_expressions(&expr, |e| {
            match (self.resolve(e), e) {
                (Some(Name::Unknown), Expr::Identifier(ident)) => found.push(ident.value.clone()),
                // `other_entity.var`, `unknown.x`
                (None, Expr::CompoundIdentifier(parts)) => found.push(
                    parts
                        .iter()
                        .map(|p| p.value.as_str())
                        .collect::<Vec<_>>()
                        .join("."),
                ),
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
        found
    }

    /// `expr` with entity vars as their composed columns and `input.column` as `column`.
    pub fn rewrite(&self, expr: &Expr) -> Expr {
        let mut expr = qualified_names(expr);
        let _ = visit_expressions_mut(&mut expr, |e| {
            match self.resolve(e) {
                Some(Name::Var(name)) => {
                    *e = Expr::Identifier(Ident::with_quote('"', var_column(&name)));
                }
                Some(Name::Column(name)) if matches!(e, Expr::CompoundIdentifier(_)) => {
                    *e = Expr::Identifier(Ident::with_quote('"', name));
                }
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
        expr
    }
}

/// `expr` with every `a.b` as a compound identifier. The parser reads `a.b` as field
/// access when `a` is a keyword (`user.ltv`), and field access visits `b` as a name of
/// its own.
fn qualified_names(expr: &Expr) -> Expr {
    struct Qualify;
    impl VisitorMut for Qualify {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if let Expr::CompoundFieldAccess { root, access_chain } = expr
                && let [AccessExpr::Dot(Expr::Identifier(name))] = access_chain.as_slice()
            {
                // A keyword such as `user` parses as a call without arguments.
                let owner = match root.as_ref() {
                    Expr::Identifier(owner) => Some(owner.clone()),
                    Expr::Function(function)
                        if matches!(function.args, FunctionArguments::None) =>
                    {
                        match function.name.0.as_slice() {
                            [ObjectNamePart::Identifier(owner)] => Some(owner.clone()),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                if let Some(owner) = owner {
                    *expr = Expr::CompoundIdentifier(vec![owner, name.clone()]);
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut expr = expr.clone();
    let _ = expr.visit(&mut Qualify);
    expr
}

/// Checks that every name of an expression without an input is an entity var; `hint`
/// ends the error.
pub(crate) fn check_only_vars(
    scope: &Scope<'_>,
    expr: &Expr,
    what: &str,
    hint: &str,
) -> Result<()> {
    let unknown = scope.unknown_names(expr);
    if let Some(name) = unknown.first() {
        let known: Vec<&str> = scope.vars.iter().map(String::as_str).collect();
        return Err(CoreError::invalid(format!(
            "{what}: '{name}' is not a var of entity '{}' ({}){}",
            scope.entity,
            if known.is_empty() {
                "it has no vars yet".to_string()
            } else {
                format!("its vars: {}", known.join(", "))
            },
            hint
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn expr(sql: &str) -> Expr {
        Parser::new(&GenericDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_expr()
            .unwrap()
    }

    #[test]
    fn columns_win_over_vars_unless_qualified() {
        let vars: BTreeSet<String> = ["num_d", "a_max"].iter().map(|s| s.to_string()).collect();
        let has_column = |c: &str| c == "num_d" || c == "num_c";
        let scope = Scope {
            entity: "user",
            vars: &vars,
            input: Some(("tbl", &has_column)),
        };
        let e = expr("max(num_d + num_c + A_MAX + user.num_d + tbl.num_c)");
        assert!(scope.unknown_names(&e).is_empty());
        assert_eq!(
            scope.var_references(&e).into_iter().collect::<Vec<_>>(),
            vec!["a_max", "num_d"]
        );
        assert_eq!(
            scope.rewrite(&e).to_string(),
            "max(num_d + num_c + \"__knit_var_a_max\" + \"__knit_var_num_d\" + \"num_c\")"
        );
        assert!(
            scope
                .unknown_names(&expr("nope + 1"))
                .contains(&"nope".to_string())
        );
    }

    #[test]
    fn without_input_every_name_is_a_var() {
        let vars: BTreeSet<String> = ["ltv".to_string()].into();
        let scope = Scope {
            entity: "user",
            vars: &vars,
            input: None,
        };
        assert!(check_only_vars(&scope, &expr("ltv > 100"), "cohort c", "").is_ok());
        let err = check_only_vars(&scope, &expr("ltv > revenue"), "cohort c", "").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cohort c: 'revenue' is not a var of entity 'user' (its vars: ltv)"),
            "{err}"
        );
    }
}
