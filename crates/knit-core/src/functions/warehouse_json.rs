// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! JSON as warehouses spell it. Knit has no variant type: JSON is text, parsed by
//! `serde_json` where a function looks inside it.
//!
//! | function | warehouse | answer |
//! | --- | --- | --- |
//! | `parse_json(t)`, `json_parse(t)` | Snowflake, Redshift | `t` as compact JSON text; not JSON is an error, `''` is NULL |
//! | `try_parse_json(t)` | Snowflake | the same, NULL where `t` is not JSON |
//! | `array_size(j)`, `get_array_length(j)` | Snowflake, Redshift | elements of a JSON array (or a list); NULL for other JSON |
//! | `json_query_array(j [, path])` | BigQuery | the array at `path` as a list of JSON texts |
//! | `json_value(j [, path])` | BigQuery | the scalar at `path` as text; NULL for objects, arrays, missing paths |
//! | `json_query(j [, path])`, `json_extract` | BigQuery | the value at `path` as JSON text (a string in its quotes); NULL for missing paths |
//! | `get_json_object(j, path)` | Spark | the value at `path` as text (objects as JSON); NULL for missing paths or text that is not JSON |
//! | `from_json(j, schema)` | Spark | `j` read as the type of a Spark schema (`'array<string>'`, `'sku STRING, qty INT'`, ...; see [`super::spark_json`]) |
//! | `object_construct(k, v, ...)` | Snowflake | a JSON object, leaving out NULL values |
//! | `get_path(j, 'a.b[0]')` | Snowflake | the value at the path, as `j:a.b[0]` reads it; NULL where missing |
//! | `object_insert(o, k, v [, update])` | Snowflake | `o` with the field `k` added (a NULL value adds none); an existing `k` is an error unless `update` is true |
//! | `object_delete(o, k, ...)` | Snowflake | `o` without the fields `k`, ... |
//!
//! Paths are JSONPath as the warehouses take it: `$`, `$.a.b`, `$.a[0]`, `$['a']`.

use std::sync::Arc;

use super::{argument_arrays, check_arity, columnar, constant_text, spark_json};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, Int64Builder, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use serde_json::Value;

