// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Snowflake's functions of a whole value: its hash and its type.
//!
//! | function | answer |
//! | --- | --- |
//! | `hash(x, ...)` | a signed 64-bit hash of the values together; never NULL (a NULL hashes too); numbers equal in value hash alike (`hash(10)`, `hash(10.0)`, `hash(10::decimal)`), text differs from the number it spells (`hash('10')`) |
//! | `typeof(x)` | the type of the value, as Snowflake names a variant's: `INTEGER`, `DECIMAL`, `DOUBLE`, `BOOLEAN`, `VARCHAR`, `DATE`, `TIMESTAMP_NTZ`, `TIMESTAMP_TZ`, `TIME`, `BINARY`, `ARRAY`, `OBJECT`, `NULL_VALUE` (a JSON null); NULL for NULL |
//!
//! Snowflake does not publish its hash function, so `hash` gives other numbers than
//! Snowflake's (xxHash64 of a canonical form of the values): it is stable across Knit
//! versions and machines, which is what bucketing by it (`hash(id) % 10 = 0`) needs.
//! Knit keeps JSON as text, so `typeof` reads text as a variant: text holding a JSON
//! object, array, number, boolean or null is of that type (`typeof(j:age)` is
//! `INTEGER`), any other text is `VARCHAR`. A JSON string field that spells a number
//! therefore reads as a number, where Snowflake says `VARCHAR`; a JSON null inside a
//! document reads as NULL (`j:a` is SQL NULL), and a number with an exponent as
//! `DECIMAL` (Snowflake: `DOUBLE`).

use std::hash::Hasher;
use std::sync::Arc;

use super::{argument_arrays, check_arity, columnar};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Builder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;
use twox_hash::XxHash64;

