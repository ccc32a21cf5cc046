// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A CSV table's values as PostgreSQL's loader (`COPY ... CSV`) reads them, where Arrow's
//! CSV reader reads them otherwise:
//!
//! - A quoted empty field (`""`) is the empty string, while an empty field without
//!   quotes is NULL. Arrow's reader makes both NULL, and the difference shows in pb's
//!   answers (`count(DISTINCT x)` and `count(x)` count `''`; `x IS NULL` is false for
//!   it). So a file holding `""` is read raw: registered with a quote character it
//!   does not contain, so that each field comes with its quotes, every column as text,
//!   under a view that takes the quotes off ([`unquoted`]) and casts each column to its
//!   type. That reading is exact only when no quoted field holds what only quotes
//!   allow (the delimiter, a line break, a doubled quote); a file with such a field is
//!   read as before, both empty fields NULL, with a warning.
//! - A boolean written `t`/`f`, `yes`/`no`, `on`/`off` or `1`/`0`, a time without its
//!   seconds (`2024-01-07 10:00`), and a boolean, time or decimal with spaces around
//!   it: Arrow's reader refuses them. Such a column is read as text and converted by
//!   the view ([`converted`]).

/// What the quoting of a CSV text needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Quoting {
    /// A field is `""`.
    pub quoted_empty: bool,
    /// A quoted field holds a delimiter, a line break or a doubled quote, or text
    /// follows its closing quote, or it is not closed: only a CSV reader splits such a
    /// file into its fields.
    pub needs_reader: bool,
}

/// How the fields of `text` (comma-separated) are quoted.
pub(crate) fn quoting(text: &str) -> Quoting {
    let bytes = text.as_bytes();
    let mut found = Quoting::default();
    let mut field_start = true;
    let mut i = 0;
    while i < bytes.len() {
        if field_start && bytes[i] == b'"' {
            i += 1;
            let mut length = 0usize;
            loop {
                match bytes.get(i) {
                    None => {
                        found.needs_reader = true;
                        break;
                    }
                    Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                        found.needs_reader = true;
                        i += 2;
                        length += 1;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b',' | b'\n' | b'\r') => {
                        found.needs_reader = true;
                        i += 1;
                        length += 1;
                    }
                    Some(_) => {
                        i += 1;
                        length += 1;
                    }
                }
            }
            found.quoted_empty |= length == 0;
            if bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'\n' | b'\r'))
            {
                found.needs_reader = true;
            }
            field_start = false;
            continue;
        }
        field_start = matches!(bytes[i], b',' | b'\n');
        i += 1;
    }
    found
}

/// A control character `text` does not hold, for the raw reading's quote: with it, the
/// reader keeps every `"` as text.
pub(crate) fn unused_quote(text: &str) -> Option<char> {
    (1u8..=8)
        .map(char::from)
        .find(|c| !text.as_bytes().contains(&(*c as u8)))
}

/// The SQL value of a raw field `column` (with its quotes, if it had them): `""` is the
/// empty string, `"x"` is `x`, and a field without quotes is itself.
pub(crate) fn unquoted(column: &str) -> String {
    format!(
        "CASE WHEN {column} LIKE '\"%\"' AND length({column}) >= 2 \
         THEN substr({column}, 2, length({column}) - 2) ELSE {column} END"
    )
}

/// Whether text `value` of a column of type `sql_type` (Knit's type name) is one that
/// PostgreSQL's loader reads and Arrow's CSV reader refuses, which [`converted`] reads.
pub(crate) fn needs_conversion(sql_type: &str, value: &str) -> bool {
    let trimmed = value.trim();
    if trimmed.is_empty() || sql_type == "VARCHAR" {
        return false;
    }
    if trimmed.len() != value.len() {
        return true;
    }
    let value = trimmed;
    match sql_type {
        "BOOLEAN" => !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false"),
        _ if is_time(sql_type) => minutes_only(value),
        _ => false,
    }
}

/// Whether Knit's type name `sql_type` is a time (with a zone or without).
fn is_time(sql_type: &str) -> bool {
    matches!(sql_type, "TIMESTAMP" | "TIMESTAMP WITH TIME ZONE")
}

