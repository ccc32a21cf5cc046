// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Comparisons of text with a boolean: `deleted = FALSE` on a text column that holds
//! `'true'`/`'false'`. Snowflake, Redshift and Spark cast the text to a boolean, and pb
//! projects written for them rely on it; DataFusion finds no common type. The text side
//! of `= <> < <= > >=` goes through `to_boolean` when the other side is a boolean, so it
//! reads text as Snowflake's `TO_BOOLEAN` does: `'true' 't' 'yes' 'y' 'on' '1'` are true
//! and their opposites false, in any case, and other text is an error that names it.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// Casts the text operand of a comparison with a boolean to a boolean; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct TextBooleanComparison;

impl ExprPlanner for TextBooleanComparison {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let comparison = matches!(
            expr.op,
            BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq
        );
        if !comparison {
            return Ok(PlannerResult::Original(expr));
        }
        let kind = |e: &Expr| match e.get_type(schema) {
            Ok(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => Operand::Text,
            Ok(DataType::Boolean) => Operand::Boolean,
            _ => Operand::Other,
        };
        let as_boolean = |e: Expr| {
            Expr::ScalarFunction(ScalarFunction::new_udf(
                std::sync::Arc::new(super::warehouse_misc::to_boolean_function()),
                vec![e],
            ))
        };
        Ok(PlannerResult::Original(
            match (kind(&expr.left), kind(&expr.right)) {
                (Operand::Text, Operand::Boolean) => RawBinaryExpr {
                    op: expr.op,
                    left: as_boolean(expr.left),
                    right: expr.right,
                },
                (Operand::Boolean, Operand::Text) => RawBinaryExpr {
                    op: expr.op,
                    left: expr.left,
                    right: as_boolean(expr.right),
                },
                _ => expr,
            },
        ))
    }
}

#[derive(Debug, Clone, Copy)]
enum Operand {
    Text,
    Boolean,
    Other,
}
