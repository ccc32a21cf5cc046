// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `first_value(x ORDER BY t)` and `last_value(x ORDER BY t)` in place of DataFusion's,
//! with a groups accumulator of their own when `t` is one integer-like column (a time,
//! a date, an integer): the form vars take (`last_value(event ORDER BY ts)`).
//!
//! DataFusion's groups accumulator keeps each group's ordering value as a
//! `Vec<ScalarValue>` and, for every batch, clears and scans a buffer as long as the
//! number of groups, so an aggregate over millions of entities spends its time on groups
//! the batch does not hold (at 10M edges it took 2.2 s of a 12 s run). Here each group
//! holds its best ordering value as an `i64` and where its row is: the row's batch is
//! kept (value and ordering columns), and the winners are gathered with one `interleave`
//! when the groups are emitted. Kept batches are compacted to one row per group once they
//! hold more than twice as many rows as there are groups, or more than twice the bytes
//! of the last compaction (a few groups with large values: JSON payloads), so memory
//! stays in proportion to the groups' values.
//!
//! The answers are DataFusion's: a row replaces a group's value only when it comes
//! strictly before (`first_value`) or after (`last_value`) the group's value in the
//! ordering, so ties keep the row seen first; `IGNORE NULLS` and `FILTER` skip rows;
//! the ordering's direction and null placement are the query's. Any other form
//! (several ordering columns, a float or text ordering, `DISTINCT`) is DataFusion's own
//! accumulator.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, new_null_array,
};
use datafusion::arrow::compute::kernels::cast::{can_cast_types, cast};
use datafusion::arrow::compute::{SortOptions, interleave};
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::functions_aggregate::first_last::{FirstValue, LastValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator,
    ReversedUDAF, SetMonotonicity, Signature,
};

/// `first_value` or `last_value`: DataFusion's function, with the groups accumulator of
/// the module doc for the orderings it handles.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct OrderedFirstLast {
    /// DataFusion's function, which answers everything but the groups accumulator.
    inner: AggregateUDF,
    /// `first_value` (true) or `last_value` (false).
    first: bool,
}

impl OrderedFirstLast {
    pub(crate) fn first_value() -> Self {
        Self {
            inner: AggregateUDF::from(FirstValue::new()),
            first: true,
        }
    }

    pub(crate) fn last_value() -> Self {
        Self {
            inner: AggregateUDF::from(LastValue::new()),
            first: false,
        }
    }

    fn of(&self) -> &Arc<dyn AggregateUDFImpl> {
        self.inner.inner()
    }
}

/// Whether an ordering column of this type is compared here, as an `i64`.
fn orders_as_integer(data_type: &DataType) -> bool {
    use DataType::*;
    matches!(
        data_type,
        Int8 | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | Date32
            | Date64
            | Timestamp(_, _)
            | Time32(_)
            | Time64(_)
            | Duration(_)
    ) && can_cast_types(data_type, &Int64)
}

/// The ordering of the groups accumulator, when the call has one this module handles.
fn own_ordering(args: &AccumulatorArgs<'_>) -> Option<SortOptions> {
    let [order_by] = args.order_bys else {
        return None;
    };
    if args.is_distinct {
        return None;
    }
    let data_type = order_by.expr.data_type(args.schema).ok()?;
    orders_as_integer(&data_type).then_some(order_by.options)
}

impl AggregateUDFImpl for OrderedFirstLast {
    fn name(&self) -> &str {
        self.of().name()
    }

    fn signature(&self) -> &Signature {
        self.of().signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.of().return_type(arg_types)
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        self.of().return_field(arg_fields)
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        self.of().accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        self.of().state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs<'_>) -> bool {
        own_ordering(&args).is_some() || self.of().groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs<'_>,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let Some(options) = own_ordering(&args) else {
            return self.of().create_groups_accumulator(args);
        };
        let order_type = args.order_bys[0].expr.data_type(args.schema)?;
        Ok(Box::new(BestRows::new(
            args.return_type().clone(),
            order_type,
            options,
            self.first,
            args.ignore_nulls,
        )))
    }

    fn with_beneficial_ordering(
        self: Arc<Self>,
        beneficial_ordering: bool,
    ) -> Result<Option<Arc<dyn AggregateUDFImpl>>> {
        let inner = Arc::clone(self.of()).with_beneficial_ordering(beneficial_ordering)?;
        Ok(inner.map(|inner| {
            Arc::new(Self {
                inner: AggregateUDF::new_from_shared_impl(inner),
                first: self.first,
            }) as _
        }))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.of().order_sensitivity()
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        let reversed = if self.first {
            Self::last_value()
        } else {
            Self::first_value()
        };
        ReversedUDAF::Reversed(Arc::new(AggregateUDF::from(reversed)))
    }

    fn supports_null_handling_clause(&self) -> bool {
        self.of().supports_null_handling_clause()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.of().documentation()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.of().set_monotonicity(data_type)
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        self.of().default_value(data_type)
    }
}

