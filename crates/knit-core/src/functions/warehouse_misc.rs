// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Warehouse functions that are neither date arithmetic nor JSON.
//!
//! | function | warehouse | answer |
//! | --- | --- | --- |
//! | `to_boolean(x)` | Snowflake | `'true' 't' 'yes' 'y' 'on' '1'` true, `'false' 'f' 'no' 'n' 'off' '0'` false (any case); numbers: 0 false, others true; other text is an error |
//! | `mod(a, b)` | all | `a % b`, with the sign of `a`; `mod(a, 0)` is an error |
//! | `to_timestamp_tz(x)`, `to_timestamp_ntz(x)`, `datetime(x)` | Snowflake, BigQuery | `x` as a timestamp with (UTC) or without a zone |
//! | `convert_timezone(to, t)`, `convert_timezone(from, to, t)` | Snowflake | `t` seen in zone `to`; with `from`, a wall time in `from` as the wall time in `to` |
//! | `uniform(lo, hi, gen)` | Snowflake | a number from `lo` to `hi` picked by `gen` (`random()`, or a constant seed) |
//! | `sha1(t)`, `sha1_hex(t)` | Snowflake | SHA-1 as 40 hex digits |
//! | `random_int64()` | Snowflake | a pseudo-random 64-bit integer per row (Snowflake's `random()`; pb projects in the Snowflake dialect read `random()` as it) |
//! | `strtok(s [, delimiters [, n]])` | Snowflake | the n-th (from 1; default 1) of the non-empty tokens between any of the delimiter characters (default a space); NULL past the last |
//! | `strtok_to_array(s [, delimiters])` | Snowflake | every such token, as a list |
//!
//! Renamed spellings (`getdate()`, `listagg`, `split_to_array`, `array_construct`, ...)
//! are rewritten to DataFusion's names before parsing, in `knit-sql`.

use std::sync::Arc;

