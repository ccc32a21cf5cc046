// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `flatten_part(container, part, outer [, path [, recursive [, mode]]])`: one column of
//! Snowflake's `FLATTEN`
//! as a list per row, for `unnest`. `knit_sql` writes `TABLE(FLATTEN(..)) t` as a derived
//! table that unnests one call per column it reads (`value`, `index`, `key`), side by
//! side: DataFusion zips the unnests of one `SELECT`, so the lists of a row must be as
//! long as one another.
//!
//! As Snowflake's: an array gives a row per element (`index` from 0, `key` NULL), an
//! object a row per field (`key` its name, `index` NULL), in the order of its keys.
//! NULL, an empty array or object, and a scalar give no row, or with `OUTER => TRUE` one
//! row of NULLs. `path` (`PATH => 'a.b[0]'`) flattens the value found there, which
//! `this` is. The `path` column is an entry's path as Snowflake writes it (`[0]`, `name`,
//! `a.b[0]`), and `seq` a number of the input row, the same for all its entries.
//! `RECURSIVE => TRUE` lists every entry below the container too, each right after its
//! parent (depth first), with its own parent as `this` and its path from the top;
//! `MODE => 'OBJECT'` or `'ARRAY'` expands only objects or arrays (`'BOTH'`, the
//! default, both). The container is JSON text or a list (`split(s, ',')`). A value is
//! read as field access reads one: a string without its quotes, an object or array as
//! JSON text.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Builder, ListBuilder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use super::to_json::json_text;
use super::warehouse_json::{at_path, element_text};
use super::{argument_arrays, check_arity, columnar, constant_text};

/// The function's name, which `knit_sql`'s `FLATTEN` rewrite calls.
pub(crate) const FLATTEN_PART: &str = "flatten_part";

/// Which column of `FLATTEN` a call lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Value,
    Index,
    Key,
    This,
    Path,
    Seq,
}

