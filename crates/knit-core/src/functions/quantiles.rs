// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! BigQuery's `approx_quantiles(x, n)`: the `n + 1` boundaries of `n` equal parts of a
//! group's non-NULL values, as a list from the smallest value to the largest. Each is a
//! value of the group (none is interpolated): boundary `i` is the value of rank
//! `ceil(i * count / n)` in order (the smallest for `i = 0`), as BigQuery answers on data
//! small enough to be exact. Read one with `approx_quantiles(x, 4)[OFFSET(2)]`.
//!
//! Knit computes them exactly, from the group's values kept in memory (the pool counts
//! them).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use datafusion::physical_expr::expressions::Literal;

const NAME: &str = "approx_quantiles";

/// `approx_quantiles(x, n)`: see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ApproxQuantiles {
    signature: Signature,
}

impl ApproxQuantiles {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for ApproxQuantiles {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [value, _] => Ok(DataType::new_list(value.clone(), true)),
            _ => plan_err!("{NAME}() takes a value and the number of parts"),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        let parts = args
            .exprs
            .get(1)
            .and_then(|e| e.downcast_ref::<Literal>())
            .and_then(|l| match l.value() {
                ScalarValue::Int64(Some(n)) => Some(*n),
                ScalarValue::Int32(Some(n)) => Some(i64::from(*n)),
                ScalarValue::UInt64(Some(n)) => i64::try_from(*n).ok(),
                _ => None,
            });
        let parts = match parts {
            Some(n) if n >= 1 => n as usize,
            _ => return plan_err!("{NAME}(x, n): n must be a constant integer of 1 or more"),
        };
        let data_type = match args.return_field.data_type() {
            DataType::List(field) => field.data_type().clone(),
            other => return exec_err!("{NAME}(): unexpected result type {other}"),
        };
        Ok(Box::new(QuantilesAccumulator {
            data_type,
            parts,
            values: Vec::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        let value = match args.return_type() {
            DataType::List(field) => field.data_type().clone(),
            other => other.clone(),
        };
        Ok(vec![Arc::new(Field::new_list(
            "values",
            Field::new_list_field(value, true),
            true,
        ))])
    }
}

#[derive(Debug)]
struct QuantilesAccumulator {
    data_type: DataType,
    parts: usize,
    values: Vec<ScalarValue>,
}

impl Accumulator for QuantilesAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(values) = values.first() else {
            return exec_err!("{NAME}() takes a value and the number of parts");
        };
        for row in 0..values.len() {
            if values.is_valid(row) {
                self.values.push(ScalarValue::try_from_array(values, row)?);
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(lists) = states.first() else {
            return exec_err!("{NAME}(): a partial state has no column");
        };
        let lists = lists.as_list::<i32>();
        for row in 0..lists.len() {
            if lists.is_valid(row) {
                self.update_batch(&[lists.value(row)])?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::List(ScalarValue::new_list_nullable(
            &self.values,
            &self.data_type,
        ))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.values.is_empty() {
            return ScalarValue::try_from(&DataType::new_list(self.data_type.clone(), true));
        }
        self.values
            .sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let count = self.values.len();
        let boundaries: Vec<ScalarValue> = (0..=self.parts)
            .map(|i| {
                // The rank ceil(i * count / parts), counted from 1; the smallest for 0.
                let rank = (i * count).div_ceil(self.parts).max(1);
                self.values[rank.min(count) - 1].clone()
            })
            .collect();
        Ok(ScalarValue::List(ScalarValue::new_list_nullable(
            &boundaries,
            &self.data_type,
        )))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.values.iter().map(ScalarValue::size).sum::<usize>()
    }
}
