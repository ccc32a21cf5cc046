// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A quoted empty field (`""`) of a CSV table, read as the empty string, as
//! PostgreSQL's loader (`COPY ... CSV`) reads it, while an empty field without quotes
//! stays NULL.
//!
//! Arrow's CSV reader cannot tell the two apart: both are NULL. The difference shows in
//! pb's answers (`count(DISTINCT x)` counts `''`, `count(x)` counts it, `x IS NULL` is
//! false for it), so a CSV table that holds a quoted empty field is read raw: the file
//! is registered with a quote character it does not contain, so that each field comes
//! with its quotes, every column as text, and a view takes the quotes off and casts
//! each column to its type. That reading is exact only when no quoted field holds what
//! only quotes allow (the delimiter, a line break, a doubled quote); a file with such a
//! field is read as before, both empty fields NULL, and a warning says so.

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
    fn the_raw_quote_is_a_character_the_text_lacks() {
        assert_eq!(unused_quote("a,b"), Some('\u{1}'));
        assert_eq!(unused_quote("a\u{1}b"), Some('\u{2}'));
        let every: String = (1u8..=8).map(char::from).collect();
        assert_eq!(unused_quote(&every), None);
    }
}
