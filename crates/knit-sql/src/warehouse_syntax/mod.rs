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
//! - Functions DataFusion has under another name are renamed ([`RENAMES`]): `getdate()`
//!   is `now()`, `listagg(x, ',') WITHIN GROUP (ORDER BY t)` is
//!   `string_agg(x, ',' ORDER BY t)` (and `listagg(x)` joins with `''`, as Snowflake's);
//!   `array_agg(x) WITHIN GROUP (ORDER BY t)` is `array_agg(x ORDER BY t)`.
//! - Warehouse type names ([`TYPE_NAMES`]) after `::` or `AS`: `TIMESTAMP_NTZ`,
//!   `VARIANT` (JSON text), `NUMBER`, BigQuery's `INT64` and `FLOAT64`.

use datafusion_sql::sqlparser::keywords::Keyword;
use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan, Word};

mod formats;
mod names;

use formats::{java_format, snowflake_format};
use names::{DATE_PART_WORDS, PART_FIRST, PART_LAST};
pub(crate) use names::{RENAMES, REWRITES, TYPE_NAMES};

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
        if let Token::Word(word) = &tokens[i].token
            && let Some(sql) = type_name(word)
            && is_type_position(&out, &tokens, i, in_call)
        {
            // `NUMBER(p, s)` keeps its precision: only the name changes.
            let has_arguments =
                next_significant(&tokens, i + 1).is_some_and(|n| tokens[n].token == Token::LParen);
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
            // `listagg(...) WITHIN GROUP (ORDER BY ...)`: the ordering moves inside.
            let (within, close_all) = match name.as_str() {
                "listagg" | "array_agg" => {
                    within_group(&tokens, close).unwrap_or((Vec::new(), close))
                }
                _ => (Vec::new(), close),
            };
            // Each argument is rewritten once (nested calls included), and the call
            // is put back together from them when it keeps its form.
            let rewritten: Vec<Vec<TokenWithSpan>> = args
                .iter()
                .map(|(start, end)| rewrite_tokens(tokens[*start..*end].to_vec(), true))
                .collect();
            if let Some(replaced) = rewrite_call(&name, &tokens[i], &rewritten, within) {
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

fn is_rewritten(word: &Word) -> bool {
    if word.quote_style.is_some() {
        return false;
    }
    let name = word.value.to_lowercase();
    name == "iff"
        || name == "decode"
        || name == "date_add"
        || name == "date_sub"
        || name == "concat_ws"
        || name == "to_char"
        || name == "to_varchar"
        || name == "date_format"
        || name == "to_date"
        || name == "to_timestamp"
        || PART_FIRST.contains(&name.as_str())
        || PART_LAST.contains(&name.as_str())
        || name == "array_agg"
        || RENAMES.iter().any(|(from, _)| *from == name)
        || REWRITES.iter().any(|(from, _, _)| *from == name)
}

/// A call's rewritten tokens, or `None` to keep it as written.
fn rewrite_call(
    name: &str,
    head: &TokenWithSpan,
    args: &[Vec<TokenWithSpan>],
    order_by: Vec<TokenWithSpan>,
) -> Option<Vec<TokenWithSpan>> {
    let token = |t: Token| TokenWithSpan::new(t, head.span);
    let keyword = |k: &str| token(Token::make_keyword(k));
    let mut args: Vec<Vec<TokenWithSpan>> = args.to_vec();
    if let Some((_, _, sql)) = REWRITES
        .iter()
        .find(|(from, count, _)| *from == name && *count == args.len())
    {
        return expand(sql, &args, head);
    }
    // A time format in Snowflake's (`YYYY-MM-DD HH24:MI`) or Spark's (`yyyy-MM-dd`)
    // words, as chrono's `%Y-%m-%d`: to write a time, or to read one (`to_date(s, fmt)`,
    // `to_timestamp(s, fmt)`, whose format is Spark's when written as Spark writes one).
    if matches!(
        name,
        "to_char" | "to_varchar" | "date_format" | "to_date" | "to_timestamp"
    ) && args.len() == 2
        && let Some(format) = single_string(&args[1])
        && !format.contains('%')
    {
        let spark = name == "date_format"
            || (matches!(name, "to_date" | "to_timestamp")
                && format.contains("yy")
                && format.contains("MM"));
        let chrono = if spark {
            java_format(&format)
        } else {
            snowflake_format(&format)
        };
        args[1] = vec![token(Token::SingleQuotedString(chrono))];
        let function = match name {
            "to_date" | "to_timestamp" => name,
            _ => "to_char",
        };
        let mut out = vec![
            token(Token::make_word(function, None)),
            token(Token::LParen),
        ];
        out.extend(args[0].iter().cloned());
        out.push(token(Token::Comma));
        out.extend(args[1].iter().cloned());
        out.push(token(Token::RParen));
        return Some(out);
    }
    // Spark's `concat_ws(sep, collect_list(x))` joins an array's elements.
    if name == "concat_ws"
        && args.len() == 2
        && args[1]
            .iter()
            .find(|t| !is_whitespace(&t.token))
            .is_some_and(|t| matches!(&t.token, Token::Word(w) if matches!(w.value.to_lowercase().as_str(), "collect_list" | "collect_set" | "array_agg")))
    {
        return expand("array_to_string($2, $1)", &args, head);
    }
    // `date_add(d, n)` / `date_sub(d, n)` add days (Spark); with an INTERVAL (BigQuery)
    // they are date arithmetic.
    if matches!(name, "date_add" | "date_sub") && args.len() == 2 {
        let is_interval = args[1]
            .iter()
            .find(|t| !is_whitespace(&t.token))
            .is_some_and(|t| matches!(&t.token, Token::Word(w) if w.keyword == Keyword::INTERVAL));
        let sql = match (name, is_interval) {
            ("date_add", true) => "($1 + $2)",
            ("date_sub", true) => "($1 - $2)",
            ("date_add", false) => "dateadd('day', $2, $1)",
            _ => "dateadd('day', -$2, $1)",
        };
        return expand(sql, &args, head);
    }
    let renamed = match name {
        // array_agg keeps its name; only a WITHIN GROUP moves inside.
        "array_agg" if !order_by.is_empty() => Some("array_agg"),
        _ => RENAMES
            .iter()
            .find(|(from, _)| *from == name)
            .map(|(_, to)| *to),
    };
    if let Some(to) = renamed {
        if name == "listagg" && args.len() == 1 {
            args.push(vec![token(Token::SingleQuotedString(String::new()))]);
        }
        let mut out = vec![token(Token::make_word(to, None)), token(Token::LParen)];
        for (n, arg) in args.into_iter().enumerate() {
            if n > 0 {
                out.push(token(Token::Comma));
            }
            out.extend(arg);
        }
        out.extend(order_by);
        out.push(token(Token::RParen));
        return Some(out);
    }
    // Snowflake's and Redshift's `decode(x, search, result, ..., default)`: the result of
    // the first search `x` equals, NULL matching NULL. DataFusion's two-argument
    // `decode(binary, format)` keeps its meaning.
    if name == "decode" && args.len() >= 3 {
        let mut sql = String::from("(CASE");
        let pairs = (args.len() - 1) / 2;
        for pair in 0..pairs {
            let search = 2 + 2 * pair;
            sql.push_str(&format!(
                " WHEN $1 IS NOT DISTINCT FROM ${search} THEN ${}",
                search + 1
            ));
        }
        if args.len().is_multiple_of(2) {
            sql.push_str(&format!(" ELSE ${}", args.len()));
        }
        sql.push_str(" END)");
        return expand(&sql, &args, head);
    }
    if name == "iff" {
        let [condition, then, otherwise] = args.as_slice() else {
            return None;
        };
        let mut out = vec![token(Token::LParen), keyword("CASE"), keyword("WHEN")];
        out.extend(condition.iter().cloned());
        out.push(keyword("THEN"));
        out.extend(then.iter().cloned());
        out.push(keyword("ELSE"));
        out.extend(otherwise.iter().cloned());
        out.extend([keyword("END"), token(Token::RParen)]);
        return Some(out);
    }
    let first_is_part = args.first().and_then(|a| bare_part(a)).is_some();
    if PART_FIRST.contains(&name) && first_is_part {
        let part = args.first().and_then(|a| bare_part(a))?;
        // Snowflake's whole seconds since the epoch.
        if matches!(name, "date_part" | "datepart") && part.starts_with("epoch_second") {
            return expand("CAST(date_part('epoch', $2) AS BIGINT)", &args, head);
        }
        args[0] = vec![token(Token::SingleQuotedString(part))];
    } else if PART_LAST.contains(&name) && args.len() >= 2 {
        let last = args.len() - 1;
        let part = bare_part(&args[last])?;
        args[last] = vec![token(Token::SingleQuotedString(part))];
        // BigQuery's date_trunc(t, part) is DataFusion's date_trunc('part', t).
        if name.ends_with("_trunc") && args.len() == 2 {
            args.swap(0, 1);
        }
    } else {
        return None;
    }
    let mut out = vec![head.clone(), token(Token::LParen)];
    for (n, arg) in args.into_iter().enumerate() {
        if n > 0 {
            out.push(token(Token::Comma));
        }
        out.extend(arg);
    }
    out.push(token(Token::RParen));
    Some(out)
}

/// The tokens of `sql` with each `$n` replaced by the n-th argument in parentheses.
fn expand(
    sql: &str,
    args: &[Vec<TokenWithSpan>],
    head: &TokenWithSpan,
) -> Option<Vec<TokenWithSpan>> {
    let dialect = datafusion_sql::sqlparser::dialect::GenericDialect {};
    let tokens = datafusion_sql::sqlparser::tokenizer::Tokenizer::new(&dialect, sql)
        .tokenize()
        .ok()?;
    let mut out = Vec::with_capacity(tokens.len() + args.iter().map(Vec::len).sum::<usize>());
    for token in tokens {
        match &token {
            Token::Placeholder(p) => {
                let n: usize = p.strip_prefix('$')?.parse().ok()?;
                out.push(TokenWithSpan::new(Token::LParen, head.span));
                out.extend(args.get(n.checked_sub(1)?)?.iter().cloned());
                out.push(TokenWithSpan::new(Token::RParen, head.span));
            }
            _ => out.push(TokenWithSpan::new(token, head.span)),
        }
    }
    Some(out)
}

/// The text of an argument that is one string literal.
fn single_string(arg: &[TokenWithSpan]) -> Option<String> {
    let mut significant = arg.iter().filter(|t| !is_whitespace(&t.token));
    let only = significant.next()?;
    if significant.next().is_some() {
        return None;
    }
    match &only.token {
        Token::SingleQuotedString(text) => Some(text.clone()),
        _ => None,
    }
}

/// The `ORDER BY ...` tokens of a `WITHIN GROUP (ORDER BY ...)` after the `)` at `close`,
/// and the index of its own `)`.
fn within_group(tokens: &[TokenWithSpan], close: usize) -> Option<(Vec<TokenWithSpan>, usize)> {
    let within = next_significant(tokens, close + 1)?;
    let group = next_significant(tokens, within + 1)?;
    let open = next_significant(tokens, group + 1)?;
    let is_keyword =
        |i: usize, k: Keyword| matches!(&tokens[i].token, Token::Word(w) if w.keyword == k);
    if !is_keyword(within, Keyword::WITHIN)
        || !is_keyword(group, Keyword::GROUP)
        || tokens[open].token != Token::LParen
    {
        return None;
    }
    let (_, end) = arguments(tokens, open)?;
    let mut order = vec![TokenWithSpan::new(
        Token::Whitespace(datafusion_sql::sqlparser::tokenizer::Whitespace::Space),
        tokens[open].span,
    )];
    order.extend(tokens[open + 1..end].iter().cloned());
    Some((order, end))
}

/// The date part an argument names as a single bare word, in lower case.
fn bare_part(arg: &[TokenWithSpan]) -> Option<String> {
    let mut significant = arg.iter().filter(|t| !is_whitespace(&t.token));
    let only = significant.next()?;
    if significant.next().is_some() {
        return None;
    }
    match &only.token {
        Token::Word(word) if word.quote_style.is_none() => {
            let value = word.value.to_lowercase();
            DATE_PART_WORDS.contains(&value.as_str()).then_some(value)
        }
        _ => None,
    }
}

fn is_whitespace(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

fn next_significant(tokens: &[TokenWithSpan], from: usize) -> Option<usize> {
    (from..tokens.len()).find(|&i| !is_whitespace(&tokens[i].token))
}

/// Whether what was written last ends a value (a name, `)` or `]`) that a `:field`
/// path can follow, outside `[..]` (where `:` is a slice) and `{..}`.
fn follows_value(out: &[TokenWithSpan]) -> bool {
    let mut depth = 0i32;
    for t in out {
        match t.token {
            Token::LBracket | Token::LBrace => depth += 1,
            Token::RBracket | Token::RBrace => depth -= 1,
            _ => {}
        }
    }
    if depth > 0 {
        return false;
    }
    let mut significant = out.iter().rev().filter(|t| !is_whitespace(&t.token));
    let Some(last) = significant.next() else {
        return false;
    };
    match &last.token {
        // A keyword is a name here when it is qualified (`t.value:sku`) or one that
        // names a column where a path may follow: `FLATTEN`'s output columns
        // (`value:sku`, `key`, `path`, `index`) are keywords to the tokenizer.
        Token::Word(w) => {
            w.keyword == Keyword::NoKeyword
                || w.quote_style.is_some()
                || significant.next().is_some_and(|t| t.token == Token::Period)
                || matches!(
                    w.keyword,
                    Keyword::VALUE | Keyword::KEY | Keyword::PATH | Keyword::INDEX
                )
        }
        other => matches!(other, Token::RParen | Token::RBracket),
    }
}

/// Where the value that ends `out` starts: a name (`a.b.c`), or a call or parenthesized
/// expression with what follows it in brackets.
fn primary_start(out: &[TokenWithSpan]) -> Option<usize> {
    let mut i = out.len();
    // Past trailing whitespace.
    while i > 0 && is_whitespace(&out[i - 1].token) {
        i -= 1;
    }
    loop {
        let last = i.checked_sub(1)?;
        match &out[last].token {
            Token::RParen | Token::RBracket => {
                let (open, close) = match out[last].token {
                    Token::RParen => (Token::LParen, Token::RParen),
                    _ => (Token::LBracket, Token::RBracket),
                };
                let mut depth = 0usize;
                let mut j = last;
                loop {
                    if out[j].token == close {
                        depth += 1;
                    } else if out[j].token == open {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    j = j.checked_sub(1)?;
                }
                i = j;
                // A call's name, or the value a subscript applies to.
                if matches!(
                    out.get(i.wrapping_sub(1)).map(|t| &t.token),
                    Some(Token::Word(_))
                ) || close == Token::RBracket
                {
                    continue;
                }
                return Some(i);
            }
            Token::Word(_) => {
                i = last;
                if i >= 2 && out[i - 1].token == Token::Period {
                    i -= 1;
                    continue;
                }
                return Some(i);
            }
            _ => return Some(i),
        }
    }
}

/// Whether the last token written is a `.` (so the word is a qualified name's part).
fn follows_dot(out: &[TokenWithSpan]) -> bool {
    out.iter()
        .rev()
        .find(|t| !is_whitespace(&t.token))
        .is_some_and(|t| t.token == Token::Period)
}

/// The token ranges of the arguments of the call whose `(` is at `open`, and the index
/// of its `)`.
fn arguments(tokens: &[TokenWithSpan], open: usize) -> Option<(Vec<(usize, usize)>, usize)> {
    let mut depth = 0usize;
    let mut args = Vec::new();
    let mut start = open + 1;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match &token.token {
            Token::LParen | Token::LBracket | Token::LBrace => depth += 1,
            Token::RParen | Token::RBracket | Token::RBrace => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    if tokens[start..i].iter().any(|t| !is_whitespace(&t.token)) {
                        args.push((start, i));
                    }
                    return Some((args, i));
                }
            }
            Token::Comma if depth == 1 => {
                args.push((start, i));
                start = i + 1;
            }
            Token::Word(word) if depth == 1 && word.keyword == Keyword::SELECT => return None,
            _ => {}
        }
    }
    None
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
        check("safe_cast(x AS int64)", "try_cast(x AS BIGINT)");
        check(
            "coalesce(a:state::varchar, f(x):zip:code)",
            "coalesce(json_as_text(a, 'state')::varchar, json_as_text(json_as_text(f(x), 'zip'), 'code'))",
        );
        check("a[1:2]", "a[1:2]");
        check("\"user\".x:state", "json_as_text(\"user\".x, 'state')");
        check(
            "date_part(epoch_second, t)",
            "CAST(date_part('epoch', (t)) AS BIGINT)",
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
