// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `IdKeysExec`: an input's rows with the fingerprints of their ids, the first step of
//! a stitch spread over workers (the plan that spreads it is built above this module).
//!
//! A spread stitch sends each row to the task that stitches its cluster, so it needs,
//! before any stitching, a label shared by all the rows of a cluster. This operator
//! gives the two things that label is made of:
//!
//! - **pairs** (`a`, `b`: the fingerprints of a row's first id and of each other id,
//!   `b` NULL for a row of one id), whose connected components are the labels;
//! - **rows** in one schema for all inputs (the input's number, its id columns as text
//!   padded with NULLs to the widest input, its time, the fingerprint of its first id
//!   as `key`), which a join with the labels then routes.
//!
//! A label only has to keep a cluster's rows together, so it may join more than the
//! stitch will (two ids with one fingerprint share a label), never less: a row's ids
//! are at least those the stitch reads ([`super::read`]), cast as it casts them: the
//! values their type's filters keep or, for an entity with stitch rules (which can
//! make an id of any value), every non-empty value. Rules join no ids that no row
//! joins (an included edge is one the inputs gave), so the labels need not read them.

// Without workers only the reading of routed rows (`split_rows`) is used.
#![cfg_attr(not(feature = "distributed"), allow(dead_code))]

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringViewArray, UInt16Array, UInt64Array,
    UInt64Builder, new_null_array,
};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, UInt16Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, SendableRecordBatchStream,
};
use futures::StreamExt;

use super::read::ids_and_time;
use super::spec::StitchSpec;
use crate::error::internal;
use crate::kernels::intern::fingerprint;

/// The column holding a row's input number in the rows' schema.
pub(crate) const INPUT_COLUMN: &str = "__knit_input";
/// The column holding a row's time in the rows' schema.
const TIME_COLUMN: &str = "__knit_time";
/// The column holding the fingerprint of a row's first id in the rows' schema.
pub(crate) const KEY_COLUMN: &str = "__knit_key";

/// What an [`IdKeysExec`] emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeysOutput {
    /// The rows, with `width` id columns each.
    Rows { width: usize },
    /// The pairs of fingerprints.
    Pairs,
}

/// The rows of input `input` of a stitch as [`KeysOutput`] says, partition by
/// partition.
#[derive(Debug)]
pub(crate) struct IdKeysExec {
    spec: Arc<StitchSpec>,
    input: usize,
    output: KeysOutput,
    rows: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    cache: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

/// The schema of the rows of a spread stitch whose widest input has `width` ids.
pub(crate) fn rows_schema(width: usize) -> SchemaRef {
    let mut fields = vec![Field::new(INPUT_COLUMN, DataType::UInt16, false)];
    fields
        .extend((0..width).map(|i| Field::new(format!("__knit_id_{i}"), DataType::Utf8View, true)));
    fields.push(Field::new(
        TIME_COLUMN,
        DataType::Timestamp(TimeUnit::Microsecond, None),
        true,
    ));
    fields.push(Field::new(KEY_COLUMN, DataType::UInt64, true));
    Arc::new(Schema::new(fields))
}

fn pairs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("a", DataType::UInt64, false),
        Field::new("b", DataType::UInt64, true),
    ]))
}

