// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit_between(x, low, high)`: `x BETWEEN low AND high` as one function, so that `x`
//! is evaluated once per row. Knit writes a `BETWEEN` whose `x` calls a volatile
//! function (`random() BETWEEN 0.25 AND 0.75`) as this call: DataFusion's simplifier
//! would write it `x >= low AND x <= high`, drawing `x` twice.
//!
//! The answer is SQL's: `x >= low AND x <= high` in three-valued logic (NULL when a
//! comparison is NULL and the other is not false).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::compute::kernels::boolean::and_kleene;
use datafusion::arrow::compute::kernels::cmp::{gt_eq, lt_eq};
use datafusion::arrow::compute::{can_cast_types, cast};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// The name of the function.
pub(crate) const BETWEEN_ONCE: &str = "knit_between";

/// `knit_between(x, low, high)`: see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct BetweenOnce {
    signature: Signature,
}

impl BetweenOnce {
    /// The function.
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

impl Default for BetweenOnce {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for BetweenOnce {
    fn name(&self) -> &str {
        BETWEEN_ONCE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [value, low, high] if can_cast_types(low, value) && can_cast_types(high, value) => {
                Ok(DataType::Boolean)
            }
            [value, low, high] => plan_err!(
                "{BETWEEN_ONCE}: {value} cannot be compared with {low} and {high}; cast them \
                 to one type"
            ),
            _ => plan_err!("{BETWEEN_ONCE} takes a value, a low and a high bound"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value, low, high] = args.args.as_slice() else {
            return exec_err!("{BETWEEN_ONCE} takes a value, a low and a high bound");
        };
        let rows = args.number_rows;
        let value = value.to_array(rows)?;
        let bound = |bound: &ColumnarValue| -> Result<ArrayRef> {
            let array = bound.to_array(rows)?;
            if array.data_type() == value.data_type() {
                Ok(array)
            } else {
                Ok(cast(&array, value.data_type())?)
            }
        };
        let (low, high) = (bound(low)?, bound(high)?);
        let above = gt_eq(&value, &low)?;
        let below = lt_eq(&value, &high)?;
        Ok(ColumnarValue::Array(Arc::new(and_kleene(&above, &below)?)))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{BooleanArray, Float64Array};
    use datafusion::arrow::datatypes::Field;
    use datafusion::common::ScalarValue;
    use datafusion::common::config::ConfigOptions;

    use super::*;

    /// `knit_between` of `values` between two scalar bounds.
    fn between(values: Vec<Option<f64>>, low: Option<f64>, high: Option<f64>) -> Vec<Option<bool>> {
        let fields = (0..3)
            .map(|_| Arc::new(Field::new("x", DataType::Float64, true)))
            .collect();
        let args = ScalarFunctionArgs {
            number_rows: values.len(),
            args: vec![
                ColumnarValue::Array(Arc::new(Float64Array::from(values))),
                ColumnarValue::Scalar(ScalarValue::Float64(low)),
                ColumnarValue::Scalar(ScalarValue::Float64(high)),
            ],
            arg_fields: fields,
            return_field: Arc::new(Field::new("b", DataType::Boolean, true)),
            config_options: Arc::new(ConfigOptions::default()),
        };
        let ColumnarValue::Array(result) = BetweenOnce::new().invoke_with_args(args).unwrap()
        else {
            panic!("an array");
        };
        let result = result.as_any().downcast_ref::<BooleanArray>().unwrap();
        result.iter().collect()
    }

    #[test]
    fn bounds_are_inclusive_and_nulls_are_three_valued() {
        assert_eq!(
            between(
                vec![
                    Some(0.1),
                    Some(0.25),
                    Some(0.5),
                    Some(0.75),
                    Some(0.9),
                    None
                ],
                Some(0.25),
                Some(0.75)
            ),
            vec![
                Some(false),
                Some(true),
                Some(true),
                Some(true),
                Some(false),
                None
            ]
        );
        // A NULL bound with a false comparison is false; with a true one, NULL.
        assert_eq!(
            between(vec![Some(0.1), Some(0.5)], Some(0.25), None),
            vec![Some(false), None]
        );
    }
}
