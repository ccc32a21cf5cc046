// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Splitting a script into statements with the SQL tokenizer.
//!
//! A `;` ends a statement only outside string literals, quoted identifiers and
//! comments, so the split runs on tokens rather than on characters or line endings.

use datafusion_sql::sqlparser::dialect::GenericDialect;
use datafusion_sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::error::Result;

/// One statement of a script, as written, with where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementText<'a> {
    /// The statement's text from its first token to just before its `;`.
    pub sql: &'a str,
    /// 1-based line of the script on which the statement's first token stands.
    pub line: u64,
    /// 1-based column of that token.
    pub column: u64,
}

/// Splits `script` into its statements, dropping empty ones and comments between them.
///
/// The last statement needs no `;`. Fails only when the script cannot be tokenized
/// (an unterminated string, quoted identifier or block comment).
pub fn split_statements(script: &str) -> Result<Vec<StatementText<'_>>> {
    let tokens = tokenize(script)?;
    let offsets = LineOffsets::new(script);
    let mut statements = Vec::new();
    let mut first: Option<&TokenWithSpan> = None;
    for token in &tokens {
        match &token.token {
            Token::Whitespace(_) | Token::EOF => {}
            Token::SemiColon => {
                if let Some(first) = first.take() {
                    statements.push(statement_text(script, &offsets, first, token.span.start));
                }
            }
            _ => {
                if first.is_none() {
                    first = Some(token);
                }
            }
        }
    }
    if let Some(first) = first {
        let end = Location::new(u64::MAX, 0);
        statements.push(statement_text(script, &offsets, first, end));
    }
    Ok(statements)
}

/// True when typed input is ready to run: it ends with `;` outside quotes and comments,
/// or is a backslash command, or is blank. Input with an unterminated quote or comment
/// is not complete.
pub fn is_complete(input: &str) -> bool {
    let trimmed = input.trim();
    if trimmed.is_empty() || trimmed.starts_with('\\') {
        return true;
    }
    let Ok(tokens) = tokenize(input) else {
        return false;
    };
    tokens
        .iter()
        .rev()
        .find(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        .is_some_and(|t| t.token == Token::SemiColon)
}

/// The tokens of `sql` that carry meaning: without whitespace and comments (which the
/// tokenizer gives as whitespace). `None` when `sql` does not tokenize.
pub fn significant_tokens(sql: &str) -> Option<Vec<Token>> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql).tokenize().ok()?;
    Some(
        tokens
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect(),
    )
}

fn tokenize(sql: &str) -> Result<Vec<TokenWithSpan>> {
    let dialect = GenericDialect {};
    Ok(Tokenizer::new(&dialect, sql).tokenize_with_location()?)
}

fn statement_text<'a>(
    script: &'a str,
    offsets: &LineOffsets,
    first: &TokenWithSpan,
    end: Location,
) -> StatementText<'a> {
    let start = offsets.byte_offset(script, first.span.start);
    let end = offsets.byte_offset(script, end);
    StatementText {
        sql: script[start..end].trim_end(),
        line: first.span.start.line,
        column: first.span.start.column,
    }
}

/// Byte offsets of line starts, to turn the tokenizer's (line, column) into byte offsets.
struct LineOffsets(Vec<usize>);

impl LineOffsets {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self(starts)
    }

    /// The byte offset of a 1-based (line, column in characters) location; locations past
    /// the end map to the end of the text.
    fn byte_offset(&self, text: &str, location: Location) -> usize {
        let Some(&line_start) = usize::try_from(location.line)
            .ok()
            .and_then(|line| line.checked_sub(1))
            .and_then(|index| self.0.get(index))
        else {
            return text.len();
        };
        let column = usize::try_from(location.column.saturating_sub(1)).unwrap_or(usize::MAX);
        text[line_start..]
            .char_indices()
            .nth(column)
            .map_or(text.len(), |(i, _)| line_start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(script: &str) -> Vec<(&str, u64)> {
        split_statements(script)
            .unwrap()
            .into_iter()
            .map(|s| (s.sql, s.line))
            .collect()
    }

    #[test]
    fn splits_on_semicolons_outside_quotes_and_comments() {
        let script =
            "SELECT ';' AS a;\n-- not; a statement\nSELECT \"x;y\" FROM t /* ; */ ;\n\n  SELECT 3";
        assert_eq!(
            texts(script),
            vec![
                ("SELECT ';' AS a", 1),
                ("SELECT \"x;y\" FROM t /* ; */", 3),
                ("SELECT 3", 5),
            ]
        );
    }

    #[test]
    fn statement_spanning_lines_keeps_its_first_line() {
        let script = "\n\n-- header\nSELECT a,\n  b\nFROM t;";
        assert_eq!(texts(script), vec![("SELECT a,\n  b\nFROM t", 4)]);
    }

    #[test]
    fn empty_statements_and_trailing_comments_are_dropped() {
        assert_eq!(texts(";;\n-- only a comment\n"), vec![]);
        assert_eq!(texts("SELECT 1; -- done"), vec![("SELECT 1", 1)]);
    }

    #[test]
    fn multibyte_text_is_sliced_on_character_boundaries() {
        let script = "SELECT 'é€'; SELECT 'ü'";
        assert_eq!(texts(script), vec![("SELECT 'é€'", 1), ("SELECT 'ü'", 1)]);
    }

    #[test]
    fn unterminated_string_is_an_error_with_its_line() {
        let err = split_statements("SELECT 1;\nSELECT 'abc").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn completeness_follows_quotes_and_comments() {
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1; -- trailing comment"));
        assert!(is_complete("\\d"));
        assert!(is_complete("   "));
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT ';"));
        assert!(!is_complete("SELECT 1 /* ; */"));
        assert!(!is_complete("SELECT 1; SELECT 2"));
    }
}
