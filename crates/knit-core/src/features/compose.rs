// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Composing the SQL of a feature table, a feature view or a cohort.
//!
//! The composed query is plain DataFusion SQL, so the optimizer, EXPLAIN and every SQL
//! function apply to it. Its shape:
//!
//! ```text
//! s0         every cluster of the entity: its number and main id (entities without
//!            rows keep their NULLs)
//! rows_k     input k's rows (input_rows(..) plus one layer per input var), each with
//!            its cluster, found by probing the stitch's key index with the row's ids
//!            (`__knit_lookup`, see `crate::stitch::lookup`)
//! a_n        per stage: the vars of one input (with one WHERE) aggregated in one
//!            GROUP BY cluster; a var that reads other vars joins the stage before
//! s_n        the previous stage LEFT JOIN its aggregates, DEFAULT applied, then one
//!            projection per var without FROM (window functions over entities allowed)
//! ```
//!
//! A feature view joins the final stage to `id_stitch('user')` on the main id. Rows are
//! grouped and joined on the cluster's number, an integer, and the main id's
//! text is attached once per entity. Every stitch operator of the query shares one
//! stitch (see `IdStitchPlanner`), so the graph is built once.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    DuplicateTreatment, Expr, FunctionArguments, Ident, ObjectName, WindowType, visit_expressions,
    visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::count_distinct::COUNT_DISTINCT;
use super::model::{EntityModel, Step};
use super::names::{MAIN, Scope, check_only_vars, quote_ident, quote_literal, var_column};
use crate::catalog::Input;
use crate::catalog::id_column;
use crate::error::{CoreError, Result};
use crate::stitch::CLUSTER_COLUMN as CLUSTER;
use crate::stitch::LOOKUP_FUNCTION;
use crate::udtf::CLUSTERS_FUNCTION;