impl IdKeysExec {
    /// The keys of input number `input` of `spec`, whose rows `rows` reads.
    pub(crate) fn try_new(
        spec: Arc<StitchSpec>,
        input: usize,
        output: KeysOutput,
        rows: Arc<dyn ExecutionPlan>,
    ) -> Result<Self> {
        let Some(definition) = spec.inputs.get(input) else {
            return Err(internal(format!(
                "a stitch of {} inputs has no input {input}",
                spec.inputs.len()
            )));
        };
        let schema = match output {
            KeysOutput::Rows { width } if width >= definition.column_types.len() => {
                rows_schema(width)
            }
            KeysOutput::Rows { width } => {
                return Err(internal(format!(
                    "input '{}' has more ids than the {width} columns of its keys",
                    definition.name
                )));
            }
            KeysOutput::Pairs => pairs_schema(),
        };
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(rows.output_partitioning().partition_count()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self {
            spec,
            input,
            output,
            rows,
            schema,
            cache,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The parts its wire form carries.
    #[cfg(feature = "distributed")]
    pub(crate) fn parts(&self) -> (&Arc<StitchSpec>, usize, KeysOutput) {
        (&self.spec, self.input, self.output)
    }
}

/// Which values of a row count as its ids, and their fingerprints.
struct RowIds {
    spec: Arc<StitchSpec>,
    input: usize,
}

impl RowIds {
    /// The id columns of `batch` as text and its time, as the stitch reads them.
    fn columns(&self, batch: &RecordBatch) -> Result<(Vec<ArrayRef>, ArrayRef)> {
        ids_and_time(batch, self.spec.inputs[self.input].column_types.len())
    }

    /// Calls `each` with the fingerprints of the ids of each row, in column order.
    fn for_each_row(&self, ids: &[ArrayRef], rows: usize, mut each: impl FnMut(&[u64])) {
        let types = &self.spec.inputs[self.input].column_types;
        let id_types = &self.spec.entity.id_types;
        let ids: Vec<&StringViewArray> = ids.iter().map(|a| a.as_string_view()).collect();
        let mut fingerprints = Vec::with_capacity(ids.len());
        for row in 0..rows {
            fingerprints.clear();
            for (column, &id_type) in ids.iter().zip(types) {
                if !column.is_valid(row) {
                    continue;
                }
                let value = column.value(row);
                // A rule can make an id of any non-empty value.
                let counts = if self.spec.rules {
                    !value.is_empty()
                } else {
                    id_types[usize::from(id_type)].accepts(value)
                };
                if counts {
                    fingerprints.push(fingerprint(id_type, value.as_bytes()));
                }
            }
            each(&fingerprints);
        }
    }
}

/// The rows of `batch` in the rows' schema.
fn rows_batch(ids: &RowIds, batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let (columns, time) = ids.columns(batch)?;
    let mut keys = UInt64Builder::with_capacity(batch.num_rows());
    ids.for_each_row(&columns, batch.num_rows(), |row| {
        keys.append_option(row.first().copied());
    });
    let width = schema.fields().len() - 3;
    let number = u16::try_from(ids.input).map_err(|_| internal("over 65,535 stitch inputs"))?;
    let mut arrays: Vec<ArrayRef> =
        vec![Arc::new(UInt16Array::from_value(number, batch.num_rows()))];
    let padding = width - columns.len();
    arrays.extend(columns);
    arrays.extend((0..padding).map(|_| new_null_array(&DataType::Utf8View, batch.num_rows())));
    arrays.push(time);
    arrays.push(Arc::new(keys.finish()));
    Ok(RecordBatch::try_new(Arc::clone(schema), arrays)?)
}

/// The pairs of `batch`.
fn pairs_batch(ids: &RowIds, batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let (columns, _) = ids.columns(batch)?;
    let (mut a, mut b) = (Vec::new(), UInt64Builder::new());
    ids.for_each_row(&columns, batch.num_rows(), |row| match row {
        [] => {}
        [only] => {
            a.push(*only);
            b.append_null();
        }
        [first, others @ ..] => {
            for other in others {
                a.push(*first);
                b.append_value(*other);
            }
        }
    });
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        vec![Arc::new(UInt64Array::from(a)), Arc::new(b.finish())],
    )?)
}

/// The rows of each input in a batch of rows (in [`rows_schema`], maybe with columns
/// after the key), as that input's plan gives them: its id columns, then its time.
pub(crate) fn split_rows(
    spec: &StitchSpec,
    batch: &RecordBatch,
) -> Result<Vec<(usize, RecordBatch)>> {
    let width = batch.schema().index_of(KEY_COLUMN)?.saturating_sub(2);
    let numbers = batch
        .column(0)
        .as_primitive_opt::<UInt16Type>()
        .ok_or_else(|| internal("routed stitch rows without their input numbers"))?;
    let project = |number: usize, rows: &RecordBatch| -> Result<(usize, RecordBatch)> {
        let Some(input) = spec.inputs.get(number) else {
            return Err(internal(format!("routed rows of no input ({number})")));
        };
        let mut columns: Vec<usize> = (1..=input.column_types.len()).collect();
        columns.push(1 + width);
        Ok((number, rows.project(&columns)?))
    };
    let (first, last) = (
        numbers.values().iter().min().copied(),
        numbers.values().iter().max().copied(),
    );
    match (first, last) {
        (None, _) | (_, None) => Ok(Vec::new()),
        // A batch usually comes from one input's batch.
        (Some(first), Some(last)) if first == last => Ok(vec![project(usize::from(first), batch)?]),
        (Some(first), Some(last)) => (first..=last)
            .filter_map(|number| {
                let mask = eq(numbers, &UInt16Array::new_scalar(number));
                let rows = mask.and_then(|mask| filter_record_batch(batch, &mask));
                match rows {
                    Ok(rows) if rows.num_rows() == 0 => None,
                    Ok(rows) => Some(project(usize::from(number), &rows)),
                    Err(e) => Some(Err(e.into())),
                }
            })
            .collect(),
    }
}

impl DisplayAs for IdKeysExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let output = match self.output {
            KeysOutput::Rows { .. } => "rows",
            KeysOutput::Pairs => "pairs",
        };
        write!(
            f,
            "IdKeysExec: entity={}, input={}, output={output}",
            self.spec.entity.name, self.spec.inputs[self.input].name
        )
    }
}

impl ExecutionPlan for IdKeysExec {
    fn name(&self) -> &str {
        "IdKeysExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.rows]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [rows] = children.as_slice() else {
            return Err(internal("IdKeysExec has one child"));
        };
        Ok(Arc::new(Self::try_new(
            Arc::clone(&self.spec),
            self.input,
            self.output,
            Arc::clone(rows),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.rows.execute(partition, ctx)?;
        let ids = RowIds {
            spec: Arc::clone(&self.spec),
            input: self.input,
        };
        let (schema, output) = (Arc::clone(&self.schema), self.output);
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let stream = input.map(move |batch| {
            let _timer = baseline.elapsed_compute().timer();
            let batch = match output {
                KeysOutput::Rows { .. } => rows_batch(&ids, &batch?, &schema)?,
                KeysOutput::Pairs => pairs_batch(&ids, &batch?, &schema)?,
            };
            baseline.record_output(batch.num_rows());
            Ok(batch)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
