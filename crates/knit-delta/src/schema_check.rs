// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Whether a query's rows fit a Delta table: its key columns, and its columns against
//! the table's, each refusal naming the column and the fix.

use datafusion::arrow::datatypes::{DataType, Schema, TimeUnit};
use deltalake_core::kernel::engine::arrow_conversion::TryIntoArrow as _;

use crate::error::{DeltaError, Result};
use crate::location::TableLocation;

/// Refuses key columns the rows do not have.
pub(crate) fn check_keys(location: &TableLocation, schema: &Schema, keys: &[String]) -> Result<()> {
    for key in keys {
        if schema.field_with_name(key).is_err() {
            let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(DeltaError::Invalid(format!(
                "key column '{key}' of the merge into '{}' is not a column of the query; its \
                 columns are {}",
                location.display,
                columns.join(", ")
            )));
        }
    }
    Ok(())
}

/// Refuses an append whose columns are not the table's, naming the first that differs.
pub(crate) fn check_append_schema(
    location: &TableLocation,
    table: &deltalake_core::kernel::StructType,
    rows: &Schema,
) -> Result<()> {
    match column_difference(table, rows) {
        None => Ok(()),
        Some(difference) => Err(DeltaError::Schema {
            path: location.display.clone(),
            detail: format!(
                "{difference}; make the query's columns the table's, or replace the table \
                 with OPTIONS ('mode' 'overwrite')"
            ),
        }),
    }
}

/// The first way the rows' columns are not the table's (a column one has and the other
/// lacks, or of another kind), or `None` when they are the same, in any order.
pub(crate) fn column_difference(
    table: &deltalake_core::kernel::StructType,
    rows: &Schema,
) -> Option<String> {
    if let Some(missing) = table
        .fields()
        .find(|field| rows.field_with_name(field.name()).is_err())
    {
        return Some(format!(
            "the table has column '{}', which the query does not",
            missing.name()
        ));
    }
    rows.fields().iter().find_map(|field| {
        let Some(column) = table.field(field.name()) else {
            return Some(format!(
                "the query has column '{}', which the table does not",
                field.name()
            ));
        };
        let table_type: DataType = column.data_type().try_into_arrow().ok()?;
        (!same_kind(&table_type, field.data_type())).then(|| {
            format!(
                "column '{}' is {} in the table and {} in the query",
                field.name(),
                table_type,
                field.data_type()
            )
        })
    })
}

/// True when values of `query` can be stored in a column of `table` as they are:
/// the same type up to string and binary encodings and time zones.
fn same_kind(table: &DataType, query: &DataType) -> bool {
    use DataType::*;
    let canonical = |t: &DataType| match t {
        Utf8 | LargeUtf8 | Utf8View => Utf8,
        Binary | LargeBinary | BinaryView => Binary,
        Timestamp(_, zone) => Timestamp(TimeUnit::Microsecond, zone.clone().map(|_| "UTC".into())),
        Dictionary(_, value) => value.as_ref().clone(),
        other => other.clone(),
    };
    match (canonical(table), canonical(query)) {
        (List(a) | LargeList(a), List(b) | LargeList(b)) => same_kind(a.data_type(), b.data_type()),
        (Struct(_), Struct(_)) | (Map(..), Map(..)) => true,
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_of_one_kind_append_as_they_are() {
        assert!(same_kind(&DataType::Utf8, &DataType::Utf8View));
        assert!(same_kind(
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            &DataType::Timestamp(TimeUnit::Nanosecond, Some("+00:00".into()))
        ));
        assert!(!same_kind(&DataType::Utf8, &DataType::Int64));
        assert!(!same_kind(
            &DataType::Timestamp(TimeUnit::Microsecond, None),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        ));
    }
}