/// Where a group's best row is, and its ordering value.
#[derive(Debug, Clone, Copy, Default)]
struct Best {
    /// The ordering value, or `None` for NULL.
    key: Option<i64>,
    /// Whether the group has a row yet.
    set: bool,
    /// The kept batch holding the row (0, the batch of one NULL, while unset) and its
    /// row there.
    batch: u32,
    row: u32,
}

/// The groups accumulator: each group's best row so far, in batches kept whole.
#[derive(Debug)]
struct BestRows {
    best: Vec<Best>,
    /// Kept batches: the value and ordering columns; the first is one NULL row.
    values: Vec<ArrayRef>,
    orders: Vec<ArrayRef>,
    kept_rows: usize,
    kept_bytes: usize,
    /// The kept bytes right after the last compaction.
    compacted_bytes: usize,
    options: SortOptions,
    first: bool,
    ignore_nulls: bool,
}

/// Kept batches are compacted once they hold this many rows beyond twice the groups, or
/// this many bytes beyond twice those of the last compaction.
const COMPACT_SLACK: usize = 1 << 16;
const COMPACT_SLACK_BYTES: usize = 32 << 20;

impl BestRows {
    fn new(
        value_type: DataType,
        order_type: DataType,
        options: SortOptions,
        first: bool,
        ignore_nulls: bool,
    ) -> Self {
        let mut rows = Self {
            best: Vec::new(),
            values: vec![new_null_array(&value_type, 1)],
            orders: vec![new_null_array(&order_type, 1)],
            kept_rows: 1,
            kept_bytes: 0,
            compacted_bytes: 0,
            options,
            first,
            ignore_nulls,
        };
        rows.kept_bytes = rows.null_row_bytes();
        rows
    }

    /// The bytes of the first kept batch, the one NULL row every accumulator keeps.
    fn null_row_bytes(&self) -> usize {
        self.values[0].get_array_memory_size() + self.orders[0].get_array_memory_size()
    }

