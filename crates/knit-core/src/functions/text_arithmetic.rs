// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Arithmetic on text that holds a number: `right(random(), 2) / 100`, `'1.5' * 2`.
//! Snowflake, Spark and Redshift cast such text to a number, and pb projects written
//! for them rely on it; DataFusion refuses the expression. The text side of `+ - * / %`
//! is cast to a double when the other side is a number or text too; a value that is not
//! a number is an error when the row is computed, as in Snowflake. Expressions DataFusion
//! already plans (numbers, times and intervals, `||` on text) are left as they are.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, cast};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// Casts the text operands of arithmetic to numbers; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct TextArithmetic;

impl ExprPlanner for TextArithmetic {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let arithmetic = matches!(
            expr.op,
            BinaryOperator::Plus
                | BinaryOperator::Minus
                | BinaryOperator::Multiply
                | BinaryOperator::Divide
                | BinaryOperator::Modulo
        );
        if !arithmetic {
            return Ok(PlannerResult::Original(expr));
        }
        let kind = |e: &Expr| match e.get_type(schema) {
            Ok(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => Operand::Text,
            Ok(t) if t.is_numeric() => Operand::Number,
            _ => Operand::Other,
        };
        let (left, right) = (kind(&expr.left), kind(&expr.right));
        let numeric = |e: Expr, k: Operand| match k {
            Operand::Text => cast(e, DataType::Float64),
            _ => e,
        };
        match (left, right) {
            (Operand::Text, Operand::Text | Operand::Number) | (Operand::Number, Operand::Text) => {
                Ok(PlannerResult::Original(RawBinaryExpr {
                    op: expr.op,
                    left: numeric(expr.left, left),
                    right: numeric(expr.right, right),
                }))
            }
            _ => Ok(PlannerResult::Original(expr)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Operand {
    Text,
    Number,
    Other,
}
