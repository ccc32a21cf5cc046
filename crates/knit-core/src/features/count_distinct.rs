// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `__knit_count_distinct(x)`: `count(DISTINCT x)` for any type of `x`, computed for all
//! groups at once, so that a var counting distinct values aggregates in the same
//! `GROUP BY` (the same pass over its input's rows) as the other vars of its input.
//!
//! DataFusion counts distinct values for all groups at once only for integers; for
//! strings, dates or timestamps mixed with other aggregates it keeps one hash set per
//! group, many times slower. Here each value is encoded as bytes (a string's own bytes, a
//! fixed-width value's little-endian bytes, any other type in arrow's row format: equal
//! bytes exactly for equal values) and one [`Interner`] of `(group, value bytes)` keys
//! serves every group: a key seen for the first time is a new distinct value of its
//! group. Values of at most 4 bytes (dates) are kept as `(group, value)` integers
//! instead, sorted and deduplicated in bulk. Between partial and final aggregation the
//! state of a group is its distinct values, as a list of their bytes. NULLs are not
//! counted.
//!
//! The feature composer rewrites `count(DISTINCT x)` into this function.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, Int64Array, ListArray, ListBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use super::packed_pairs::PackedPairs;
use crate::kernels::intern::Interner;

/// The function's name.
pub const COUNT_DISTINCT: &str = "__knit_count_distinct";

/// `__knit_count_distinct(x)`: see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CountDistinct {
    signature: Signature,
}

impl CountDistinct {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl Default for CountDistinct {
    fn default() -> Self {
        Self::new()
    }
}

impl AggregateUDFImpl for CountDistinct {
    fn name(&self) -> &str {
        COUNT_DISTINCT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(0)))
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[distinct_values]", args.name),
            values_type(),
            true,
        ))])
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(DistinctValues::new(
            args.expr_fields[0].data_type(),
        )?))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs<'_>) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs<'_>,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(GroupsDistinctValues::new(
            args.expr_fields[0].data_type(),
        )?))
    }
}

/// The state's type: the distinct values of a group, as row bytes.
fn values_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Binary, true)))
}

/// How the values of one type become bytes that are equal exactly when the values are.
#[derive(Debug)]
enum ValueBytes {
    /// Strings and binary values: their own bytes.
    Own,
    /// Fixed-width values: their bytes in the array's buffer.
    Fixed(usize),
    /// Anything else: arrow's row format.
    Rows(RowConverter),
}

impl ValueBytes {
    fn new(data_type: &DataType) -> Result<Self> {
        use DataType::*;
        Ok(match data_type {
            Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView => ValueBytes::Own,
            other => match other.primitive_width() {
                Some(width) => ValueBytes::Fixed(width),
                None => ValueBytes::Rows(RowConverter::new(vec![SortField::new(other.clone())])?),
            },
        })
    }

    /// Calls `f(row, bytes)` for each row of `values` that is not NULL and that
    /// `filter` keeps.
    fn for_each<'a>(
        &self,
        values: &'a ArrayRef,
        filter: Option<&BooleanArray>,
        mut f: impl FnMut(usize, &[u8]),
    ) -> Result<()> {
        let kept = |row: usize| {
            values.is_valid(row) && filter.is_none_or(|f| f.is_valid(row) && f.value(row))
        };
        match self {
            ValueBytes::Own => {
                let bytes: Box<dyn Fn(usize) -> &'a [u8] + 'a> = match values.data_type() {
                    DataType::Utf8 => {
                        let a = values.as_string::<i32>();
                        Box::new(move |row| a.value(row).as_bytes())
                    }
                    DataType::LargeUtf8 => {
                        let a = values.as_string::<i64>();
                        Box::new(move |row| a.value(row).as_bytes())
                    }
                    DataType::Utf8View => {
                        let a = values.as_string_view();
                        Box::new(move |row| a.value(row).as_bytes())
                    }
                    DataType::Binary => {
                        let a = values.as_binary::<i32>();
                        Box::new(move |row| a.value(row))
                    }
                    DataType::LargeBinary => {
                        let a = values.as_binary::<i64>();
                        Box::new(move |row| a.value(row))
                    }
                    _ => {
                        let a = values.as_binary_view();
                        Box::new(move |row| a.value(row))
                    }
                };
                (0..values.len())
                    .filter(|&r| kept(r))
                    .for_each(|r| f(r, bytes(r)));
            }
            ValueBytes::Fixed(width) => {
                let data = values.to_data();
                let buffer = &data.buffers()[0].as_slice()[data.offset() * width..];
                (0..values.len())
                    .filter(|&r| kept(r))
                    .for_each(|r| f(r, &buffer[r * width..(r + 1) * width]));
            }
            ValueBytes::Rows(converter) => {
                let rows = converter.convert_columns(std::slice::from_ref(values))?;
                (0..values.len())
                    .filter(|&r| kept(r))
                    .for_each(|r| f(r, rows.row(r).as_ref()));
            }
        }
        Ok(())
    }

    fn size(&self) -> usize {
        match self {
            ValueBytes::Rows(converter) => converter.size(),
            _ => 0,
        }
    }
}