    /// Whether a row ordered at `key` replaces the group's row at `best`.
    fn replaces(&self, key: Option<i64>, best: Option<i64>) -> bool {
        let order = match (key, best) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) if self.options.nulls_first => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) if self.options.nulls_first => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) if self.options.descending => b.cmp(&a),
            (Some(a), Some(b)) => a.cmp(&b),
        };
        if self.first {
            order == Ordering::Less
        } else {
            order == Ordering::Greater
        }
    }

    /// Offers every row whose `take` is true to its group; keeps the batch if one won.
    fn offer(
        &mut self,
        values: &ArrayRef,
        orders: &ArrayRef,
        group_indices: &[usize],
        take: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.best.resize(total_num_groups, Best::default());
        let keys = cast(orders, &DataType::Int64)?;
        let keys: &Int64Array = keys.as_primitive::<Int64Type>();
        let batch = u32::try_from(self.values.len())
            .or_else(|_| internal_err!("first_value/last_value kept more than 2^32 batches"))?;
        let mut won = false;
        for (row, &group) in group_indices.iter().enumerate() {
            if take.is_some_and(|take| !(take.is_valid(row) && take.value(row))) {
                continue;
            }
            if self.ignore_nulls && values.is_null(row) {
                continue;
            }
            let key = keys.is_valid(row).then(|| keys.value(row));
            let best = self.best[group];
            if best.set && !self.replaces(key, best.key) {
                continue;
            }
            self.best[group] = Best {
                key,
                set: true,
                batch,
                row: row as u32,
            };
            won = true;
        }
        if won {
            self.kept_rows += values.len();
            self.kept_bytes += values.get_array_memory_size() + orders.get_array_memory_size();
            self.values.push(Arc::clone(values));
            self.orders.push(Arc::clone(orders));
            if self.kept_rows > 2 * self.best.len() + COMPACT_SLACK
                || self.kept_bytes > 2 * self.compacted_bytes + COMPACT_SLACK_BYTES
            {
                self.compact()?;
            }
        }
        Ok(())
    }

    /// Gathers the value and ordering columns of the groups' rows.
    fn gather(&self, groups: &[Best]) -> Result<(ArrayRef, ArrayRef)> {
        let places: Vec<(usize, usize)> = groups
            .iter()
            .map(|best| (best.batch as usize, best.row as usize))
            .collect();
        let values: Vec<&dyn Array> = self.values.iter().map(|a| a.as_ref()).collect();
        let orders: Vec<&dyn Array> = self.orders.iter().map(|a| a.as_ref()).collect();
        Ok((interleave(&values, &places)?, interleave(&orders, &places)?))
    }

    /// Replaces the kept batches with one holding each group's row.
    fn compact(&mut self) -> Result<()> {
        let (values, orders) = self.gather(&self.best)?;
        self.values.truncate(1);
        self.orders.truncate(1);
        self.kept_rows = 1 + values.len();
        self.kept_bytes =
            self.null_row_bytes() + values.get_array_memory_size() + orders.get_array_memory_size();
        self.compacted_bytes = self.kept_bytes;
        self.values.push(values);
        self.orders.push(orders);
        for (row, best) in self.best.iter_mut().enumerate() {
            if best.set {
                best.batch = 1;
                best.row = row as u32;
            }
        }
        Ok(())
    }

    /// Takes the groups `emit_to` names: their values, orderings and whether each is set.
    fn take(&mut self, emit_to: EmitTo) -> Result<(ArrayRef, ArrayRef, BooleanArray)> {
        let groups = emit_to.take_needed(&mut self.best);
        let (values, orders) = self.gather(&groups)?;
        let set = BooleanArray::from_iter(groups.iter().map(|best| Some(best.set)));
        if self.best.is_empty() {
            self.values.truncate(1);
            self.orders.truncate(1);
            self.kept_rows = 1;
            self.kept_bytes = self.null_row_bytes();
            self.compacted_bytes = 0;
        }
        Ok((values, orders, set))
    }
}

impl GroupsAccumulator for BestRows {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let [values, orders] = values else {
            return internal_err!("first_value/last_value takes a value and one ordering");
        };
        self.offer(values, orders, group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.take(emit_to)?.0)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (values, orders, set) = self.take(emit_to)?;
        Ok(vec![values, orders, Arc::new(set)])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let [values, orders, set] = values else {
            return internal_err!(
                "first_value/last_value's state is a value, an ordering and a flag"
            );
        };
        let set = set.as_boolean();
        self.offer(values, orders, group_indices, Some(set), total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let [values, orders] = values else {
            return internal_err!("first_value/last_value takes a value and one ordering");
        };
        let set = match opt_filter {
            Some(filter) => filter.clone(),
            None => BooleanArray::from(vec![true; values.len()]),
        };
        Ok(vec![Arc::clone(values), Arc::clone(orders), Arc::new(set)])
    }