/// The JSON functions, for the session to register.
pub(crate) fn functions() -> Vec<ScalarUDF> {
    [
        (
            Kind::Parse { strict: true },
            "parse_json",
            &["json_parse"][..],
        ),
        (Kind::Parse { strict: false }, "try_parse_json", &[][..]),
        (
            Kind::ArraySize,
            "array_size",
            &["get_array_length", "json_array_length"][..],
        ),
        (
            Kind::QueryArray,
            "json_query_array",
            &["json_extract_array"][..],
        ),
        (
            Kind::Value { scalars_only: true },
            "json_value",
            &["json_extract_scalar"][..],
        ),
        (
            Kind::Value {
                scalars_only: false,
            },
            "get_json_object",
            &[][..],
        ),
        (Kind::FromJson, "from_json", &[][..]),
        (Kind::Query, "json_query", &["json_extract"][..]),
        (Kind::ObjectConstruct, "object_construct", &[][..]),
        (Kind::GetPath, "get_path", &[][..]),
        (Kind::ObjectInsert, "object_insert", &[][..]),
        (Kind::ObjectDelete, "object_delete", &[][..]),
    ]
    .into_iter()
    .map(|(kind, name, aliases)| {
        ScalarUDF::from(JsonFunction {
            kind,
            name,
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            signature: Signature::variadic_any(Volatility::Immutable),
        })
    })
    .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Parse { strict: bool },
    ArraySize,
    QueryArray,
    Value { scalars_only: bool },
    FromJson,
    Query,
    ObjectConstruct,
    GetPath,
    ObjectInsert,
    ObjectDelete,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonFunction {
    kind: Kind,
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
}

impl ScalarUDFImpl for JsonFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let count = arg_types.len();
        let (min, max) = match self.kind {
            Kind::Parse { .. } | Kind::ArraySize => (1, 1),
            Kind::QueryArray | Kind::Value { scalars_only: true } | Kind::Query => (1, 2),
            Kind::Value {
                scalars_only: false,
            }
            | Kind::FromJson
            | Kind::GetPath => (2, 2),
            Kind::ObjectConstruct => (0, usize::MAX),
            Kind::ObjectInsert => (3, 4),
            Kind::ObjectDelete => (1, usize::MAX),
        };
        check_arity(self.name, count, min, max)?;
        Ok(match self.kind {
            Kind::ArraySize => DataType::Int64,
            Kind::QueryArray => DataType::new_list(DataType::Utf8, true),
            // The type comes from the schema text, in return_field_from_args.
            Kind::FromJson => DataType::Utf8,
            _ => DataType::Utf8,
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let mut data_type = self.return_type(&types)?;
        if self.kind == Kind::FromJson {
            let schema = constant_text(&args, 1).ok_or_else(|| {
                DataFusionError::Plan(
                    "from_json(): the schema must be constant text such as 'array<string>'".into(),
                )
            })?;
            data_type = spark_json::schema_type(schema)?;
        }
        if self.kind == Kind::ObjectConstruct && !types.len().is_multiple_of(2) {
            return plan_err!("object_construct() takes pairs of keys and values");
        }
        Ok(Arc::new(Field::new(self.name, data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let (arrays, all_scalar) = argument_arrays(&args)?;
        let result: ArrayRef = match self.kind {
            Kind::Parse { strict } => {
                let texts = text(&arrays[0])?;
                let mut out = StringBuilder::new();
                for value in texts.iter() {
                    out.append_option(match value.map(str::trim) {
                        None | Some("") => None,
                        Some(t) => match serde_json::from_str::<Value>(t) {
                            Ok(json) => Some(json.to_string()),
                            Err(_) if !strict => None,
                            Err(e) => {
                                return exec_err!(
                                    "{}(): not valid JSON ({e}): {}",
                                    self.name,
                                    excerpt(t)
                                );
                            }
                        },
                    });
                }
                Arc::new(out.finish())
            }
            Kind::ArraySize => array_size(self.name, &arrays[0])?,
            Kind::QueryArray => {
                let texts = text(&arrays[0])?;
                let paths = path_texts(&arrays, rows)?;
                let mut out = ListBuilder::new(StringBuilder::new());
                for (value, path) in texts.iter().zip(paths.iter()) {
                    match (
                        value.map(|v| parse(self.name, v)).transpose()?.flatten(),
                        path,
                    ) {
                        (Some(json), Some(path)) => match at_path(&json, path, false)? {
                            Some(Value::Array(items)) => {
                                for item in items {
                                    out.values().append_value(item.to_string());
                                }
                                out.append(true);
                            }
                            _ => out.append(false),
                        },
                        _ => out.append(false),
                    }
                }
                Arc::new(out.finish())
            }
            Kind::Value { .. } | Kind::Query | Kind::GetPath => {
                let texts = text(&arrays[0])?;
                let paths = path_texts(&arrays, rows)?;
                let lenient = self.kind
                    == Kind::Value {
                        scalars_only: false,
                    };
                let mut out = StringBuilder::new();
                for (value, path) in texts.iter().zip(paths.iter()) {
                    // Spark answers NULL for text that is not JSON; the others fail.
                    let json = match value {
                        Some(v) if lenient => serde_json::from_str(v).ok(),
                        Some(v) => parse(self.name, v)?,
                        None => None,
                    };
                    let found = match (&json, path) {
                        (Some(json), Some(path)) => {
                            at_path(json, path, self.kind == Kind::GetPath)?
                        }
                        _ => None,
                    };
                    out.append_option(match (self.kind, found) {
                        (Kind::Query, found) => found.map(Value::to_string),
                        (
                            Kind::Value { scalars_only: true },
                            Some(Value::Array(_) | Value::Object(_)),
                        ) => None,
                        (_, found) => found.and_then(element_text),
                    });
                }
                Arc::new(out.finish())
            }
            Kind::FromJson => {
                spark_json::from_json(&text(&arrays[0])?, args.return_field.data_type())?
            }
            Kind::ObjectConstruct => object_construct(&arrays, rows)?,
            Kind::ObjectInsert | Kind::ObjectDelete => edit_objects(self.kind, &arrays, rows)?,
        };
        columnar(result, all_scalar)
    }
}

fn text(array: &ArrayRef) -> Result<StringArray> {
    Ok(cast(array, &DataType::Utf8)?.as_string::<i32>().clone())
}

/// The path argument of each row (`$` when there is none).
fn path_texts(arrays: &[ArrayRef], rows: usize) -> Result<StringArray> {
    match arrays.get(1) {
        Some(paths) => text(paths),
        None => Ok(StringArray::from(vec![Some("$"); rows])),
    }
}

fn excerpt(text: &str) -> String {
    let cut: String = text.chars().take(60).collect();
    if cut.len() < text.len() {
        format!("'{cut}...'")
    } else {
        format!("'{cut}'")
    }
}

/// JSON text parsed; blank text is NULL, text that is not JSON an error.
fn parse(function: &str, text: &str) -> Result<Option<Value>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text).map(Some).map_err(|e| {
        DataFusionError::Execution(format!(
            "{function}(): not valid JSON ({e}): {}",
            excerpt(text)
        ))
    })
}

fn array_size(function: &str, array: &ArrayRef) -> Result<ArrayRef> {
    let lengths: Int64Array = match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            (0..list.len())
                .map(|i| list.is_valid(i).then(|| i64::from(list.value_length(i))))
                .collect()
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            (0..list.len())
                .map(|i| list.is_valid(i).then(|| list.value_length(i)))
                .collect()
        }
        _ => {
            let texts = text(array)?;
            let mut out = Int64Builder::new();
            for value in texts.iter() {
                out.append_option(
                    match value.map(|v| parse(function, v)).transpose()?.flatten() {
                        Some(Value::Array(items)) => i64::try_from(items.len()).ok(),
                        _ => None,
                    },
                );
            }
            out.finish()
        }
    };
    Ok(Arc::new(lengths))
}

