// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Snowflake's and Databricks' `array_agg` leaves NULLs out, and gathers an empty array
//! from a group whose values are all NULL; PostgreSQL's and DataFusion's keep them (and
//! give NULL for no values). A call `array_agg(x)`, with `DISTINCT`, `ORDER BY` inside or
//! `WITHIN GROUP (ORDER BY ..)` after it, is written
//! `coalesce(array_agg(x) IGNORE NULLS, make_array())`; as a window function (`OVER`),
//! `array_agg(x) IGNORE NULLS OVER (..)`. A call that says `IGNORE NULLS` or
//! `RESPECT NULLS` itself stays as written.

use std::sync::LazyLock;

use regex::Regex;

use super::{in_code, segments};

static CALL: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?i)\barray_agg\s*\(").ok());

/// `sql` with every `array_agg` call that does not say how it treats NULLs leaving them
/// out, as Snowflake's and Databricks' do.
pub(super) fn nulls_left_out(sql: &str) -> String {
    let Some(call) = CALL.as_ref() else {
        return sql.to_string();
    };
    let mut sql = sql.to_string();
    // Right to left: an edit changes only the text from its call on, so the places of
    // the calls before it hold, and an outer call is rewritten around its inner one.
    let starts: Vec<usize> = call
        .find_iter(&sql)
        .map(|m| m.start())
        .filter(|&start| in_code(&sql, start))
        .collect();
    for start in starts.into_iter().rev() {
        if let Some(rewritten) = rewrite_call(&sql, start) {
            sql = rewritten;
        }
    }
    sql
}

/// `sql` with the call at `start` rewritten, or `None` to leave it (it says how it
/// treats NULLs, or its parentheses do not close).
fn rewrite_call(sql: &str, start: usize) -> Option<String> {
    let open = start + sql[start..].find('(')?;
    let close = closing(sql, open)?;
    if treats_nulls(&top_level_code(sql, open + 1, close)) {
        return None;
    }
    let mut end = close + 1;
    let rest = &sql[end..];
    let after_ws = end + (rest.len() - rest.trim_start().len());
    if let Some(group) = word_then_paren(sql, after_ws, &["within", "group"]) {
        end = closing(sql, group)? + 1;
    }
    let rest = &sql[end..];
    let next = end + (rest.len() - rest.trim_start().len());
    if treats_nulls(&sql[next..sql.len().min(next + 13)]) {
        return None;
    }
    let call = &sql[start..end];
    let over = sql[next..].to_ascii_lowercase().starts_with("over")
        && !sql[next + 4..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
    let replacement = if over {
        format!("{call} IGNORE NULLS")
    } else {
        format!("coalesce({call} IGNORE NULLS, make_array())")
    };
    Some(format!("{}{replacement}{}", &sql[..start], &sql[end..]))
}

/// The code of `sql[from..to]` outside the parentheses it opens: a call's own words, not
/// those of the calls among its arguments.
fn top_level_code(sql: &str, from: usize, to: usize) -> String {
    let mut depth = 0usize;
    let mut out = String::new();
    for (range, is_code) in segments(sql) {
        let (start, end) = (range.start.max(from), range.end.min(to));
        if !is_code || start >= end {
            continue;
        }
        for c in sql[start..end].chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out.push(' ');
    }
    out
}

/// Whether `text` says `IGNORE NULLS` or `RESPECT NULLS`.
fn treats_nulls(text: &str) -> bool {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    words
        .windows(2)
        .any(|w| (w[0] == "ignore" || w[0] == "respect") && w[1] == "nulls")
}

/// The place of the `(` after the words `words` (in any case, with any spaces) that
/// start at `at`, if they do.
fn word_then_paren(sql: &str, at: usize, words: &[&str]) -> Option<usize> {
    let mut i = at;
    for word in words {
        let rest = &sql[i..];
        let skipped = rest.len() - rest.trim_start().len();
        i += skipped;
        let candidate = sql.get(i..i + word.len())?;
        if !candidate.eq_ignore_ascii_case(word) {
            return None;
        }
        i += word.len();
    }
    let rest = &sql[i..];
    let i = i + (rest.len() - rest.trim_start().len());
    (sql[i..].starts_with('(')).then_some(i)
}

/// The place of the `)` that closes the `(` at `open`, counting only parentheses in
/// code (not in quotes or comments).
fn closing(sql: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (range, is_code) in segments(sql) {
        if !is_code || range.end <= open {
            continue;
        }
        let from = range.start.max(open);
        for (offset, byte) in sql.as_bytes()[from..range.end].iter().enumerate() {
            match byte {
                b'(' => depth += 1,
                b')' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(from + offset);
                    }
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_leave_nulls_out() {
        assert_eq!(
            nulls_left_out("array_agg(distinct product_id)"),
            "coalesce(array_agg(distinct product_id) IGNORE NULLS, make_array())"
        );
        assert_eq!(
            nulls_left_out("ARRAY_AGG(x) WITHIN GROUP (ORDER BY (t)) AS a, 1"),
            "coalesce(ARRAY_AGG(x) WITHIN GROUP (ORDER BY (t)) IGNORE NULLS, make_array()) AS a, 1"
        );
        assert_eq!(
            nulls_left_out("array_agg(object_construct('k', ')', 'v', v))"),
            "coalesce(array_agg(object_construct('k', ')', 'v', v)) IGNORE NULLS, make_array())"
        );
        assert_eq!(
            nulls_left_out("array_agg(x) over (partition by g)"),
            "array_agg(x) IGNORE NULLS over (partition by g)"
        );
        // Nested calls are rewritten inside out.
        assert_eq!(
            nulls_left_out("array_agg(array_agg(x))"),
            "coalesce(array_agg(coalesce(array_agg(x) IGNORE NULLS, make_array())) IGNORE NULLS, make_array())"
        );
    }

    #[test]
    fn what_stays_as_written() {
        for sql in [
            "array_agg(x IGNORE NULLS)",
            "array_agg(x) respect nulls",
            "array_agg(x) WITHIN GROUP (ORDER BY t) IGNORE NULLS",
            "'array_agg(x)'",
            "-- array_agg(x)\n",
            "my_array_agg(x)",
            "array_agg(x",
            "overlay",
        ] {
            assert_eq!(nulls_left_out(sql), sql);
        }
    }
}
