// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Spark's `from_json(json, schema)`: JSON text read as the type a Spark DDL schema
//! names, decoded by arrow's JSON reader.
//!
//! The schema is a type (`array<string>`, `map<string, int>`,
//! `struct<sku: string, qty: int>`) or a list of fields (`'sku STRING, qty INT'`, a
//! struct), with Spark's type names in any case: `string` (`varchar(n)`, `char(n)`),
//! `tinyint`/`byte`, `smallint`/`short`, `int`/`integer`, `bigint`/`long`,
//! `float`/`real`, `double`, `decimal[(p[, s])]`, `boolean`, `date`, `timestamp`, and
//! `array<..>`, `map<..>`, `struct<..>` of them. As Spark's (in its default,
//! permissive mode), text that is not JSON, or not of the schema (a string where a number
//! is), gives NULL; a number or boolean read as a string is its JSON text, a decimal is
//! rounded half up to its scale, and a field the text lacks is NULL. (Spark 3 keeps the
//! fields of a struct it could read where one field is not of its type; Knit gives NULL
//! for the whole value.)

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};
use datafusion::arrow::json::ReaderBuilder;
use datafusion::common::{Result, plan_datafusion_err, plan_err};

/// The type a Spark DDL `schema` names (see the module doc).
pub(super) fn schema_type(schema: &str) -> Result<DataType> {
    let tokens = tokens(schema);
    let mut parser = SchemaParser {
        tokens: &tokens,
        at: 0,
        schema,
    };
    // A type, or else a list of fields.
    if let Ok(data_type) = parser.data_type()
        && parser.at == tokens.len()
    {
        return Ok(data_type);
    }
    parser.at = 0;
    let fields = parser.fields(None)?;
    if parser.at != tokens.len() {
        return parser.error("text after the schema");
    }
    Ok(DataType::Struct(fields))
}

/// Each text of `texts` read as `data_type`: NULL where it is NULL, not JSON, or not of
/// the type.
pub(super) fn from_json(texts: &StringArray, data_type: &DataType) -> Result<ArrayRef> {
    let decoded_type = with_decimals_as_text(data_type);
    let decoded = decoded_rows(texts, &decoded_type)?;
    if decoded_type == *data_type {
        return Ok(decoded);
    }
    // Decimals were read as their text, which the cast rounds (half up, as Spark's
    // reader does) where arrow's reader would cut them; text not a number is NULL.
    let options = CastOptions {
        safe: true,
        ..CastOptions::default()
    };
    Ok(cast_with_options(&decoded, data_type, &options)?)
}

/// `data_type` with every decimal in it (nested too) as text.
fn with_decimals_as_text(data_type: &DataType) -> DataType {
    let field = |f: &Field| {
        Field::new(
            f.name(),
            with_decimals_as_text(f.data_type()),
            f.is_nullable(),
        )
    };
    match data_type {
        DataType::Decimal128(..) => DataType::Utf8,
        DataType::List(element) => DataType::List(Arc::new(field(element))),
        DataType::Map(entries, sorted) => DataType::Map(Arc::new(field(entries)), *sorted),
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|f| field(f)).collect::<Fields>())
        }
        other => other.clone(),
    }
}

/// Each text of `texts` decoded by arrow's JSON reader as `data_type`.
fn decoded_rows(texts: &StringArray, data_type: &DataType) -> Result<ArrayRef> {
    // Each row is one line `{"v": <text>}` of a one-column table.
    let schema = Arc::new(Schema::new(vec![Field::new("v", data_type.clone(), true)]));
    let line = |text: Option<&str>| match text
        .filter(|t| serde_json::from_str::<serde_json::Value>(t).is_ok())
    {
        Some(text) => format!("{{\"v\":{text}}}\n"),
        None => "{\"v\":null}\n".to_string(),
    };
    let decode = |lines: &str, rows: usize| -> Option<ArrayRef> {
        let mut decoder = ReaderBuilder::new(Arc::clone(&schema))
            .with_batch_size(rows.max(1))
            .with_coerce_primitive(true)
            .build_decoder()
            .ok()?;
        if decoder.decode(lines.as_bytes()).ok()? != lines.len() {
            return None;
        }
        let batch = decoder.flush().ok()??;
        (batch.num_rows() == rows).then(|| Arc::clone(batch.column(0)))
    };
    let all: String = texts.iter().map(line).collect();
    if let Some(column) = decode(&all, texts.len()) {
        return Ok(column);
    }
    // A text not of the type fails the whole batch: read row by row, NULL where one
    // fails.
    let columns: Vec<ArrayRef> = texts
        .iter()
        .map(|text| decode(&line(text), 1).unwrap_or_else(|| new_null_array(data_type, 1)))
        .collect();
    let refs: Vec<&dyn Array> = columns.iter().map(|c| c.as_ref()).collect();
    if refs.is_empty() {
        return Ok(new_null_array(data_type, 0));
    }
    Ok(datafusion::arrow::compute::concat(&refs)?)
}

/// The words and punctuation of a schema: names, numbers and `<>(),:`.
fn tokens(schema: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in schema.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            tokens.push(std::mem::take(&mut word));
        }
        if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    tokens
}

struct SchemaParser<'a> {
    tokens: &'a [String],
    at: usize,
    schema: &'a str,
}

