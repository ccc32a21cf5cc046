// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The run's times in templates (`end_time`, `begin_time`): pb's Go `time.Time`, written
//! with Go's layouts.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use super::args::{one_string, unknown_method};

/// The instant an RFC 3339 text names, in UTC.
fn utc(time: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    time.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// The time an RFC 3339 text names, or nil (pb's `nil` for a run without one).
pub(super) fn time_value(time: Option<&str>) -> Value {
    match utc(time) {
        Some(time) => Value::from_object(Time(time)),
        None => Value::from(()),
    }
}

/// `end_time_sql`, `begin_time_sql`: the time as a SQL timestamp, as pb prints it
/// (`CAST('2024-06-20T00:00:00Z' AS timestamp)`, checked with pb 0.26.4), or `NULL`
/// without one.
pub(super) fn time_sql(time: Option<&str>) -> Value {
    match utc(time) {
        Some(time) => Value::from(format!(
            "CAST('{}' AS TIMESTAMP)",
            time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )),
        None => Value::from("NULL"),
    }
}

/// A time of the run: `Format(layout)` with Go's layouts, as pb's `time.Time`.
#[derive(Debug)]
struct Time(chrono::DateTime<chrono::Utc>);

impl Object for Time {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "Format" => {
                let layout = one_string("Format", args)?;
                let mut text = String::new();
                // A format chrono cannot write is an error, not a panic.
                fmt::Write::write_fmt(
                    &mut text,
                    format_args!("{}", self.0.format(&go_layout_to_strftime(layout))),
                )
                .map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("Format: cannot write the time as '{layout}'"),
                    )
                })?;
                Ok(Value::from(text))
            }
            "Unix" => Ok(Value::from(self.0.timestamp())),
            "UnixMilli" => Ok(Value::from(self.0.timestamp_millis())),
            _ => Err(unknown_method("time", method)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Go's default layout for a time.Time.
        write!(f, "{}", self.0.format("%Y-%m-%d %H:%M:%S +0000 UTC"))
    }
}

/// A Go time layout (`2006-01-02 15:04:05`) as a chrono format.
pub(super) fn go_layout_to_strftime(layout: &str) -> String {
    // Longest first, so that `2006` is not read as `2` and `006`.
    const TOKENS: &[(&str, &str)] = &[
        ("January", "%B"),
        ("Monday", "%A"),
        ("Z07:00", "Z"),
        ("-07:00", "%:z"),
        (".000000000", "%.9f"),
        (".000000", "%.6f"),
        (".000", "%.3f"),
        ("-0700", "%z"),
        ("2006", "%Y"),
        ("Jan", "%b"),
        ("Mon", "%a"),
        ("MST", "UTC"),
        ("_2", "%e"),
        ("01", "%m"),
        ("02", "%d"),
        ("03", "%I"),
        ("04", "%M"),
        ("05", "%S"),
        ("06", "%y"),
        ("15", "%H"),
        ("PM", "%p"),
        ("pm", "%P"),
        ("1", "%-m"),
        ("2", "%-d"),
        ("3", "%-I"),
        ("4", "%-M"),
        ("5", "%-S"),
    ];
    let mut format = String::with_capacity(layout.len() * 2);
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (token, replacement) in TOKENS {
            if let Some(after) = rest.strip_prefix(token) {
                format.push_str(replacement);
                rest = after;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            if c == '%' {
                format.push_str("%%");
            } else {
                format.push(c);
            }
        }
        rest = chars.as_str();
    }
    format
}