/// Calls `f(i, bytes)` for each value of the state list `states`, where `i` is the row
/// (group) of the list holding it.
fn for_each_state_value(states: &ArrayRef, mut f: impl FnMut(usize, &[u8])) {
    let lists: &ListArray = states.as_list();
    let values = lists.values().as_binary::<i32>();
    let offsets = lists.value_offsets();
    for row in 0..lists.len() {
        if lists.is_valid(row) {
            for at in offsets[row] as usize..offsets[row + 1] as usize {
                f(row, values.value(at));
            }
        }
    }
}

/// The distinct values of every group.
#[derive(Debug)]
struct GroupsDistinctValues {
    value_bytes: ValueBytes,
    seen: Seen,
    /// Per group: how many distinct values it has (with [`Seen::Packed`], as of the
    /// last count; one per group seen so far in any case).
    counts: Vec<i64>,
}

/// The `(group, value)` pairs seen.
#[derive(Debug)]
enum Seen {
    /// Interned `(group, value bytes)` keys: a key seen for the first time is a new
    /// distinct value of its group.
    Interned(Interner),
    /// Values of at most 4 bytes (dates, 32-bit numbers), as `group << 32 | value`
    /// integers.
    Packed(PackedPairs),
}

impl GroupsDistinctValues {
    fn new(data_type: &DataType) -> Result<Self> {
        let value_bytes = ValueBytes::new(data_type)?;
        let seen = match value_bytes {
            ValueBytes::Fixed(width) if width <= 4 => Seen::Packed(PackedPairs::new(width)),
            _ => Seen::Interned(Interner::default()),
        };
        Ok(Self {
            value_bytes,
            seen,
            counts: Vec::new(),
        })
    }

    /// Makes room for `groups` groups.
    fn resize(&mut self, groups: usize) -> Result<()> {
        if matches!(self.seen, Seen::Packed(_)) && groups > 1 << 32 {
            return exec_err!(
                "count(DISTINCT) of short values counts at most 2^32 groups, not {groups}"
            );
        }
        self.counts.resize(groups, 0);
        Ok(())
    }

    /// Adds interned keys; each not seen before counts for its group.
    fn insert_all(&mut self, new: &NewKeys) {
        let Seen::Interned(seen) = &mut self.seen else {
            return;
        };
        let mut keys = Vec::with_capacity(new.keys.len());
        let mut start = 0;
        for &(_, end) in &new.keys {
            keys.push((0u16, &new.bytes[start..end]));
            start = end;
        }
        let mut nodes = Vec::with_capacity(keys.len());
        let mut next_new = seen.len() as u32;
        seen.intern_all(&keys, &mut nodes);
        // New keys are numbered in order of first sight: the first sight of each is
        // the next number not yet counted.
        for (&node, &(group, _)) in nodes.iter().zip(&new.keys) {
            if node == next_new {
                self.counts[group] += 1;
                next_new += 1;
            }
        }
    }

    /// Brings the counts up to date.
    fn count(&mut self) {
        if let Seen::Packed(packed) = &mut self.seen {
            packed.count(&mut self.counts);
        }
    }