impl SchemaParser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn next(&mut self) -> Option<&str> {
        let token = self.tokens.get(self.at).map(String::as_str);
        self.at += 1;
        token
    }

    fn expect(&mut self, wanted: &str) -> Result<()> {
        match self.next() {
            Some(token) if token == wanted => Ok(()),
            _ => self.error(&format!("'{wanted}' expected")),
        }
    }

    fn error<T>(&self, what: &str) -> Result<T> {
        plan_err!(
            "from_json(): schema '{}' is not a Spark schema ({what}); write a type such as \
             'array<string>' or fields such as 'sku STRING, qty INT'",
            self.schema
        )
    }

    /// Fields `name [:] type`, separated by commas, up to `end` (or the end).
    fn fields(&mut self, end: Option<&str>) -> Result<Fields> {
        let mut fields = Vec::new();
        loop {
            let Some(name) = self.next().map(str::to_string) else {
                return self.error("a field name expected");
            };
            if self.peek() == Some(":") {
                self.at += 1;
            }
            fields.push(Field::new(name, self.data_type()?, true));
            match self.peek() {
                Some(",") => self.at += 1,
                next if next == end => break,
                _ => return self.error("',' expected between fields"),
            }
        }
        Ok(Fields::from(fields))
    }

    fn data_type(&mut self) -> Result<DataType> {
        let Some(name) = self.next().map(str::to_lowercase) else {
            return self.error("a type expected");
        };
        Ok(match name.as_str() {
            "string" => DataType::Utf8,
            "varchar" | "char" => {
                self.expect("(")?;
                self.next();
                self.expect(")")?;
                DataType::Utf8
            }
            "tinyint" | "byte" => DataType::Int8,
            "smallint" | "short" => DataType::Int16,
            "int" | "integer" => DataType::Int32,
            "bigint" | "long" => DataType::Int64,
            "float" | "real" => DataType::Float32,
            "double" => DataType::Float64,
            "boolean" => DataType::Boolean,
            "date" => DataType::Date32,
            "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            "decimal" | "numeric" | "dec" => self.decimal()?,
            "array" => {
                self.expect("<")?;
                let element = self.data_type()?;
                self.expect(">")?;
                DataType::new_list(element, true)
            }
            "map" => {
                self.expect("<")?;
                let key = self.data_type()?;
                self.expect(",")?;
                let value = self.data_type()?;
                self.expect(">")?;
                let entries = Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![
                        Field::new("key", key, false),
                        Field::new("value", value, true),
                    ])),
                    false,
                );
                DataType::Map(Arc::new(entries), false)
            }
            "struct" => {
                self.expect("<")?;
                let fields = self.fields(Some(">"))?;
                self.expect(">")?;
                DataType::Struct(fields)
            }
            other => return self.error(&format!("unknown type '{other}'")),
        })
    }

    /// `decimal`, `decimal(p)` or `decimal(p, s)`; Spark's default is (10, 0).
    fn decimal(&mut self) -> Result<DataType> {
        if self.peek() != Some("(") {
            return Ok(DataType::Decimal128(10, 0));
        }
        self.at += 1;
        let number = |parser: &mut Self| -> Result<u8> {
            let text = parser.next().unwrap_or_default().to_string();
            text.parse::<u8>()
                .map_err(|_| plan_datafusion_err!("from_json(): '{text}' is not a precision"))
        };
        let precision = number(self)?;
        let scale = if self.peek() == Some(",") {
            self.at += 1;
            number(self)?
        } else {
            0
        };
        self.expect(")")?;
        if precision == 0 || precision > 38 || scale > precision {
            return self.error("a decimal's precision is 1 to 38, its scale at most that");
        }
        Ok(DataType::Decimal128(
            precision,
            i8::try_from(scale).unwrap_or(0),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

    fn shown(texts: &[Option<&str>], schema: &str) -> Vec<String> {
        let array = from_json(
            &StringArray::from(texts.to_vec()),
            &schema_type(schema).unwrap(),
        )
        .unwrap();
        let options = FormatOptions::default().with_null("NULL");
        let formatter = ArrayFormatter::try_new(array.as_ref(), &options).unwrap();
        (0..array.len())
            .map(|i| formatter.value(i).to_string())
            .collect()
    }

    #[test]
    fn schemas_name_spark_types() {
        assert_eq!(
            schema_type("array<string>").unwrap(),
            DataType::new_list(DataType::Utf8, true)
        );
        let DataType::Struct(fields) =
            schema_type("sku STRING, qty: INT, price decimal(10, 2)").unwrap()
        else {
            panic!("not a struct")
        };
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[1].data_type(), &DataType::Int32);
        assert_eq!(fields[2].data_type(), &DataType::Decimal128(10, 2));
        assert!(matches!(
            schema_type("STRUCT<a: ARRAY<BIGINT>, m: MAP<STRING, DOUBLE>>").unwrap(),
            DataType::Struct(_)
        ));
        for bad in [
            "",
            "array<string",
            "struct<a int",
            "a blob",
            "decimal(40, 2)",
            "a int b",
        ] {
            let error = schema_type(bad).unwrap_err().to_string();
            assert!(error.contains("is not a Spark schema"), "{bad}: {error}");
        }
    }

    #[test]
    fn texts_read_as_the_schema_with_null_for_what_is_not() {
        assert_eq!(
            shown(
                &[
                    Some(r#"{"sku":"a","qty":2}"#),
                    Some(r#"{"sku":7}"#),
                    Some("not json"),
                    None,
                    Some(r#"{"qty":"many"}"#),
                ],
                "sku STRING, qty INT",
            ),
            [
                "{sku: a, qty: 2}",
                "{sku: 7, qty: NULL}",
                "NULL",
                "NULL",
                "NULL"
            ]
        );
        assert_eq!(
            shown(&[Some("[1, 2]"), Some("[]"), Some("{}")], "array<int>"),
            ["[1, 2]", "[]", "NULL"]
        );
        assert_eq!(
            shown(&[Some(r#"{"a":1.5,"b":null}"#)], "map<string,double>"),
            ["{a: 1.5, b: NULL}"]
        );
    }
}
