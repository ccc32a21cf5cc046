// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `__knit_float_text(x)`: a float as PostgreSQL (and Snowflake) write it as text: the
//! shortest digits that read back as the same float, in fixed notation for exponents
//! from -4 to 14 (to 5 for `real`), else as `1.5e-07` or `1e+15`, and `NaN`,
//! `Infinity`, `-Infinity`, `-0`, as PostgreSQL's `float8out` and `float4out` do.
//! Knit's casts of floats to text call it (module `float_text_casts`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringViewBuilder};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::columnar;

/// `__knit_float_text(x)`: a float as PostgreSQL's text of it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct FloatText {
    signature: Signature,
}

impl Default for FloatText {
    fn default() -> Self {
        Self {
            signature: Signature::uniform(
                1,
                vec![DataType::Float32, DataType::Float64],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for FloatText {
    fn name(&self) -> &str {
        "__knit_float_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8View)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("__knit_float_text() takes one argument");
        };
        let scalar = matches!(value, ColumnarValue::Scalar(_));
        let array = value.to_array(args.number_rows)?;
        let mut out = StringViewBuilder::with_capacity(array.len());
        match array.data_type() {
            DataType::Float64 => {
                for v in array.as_primitive::<Float64Type>().iter() {
                    out.append_option(v.map(float_text));
                }
            }
            DataType::Float32 => {
                for v in array.as_primitive::<Float32Type>().iter() {
                    out.append_option(v.map(float_text));
                }
            }
            other => return exec_err!("__knit_float_text() takes a float, not {other}"),
        }
        let text: ArrayRef = Arc::new(out.finish());
        columnar(text, scalar)
    }
}

/// A float type as PostgreSQL writes it: in fixed notation below an exponent of
/// `FIXED_UP_TO` (its `DBL_DIG` or `FLT_DIG`).
trait PostgresFloat: Copy + Into<f64> + std::fmt::Display + std::fmt::LowerExp {
    const FIXED_UP_TO: i32;
}

impl PostgresFloat for f64 {
    const FIXED_UP_TO: i32 = 15;
}

impl PostgresFloat for f32 {
    const FIXED_UP_TO: i32 = 6;
}

/// `value` as PostgreSQL writes it: Rust's shortest round-trip digits of it (`{}` is
/// fixed notation, `{:e}` scientific), the exponent in PostgreSQL's style (`e+15`,
/// `e-07`) below -4 and from [`PostgresFloat::FIXED_UP_TO`] on.
fn float_text<F: PostgresFloat>(value: F) -> String {
    let wide: f64 = value.into();
    if wide.is_nan() {
        return "NaN".to_string();
    }
    if wide.is_infinite() {
        return if wide > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if wide == 0.0 {
        return if wide.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let scientific = format!("{value:e}");
    let parts = scientific
        .split_once('e')
        .and_then(|(mantissa, exponent)| Some((mantissa, exponent.parse::<i32>().ok()?)));
    match parts {
        Some((mantissa, exponent)) if !(-4..F::FIXED_UP_TO).contains(&exponent) => {
            let sign = if exponent < 0 { '-' } else { '+' };
            format!("{mantissa}e{sign}{:02}", exponent.abs())
        }
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text64(v: f64) -> String {
        float_text(v)
    }

    fn text32(v: f32) -> String {
        float_text(v)
    }

    #[test]
    fn doubles_read_as_postgresql_writes_them() {
        // PostgreSQL 15's float8out for each.
        assert_eq!(text64(163.0), "163");
        assert_eq!(text64(-2.5), "-2.5");
        assert_eq!(text64(0.1), "0.1");
        assert_eq!(text64(1e14), "100000000000000");
        assert_eq!(text64(1e15), "1e+15");
        assert_eq!(text64(123456789012345680.0), "1.2345678901234568e+17");
        assert_eq!(text64(0.0001), "0.0001");
        assert_eq!(text64(0.000015), "1.5e-05");
        assert_eq!(text64(1e-300), "1e-300");
        assert_eq!(text64(-0.0), "-0");
        assert_eq!(text64(f64::NAN), "NaN");
        assert_eq!(text64(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn reals_switch_to_exponents_sooner() {
        assert_eq!(text32(123456.0), "123456");
        assert_eq!(text32(1e6), "1e+06");
        assert_eq!(text32(0.1), "0.1");
        assert_eq!(text32(163.0), "163");
    }
}
