// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `feature_table(..)`, `var_table(..)`, `feature_view(..)` and `cohort(..)` in a statement become the
//! queries [`compose`](super::compose) writes for them, before DataFusion plans the
//! statement.
//!
//! They are expanded rather than registered as table functions because a table
//! function is called while the statement is planned, synchronously, and cannot plan
//! SQL of its own; expanded, the whole feature query is planned and optimized with the
//! statement around it, and EXPLAIN shows it.

use std::ops::ControlFlow;

use datafusion::sql::parser::{CopyToSource, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, Ident, ObjectNamePart, Query, TableAlias, TableFactor,
    Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::compose::{AggregateNames, Shape, compose};
use super::model::{EntityModel, cohort_conditions};
use super::names::normalize;
use crate::catalog::Catalog;
use crate::error::{CoreError, Result};

/// The names of the functions expanded here.
const FEATURE_FUNCTIONS: [&str; 5] = [
    "feature_table",
    "var_table",
    "feature_view",
    "cohort",
    "entity_vars",
];

/// Replaces every call of a feature function in `statement` by its query.
pub(crate) fn expand_feature_functions(
    catalog: &Catalog,
    aggregates: &AggregateNames,
    statement: &mut DFStatement,
) -> Result<()> {
    let mut expander = Expander {
        catalog,
        aggregates,
    };
    let flow = match statement {
        DFStatement::Statement(inner) => inner.visit(&mut expander),
        DFStatement::CopyTo(copy) => match &mut copy.source {
            CopyToSource::Query(query) => query.visit(&mut expander),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        DFStatement::Explain(explain) => {
            return expand_feature_functions(catalog, aggregates, &mut explain.statement);
        }
        _ => ControlFlow::Continue(()),
    };
    match flow {
        ControlFlow::Break(error) => Err(error),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct Expander<'a> {
    catalog: &'a Catalog,
    aggregates: &'a AggregateNames,
}

impl VisitorMut for Expander<'_> {
    type Break = CoreError;

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<CoreError> {
        let TableFactor::Table {
            name,
            alias,
            args: Some(args),
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let [ObjectNamePart::Identifier(function)] = name.0.as_slice() else {
            return ControlFlow::Continue(());
        };
        let function = normalize(function);
        if !FEATURE_FUNCTIONS.contains(&function.as_str()) {
            return ControlFlow::Continue(());
        }
        let expanded = string_args(&function, &args.args)
            .and_then(|args| feature_query(self.catalog, self.aggregates, &function, &args))
            .and_then(|sql| parse_query(&sql));
        match expanded {
            Ok(query) => {
                let alias = alias.take().unwrap_or(TableAlias {
                    explicit: true,
                    name: Ident::new(function),
                    columns: Vec::new(),
                    at: None,
                });
                *factor = TableFactor::Derived {
                    lateral: false,
                    subquery: Box::new(query),
                    alias: Some(alias),
                    sample: None,
                };
                ControlFlow::Continue(())
            }
            Err(error) => ControlFlow::Break(error),
        }
    }
}

/// The arguments of a call: string literals, or bare names.
fn string_args(function: &str, args: &[FunctionArg]) -> Result<Vec<String>> {
    args.iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(value))) => match &value.value {
                Value::SingleQuotedString(text) => Ok(text.clone()),
                _ => Err(usage(function)),
            },
            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(ident))) => {
                Ok(ident.value.clone())
            }
            _ => Err(usage(function)),
        })
        .collect()
}

fn usage(function: &str) -> CoreError {
    CoreError::invalid(match function {
        "feature_table" => "feature_table takes an entity and optionally a cohort, as in \
                            feature_table('user') or feature_table('user', 'engaged')"
            .to_string(),
        "var_table" => "var_table takes an entity and optionally a cohort, as in \
                        var_table('user') or var_table('user', 'engaged')"
            .to_string(),
        "entity_vars" => "entity_vars takes an entity and one or more of its vars, as in \
                          entity_vars('user', 'ltv') or entity_vars('user', 'ltv', 'orders')"
            .to_string(),
        "feature_view" => "feature_view takes an entity, an id type and optionally a cohort, \
                           as in feature_view('user', 'email') or feature_view('user', 'email', \
                           'engaged')"
            .to_string(),
        _ => "cohort takes the name of a cohort, as in cohort('engaged')".to_string(),
    })
}

/// The SQL of one call.
fn feature_query(
    catalog: &Catalog,
    aggregates: &AggregateNames,
    function: &str,
    args: &[String],
) -> Result<String> {
    let (entity, id_type, cohort) = match (function, args) {
        ("feature_table" | "var_table", [entity]) => (entity.clone(), None, None),
        ("feature_table" | "var_table", [entity, cohort]) => (entity.clone(), None, Some(cohort)),
        ("feature_view", [entity, id_type]) => (entity.clone(), Some(id_type), None),
        ("feature_view", [entity, id_type, cohort]) => {
            (entity.clone(), Some(id_type), Some(cohort))
        }
        ("cohort", [cohort]) => (catalog.cohort(cohort)?.entity.clone(), None, Some(cohort)),
        ("entity_vars", [entity, _, ..]) => (entity.clone(), None, None),
        _ => return Err(usage(function)),
    };
    let model = EntityModel::load(catalog, &entity)?;
    let conditions = match cohort {
        Some(cohort) => {
            let (cohort_entity, conditions) = cohort_conditions(catalog, cohort)?;
            if cohort_entity != model.entity.name {
                return Err(CoreError::invalid(format!(
                    "cohort '{cohort}' is a cohort of entity '{cohort_entity}', not of '{}'",
                    model.entity.name
                )));
            }
            conditions
        }
        None => Vec::new(),
    };
    let named: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let shape = match (function, id_type) {
        ("entity_vars", _) => Shape::Vars(&named),
        ("cohort", _) => Shape::Members,
        ("var_table", _) => Shape::VarTable,
        (_, Some(id_type)) => Shape::View(id_type),
        _ => Shape::Table,
    };
    compose(&model, &conditions, shape, aggregates)
}

/// Parses a composed query.
pub(crate) fn parse_query(sql: &str) -> Result<Query> {
    Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut parser| parser.parse_query())
        .map(|query| *query)
        .map_err(|e| CoreError::internal(format!("a composed feature query does not parse ({e})")))
}
