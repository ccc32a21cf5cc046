// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Warehouse forms that the parser reads but DataFusion does not plan, rewritten on the
//! syntax tree into forms it does, with the warehouse's meaning:
//!
//! - Snowflake's `x LIKE ANY ('a%', 'b%')` (and `ILIKE ANY`, `NOT LIKE ANY`): true when
//!   `x` matches (or, negated, fails to match) any one of the patterns, as an `OR` of
//!   single `LIKE`s.
//! - Snowflake's and Oracle's `MINUS` is `EXCEPT`.
//! - `EXTRACT(part FROM t)` reads Snowflake's parts as its `date_part` does
//!   (`DAYOFWEEK` is DataFusion's `DOW`, Sunday 0, as in Snowflake's default; `MM`,
//!   `EPOCH_MILLISECOND`, ...: see `warehouse_syntax::extraction_sql`); BigQuery's
//!   `EXTRACT(DATE FROM t)` is `CAST(t AS DATE)`.
//! - `SELECT TOP n ...` (Snowflake, SQL Server) is `... LIMIT n`.
//! - `x RLIKE p` and `x REGEXP p` (Spark, MySQL) are `regexp_like(x, p)`: the pattern
//!   found anywhere in `x`, as those engines match. (Snowflake's function forms match
//!   the whole text; `knit project` reads them so in the Snowflake dialect.)
//! - `count(DISTINCT a, b)` counts the distinct pairs with no NULL in them, as
//!   Snowflake's does: `count(DISTINCT CASE WHEN a IS NOT NULL AND b IS NOT NULL THEN
//!   struct(a, b) END)`.
//!
//! - A field of a value that is not a column, `from_json(j, 'a INT').a` or
//!   `(named_struct('a', 1)).a` (Spark, BigQuery, PostgreSQL): DataFusion plans
//!   dots only after column names, so the field is read as `[..]` reads it, `(..)['a']`.
//!
//! [`visit_statement`] also carries the other tree rewrites (`FLATTEN`) into every
//! statement that holds a query.

use std::ops::ControlFlow;

use datafusion_sql::parser::{CopyToSource, Statement as DFStatement};
use datafusion_sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, DateTimeField, DuplicateTreatment, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArguments, LimitClause, Query, SetExpr, SetOperator, Subscript, Top,
    TopQuantity, Value, VisitMut, VisitorMut,
};
use datafusion_sql::sqlparser::dialect::GenericDialect;
use datafusion_sql::sqlparser::parser::Parser;

use crate::warehouse_syntax::extraction_sql;

