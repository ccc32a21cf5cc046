// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `date(x)`: the calendar date of a timestamp (in its time zone; UTC for `timestamptz`
//! values), of a date, or of a timestamp written as text, as PostgreSQL's `date()`.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// `date(x)`: see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct DateFunc {
    signature: Signature,
}

impl DateFunc {
    /// The function.
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl Default for DateFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for DateFunc {
    fn name(&self) -> &str {
        "date"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [
                DataType::Date32
                | DataType::Date64
                | DataType::Timestamp(_, _)
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Null,
            ] => Ok(DataType::Date32),
            [other] => plan_err!(
                "date() takes a timestamp, a date or text, not {other}; cast the argument first"
            ),
            _ => plan_err!("date() takes one argument"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("date() takes one argument");
        };
        let is_scalar = matches!(value, ColumnarValue::Scalar(_));
        let array = value.to_array(args.number_rows)?;
        let dates = to_date(&array)?;
        if is_scalar {
            let scalar = datafusion::common::ScalarValue::try_from_array(&dates, 0)?;
            return Ok(ColumnarValue::Scalar(scalar));
        }
        Ok(ColumnarValue::Array(dates))
    }
}

fn to_date(array: &ArrayRef) -> Result<ArrayRef> {
    let array = match array.data_type() {
        // Text goes through a timestamp so that '2024-05-01T10:00:00Z' works too.
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Arc::new(cast(
            array,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )?),
        _ => Arc::clone(array),
    };
    Ok(cast(&array, &DataType::Date32)?)
}
