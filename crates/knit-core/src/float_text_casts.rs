// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Floats turned into text read as PostgreSQL writes them: `163`, not `163.0`.
//!
//! Arrow's cast writes a whole float with a trailing `.0`, so `CAST(x AS VARCHAR)`,
//! `concat(user_id, '-', amount)` and `x || ''` over a `double precision` column gave
//! `163.0` where pb's warehouse gives `163` (PostgreSQL and Snowflake alike). Ids are
//! such text too: a `user_id` column that a tool wrote as doubles (pandas does, for an
//! integer column with NULLs) became the id `123.0`, a different id than pb's `123`.
//! [`FloatTextCasts`] is an analyzer rule, run after type coercion: each cast of a float
//! to text calls [`FloatText`] (`__knit_float_text`) instead, which writes it as
//! PostgreSQL's `float8out` and `float4out` do.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Cast, Expr, ExprSchemable, LogicalPlan, ScalarUDF, TryCast};
use datafusion::optimizer::AnalyzerRule;

use crate::expr_rewrite::rewrite_expressions;
use crate::functions::float_text::FloatText;

/// Writes casts of floats to text as PostgreSQL does (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct FloatTextCasts;

impl AnalyzerRule for FloatTextCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let function = Arc::new(ScalarUDF::from(FloatText::default()));
        rewrite_expressions(plan, |expr, schema| as_text(expr, schema, &function))
    }

    fn name(&self) -> &str {
        "knit_float_text"
    }
}

/// `expr`, written by [`FloatText`] if it casts a float to text.
fn as_text(expr: Expr, schema: &DFSchema, function: &Arc<ScalarUDF>) -> Transformed<Expr> {
    let (inner, field) = match &expr {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => (expr, field),
        _ => return Transformed::no(expr),
    };
    let to_text = matches!(
        field.data_type(),
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    );
    let from_float = inner
        .get_type(schema)
        .is_ok_and(|t| matches!(t, DataType::Float32 | DataType::Float64));
    if !(to_text && from_float) {
        return Transformed::no(expr);
    }
    let text = Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::clone(function),
        vec![inner.as_ref().clone()],
    ));
    let field = Arc::clone(field);
    // The text comes as a view; the cast gives the type asked for.
    Transformed::yes(Expr::Cast(Cast::new_from_field(Box::new(text), field)))
}