/// Runs `visitor` over the query parts of `statement` (a query, `COPY (query) TO`, and
/// the statement an `EXPLAIN` explains).
pub(crate) fn visit_statement<V: VisitorMut<Break = ()>>(
    statement: &mut DFStatement,
    visitor: &mut V,
) {
    let _ = match statement {
        DFStatement::Statement(inner) => inner.visit(visitor),
        DFStatement::CopyTo(copy) => match &mut copy.source {
            CopyToSource::Query(query) => query.visit(visitor),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        DFStatement::Explain(explain) => {
            visit_statement(&mut explain.statement, visitor);
            ControlFlow::Continue(())
        }
        _ => ControlFlow::Continue(()),
    };
}

/// Rewrites the forms of the module doc in `statement`.
pub(crate) fn rewrite_warehouse_forms(statement: &mut DFStatement) {
    visit_statement(statement, &mut WarehouseForms);
}

struct WarehouseForms;

impl VisitorMut for WarehouseForms {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        minus_as_except(&mut query.body);
        top_as_limit(query);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Like { any: true, .. } | Expr::ILike { any: true, .. } => {
                *expr = like_any(std::mem::replace(expr, Expr::value(Value::Null)));
            }
            Expr::Function(function) if function.name.to_string().eq_ignore_ascii_case("count") => {
                count_distinct_tuples(function);
            }
            Expr::RLike {
                negated,
                expr: value,
                pattern,
                ..
            } => {
                let not = if *negated { "NOT " } else { "" };
                if let Some(call) = parse_expr(&format!("{not}regexp_like({value}, {pattern})")) {
                    *expr = Expr::Nested(Box::new(call));
                }
            }
            Expr::Extract {
                field: DateTimeField::Date,
                expr: value,
                ..
            } => {
                if let Some(date) = parse_expr(&format!("CAST({value} AS DATE)")) {
                    *expr = date;
                }
            }
            Expr::CompoundFieldAccess { root, access_chain }
                if !matches!(**root, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) =>
            {
                for access in access_chain.iter_mut() {
                    if let AccessExpr::Dot(Expr::Identifier(field)) = access {
                        *access = AccessExpr::Subscript(Subscript::Index {
                            index: Expr::value(Value::SingleQuotedString(field.value.clone())),
                        });
                    }
                }
            }
            // Snowflake's parts (`mm`, `dayofweekiso`, `epoch_millisecond`, ...) as
            // its date_part reads them; BigQuery's `WEEK(MONDAY)` is left as it is.
            Expr::Extract {
                field, expr: value, ..
            } => {
                let word = field.to_string();
                if let Some(call) =
                    extraction_sql(&word, &format!("({value})")).and_then(|sql| parse_expr(&sql))
                {
                    *expr = call;
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn minus_as_except(body: &mut SetExpr) {
    if let SetExpr::SetOperation {
        op, left, right, ..
    } = body
    {
        if *op == SetOperator::Minus {
            *op = SetOperator::Except;
        }
        minus_as_except(left);
        minus_as_except(right);
    }
}

/// `SELECT TOP n` as `LIMIT n`, where the query has no `LIMIT` of its own.
fn top_as_limit(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let Some(Top {
        with_ties: false,
        percent: false,
        quantity: Some(quantity),
    }) = &select.top
    else {
        return;
    };
    if query.limit_clause.is_some() {
        return;
    }
    let limit = match quantity {
        TopQuantity::Constant(n) => Expr::value(Value::Number(n.to_string(), false)),
        TopQuantity::Expr(e) => e.clone(),
    };
    query.limit_clause = Some(LimitClause::LimitOffset {
        limit: Some(limit),
        offset: None,
        limit_by: Vec::new(),
    });
    select.top = None;
}

/// `count(DISTINCT a, b, ..)` as a count of the distinct tuples without NULLs.
fn count_distinct_tuples(function: &mut Function) {
    let FunctionArguments::List(list) = &mut function.args else {
        return;
    };
    if list.duplicate_treatment != Some(DuplicateTreatment::Distinct) || list.args.len() < 2 {
        return;
    }
    let values: Option<Vec<String>> = list
        .args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(format!("({e})")),
            _ => None,
        })
        .collect();
    let Some(values) = values else {
        return;
    };
    let not_null = values
        .iter()
        .map(|v| format!("{v} IS NOT NULL"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let sql = format!(
        "CASE WHEN {not_null} THEN struct({}) END",
        values.join(", ")
    );
    if let Some(tuple) = parse_expr(&sql) {
        list.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(tuple))];
    }
}

/// An expression from its SQL, which the rewrites here write from parsed parts.
fn parse_expr(sql: &str) -> Option<Expr> {
    Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut parser| parser.parse_expr())
        .ok()
}

/// `x [NOT] [I]LIKE ANY (p1, p2, ..)` as `(x [NOT] [I]LIKE p1 OR x [NOT] [I]LIKE p2 ..)`.
fn like_any(expr: Expr) -> Expr {
    let (negated, subject, pattern, escape_char, case_insensitive) = match expr {
        Expr::Like {
            negated,
            expr,
            pattern,
            escape_char,
            ..
        } => (negated, expr, pattern, escape_char, false),
        Expr::ILike {
            negated,
            expr,
            pattern,
            escape_char,
            ..
        } => (negated, expr, pattern, escape_char, true),
        other => return other,
    };
    let patterns = match *pattern {
        Expr::Tuple(patterns) => patterns,
        Expr::Nested(single) => vec![*single],
        single => vec![single],
    };
    let one = |pattern: Expr| {
        let (expr, pattern, escape_char) =
            (subject.clone(), Box::new(pattern), escape_char.clone());
        if case_insensitive {
            Expr::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            }
        } else {
            Expr::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            }
        }
    };
    let combined = patterns
        .into_iter()
        .map(one)
        .reduce(|left, right| Expr::BinaryOp {
            left: Box::new(left),
            op: BinaryOperator::Or,
            right: Box::new(right),
        });
    match combined {
        Some(combined) => Expr::Nested(Box::new(combined)),
        // `LIKE ANY ()` matches nothing.
        None => Expr::value(Value::Boolean(false)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn warehouse_forms_become_datafusion_forms() {
        let rewritten = |sql: &str| crate::parser::parse_statement(sql).unwrap().to_string();
        assert_eq!(
            rewritten("SELECT * FROM t WHERE x LIKE ANY ('a%', 'b%') AND y NOT ILIKE ANY ('c%')"),
            "SELECT * FROM t WHERE (x LIKE 'a%' OR x LIKE 'b%') AND (y NOT ILIKE 'c%')"
        );
        assert_eq!(
            rewritten("SELECT a FROM t MINUS SELECT a FROM u"),
            "SELECT a FROM t EXCEPT SELECT a FROM u"
        );
        assert_eq!(
            rewritten("SELECT TOP 2 a FROM t ORDER BY a"),
            "SELECT a FROM t ORDER BY a LIMIT 2"
        );
        assert_eq!(
            rewritten("SELECT count(DISTINCT a, b + 1), count(DISTINCT a) FROM t"),
            "SELECT count(DISTINCT CASE WHEN (a) IS NOT NULL AND (b + 1) IS NOT NULL THEN STRUCT((a), (b + 1)) END), count(DISTINCT a) FROM t"
        );
        assert_eq!(
            rewritten("SELECT EXTRACT(DAYOFWEEK FROM t), EXTRACT(dayofyear FROM t) FROM x"),
            "SELECT date_part('dow', (t)), date_part('doy', (t)) FROM x"
        );
        assert_eq!(
            rewritten("SELECT EXTRACT(mm FROM t), EXTRACT(epoch_millisecond FROM t) FROM x"),
            "SELECT date_part('month', (t)), CAST(arrow_cast(CAST((t) AS TIMESTAMP), \
             'Timestamp(Millisecond, None)') AS BIGINT) FROM x"
        );
        assert_eq!(
            rewritten("SELECT EXTRACT(DATE FROM t + INTERVAL '1' DAY) FROM x"),
            "SELECT CAST(t + INTERVAL '1' DAY AS DATE) FROM x"
        );
        assert_eq!(
            rewritten("SELECT a RLIKE 'x.*' OR b NOT REGEXP '^y' FROM t"),
            "SELECT (regexp_like(a, 'x.*')) OR (NOT regexp_like(b, '^y')) FROM t"
        );
        assert_eq!(
            rewritten("SELECT from_json(j, 'a INT').a, (s).b.c, t.s.d FROM t"),
            "SELECT from_json(j, 'a INT')['a'], (s)['b']['c'], t.s.d FROM t"
        );
    }
}
