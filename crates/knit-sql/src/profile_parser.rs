// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Parsing Knit's profile statements with sqlparser's parser.

use datafusion_sql::sqlparser::ast::{Ident, ObjectName};
use datafusion_sql::sqlparser::parser::{Parser, ParserError};
use datafusion_sql::sqlparser::tokenizer::Token;

use crate::ast::Statement;
use crate::profile::{
    CreateEntityStatement, CreateInputStatement, DropStatement, IdFilter, IdMatcher, IdTypeDef,
    InputId, InputSource, ProfileObject,
};

/// The profile statement that starts at the parser's position, or `None` when the
/// tokens there start another statement (which is then DataFusion's).
pub(crate) fn parse_profile_statement(
    parser: &mut Parser<'_>,
) -> Result<Option<Statement>, ParserError> {
    let words: Vec<String> = (0..4).map(|n| word_at(parser, n)).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let statement = match words.as_slice() {
        ["CREATE", "ENTITY", ..] => {
            skip(parser, 2);
            Statement::CreateEntity(Box::new(parse_create_entity(parser, false)?))
        }
        ["CREATE", "OR", "REPLACE", "ENTITY"] => {
            skip(parser, 4);
            Statement::CreateEntity(Box::new(parse_create_entity(parser, true)?))
        }
        ["CREATE", "INPUT", ..] => {
            skip(parser, 2);
            Statement::CreateInput(Box::new(parse_create_input(parser, false)?))
        }
        ["CREATE", "OR", "REPLACE", "INPUT"] => {
            skip(parser, 4);
            Statement::CreateInput(Box::new(parse_create_input(parser, true)?))
        }
        ["DROP", object @ ("ENTITY" | "INPUT"), ..] => {
            let object = if *object == "ENTITY" {
                ProfileObject::Entity
            } else {
                ProfileObject::Input
            };
            skip(parser, 2);
            let if_exists = eat_words(parser, &["IF", "EXISTS"]);
            let name = parser.parse_identifier()?;
            Statement::Drop(DropStatement {
                object,
                if_exists,
                name,
            })
        }
        ["SHOW", "ENTITIES", ..] => {
            skip(parser, 2);
            Statement::Show(ProfileObject::Entity)
        }
        ["SHOW", "INPUTS", ..] => {
            skip(parser, 2);
            Statement::Show(ProfileObject::Input)
        }
        ["DESCRIBE", "ENTITY", ..] => {
            skip(parser, 2);
            Statement::DescribeEntity(parser.parse_identifier()?)
        }
        _ => return Ok(None),
    };
    Ok(Some(statement))
}

fn parse_create_entity(
    parser: &mut Parser<'_>,
    or_replace: bool,
) -> Result<CreateEntityStatement, ParserError> {
    let name = parser.parse_identifier()?;
    expect_words(parser, &["ID", "TYPES"])?;
    parser.expect_token(&Token::LParen)?;
    let id_types = parser.parse_comma_separated(parse_id_type)?;
    parser.expect_token(&Token::RParen)?;
    let main_id = if eat_words(parser, &["MAIN", "ID"]) {
        Some(parser.parse_identifier()?)
    } else {
        None
    };
    Ok(CreateEntityStatement {
        or_replace,
        name,
        id_types,
        main_id,
    })
}

fn parse_id_type(parser: &mut Parser<'_>) -> Result<IdTypeDef, ParserError> {
    let name = parser.parse_identifier()?;
    let mut filters = Vec::new();
    loop {
        let include = if eat_words(parser, &["INCLUDE"]) {
            true
        } else if eat_words(parser, &["EXCLUDE"]) {
            false
        } else {
            break;
        };
        let matcher = if eat_words(parser, &["REGEX"]) {
            IdMatcher::Regex(parser.parse_literal_string()?)
        } else {
            parser.expect_token(&Token::LParen)?;
            let values = parser.parse_comma_separated(Parser::parse_literal_string)?;
            parser.expect_token(&Token::RParen)?;
            IdMatcher::Values(values)
        };
        filters.push(IdFilter { include, matcher });
    }
    Ok(IdTypeDef { name, filters })
}

fn parse_create_input(
    parser: &mut Parser<'_>,
    or_replace: bool,
) -> Result<CreateInputStatement, ParserError> {
    let name = parser.parse_identifier()?;
    expect_words(parser, &["FOR"])?;
    let entity = parser.parse_identifier()?;
    let source = if eat_words(parser, &["FROM"]) {
        Some(parse_input_source(parser)?)
    } else {
        None
    };
    expect_words(parser, &["IDS"])?;
    parser.expect_token(&Token::LParen)?;
    let ids = parser.parse_comma_separated(|parser| {
        let expr = parser.parse_expr()?;
        expect_words(parser, &["AS"])?;
        let id_type = parser.parse_identifier()?;
        Ok(InputId { expr, id_type })
    })?;
    parser.expect_token(&Token::RParen)?;
    let occurred_at = if eat_words(parser, &["OCCURRED", "AT"]) {
        Some(parser.parse_expr()?)
    } else {
        None
    };
    let filter = if eat_words(parser, &["WHERE"]) {
        Some(parser.parse_expr()?)
    } else {
        None
    };
    Ok(CreateInputStatement {
        or_replace,
        name,
        entity,
        source,
        ids,
        occurred_at,
        filter,
    })
}

fn parse_input_source(parser: &mut Parser<'_>) -> Result<InputSource, ParserError> {
    if parser.consume_token(&Token::LParen) {
        let query = parser.parse_query()?;
        parser.expect_token(&Token::RParen)?;
        return Ok(InputSource::Query(query));
    }
    // A path in quotes names files, as in `FROM 'dir/*.parquet'`.
    if let Token::SingleQuotedString(path) = parser.peek_token().token {
        parser.next_token();
        return Ok(InputSource::Table(ObjectName::from(vec![
            Ident::with_quote('\'', path),
        ])));
    }
    Ok(InputSource::Table(parser.parse_object_name(false)?))
}

/// The upper-cased word `n` tokens ahead, or an empty string for any other token.
fn word_at(parser: &Parser<'_>, n: usize) -> String {
    match parser.peek_nth_token(n).token {
        Token::Word(word) if word.quote_style.is_none() => word.value.to_ascii_uppercase(),
        _ => String::new(),
    }
}

fn skip(parser: &mut Parser<'_>, tokens: usize) {
    for _ in 0..tokens {
        parser.next_token();
    }
}

/// Consumes `words` if they come next, all of them; otherwise consumes nothing.
fn eat_words(parser: &mut Parser<'_>, words: &[&str]) -> bool {
    if words
        .iter()
        .enumerate()
        .all(|(n, word)| word_at(parser, n) == *word)
    {
        skip(parser, words.len());
        true
    } else {
        false
    }
}

fn expect_words(parser: &mut Parser<'_>, words: &[&str]) -> Result<(), ParserError> {
    if eat_words(parser, words) {
        return Ok(());
    }
    parser.expected(&words.join(" "), parser.peek_token())
}
