// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A CSV table's values as PostgreSQL's loader (`COPY ... CSV`) reads them, where Arrow's
//! CSV reader reads them otherwise:
//!
//! - A quoted empty field (`""`) is the empty string, while an empty field without
//!   quotes is NULL. Arrow's reader makes both NULL, and the difference shows in pb's
//!   answers (`count(DISTINCT x)` and `count(x)` count `''`; `x IS NULL` is false for
//!   it). So a file whose text column holds `""` is read from a copy in which each such
//!   field is a marker, a control character the file lacks ([`with_empty_text_marked`]),
//!   under a view that reads the marker as `''` ([`unmarked`]). The copy keeps every
//!   other byte, so quoted delimiters, line breaks and doubled quotes read as before.
//! - A boolean written `t`/`f`, `yes`/`no`, `on`/`off` or `1`/`0`, a time without its
//!   seconds (`2024-01-07 10:00`), and a boolean, time or decimal with spaces around
//!   it: Arrow's reader refuses them. Such a column is read as text and converted by
//!   the view ([`converted`]).

/// `text` (comma-separated, its first line the header) with every quoted empty field
/// (`""`) of a column that `is_text` marks replaced by `marker`, and of another column
/// by an empty field (NULL, as PostgreSQL's loader reads an empty number or time), with
/// the columns where it put a marker; `None` if no text column holds one. Only `""` at a field's start and followed by its
/// end is replaced: `"""a"""` and `"a ""b"""` are quoted text.
pub(crate) fn with_empty_text_marked(
    text: &str,
    is_text: &[bool],
    marker: char,
) -> Option<(String, Vec<bool>)> {
    let bytes = text.as_bytes();
    let mut marked = String::with_capacity(text.len());
    let mut copied_to = 0;
    let mut marked_columns = vec![false; is_text.len()];
    let (mut field, mut header, mut field_start) = (0usize, true, true);
    let ends_field = |b: Option<&u8>| b.is_none_or(|b| matches!(b, b',' | b'\n' | b'\r'));
    let mut i = 0;
    while i < bytes.len() {
        if field_start && bytes[i] == b'"' {
            field_start = false;
            if !header && bytes.get(i + 1) == Some(&b'"') && ends_field(bytes.get(i + 2)) {
                marked.push_str(&text[copied_to..i]);
                if is_text.get(field).copied().unwrap_or(false) {
                    marked.push(marker);
                    marked_columns[field] = true;
                }
                i += 2;
                copied_to = i;
                continue;
            }
            // Past the quoted text, whose delimiters and line breaks are its own.
            i += 1;
            while i < bytes.len() {
                if bytes[i] == b'"' {
                    if bytes.get(i + 1) == Some(&b'"') {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            continue;
        }
        match bytes[i] {
            b',' => {
                field += 1;
                field_start = true;
            }
            b'\n' => {
                field = 0;
                header = false;
                field_start = true;
            }
            _ => field_start = false,
        }
        i += 1;
    }
    marked.push_str(&text[copied_to..]);
    marked_columns
        .contains(&true)
        .then_some((marked, marked_columns))
}

/// A control character `text` does not hold, for [`with_empty_text_marked`]'s marker.
pub(crate) fn unused_marker(text: &str) -> Option<char> {
    (1u8..=8)
        .map(char::from)
        .find(|c| !text.as_bytes().contains(&(*c as u8)))
}

/// The SQL value of text column `column` of a marked copy: the marker is `''`.
pub(crate) fn unmarked(column: &str, marker: char) -> String {
    format!(
        "CASE WHEN {column} = chr({}) THEN '' ELSE {column} END",
        u32::from(marker)
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

    #[test]
    fn quoted_empty_text_fields_are_marked_and_the_rest_is_kept() {
        let marked =
            |text: &str| with_empty_text_marked(text, &[true, true], '\u{1}').map(|(copy, _)| copy);
        assert_eq!(marked("a,b\n1,\n2,x\n"), None);
        assert_eq!(
            marked("a,b\n1,\"\"\n2,x\n").as_deref(),
            Some("a,b\n1,\u{1}\n2,x\n")
        );
        assert_eq!(
            marked("a,b\r\n\"\",1\r\n").as_deref(),
            Some("a,b\r\n\u{1},1\r\n")
        );
        assert_eq!(
            marked("a,b\n1,\"x\"\n\"y\",\"\"").as_deref(),
            Some("a,b\n1,\"x\"\n\"y\",\u{1}")
        );
        // Quoted delimiters, line breaks and doubled quotes stay as they are.
        assert_eq!(
            marked("a,b\n\"\",\"x,\"\"\"\",\ny\"\n\"\"\"q\"\"\",\"\"\n").as_deref(),
            Some("a,b\n\u{1},\"x,\"\"\"\",\ny\"\n\"\"\"q\"\"\",\u{1}\n")
        );
        // Quotes inside a field that does not start with one are text.
        assert_eq!(marked("a\n1 \"\"\n"), None);
        // The header is names; an unclosed quote reads to the end.
        assert_eq!(marked("\"\",b\n1,2\n"), None);
        assert_eq!(marked("a\n\"x"), None);
        // A column that is not text reads `""` as NULL: the field is emptied.
        let typed = with_empty_text_marked("a,n,t\n\"\",\"\",x\n", &[true, false, true], '\u{2}');
        assert_eq!(
            typed,
            Some(("a,n,t\n\u{2},,x\n".to_string(), vec![true, false, false]))
        );
        assert_eq!(
            with_empty_text_marked("a,n\nx,\"\"\n", &[true, false], '\u{2}'),
            None
        );
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
    fn the_marker_is_a_character_the_text_lacks() {
        assert_eq!(unused_marker("a,b"), Some('\u{1}'));
        assert_eq!(unused_marker("a\u{1}b"), Some('\u{2}'));
        let every: String = (1u8..=8).map(char::from).collect();
        assert_eq!(unused_marker(&every), None);
        assert_eq!(
            unmarked("page", '\u{1}'),
            "CASE WHEN page = chr(1) THEN '' ELSE page END"
        );
    }
}