/// A time written to the minute: `YYYY-MM-DD HH:MM`, then nothing or a zone.
fn minutes_only(value: &str) -> bool {
    let b = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        range
            .into_iter()
            .all(|i| b.get(i).is_some_and(u8::is_ascii_digit))
    };
    b.len() >= 16
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b' ' | b'T')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b.get(16).is_none_or(|c| *c != b':' && !c.is_ascii_digit())
}

/// The SQL that reads text `value` as `sql_type` as PostgreSQL's loader reads it:
/// without the spaces around it, a boolean in any of PostgreSQL's spellings
/// (`to_boolean`), a time to the minute with its seconds added.
pub(crate) fn converted(sql_type: &str, value: &str) -> String {
    match sql_type {
        "VARCHAR" => value.to_string(),
        "BOOLEAN" => format!("to_boolean(trim({value}))"),
        _ if is_time(sql_type) => format!(
            "CAST(regexp_replace(trim({value}), \
             '^([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[ T][0-9]{{2}}:[0-9]{{2}})($|[^:0-9])', \
             '\\1:00\\2') AS {sql_type})"
        ),
        _ => format!("CAST(trim({value}) AS {sql_type})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> (bool, bool) {
        let q = quoting(text);
        (q.quoted_empty, q.needs_reader)
    }

    #[test]
    fn quoted_empty_fields_are_found_and_hard_quoting_is_told() {
        assert_eq!(of("a,b\n1,\n2,x\n"), (false, false));
        assert_eq!(of("a,b\n1,\"\"\n2,x\n"), (true, false));
        assert_eq!(of("a,b\r\n\"\",1\r\n"), (true, false));
        assert_eq!(of("a,b\n1,\"x\"\n\"y\",\"\""), (true, false));
        // Quotes inside a field that does not start with one are text.
        assert_eq!(of("a\n1 \"\"\n"), (false, false));
        // What only a CSV reader splits right.
        assert_eq!(of("a,b\n\"\",\"x,y\"\n"), (true, true));
        assert_eq!(of("a,b\n\"\",\"x\ny\"\n"), (true, true));
        assert_eq!(of("a,b\n\"\",\"say \"\"hi\"\"\"\n"), (true, true));
        assert_eq!(of("a,b\n\"\",\"x\"y\n"), (true, true));
        assert_eq!(of("a\n\"x"), (false, true));
    }

    #[test]
    fn values_arrow_refuses_are_told_by_type() {
        assert!(needs_conversion("BOOLEAN", "t"));
        assert!(needs_conversion("BOOLEAN", " yes"));
        assert!(!needs_conversion("BOOLEAN", "TRUE"));
        assert!(!needs_conversion("BOOLEAN", ""));
        assert!(needs_conversion("TIMESTAMP", "2024-01-07 10:00"));
        assert!(needs_conversion(
            "TIMESTAMP WITH TIME ZONE",
            "2024-01-07T10:00+02"
        ));
        assert!(!needs_conversion(
            "TIMESTAMP WITH TIME ZONE",
            "2024-01-07 10:00:00+00"
        ));
        assert!(!needs_conversion("TIMESTAMP", "2024-01-07"));
        assert!(!needs_conversion("VARCHAR", "t"));
        assert!(!needs_conversion("VARCHAR", " t "));
        assert!(needs_conversion("DECIMAL(10, 2)", " 3.25"));
        assert!(needs_conversion("TIMESTAMP", " 2024-01-07 10:00:00"));
        assert!(!needs_conversion("INT", "12"));
        assert_eq!(converted("BOOLEAN", "b"), "to_boolean(trim(b))");
        assert_eq!(converted("INT", "n"), "CAST(trim(n) AS INT)");
        assert_eq!(converted("VARCHAR", "s"), "s");
    }

    #[test]
    fn the_raw_quote_is_a_character_the_text_lacks() {
        assert_eq!(unused_quote("a,b"), Some('\u{1}'));
        assert_eq!(unused_quote("a\u{1}b"), Some('\u{2}'));
        let every: String = (1u8..=8).map(char::from).collect();
        assert_eq!(unused_quote(&every), None);
    }
}
