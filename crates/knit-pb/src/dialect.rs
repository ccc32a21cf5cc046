// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A warehouse's meanings of functions DataFusion has with another, given to a pb
//! project's rendered SQL as the Knit SQL calls that have them.
//!
//! Every warehouse's `regexp_replace` replaces every match (PostgreSQL's, DataFusion's,
//! only the first): `warehouse_regexp_replace`, or `redshift_regexp_replace`, whose
//! fifth argument is the parameters.
//!
//! Snowflake: `random()` is a 64-bit integer (`mod(random(), 3)`), not a fraction, as
//! `random_int64()`; `regexp_like` and `rlike` match the whole text
//! (`regexp_full_match`), not a part of it; `array_slice` counts from 0 and stops before
//! its end; `array_position(v, a)` takes the value first and counts from 0;
//! `json_extract_path_text(j, 'a.b[0]')` takes one path, dots and brackets, as
//! `get_path` reads it (Redshift's takes each key as an argument). Databricks:
//! `dayofweek` counts Sunday as 1; `regexp_extract` takes a group number and gives empty
//! text, not NULL, without a match.
//!
//! Snowflake's and Databricks' `array_agg` leaves NULLs out (see `array_agg`).
//!
//! Only the SQL outside quotes and comments is read, so that a string such as
//! `'dayofweek('` stays as written.
//!
//! A quoted name in capitals (`"USER_ID"` in Snowflake and Redshift, `` `USER_ID` `` in
//! BigQuery and Databricks) is the unquoted name to the warehouse, and Knit names the
//! columns of a project's tables in lower case, so it is written in lower case.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

mod array_agg;

