// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Reading an input's batches into pairs of interned nodes: the first stage of the
//! stitch (the second, grouping the pairs, is [`super::algo::pairs::EdgeSet`]).
//!
//! A batch has one id column per id of the input (any type that casts to text), then
//! its time as microseconds. Each id is interned if its type's filters keep it, and
//! each row gives pb's pairs ([`row_pairs`]). A batch is read in slices of rows small
//! enough that their pairs (a row with `n` ids gives up to `n(n-1)/2`) fit a bounded
//! buffer, whose size the caller reserves before the slice is read.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::error::{DataFusionError, Result};

use super::algo::pairs::{MAX_NODES, Pair, Side, pairs_per_row, row_pairs};
use super::algo::time::Time;
use super::rules::StitchRules;
use crate::catalog::IdType;
use crate::kernels::intern::Interner;

/// About how many pairs one slice of a batch gives at most, so that a wide input (150
/// id columns give 11,175 pairs a row) is read a few rows at a time.
const SLICE_PAIRS: usize = 1 << 16;

/// The first stage of reading: input rows to pairs of interned nodes.
#[derive(Debug, Default)]
pub(crate) struct PairReader {
    /// The nodes seen.
    pub(crate) nodes: Interner,
    /// Input rows read.
    pub(crate) rows: usize,
}

/// How many rows of an input with `id_columns` id columns make one slice.
pub(crate) fn slice_rows(id_columns: usize) -> usize {
    (SLICE_PAIRS / pairs_per_row(id_columns).max(1)).max(1)
}

/// The most pairs a slice of `rows` rows with `id_columns` id columns gives: what the
/// caller reserves before reading it.
pub(crate) fn slice_pairs(rows: usize, id_columns: usize) -> usize {
    rows * pairs_per_row(id_columns)
}

/// The `columns` id columns of an input's `batch` as text and its time (the column
/// after them) as microseconds: how the stitch reads every value, here and in the
/// keys of a spread stitch.
pub(crate) fn ids_and_time(
    batch: &RecordBatch,
    columns: usize,
) -> Result<(Vec<ArrayRef>, ArrayRef)> {
    let ids = (0..columns)
        .map(|i| cast(batch.column(i), &DataType::Utf8View))
        .collect::<Result<Vec<_>, _>>()?;
    let time = cast(
        batch.column(columns),
        &DataType::Timestamp(TimeUnit::Microsecond, None),
    )?;
    Ok((ids, time))
}

impl PairReader {
    /// Appends the pairs of `batch` (a slice of at most [`slice_rows`] rows) to
    /// `pairs`. The batch has one column per id (types given by `column_types`,
    /// indexes into `id_types`), then the time.
    pub(crate) fn read_batch(
        &mut self,
        batch: &RecordBatch,
        column_types: &[u16],
        id_types: &[IdType],
        rules: &StitchRules,
        pairs: &mut Vec<Pair>,
    ) -> Result<()> {
        let (ids, times) = ids_and_time(batch, column_types.len())?;
        let ids: Vec<_> = ids.iter().map(|a| a.as_string_view()).collect();
        let times: &TimestampMicrosecondArray = times.as_primitive();
        // The batch's ids first, interned together (see `Interner::intern_all`); a
        // rejected or missing id keeps `u32::MAX` in its cell.
        let columns = column_types.len();
        let mut keys: Vec<(u16, &[u8])> = Vec::with_capacity(batch.num_rows() * columns);
        let mut cells: Vec<u32> = Vec::with_capacity(batch.num_rows() * columns);
        for row in 0..batch.num_rows() {
            for (column, &id_type) in ids.iter().zip(column_types) {
                if column.is_valid(row) {
                    let value = column.value(row);
                    let filters_keep = id_types[usize::from(id_type)].accepts(value);
                    let keep = if rules.no_id_rules() {
                        filters_keep
                    } else {
                        rules.keeps(id_type, value, filters_keep)
                    };
                    if keep {
                        cells.push(keys.len() as u32);
                        keys.push((id_type, value.as_bytes()));
                        continue;
                    }
                }
                cells.push(u32::MAX);
            }
        }
        let mut nodes = Vec::with_capacity(keys.len());
        self.nodes.intern_all(&keys, &mut nodes);
        if self.nodes.len() > MAX_NODES {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "IdStitchExec: more than {MAX_NODES} distinct ids; stitch fewer inputs or a \
                 shorter time range"
            )));
        }
        let mut sides: Vec<Side> = Vec::with_capacity(columns);
        for (row, row_cells) in cells.chunks(columns.max(1)).enumerate() {
            let time = if times.is_valid(row) {
                Time::from_micros(Some(times.value(row))).ok_or_else(|| {
                    DataFusionError::Execution(format!(
                        "IdStitchExec: an OCCURRED AT time is out of range ({} \
                         microseconds after 1970); filter it out or correct it",
                        i64::MAX
                    ))
                })?
            } else {
                Time::NULL
            };
            sides.clear();
            sides.extend(row_cells.iter().zip(column_types).map(|(&cell, &id_type)| {
                if cell == u32::MAX {
                    Side::Missing(id_type)
                } else {
                    Side::Node(nodes[cell as usize])
                }
            }));
            row_pairs(&sides, time, pairs);
        }
        self.rows += batch.num_rows();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::StringArray;

    use super::*;

    #[test]
    fn reading_refuses_the_time_kept_for_null() {
        let batch = |time: i64| {
            RecordBatch::try_from_iter([
                ("id_0", Arc::new(StringArray::from(vec!["u1", "u2"])) as _),
                (
                    "occurred_at",
                    Arc::new(TimestampMicrosecondArray::from(vec![Some(time), None])) as _,
                ),
            ])
        };
        let id_types = [IdType {
            name: "user_id".to_string(),
            filters: Vec::new(),
            limit: None,
        }];
        let mut reader = PairReader::default();
        let mut pairs = Vec::new();
        let read = reader.read_batch(
            &batch(i64::MAX).unwrap(),
            &[0],
            &id_types,
            &StitchRules::default(),
            &mut pairs,
        );
        let error = read.unwrap_err().to_string();
        assert!(
            error.contains("OCCURRED AT time is out of range"),
            "{error}"
        );
        reader
            .read_batch(
                &batch(i64::MAX - 1).unwrap(),
                &[0],
                &id_types,
                &StitchRules::default(),
                &mut pairs,
            )
            .unwrap();
        let time = Time::from_micros(Some(i64::MAX - 1)).unwrap();
        assert_eq!(
            pairs,
            vec![
                Pair::new(Side::Node(0), Side::Node(0), time),
                Pair::new(Side::Node(1), Side::Node(1), Time::NULL),
            ]
        );
    }

    #[test]
    fn wide_inputs_are_read_in_small_slices() {
        assert_eq!(slice_rows(1), SLICE_PAIRS);
        assert_eq!(slice_rows(2), SLICE_PAIRS);
        // 150 ids: 11,175 pairs a row, so 5 rows a slice, 55,875 pairs at most.
        assert_eq!(slice_rows(150), 5);
        assert!(slice_pairs(slice_rows(150), 150) <= SLICE_PAIRS);
        assert_eq!(slice_rows(1000), 1);
    }
}
