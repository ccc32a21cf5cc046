// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Functions Knit adds to DataFusion's, or puts in place of them, so that vars written
//! for a warehouse (and pasted from pb projects) run unchanged and give a warehouse's
//! answers.
//!
//! - [`date`]: `date(x)`, PostgreSQL's date of a timestamp, date or timestamp text.
//! - [`checked_sum`]: `sum` of integers that fails on overflow, as PostgreSQL's
//!   arithmetic does, instead of wrapping around.

mod checked_sum;
mod date;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

/// Every scalar function Knit adds, for the session builder to register.
pub(crate) fn all_scalar_functions() -> Vec<ScalarUDF> {
    vec![ScalarUDF::from(date::DateFunc::new())]
}

/// Every aggregate function Knit adds or replaces, for the session builder to register.
pub(crate) fn all_aggregate_functions() -> Vec<AggregateUDF> {
    vec![AggregateUDF::from(checked_sum::CheckedSum::default())]
}
