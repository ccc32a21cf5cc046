// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! BigQuery's `generate_date_array(start, end [, INTERVAL n part])`: the dates from
//! `start` to `end`, both included, `start` plus 0, 1, 2, ... times the interval (a day
//! without one). Each date is counted from `start`, not from the date before it, so
//! months from a month's last days keep to the last day of each month
//! (Jan 31, Feb 29, Mar 31), as BigQuery's do; a step that does not move forward is an
//! error, and a NULL argument gives NULL.

use std::sync::Arc;

use chrono::{Days, Months, NaiveDate};
use datafusion::arrow::array::{Array, AsArray, Date32Builder, ListBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Field, IntervalMonthDayNanoType, IntervalUnit,
};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{argument_arrays, check_arity, columnar};

/// The most dates one call gives, so that a far end date is an error, not all memory.
const MAX_DATES: usize = 1_000_000;

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct GenerateDateArray {
    signature: Signature,
}

impl GenerateDateArray {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for GenerateDateArray {
    fn name(&self) -> &str {
        "generate_date_array"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_arity(self.name(), arg_types.len(), 2, 3)?;
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Date32,
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, constants) = argument_arrays(&args)?;
        let starts = cast(&arrays[0], &DataType::Date32)?;
        let ends = cast(&arrays[1], &DataType::Date32)?;
        let steps = match arrays.get(2) {
            Some(step) => Some(cast(step, &DataType::Interval(IntervalUnit::MonthDayNano))?),
            None => None,
        };
        let (starts, ends) = (
            starts.as_primitive::<Date32Type>(),
            ends.as_primitive::<Date32Type>(),
        );
        let steps = steps
            .as_ref()
            .map(|s| s.as_primitive::<IntervalMonthDayNanoType>());
        let mut out = ListBuilder::new(Date32Builder::new());
        for row in 0..starts.len() {
            let step = match steps {
                Some(s) if s.is_null(row) => None,
                Some(s) => Some(s.value(row)),
                None => Some(IntervalMonthDayNanoType::make_value(0, 1, 0)),
            };
            let (Some(step), false, false) = (step, starts.is_null(row), ends.is_null(row)) else {
                out.append_null();
                continue;
            };
            let (start, end) = (
                Date32Type::to_naive_date_opt(starts.value(row)),
                Date32Type::to_naive_date_opt(ends.value(row)),
            );
            let (Some(start), Some(end)) = (start, end) else {
                out.append_null();
                continue;
            };
            if step.nanoseconds != 0
                || step.months < 0
                || step.days < 0
                || (step.months, step.days) == (0, 0)
            {
                return exec_err!(
                    "generate_date_array(): the step must be a positive number of days, \
                     weeks, months, quarters or years, as INTERVAL 1 DAY"
                );
            }
            for k in 0.. {
                let Some(date) = step_from(start, k, step.months, step.days) else {
                    break;
                };
                if date > end {
                    break;
                }
                if k as usize >= MAX_DATES {
                    return exec_err!(
                        "generate_date_array(): more than {MAX_DATES} dates from {start} to {end}"
                    );
                }
                out.values().append_value(Date32Type::from_naive_date(date));
            }
            out.append(true);
        }
        columnar(Arc::new(out.finish()), constants)
    }
}

/// `start` plus `k` times the step; `None` past the calendar's end.
fn step_from(start: NaiveDate, k: i64, months: i32, days: i32) -> Option<NaiveDate> {
    let months = u32::try_from(k.checked_mul(i64::from(months))?).ok()?;
    let days = u64::try_from(k.checked_mul(i64::from(days))?).ok()?;
    start
        .checked_add_months(Months::new(months))?
        .checked_add_days(Days::new(days))
}
