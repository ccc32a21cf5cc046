// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Time formats in Snowflake's (`YYYY-MM-DD HH24:MI`) and Spark's (`yyyy-MM-dd`) words,
//! as chrono's (`%Y-%m-%d`), which DataFusion's `to_char` reads.

/// A format written in `tokens` (longest first), as chrono's; other text is kept.
fn convert_format(format: &str, tokens: &[(&str, &str)], ignore_case: bool) -> String {
    let mut out = String::with_capacity(format.len() * 2);
    let mut rest = format;
    'outer: while !rest.is_empty() {
        for (from, to) in tokens {
            let matches = match rest.get(..from.len()) {
                Some(head) if ignore_case => head.eq_ignore_ascii_case(from),
                Some(head) => head == *from,
                None => false,
            };
            if matches {
                out.push_str(to);
                rest = &rest[from.len()..];
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// A Snowflake time format (`YYYY-MM-DD HH24:MI:SS.FF3`) as chrono's.
pub(super) fn snowflake_format(format: &str) -> String {
    const TOKENS: &[(&str, &str)] = &[
        ("YYYY", "%Y"),
        ("HH24", "%H"),
        ("HH12", "%I"),
        ("MMMM", "%B"),
        ("FF3", "%3f"),
        ("FF6", "%6f"),
        ("FF9", "%9f"),
        ("MON", "%b"),
        ("YY", "%y"),
        ("MM", "%m"),
        ("DD", "%d"),
        ("DY", "%a"),
        ("HH", "%H"),
        ("MI", "%M"),
        ("SS", "%S"),
        ("AM", "%p"),
        ("PM", "%p"),
        ("FF", "%9f"),
    ];
    convert_format(format, TOKENS, true)
}

/// A Spark (Java) time format (`yyyy-MM-dd HH:mm:ss`) as chrono's.
pub(super) fn java_format(format: &str) -> String {
    const TOKENS: &[(&str, &str)] = &[
        ("yyyy", "%Y"),
        ("MMMM", "%B"),
        ("EEEE", "%A"),
        ("SSS", "%3f"),
        ("MMM", "%b"),
        ("EEE", "%a"),
        ("yy", "%y"),
        ("MM", "%m"),
        ("dd", "%d"),
        ("HH", "%H"),
        ("hh", "%I"),
        ("mm", "%M"),
        ("ss", "%S"),
        ("a", "%p"),
    ];
    convert_format(format, TOKENS, false)
}
