// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `x['key']` and `x[0]` on text: a JSON field or element, as Snowflake reads a variant
//! (`t.value['sku']` after `FLATTEN`). Knit keeps JSON as text, so the access is
//! `json_as_text(x, 'key')`: strings come back without their quotes, objects and arrays
//! as JSON text (so accesses chain), and a missing key or text that is not JSON is NULL.
//! Structs, maps and lists keep DataFusion's own field access: lists count from 1, and
//! `list[0]` is an error that says so (a warehouse's `[0]` is the first element, which
//! DataFusion would answer with NULL, or fail on for `array_agg(x)[0]`).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, ScalarValue, plan_err};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawFieldAccessExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, GetFieldAccess, lit};

/// Plans field access on text as JSON access; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct JsonFieldAccess;

impl ExprPlanner for JsonFieldAccess {
    fn plan_field_access(
        &self,
        expr: RawFieldAccessExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawFieldAccessExpr>> {
        let is_text = matches!(
            expr.expr.get_type(schema),
            Ok(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        );
        let key = match &expr.field_access {
            GetFieldAccess::NamedStructField { name } => lit(name.clone()),
            GetFieldAccess::ListIndex { key } => (**key).clone(),
            GetFieldAccess::ListRange { .. } => return Ok(PlannerResult::Original(expr)),
        };
        if !is_text {
            let is_list = matches!(
                expr.expr.get_type(schema),
                Ok(DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..))
            );
            if is_list && is_zero(&key) {
                return plan_err!(
                    "{}[0]: Knit's lists count from 1, as PostgreSQL's and DuckDB's do, so \
                     index 0 is before the first element; write [1] for the first \
                     (Snowflake's [0])",
                    expr.expr.schema_name()
                );
            }
            return Ok(PlannerResult::Original(expr));
        }
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(
                datafusion_functions_json::udfs::json_as_text_udf(),
                vec![expr.expr, key],
            ),
        )))
    }
}

/// Whether `key` is the integer literal 0.
fn is_zero(key: &Expr) -> bool {
    match key {
        Expr::Literal(value, _) => matches!(
            value,
            ScalarValue::Int8(Some(0))
                | ScalarValue::Int16(Some(0))
                | ScalarValue::Int32(Some(0))
                | ScalarValue::Int64(Some(0))
                | ScalarValue::UInt8(Some(0))
                | ScalarValue::UInt16(Some(0))
                | ScalarValue::UInt32(Some(0))
                | ScalarValue::UInt64(Some(0))
        ),
        _ => false,
    }
}