/// The value at `path`, if there is one: a JSONPath as BigQuery and Spark write it
/// (`$`, `$.a.b`, `$.a[0]`, `$['a']`), or (`snowflake`) a Snowflake path, which starts
/// without `$` and may quote a name (`a.b[0]`, `"a b".c`, `a['b']`).
pub(super) fn at_path<'a>(
    json: &'a Value,
    path: &str,
    snowflake: bool,
) -> Result<Option<&'a Value>> {
    let bad = || {
        DataFusionError::Execution(if snowflake {
            format!("'{path}' is not a path such as a.b or a[0].b")
        } else {
            format!("'{path}' is not a JSON path such as $.a.b or $.items[0]")
        })
    };
    let mut rest = path.trim();
    if !snowflake {
        rest = rest.strip_prefix('$').ok_or_else(bad)?;
    }
    let mut current = json;
    let mut first = true;
    while !rest.is_empty() {
        // A name: after a dot, or first in a Snowflake path.
        let name = match rest.strip_prefix('.') {
            Some(after) => Some(after),
            None if snowflake && first && !rest.starts_with('[') => Some(rest),
            None => None,
        };
        let next = if let Some(after) = name {
            if let Some(quoted) = after.strip_prefix('"').filter(|_| snowflake) {
                let end = quoted.find('"').ok_or_else(bad)?;
                rest = &quoted[end + 1..];
                current.get(&quoted[..end])
            } else {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let key = &after[..end];
                if key.is_empty() {
                    return Err(bad());
                }
                rest = &after[end..];
                current.get(key)
            }
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(bad)?;
            let inside = after[..end].trim();
            rest = &after[end + 1..];
            let quoted = inside
                .strip_prefix('\'')
                .and_then(|k| k.strip_suffix('\''))
                .or_else(|| inside.strip_prefix('"').and_then(|k| k.strip_suffix('"')));
            match quoted {
                Some(key) => current.get(key),
                None => current.get(inside.parse::<usize>().map_err(|_| bad())?),
            }
        } else {
            return Err(bad());
        };
        first = false;
        match next {
            Some(value) => current = value,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

fn object_construct(arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for row in 0..rows {
        let mut object = serde_json::Map::new();
        for pair in arrays.chunks(2) {
            let [key, value] = pair else { continue };
            let key = ScalarValue::try_from_array(key, row)?;
            let value = ScalarValue::try_from_array(value, row)?;
            if key.is_null() || value.is_null() {
                continue;
            }
            let key = match key.try_as_str().flatten() {
                Some(k) => k.to_string(),
                None => key.to_string(),
            };
            object.insert(key, scalar_json(&value));
        }
        out.append_value(Value::Object(object).to_string());
    }
    Ok(Arc::new(out.finish()))
}

/// `object_insert` and `object_delete`, row by row.
fn edit_objects(kind: Kind, arrays: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let name = if kind == Kind::ObjectInsert {
        "object_insert"
    } else {
        "object_delete"
    };
    let objects = text(&arrays[0])?;
    let mut out = StringBuilder::new();
    for row in 0..rows {
        let Some(object) = objects.is_valid(row).then(|| objects.value(row)) else {
            out.append_null();
            continue;
        };
        let mut object = match parse(name, object)? {
            Some(Value::Object(fields)) => fields,
            Some(_) => return exec_err!("{name}(): {} is not a JSON object", excerpt(object)),
            None => {
                out.append_null();
                continue;
            }
        };
        let key_of = |array: &ArrayRef| -> Result<Option<String>> {
            let key = ScalarValue::try_from_array(array, row)?;
            Ok((!key.is_null()).then(|| match key.try_as_str().flatten() {
                Some(k) => k.to_string(),
                None => key.to_string(),
            }))
        };
        if kind == Kind::ObjectDelete {
            for keys in &arrays[1..] {
                if let Some(key) = key_of(keys)? {
                    object.remove(&key);
                }
            }
        } else {
            let Some(key) = key_of(&arrays[1])? else {
                return exec_err!("object_insert(): the key is NULL");
            };
            let update = match arrays.get(3) {
                Some(flags) => {
                    ScalarValue::try_from_array(flags, row)? == ScalarValue::Boolean(Some(true))
                }
                None => false,
            };
            if object.contains_key(&key) && !update {
                return exec_err!(
                    "object_insert(): the object already has the key '{key}'; pass TRUE as the \
                     fourth argument to replace its value"
                );
            }
            let value = ScalarValue::try_from_array(&arrays[2], row)?;
            if value.is_null() {
                object.remove(&key);
            } else {
                object.insert(key, scalar_json(&value));
            }
        }
        out.append_value(Value::Object(object).to_string());
    }
    Ok(Arc::new(out.finish()))
}

fn scalar_json(value: &ScalarValue) -> Value {
    if let Some(text) = value.try_as_str().flatten() {
        // Text that holds JSON (from parse_json) nests as JSON.
        return serde_json::from_str(text)
            .ok()
            .filter(|v: &Value| v.is_object() || v.is_array())
            .unwrap_or_else(|| Value::String(text.to_string()));
    }
    match value {
        ScalarValue::Boolean(Some(b)) => Value::Bool(*b),
        v if v.data_type().is_integer() => v
            .to_string()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(v.to_string())),
        v if v.data_type().is_floating() || matches!(v.data_type(), DataType::Decimal128(..)) => v
            .to_string()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(v.to_string())),
        // Dates and times as their text (`2024-01-01T10:00:00`), as `to_json` writes
        // them, not as the integers that hold them.
        other if other.data_type().is_temporal() => other
            .cast_to(&DataType::Utf8)
            .ok()
            .and_then(|text| text.try_as_str().flatten().map(str::to_string))
            .map_or_else(|| Value::String(other.to_string()), Value::String),
        other => Value::String(other.to_string()),
    }
}

