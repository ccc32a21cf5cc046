// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Snowflake's `FLATTEN` over JSON arrays and objects, as DataFusion's `unnest`.
//!
//! `FROM src, TABLE(FLATTEN(json)) t` (or `LATERAL FLATTEN(input => json) t`) gives one
//! row per element of the array (or field of the object), with the element as `t.value`,
//! beside the row of `src` it came from. DataFusion cannot unnest a column of another
//! `FROM` item (a lateral reference), so the pair becomes one derived table:
//!
//! ```sql
//! FROM (SELECT *, unnest(flatten_part(json, 'value', false)) AS "value",
//!                 unnest(flatten_part(json, 'index', false)) AS "index" FROM src) AS t
//! ```
//!
//! and references to `src`'s alias in the same `SELECT` are re-pointed at `t`.
//! `flatten_part` (a Knit function) lists one of `FLATTEN`'s columns per row: `value`,
//! `index` (from 0), and `key`, `this`, `path` and `seq` where the query reads them;
//! `OUTER => TRUE`, `PATH => 'a.b'`, `RECURSIVE => TRUE` and `MODE => 'ARRAY'` are
//! passed on. Like Snowflake's, a row whose input has no
//! element yields no row, or one row of NULLs with `OUTER => TRUE`.

use std::ops::ControlFlow;

use datafusion_sql::parser::Statement as DFStatement;
use datafusion_sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Query, Select, SetExpr,
    TableFactor, VisitorMut, visit_expressions, visit_expressions_mut,
};
use datafusion_sql::sqlparser::dialect::GenericDialect;
use datafusion_sql::sqlparser::parser::Parser;

/// Rewrites every `FLATTEN` of `statement` (see the module doc).
pub(crate) fn rewrite_flatten(statement: &mut DFStatement) {
    crate::warehouse_ast::visit_statement(statement, &mut Flattener);
}

struct Flattener;

impl VisitorMut for Flattener {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        rewrite_set_expr(&mut query.body);
        ControlFlow::Continue(())
    }
}

fn rewrite_set_expr(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => rewrite_select(select),
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_set_expr(left);
            rewrite_set_expr(right);
        }
        _ => {}
    }
}

fn rewrite_select(select: &mut Select) {
    // A `FLATTEN` first in the `FROM` list reads no other item (its input is a
    // constant or a subquery's value): a derived table of its rows alone.
    if let Some(first) = select.from.first().filter(|item| item.joins.is_empty())
        && let Some(call) = flattened(&first.relation)
    {
        let alias = call.alias.clone().unwrap_or_else(|| Ident::new("flatten"));
        let sql = format!(
            "SELECT 1 FROM (SELECT {}) AS {alias}",
            flatten_columns(&call, select).join(", ")
        );
        if let Some(derived) = parse_relation(&sql) {
            select.from[0].relation = derived;
        }
    }
    let mut i = 1;
    while i < select.from.len() {
        let pair_is_plain = select.from[i].joins.is_empty() && select.from[i - 1].joins.is_empty();
        let Some(call) = flattened(&select.from[i].relation) else {
            i += 1;
            continue;
        };
        if !pair_is_plain {
            i += 1;
            continue;
        }
        let source = &select.from[i - 1].relation;
        let source_alias = table_alias(source);
        let alias = call.alias.clone().unwrap_or_else(|| Ident::new("flatten"));
        let all = match &source_alias {
            Some(name) => format!("{name}.*"),
            None => "*".to_string(),
        };
        let sql = format!(
            "SELECT 1 FROM (SELECT {all}, {} FROM {source}) AS {alias}",
            flatten_columns(&call, select).join(", ")
        );
        let Some(derived) = parse_relation(&sql) else {
            i += 1;
            continue;
        };
        select.from[i - 1].relation = derived;
        select.from.remove(i);
        if let Some(old) = source_alias {
            requalify(select, &old, &alias);
        }
    }
}

