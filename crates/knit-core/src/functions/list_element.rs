// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `list[i]`: the element of a list, counted from where the session's
//! `knit.list_index_base` says. DataFusion's lists count from 1, as PostgreSQL's do;
//! warehouses' arrays (Snowflake's `array_construct(..)[0]`, `split(s, ',')[0]`) count
//! from 0, and `knit project` scripts set the base to 0 for the SQL pb projects write.
//!
//! The subscript is planned as `list_element(list, i)`, which the optimizer's
//! simplification (which sees the session's settings) turns into DataFusion's
//! `array_element(list, i + shift)`. With base 1, `list[0]` is an error that says how
//! to count, since it is before the first element.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::compute::kernels::numeric::add_wrapping;
use datafusion::arrow::compute::{cast, kernels::cmp::eq};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::functions_nested::extract::array_element_udf;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
    cast as cast_expr, lit,
};

use crate::options::{KnitOptions, ListIndexBase};

/// `list_element(list, i)`: see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ListElement {
    signature: Signature,
}

impl ListElement {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// The session's list base.
fn base(config: &ConfigOptions) -> ListIndexBase {
    config
        .extensions
        .get::<KnitOptions>()
        .map(|options| options.list_index_base)
        .unwrap_or_default()
}

/// The error for `list[0]` where lists count from 1.
fn zero_index_error<T>(list: &str) -> Result<T> {
    plan_err!(
        "{list}[0]: lists count from 1 here (PostgreSQL's and DuckDB's way), so index 0 is \
         before the first element; write [1] for the first, or SET knit.list_index_base = 0 \
         to count from 0 as warehouses' arrays do (knit project scripts do)"
    )
}

impl ScalarUDFImpl for ListElement {
    fn name(&self) -> &str {
        "list_element"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [
                DataType::List(field)
                | DataType::LargeList(field)
                | DataType::FixedSizeList(field, _),
                index,
            ] if index.is_integer() || index.is_floating() || index.is_null() => {
                Ok(field.data_type().clone())
            }
            [list, index] => {
                plan_err!("{list}[{index}]: a list's element takes a whole-number index")
            }
            _ => plan_err!("list_element() takes a list and an index"),
        }
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let [list, index] = <[Expr; 2]>::try_from(args).map_err(|_| {
            datafusion::error::DataFusionError::Plan(
                "list_element() takes a list and an index".to_string(),
            )
        })?;
        let index = cast_expr(index, DataType::Int64);
        let index = match base(info.config_options()) {
            ListIndexBase::One => {
                if is_zero(&index) {
                    return zero_index_error(&list.schema_name().to_string());
                }
                index
            }
            ListIndexBase::Zero => index + lit(1i64),
        };
        Ok(ExprSimplifyResult::Simplified(Expr::ScalarFunction(
            ScalarFunction::new_udf(array_element_udf(), vec![list, index]),
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Plans are simplified before they run; this is for one that was not.
        let rows = args.number_rows;
        let [list, index] = args.args.as_slice() else {
            return exec_err!("list_element() takes a list and an index");
        };
        let index = cast(&index.to_array(rows)?, &DataType::Int64)?;
        let index: ArrayRef = match base(&args.config_options) {
            ListIndexBase::One => {
                let zero = ScalarValue::Int64(Some(0)).to_array_of_size(index.len())?;
                if eq(&index, &zero)?.true_count() > 0 {
                    return zero_index_error("list");
                }
                index
            }
            ListIndexBase::Zero => {
                let one = ScalarValue::Int64(Some(1)).to_array_of_size(index.len())?;
                add_wrapping(&index, &one)?
            }
        };
        let element_args = ScalarFunctionArgs {
            args: vec![list.clone(), ColumnarValue::Array(index)],
            arg_fields: args.arg_fields.clone(),
            number_rows: rows,
            return_field: Arc::clone(&args.return_field),
            config_options: Arc::clone(&args.config_options),
        };
        array_element_udf().invoke_with_args(element_args)
    }
}

/// Whether `index` is the whole-number literal 0 (cast or not).
fn is_zero(index: &Expr) -> bool {
    match index {
        Expr::Cast(cast) => is_zero(&cast.expr),
        Expr::Literal(value, _) => {
            value.data_type().is_integer()
                && matches!(
                    value.cast_to(&DataType::Int64),
                    Ok(ScalarValue::Int64(Some(0)))
                )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, ListArray};
    use datafusion::arrow::datatypes::{Field, Int32Type};

    use super::*;

    /// The unsimplified path counts from the session's base, as the simplified one does.
    #[test]
    fn invoke_counts_from_the_sessions_base() {
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(7), Some(8)]),
            Some(vec![Some(9)]),
        ]));
        let run = |base: ListIndexBase, index: i64| {
            let mut config = ConfigOptions::new();
            config.extensions.insert(KnitOptions {
                list_index_base: base,
                ..KnitOptions::default()
            });
            let args = ScalarFunctionArgs {
                args: vec![
                    ColumnarValue::Array(Arc::clone(&list)),
                    ColumnarValue::Array(Arc::new(Int64Array::from(vec![index, index]))),
                ],
                arg_fields: vec![
                    Arc::new(Field::new("l", list.data_type().clone(), true)),
                    Arc::new(Field::new("i", DataType::Int64, true)),
                ],
                number_rows: 2,
                return_field: Arc::new(Field::new("e", DataType::Int32, true)),
                config_options: Arc::new(config),
            };
            ListElement::new()
                .invoke_with_args(args)
                .and_then(|v| v.to_array(2))
                .map(|a| format!("{a:?}"))
        };
        let zero = run(ListIndexBase::Zero, 0).unwrap();
        assert!(zero.contains("7,\n  9"), "{zero}");
        let one = run(ListIndexBase::One, 1).unwrap();
        assert_eq!(one, zero);
        let past = run(ListIndexBase::Zero, 1).unwrap();
        assert!(past.contains("8,\n  null"), "{past}");
        let error = run(ListIndexBase::One, 0).unwrap_err().to_string();
        assert!(error.contains("lists count from 1"), "{error}");
    }
}
