// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A warehouse function call rewritten as DataFusion's: renamed, expanded from
//! [`REWRITES`], its date part made text or moved, its format words made chrono's, or a
//! form DataFusion lacks (`array_agg(.. LIMIT n)`, `ratio_to_report`, `percentile_disc`,
//! `decode`, `iff`) written with DataFusion's functions.

use datafusion_sql::sqlparser::keywords::Keyword;
use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan, Word};

use super::formats::{java_format, snowflake_format};
use super::names::{
    DATE_PART_WORDS, MODE_DESC, PART_FIRST, PART_LAST, RENAMES, REWRITES, extraction_sql,
    trunc_part,
};
use super::tokens::{arguments, is_whitespace, next_significant, only_significant};

/// Whether a word names a function [`rewrite_call`] may rewrite.
pub(super) fn is_rewritten(word: &Word) -> bool {
    if word.quote_style.is_some() {
        return false;
    }
    let name = word.value.to_lowercase();
    name == "iff"
        || name == "trunc"
        || name == "decode"
        || name == "date"
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
        || name == "string_agg"
        || name == "ratio_to_report"
        || name == "percentile_disc"
        || name == "mode"
        || RENAMES.iter().any(|(from, _)| *from == name)
        || REWRITES.iter().any(|(from, _, _)| *from == name)
}

