// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `sum` that fails when a sum of integers overflows, in place of DataFusion's, which
//! wraps around (the sum of `9223372036854775807` and `1` would be a large negative
//! number). PostgreSQL, pb's reference, never gives a wrong integer: its arithmetic
//! fails with "bigint out of range". Knit fails too, saying which sum and how to widen
//! it. A `bigint` column itself is summed as a decimal (module `exact_numbers`), so the
//! check guards the sums of smaller integers, which DataFusion sums as `Int64` and
//! `UInt64`, and sums planned without the analyzer. Sums of other types (decimals,
//! floats, durations), `DISTINCT` sums and sums over sliding window frames are
//! DataFusion's own.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray};
use datafusion::arrow::datatypes::{
    ArrowNativeTypeOp, ArrowPrimitiveType, DataType, FieldRef, Int64Type, UInt64Type,
};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::functions_aggregate::sum::Sum;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, ReversedUDAF,
    SetMonotonicity, Signature,
};

/// `sum`, checked for integers: see the module doc.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct CheckedSum {
    sum: Sum,
}

/// The error of an integer sum that does not fit its type.
fn overflow<T>(data_type: &DataType) -> Result<T> {
    exec_err!(
        "sum out of range: a sum of {data_type} values does not fit in {data_type}; cast the \
         values to DECIMAL(38, 0) or DOUBLE, as in sum(CAST(x AS DECIMAL(38, 0)))"
    )
}

impl AggregateUDFImpl for CheckedSum {
    fn name(&self) -> &str {
        self.sum.name()
    }

    fn signature(&self) -> &Signature {
        self.sum.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.sum.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        if !args.is_distinct {
            match args.return_type() {
                DataType::Int64 => return Ok(Box::new(SumOf::<Int64Type>::default())),
                DataType::UInt64 => return Ok(Box::new(SumOf::<UInt64Type>::default())),
                _ => {}
            }
        }
        self.sum.accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        self.sum.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs<'_>) -> bool {
        self.sum.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs<'_>,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        match args.return_type() {
            DataType::Int64 => Ok(Box::new(GroupSums::<Int64Type>::default())),
            DataType::UInt64 => Ok(Box::new(GroupSums::<UInt64Type>::default())),
            _ => self.sum.create_groups_accumulator(args),
        }
    }

    fn create_sliding_accumulator(
        &self,
        args: AccumulatorArgs<'_>,
    ) -> Result<Box<dyn Accumulator>> {
        self.sum.create_sliding_accumulator(args)
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        self.sum.reverse_expr()
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.sum.order_sensitivity()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.sum.documentation()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.sum.set_monotonicity(data_type)
    }
}

/// The running sum of one group, for aggregates without `GROUP BY`.
struct SumOf<T: ArrowPrimitiveType> {
    sum: Option<T::Native>,
}

impl<T: ArrowPrimitiveType> std::fmt::Debug for SumOf<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SumOf").field("sum", &self.sum).finish()
    }
}

impl<T: ArrowPrimitiveType> Default for SumOf<T> {
    fn default() -> Self {
        Self { sum: None }
    }
}

impl<T: ArrowPrimitiveType> SumOf<T> {
    fn add_all(&mut self, values: &ArrayRef) -> Result<()> {
        let values: &PrimitiveArray<T> = values.as_primitive();
        for value in values.iter().flatten() {
            self.sum = Some(match self.sum {
                Some(sum) => match sum.add_checked(value) {
                    Ok(sum) => sum,
                    Err(_) => return overflow(&T::DATA_TYPE),
                },
                None => value,
            });
        }
        Ok(())
    }

    fn value(&self) -> ScalarValue {
        let array = PrimitiveArray::<T>::from_iter([self.sum]);
        ScalarValue::try_from_array(&array, 0).unwrap_or(ScalarValue::Null)
    }
}

impl<T: ArrowPrimitiveType> Accumulator for SumOf<T> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add_all(&values[0])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.add_all(&states[0])
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.value()])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value())
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }
}