use super::{argument_arrays, check_arity, columnar, constant_text};
use chrono::{NaiveDateTime, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Array, Int64Array, ListBuilder, StringBuilder,
    TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::numeric::rem;
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

/// The scalar functions, for the session to register.
pub(crate) fn functions() -> Vec<ScalarUDF> {
    [
        (Kind::Mod, "mod", &[][..]),
        (
            Kind::ToTimestamp { zone: true },
            "to_timestamp_tz",
            // BigQuery's timestamp(x): an instant, text without an offset read as UTC.
            &["to_timestamp_ltz", "timestamp"][..],
        ),
        (
            Kind::ToTimestamp { zone: false },
            "to_timestamp_ntz",
            &["datetime"][..],
        ),
        (Kind::ConvertTimezone, "convert_timezone", &[][..]),
        (Kind::Uniform, "uniform", &[][..]),
        (Kind::Sha1, "sha1", &["sha1_hex"][..]),
        (Kind::RandomInt, "random_int64", &[][..]),
        (Kind::Strtok, "strtok", &[][..]),
        (Kind::StrtokToArray, "strtok_to_array", &[][..]),
    ]
    .into_iter()
    .map(|(kind, name, aliases)| function(kind, name, aliases))
    .chain([to_boolean_function()])
    .collect()
}

/// `to_boolean`, which text compared with a boolean goes through.
pub(crate) fn to_boolean_function() -> ScalarUDF {
    function(Kind::ToBoolean, "to_boolean", &[])
}

fn function(kind: Kind, name: &'static str, aliases: &[&str]) -> ScalarUDF {
    ScalarUDF::from(MiscFunction {
        kind,
        name,
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        signature: match kind {
            Kind::RandomInt => Signature::nullary(Volatility::Volatile),
            Kind::Uniform => Signature::variadic_any(Volatility::Volatile),
            _ => Signature::variadic_any(Volatility::Immutable),
        },
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    ToBoolean,
    Mod,
    ToTimestamp { zone: bool },
    ConvertTimezone,
    Uniform,
    Sha1,
    RandomInt,
    Strtok,
    StrtokToArray,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MiscFunction {
    kind: Kind,
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
}

impl ScalarUDFImpl for MiscFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let count = arg_types.len();
        let (min, max) = match self.kind {
            Kind::ToBoolean | Kind::ToTimestamp { .. } | Kind::Sha1 => (1, 1),
            Kind::RandomInt => (0, 0),
            Kind::Mod => (2, 2),
            Kind::ConvertTimezone => (2, 3),
            Kind::Uniform => (3, 3),
            Kind::Strtok => (1, 3),
            Kind::StrtokToArray => (1, 2),
        };
        check_arity(self.name, count, min, max)?;
        Ok(match self.kind {
            Kind::ToBoolean => DataType::Boolean,
            Kind::Mod | Kind::Uniform => {
                if arg_types[..2].iter().all(|t| t.is_integer() || t.is_null()) {
                    DataType::Int64
                } else if arg_types[..2].iter().all(|t| t.is_numeric() || t.is_null()) {
                    DataType::Float64
                } else {
                    return plan_err!("{}() takes numbers, not {arg_types:?}", self.name);
                }
            }
            Kind::ToTimestamp { zone } => {
                DataType::Timestamp(TimeUnit::Microsecond, zone.then(|| "UTC".into()))
            }
            Kind::ConvertTimezone => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::Sha1 | Kind::Strtok => DataType::Utf8,
            Kind::StrtokToArray => {
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
            }
            Kind::RandomInt => DataType::Int64,
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let mut data_type = self.return_type(&types)?;
        if self.kind == Kind::ConvertTimezone && types.len() == 2 {
            // The two-argument form keeps the instant and shows it in the target zone.
            let zone = constant_text(&args, 0).ok_or_else(|| {
                DataFusionError::Plan(
                    "convert_timezone(): the zone must be constant text such as \
                         'America/New_York'"
                        .into(),
                )
            })?;
            zone_of(zone)?;
            data_type = DataType::Timestamp(TimeUnit::Microsecond, Some(zone.into()));
        }
        Ok(Arc::new(Field::new(self.name, data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let (arrays, constants) = argument_arrays(&args)?;
        let all_scalar = constants && !matches!(self.kind, Kind::Uniform | Kind::RandomInt);
        let result: ArrayRef = match self.kind {
            Kind::ToBoolean => to_boolean(&arrays[0])?,
            Kind::Mod => {
                let target = args.return_field.data_type();
                let a = cast(&arrays[0], target)?;
                let b = cast(&arrays[1], target)?;
                rem(&a, &b).map_err(|e| DataFusionError::Execution(format!("mod(): {e}")))?
            }
            Kind::ToTimestamp { .. } => to_timestamp(&arrays[0], args.return_field.data_type())?,
            Kind::ConvertTimezone => convert_timezone(&arrays, args.return_field.data_type())?,
            Kind::Uniform => uniform(&arrays, args.return_field.data_type())?,
            Kind::Sha1 => sha1_hex(&arrays[0])?,
            Kind::RandomInt => random_int64(rows),
            Kind::Strtok | Kind::StrtokToArray => strtok(&arrays, self.kind == Kind::Strtok)?,
        };
        columnar(result, all_scalar)
    }
}

fn to_boolean(array: &ArrayRef) -> Result<ArrayRef> {
    if array.data_type() == &DataType::Boolean {
        return Ok(Arc::clone(array));
    }
    if array.data_type().is_numeric() {
        let numbers = cast(array, &DataType::Float64)?;
        let numbers = numbers.as_primitive::<Float64Type>();
        return Ok(Arc::new(
            numbers
                .iter()
                .map(|n| n.map(|n| n != 0.0))
                .collect::<datafusion::arrow::array::BooleanArray>(),
        ));
    }
    let texts = cast(array, &DataType::Utf8)?;
    let mut out = BooleanBuilder::new();
    for text in texts.as_string::<i32>().iter() {
        out.append_option(match text.map(|t| t.trim().to_lowercase()) {
            None => None,
            Some(t) => match t.as_str() {
                "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
                "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
                _ => {
                    return exec_err!(
                        "to_boolean(): '{t}' is not a boolean; use true/false, yes/no, on/off \
                         or 1/0"
                    );
                }
            },
        });
    }
    Ok(Arc::new(out.finish()))
}

fn to_timestamp(array: &ArrayRef, target: &DataType) -> Result<ArrayRef> {
    let array = match array.data_type() {
        // Text without an offset is UTC wall time; with one, that instant.
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => cast(
            array,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )?,
        _ => Arc::clone(array),
    };
    Ok(cast(&array, target)?)
}

fn zone_of(name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        DataFusionError::Execution(format!(
            "'{name}' is not a time zone; use a name such as 'America/New_York' or an \
             offset such as '+05:30'"
        ))
    })
}

fn convert_timezone(arrays: &[ArrayRef], target: &DataType) -> Result<ArrayRef> {
    if arrays.len() == 2 {
        // The instant, shown in the target zone.
        let utc = to_timestamp(
            &arrays[1],
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )?;
        return Ok(cast(&utc, target)?);
    }
    let from = cast(&arrays[0], &DataType::Utf8)?;
    let to = cast(&arrays[1], &DataType::Utf8)?;
    let wall = to_timestamp(
        &arrays[2],
        &DataType::Timestamp(TimeUnit::Microsecond, None),
    )?;
    let wall = wall.as_primitive::<TimestampMicrosecondType>();
    let (from, to) = (from.as_string::<i32>(), to.as_string::<i32>());
    let mut out = Vec::with_capacity(wall.len());
    for i in 0..wall.len() {
        if from.is_null(i) || to.is_null(i) || wall.is_null(i) {
            out.push(None);
            continue;
        }
        let (source, target) = (zone_of(from.value(i))?, zone_of(to.value(i))?);
        let Some(local) = chrono::DateTime::from_timestamp_micros(wall.value(i)) else {
            out.push(None);
            continue;
        };
        let local: NaiveDateTime = local.naive_utc();
        // A wall time skipped by a clock change has no instant; a repeated one takes
        // the earlier.
        let instant = source.from_local_datetime(&local).earliest();
        out.push(instant.map(|t| {
            t.with_timezone(&target)
                .naive_local()
                .and_utc()
                .timestamp_micros()
        }));
    }
    Ok(Arc::new(TimestampMicrosecondArray::from(out)))
}

fn uniform(arrays: &[ArrayRef], target: &DataType) -> Result<ArrayRef> {
    let low = cast(&arrays[0], &DataType::Float64)?;
    let high = cast(&arrays[1], &DataType::Float64)?;
    let generator = cast(&arrays[2], &DataType::Float64)?;
    let (low, high, generator) = (
        low.as_primitive::<Float64Type>(),
        high.as_primitive::<Float64Type>(),
        generator.as_primitive::<Float64Type>(),
    );
    let integers = target == &DataType::Int64;
    let picks: Vec<Option<f64>> = (0..low.len())
        .map(|i| {
            if low.is_null(i) || high.is_null(i) || generator.is_null(i) {
                return None;
            }
            let g = generator.value(i);
            // random() gives [0, 1); a constant seed is spread over [0, 1) by a hash.
            let fraction = if (0.0..1.0).contains(&g) {
                g
            } else {
                let mut x = g.to_bits().wrapping_add(0x9E37_79B9_7F4A_7C15);
                x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((x ^ (x >> 31)) >> 11) as f64 / (1u64 << 53) as f64
            };
            let (lo, hi) = (low.value(i), high.value(i));
            Some(if integers {
                (lo + (fraction * (hi - lo + 1.0)).floor()).min(hi)
            } else {
                lo + fraction * (hi - lo)
            })
        })
        .collect();
    if integers {
        let values: Int64Array = picks.iter().map(|p| p.map(|v| v as i64)).collect();
        return Ok(Arc::new(values));
    }
    Ok(Arc::new(Float64Array::from(picks)))
}

/// SHA-1 of text as 40 lower-case hex digits (Snowflake's `sha1`, `sha1_hex`).
fn sha1_hex(array: &ArrayRef) -> Result<ArrayRef> {
    use sha1::Digest;
    let texts = cast(array, &DataType::Utf8)?;
    let hex: datafusion::arrow::array::StringArray = texts
        .as_string::<i32>()
        .iter()
        .map(|t| {
            t.map(|t| {
                sha1::Sha1::digest(t.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            })
        })
        .collect();
    Ok(Arc::new(hex))
}

/// Snowflake's `strtok` (`nth`: one token) and `strtok_to_array` (every token): text split
/// at any of the delimiter characters, empty tokens left out; an empty delimiter makes
/// the whole text one token, and empty text has none.
fn strtok(arrays: &[ArrayRef], nth: bool) -> Result<ArrayRef> {
    let texts = cast(&arrays[0], &DataType::Utf8)?;
    let texts = texts.as_string::<i32>();
    let delimiters = match arrays.get(1) {
        Some(d) => Some(cast(d, &DataType::Utf8)?),
        None => None,
    };
    let delimiters = delimiters.as_ref().map(|d| d.as_string::<i32>());
    let parts = match arrays.get(2) {
        Some(p) if nth => Some(cast(p, &DataType::Int64)?),
        _ => None,
    };
    let parts = parts.as_ref().map(|p| p.as_primitive::<Int64Type>());
    let mut one = StringBuilder::new();
    let mut lists = ListBuilder::new(StringBuilder::new());
    for row in 0..texts.len() {
        let delimiter = match delimiters {
            Some(d) if d.is_null(row) => None,
            Some(d) => Some(d.value(row)),
            None => Some(" "),
        };
        let part = match parts {
            Some(p) if p.is_null(row) => None,
            Some(p) => Some(p.value(row)),
            None => Some(1),
        };
        let (Some(delimiter), Some(part), false) = (delimiter, part, texts.is_null(row)) else {
            one.append_null();
            lists.append_null();
            continue;
        };
        let mut tokens = texts
            .value(row)
            .split(|c: char| delimiter.contains(c))
            .filter(|t| !t.is_empty());
        if nth {
            let token = usize::try_from(part)
                .ok()
                .and_then(|p| p.checked_sub(1))
                .and_then(|p| tokens.nth(p));
            one.append_option(token);
        } else {
            for token in tokens {
                lists.values().append_value(token);
            }
            lists.append(true);
        }
    }
    Ok(if nth {
        Arc::new(one.finish())
    } else {
        Arc::new(lists.finish())
    })
}

/// `rows` pseudo-random 64-bit integers (splitmix64, seeded from the clock and a
/// counter): Snowflake's `random()`, for sampling, not for secrets.
fn random_int64(rows: usize) -> ArrayRef {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut state = clock
        ^ CALLS
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let values: Int64Array = (0..rows)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            Some((z ^ (z >> 31)) as i64)
        })
        .collect();
    Arc::new(values)
}