/// What a composed query returns.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape<'a> {
    /// One row per entity: the main id and every visible var.
    Table,
    /// One row per id of this type: the id and every visible var.
    View(&'a str),
    /// The main ids.
    Members,
    /// The main id and one var (to check a definition).
    Var(&'a str),
}

/// The query for `shape` over the entity of `model`, restricted to the entities for which
/// every one of `conditions` (expressions over vars) is true.
pub(crate) fn compose(
    model: &EntityModel,
    conditions: &[Expr],
    shape: Shape<'_>,
) -> Result<String> {
    let entity = &model.entity;
    let names = model.var_names();
    let mut condition_refs = BTreeSet::new();
    let mut rewritten_conditions = Vec::with_capacity(conditions.len());
    model.with_scope(&names, None, |scope| -> Result<()> {
        for condition in conditions {
            check_only_vars(
                scope,
                condition,
                &format!("cohort of entity '{}'", entity.name),
                "",
            )?;
            condition_refs.extend(scope.var_references(condition));
            rewritten_conditions.push(format!("({})", scope.rewrite(condition)));
        }
        Ok(())
    })?;
    let visible: Vec<&str> = model
        .vars
        .iter()
        .filter(|v| !v.definition.hidden)
        .map(|v| v.name.as_str())
        .collect();
    let mut wanted: Vec<&str> = match shape {
        Shape::Table | Shape::View(_) => visible.clone(),
        Shape::Members => Vec::new(),
        Shape::Var(name) => vec![name],
    };
    wanted.extend(condition_refs.iter().map(String::as_str));
    let steps = model.steps(wanted)?;

    let mut ctes: Vec<(String, String)> = vec![(
        stage_name(0),
        format!(
            "SELECT \"{CLUSTER}\", {} AS \"{MAIN}\" FROM {CLUSTERS_FUNCTION}({})",
            quote_ident(&entity.main_id_column),
            quote_literal(&entity.name)
        ),
    )];
    // The rows of each input that some var aggregates, in the entity's input order.
    let mut row_tables: Vec<(String, String)> = Vec::new();
    for input in &model.inputs {
        if steps
            .iter()
            .any(|s| s.var.from.as_deref() == Some(input.name.as_str()))
        {
            let table = format!("\"__knit_rows_{}\"", row_tables.len());
            ctes.push((table.clone(), rows_sql(model, input)?));
            row_tables.push((input.name.clone(), table));
        }
    }

    let mut state = 0usize;
    let last_stage = steps.iter().map(|s| s.stage).max().unwrap_or(0);
    let mut aggregates = 0usize;
    for stage in 0..=last_stage {
        // Aggregates: one GROUP BY per input and WHERE, and per distinct argument (see
        // `distinct_arguments`).
        let mut groups: Vec<AggregateGroup<'_>> = Vec::new();
        for step in steps.iter().filter(|s| s.stage == stage) {
            let Some(from) = &step.var.from else {
                continue;
            };
            let input = model.input(from)?;
            let filter = model.with_scope(&names, Some(input), |scope| {
                step.var
                    .definition
                    .filter
                    .as_ref()
                    .map(|f| scope.rewrite(f).to_string())
            });
            let distinct = distinct_arguments(&with_count_distinct(&step.var.definition.expr));
            let fits = |g: &AggregateGroup<'_>| {
                g.input == *from && g.filter == filter && g.distinct == distinct
            };
            match groups.iter_mut().find(|g| fits(g)) {
                Some(group) => group.members.push(step),
                None => groups.push(AggregateGroup {
                    input: from.clone(),
                    filter,
                    distinct,
                    members: vec![step],
                }),
            }
        }
        if !groups.is_empty() {
            let mut joins = Vec::new();
            let mut columns = Vec::new();
            for AggregateGroup {
                input: input_name,
                filter,
                members,
                ..
            } in &groups
            {
                let input = model.input(input_name)?;
                let rows = row_tables
                    .iter()
                    .find(|(name, _)| name == input_name)
                    .map(|(_, table)| table.clone())
                    .ok_or_else(|| CoreError::internal("an input without rows"))?;
                let mut selected = vec![format!("r.\"{CLUSTER}\"")];
                for step in members {
                    let expr = model.with_scope(&names, Some(input), |scope| {
                        with_count_distinct(&scope.rewrite(&step.var.definition.expr))
                    });
                    selected.push(format!(
                        "{expr} AS {}",
                        quote_ident(&var_column(&step.var.name))
                    ));
                }
                let mut sql = format!("SELECT {} FROM {rows} AS r", selected.join(", "));
                if stage > 0 {
                    sql.push_str(&format!(
                        " LEFT JOIN {} AS s ON s.\"{CLUSTER}\" = r.\"{CLUSTER}\"",
                        stage_name(state)
                    ));
                }
                if let Some(filter) = filter {
                    sql.push_str(&format!(" WHERE {filter}"));
                }
                // The vars read are one value per entity: grouping by them too lets an
                // expression use them outside its aggregates (`sum(x) + other_var`).
                let mut group_by = vec![format!("r.\"{CLUSTER}\"")];
                if stage > 0 {
                    let read: BTreeSet<&String> =
                        members.iter().flat_map(|s| &s.var.references).collect();
                    group_by.extend(
                        read.into_iter()
                            .map(|name| format!("s.{}", quote_ident(&var_column(name)))),
                    );
                }
                sql.push_str(&format!(" GROUP BY {}", group_by.join(", ")));
                let alias = format!("a{aggregates}");
                let table = format!("\"__knit_agg_{aggregates}\"");
                aggregates += 1;
                ctes.push((table.clone(), sql));
                joins.push(format!(
                    "LEFT JOIN {table} AS {alias} ON {alias}.\"{CLUSTER}\" = p.\"{CLUSTER}\""
                ));
                for step in members {
                    let column = quote_ident(&var_column(&step.var.name));
                    columns.push(format!(
                        "{} AS {column}",
                        with_default(model, &names, step, &format!("{alias}.{column}"))
                    ));
                }
            }
            let sql = format!(
                "SELECT p.*, {} FROM {} AS p {}",
                columns.join(", "),
                stage_name(state),
                joins.join(" ")
            );
            state += 1;
            ctes.push((stage_name(state), sql));
        }
        // Expressions over vars, each in its own projection so that the next can read it.
        for step in steps
            .iter()
            .filter(|s| s.stage == stage && s.var.from.is_none())
        {
            let expr = model.with_scope(&names, None, |scope| {
                scope.rewrite(&step.var.definition.expr).to_string()
            });
            let value = with_default(model, &names, step, &format!("({expr})"));
            let sql = format!(
                "SELECT *, {value} AS {} FROM {}",
                quote_ident(&var_column(&step.var.name)),
                stage_name(state)
            );
            state += 1;
            ctes.push((stage_name(state), sql));
        }
    }

    let last = stage_name(state);
    let main = quote_ident(&entity.main_id_column);
    let var_columns = |prefix: &str, names: &[&str]| -> String {
        names
            .iter()
            .map(|n| {
                format!(
                    ", {prefix}{} AS {}",
                    quote_ident(&var_column(n)),
                    quote_ident(n)
                )
            })
            .collect()
    };
    let filter = if rewritten_conditions.is_empty() {
        String::new()
    } else {
        rewritten_conditions.join(" AND ")
    };
    let body = match shape {
        Shape::Table => format!(
            "SELECT \"{MAIN}\" AS {main}{} FROM {last}{}",
            var_columns("", &visible),
            where_clause(&filter)
        ),
        Shape::Members => format!(
            "SELECT \"{MAIN}\" AS {main} FROM {last}{}",
            where_clause(&filter)
        ),
        Shape::Var(name) => format!(
            "SELECT \"{MAIN}\" AS {main}{} FROM {last}",
            var_columns("", &[name])
        ),
        Shape::View(id_type) => {
            if entity.id_type_index(id_type).is_none() {
                let types: Vec<&str> = entity.id_types.iter().map(|t| t.name.as_str()).collect();
                return Err(CoreError::invalid(format!(
                    "entity '{}' has no id type '{id_type}' (its id types: {})",
                    entity.name,
                    types.join(", ")
                )));
            }
            let mut conditions = format!("g.other_id_type = {}", quote_literal(id_type));
            if !filter.is_empty() {
                conditions.push_str(&format!(" AND {filter}"));
            }
            format!(
                "SELECT g.other_id AS {}{} FROM {last} AS f JOIN id_stitch({}) AS g \
                 ON g.{} = f.\"{MAIN}\" WHERE {conditions}",
                quote_ident(id_type),
                var_columns("f.", &visible),
                quote_literal(&entity.name),
                quote_ident(&entity.main_id_column)
            )
        }
    };
    let ctes: Vec<String> = ctes
        .into_iter()
        .map(|(name, sql)| format!("{name} AS ({sql})"))
        .collect();
    let sql = format!("WITH {} {body}", ctes.join(", "));
    tracing::debug!(entity = %entity.name, %sql, "composed feature query");
    Ok(sql)
}