/// An element as field access reads one (`x['a']`, `x:a`): a string without its quotes
/// (so `value::string` is the string, as Snowflake casts a variant), JSON `null` as
/// NULL, anything else as JSON text (`value:sku` reads inside it).
pub(super) fn element_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_walk_fields_and_elements() {
        let json: Value = serde_json::from_str(r#"{"a": {"b c": [10, {"d": [1, 2]}]}}"#).unwrap();
        let at = |p: &str| at_path(&json, p, true).unwrap().map(|v| v.to_string());
        assert_eq!(at("a.\"b c\"[1].d").as_deref(), Some("[1,2]"));
        assert_eq!(at("\"a\"['b c'][0]").as_deref(), Some("10"));
        assert_eq!(at("a.missing"), None);
        assert!(at_path(&json, "a[0", true).is_err());
        // JSONPath: from `$`, names after dots, quoted names in brackets only.
        let at = |p: &str| at_path(&json, p, false).unwrap().map(|v| v.to_string());
        assert_eq!(at("$.a['b c'][1].d").as_deref(), Some("[1,2]"));
        assert_eq!(at("$").as_deref(), Some(json.to_string().as_str()));
        assert_eq!(
            at("$.a.\"b c\""),
            None,
            "quotes are part of a JSONPath name"
        );
        for bad in ["a.b", "$a", "$.a[x]", "$.a."] {
            assert!(at_path(&json, bad, false).is_err(), "{bad}");
        }
    }
}
