// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Reading a statement's tokens: the next significant token, a call's arguments, where
//! the value before a position starts.

use datafusion_sql::sqlparser::keywords::Keyword;
use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan};

/// Whether a token is whitespace (comments included).
pub(super) fn is_whitespace(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

/// The one token of an argument that is a single token (whitespace aside).
pub(super) fn only_significant(arg: &[TokenWithSpan]) -> Option<&Token> {
    let mut significant = arg.iter().filter(|t| !is_whitespace(&t.token));
    let only = significant.next()?;
    significant.next().is_none().then_some(&only.token)
}

/// The index of the first token from `from` on that is not whitespace.
pub(super) fn next_significant(tokens: &[TokenWithSpan], from: usize) -> Option<usize> {
    (from..tokens.len()).find(|&i| !is_whitespace(&tokens[i].token))
}

/// Whether what was written last ends a value (a name, `)` or `]`) that a `:field`
/// path can follow, outside `[..]` (where `:` is a slice) and `{..}`.
pub(super) fn follows_value(out: &[TokenWithSpan]) -> bool {
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
pub(super) fn primary_start(out: &[TokenWithSpan]) -> Option<usize> {
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
pub(super) fn follows_dot(out: &[TokenWithSpan]) -> bool {
    out.iter()
        .rev()
        .find(|t| !is_whitespace(&t.token))
        .is_some_and(|t| t.token == Token::Period)
}

/// The token ranges of the arguments of the call whose `(` is at `open`, and the index
/// of its `)`.
pub(super) fn arguments(
    tokens: &[TokenWithSpan],
    open: usize,
) -> Option<(Vec<(usize, usize)>, usize)> {
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
