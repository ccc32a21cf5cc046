// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `mode(x)`: the most frequent non-NULL value of a group, as Snowflake's and
//! Databricks' `mode`. Ties go to the smallest value, so that the answer does not
//! depend on the order rows arrive in (the warehouses pick one of the tied values).
//!
//! PostgreSQL's `mode() WITHIN GROUP (ORDER BY x)` gives the first of the tied values
//! in that order: the smallest, as `mode(x)`, or with `DESC` the largest, which the
//! parser writes as `knit_sql::MODE_DESC(x)`.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use knit_sql::MODE_DESC;

/// `mode(x)`: see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Mode {
    signature: Signature,
    /// Ties go to the largest value rather than the smallest.
    largest_on_ties: bool,
}

impl Mode {
    /// `mode(x)`, ties to the smallest value.
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
            largest_on_ties: false,
        }
    }

    /// `knit_sql::MODE_DESC(x)`, ties to the largest value.
    pub(crate) fn largest_on_ties() -> Self {
        Self {
            largest_on_ties: true,
            ..Self::new()
        }
    }
}

impl AggregateUDFImpl for Mode {
    fn name(&self) -> &str {
        if self.largest_on_ties {
            MODE_DESC
        } else {
            "mode"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [value] => Ok(value.clone()),
            _ => datafusion::common::plan_err!("mode() takes one argument"),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ModeAccumulator {
            data_type: args.return_field.data_type().clone(),
            counts: HashMap::new(),
            largest_on_ties: self.largest_on_ties,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        let value = args.return_type().clone();
        Ok(vec![
            Arc::new(Field::new_list(
                "values",
                Field::new_list_field(value, true),
                true,
            )),
            Arc::new(Field::new_list(
                "counts",
                Field::new_list_field(DataType::UInt64, true),
                true,
            )),
        ])
    }
}

#[derive(Debug)]
struct ModeAccumulator {
    data_type: DataType,
    counts: HashMap<ScalarValue, u64>,
    largest_on_ties: bool,
}

impl Accumulator for ModeAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(values) = values.first() else {
            return exec_err!("mode() takes one argument");
        };
        for row in 0..values.len() {
            if values.is_valid(row) {
                *self
                    .counts
                    .entry(ScalarValue::try_from_array(values, row)?)
                    .or_default() += 1;
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [values, counts] = states else {
            return exec_err!(
                "mode(): a partial state has {} columns, not 2",
                states.len()
            );
        };
        let (values, counts) = (values.as_list::<i32>(), counts.as_list::<i32>());
        for row in 0..values.len() {
            if values.is_null(row) {
                continue;
            }
            let (items, tallies) = (values.value(row), counts.value(row));
            let tallies = tallies.as_primitive::<datafusion::arrow::datatypes::UInt64Type>();
            for i in 0..items.len() {
                *self
                    .counts
                    .entry(ScalarValue::try_from_array(&items, i)?)
                    .or_default() += tallies.value(i);
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (values, counts): (Vec<ScalarValue>, Vec<ScalarValue>) = self
            .counts
            .iter()
            .map(|(v, c)| (v.clone(), ScalarValue::UInt64(Some(*c))))
            .unzip();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &self.data_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::UInt64)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let best = self
            .counts
            .iter()
            .max_by(|(va, ca), (vb, cb)| {
                let by_value = va.partial_cmp(vb).unwrap_or(std::cmp::Ordering::Equal);
                let tie = if self.largest_on_ties {
                    by_value
                } else {
                    by_value.reverse()
                };
                ca.cmp(cb).then(tie)
            })
            .map(|(v, _)| v.clone());
        match best {
            Some(value) => Ok(value),
            None => ScalarValue::try_from(&self.data_type),
        }
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self
                .counts
                .keys()
                .map(|k| k.size() + size_of::<u64>())
                .sum::<usize>()
    }
}