/// The select items that list `call`'s columns: one unnest per column, side by side
/// (DataFusion zips the unnests of one SELECT). `key`, `this`, `path` and `seq` only
/// where `select` reads them: a source column of that name would otherwise be doubled.
fn flatten_columns(call: &FlattenCall, select: &Select) -> Vec<String> {
    // The optional arguments are positional: each one given needs those before it.
    let mut optional = Vec::new();
    if call.path.is_some() || call.recursive || call.mode.is_some() {
        optional.push(
            call.path
                .as_ref()
                .map_or("NULL".into(), ToString::to_string),
        );
    }
    if call.recursive || call.mode.is_some() {
        optional.push(call.recursive.to_string());
    }
    if let Some(mode) = &call.mode {
        optional.push(mode.to_string());
    }
    let optional: String = optional.iter().map(|a| format!(", {a}")).collect();
    let part = |name: &str| {
        format!(
            "unnest(flatten_part({}, '{name}', {}{optional})) AS \"{name}\"",
            call.input, call.outer
        )
    };
    let mut columns = vec![part("value"), part("index")];
    if reads_name(select, "key") {
        columns.push(part("key"));
    }
    for name in ["this", "path", "seq"] {
        if reads_name(select, name) {
            columns.push(part(name));
        }
    }
    columns
}

/// A `FLATTEN` call's arguments.
struct FlattenCall {
    input: Expr,
    /// `OUTER => TRUE`: a row of NULLs for an input with no element.
    outer: bool,
    /// `PATH => 'a.b'`: the element of the input to flatten.
    path: Option<Expr>,
    /// `RECURSIVE => TRUE`: the entries below the input's entries too.
    recursive: bool,
    /// `MODE => 'OBJECT' | 'ARRAY' | 'BOTH'`: which containers are expanded.
    mode: Option<Expr>,
    alias: Option<Ident>,
}

/// The arguments and alias of `TABLE(FLATTEN(..))` or `LATERAL FLATTEN(..)`.
fn flattened(factor: &TableFactor) -> Option<FlattenCall> {
    let (name, args, alias) = match factor {
        TableFactor::TableFunction {
            expr: Expr::Function(function),
            alias,
        } => {
            let FunctionArguments::List(list) = &function.args else {
                return None;
            };
            (&function.name, list.args.as_slice(), alias)
        }
        TableFactor::Function {
            name, args, alias, ..
        } => (name, args.as_slice(), alias),
        _ => return None,
    };
    if !name.to_string().eq_ignore_ascii_case("flatten") {
        return None;
    }
    let named = |key: &str| {
        args.iter().find_map(|arg| match arg {
            FunctionArg::Named {
                name,
                arg: FunctionArgExpr::Expr(e),
                ..
            } if name.value.eq_ignore_ascii_case(key) => Some(e.clone()),
            _ => None,
        })
    };
    let input = args
        .iter()
        .find_map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .or_else(|| named("input"))?;
    let is_true =
        |key: &str| named(key).is_some_and(|e| e.to_string().eq_ignore_ascii_case("true"));
    Some(FlattenCall {
        input,
        outer: is_true("outer"),
        path: named("path"),
        recursive: is_true("recursive"),
        mode: named("mode"),
        alias: alias.as_ref().map(|a| a.name.clone()),
    })
}

/// Whether the select's expressions name a column `name` (bare or qualified).
fn reads_name(select: &Select, name: &str) -> bool {
    let mut found = false;
    let mut check = |expr: &Expr| {
        let last = match expr {
            Expr::Identifier(ident) => Some(ident),
            Expr::CompoundIdentifier(parts) => parts.last(),
            _ => None,
        };
        if last.is_some_and(|i| i.value.eq_ignore_ascii_case(name)) {
            found = true;
        }
        ControlFlow::<()>::Continue(())
    };
    let _ = visit_expressions(&select.projection, &mut check);
    let _ = visit_expressions(&select.selection, &mut check);
    let _ = visit_expressions(&select.having, &mut check);
    let _ = visit_expressions(&select.group_by, &mut check);
    found
}

fn table_alias(factor: &TableFactor) -> Option<Ident> {
    match factor {
        TableFactor::Table { alias, .. } | TableFactor::Derived { alias, .. } => {
            alias.as_ref().map(|a| a.name.clone())
        }
        _ => None,
    }
}

