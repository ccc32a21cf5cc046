// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A `sql_template`'s `multi_sql`: statements pb runs in turn, one of which makes the
//! model's table (`CREATE TABLE {{this}} AS <query>`). Knit runs the form real projects
//! write, one statement that makes `{{this}}` from a query (`CREATE [OR REPLACE]
//! [TEMP|TRANSIENT] TABLE|VIEW [IF NOT EXISTS] {{this}} AS <query>`, template tags around
//! it, a `;` after it), as the model's query; any other statement is refused by name.

use std::sync::LazyLock;

use regex::Regex;

use crate::dialect::{code_only, in_code, segments};

static CREATE_THIS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?is)\bcreate\s+(?:or\s+replace\s+)?(?:(?:local\s+|global\s+)?(?:temp|temporary|transient)\s+)?(?:table|view)\s+(?:if\s+not\s+exists\s+)?\{\{-?\s*this\s*-?\}\}\s+as\b",
    )
    .ok()
});

/// The query of a `multi_sql` that makes `{{this}}` in one statement, with the template
/// tags around it kept; why it is not one, if it is not.
pub(crate) fn multi_sql_query(text: &str) -> Result<String, String> {
    const HOW: &str = "Knit runs a multi_sql of one statement that makes {{this}} \
                       (CREATE TABLE {{this}} AS <query>); write the query that makes \
                       {{this}} as single_sql";
    let creates: Vec<(usize, usize)> = CREATE_THIS
        .as_ref()
        .map(|re| {
            re.find_iter(text)
                .map(|m| (m.start(), m.end()))
                .filter(|&(start, _)| in_code(text, start))
                .collect()
        })
        .unwrap_or_default();
    let &[(start, end)] = creates.as_slice() else {
        return Err(format!(
            "{} statements make {{{{this}}}} here; {HOW}",
            if creates.is_empty() { "no" } else { "several" }
        ));
    };
    if !code_only(&outside_tags(&text[..start])).trim().is_empty() {
        return Err(format!(
            "a statement comes before the one that makes {{{{this}}}}; {HOW}"
        ));
    }
    let query = &text[end..];
    // The query runs to the first `;` in its code; after it only template tags.
    let stop = segments(query)
        .into_iter()
        .filter(|(_, is_code)| *is_code)
        .find_map(|(range, _)| query[range.clone()].find(';').map(|i| range.start + i));
    if let Some(stop) = stop {
        let after = code_only(&outside_tags(&query[stop + 1..]));
        if !after.trim().trim_matches(';').trim().is_empty() {
            return Err(format!(
                "a statement comes after the one that makes {{{{this}}}}; {HOW}"
            ));
        }
        // The tags after it stay (an `{% endwith %}` closes one before it).
        let tags: String = TAG
            .as_ref()
            .map(|tag| {
                tag.find_iter(&query[stop + 1..])
                    .map(|m| m.as_str())
                    .collect()
            })
            .unwrap_or_default();
        return Ok(format!("{}{}\n{tags}", &text[..start], &query[..stop]));
    }
    Ok(format!("{}{query}", &text[..start]))
}

/// A template tag (`{% .. %}`, `{# .. #}`).
static TAG: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?s)\{%.*?%\}|\{#.*?#\}").ok());

/// `text` without its template tags.
fn outside_tags(text: &str) -> String {
    match TAG.as_ref() {
        Some(tag) => tag.replace_all(text, "").into_owned(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_making_this_is_its_query() {
        assert_eq!(
            multi_sql_query(
                "{% with t = this.DeRef(\"inputs/x\") %}\nCREATE TABLE {{this}} AS (\n  SELECT a FROM {{t}}\n);\n{% endwith %}\n"
            )
            .unwrap(),
            "{% with t = this.DeRef(\"inputs/x\") %}\n (\n  SELECT a FROM {{t}}\n)\n{% endwith %}"
        );
        assert_eq!(
            multi_sql_query("create or replace transient table {{ this }} as select ';' as s")
                .unwrap(),
            " select ';' as s"
        );
        assert_eq!(
            multi_sql_query("{%- set x = 1 -%} CREATE VIEW IF NOT EXISTS {{-this-}} AS SELECT 1;;")
                .unwrap(),
            "{%- set x = 1 -%}  SELECT 1\n"
        );
        // Comments around the statement are no statement.
        assert_eq!(
            multi_sql_query("-- makes it\nCREATE TABLE {{this}} AS SELECT 1; -- done\n").unwrap(),
            "-- makes it\n SELECT 1\n"
        );
    }

    #[test]
    fn other_statements_are_refused() {
        let error = |text: &str| multi_sql_query(text).unwrap_err();
        assert!(error("SELECT 1").starts_with("no statements make {{this}}"));
        assert!(
            error("CREATE TABLE {{this}} AS SELECT 1; INSERT INTO {{this}} SELECT 2")
                .starts_with("a statement comes after")
        );
        assert!(
            error("DELETE FROM t; CREATE TABLE {{this}} AS SELECT 1")
                .starts_with("a statement comes before")
        );
        assert!(
            error("CREATE TABLE {{this}} AS SELECT 1; CREATE TABLE {{this}} AS SELECT 2")
                .starts_with("several statements")
        );
        assert!(error("-- CREATE TABLE {{this}} AS SELECT 1\n").starts_with("no statements"));
    }
}
