// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Warehouse spellings that DataFusion's grammar reads differently, rewritten on the
//! tokens before parsing, so that SQL written for Snowflake or BigQuery means the same:
//!
//! - A date part written as a bare word, `datediff(day, a, b)`, `dateadd(month, 1, t)`,
//!   `date_trunc(week, t)` (Snowflake: first argument) or `date_diff(a, b, day)`
//!   (BigQuery: last argument), would be read as a column: it becomes the text `'day'`.
//!   BigQuery's `date_trunc(t, month)` becomes `date_trunc('month', t)`.
//! - `iff(c, a, b)` becomes `(CASE WHEN c THEN a ELSE b END)`, so that, as in Snowflake,
//!   only the branch taken is evaluated (`iff(n = 0, 0, x / n)` does not divide by 0);
//!   `decode(x, s1, r1, .., default)` becomes a `CASE` whose searches match NULL too.
//! - Functions DataFusion has under another name are renamed ([`names::RENAMES`]): `getdate()`
//!   is `now()`, `listagg(x, ',') WITHIN GROUP (ORDER BY t)` is
//!   `string_agg(x, ',' ORDER BY t)` (and `listagg(x)` joins with `''`, as Snowflake's);
//!   `array_agg(x) WITHIN GROUP (ORDER BY t)` is `array_agg(x ORDER BY t)`, and
//!   PostgreSQL's `mode() WITHIN GROUP (ORDER BY x)` is `mode(x)`.
//! - Warehouse type names ([`TYPE_NAMES`]) after `::` or `AS`: `TIMESTAMP_NTZ`,
//!   `VARIANT` (JSON text), `NUMBER`, BigQuery's `INT64` and `FLOAT64`, and `FLOAT`, a
//!   double as the warehouses have it (DataFusion's is 4 bytes).

use datafusion_sql::sqlparser::keywords::Keyword;
use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan, Word};

mod calls;
mod formats;
mod names;
mod tokens;

use calls::{expand, is_rewritten, rewrite_call, window_partition, within_group};
use names::TYPE_NAMES;
pub use names::{MODE_DESC, date_part_name, extraction_sql};
use tokens::{
    arguments, follows_dot, follows_value, is_whitespace, next_significant, primary_start,
};

/// The tokens with warehouse spellings rewritten (see the module doc).
pub fn rewrite(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    rewrite_tokens(tokens, false)
}