impl Part {
    fn parse(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "value" => Ok(Self::Value),
            "index" => Ok(Self::Index),
            "key" => Ok(Self::Key),
            "this" => Ok(Self::This),
            "path" => Ok(Self::Path),
            "seq" => Ok(Self::Seq),
            _ => plan_err!(
                "{FLATTEN_PART}(): the part is 'value', 'index', 'key', 'this', 'path' or \
                 'seq', not '{text}'"
            ),
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct FlattenPart {
    signature: Signature,
}

impl FlattenPart {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FlattenPart {
    fn name(&self) -> &str {
        FLATTEN_PART
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_arity(FLATTEN_PART, arg_types.len(), 3, 6)?;
        Ok(DataType::new_list(DataType::Utf8, true))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        check_arity(FLATTEN_PART, args.arg_fields.len(), 3, 6)?;
        let Some(part) = constant_text(&args, 1) else {
            return plan_err!("{FLATTEN_PART}(): the part must be constant text");
        };
        let element = match Part::parse(part)? {
            Part::Index | Part::Seq => DataType::Int64,
            Part::Value | Part::Key | Part::This | Part::Path => DataType::Utf8,
        };
        Ok(Arc::new(Field::new(
            FLATTEN_PART,
            DataType::new_list(element, true),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let (arrays, all_scalar) = argument_arrays(&args)?;
        let part = match &args.args[1] {
            ColumnarValue::Scalar(value) => match value.try_as_str().flatten() {
                Some(text) => Part::parse(text)?,
                None => return exec_err!("{FLATTEN_PART}(): the part must be constant text"),
            },
            ColumnarValue::Array(_) => {
                return exec_err!("{FLATTEN_PART}(): the part must be constant text");
            }
        };
        let outer = match &args.args[2] {
            ColumnarValue::Scalar(ScalarValue::Boolean(b)) => b.unwrap_or(false),
            _ => return exec_err!("{FLATTEN_PART}(): OUTER must be TRUE or FALSE"),
        };
        let path = match args.args.get(3) {
            None => None,
            Some(ColumnarValue::Scalar(value)) => value.try_as_str().flatten().map(str::to_string),
            Some(ColumnarValue::Array(_)) => {
                return exec_err!("{FLATTEN_PART}(): PATH must be constant text");
            }
        };
        let recursive = match args.args.get(4) {
            None => false,
            Some(ColumnarValue::Scalar(ScalarValue::Boolean(b))) => b.unwrap_or(false),
            Some(_) => return exec_err!("FLATTEN: RECURSIVE must be TRUE or FALSE"),
        };
        let mode = match args.args.get(5) {
            None => Mode::Both,
            Some(ColumnarValue::Scalar(value)) => Mode::parse(value.try_as_str().flatten())?,
            Some(ColumnarValue::Array(_)) => {
                return exec_err!("FLATTEN: MODE must be 'OBJECT', 'ARRAY' or 'BOTH'");
            }
        };
        let expand = Expand {
            recursive,
            mode,
            paths: part == Part::Path || recursive,
        };
        let containers = match arrays[0].data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?
            }
            _ => json_text(&arrays[0])?,
        };
        let containers = containers.as_string::<i32>();
        let mut values = ListBuilder::new(StringBuilder::new());
        let mut indexes = ListBuilder::new(Int64Builder::new());
        for row in 0..rows {
            let json = match containers.is_valid(row).then(|| containers.value(row)) {
                Some(text) if !text.trim().is_empty() => {
                    match serde_json::from_str::<Value>(text) {
                        Ok(json) => Some(json),
                        Err(e) => return exec_err!("FLATTEN: the input is not valid JSON ({e})"),
                    }
                }
                _ => None,
            };
            let json = match (&json, &path) {
                (Some(json), Some(path)) => at_path(json, path, true)?,
                (json, None) => json.as_ref(),
                (None, Some(_)) => None,
            };
            let mut entries = Vec::new();
            if let Some(json) = json {
                expand.entries(json, path.as_deref(), &mut entries);
            }
            let count = entries.len();
            let seq = (part == Part::Seq && (count > 0 || outer))
                .then(|| NEXT_SEQ.fetch_add(1, Ordering::Relaxed));
            for entry in entries {
                match part {
                    Part::Value => values.values().append_option(element_text(entry.value)),
                    Part::Key => values.values().append_option(entry.key),
                    Part::Index => indexes.values().append_option(entry.index),
                    Part::This => values.values().append_value(entry.this.to_string()),
                    Part::Path => values.values().append_value(entry.path),
                    Part::Seq => indexes.values().append_option(seq),
                }
            }
            if count == 0 && outer {
                match part {
                    Part::This => values.values().append_option(json.map(Value::to_string)),
                    _ => values.values().append_null(),
                }
                match part {
                    Part::Seq => indexes.values().append_option(seq),
                    _ => indexes.values().append_null(),
                }
            }
            values.append(true);
            indexes.append(true);
        }
        let result: ArrayRef = match part {
            Part::Index | Part::Seq => Arc::new(indexes.finish()),
            Part::Value | Part::Key | Part::This | Part::Path => Arc::new(values.finish()),
        };
        columnar(result, all_scalar)
    }
}

/// The number `seq` gives the next input row: unique within the process, as Snowflake's
/// is unique, though not gap-free or ordered.
static NEXT_SEQ: AtomicI64 = AtomicI64::new(1);

/// An entry's `path`, as Snowflake writes it: `[2]` for an array's element, `name` for
/// an object's field (`['a b']` when the name is not a plain identifier), after `PATH`
/// when one is given (`p[2]`, `p.name`).
fn element_path(path: Option<&str>, key: Option<&str>, index: Option<i64>) -> String {
    let prefix = path.unwrap_or_default();
    match (key, index) {
        (_, Some(index)) => format!("{prefix}[{index}]"),
        (Some(key), None) => {
            let plain = key
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            match (plain, prefix.is_empty()) {
                (true, true) => key.to_string(),
                (true, false) => format!("{prefix}.{key}"),
                (false, _) => format!("{prefix}['{}']", key.replace('\'', "\\'")),
            }
        }
        (None, None) => prefix.to_string(),
    }
}

/// `MODE`: which containers `FLATTEN` expands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Object,
    Array,
    Both,
}

impl Mode {
    fn parse(text: Option<&str>) -> Result<Self> {
        match text.map(str::to_ascii_uppercase).as_deref() {
            Some("OBJECT") => Ok(Self::Object),
            Some("ARRAY") => Ok(Self::Array),
            Some("BOTH") | None => Ok(Self::Both),
            Some(other) => exec_err!("FLATTEN: MODE is 'OBJECT', 'ARRAY' or 'BOTH', not '{other}'"),
        }
    }
}

/// How a container is expanded: below its entries too, which containers, and whether
/// entries' paths are needed.
#[derive(Debug, Clone, Copy)]
struct Expand {
    recursive: bool,
    mode: Mode,
    paths: bool,
}

/// One row of `FLATTEN`: an entry of a container.
#[derive(Debug)]
struct Entry<'a> {
    /// The field's name, in an object.
    key: Option<&'a str>,
    /// The element's position from 0, in an array.
    index: Option<i64>,
    value: &'a Value,
    /// The container it is an entry of.
    this: &'a Value,
    /// Its path from the top (empty when not needed).
    path: String,
}

impl Expand {
    /// Appends the entries of `container` (whose path is `prefix`) to `out`, each
    /// followed by its own when recursive; none for a scalar, or a container `MODE`
    /// leaves alone. Nesting is bounded: JSON text deeper than 128 levels does not parse.
    fn entries<'a>(self, container: &'a Value, prefix: Option<&str>, out: &mut Vec<Entry<'a>>) {
        let children: Vec<(Option<&'a str>, Option<i64>, &'a Value)> = match container {
            Value::Array(items) if self.mode != Mode::Object => items
                .iter()
                .enumerate()
                .map(|(i, item)| (None, i64::try_from(i).ok(), item))
                .collect(),
            Value::Object(fields) if self.mode != Mode::Array => fields
                .iter()
                .map(|(key, value)| (Some(key.as_str()), None, value))
                .collect(),
            _ => return,
        };
        for (key, index, value) in children {
            let path = if self.paths {
                element_path(prefix, key, index)
            } else {
                String::new()
            };
            let below = self.recursive.then(|| path.clone());
            out.push(Entry {
                key,
                index,
                value,
                this: container,
                path,
            });
            if let Some(below) = below {
                self.entries(value, Some(&below), out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(json: Option<&Value>) -> Vec<(Option<&str>, Option<i64>, &Value)> {
        let mut out = Vec::new();
        let expand = Expand {
            recursive: false,
            mode: Mode::Both,
            paths: false,
        };
        if let Some(json) = json {
            expand.entries(json, None, &mut out);
        }
        out.into_iter().map(|e| (e.key, e.index, e.value)).collect()
    }

    #[test]
    fn recursive_entries_follow_their_parent_with_paths_from_the_top() {
        let json: Value =
            serde_json::from_str(r#"{"a": 1, "b": [77, {"x": null}], "c": {"d": "X"}}"#).unwrap();
        let listed = |recursive: bool, mode: Mode| {
            let mut out = Vec::new();
            let expand = Expand {
                recursive,
                mode,
                paths: true,
            };
            expand.entries(&json, None, &mut out);
            out.into_iter()
                .map(|e| format!("{} {} {}", e.path, e.value, e.this))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            listed(true, Mode::Both),
            [
                r#"a 1 {"a":1,"b":[77,{"x":null}],"c":{"d":"X"}}"#,
                r#"b [77,{"x":null}] {"a":1,"b":[77,{"x":null}],"c":{"d":"X"}}"#,
                r#"b[0] 77 [77,{"x":null}]"#,
                r#"b[1] {"x":null} [77,{"x":null}]"#,
                r#"b[1].x null {"x":null}"#,
                r#"c {"d":"X"} {"a":1,"b":[77,{"x":null}],"c":{"d":"X"}}"#,
                r#"c.d "X" {"d":"X"}"#,
            ]
        );
        // Only objects are expanded: the array is an entry, not its elements.
        assert_eq!(listed(true, Mode::Object).len(), 4);
        // An object at the top is not expanded as an array.
        assert!(listed(true, Mode::Array).is_empty());
        assert_eq!(listed(false, Mode::Both).len(), 3);
        assert!(Mode::parse(Some("tree")).is_err());
        assert_eq!(Mode::parse(Some("array")).unwrap(), Mode::Array);
    }

    #[test]
    fn entries_of_arrays_objects_and_scalars() {
        let array: Value = serde_json::from_str(r#"[1, "a", {"b": 2}]"#).unwrap();
        let got: Vec<_> = entries(Some(&array))
            .into_iter()
            .map(|(k, i, v)| (k, i, v.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                (None, Some(0), "1".to_string()),
                (None, Some(1), "\"a\"".to_string()),
                (None, Some(2), "{\"b\":2}".to_string()),
            ]
        );
        let object: Value = serde_json::from_str(r#"{"z": 1, "a": [2]}"#).unwrap();
        let keys: Vec<_> = entries(Some(&object)).into_iter().map(|e| e.0).collect();
        assert_eq!(keys.len(), 2);
        assert!(keys.contains(&Some("z")) && keys.contains(&Some("a")));
        assert!(entries(Some(&Value::from(3))).is_empty());
        assert!(entries(None).is_empty());
    }

    #[test]
    fn paths_as_snowflake_writes_them() {
        assert_eq!(element_path(None, None, Some(2)), "[2]");
        assert_eq!(element_path(Some("b"), None, Some(0)), "b[0]");
        assert_eq!(element_path(None, Some("name"), None), "name");
        assert_eq!(element_path(Some("a.b"), Some("c_1"), None), "a.b.c_1");
        assert_eq!(element_path(None, Some("a b"), None), "['a b']");
        assert_eq!(element_path(Some("p"), Some("it's"), None), "p['it\\'s']");
    }
}
