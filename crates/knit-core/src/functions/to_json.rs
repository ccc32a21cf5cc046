// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `to_json(x)` (also BigQuery's `to_json_string`): any value as JSON text, lists as
//! arrays and structs and maps as objects. CSV has no lists, so CSV output holds nested
//! columns this way ([`nested_as_json`]).

use std::sync::Arc;

use super::columnar;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::json::ArrayWriter;
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// `to_json(x)`: see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ToJson {
    aliases: Vec<String>,
    signature: Signature,
}

impl ToJson {
    pub(crate) fn new() -> Self {
        Self {
            aliases: vec!["to_json_string".to_string()],
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ToJson {
    fn name(&self) -> &str {
        "to_json"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("to_json() takes one argument");
        };
        let scalar = matches!(value, ColumnarValue::Scalar(_));
        let text = json_text(&value.to_array(args.number_rows)?)?;
        columnar(text, scalar)
    }
}

/// Each value of `array` as JSON text (NULL stays NULL).
pub fn json_text(array: &ArrayRef) -> Result<ArrayRef> {
    let field = Field::new("v", array.data_type().clone(), true);
    let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![Arc::clone(array)])?;
    let mut writer = ArrayWriter::new(Vec::new());
    writer.write(&batch)?;
    writer.finish()?;
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&writer.into_inner())
            .map_err(|e| DataFusionError::Execution(format!("to_json(): {e}")))?;
    let mut out = StringBuilder::new();
    for (i, mut row) in rows.into_iter().enumerate() {
        match row.remove("v") {
            Some(mut value) if array.is_valid(i) => {
                // Only text inside lists and structs: a string itself stays a string.
                if !value.is_string() {
                    nest_json_text(&mut value);
                }
                out.append_value(value.to_string())
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Text inside `value` that holds a JSON object or array (an `object_construct` or a
/// `parse_json` gathered by `array_agg`) nested as JSON, as a warehouse nests the
/// variants it gathers; other text stays text.
fn nest_json_text(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => {
            let trimmed = text.trim_start();
            if (trimmed.starts_with('{') || trimmed.starts_with('['))
                && let Ok(nested) = serde_json::from_str::<serde_json::Value>(text)
            {
                *value = nested;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(nest_json_text),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(nest_json_text),
        _ => {}
    }
}

/// Whether a type has no CSV form (lists, structs, maps).
pub fn is_nested(data_type: &DataType) -> bool {
    data_type.is_nested() || matches!(data_type, DataType::Map(..))
}

/// `batch` with its nested columns as JSON text, for formats without nesting (CSV).
pub fn nested_as_json(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| is_nested(f.data_type())) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if is_nested(field.data_type()) {
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(json_text(column)?);
        } else {
            fields.push(field.as_ref().clone());
            columns.push(Arc::clone(column));
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