/// The functions, for the session to register.
pub(crate) fn functions() -> Vec<ScalarUDF> {
    [(Kind::Hash, "hash"), (Kind::TypeOf, "typeof")]
        .into_iter()
        .map(|(kind, name)| {
            ScalarUDF::from(ValueFunction {
                kind,
                name,
                signature: Signature::variadic_any(Volatility::Immutable),
            })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Hash,
    TypeOf,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ValueFunction {
    kind: Kind,
    name: &'static str,
    signature: Signature,
}

impl ScalarUDFImpl for ValueFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match self.kind {
            Kind::Hash => {
                if arg_types.is_empty() {
                    return plan_err!("hash() takes one or more arguments, got none");
                }
                Ok(DataType::Int64)
            }
            Kind::TypeOf => {
                check_arity(self.name, arg_types.len(), 1, 1)?;
                Ok(DataType::Utf8)
            }
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let (arrays, constants) = argument_arrays(&args)?;
        let result = match self.kind {
            Kind::Hash => hash_rows(&arrays, rows)?,
            Kind::TypeOf => type_names(&arrays[0])?,
        };
        columnar(result, constants)
    }
}

/// One argument's values in the canonical form the hash reads: numbers as integers when
/// they are whole (so `10`, `10.0` and a decimal 10 hash alike), else as doubles.
enum Canonical {
    Null,
    Integer(ArrayRef),
    Number(ArrayRef),
    Boolean(ArrayRef),
    Text(ArrayRef),
    Date(ArrayRef),
    Timestamp(ArrayRef),
}

// Tags that keep values of different kinds apart (`'10'` from `10`, a date from its
// day number).
const NULL_TAG: u8 = 0;
const INTEGER_TAG: u8 = 1;
const NUMBER_TAG: u8 = 2;
const BOOLEAN_TAG: u8 = 3;
const TEXT_TAG: u8 = 4;
const DATE_TAG: u8 = 5;
const TIMESTAMP_TAG: u8 = 6;

fn canonical(array: &ArrayRef) -> Result<Canonical> {
    let data_type = array.data_type();
    Ok(match data_type {
        DataType::Null => Canonical::Null,
        t if t.is_integer() => Canonical::Integer(cast(array, &DataType::Int64)?),
        t if t.is_numeric() => Canonical::Number(cast(array, &DataType::Float64)?),
        DataType::Boolean => Canonical::Boolean(Arc::clone(array)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            Canonical::Text(cast(array, &DataType::Utf8)?)
        }
        DataType::Date32 | DataType::Date64 => Canonical::Date(cast(array, &DataType::Date32)?),
        // The instant, whatever zone it is shown in.
        DataType::Timestamp(_, _) => Canonical::Timestamp(cast(
            array,
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?),
        t if super::to_json::is_nested(t) => Canonical::Text(super::to_json::json_text(array)?),
        t => match cast(array, &DataType::Utf8) {
            Ok(text) => Canonical::Text(text),
            Err(_) => return plan_err!("hash() cannot hash values of type {t}"),
        },
    })
}

/// `hash(x, ...)` of each row: xxHash64 (seed 0) of the arguments' canonical values,
/// numbers written little-endian so that every machine gives the same hash.
fn hash_rows(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let columns = arrays.iter().map(canonical).collect::<Result<Vec<_>>>()?;
    let mut out = Int64Builder::with_capacity(rows);
    for row in 0..rows {
        let mut hasher = XxHash64::with_seed(0);
        for column in &columns {
            write_value(&mut hasher, column, row);
        }
        out.append_value(hasher.finish() as i64);
    }
    Ok(Arc::new(out.finish()))
}

fn write_value(hasher: &mut XxHash64, column: &Canonical, row: usize) {
    let array = match column {
        Canonical::Null => None,
        Canonical::Integer(a)
        | Canonical::Number(a)
        | Canonical::Boolean(a)
        | Canonical::Text(a)
        | Canonical::Date(a)
        | Canonical::Timestamp(a) => Some(a),
    };
    if array.is_none_or(|a| a.is_null(row)) {
        hasher.write_u8(NULL_TAG);
        return;
    }
    match column {
        Canonical::Null => {}
        Canonical::Integer(a) => write_integer(hasher, a.as_primitive::<Int64Type>().value(row)),
        Canonical::Number(a) => {
            let x = a.as_primitive::<Float64Type>().value(row);
            // Whole numbers in i64's range hash as the integer they equal.
            if x.fract() == 0.0 && x >= i64::MIN as f64 && x < i64::MAX as f64 {
                write_integer(hasher, x as i64);
            } else {
                hasher.write_u8(NUMBER_TAG);
                // One NaN, and -0.0 is 0 above.
                let bits = if x.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    x.to_bits()
                };
                hasher.write(&bits.to_le_bytes());
            }
        }
        Canonical::Boolean(a) => {
            hasher.write_u8(BOOLEAN_TAG);
            hasher.write_u8(u8::from(a.as_boolean().value(row)));
        }
        Canonical::Text(a) => {
            let text = a.as_string::<i32>().value(row);
            hasher.write_u8(TEXT_TAG);
            hasher.write(&(text.len() as u64).to_le_bytes());
            hasher.write(text.as_bytes());
        }
        Canonical::Date(a) => {
            hasher.write_u8(DATE_TAG);
            hasher.write(&(a.as_primitive::<Date32Type>().value(row)).to_le_bytes());
        }
        Canonical::Timestamp(a) => {
            hasher.write_u8(TIMESTAMP_TAG);
            hasher.write(&(a.as_primitive::<TimestampMicrosecondType>().value(row)).to_le_bytes());
        }
    }
}

fn write_integer(hasher: &mut XxHash64, value: i64) {
    hasher.write_u8(INTEGER_TAG);
    hasher.write(&value.to_le_bytes());
}

/// `typeof(x)` of each row, as Snowflake names a variant's type.
fn type_names(array: &ArrayRef) -> Result<ArrayRef> {
    let fixed = match array.data_type() {
        DataType::Null => None,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            return text_type_names(&cast(array, &DataType::Utf8)?);
        }
        DataType::Decimal32(_, 0)
        | DataType::Decimal64(_, 0)
        | DataType::Decimal128(_, 0)
        | DataType::Decimal256(_, 0) => Some("INTEGER"),
        t if t.is_integer() => Some("INTEGER"),
        t if t.is_floating() => Some("DOUBLE"),
        t if t.is_numeric() => Some("DECIMAL"),
        DataType::Boolean => Some("BOOLEAN"),
        DataType::Date32 | DataType::Date64 => Some("DATE"),
        DataType::Timestamp(_, None) => Some("TIMESTAMP_NTZ"),
        DataType::Timestamp(_, Some(_)) => Some("TIMESTAMP_TZ"),
        DataType::Time32(_) | DataType::Time64(_) => Some("TIME"),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Some("BINARY"),
        DataType::FixedSizeBinary(_) => Some("BINARY"),
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::ListView(_)
        | DataType::LargeListView(_)
        | DataType::FixedSizeList(_, _) => Some("ARRAY"),
        DataType::Struct(_) | DataType::Map(_, _) => Some("OBJECT"),
        t => return plan_err!("typeof() has no variant type for values of type {t}"),
    };
    let mut out = StringBuilder::with_capacity(array.len(), array.len() * 8);
    for row in 0..array.len() {
        match fixed {
            Some(name) if array.is_valid(row) => out.append_value(name),
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Text read as a variant: the type of the JSON it holds, or `VARCHAR`.
fn text_type_names(texts: &ArrayRef) -> Result<ArrayRef> {
    let texts = texts.as_string::<i32>();
    let mut out = StringBuilder::with_capacity(texts.len(), texts.len() * 8);
    for text in texts.iter() {
        let Some(text) = text else {
            out.append_null();
            continue;
        };
        out.append_value(match serde_json::from_str::<Value>(text) {
            Ok(Value::Null) => "NULL_VALUE",
            Ok(Value::Bool(_)) => "BOOLEAN",
            Ok(Value::Number(n)) if n.is_i64() || n.is_u64() => "INTEGER",
            // Snowflake keeps a JSON number with a fraction as a decimal (one with an
            // exponent as a double, but `parse_json` writes `1e3` as `1000.0`).
            Ok(Value::Number(_)) => "DECIMAL",
            Ok(Value::Array(_)) => "ARRAY",
            Ok(Value::Object(_)) => "OBJECT",
            Ok(Value::String(_)) | Err(_) => "VARCHAR",
        });
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, Int32Array, Int64Array, StringArray};

    fn hashes(arrays: &[ArrayRef]) -> Vec<i64> {
        let rows = arrays[0].len();
        let out = hash_rows(arrays, rows).unwrap();
        out.as_primitive::<Int64Type>().values().to_vec()
    }

    #[test]
    fn numbers_equal_in_value_hash_alike_and_text_apart() {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![10, -3]));
        let doubles: ArrayRef = Arc::new(Float64Array::from(vec![10.0, -3.0]));
        let texts: ArrayRef = Arc::new(StringArray::from(vec!["10", "-3"]));
        assert_eq!(hashes(&[Arc::clone(&ints)]), hashes(&[doubles]));
        assert_ne!(hashes(&[ints])[0], hashes(&[texts])[0]);
    }

    #[test]
    fn nulls_hash_and_the_order_of_arguments_counts() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![Some(2), None]));
        let ab = hashes(&[Arc::clone(&a), Arc::clone(&b)]);
        let ba = hashes(&[b, a]);
        assert_ne!(ab[0], ba[0]);
        // Two NULLs hash alike in either order, and unlike one NULL.
        assert_eq!(ab[1], ba[1]);
        let one_null: ArrayRef = Arc::new(Int64Array::from(vec![None::<i64>]));
        assert_ne!(hashes(&[one_null])[0], ab[1]);
    }

    #[test]
    fn the_hash_is_stable() {
        // Fixed here so that a change of algorithm (and of users' buckets) shows.
        let texts: ArrayRef = Arc::new(StringArray::from(vec!["alice@example.com"]));
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![42]));
        assert_eq!(hashes(&[texts]), vec![STABLE_TEXT]);
        assert_eq!(hashes(&[ints]), vec![STABLE_INTEGER]);
    }

    // Python's `xxhash.xxh64(b"\x04" + len.to_bytes(8, "little") + text)` gives the same.
    const STABLE_TEXT: i64 = -2_912_743_769_031_298_082;
    const STABLE_INTEGER: i64 = -1_273_551_604_448_554_863;
}
