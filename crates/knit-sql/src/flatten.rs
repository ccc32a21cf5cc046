// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Snowflake's `FLATTEN` over a JSON array, as DataFusion's `unnest`.
//!
//! `FROM src, TABLE(FLATTEN(json)) t` (or `LATERAL FLATTEN(input => json) t`) gives one
//! row per element of the array, with the element as `t.value`, beside the row of `src`
//! it came from. DataFusion cannot unnest a column of another `FROM` item (a lateral
//! reference), so the pair becomes one derived table:
//!
//! ```sql
//! FROM (SELECT *, unnest(json_query_array(json)) AS value FROM src) AS t
//! ```
//!
//! and references to `src`'s alias in the same `SELECT` are re-pointed at `t`. Elements
//! are JSON text, read with `t.value['key']`, and `t.index` is the element's position
//! from 0; like Snowflake's, a row whose array is empty or NULL yields no row.

use std::ops::ControlFlow;

use datafusion_sql::parser::Statement as DFStatement;
use datafusion_sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Query, Select, SetExpr,
    TableFactor, VisitorMut, visit_expressions_mut,
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
    let mut i = 1;
    while i < select.from.len() {
        let pair_is_plain = select.from[i].joins.is_empty() && select.from[i - 1].joins.is_empty();
        let Some((json, alias)) = flattened(&select.from[i].relation) else {
            i += 1;
            continue;
        };
        if !pair_is_plain {
            i += 1;
            continue;
        }
        let source = &select.from[i - 1].relation;
        let source_alias = table_alias(source);
        let alias = alias.unwrap_or_else(|| Ident::new("flatten"));
        let all = match &source_alias {
            Some(name) => format!("{name}.*"),
            None => "*".to_string(),
        };
        // The element and its position, unnested side by side (DataFusion zips the
        // unnests of one SELECT); a value that is not an array yields no row.
        let sql = format!(
            "SELECT 1 FROM (SELECT {all}, unnest(json_query_array({json})) AS value, \
             unnest(range(0, cardinality(json_query_array({json})))) AS \"index\" \
             FROM {source}) AS {alias}"
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

/// The JSON argument and alias of `TABLE(FLATTEN(..))` or `LATERAL FLATTEN(..)`.
fn flattened(factor: &TableFactor) -> Option<(Expr, Option<Ident>)> {
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
    let json = args.iter().find_map(|arg| match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
        FunctionArg::Named {
            name,
            arg: FunctionArgExpr::Expr(e),
            ..
        } if name.value.eq_ignore_ascii_case("input") => Some(e.clone()),
        _ => None,
    })?;
    Some((json, alias.as_ref().map(|a| a.name.clone())))
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
            "SELECT t.value, id FROM (SELECT *, unnest(json_query_array(parse_json(products))) AS value, unnest(range(0, cardinality(json_query_array(parse_json(products))))) AS \"index\" FROM (SELECT * FROM o)) AS t"
        );
        assert_eq!(
            rewritten("SELECT o.id, f.value FROM orders o, LATERAL FLATTEN(input => o.items) f"),
            "SELECT f.id, f.value FROM (SELECT o.*, unnest(json_query_array(o.items)) AS value, unnest(range(0, cardinality(json_query_array(o.items)))) AS \"index\" FROM orders o) AS f"
        );
        assert_eq!(rewritten("SELECT * FROM a, b"), "SELECT * FROM a, b");
    }
}