/// [`rewrite`] of a statement, or (`in_call`) of a call's arguments, whose end closes the
/// call (so `CAST(x AS INT64)`'s type is the argument's last word).
fn rewrite_tokens(tokens: Vec<TokenWithSpan>, in_call: bool) -> Vec<TokenWithSpan> {
    let rewritten = |t: &TokenWithSpan| match &t.token {
        Token::Word(w) => is_rewritten(w) || type_name(w).is_some() || position_word(w).is_some(),
        Token::Colon => true,
        _ => false,
    };
    if !tokens.iter().any(rewritten) {
        return tokens;
    }
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len() + 8);
    let mut i = 0;
    while i < tokens.len() {
        // Snowflake's `x:field` (a variant's field) is `json_as_text(x, 'field')`, the
        // field of JSON text, as `x['field']` is.
        if tokens[i].token == Token::Colon
            && let Some(Token::Word(field)) = tokens.get(i + 1).map(|t| &t.token)
            && follows_value(&out)
            && let Some(start) = primary_start(&out)
        {
            let span = tokens[i].span;
            let value: Vec<TokenWithSpan> = out.drain(start..).collect();
            out.push(TokenWithSpan::new(
                Token::make_word("json_as_text", None),
                span,
            ));
            out.push(TokenWithSpan::new(Token::LParen, span));
            out.extend(value);
            out.push(TokenWithSpan::new(Token::Comma, span));
            out.push(TokenWithSpan::new(
                Token::SingleQuotedString(field.value.clone()),
                span,
            ));
            out.push(TokenWithSpan::new(Token::RParen, span));
            i += 2;
            continue;
        }
        // BigQuery's `list[OFFSET(k)]` (from 0) and `list[ORDINAL(k)]` (from 1), and
        // their SAFE_ forms, as `array_element`, which counts from 1 whatever
        // `knit.list_index_base` says (past the end is NULL, as the SAFE_ forms answer).
        if tokens[i].token == Token::LBracket
            && let Some(at) = next_significant(&tokens, i + 1)
            && let Token::Word(word) = &tokens[at].token
            && let Some(from_zero) = position_word(word)
            && let Some(open) = next_significant(&tokens, at + 1)
            && tokens[open].token == Token::LParen
            && let Some((args, close)) = arguments(&tokens, open)
            && let [(start, end)] = args.as_slice()
            && let Some(bracket) = next_significant(&tokens, close + 1)
            && tokens[bracket].token == Token::RBracket
            && let Some(primary) = primary_start(&out)
        {
            let span = tokens[i].span;
            let token = |t: Token| TokenWithSpan::new(t, span);
            let value: Vec<TokenWithSpan> = out.drain(primary..).collect();
            out.push(token(Token::make_word("array_element", None)));
            out.push(token(Token::LParen));
            out.extend(value);
            out.push(token(Token::Comma));
            out.push(token(Token::LParen));
            out.extend(rewrite_tokens(tokens[*start..*end].to_vec(), true));
            out.push(token(Token::RParen));
            if from_zero {
                out.push(token(Token::Plus));
                out.push(token(Token::Number("1".into(), false)));
            }
            out.push(token(Token::RParen));
            i = bracket + 1;
            continue;
        }
        // A type name where a type is read, or before text as a typed literal
        // (BigQuery's `DATETIME '2024-01-01 10:00:00'`).
        if let Token::Word(word) = &tokens[i].token
            && let Some(sql) = type_name(word)
            && (is_type_position(&out, &tokens, i, in_call)
                || next_significant(&tokens, i + 1)
                    .is_some_and(|n| matches!(tokens[n].token, Token::SingleQuotedString(_))))
        {
            // `NUMBER(p, s)` keeps its precision: only the name changes.
            let has_arguments =
                next_significant(&tokens, i + 1).is_some_and(|n| tokens[n].token == Token::LParen);
            // PostgreSQL's `FLOAT(p)` is a 4-byte float up to 24 bits of precision, a
            // double above: the precision goes, the type stays.
            if has_arguments
                && word.value.eq_ignore_ascii_case("float")
                && let Some((bits, close)) = float_precision(&tokens, i)
            {
                let sql = if bits <= 24 { "REAL" } else { "DOUBLE" };
                if let Some(replacement) = expand(sql, &[], &tokens[i]) {
                    out.extend(replacement);
                    i = close + 1;
                    continue;
                }
            }
            let sql = if has_arguments {
                sql.split('(').next().unwrap_or(sql)
            } else {
                sql
            };
            if let Some(replacement) = expand(sql, &[], &tokens[i]) {
                out.extend(replacement);
                i += 1;
                continue;
            }
        }
        if let Token::Word(word) = &tokens[i].token
            && is_rewritten(word)
            && let Some(open) = next_significant(&tokens, i + 1)
            && tokens[open].token == Token::LParen
            && !follows_dot(&out)
            && let Some((args, close)) = arguments(&tokens, open)
        {
            let name = word.value.to_lowercase();
            // What follows the call and belongs to it: `listagg(...) WITHIN GROUP
            // (ORDER BY ...)`'s ordering, which moves inside, or ratio_to_report's window.
            let (after, close_all) = match name.as_str() {
                "listagg" | "array_agg" | "percentile_disc" | "mode" => {
                    within_group(&tokens, close).unwrap_or((Vec::new(), close))
                }
                "ratio_to_report" => {
                    window_partition(&tokens, close).unwrap_or((Vec::new(), close))
                }
                _ => (Vec::new(), close),
            };
            // Each argument is rewritten once (nested calls included), and the call
            // is put back together from them when it keeps its form.
            let rewritten: Vec<Vec<TokenWithSpan>> = args
                .iter()
                .map(|(start, end)| rewrite_tokens(tokens[*start..*end].to_vec(), true))
                .collect();
            if let Some(replaced) = rewrite_call(&name, &tokens[i], &rewritten, after) {
                out.extend(replaced);
            } else {
                out.push(tokens[i].clone());
                out.extend(tokens[i + 1..=open].iter().cloned());
                let mut at = open + 1;
                for ((start, end), arg) in args.iter().zip(rewritten) {
                    out.extend(tokens[at..*start].iter().cloned());
                    out.extend(arg);
                    at = *end;
                }
                out.extend(tokens[at..close].iter().cloned());
                out.push(tokens[close].clone());
                // What followed the call (a WITHIN GROUP, a window) stays as written.
                out.extend(tokens[close + 1..=close_all].iter().cloned());
            }
            i = close_all + 1;
            continue;
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out
}

/// BigQuery's array positions: `OFFSET`/`SAFE_OFFSET` count from 0 (`Some(true)`),
/// `ORDINAL`/`SAFE_ORDINAL` from 1.
fn position_word(word: &Word) -> Option<bool> {
    if word.quote_style.is_some() {
        return None;
    }
    match word.value.to_lowercase().as_str() {
        "offset" | "safe_offset" => Some(true),
        "ordinal" | "safe_ordinal" => Some(false),
        _ => None,
    }
}

/// The precision of `FLOAT(p)` whose `FLOAT` is at `at`, and the index of its `)`.
fn float_precision(tokens: &[TokenWithSpan], at: usize) -> Option<(u32, usize)> {
    let open = next_significant(tokens, at + 1)?;
    let (args, close) = arguments(tokens, open)?;
    let [(start, end)] = args[..] else {
        return None;
    };
    let bits = tokens[start..end]
        .iter()
        .find(|t| !is_whitespace(&t.token))
        .and_then(|t| match &t.token {
            Token::Number(n, _) => n.parse().ok(),
            _ => None,
        })?;
    Some((bits, close))
}

/// DataFusion's spelling of a warehouse type name.
fn type_name(word: &Word) -> Option<&'static str> {
    if word.quote_style.is_some() {
        return None;
    }
    let name = word.value.to_lowercase();
    TYPE_NAMES
        .iter()
        .find(|(from, _)| *from == name)
        .map(|(_, to)| *to)
}

