// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Property tests of the statement parser and splitter: whatever text a user types or a
//! file holds, they answer with statements or an error, never a panic.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;

/// Words of Knit's statements and of the SQL around them, to build text that gets deep
/// into the parser rather than failing at its first token.
const VOCABULARY: &[&str] = &[
    "CREATE",
    "ENTITY",
    "INPUT",
    "VAR",
    "COHORT",
    "DROP",
    "SHOW",
    "ENTITIES",
    "INPUTS",
    "VARS",
    "COHORTS",
    "ID",
    "TYPES",
    "FOR",
    "IDS",
    "AS",
    "OCCURRED",
    "AT",
    "FROM",
    "WHERE",
    "LOOKUP",
    "INCLUDE",
    "EXCLUDE",
    "REGEX",
    "DEFAULT",
    "WINDOW",
    "ORDER",
    "BY",
    "PARTITION",
    "SELECT",
    "GROUP",
    "HAVING",
    "LIMIT",
    "JOIN",
    "ON",
    "AND",
    "OR",
    "NOT",
    "NULL",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "EXTENDS",
    "FILTER",
    "OVER",
    "user",
    "user_id",
    "anonymous_id",
    "email",
    "events",
    "n",
    "feature_table",
    "feature_view",
    "id_stitch",
    "cohort",
    "connected_components",
    "count(*)",
    "sum(x)",
    "(",
    ")",
    ",",
    ";",
    ".",
    "*",
    "=",
    "<>",
    "+",
    "-",
    "'x'",
    "''",
    "'it''s'",
    "\"quoted\"",
    "\"",
    "'",
    "--",
    "/*",
    "*/",
    "1",
    "-1",
    "1e400",
    "9223372036854775808",
    "$1",
    "\n",
    "\t",
    "é",
    "🙂",
    "\u{feff}",
];

fn statement_text() -> impl Strategy<Value = String> {
    prop_oneof![
        // Soup of Knit's words.
        prop::collection::vec(prop::sample::select(VOCABULARY), 0..40)
            .prop_map(|words| words.join(" ")),
        // Any characters at all.
        any::<String>(),
        // A valid statement, cut or with a character put in.
        (
            prop::sample::select(VALID),
            any::<prop::sample::Index>(),
            any::<char>()
        )
            .prop_map(|(sql, at, c)| {
                let mut text: Vec<char> = sql.chars().collect();
                let at = at.index(text.len() + 1);
                if at % 2 == 0 {
                    text.truncate(at);
                } else {
                    text.insert(at, c);
                }
                text.into_iter().collect()
            }),
    ]
}

/// Statements the parser accepts.
const VALID: &[&str] = &[
    "CREATE ENTITY user ID TYPES (user_id, anonymous_id EXCLUDE ('unknown'), email INCLUDE REGEX '[^@]+@.+')",
    "CREATE INPUT events FOR user FROM 'dir/*.parquet' IDS (user_id AS user_id, lower(email) AS email) OCCURRED AT \"timestamp\" WHERE kind <> 'test'",
    "CREATE ENTITY VAR user.n AS count(*) FROM events WHERE amount > 0",
    "CREATE COHORT buyers FOR user EXTENDS shoppers WHERE n > 0",
    "SELECT * FROM feature_view('user', 'email') WHERE n > 1; SELECT 2",
    "SELECT a, count(*) FROM 'x.csv' GROUP BY a HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 5",
];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_text_parses_or_fails_cleanly(text in statement_text()) {
        let _ = knit_sql::parse_statement(&text);
        let _ = knit_sql::parse_statements(&text);
        let _ = knit_sql::is_complete(&text);
        if let Ok(statements) = knit_sql::split_statements(&text) {
            // Each piece is a slice of the text, at the line it starts on.
            for statement in statements {
                prop_assert!(text.contains(statement.sql));
                prop_assert!(statement.line >= 1);
            }
        }
    }
}

#[test]
fn the_valid_statements_are_valid() {
    for sql in VALID {
        knit_sql::parse_statements(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}