    fn size(&self) -> usize {
        self.best.capacity() * size_of::<Best>() + self.kept_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{StringArray, TimestampMillisecondArray};

    fn strings(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    fn times(values: &[Option<i64>]) -> ArrayRef {
        Arc::new(TimestampMillisecondArray::from(values.to_vec()))
    }

    fn evaluate(rows: &mut BestRows) -> Vec<Option<String>> {
        let values = rows.evaluate(EmitTo::All).unwrap();
        values
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    /// `ORDER BY t`, as SQL means it: ascending, NULLs last.
    const ASC: SortOptions = SortOptions {
        descending: false,
        nulls_first: false,
    };

    fn last(options: SortOptions) -> BestRows {
        let ts = DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Millisecond, None);
        BestRows::new(DataType::Utf8, ts, options, false, false)
    }

    #[test]
    fn the_last_row_by_time_wins_and_ties_keep_the_first_seen() {
        let mut rows = last(ASC);
        let values = strings(&[Some("a"), Some("b"), Some("c"), Some("d"), Some("e")]);
        let orders = times(&[Some(1), Some(3), Some(3), Some(2), None]);
        // Group 0: a@1, b@3, c@3 (tie: b stays). Group 1: d@2 and e@NULL, which sorts
        // last (ASC NULLS LAST), so it is the last value. Group 2: no rows.
        rows.update_batch(&[values, orders], &[0, 0, 0, 1, 1], None, 3)
            .unwrap();
        assert_eq!(
            evaluate(&mut rows),
            [Some("b".into()), Some("e".into()), None]
        );
    }

    #[test]
    fn descending_nulls_first_and_filters_are_honoured() {
        let options = SortOptions {
            descending: true,
            nulls_first: true,
        };
        let mut rows = last(options);
        let values = strings(&[Some("a"), Some("b"), Some("c"), Some("d")]);
        let orders = times(&[None, Some(5), Some(1), Some(9)]);
        let filter = BooleanArray::from(vec![Some(true), Some(true), Some(true), None]);
        // DESC NULLS FIRST: NULL, 5, 1 in that order; d is filtered out (NULL filter).
        rows.update_batch(&[values, orders], &[0, 0, 0, 0], Some(&filter), 1)
            .unwrap();
        assert_eq!(evaluate(&mut rows), [Some("c".into())]);
    }

    #[test]
    fn merged_states_combine_as_the_rows_would() {
        let mut partial = last(ASC);
        partial
            .update_batch(
                &[strings(&[Some("x"), Some("y")]), times(&[Some(4), Some(1)])],
                &[0, 1],
                None,
                2,
            )
            .unwrap();
        let state = partial.state(EmitTo::All).unwrap();
        let direct = last(ASC);
        let converted = direct
            .convert_to_state(&[strings(&[Some("z")]), times(&[Some(2)])], None)
            .unwrap();
        let mut fin = last(ASC);
        fin.merge_batch(&state, &[0, 1], 2).unwrap();
        fin.merge_batch(&converted, &[1], 2).unwrap();
        fin.merge_batch(&converted, &[0], 2).unwrap();
        assert_eq!(evaluate(&mut fin), [Some("x".into()), Some("z".into())]);
    }

    #[test]
    fn compaction_and_partial_emits_keep_every_groups_row() {
        let mut rows = last(ASC);
        let groups = 1000;
        for round in 0..200i64 {
            let values: Vec<String> = (0..groups).map(|g| format!("{g}-{round}")).collect();
            let values: ArrayRef = Arc::new(StringArray::from(values));
            let orders = times(&vec![Some(round); groups]);
            let indices: Vec<usize> = (0..groups).collect();
            rows.update_batch(&[values, orders], &indices, None, groups)
                .unwrap();
        }
        assert!(rows.values.len() < 200, "kept batches were compacted");
        let first = rows.evaluate(EmitTo::First(10)).unwrap();
        assert_eq!(first.as_string::<i32>().value(3), "3-199");
        let rest = evaluate(&mut rows);
        assert_eq!(rest.len(), groups - 10);
        assert_eq!(rest[0].as_deref(), Some("10-199"));
    }

    #[test]
    fn large_values_of_few_groups_are_not_kept_batch_after_batch() {
        let mut rows = last(ASC);
        let big = "x".repeat(100_000);
        for round in 0..300i64 {
            // Ten rows of 100 kB a batch, each batch later than the one before: every
            // batch wins, and 300 of them are 300 MB.
            let values: ArrayRef = Arc::new(StringArray::from(vec![big.as_str(); 10]));
            let orders = times(&[Some(round); 10]);
            rows.update_batch(&[values, orders], &[0, 1, 0, 1, 0, 1, 0, 1, 0, 1], None, 2)
                .unwrap();
            assert!(rows.size() < 40 << 20, "{} bytes kept", rows.size());
        }
        assert_eq!(evaluate(&mut rows), [Some(big.clone()), Some(big)]);
    }

    /// One batch of the property test: per row its group, ordering, value and filter.
    type Rows = Vec<(usize, Option<i64>, Option<String>, bool)>;

    fn arrays(rows: &Rows) -> (Vec<ArrayRef>, Vec<usize>, BooleanArray) {
        let values: Vec<Option<&str>> = rows.iter().map(|r| r.2.as_deref()).collect();
        let orders: Vec<Option<i64>> = rows.iter().map(|r| r.1).collect();
        let groups = rows.iter().map(|r| r.0).collect();
        let filter = BooleanArray::from(rows.iter().map(|r| r.3).collect::<Vec<_>>());
        (vec![strings(&values), times(&orders)], groups, filter)
    }

    /// Runs `batches` through a partial accumulator (the first half), its state and
    /// rows converted to states (the second half) into a final one, as a two-stage
    /// aggregate would; returns the final values.
    fn two_stages(
        make: &dyn Fn() -> Box<dyn GroupsAccumulator>,
        batches: &[Rows],
        groups: usize,
    ) -> ArrayRef {
        let (early, late) = batches.split_at(batches.len() / 2);
        let mut partial = make();
        for rows in early {
            let (columns, indices, filter) = arrays(rows);
            partial
                .update_batch(&columns, &indices, Some(&filter), groups)
                .unwrap();
        }
        let mut fin = make();
        // (DataFusion's accumulator cannot give the state of no groups.)
        if !early.is_empty() {
            let state = partial.state(EmitTo::All).unwrap();
            let all: Vec<usize> = (0..groups).collect();
            fin.merge_batch(&state, &all, groups).unwrap();
        }
        for rows in late {
            let (columns, indices, filter) = arrays(rows);
            let state = partial.convert_to_state(&columns, Some(&filter)).unwrap();
            fin.merge_batch(&state, &indices, groups).unwrap();
        }
        fin.evaluate(EmitTo::All).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Knit's accumulator gives DataFusion's answers, ties, NULLs, filters and
        /// directions included, in one stage and in two.
        #[test]
        fn answers_as_datafusions_accumulator(
            batches in proptest::collection::vec(
                proptest::collection::vec(
                    (0usize..5,
                     proptest::option::of(0i64..4),
                     proptest::option::of("[a-d]"),
                     proptest::bool::weighted(0.8)),
                    0..16),
                1..6),
            first: bool,
            descending: bool,
            nulls_first: bool,
            ignore_nulls: bool,
        ) {
            use datafusion::arrow::datatypes::{Field, Schema, TimeUnit};
            use datafusion::physical_expr::PhysicalSortExpr;
            use datafusion::physical_expr::expressions::Column;

            let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
            let schema = Schema::new(vec![
                Field::new("x", DataType::Utf8, true),
                Field::new("t", ts.clone(), true),
            ]);
            let options = SortOptions { descending, nulls_first };
            let order_bys = [PhysicalSortExpr::new(Arc::new(Column::new("t", 1)), options)];
            let exprs: [Arc<dyn datafusion::physical_expr::PhysicalExpr>; 1] =
                [Arc::new(Column::new("x", 0))];
            let expr_fields = [Arc::new(schema.field(0).clone())];
            let theirs = || -> Box<dyn GroupsAccumulator> {
                let args = AccumulatorArgs {
                    return_field: Arc::new(Field::new("r", DataType::Utf8, true)),
                    schema: &schema,
                    ignore_nulls,
                    order_bys: &order_bys,
                    is_reversed: false,
                    name: "r",
                    is_distinct: false,
                    exprs: &exprs,
                    expr_fields: &expr_fields,
                };
                if first {
                    FirstValue::new().create_groups_accumulator(args).unwrap()
                } else {
                    LastValue::new().create_groups_accumulator(args).unwrap()
                }
            };
            let ours = || -> Box<dyn GroupsAccumulator> {
                Box::new(BestRows::new(DataType::Utf8, ts.clone(), options, first, ignore_nulls))
            };
            let groups = 5;
            let mut one = (ours(), theirs());
            for rows in &batches {
                let (columns, indices, filter) = arrays(rows);
                one.0.update_batch(&columns, &indices, Some(&filter), groups).unwrap();
                one.1.update_batch(&columns, &indices, Some(&filter), groups).unwrap();
            }
            let (a, b) = (one.0.evaluate(EmitTo::All).unwrap(), one.1.evaluate(EmitTo::All).unwrap());
            proptest::prop_assert_eq!(a.as_ref(), b.as_ref());
            let a = two_stages(&ours, &batches, groups);
            let b = two_stages(&theirs, &batches, groups);
            proptest::prop_assert_eq!(a.as_ref(), b.as_ref());
        }
    }
}