/// The running sums of every group: a sum and whether it has a value, per group.
struct GroupSums<T: ArrowPrimitiveType> {
    sums: Vec<T::Native>,
    seen: Vec<bool>,
}

impl<T: ArrowPrimitiveType> std::fmt::Debug for GroupSums<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupSums")
            .field("groups", &self.sums.len())
            .finish()
    }
}

impl<T: ArrowPrimitiveType> Default for GroupSums<T> {
    fn default() -> Self {
        Self {
            sums: Vec::new(),
            seen: Vec::new(),
        }
    }
}

impl<T: ArrowPrimitiveType> GroupSums<T> {
    fn add_all(
        &mut self,
        values: &ArrayRef,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
        groups: usize,
    ) -> Result<()> {
        self.sums.resize(groups, T::Native::default());
        self.seen.resize(groups, false);
        let values: &PrimitiveArray<T> = values.as_primitive();
        for (row, &group) in group_indices.iter().enumerate() {
            let kept = filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if !kept || values.is_null(row) {
                continue;
            }
            let value = values.value(row);
            if self.seen[group] {
                match self.sums[group].add_checked(value) {
                    Ok(sum) => self.sums[group] = sum,
                    Err(_) => return overflow(&T::DATA_TYPE),
                }
            } else {
                self.sums[group] = value;
                self.seen[group] = true;
            }
        }
        Ok(())
    }

    fn take(&mut self, emit_to: EmitTo) -> ArrayRef {
        let sums = emit_to.take_needed(&mut self.sums);
        let seen = emit_to.take_needed(&mut self.seen);
        Arc::new(PrimitiveArray::<T>::from_iter(
            sums.into_iter()
                .zip(seen)
                .map(|(sum, seen)| seen.then_some(sum)),
        ))
    }
}

impl<T: ArrowPrimitiveType + Send> GroupsAccumulator for GroupSums<T> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.add_all(&values[0], group_indices, opt_filter, total_num_groups)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.add_all(&values[0], group_indices, None, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row is its own partial sum; a row left out by the filter is none.
        let values: &PrimitiveArray<T> = values[0].as_primitive();
        let rows = values.iter().enumerate().map(|(row, value)| {
            let kept = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            value.filter(|_| kept)
        });
        Ok(vec![Arc::new(PrimitiveArray::<T>::from_iter(rows))])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.take(emit_to))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.take(emit_to)])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * size_of::<T::Native>() + self.seen.capacity()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Int64Array;

    use super::*;

    #[test]
    fn group_sums_fail_on_overflow_and_keep_nulls() {
        let mut sums = GroupSums::<Int64Type>::default();
        let values: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(2), Some(5)]));
        let filter = BooleanArray::from(vec![true, true, true, false]);
        sums.update_batch(&[values], &[0, 1, 0, 2], Some(&filter), 3)
            .unwrap();
        let result = sums.evaluate(EmitTo::All).unwrap();
        assert_eq!(
            result
                .as_primitive::<Int64Type>()
                .iter()
                .collect::<Vec<_>>(),
            vec![Some(3), None, None]
        );
        let big: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX, 1]));
        let error = sums.update_batch(&[big], &[0, 0], None, 1).unwrap_err();
        assert!(error.to_string().contains("sum out of range"), "{error}");
    }

    #[test]
    fn one_sum_fails_on_overflow() {
        let mut sum = SumOf::<Int64Type>::default();
        let values: ArrayRef = Arc::new(Int64Array::from(vec![Some(i64::MAX - 1), None]));
        sum.update_batch(&[Arc::clone(&values)]).unwrap();
        assert_eq!(
            sum.evaluate().unwrap(),
            ScalarValue::Int64(Some(i64::MAX - 1))
        );
        let one: ArrayRef = Arc::new(Int64Array::from(vec![2]));
        assert!(sum.merge_batch(&[one]).is_err());
        assert_eq!(
            SumOf::<Int64Type>::default().evaluate().unwrap(),
            ScalarValue::Int64(None)
        );
    }
}
