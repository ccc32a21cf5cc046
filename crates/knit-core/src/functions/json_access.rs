// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `x['key']` and `x[0]` on text: a JSON field or element, as Snowflake reads a variant
//! (`t.value['sku']` after `FLATTEN`). Knit keeps JSON as text, so the access is
//! `json_as_text(x, 'key')`: strings come back without their quotes, objects and arrays
//! as JSON text (so accesses chain), and a missing key or text that is not JSON is NULL.
//! A list's element is `list_element` (counted from the session's `knit.list_index_base`);
//! structs and maps keep DataFusion's own field access.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawFieldAccessExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, GetFieldAccess, ScalarUDF, lit};

use super::list_element::ListElement;

/// Plans field access on text as JSON access; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct JsonFieldAccess;

impl ExprPlanner for JsonFieldAccess {
    fn plan_field_access(
        &self,
        expr: RawFieldAccessExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawFieldAccessExpr>> {
        let key = match &expr.field_access {
            GetFieldAccess::NamedStructField { name } => lit(name.clone()),
            GetFieldAccess::ListIndex { key } => (**key).clone(),
            GetFieldAccess::ListRange { .. } => return Ok(PlannerResult::Original(expr)),
        };
        match expr.expr.get_type(schema) {
            Ok(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {}
            Ok(DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..))
                if matches!(expr.field_access, GetFieldAccess::ListIndex { .. }) =>
            {
                return Ok(PlannerResult::Planned(Expr::ScalarFunction(
                    ScalarFunction::new_udf(
                        Arc::new(ScalarUDF::from(ListElement::new())),
                        vec![expr.expr, key],
                    ),
                )));
            }
            _ => return Ok(PlannerResult::Original(expr)),
        }
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(
                datafusion_functions_json::udfs::json_as_text_udf(),
                vec![expr.expr, key],
            ),
        )))
    }
}