    /// The distinct values of each of the first `groups` groups, as lists of their bytes
    /// (with [`Seen::Packed`], once counted: the pairs are then in order of group).
    fn state_lists(&self, groups: usize) -> ListArray {
        match &self.seen {
            Seen::Interned(seen) => {
                let mut by_group: Vec<Vec<&[u8]>> = vec![Vec::new(); groups];
                let mut value_bytes = 0;
                for node in 0..seen.len() as u32 {
                    let (_, key) = seen.key(node);
                    if let Some(values) = by_group.get_mut(group_of(key)) {
                        values.push(&key[8..]);
                        value_bytes += key.len() - 8;
                    }
                }
                let mut lists = ListBuilder::with_capacity(
                    BinaryBuilder::with_capacity(seen.len(), value_bytes),
                    groups,
                );
                for values in by_group {
                    for value in values {
                        lists.values().append_value(value);
                    }
                    lists.append(true);
                }
                lists.finish()
            }
            Seen::Packed(packed) => {
                let pairs = &packed.pairs;
                let mut lists = ListBuilder::with_capacity(
                    BinaryBuilder::with_capacity(pairs.len(), pairs.len() * packed.width),
                    groups,
                );
                let mut at = 0;
                for group in 0..groups {
                    while let Some(&pair) = pairs.get(at)
                        && packed.split(pair).0 == group
                    {
                        lists
                            .values()
                            .append_value(&packed.split(pair).1[..packed.width]);
                        at += 1;
                    }
                    lists.append(true);
                }
                lists.finish()
            }
        }
    }

    /// Drops the values of the groups `emit_to` takes, and renumbers the others as
    /// DataFusion does (group `n + g` becomes `g` when the first `n` are taken).
    fn forget(&mut self, emit_to: EmitTo) {
        let seen = match &mut self.seen {
            Seen::Packed(packed) => return packed.forget(emit_to),
            Seen::Interned(seen) => seen,
        };
        let old = std::mem::take(seen);
        if let EmitTo::First(taken) = emit_to {
            let mut key = Vec::new();
            for node in 0..old.len() as u32 {
                let (_, old_key) = old.key(node);
                let group = group_of(old_key);
                if group >= taken {
                    key.clear();
                    key.extend_from_slice(&((group - taken) as u64).to_le_bytes());
                    key.extend_from_slice(&old_key[8..]);
                    seen.intern(0, &key);
                }
            }
        }
    }
}

/// Keys to add to [`GroupsDistinctValues::seen`], in one buffer.
#[derive(Debug, Default)]
struct NewKeys {
    bytes: Vec<u8>,
    /// Each key's group and the end of its bytes.
    keys: Vec<(usize, usize)>,
}

impl NewKeys {
    fn push(&mut self, group: usize, value: &[u8]) {
        self.bytes.extend_from_slice(&(group as u64).to_le_bytes());
        self.bytes.extend_from_slice(value);
        self.keys.push((group, self.bytes.len()));
    }
}

/// The group of an interned key.
fn group_of(key: &[u8]) -> usize {
    let mut group = [0u8; 8];
    group.copy_from_slice(&key[..8]);
    u64::from_le_bytes(group) as usize
}

impl GroupsAccumulator for GroupsDistinctValues {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups)?;
        if let Seen::Packed(packed) = &mut self.seen {
            self.value_bytes
                .for_each(&values[0], opt_filter, |row, value| {
                    packed.push(group_indices[row], value)
                })?;
            packed.compact_if_grown();
            return Ok(());
        }
        let mut new = NewKeys::default();
        self.value_bytes
            .for_each(&values[0], opt_filter, |row, value| {
                new.push(group_indices[row], value)
            })?;
        self.insert_all(&new);
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.count();
        let counts = emit_to.take_needed(&mut self.counts);
        self.forget(emit_to);
        Ok(Arc::new(Int64Array::from(counts)))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = match emit_to {
            EmitTo::All => self.counts.len(),
            EmitTo::First(n) => n,
        };
        self.count();
        let lists = self.state_lists(groups);
        emit_to.take_needed(&mut self.counts);
        self.forget(emit_to);
        Ok(vec![Arc::new(lists)])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups)?;
        if let Seen::Packed(packed) = &mut self.seen {
            for_each_state_value(&values[0], |row, value| {
                packed.push(group_indices[row], value)
            });
            packed.compact_if_grown();
            return Ok(());
        }
        let mut new = NewKeys::default();
        for_each_state_value(&values[0], |row, value| new.push(group_indices[row], value));
        self.insert_all(&new);
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let rows = values[0].len();
        let mut lists = ListBuilder::with_capacity(BinaryBuilder::with_capacity(rows, 0), rows);
        let mut next = 0;
        self.value_bytes
            .for_each(&values[0], opt_filter, |row, value| {
                // Rows skipped (NULL or filtered out) get an empty list.
                for _ in next..row {
                    lists.append(true);
                }
                lists.values().append_value(value);
                lists.append(true);
                next = row + 1;
            })?;
        for _ in next..rows {
            lists.append(true);
        }
        Ok(vec![Arc::new(lists.finish())])
    }

    fn size(&self) -> usize {
        let seen = match &self.seen {
            Seen::Interned(seen) => seen.allocated_bytes(),
            Seen::Packed(packed) => packed.allocated_bytes(),
        };
        seen + self.counts.capacity() * 8 + self.value_bytes.size()
    }
}

