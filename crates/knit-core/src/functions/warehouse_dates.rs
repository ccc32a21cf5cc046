// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Date arithmetic as warehouses spell it, with their answers.
//!
//! - Snowflake `datediff(part, a, b)` (and `timestampdiff`): the number of `part`
//!   boundaries crossed from `a` to `b`, so `datediff(year, '2024-12-31', '2025-01-01')`
//!   is 1 and `datediff(day, '2024-01-01 23:59', '2024-01-02 00:01')` is 1. Weeks start on
//!   Monday.
//! - BigQuery `date_diff(a, b, part)` and `datetime_diff`: boundaries from `b` to `a`
//!   (weeks start on Sunday, `isoweek` on Monday); `timestamp_diff(a, b, part)`: whole
//!   units elapsed, truncated toward zero, for `day` and finer parts.
//! - Snowflake `dateadd(part, n, t)` (and `timestampadd`): `t` moved by `n` parts; adding
//!   months to a month's last days gives the last day of a shorter month (Jan 31 plus one
//!   month is Feb 28 or 29). A date stays a date for `day` and coarser parts (a constant
//!   part); finer parts make it a timestamp.
//!
//! Times with a zone are taken in UTC, the session zone of Knit. The date part is a word
//! (`day`) or text (`'day'`), in any warehouse's spelling (`dd`, `days`, `mm`, ...).

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDateTime};
use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};

use super::{columnar, constant_text};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// A date part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

impl Part {
    fn parse(text: &str) -> Option<Self> {
        Some(match knit_sql::date_part_name(text)? {
            "year" => Part::Year,
            "quarter" => Part::Quarter,
            "month" => Part::Month,
            "week" => Part::Week,
            "day" => Part::Day,
            "hour" => Part::Hour,
            "minute" => Part::Minute,
            "second" => Part::Second,
            "millisecond" => Part::Millisecond,
            "microsecond" => Part::Microsecond,
            "nanosecond" => Part::Nanosecond,
            _ => return None,
        })
    }

    /// Its length in microseconds, for parts of fixed length.
    fn micros(self) -> Option<i64> {
        Some(match self {
            Part::Week => 7 * 86_400_000_000,
            Part::Day => 86_400_000_000,
            Part::Hour => 3_600_000_000,
            Part::Minute => 60_000_000,
            Part::Second => 1_000_000,
            Part::Millisecond => 1_000,
            Part::Microsecond | Part::Nanosecond => 1,
            Part::Year | Part::Quarter | Part::Month => return None,
        })
    }
}

/// Which warehouse's function this is: where the part is, and how it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Form {
    /// Snowflake `datediff(part, from, to)`: boundaries, weeks from Monday.
    Snowflake,
    /// BigQuery `date_diff(to, from, part)`: boundaries, weeks from Sunday.
    BigQueryBoundaries,
    /// BigQuery `timestamp_diff(to, from, part)`: whole units elapsed.
    BigQueryElapsed,
}

/// `datediff` and its warehouse siblings: see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct DateDiff {
    name: &'static str,
    aliases: Vec<String>,
    form: Form,
    signature: Signature,
}

impl DateDiff {
    /// Snowflake's `datediff` (also `timestampdiff`).
    pub(crate) fn snowflake() -> Self {
        Self::new("datediff", &["timestampdiff"], Form::Snowflake)
    }

    /// BigQuery's `date_diff` (also `datetime_diff`).
    pub(crate) fn bigquery_date() -> Self {
        Self::new("date_diff", &["datetime_diff"], Form::BigQueryBoundaries)
    }

    /// BigQuery's `timestamp_diff`.
    pub(crate) fn bigquery_timestamp() -> Self {
        Self::new("timestamp_diff", &[], Form::BigQueryElapsed)
    }