/// The vars of one input aggregated in one `GROUP BY`.
struct AggregateGroup<'a> {
    input: String,
    filter: Option<String>,
    /// The arguments of its `DISTINCT` aggregates, if it has any.
    distinct: Option<String>,
    members: Vec<&'a Step>,
}

/// `expr` with each `count(DISTINCT x)` as [`COUNT_DISTINCT`]`(x)`, which counts the
/// distinct values of every entity at once, whatever their type.
fn with_count_distinct(expr: &Expr) -> Expr {
    let mut expr = expr.clone();
    let _ = visit_expressions_mut(&mut expr, |e| {
        if let Expr::Function(function) = e
            && function.name.to_string().eq_ignore_ascii_case("count")
            && let FunctionArguments::List(list) = &mut function.args
            && list.duplicate_treatment == Some(DuplicateTreatment::Distinct)
            && list.args.len() == 1
        {
            list.duplicate_treatment = None;
            function.name = ObjectName::from(vec![Ident::new(COUNT_DISTINCT)]);
        }
        ControlFlow::<()>::Continue(())
    });
    expr
}

/// The arguments of the `DISTINCT` aggregates of an expression, other than the
/// `count(DISTINCT x)` that [`with_count_distinct`] rewrites (`sum(DISTINCT x)`).
///
/// DataFusion computes a `GROUP BY` whose aggregates are all `DISTINCT` over one
/// argument (besides plain sum, min and max) by grouping on that argument first. Any
/// other mix falls back to a hash set per group and entity, several times slower and
/// taking many times the memory it reports to the pool. So vars with such aggregates
/// aggregate in a `GROUP BY` of their own per distinct argument, apart from the other
/// vars of their input.
fn distinct_arguments(expr: &Expr) -> Option<String> {
    let mut found = BTreeSet::new();
    let _ = visit_expressions(expr, |e| {
        if let Expr::Function(function) = e
            && let FunctionArguments::List(list) = &function.args
            && list.duplicate_treatment == Some(DuplicateTreatment::Distinct)
        {
            let args: Vec<String> = list.args.iter().map(ToString::to_string).collect();
            found.insert(args.join(", "));
        }
        ControlFlow::<()>::Continue(())
    });
    (!found.is_empty()).then(|| found.into_iter().collect::<Vec<_>>().join("; "))
}

fn stage_name(n: usize) -> String {
    format!("\"__knit_s{n}\"")
}