type Meanings = Vec<(Regex, &'static str)>;

fn compile(pairs: &[(&str, &'static str)]) -> Meanings {
    pairs
        .iter()
        .filter_map(|(pattern, with)| Some((Regex::new(pattern).ok()?, *with)))
        .collect()
}

static SNOWFLAKE: LazyLock<Meanings> = LazyLock::new(|| {
    compile(&[
        (r"(?i)\brandom\s*\(\s*\)", "random_int64()"),
        (r"(?i)\bregexp_replace\s*\(", "warehouse_regexp_replace("),
        (r"(?i)\b(regexp_like|rlike)\s*\(", "regexp_full_match("),
        (r"(?i)\barray_slice\s*\(", "snowflake_array_slice("),
        (r"(?i)\barray_position\s*\(", "snowflake_array_position("),
        (r"(?i)\bjson_extract_path_text\s*\(", "get_path("),
    ])
});

static DATABRICKS: LazyLock<Meanings> = LazyLock::new(|| {
    compile(&[
        (r"(?i)\bregexp_replace\s*\(", "warehouse_regexp_replace("),
        (r"(?i)\bdayofweek\s*\(", "spark_dayofweek("),
        (r"(?i)\bregexp_extract\s*\(", "spark_regexp_extract("),
    ])
});

static BIGQUERY: LazyLock<Meanings> =
    LazyLock::new(|| compile(&[(r"(?i)\bregexp_replace\s*\(", "warehouse_regexp_replace(")]));

static REDSHIFT: LazyLock<Meanings> =
    LazyLock::new(|| compile(&[(r"(?i)\bregexp_replace\s*\(", "redshift_regexp_replace(")]));

/// `sql` with the calls whose meaning differs in `dialect` replaced, and its quoted
/// names in capitals in lower case (see the module doc).
pub(crate) fn dialect_meanings(sql: &str, dialect: &str) -> String {
    let (meanings, name_quote) = match dialect {
        "snowflake" => (&*SNOWFLAKE, '"'),
        "databricks" => (&*DATABRICKS, '`'),
        "redshift" => (&*REDSHIFT, '"'),
        "bigquery" => (&*BIGQUERY, '`'),
        _ => return sql.to_string(),
    };
    let mut out = String::with_capacity(sql.len());
    for (range, is_code) in segments(sql) {
        let text = &sql[range];
        if !is_code {
            out.push_str(&capitals_in_lower_case(text, name_quote));
            continue;
        }
        let mut code = Cow::Borrowed(text);
        for (pattern, with) in meanings {
            // A pattern that does not match borrows the text: nothing is copied.
            if let Cow::Owned(replaced) = pattern.replace_all(&code, *with) {
                code = Cow::Owned(replaced);
            }
        }
        out.push_str(&code);
    }
    if matches!(dialect, "snowflake" | "databricks") {
        return array_agg::nulls_left_out(&out);
    }
    out
}

/// A quoted name (`"USER_ID"`, in the dialect's name quotes) written in capitals, in
/// lower case: a warehouse matches it as it matches the unquoted name, and Knit names
/// the columns of a project's tables in lower case. Names with a lower-case letter,
/// strings and comments stay as written.
fn capitals_in_lower_case(part: &str, name_quote: char) -> Cow<'_, str> {
    let Some(name) = part
        .strip_prefix(name_quote)
        .and_then(|rest| rest.strip_suffix(name_quote))
    else {
        return Cow::Borrowed(part);
    };
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && name.chars().any(|c| c.is_ascii_uppercase());
    if plain {
        Cow::Owned(format!(
            "{name_quote}{}{name_quote}",
            name.to_ascii_lowercase()
        ))
    } else {
        Cow::Borrowed(part)
    }
}

/// Whether byte `at` of `sql` is code, not a quote or a comment.
pub(crate) fn in_code(sql: &str, at: usize) -> bool {
    segments(sql)
        .into_iter()
        .any(|(range, is_code)| is_code && range.contains(&at))
}

/// The code of `sql`, its quotes and comments left out.
pub(crate) fn code_only(sql: &str) -> String {
    segments(sql)
        .into_iter()
        .filter(|(_, is_code)| *is_code)
        .map(|(range, _)| &sql[range])
        .collect()
}

/// `sql` cut into consecutive parts, each either code (`true`) or a quoted string,
/// quoted name or comment (`false`). A quote ends at the next same quote not escaped by
/// a backslash or doubled (`'it''s'`); an unterminated one runs to the end.
pub(crate) fn segments(sql: &str) -> Vec<(Range<usize>, bool)> {
    let bytes = sql.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        let end = match (bytes[i], bytes.get(i + 1)) {
            (quote @ (b'\'' | b'"' | b'`'), _) => {
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        None => break bytes.len(),
                        Some(b'\\') => j += 2,
                        Some(&b) if b == quote && bytes.get(j + 1) == Some(&quote) => j += 2,
                        Some(&b) if b == quote => break j + 1,
                        Some(_) => j += 1,
                    }
                }
            }
            (b'-', Some(b'-')) => sql[i..].find('\n').map_or(bytes.len(), |n| i + n),
            (b'/', Some(b'*')) => sql[i + 2..].find("*/").map_or(bytes.len(), |n| i + n + 4),
            _ => {
                i += 1;
                continue;
            }
        };
        let end = end.min(bytes.len());
        if start < i {
            parts.push((start..i, true));
        }
        parts.push((i..end, false));
        (start, i) = (end, end);
    }
    if start < bytes.len() {
        parts.push((start..bytes.len(), true));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_take_the_dialects_meaning() {
        assert_eq!(
            dialect_meanings(
                "ARRAY_SLICE(a, 0, 2), dayofweek(t), array_position(1, a)",
                "snowflake"
            ),
            "snowflake_array_slice(a, 0, 2), dayofweek(t), snowflake_array_position(1, a)"
        );
        assert_eq!(
            dialect_meanings("JSON_EXTRACT_PATH_TEXT(j, 'a.b')", "snowflake"),
            "get_path(j, 'a.b')"
        );
        assert_eq!(
            dialect_meanings("json_extract_path_text(j, 'a', 'b')", "redshift"),
            "json_extract_path_text(j, 'a', 'b')"
        );
        assert_eq!(
            dialect_meanings(
                "DAYOFWEEK (t), array_slice(a, 1, 2), regexp_extract(s, p)",
                "databricks"
            ),
            "spark_dayofweek(t), array_slice(a, 1, 2), spark_regexp_extract(s, p)"
        );
        assert_eq!(dialect_meanings("random()", "bigquery"), "random()");
        assert_eq!(
            dialect_meanings("REGEXP_REPLACE(p, '[^0-9]')", "bigquery"),
            "warehouse_regexp_replace(p, '[^0-9]')"
        );
        assert_eq!(
            dialect_meanings("regexp_replace (p, 'a', 'b', 1, 'i')", "redshift"),
            "redshift_regexp_replace(p, 'a', 'b', 1, 'i')"
        );
        assert_eq!(
            dialect_meanings("regexp_replace(p, 'a')", "postgres"),
            "regexp_replace(p, 'a')"
        );
    }

    #[test]
    fn quoted_names_in_capitals_are_lower_case() {
        let sql = "SELECT \"USER_ID\", \"Email\", \"A$1\", '\"X\"', \"2\", `AMOUNT` -- \"Y\"\n";
        assert_eq!(
            dialect_meanings(sql, "snowflake"),
            "SELECT \"user_id\", \"Email\", \"a$1\", '\"X\"', \"2\", `AMOUNT` -- \"Y\"\n"
        );
        assert_eq!(
            dialect_meanings(sql, "bigquery"),
            "SELECT \"USER_ID\", \"Email\", \"A$1\", '\"X\"', \"2\", `amount` -- \"Y\"\n"
        );
        assert_eq!(
            dialect_meanings("\"TOTAL\" + `N`", "redshift"),
            "\"total\" + `N`"
        );
        assert_eq!(
            dialect_meanings("`TOTAL` + \"N\"", "databricks"),
            "`total` + \"N\""
        );
    }

    #[test]
    fn quotes_and_comments_stay_as_written() {
        let sql = "SELECT random(), 'random()', \"rlike(\", 'it''s random()', 'a\\'random()' \
                   -- random()\n, random() /* rlike( */ FROM t WHERE x = `random()`";
        assert_eq!(
            dialect_meanings(sql, "snowflake"),
            "SELECT random_int64(), 'random()', \"rlike(\", 'it''s random()', 'a\\'random()' \
             -- random()\n, random_int64() /* rlike( */ FROM t WHERE x = `random()`"
        );
        // Unterminated quotes and comments run to the end; multi-byte text is kept whole.
        assert_eq!(dialect_meanings("'é random()", "snowflake"), "'é random()");
        assert_eq!(
            dialect_meanings("é /* random()", "snowflake"),
            "é /* random()"
        );
        assert_eq!(
            dialect_meanings("é -- random()", "snowflake"),
            "é -- random()"
        );
        assert_eq!(
            dialect_meanings("random() 'x\\", "snowflake"),
            "random_int64() 'x\\"
        );
    }
}