/// The distinct values of one group, for aggregation without groups.
#[derive(Debug)]
struct DistinctValues {
    value_bytes: ValueBytes,
    seen: Interner,
}

impl DistinctValues {
    fn new(data_type: &DataType) -> Result<Self> {
        Ok(Self {
            value_bytes: ValueBytes::new(data_type)?,
            seen: Interner::default(),
        })
    }
}

impl Accumulator for DistinctValues {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let seen = &mut self.seen;
        self.value_bytes.for_each(&values[0], None, |_, value| {
            seen.intern(0, value);
        })
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.seen.len() as i64)))
    }

    fn size(&self) -> usize {
        self.seen.allocated_bytes() + self.value_bytes.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut list =
            ListBuilder::with_capacity(BinaryBuilder::with_capacity(self.seen.len(), 0), 1);
        for node in 0..self.seen.len() as u32 {
            list.values().append_value(self.seen.key(node).1);
        }
        list.append(true);
        Ok(vec![ScalarValue::List(Arc::new(list.finish()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let seen = &mut self.seen;
        for_each_state_value(&states[0], |_, value| {
            seen.intern(0, value);
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Date32Array, StringArray};

    use super::*;

    fn counts(array: ArrayRef) -> Vec<i64> {
        array
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .values()
            .to_vec()
    }

    #[test]
    fn counts_distinct_values_per_group_without_nulls_or_filtered_rows() -> Result<()> {
        let values: ArrayRef = Arc::new(StringArray::from(vec![
            Some("x"),
            Some("y"),
            Some("x"),
            None,
            Some("z"),
            Some("x"),
            Some("w"),
        ]));
        let groups = [0, 0, 0, 1, 1, 2, 2];
        // The last row is filtered out; a NULL filter value drops its row too.
        let filter = BooleanArray::from(vec![
            Some(true),
            Some(true),
            None,
            Some(true),
            Some(true),
            Some(true),
            Some(false),
        ]);
        let mut direct = GroupsDistinctValues::new(&DataType::Utf8)?;
        direct.update_batch(&[Arc::clone(&values)], &groups, Some(&filter), 4)?;
        let state = direct.state(EmitTo::All)?;

        // Partial states, merged: the same counts; group 3 never had a row.
        let mut merged = GroupsDistinctValues::new(&DataType::Utf8)?;
        merged.merge_batch(&state, &[0, 1, 2, 3], 4)?;
        merged.merge_batch(&state, &[0, 1, 2, 3], 4)?;
        assert_eq!(counts(merged.evaluate(EmitTo::All)?), vec![2, 1, 1, 0]);

        // Rows passed on as states (no partial aggregation) count the same.
        let mut passed = GroupsDistinctValues::new(&DataType::Utf8)?;
        let rows_as_states = passed.convert_to_state(&[values], Some(&filter))?;
        passed.merge_batch(&rows_as_states, &groups, 3)?;
        assert_eq!(counts(passed.evaluate(EmitTo::All)?), vec![2, 1, 1]);
        Ok(())
    }

    #[test]
    fn emitting_the_first_groups_renumbers_the_rest() -> Result<()> {
        let values: ArrayRef = Arc::new(Date32Array::from(vec![1, 2, 1, 5, 5, 6, 7]));
        let mut acc = GroupsDistinctValues::new(&DataType::Date32)?;
        acc.update_batch(&[values], &[0, 0, 0, 1, 1, 2, 2], None, 3)?;
        assert_eq!(counts(acc.evaluate(EmitTo::First(1))?), vec![2]);
        // Old group 2 is now group 1: a value it had is not counted twice.
        let more: ArrayRef = Arc::new(Date32Array::from(vec![7, 8]));
        acc.update_batch(&[more], &[1, 1], None, 2)?;
        let state = acc.state(EmitTo::First(1))?;
        let mut merged = GroupsDistinctValues::new(&DataType::Date32)?;
        merged.merge_batch(&state, &[0], 1)?;
        assert_eq!(counts(merged.evaluate(EmitTo::All)?), vec![1]);
        assert_eq!(counts(acc.evaluate(EmitTo::All)?), vec![3]);
        Ok(())
    }

    #[test]
    fn packed_pairs_count_as_a_set_does() -> Result<()> {
        use std::collections::HashSet;
        // More rows than a compaction's threshold, in batches, with many repeats; then
        // the first groups emitted, the rest as states merged elsewhere.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let groups = 5_000;
        let mut acc = GroupsDistinctValues::new(&DataType::Date32)?;
        let mut expected = vec![HashSet::new(); groups];
        for _ in 0..20 {
            let rows: Vec<(usize, i32)> = (0..10_000)
                .map(|_| ((next() % groups as u64) as usize, (next() % 40) as i32 - 20))
                .collect();
            for &(group, value) in &rows {
                expected[group].insert(value);
            }
            let values: ArrayRef = Arc::new(Date32Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            ));
            let group_indices: Vec<usize> = rows.iter().map(|r| r.0).collect();
            acc.update_batch(&[values], &group_indices, None, groups)?;
        }
        let expected: Vec<i64> = expected.iter().map(|s| s.len() as i64).collect();
        assert_eq!(counts(acc.evaluate(EmitTo::First(100))?), expected[..100]);
        let states = acc.state(EmitTo::All)?;
        let mut merged = GroupsDistinctValues::new(&DataType::Date32)?;
        let all: Vec<usize> = (0..groups - 100).collect();
        merged.merge_batch(&states, &all, groups - 100)?;
        merged.merge_batch(&states, &all, groups - 100)?;
        assert_eq!(counts(merged.evaluate(EmitTo::All)?), expected[100..]);
        Ok(())
    }

    #[test]
    fn values_of_every_kind_are_told_apart_exactly() -> Result<()> {
        use datafusion::arrow::array::StringViewArray;
        // Own bytes (string views longer than a view's inline 12 bytes), and arrow's row
        // format for booleans.
        let long = "a string longer than twelve bytes";
        let cases: Vec<(ArrayRef, Vec<i64>)> = vec![
            (
                Arc::new(StringViewArray::from(vec![
                    Some(long),
                    Some(long),
                    Some("x"),
                    None,
                ])),
                vec![2, 0],
            ),
            (
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    Some(true),
                    None,
                ])),
                vec![2, 0],
            ),
        ];
        for (values, expected) in cases {
            let mut acc = GroupsDistinctValues::new(values.data_type())?;
            acc.update_batch(&[values], &[0, 0, 0, 1], None, 2)?;
            assert_eq!(counts(acc.evaluate(EmitTo::All)?), expected);
        }
        Ok(())
    }

    #[test]
    fn one_group_accumulator_merges_states() -> Result<()> {
        let mut first = DistinctValues::new(&DataType::Int64)?;
        first.update_batch(&[Arc::new(Int64Array::from(vec![
            Some(1),
            None,
            Some(1),
            Some(2),
        ]))])?;
        let mut second = DistinctValues::new(&DataType::Int64)?;
        second.update_batch(&[Arc::new(Int64Array::from(vec![2, 3]))])?;
        let state: Vec<ArrayRef> = second
            .state()?
            .iter()
            .map(ScalarValue::to_array)
            .collect::<Result<_>>()?;
        first.merge_batch(&state)?;
        assert_eq!(first.evaluate()?, ScalarValue::Int64(Some(3)));
        Ok(())
    }
}