fn where_clause(filter: &str) -> String {
    if filter.is_empty() {
        String::new()
    } else {
        format!(" WHERE {filter}")
    }
}

/// `value`, or the var's default where it is NULL.
fn with_default(model: &EntityModel, names: &BTreeSet<String>, step: &Step, value: &str) -> String {
    match &step.var.definition.default {
        Some(default) => {
            let default = model.with_scope(names, None, |scope| scope.rewrite(default));
            format!("coalesce({value}, {default})")
        }
        None => value.to_string(),
    }
}

/// The rows of an input with its input vars, each with its entity's cluster.
pub(crate) fn rows_sql(model: &EntityModel, input: &Input) -> Result<String> {
    let ids = &input.definition.ids;
    let id_columns: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                "CAST(({}) AS VARCHAR) AS {}",
                id.expr,
                quote_ident(&id_column(i))
            )
        })
        .collect();
    let id_types: Vec<String> = ids
        .iter()
        .map(|id| format!(", {}", quote_literal(&id.id_type.value)))
        .collect();
    Ok(format!(
        "SELECT * FROM {LOOKUP_FUNCTION}({}, (SELECT *, {} FROM ({}) AS \"__knit_source\"){})",
        quote_literal(&model.entity.name),
        id_columns.join(", "),
        input_rows_sql(model, input)?,
        id_types.concat()
    ))
}

/// The rows of an input with one column per input var.
pub(crate) fn input_rows_sql(model: &EntityModel, input: &Input) -> Result<String> {
    let mut sql = format!("SELECT * FROM input_rows({})", quote_literal(&input.name));
    for var in model.input_var_order(&input.name)? {
        let rewrite = |expr: &Expr| -> Expr {
            let none = BTreeSet::new();
            let has_column = |_: &str| true;
            Scope {
                entity: "",
                vars: &none,
                input: Some((&input.name, &has_column)),
            }
            .rewrite(expr)
        };
        let definition = &var.definition;
        let mut value = rewrite(&definition.expr);
        let mut text = value.to_string();
        if let Some(filter) = &definition.filter {
            let keep = format!("coalesce(({}), false)", rewrite(filter));
            // Rows that fail the filter take no part in the var's windows.
            let partition = parse_expr(&keep)?;
            let _ = visit_expressions_mut(&mut value, |e| {
                if let Expr::Function(function) = e
                    && let Some(WindowType::WindowSpec(spec)) = &mut function.over
                {
                    spec.partition_by.insert(0, partition.clone());
                }
                ControlFlow::<()>::Continue(())
            });
            text = format!("CASE WHEN {keep} THEN {value} END");
        }
        if let Some(default) = &definition.default {
            text = format!("coalesce({text}, {})", rewrite(default));
        }
        sql = format!(
            "SELECT *, {text} AS {} FROM ({sql}) AS {}",
            quote_ident(&var.name),
            quote_ident(&input.name)
        );
    }
    Ok(sql)
}

/// Parses one SQL expression.
pub(crate) fn parse_expr(sql: &str) -> Result<Expr> {
    Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| CoreError::internal(format!("a composed expression does not parse ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_arguments_name_each_distinct_aggregate() {
        let args = |sql: &str| distinct_arguments(&parse_expr(sql).unwrap());
        assert_eq!(args("count(*) + sum(x)"), None);
        assert_eq!(args("count(DISTINCT a)").as_deref(), Some("a"));
        assert_eq!(
            args("sum(DISTINCT CAST(ts AS DATE)) * 2 + avg(DISTINCT a)").as_deref(),
            Some("CAST(ts AS DATE); a")
        );
    }

    #[test]
    fn count_distinct_is_rewritten_everywhere_in_an_expression() {
        let rewritten = |sql: &str| with_count_distinct(&parse_expr(sql).unwrap()).to_string();
        assert_eq!(
            rewritten("count(DISTINCT CAST(ts AS DATE)) * 2 + COUNT(DISTINCT a) FILTER (WHERE b)"),
            "__knit_count_distinct(CAST(ts AS DATE)) * 2 + __knit_count_distinct(a) FILTER (WHERE b)"
        );
        // Plain counts and other distinct aggregates stay.
        assert_eq!(
            rewritten("count(a) + sum(DISTINCT a)"),
            "count(a) + sum(DISTINCT a)"
        );
        let expr = parse_expr("count(DISTINCT a) + sum(DISTINCT b)").unwrap();
        assert_eq!(
            distinct_arguments(&with_count_distinct(&expr)).as_deref(),
            Some("b")
        );
    }
}
