// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `__knit_interval_text(d)`: a duration as PostgreSQL writes an interval, for CSV
//! output: `1 day 02:00:00`, `-1 days -02:00:00.5`, `00:00:00`.
//!
//! A difference of two times (`max(ts) - min(ts)`) is a duration; arrow's CSV writer
//! writes it in ISO 8601 (`PT93600S`), where pb's warehouse writes the interval above.
//! CSV has no type for it, so Knit writes the warehouse's text, as it writes nested
//! values as JSON; a Delta table, which has no type for it either, holds the same text.
//! Days are whole days of 24 hours, as PostgreSQL's difference of two
//! timestamps gives them (`justify_hours`).

use std::fmt::Write;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{
    DataType, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
    DurationSecondType, TimeUnit,
};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::{columnar, columns_through};

/// `__knit_interval_text(d)`: see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct IntervalText {
    signature: Signature,
}

impl IntervalText {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for IntervalText {
    fn name(&self) -> &str {
        "__knit_interval_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("__knit_interval_text() takes one argument");
        };
        let scalar = matches!(value, ColumnarValue::Scalar(_));
        let array = value.to_array(args.number_rows)?;
        let micros: Vec<Option<i128>> = match array.data_type() {
            DataType::Duration(TimeUnit::Second) => array
                .as_primitive::<DurationSecondType>()
                .iter()
                .map(|v| v.map(|v| i128::from(v) * 1_000_000))
                .collect(),
            DataType::Duration(TimeUnit::Millisecond) => array
                .as_primitive::<DurationMillisecondType>()
                .iter()
                .map(|v| v.map(|v| i128::from(v) * 1_000))
                .collect(),
            DataType::Duration(TimeUnit::Microsecond) => array
                .as_primitive::<DurationMicrosecondType>()
                .iter()
                .map(|v| v.map(i128::from))
                .collect(),
            // PostgreSQL keeps microseconds: finer digits are cut.
            DataType::Duration(TimeUnit::Nanosecond) => array
                .as_primitive::<DurationNanosecondType>()
                .iter()
                .map(|v| v.map(|v| i128::from(v) / 1_000))
                .collect(),
            other => return exec_err!("__knit_interval_text() takes a duration, not {other}"),
        };
        let mut out = StringBuilder::with_capacity(micros.len(), micros.len() * 16);
        for value in micros {
            out.append_option(value.map(interval_text));
        }
        let text: ArrayRef = Arc::new(out.finish());
        columnar(text, scalar)
    }
}

/// Whether a column of `data_type` is written as [`interval_text`] in CSV.
pub(crate) fn is_duration(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Duration(_))
}

/// `plan` with each of its duration columns as [`IntervalText`] writes it, for an output
/// whose format has no type for a duration (a Delta table: Delta's protocol has none).
pub(crate) fn durations_as_text(plan: LogicalPlan) -> Result<LogicalPlan> {
    columns_through(plan, |data_type| {
        is_duration(data_type).then(|| ScalarUDF::from(IntervalText::new()))
    })
}

/// `micros` microseconds as PostgreSQL writes such an interval.
fn interval_text(micros: i128) -> String {
    const DAY: u128 = 86_400_000_000;
    if micros == 0 {
        return "00:00:00".to_string();
    }
    let sign = if micros < 0 { "-" } else { "" };
    let magnitude = micros.unsigned_abs();
    let (days, time) = (magnitude / DAY, magnitude % DAY);
    let mut out = String::new();
    if days > 0 {
        // PostgreSQL says "day" for exactly 1 only ("-1 days").
        let unit = if days == 1 && sign.is_empty() {
            "day"
        } else {
            "days"
        };
        let _ = write!(out, "{sign}{days} {unit}");
    }
    if time > 0 {
        if !out.is_empty() {
            out.push(' ');
        }
        let seconds = time / 1_000_000;
        let _ = write!(
            out,
            "{sign}{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
        let fraction = time % 1_000_000;
        if fraction > 0 {
            let digits = format!("{fraction:06}");
            let _ = write!(out, ".{}", digits.trim_end_matches('0'));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_postgresql_intervals() {
        // PostgreSQL 15's text of each difference of two timestamps.
        let hour = 3_600_000_000;
        assert_eq!(interval_text(26 * hour), "1 day 02:00:00");
        assert_eq!(interval_text(-(26 * hour + 500_000)), "-1 days -02:00:00.5");
        assert_eq!(interval_text(0), "00:00:00");
        assert_eq!(interval_text(1_250_000), "00:00:01.25");
        assert_eq!(interval_text(61 * 24 * hour + hour), "61 days 01:00:00");
        assert_eq!(interval_text(-hour), "-01:00:00");
        assert_eq!(interval_text(2 * 24 * hour), "2 days");
    }
}
