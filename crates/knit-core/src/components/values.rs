// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Node values as bytes and back: what is interned, compared and rendered.
//!
//! Strings and binary values are their own bytes, read in place (a string column is
//! read as binary of the same layout, without a copy), and those bytes order as the
//! values do. Every other type goes through Arrow's row format, whose
//! bytes also order as the values do. Either way, the smaller of two nodes is the one
//! with the smaller bytes.

use std::sync::Arc;

use datafusion::arrow::array::builder::make_view;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryViewArray, GenericBinaryBuilder,
    GenericStringArray, LargeBinaryArray, MAX_INLINE_VIEW_LEN, OffsetSizeTrait,
};
use datafusion::arrow::buffer::{Buffer, NullBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::error::{DataFusionError, Result};

use crate::error::internal;

/// How the values of a column type become node bytes.
#[derive(Debug)]
pub(crate) enum NodeEncoding {
    /// Strings (`utf8`) and binary values: their own bytes.
    Bytes { utf8: bool },
    /// Any other type: Arrow's row format.
    Rows(RowConverter),
}

/// One input column's node bytes, and which of its values are NULL (never a node).
pub(crate) struct NodeColumn {
    bytes: NodeBytes,
    nulls: Option<NullBuffer>,
}

enum NodeBytes {
    Binary(BinaryArray),
    LargeBinary(LargeBinaryArray),
    Views(BinaryViewArray),
    Rows(Rows),
}

impl NodeColumn {
    /// The bytes of row `row`'s value, `None` when it is NULL.
    pub(crate) fn get(&self, row: usize) -> Option<&[u8]> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(row)) {
            return None;
        }
        Some(match &self.bytes {
            NodeBytes::Binary(values) => values.value(row),
            NodeBytes::LargeBinary(values) => values.value(row),
            NodeBytes::Views(views) => views.value(row),
            NodeBytes::Rows(rows) => rows.row(row).data(),
        })
    }
}

impl NodeEncoding {
    /// The encoding of values of `data_type`.
    pub(crate) fn new(data_type: &DataType) -> Result<Self> {
        Ok(match data_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                NodeEncoding::Bytes { utf8: true }
            }
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                NodeEncoding::Bytes { utf8: false }
            }
            other => NodeEncoding::Rows(RowConverter::new(vec![SortField::new(other.clone())])?),
        })
    }

    /// The node bytes of a column. Logical nulls: a column of type Null has no validity
    /// buffer, yet every value is NULL.
    pub(crate) fn column(&self, column: &ArrayRef) -> Result<NodeColumn> {
        let nulls = column.logical_nulls();
        let bytes = match self {
            // Strings as binary of the same layout: the casts reuse the buffers.
            NodeEncoding::Bytes { .. } => match column.data_type() {
                DataType::Utf8 | DataType::Binary => {
                    NodeBytes::Binary(cast(column, &DataType::Binary)?.as_binary().clone())
                }
                DataType::LargeUtf8 | DataType::LargeBinary => NodeBytes::LargeBinary(
                    cast(column, &DataType::LargeBinary)?.as_binary().clone(),
                ),
                _ => NodeBytes::Views(
                    cast(column, &DataType::BinaryView)?
                        .as_binary_view()
                        .clone(),
                ),
            },
            NodeEncoding::Rows(converter) => {
                NodeBytes::Rows(converter.convert_columns(std::slice::from_ref(column))?)
            }
        };
        Ok(NodeColumn { bytes, nulls })
    }

    /// An array of `data_type` (the column type this encoding was made for) of the
    /// values whose bytes are `values`. It holds copies of its own values only: an array
    /// pointing into all nodes' bytes would be counted whole by every operator that
    /// measures a batch.
    pub(crate) fn array(&self, data_type: &DataType, values: &[&[u8]]) -> Result<ArrayRef> {
        match self {
            NodeEncoding::Bytes { utf8 } => match data_type {
                DataType::Utf8 | DataType::Binary => offset_array::<i32>(*utf8, values),
                DataType::LargeUtf8 | DataType::LargeBinary => offset_array::<i64>(*utf8, values),
                _ => view_array(*utf8, values),
            },
            NodeEncoding::Rows(converter) => {
                let parser = converter.parser();
                let rows = values.iter().map(|value| parser.parse(value));
                let mut arrays = converter.convert_rows(rows)?;
                arrays
                    .pop()
                    .ok_or_else(|| internal("a row converter of one column gave no array"))
            }
        }
    }
}

/// An array of offsets and bytes (`Utf8`, `Binary` and their large forms).
fn offset_array<O: OffsetSizeTrait>(utf8: bool, values: &[&[u8]]) -> Result<ArrayRef> {
    let bytes: usize = values.iter().map(|value| value.len()).sum();
    if O::from_usize(bytes).is_none() {
        return Err(DataFusionError::ResourcesExhausted(format!(
            "connected_components: a batch of nodes holds {bytes} bytes, over the {} of \
             its type; cast the columns to a large type (LargeUtf8) or use a smaller \
             batch size",
            O::MAX_OFFSET
        )));
    }
    let mut array = GenericBinaryBuilder::<O>::with_capacity(values.len(), bytes);
    for value in values {
        array.append_value(value);
    }
    let array = array.finish();
    Ok(if utf8 {
        Arc::new(GenericStringArray::<O>::try_from_binary(array)?)
    } else {
        Arc::new(array)
    })
}

/// A view array (`Utf8View` or `BinaryView`); a run of one value (the same bytes, as a
/// component's name is) shares one copy.
fn view_array(utf8: bool, values: &[&[u8]]) -> Result<ArrayRef> {
    let mut data = ViewData::default();
    let mut views = Vec::with_capacity(values.len());
    let mut previous: Option<(&[u8], u128)> = None;
    for &value in values {
        let view = match previous {
            Some((last, view)) if std::ptr::eq(last, value) => view,
            _ => data.view(value)?,
        };
        previous = Some((value, view));
        views.push(view);
    }
    let array = BinaryViewArray::try_new(views.into(), data.finish(), None)?;
    Ok(if utf8 {
        Arc::new(array.to_string_view()?)
    } else {
        Arc::new(array)
    })
}

/// The data blocks of a view array: each value longer than a view holds is copied.
#[derive(Default)]
struct ViewData {
    full: Vec<Buffer>,
    current: Vec<u8>,
}

impl ViewData {
    /// The view of `value`, its bytes copied into the blocks unless the view holds them.
    fn view(&mut self, value: &[u8]) -> Result<u128> {
        if value.len() <= MAX_INLINE_VIEW_LEN as usize {
            return Ok(make_view(value, 0, 0));
        }
        if self.current.len() + value.len() > u32::MAX as usize {
            if value.len() > u32::MAX as usize {
                return Err(DataFusionError::ResourcesExhausted(format!(
                    "connected_components: a node of {} bytes is over the 4 GB a value may take",
                    value.len()
                )));
            }
            self.full
                .push(Buffer::from_vec(std::mem::take(&mut self.current)));
        }
        let offset = self.current.len() as u32;
        self.current.extend_from_slice(value);
        Ok(make_view(value, self.full.len() as u32, offset))
    }

    fn finish(mut self) -> Vec<Buffer> {
        self.full.push(Buffer::from_vec(self.current));
        self.full
    }
}