/// A call's rewritten tokens, or `None` to keep it as written. `after` is what follows
/// the call and belongs to it: a `WITHIN GROUP`'s `ORDER BY ...`, or what partitions
/// `ratio_to_report`'s window.
pub(super) fn rewrite_call(
    name: &str,
    head: &TokenWithSpan,
    args: &[Vec<TokenWithSpan>],
    after: Vec<TokenWithSpan>,
) -> Option<Vec<TokenWithSpan>> {
    let token = |t: Token| TokenWithSpan::new(t, head.span);
    let keyword = |k: &str| token(Token::make_keyword(k));
    let mut args: Vec<Vec<TokenWithSpan>> = args.to_vec();
    // `date(t, zone)` is BigQuery's date of the time in a zone; `date(s, format)` is
    // Snowflake's text read with a format (`YYYY-MM-DD`), as `to_date` reads it.
    let name = if name == "date" && args.len() == 2 {
        let format = single_string(&args[1]).is_some_and(|f| {
            ["YY", "MM", "DD"]
                .iter()
                .any(|w| f.to_uppercase().contains(w))
        });
        if !format {
            return expand("CAST(convert_timezone($2, $1) AS DATE)", &args, head);
        }
        "to_date"
    } else {
        name
    };
    // Snowflake's `last_day(d, month)` names its part as a bare word.
    if name == "last_day"
        && args.len() == 2
        && let Some(part) = bare_part(&args[1])
    {
        args[1] = vec![token(Token::SingleQuotedString(part))];
    }
    // Snowflake's `to_number(x, precision [, scale])` (`to_decimal`, `to_numeric`, and
    // their `try_` forms): a decimal of that precision and scale (0 without one),
    // rounded half away from zero.
    let cast = match name {
        "to_number" | "to_decimal" | "to_numeric" => Some("CAST"),
        "try_to_number" | "try_to_decimal" | "try_to_numeric" => Some("TRY_CAST"),
        _ => None,
    };
    if let Some(cast) = cast
        && matches!(args.len(), 2 | 3)
        && let Some(digits) = args[1..]
            .iter()
            .map(|a| integer_literal(a))
            .collect::<Option<Vec<u32>>>()
    {
        let scale = digits.get(1).copied().unwrap_or(0);
        let sql = format!("{cast}($1 AS DECIMAL({}, {scale}))", digits[0]);
        return expand(&sql, &args, head);
    }
    if let Some((_, _, sql)) = REWRITES
        .iter()
        .find(|(from, count, _)| *from == name && *count == args.len())
    {
        return expand(sql, &args, head);
    }
    // Snowflake's `trunc(t, 'month')` (or `trunc(t, mm)`) truncates a time, as
    // `date_trunc`; `trunc(x, 2)` stays the number's, and so does `trunc(x, s)`: a bare
    // word of one letter is more likely a column of places than a part.
    if name == "trunc"
        && args.len() == 2
        && let Some(part) = (bare_part(&args[1]).filter(|word| word.len() > 1))
            .or_else(|| single_string(&args[1]))
            .as_deref()
            .and_then(trunc_part)
    {
        args[1] = vec![token(Token::SingleQuotedString(part.to_string()))];
        return expand("date_trunc($2, $1)", &args, head);
    }
    if name == "trunc" {
        return None;
    }
    // `date_trunc('MM', t)`: a part named as the warehouse names it.
    if matches!(name, "date_trunc" | "datetrunc")
        && let Some(text) = args.first().and_then(|a| single_string(a))
        && let Some(part) = trunc_part(&text)
        && part != text
    {
        args[0] = vec![token(Token::SingleQuotedString(part.to_string()))];
        return expand("date_trunc($1, $2)", &args, head);
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
    // Snowflake's ratio_to_report(x) OVER (PARTITION BY ..): x over the sum of its
    // partition (NULL when that is 0); an ORDER BY in the window changes nothing, so
    // only the partition is kept (with it, `sum` would be a running sum).
    if name == "ratio_to_report" && args.len() == 1 {
        let mut out = expand("(CAST($1 AS DOUBLE) / nullif(sum($1) OVER (", &args, head)?;
        out.extend(after);
        out.extend(expand("), 0))", &[], head)?);
        return Some(out);
    }
    // Snowflake's percentile_disc(p) WITHIN GROUP (ORDER BY x): the first value, in that
    // order, whose cumulative share of the non-NULL values reaches p, which is the
    // value at position ceil(p * count) of the ordered list (the first for p = 0).
    if name == "percentile_disc"
        && args.len() == 1
        && let Some(key) = sort_key(&after)
    {
        let key = vec![key];
        let mut out = expand("array_element(array_agg($1 ", &key, head)?;
        out.extend(after);
        out.extend(expand(
            ") FILTER (WHERE $1 IS NOT NULL), greatest(1, CAST(ceil($2 * count($1)) AS BIGINT)))",
            &[key[0].clone(), args[0].clone()],
            head,
        )?);
        return Some(out);
    }
    // BigQuery's `array_agg(x ORDER BY t LIMIT n)` (the latest value is
    // `array_agg(x ORDER BY t DESC LIMIT 1)[OFFSET(0)]`): DataFusion's array_agg takes no
    // LIMIT, so the first n elements are sliced from the whole ordered list; string_agg's
    // LIMIT likewise ([`string_agg_limited`]).
    if matches!(name, "array_agg" | "string_agg")
        && let Some(last) = args.last_mut()
        && let Some(at) = top_level_keyword(last, Keyword::LIMIT)
    {
        let limit = last.split_off(at + 1);
        last.truncate(at);
        if name == "string_agg" {
            return string_agg_limited(args, after, limit, head);
        }
        let mut out = vec![
            token(Token::make_word("array_slice", None)),
            token(Token::LParen),
            token(Token::make_word("array_agg", None)),
            token(Token::LParen),
        ];
        for (n, arg) in args.into_iter().enumerate() {
            if n > 0 {
                out.push(token(Token::Comma));
            }
            out.extend(arg);
        }
        out.extend(after);
        out.extend([
            token(Token::RParen),
            token(Token::Comma),
            token(Token::Number("1".into(), false)),
            token(Token::Comma),
        ]);
        out.extend(limit);
        out.push(token(Token::RParen));
        return Some(out);
    }
    if name == "mode" && args.is_empty() && !after.is_empty() {
        return mode_within_group(&after, head);
    }
    let renamed = match name {
        // array_agg keeps its name; only a WITHIN GROUP moves inside.
        "array_agg" if !after.is_empty() => Some("array_agg"),
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
        out.extend(after);
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
    // Snowflake's `date_part(mm, t)`, `date_part('dayofweekiso', t)`: the part as
    // DataFusion names it, or a count since 1970.
    if matches!(name, "date_part" | "datepart") && args.len() == 2 {
        let part = args
            .first()
            .and_then(|a| bare_part(a).or_else(|| quoted_text(a)))?;
        let sql = extraction_sql(&part, "$2")?;
        return expand(&sql, &args, head);
    }
    let first_is_part = args.first().and_then(|a| bare_part(a)).is_some();
    if PART_FIRST.contains(&name) && first_is_part {
        let mut part = args.first().and_then(|a| bare_part(a))?;
        if name.ends_with("trunc")
            && let Some(full) = trunc_part(&part)
        {
            part = full.to_string();
        }
        args[0] = vec![token(Token::SingleQuotedString(part))];
    } else if PART_LAST.contains(&name) && args.len() >= 2 {
        let last = args.len() - 1;
        let mut part = bare_part(&args[last])?;
        if name.ends_with("_trunc")
            && let Some(full) = trunc_part(&part)
        {
            part = full.to_string();
        }
        args[last] = vec![token(Token::SingleQuotedString(part))];
        // BigQuery's date_trunc(t, part) is DataFusion's date_trunc('part', t).
        if name.ends_with("_trunc") && args.len() == 2 {
            args.swap(0, 1);
        }
    } else {
        return None;
    }
    // BigQuery's timestamp_trunc and datetime_trunc are DataFusion's date_trunc.
    let head = match name {
        "timestamp_trunc" | "datetime_trunc" => token(Token::make_word("date_trunc", None)),
        _ => head.clone(),
    };
    let mut out = vec![head, token(Token::LParen)];
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
pub(super) fn expand(
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

/// PostgreSQL's `mode() WITHIN GROUP (ORDER BY x [ASC | DESC] [NULLS ..])` (`after` is
/// the `ORDER BY ...`): the most frequent value of `x`, ties to the first in that
/// order: `mode(x)` (ties to the smallest), or with `DESC` Knit's mode whose ties go to
/// the largest value. NULLs count for neither, so `NULLS FIRST`/`LAST` changes nothing.
fn mode_within_group(after: &[TokenWithSpan], head: &TokenWithSpan) -> Option<Vec<TokenWithSpan>> {
    let token = |t: Token| TokenWithSpan::new(t, head.span);
    let is_keyword =
        |t: &TokenWithSpan, k: Keyword| matches!(&t.token, Token::Word(w) if w.keyword == k);
    let order = after.iter().position(|t| is_keyword(t, Keyword::ORDER))?;
    let by = next_significant(after, order + 1)?;
    if !is_keyword(&after[by], Keyword::BY) {
        return None;
    }
    // The value's tokens, whitespace kept (it separates words), less a trailing
    // `NULLS FIRST`/`LAST` and `ASC`/`DESC`.
    let mut value: Vec<TokenWithSpan> = after[by + 1..].to_vec();
    let pop_keyword = |value: &mut Vec<TokenWithSpan>, keywords: &[Keyword]| {
        while value.last().is_some_and(|t| is_whitespace(&t.token)) {
            value.pop();
        }
        let found = value
            .last()
            .and_then(|t| keywords.iter().find(|k| is_keyword(t, **k)).copied());
        if found.is_some() {
            value.pop();
        }
        found
    };
    if pop_keyword(&mut value, &[Keyword::FIRST, Keyword::LAST]).is_some()
        && pop_keyword(&mut value, &[Keyword::NULLS]).is_none()
    {
        return None;
    }
    let descending = pop_keyword(&mut value, &[Keyword::ASC, Keyword::DESC]) == Some(Keyword::DESC);
    let function = if descending { MODE_DESC } else { "mode" };
    let mut out = vec![
        token(Token::make_word(function, None)),
        token(Token::LParen),
    ];
    out.extend(value);
    out.push(token(Token::RParen));
    Some(out)
}

/// The text of an argument that is one string literal.
fn single_string(arg: &[TokenWithSpan]) -> Option<String> {
    match only_significant(arg)? {
        Token::SingleQuotedString(text) => Some(text.clone()),
        _ => None,
    }
}

/// The `ORDER BY ...` tokens of a `WITHIN GROUP (ORDER BY ...)` after the `)` at `close`,
/// and the index of its own `)`.
pub(super) fn within_group(
    tokens: &[TokenWithSpan],
    close: usize,
) -> Option<(Vec<TokenWithSpan>, usize)> {
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

/// BigQuery's `string_agg(x [, sep] [ORDER BY t] LIMIT n)` (the limit already split off
/// the last argument): the first n non-NULL values in that order, joined by `sep` (`,`
/// by default), as `array_to_string` of the sliced ordered list.
fn string_agg_limited(
    mut args: Vec<Vec<TokenWithSpan>>,
    after: Vec<TokenWithSpan>,
    limit: Vec<TokenWithSpan>,
    head: &TokenWithSpan,
) -> Option<Vec<TokenWithSpan>> {
    let token = |t: Token| TokenWithSpan::new(t, head.span);
    let last = args.last_mut()?;
    let order = match top_level_keyword(last, Keyword::ORDER) {
        Some(at) => last.split_off(at),
        None => Vec::new(),
    };
    let value = args.first()?.clone();
    let separator = match args.get(1) {
        Some(separator) => separator.clone(),
        None => vec![token(Token::SingleQuotedString(",".into()))],
    };
    // The value without its DISTINCT, for the filter that leaves NULLs out.
    let mut plain = value.clone();
    if let Some(at) = top_level_keyword(&plain, Keyword::DISTINCT) {
        plain.remove(at);
    }
    let mut out = expand("array_to_string(array_slice(array_agg(", &[], head)?;
    out.extend(value);
    out.extend(order);
    out.extend(after);
    out.extend(expand(
        ") FILTER (WHERE $1 IS NOT NULL), 1, ",
        &[plain],
        head,
    )?);
    out.extend(limit);
    out.extend([token(Token::RParen), token(Token::Comma)]);
    out.extend(separator);
    out.push(token(Token::RParen));
    Some(out)
}

/// Where the last `keyword` of an argument is, outside parentheses (an argument's own
/// `LIMIT`, not one of a subquery inside it).
fn top_level_keyword(arg: &[TokenWithSpan], keyword: Keyword) -> Option<usize> {
    let mut depth = 0usize;
    let mut found = None;
    for (i, t) in arg.iter().enumerate() {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(w) if depth == 0 && w.keyword == keyword => found = Some(i),
            _ => {}
        }
    }
    found
}

/// The tokens inside `OVER (...)` after the call's `)` at `close`, up to its `ORDER BY`
/// if it has one, and the index of the window's own `)`.
pub(super) fn window_partition(
    tokens: &[TokenWithSpan],
    close: usize,
) -> Option<(Vec<TokenWithSpan>, usize)> {
    let over = next_significant(tokens, close + 1)?;
    let open = next_significant(tokens, over + 1)?;
    if !matches!(&tokens[over].token, Token::Word(w) if w.keyword == Keyword::OVER)
        || tokens[open].token != Token::LParen
    {
        return None;
    }
    let (_, end) = arguments(tokens, open)?;
    let mut depth = 0usize;
    let mut inside = Vec::new();
    for token in &tokens[open + 1..end] {
        match &token.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(w) if depth == 0 && w.keyword == Keyword::ORDER => break,
            _ => {}
        }
        inside.push(token.clone());
    }
    Some((inside, end))
}

/// The expression an `ORDER BY x [ASC | DESC] [NULLS FIRST | LAST]` sorts by.
fn sort_key(order_by: &[TokenWithSpan]) -> Option<Vec<TokenWithSpan>> {
    let is = |t: &TokenWithSpan, k: Keyword| matches!(&t.token, Token::Word(w) if w.keyword == k);
    let start = order_by.iter().position(|t| is(t, Keyword::BY))? + 1;
    let mut end = order_by.len();
    while end > start {
        let t = &order_by[end - 1];
        let trailing = is_whitespace(&t.token)
            || [
                Keyword::ASC,
                Keyword::DESC,
                Keyword::NULLS,
                Keyword::FIRST,
                Keyword::LAST,
            ]
            .iter()
            .any(|k| is(t, *k));
        if !trailing {
            break;
        }
        end -= 1;
    }
    let key = order_by[start..end].to_vec();
    // One key only: a comma outside parentheses starts a second.
    let mut depth = 0usize;
    let second_key = key.iter().any(|t| match t.token {
        Token::LParen => {
            depth += 1;
            false
        }
        Token::RParen => {
            depth = depth.saturating_sub(1);
            false
        }
        Token::Comma => depth == 0,
        _ => false,
    });
    (!key.is_empty() && !second_key).then_some(key)
}

/// The date part an argument names as a single bare word, in lower case.
/// The value of an argument that is one unsigned integer literal.
fn integer_literal(arg: &[TokenWithSpan]) -> Option<u32> {
    match only_significant(arg)? {
        Token::Number(digits, _) => digits.parse().ok(),
        _ => None,
    }
}

/// The text of an argument that is one quoted string.
fn quoted_text(arg: &[TokenWithSpan]) -> Option<String> {
    match only_significant(arg)? {
        Token::SingleQuotedString(text) => Some(text.clone()),
        _ => None,
    }
}

fn bare_part(arg: &[TokenWithSpan]) -> Option<String> {
    match only_significant(arg)? {
        Token::Word(word) if word.quote_style.is_none() => {
            let value = word.value.to_lowercase();
            DATE_PART_WORDS.contains(&value.as_str()).then_some(value)
        }
        _ => None,
    }
}