/// Whether the word at `at` names a type: after `::`, or after `AS` when a `)` or `(`
/// (or nothing) follows, as in `CAST(x AS NUMBER)` (and not a column alias `AS number`).
fn is_type_position(
    out: &[TokenWithSpan],
    tokens: &[TokenWithSpan],
    at: usize,
    in_call: bool,
) -> bool {
    let before = out.iter().rev().find(|t| !is_whitespace(&t.token));
    let after = next_significant(tokens, at + 1).map(|n| &tokens[n].token);
    before.is_some_and(|t| match &t.token {
        Token::DoubleColon => true,
        Token::Word(w) => {
            // In a call's arguments, their end closes the call: `SAFE_CAST(x AS t)`.
            let closes = match after {
                None => in_call,
                Some(t) => matches!(t, Token::RParen | Token::LParen),
            };
            w.keyword == Keyword::AS && closes
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use datafusion_sql::sqlparser::dialect::GenericDialect;
    use datafusion_sql::sqlparser::tokenizer::Tokenizer;

    use super::*;

    fn tokens(sql: &str) -> Vec<TokenWithSpan> {
        Tokenizer::new(&GenericDialect {}, sql)
            .tokenize_with_location()
            .unwrap_or_default()
    }

    fn text(tokens: &[TokenWithSpan]) -> String {
        tokens
            .iter()
            .filter(|t| !is_whitespace(&t.token))
            .map(|t| t.token.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Asserts that `sql` is rewritten to `expected`, token for token.
    fn check(sql: &str, expected: &str) {
        assert_eq!(
            text(&rewrite(tokens(sql))),
            text(&tokens(expected)),
            "{sql}"
        );
    }

    #[test]
    fn quotes_bare_date_parts() {
        check(
            "select datediff(day, a, b), DATEADD(Month, 1, t)",
            "select datediff('day', a, b), DATEADD('month', 1, t)",
        );
        check("date_diff(a, b, DAY)", "date_diff(a, b, 'day')");
        check("date_trunc(t, month)", "date_trunc('month', t)");
        check("date_trunc('month', t)", "date_trunc('month', t)");
        check("date_trunc(mm, t)", "date_trunc('month', t)");
        check("date_trunc('MM', t)", "date_trunc(('month'), (t))");
        check("trunc(t, 'MONTH')", "date_trunc(('month'), (t))");
        check("trunc(x, 2)", "trunc(x, 2)");
        check("trunc(x, s)", "trunc(x, s)");
        check("trunc(t, 's')", "date_trunc(('second'), (t))");
        check("datediff(x, a, b)", "datediff(x, a, b)");
        check(
            "datediff(day, date(x), datediff(hour, a, b))",
            "datediff('day', date(x), datediff('hour', a, b))",
        );
        check("t.datediff(day, a)", "t.datediff(day, a)");
    }

    #[test]
    fn array_positions_count_from_their_base() {
        check(
            "approx_quantiles(x, 4)[OFFSET(2)]",
            "array_element(approx_quantiles(x, 4), (2) + 1)",
        );
        check(
            "t.list[SAFE_ORDINAL(k + 1)]",
            "array_element(t.list, (k + 1))",
        );
        check(
            "a[offset(0)][offset(1)]",
            "array_element(array_element(a, (0) + 1), (1) + 1)",
        );
        // LIMIT .. OFFSET and a subscript that is no position stay as written.
        check(
            "select a[1] from t limit 1 offset 2",
            "select a[1] from t limit 1 offset 2",
        );
    }

    #[test]
    fn array_agg_limit_is_a_slice() {
        check(
            "array_agg(x IGNORE NULLS ORDER BY t DESC LIMIT 1)[OFFSET(0)]",
            "array_element(array_slice(array_agg(x IGNORE NULLS ORDER BY t DESC ), 1, 1), (0) + 1)",
        );
        check(
            "ARRAY_AGG(DISTINCT x LIMIT 2)",
            "array_slice(array_agg(DISTINCT x ), 1, 2)",
        );
        check("array_agg(x ORDER BY t)", "array_agg(x ORDER BY t)");
        // A subquery's LIMIT inside the argument is its own.
        check(
            "array_agg((SELECT y FROM t LIMIT 1))",
            "array_agg((SELECT y FROM t LIMIT 1))",
        );
    }

    #[test]
    fn ratio_to_report_and_percentile_disc_are_aggregates_of_datafusion() {
        check(
            "ratio_to_report(x) OVER (PARTITION BY g ORDER BY t)",
            "(CAST((x) AS DOUBLE) / nullif(sum((x)) OVER ( PARTITION BY g ), 0))",
        );
        check(
            "ratio_to_report(x)",
            "(CAST((x) AS DOUBLE) / nullif(sum((x)) OVER (), 0))",
        );
        check(
            "percentile_disc(0.5) WITHIN GROUP (ORDER BY f(a, b) DESC)",
            "array_element(array_agg((f(a, b)) ORDER BY f(a, b) DESC) FILTER (WHERE \
             (f(a, b)) IS NOT NULL), greatest(1, CAST(ceil((0.5) * count((f(a, b)))) AS BIGINT)))",
        );
        // Two sort keys are not percentile_disc's: kept as written.
        check(
            "percentile_disc(0.5) WITHIN GROUP (ORDER BY a, b)",
            "percentile_disc(0.5) WITHIN GROUP (ORDER BY a, b)",
        );
    }

    #[test]
    fn renames_warehouse_functions() {
        check("select getdate()", "select now()");
        check(
            "listagg(distinct x, ', ') within group (order by t desc) as l",
            "string_agg(distinct x, ', ' order by t desc) as l",
        );
        check("LISTAGG(x)", "string_agg(x, '')");
        check(
            "array_agg(x) within group (order by t)",
            "array_agg(x order by t)",
        );
        check("array_agg(x)", "array_agg(x)");
        check(
            "size(a) + array_construct(1, 2)",
            "cardinality(a) + make_array(1, 2)",
        );
        check("t.size(a)", "t.size(a)");
        check("count_if(x > 1)", "count(CASE WHEN (x > 1) THEN 1 END)");
        check("charindex('b', s)", "strpos((s), ('b'))");
        check("replace(t, ' UTC')", "replace((t), (' UTC'), '')");
        check("replace(t, 'a', 'b')", "replace(t, 'a', 'b')");
        check(
            "year(d) + zeroifnull(x)",
            "date_part('year', (d)) + coalesce((x), 0)",
        );
        check("extract(year from d)", "extract(year from d)");
        check(
            "date_sub(current_date(), 365)",
            "dateadd('day', -(365), (current_date()))",
        );
        check("date_add(d, INTERVAL 1 DAY)", "((d) + (INTERVAL 1 DAY))");
        check("collect_set(x)", "array_agg(DISTINCT (x))");
        check(
            "concat_ws('|', collect_list(b))",
            "array_to_string((array_agg(b)), ('|'))",
        );
        check("concat_ws('|', a, b)", "concat_ws('|', a, b)");
        check(
            "to_char(t, 'YYYY-MM-DD HH24:MI')",
            "to_char(t, '%Y-%m-%d %H:%M')",
        );
        check(
            "date_format(t, 'yyyy-MM-dd HH:mm')",
            "to_char(t, '%Y-%m-%d %H:%M')",
        );
        check("to_char(t, '%Y')", "to_char(t, '%Y')");
        check("format_date('%Y-%m', d)", "to_char((d), ('%Y-%m'))");
        check(
            "CAST(t AS TIMESTAMP_NTZ), x::variant, y::number(10, 2), z::Number",
            "CAST(t AS TIMESTAMP), x::VARCHAR, y::DECIMAL(10, 2), z::DECIMAL(38, 0)",
        );
        check(
            "SELECT 1 AS number_of_orders",
            "SELECT 1 AS number_of_orders",
        );
        check(
            "SELECT 1 AS number, 2 AS variant",
            "SELECT 1 AS number, 2 AS variant",
        );
        check("CAST(x AS number(10, 2))", "CAST(x AS DECIMAL(10, 2))");
        check(
            "mode() within group (order by x), MODE() WITHIN GROUP (ORDER BY lower(y) DESC NULLS LAST)",
            "mode( x), __knit_mode_desc( lower(y))",
        );
        check(
            "mode(x), mode() within group (order by x asc)",
            "mode(x), mode( x)",
        );
        check(
            "x::float, CAST(y AS FLOAT), 1 AS float, z::float(53), CAST(w AS float(24))",
            "x::DOUBLE, CAST(y AS DOUBLE), 1 AS float, z::DOUBLE, CAST(w AS REAL)",
        );
        check("safe_cast(x AS int64)", "try_cast(x AS BIGINT)");
        check(
            "coalesce(a:state::varchar, f(x):zip:code)",
            "coalesce(json_as_text(a, 'state')::varchar, json_as_text(json_as_text(f(x), 'zip'), 'code'))",
        );
        check("a[1:2]", "a[1:2]");
        check("\"user\".x:state", "json_as_text(\"user\".x, 'state')");
        check(
            "date_part(epoch_second, t)",
            "CAST(arrow_cast(CAST((t) AS TIMESTAMP), 'Timestamp(Second, None)') AS BIGINT)",
        );
        check("date_part(mm, t)", "date_part('month', (t))");
        check("date_part('dw_iso', t)", "date_part('isodow', (t))");
        check(
            "date_part(d, t) + datepart('yy', t)",
            "date_part('day', (t)) + date_part('year', (t))",
        );
    }

    /// Each argument is rewritten once: 40 nested calls take 40 rewrites, not 2^40.
    #[test]
    fn nested_calls_are_rewritten_once() {
        let depth = 40;
        let sql = format!("{}x{}", "dateadd(day, 1, ".repeat(depth), ")".repeat(depth));
        let expected = format!(
            "{}x{}",
            "dateadd('day', 1, ".repeat(depth),
            ")".repeat(depth)
        );
        check(&sql, &expected);
    }

    #[test]
    fn iff_is_a_case() {
        check(
            "iff(n = 0, 0, x / n) + 1",
            "(CASE WHEN n = 0 THEN 0 ELSE x / n END) + 1",
        );
        check("iff(a, b)", "iff(a, b)");
        check(
            "iff(iff(a, b, c), 1, 2)",
            "(CASE WHEN (CASE WHEN a THEN b ELSE c END) THEN 1 ELSE 2 END)",
        );
    }
}