fn parse_relation(sql: &str) -> Option<TableFactor> {
    let mut statements = Parser::parse_sql(&GenericDialect {}, sql).ok()?;
    let datafusion_sql::sqlparser::ast::Statement::Query(query) = statements.pop()? else {
        return None;
    };
    let SetExpr::Select(select) = *query.body else {
        return None;
    };
    Some(select.from.into_iter().next()?.relation)
}

/// `old.column` as `new.column` in the select's expressions.
fn requalify(select: &mut Select, old: &Ident, new: &Ident) {
    let mut rename = |expr: &mut Expr| {
        if let Expr::CompoundIdentifier(parts) = expr
            && parts.len() == 2
            && parts[0].value.eq_ignore_ascii_case(&old.value)
        {
            parts[0] = new.clone();
        }
        ControlFlow::<()>::Continue(())
    };
    // Not the FROM clause: the derived table still reads the source by its own alias.
    let _ = visit_expressions_mut(&mut select.projection, &mut rename);
    let _ = visit_expressions_mut(&mut select.selection, &mut rename);
    let _ = visit_expressions_mut(&mut select.having, &mut rename);
    let _ = visit_expressions_mut(&mut select.group_by, &mut rename);
}

#[cfg(test)]
mod tests {
    use crate::parser::parse_statement;

    fn rewritten(sql: &str) -> String {
        parse_statement(sql)
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn flatten_becomes_unnest() {
        assert_eq!(
            rewritten(
                "SELECT t.value, id FROM (SELECT * FROM o), TABLE(FLATTEN(parse_json(products))) t"
            ),
            "SELECT t.value, id FROM (SELECT *, unnest(flatten_part(parse_json(products), 'value', false)) AS \"value\", unnest(flatten_part(parse_json(products), 'index', false)) AS \"index\" FROM (SELECT * FROM o)) AS t"
        );
        assert_eq!(
            rewritten("SELECT o.id, f.value FROM orders o, LATERAL FLATTEN(input => o.items) f"),
            "SELECT f.id, f.value FROM (SELECT o.*, unnest(flatten_part(o.items, 'value', false)) AS \"value\", unnest(flatten_part(o.items, 'index', false)) AS \"index\" FROM orders o) AS f"
        );
        assert_eq!(rewritten("SELECT * FROM a, b"), "SELECT * FROM a, b");
        // First in the FROM list, it reads no other item.
        assert_eq!(
            rewritten("SELECT f.value FROM TABLE(FLATTEN(input => parse_json('[1]'))) f, b"),
            "SELECT f.value FROM (SELECT unnest(flatten_part(parse_json('[1]'), 'value', false)) AS \"value\", unnest(flatten_part(parse_json('[1]'), 'index', false)) AS \"index\") AS f, b"
        );
    }

    #[test]
    fn outer_path_key_and_this_are_passed_on() {
        let sql = rewritten(
            "SELECT f.key, f.this FROM o, LATERAL FLATTEN(input => o.j, path => 'a.b', \
             outer => TRUE) f WHERE f.value IS NOT NULL",
        );
        assert!(
            sql.contains("unnest(flatten_part(o.j, 'key', true, 'a.b')) AS \"key\""),
            "{sql}"
        );
        assert!(
            sql.contains("unnest(flatten_part(o.j, 'this', true, 'a.b')) AS \"this\""),
            "{sql}"
        );
        // RECURSIVE and MODE follow the path, NULL when none is given.
        let sql = rewritten(
            "SELECT f.path FROM o, LATERAL FLATTEN(input => o.j, recursive => true, \
             mode => 'OBJECT') f",
        );
        assert!(
            sql.contains(
                "unnest(flatten_part(o.j, 'path', false, NULL, true, 'OBJECT')) AS \"path\""
            ),
            "{sql}"
        );
        let sql = rewritten("SELECT f.value FROM o, LATERAL FLATTEN(o.j, recursive => TRUE) f");
        assert!(
            sql.contains("flatten_part(o.j, 'value', false, NULL, true)"),
            "{sql}"
        );
        // No `key` column where the query reads none: a source column may hold the name.
        let sql = rewritten("SELECT f.value FROM o, TABLE(FLATTEN(o.j)) f");
        assert!(!sql.contains("'key'") && !sql.contains("'this'"), "{sql}");
    }
}