    fn new(name: &'static str, aliases: &[&str], form: Form) -> Self {
        Self {
            name,
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            form,
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateDiff {
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
        let [a, b, c] = arg_types else {
            return plan_err!("{}() takes three arguments", self.name);
        };
        let (part, times) = match self.form {
            Form::Snowflake => (a, [b, c]),
            _ => (c, [a, b]),
        };
        if !is_text(part) {
            return plan_err!(
                "{}: the date part must be a word such as day or month, not {part}",
                self.name
            );
        }
        for time in times {
            if !is_time_like(time) {
                return plan_err!(
                    "{}() takes dates or timestamps, not {time}; cast the argument first",
                    self.name
                );
            }
        }
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [a, b, c] = args.args.as_slice() else {
            return exec_err!("{}() takes three arguments", self.name);
        };
        let (part, from, to) = match self.form {
            Form::Snowflake => (a, b, c),
            _ => (c, b, a),
        };
        let part = constant_part(self.name, part)?;
        if self.form == Form::BigQueryElapsed && part.micros().is_none() {
            return exec_err!(
                "{}() counts day and finer parts; use date_diff for weeks, months and years",
                self.name
            );
        }
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = args.number_rows;
        let from = to_micros(&from.to_array(rows)?)?;
        let to = to_micros(&to.to_array(rows)?)?;
        let result: Int64Array = from
            .iter()
            .zip(to.iter())
            .map(|pair| match pair {
                (Some(from), Some(to)) => diff(self.form, part, from, to),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        columnar(Arc::new(result), all_scalar)
    }
}

/// The difference of two times (microseconds since the epoch) in `part`s.
fn diff(form: Form, part: Part, from: i64, to: i64) -> Result<Option<i64>> {
    if form == Form::BigQueryElapsed {
        let unit = part.micros().unwrap_or(1);
        let elapsed = to.checked_sub(from).map(|d| d / unit);
        return Ok(elapsed.map(|n| {
            if part == Part::Nanosecond {
                n * 1000
            } else {
                n
            }
        }));
    }
    let (Some(a), Some(b)) = (naive(from), naive(to)) else {
        return Ok(None);
    };
    let months = |t: &NaiveDateTime| i64::from(t.year()) * 12 + i64::from(t.month0());
    let days = |t: &NaiveDateTime| i64::from(t.date().num_days_from_ce());
    Ok(Some(match part {
        Part::Year => i64::from(b.year()) - i64::from(a.year()),
        Part::Quarter => months(&b).div_euclid(3) - months(&a).div_euclid(3),
        Part::Month => months(&b) - months(&a),
        Part::Week => {
            // Days since a week's first day: Monday (Snowflake), Sunday (BigQuery).
            let offset = |t: &NaiveDateTime| match form {
                Form::Snowflake => i64::from(t.weekday().num_days_from_monday()),
                _ => i64::from(t.weekday().num_days_from_sunday()),
            };
            ((days(&b) - offset(&b)) - (days(&a) - offset(&a))) / 7
        }
        Part::Day => days(&b) - days(&a),
        Part::Nanosecond => (to - from).saturating_mul(1000),
        fixed => {
            let unit = fixed.micros().unwrap_or(1);
            to.div_euclid(unit) - from.div_euclid(unit)
        }
    }))
}

/// `dateadd(part, n, t)` (also `timestampadd`): see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct DateAdd {
    aliases: Vec<String>,
    signature: Signature,
}

impl DateAdd {
    pub(crate) fn new() -> Self {
        Self {
            aliases: vec!["timestampadd".to_string()],
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateAdd {
    fn name(&self) -> &str {
        "dateadd"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let [part, amount, time] = arg_types else {
            return plan_err!("dateadd() takes three arguments: a part, a number and a time");
        };
        if !is_text(part) {
            return plan_err!("dateadd: the date part must be a word such as day, not {part}");
        }
        if !amount.is_integer() && !amount.is_floating() && !amount.is_null() {
            return plan_err!("dateadd() adds a number of parts, not {amount}");
        }
        Ok(match time {
            DataType::Timestamp(_, zone) => {
                DataType::Timestamp(TimeUnit::Microsecond, zone.clone())
            }
            t if is_time_like(t) => DataType::Timestamp(TimeUnit::Microsecond, None),
            other => {
                return plan_err!(
                    "dateadd() takes a date or timestamp, not {other}; cast the argument first"
                );
            }
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let mut data_type = self.return_type(&types)?;
        // A date moved by days or coarser parts stays a date, as in Snowflake.
        let part = constant_text(&args, 0).and_then(Part::parse);
        if matches!(types.get(2), Some(DataType::Date32 | DataType::Date64))
            && part.is_some_and(|p| p.micros().is_none() || matches!(p, Part::Week | Part::Day))
        {
            data_type = DataType::Date32;
        }
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [part, amount, time] = args.args.as_slice() else {
            return exec_err!("dateadd() takes three arguments");
        };
        let part = constant_part("dateadd", part)?;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = args.number_rows;
        let amounts = cast(&amount.to_array(rows)?, &DataType::Int64)?;
        let amounts = amounts.as_primitive::<Int64Type>();
        let times = to_micros(&time.to_array(rows)?)?;
        let result: TimestampMicrosecondArray = times
            .iter()
            .zip(amounts.iter())
            .map(|pair| match pair {
                (Some(t), Some(n)) => add(part, n, t),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        let result: ArrayRef = match args.return_field.data_type() {
            DataType::Timestamp(_, zone) => Arc::new(result.with_timezone_opt(zone.clone())),
            other => cast(&result, other)?,
        };
        columnar(result, all_scalar)
    }
}

fn add(part: Part, n: i64, time: i64) -> Result<Option<i64>> {
    let Some(t) = naive(time) else {
        return Ok(None);
    };
    let moved = match part {
        Part::Year | Part::Quarter | Part::Month => {
            let per = match part {
                Part::Year => 12,
                Part::Quarter => 3,
                _ => 1,
            };
            let months = n
                .checked_mul(per)
                .and_then(|m| u32::try_from(m.unsigned_abs()).ok());
            match months {
                Some(m) if n >= 0 => t.checked_add_months(Months::new(m)),
                Some(m) => t.checked_sub_months(Months::new(m)),
                None => None,
            }
        }
        Part::Nanosecond => t.checked_add_signed(Duration::microseconds(n / 1000)),
        fixed => n
            .checked_mul(fixed.micros().unwrap_or(1))
            .and_then(|micros| t.checked_add_signed(Duration::microseconds(micros))),
    };
    match moved {
        Some(t) => Ok(Some(t.and_utc().timestamp_micros())),
        None => exec_err!("dateadd(): adding {n} {part:?}s leaves the range of dates"),
    }
}

/// The constant date part of a call, or an error naming the function.
fn constant_part(function: &str, part: &ColumnarValue) -> Result<Part> {
    let text = match part {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(t))
            | ScalarValue::LargeUtf8(Some(t))
            | ScalarValue::Utf8View(Some(t)),
        ) => t.clone(),
        _ => {
            return exec_err!(
                "{function}(): the date part must be a constant word such as day or month"
            );
        }
    };
    Part::parse(&text).ok_or_else(|| {
        datafusion::common::DataFusionError::Execution(format!(
            "{function}(): '{text}' is not a date part; use year, quarter, month, week, day, \
             hour, minute, second, millisecond, microsecond or nanosecond"
        ))
    })
}

fn is_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

fn is_time_like(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) | DataType::Null
    ) || is_text(t)
}

/// Times (dates, timestamps of any unit and zone, or text) as microseconds since the
/// epoch, UTC wall time.
fn to_micros(array: &ArrayRef) -> Result<TimestampMicrosecondArray> {
    let array = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => cast(
            array,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )?,
        DataType::Date32 | DataType::Date64 => cast(array, &DataType::Date32)?,
        _ => Arc::clone(array),
    };
    let micros = cast(&array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    Ok(micros
        .as_primitive::<TimestampMicrosecondType>()
        .clone()
        .with_timezone_opt(None::<Arc<str>>))
}

fn naive(micros: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc())
}
