// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Functions Knit adds to DataFusion's, or puts in place of them, so that vars written
//! for a warehouse (and pasted from pb projects) run unchanged and give a warehouse's
//! answers.
//!
//! - [`between_once`]: `x BETWEEN low AND high` as one call, for a volatile `x`.
//! - [`date`]: `date(x)`, PostgreSQL's date of a timestamp, date or timestamp text.
//! - [`date_array`]: BigQuery's `generate_date_array`, each date counted from the first.
//! - [`checked_sum`]: `sum` of integers that fails on overflow, as PostgreSQL's
//!   arithmetic does, instead of wrapping around.
//! - [`json_access`]: `x['key']` on JSON text, and `list[i]` as [`list_element`].
//! - [`list_element`]: `list[i]`, counted from 1 or (`knit.list_index_base = 0`) 0.
//! - [`mode`]: the most frequent value of a group.
//! - [`ordered_first_last`]: `first_value(x ORDER BY t)` / `last_value(...)` with a
//!   groups accumulator that stays fast over millions of entities.
//! - [`text_arithmetic`]: `+ - * / %` on text holding a number, cast as Snowflake
//!   casts it.
//! - [`text_boolean`]: text compared with a boolean (`deleted = FALSE`), cast to one.
//! - [`to_json`]: any value as JSON text, and nested columns as JSON for CSV output.
//! - [`warehouse_dates`]: `datediff`, `dateadd`, `date_diff`, `timestamp_diff` with
//!   Snowflake's and BigQuery's counting.
//! - [`warehouse_json`]: JSON kept as text: `parse_json`, `array_size`, `json_value`,
//!   `get_json_object`, `from_json`, `object_construct`, ...
//! - [`warehouse_regexp`]: Snowflake's `regexp_substr` and `regexp_substr_all`, with
//!   position, occurrence, parameters and group.
//! - [`warehouse_values`]: Snowflake's `hash(x, ...)` and `typeof(x)`.
//! - [`warehouse_misc`]: the rest of the warehouse names pb projects use (`to_boolean`,
//!   `getdate`, `listagg`, `mod`, ...), most as aliases of DataFusion's functions.

pub(crate) mod between_once;
mod checked_sum;
mod date;
mod date_array;
mod flatten_parts;
pub(crate) mod float_text;
pub(crate) mod interval_text;
pub(crate) mod json_access;
mod list_element;
mod mode;
mod ordered_first_last;
mod quantiles;
mod spark_json;
pub(crate) mod text_arithmetic;
pub(crate) mod text_boolean;
pub(crate) mod to_json;
mod warehouse_dates;
mod warehouse_json;
mod warehouse_misc;
mod warehouse_regexp;
mod warehouse_values;

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    AggregateUDF, ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF,
};

/// `plan` with each column that `through` names a function for passed through it (under
/// its own name), for an output format without a type for the column's values: CSV
/// writes nested values as JSON text and durations as interval text, and a Delta table
/// durations as that text too.
pub(crate) fn columns_through(
    plan: LogicalPlan,
    through: impl Fn(&DataType) -> Option<ScalarUDF>,
) -> Result<LogicalPlan> {
    let schema = Arc::clone(plan.schema());
    if !schema
        .fields()
        .iter()
        .any(|f| through(f.data_type()).is_some())
    {
        return Ok(plan);
    }
    let columns: Vec<Expr> = schema
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            match through(field.data_type()) {
                Some(function) => function.call(vec![column]).alias(field.name()),
                None => column,
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(columns)?.build()
}

/// Every scalar function Knit adds, for the session builder to register.
pub(crate) fn all_scalar_functions() -> Vec<ScalarUDF> {
    let mut functions = vec![
        ScalarUDF::from(between_once::BetweenOnce::new()),
        ScalarUDF::from(date::DateFunc::new()),
        ScalarUDF::from(to_json::ToJson::new()),
        ScalarUDF::from(float_text::FloatText::default()),
        ScalarUDF::from(interval_text::IntervalText::new()),
        ScalarUDF::from(warehouse_dates::DateDiff::snowflake()),
        ScalarUDF::from(warehouse_dates::DateDiff::bigquery_date()),
        ScalarUDF::from(warehouse_dates::DateDiff::bigquery_timestamp()),
        ScalarUDF::from(warehouse_dates::DateAdd::new()),
        ScalarUDF::from(list_element::ListElement::new()),
        ScalarUDF::from(flatten_parts::FlattenPart::new()),
        ScalarUDF::from(date_array::GenerateDateArray::new()),
    ];
    functions.extend(warehouse_json::functions());
    functions.extend(warehouse_misc::functions());
    functions.extend(warehouse_regexp::functions());
    functions.extend(warehouse_values::functions());
    functions
}

/// Every aggregate function Knit adds or replaces, for the session builder to register.
pub(crate) fn all_aggregate_functions() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::from(checked_sum::CheckedSum::default()),
        AggregateUDF::from(mode::Mode::new()),
        AggregateUDF::from(mode::Mode::largest_on_ties()),
        AggregateUDF::from(quantiles::ApproxQuantiles::new()),
        AggregateUDF::from(ordered_first_last::OrderedFirstLast::first_value()),
        AggregateUDF::from(ordered_first_last::OrderedFirstLast::last_value()),
    ]
}

/// A function's result: one value when every argument was one (a constant folds), else
/// a column.
pub(crate) fn columnar(array: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    if scalar {
        return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?));
    }
    Ok(ColumnarValue::Array(array))
}

/// An error unless a function named `name` takes `count` arguments (`min` to `max`).
pub(crate) fn check_arity(name: &str, count: usize, min: usize, max: usize) -> Result<()> {
    if (min..=max).contains(&count) {
        return Ok(());
    }
    let takes = if min == max {
        format!("{min}")
    } else {
        format!("{min} to {max}")
    };
    let noun = if max == 1 { "argument" } else { "arguments" };
    plan_err!("{name}() takes {takes} {noun}, got {count}")
}

/// The argument at `index` of a call being planned, when it is constant text (a date
/// part, a zone, a schema), which decides the result's type.
pub(crate) fn constant_text<'a>(args: &'a ReturnFieldArgs<'_>, index: usize) -> Option<&'a str> {
    args.scalar_arguments
        .get(index)
        .copied()
        .flatten()
        .and_then(|value| value.try_as_str().flatten())
}

/// A call's arguments as arrays of the batch's rows, and whether every one was a constant.
pub(crate) fn argument_arrays(args: &ScalarFunctionArgs) -> Result<(Vec<ArrayRef>, bool)> {
    let constants = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let arrays = args
        .args
        .iter()
        .map(|a| a.to_array(args.number_rows))
        .collect::<Result<Vec<_>>>()?;
    Ok((arrays, constants))
}
