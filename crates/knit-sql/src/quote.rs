// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Quoting names and text into SQL, for the SQL that Knit writes itself.
//!
//! Two rules, for two readers: SQL that only the engine reads (composed queries)
//! quotes every identifier, so no name can change meaning; SQL that people read (the
//! script `knit project sql` prints) quotes a name only when it must be, so that it
//! reads like SQL a person wrote. Both give the same identifiers to DataFusion.

/// A SQL identifier in double quotes, whatever it holds.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL identifier, quoted only when it must be: when it is not lower-case letters,
/// digits and `_` (starting with a letter or `_`), or is a reserved word.
pub fn quote_ident_if_needed(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !RESERVED.contains(&name) {
        name.to_string()
    } else {
        quote_ident(name)
    }
}

/// A SQL string literal.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Words that cannot stand unquoted as column names.
const RESERVED: &[&str] = &[
    "all",
    "and",
    "as",
    "by",
    "case",
    "date",
    "default",
    "end",
    "from",
    "group",
    "in",
    "is",
    "not",
    "null",
    "or",
    "order",
    "select",
    "table",
    "then",
    "time",
    "timestamp",
    "to",
    "user",
    "when",
    "where",
    "with",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_by_their_rule() {
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident_if_needed("user_id2"), "user_id2");
        assert_eq!(quote_ident_if_needed("Email"), "\"Email\"");
        assert_eq!(quote_ident_if_needed("2x"), "\"2x\"");
        assert_eq!(quote_ident_if_needed("select"), "\"select\"");
        assert_eq!(quote_ident_if_needed(""), "\"\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
