// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Casts of fractional numbers to integers round, as warehouses' do.
//!
//! `CAST(7.5 AS INT)` is 8 in Snowflake, BigQuery, Redshift and PostgreSQL (for
//! `numeric`), and in DuckDB; arrow's cast, and so DataFusion's, truncates it to 7. A
//! var written `avg(amount)::int` would then differ from pb's by one for about half of
//! the entities. [`RoundingIntegerCasts`] is an analyzer rule, run after type coercion:
//! each cast (or `TRY_CAST`) of a float or decimal to an integer type casts the value
//! rounded half away from zero (`round`) instead. Names stay as written, so
//! `SELECT x::int` is still the column `x`. PostgreSQL rounds a `double precision`
//! exactly halfway to the even neighbour (`2.5::float8::int` is 2); Knit gives 3 there,
//! as Snowflake does.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, ExprSchema};
use datafusion::error::Result;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Cast, Expr, ExprSchemable, LogicalPlan, TryCast};
use datafusion::optimizer::AnalyzerRule;

use crate::expr_rewrite::rewrite_expressions;

/// Rounds fractional numbers before they are cast to integers (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct RoundingIntegerCasts;

impl AnalyzerRule for RoundingIntegerCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, rounded)
    }

    fn name(&self) -> &str {
        "knit_rounding_integer_casts"
    }
}

/// `expr`, with its value rounded first if it casts a fraction to an integer.
fn rounded(expr: Expr, schema: &DFSchema) -> Transformed<Expr> {
    let (inner, field, is_try) = match &expr {
        Expr::Cast(Cast { expr, field }) => (expr, field, false),
        Expr::TryCast(TryCast { expr, field }) => (expr, field, true),
        _ => return Transformed::no(expr),
    };
    if !field.data_type().is_integer() || !is_fraction(inner, schema) {
        return Transformed::no(expr);
    }
    let round = Box::new(Expr::ScalarFunction(ScalarFunction::new_udf(
        datafusion::functions::math::round(),
        vec![inner.as_ref().clone()],
    )));
    let field = Arc::clone(field);
    Transformed::yes(if is_try {
        Expr::TryCast(TryCast::new_from_field(round, field))
    } else {
        Expr::Cast(Cast::new_from_field(round, field))
    })
}

/// Whether `expr` is a float or a decimal (its type unknown: no).
fn is_fraction(expr: &Expr, schema: &dyn ExprSchema) -> bool {
    expr.get_type(schema).is_ok_and(|t| {
        t.is_floating()
            || matches!(
                t,
                datafusion::arrow::datatypes::DataType::Decimal32(..)
                    | datafusion::arrow::datatypes::DataType::Decimal64(..)
                    | datafusion::arrow::datatypes::DataType::Decimal128(..)
                    | datafusion::arrow::datatypes::DataType::Decimal256(..)
            )
    })
}
