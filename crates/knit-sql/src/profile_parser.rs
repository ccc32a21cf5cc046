// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Parsing Knit's profile statements with sqlparser's parser.

use datafusion_sql::sqlparser::ast::{Ident, ObjectName};
use datafusion_sql::sqlparser::parser::{Parser, ParserError};
use datafusion_sql::sqlparser::tokenizer::Token;

use crate::ast::Statement;
use crate::features::{
    CreateCohortStatement, CreateEntityVarStatement, CreateInputVarStatement, VarName,
};
use crate::profile_ast::{
    CreateEntityStatement, CreateInputStatement, DropStatement, IdFilter, IdMatcher, IdTypeDef,
    InputId, InputSource, ProfileObject, ShowObject,
};

/// The profile statement that starts at the parser's position, or `None` when the
/// tokens there start another statement (which is then DataFusion's).
pub(crate) fn parse_profile_statement(
    parser: &mut Parser<'_>,
) -> Result<Option<Statement>, ParserError> {
    let words: Vec<String> = (0..6).map(|n| word_at(parser, n)).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    // `CREATE [OR REPLACE] <object> ...`: the object's words start after the prefix.
    let (or_replace, prefix) = match words.as_slice() {
        ["CREATE", "OR", "REPLACE", ..] => (true, 3),
        ["CREATE", ..] => (false, 1),
        _ => (false, 0),
    };
    if prefix > 0 {
        let object = &words[prefix..];
        // An entity may be named `var`: `CREATE ENTITY var ID TYPES ...` is an entity.
        let statement = match object {
            ["ENTITY", "VAR", next, ..] if *next != "ID" => {
                skip(parser, prefix + 2);
                Statement::CreateEntityVar(Box::new(parse_create_entity_var(parser, or_replace)?))
            }
            ["ENTITY", ..] => {
                skip(parser, prefix + 1);
                Statement::CreateEntity(Box::new(parse_create_entity(parser, or_replace)?))
            }
            ["INPUT", "VAR", next, ..] if *next != "FOR" => {
                skip(parser, prefix + 2);
                Statement::CreateInputVar(Box::new(parse_create_input_var(parser, or_replace)?))
            }
            ["INPUT", ..] => {
                skip(parser, prefix + 1);
                Statement::CreateInput(Box::new(parse_create_input(parser, or_replace)?))
            }
            ["COHORT", ..] => {
                skip(parser, prefix + 1);
                Statement::CreateCohort(Box::new(parse_create_cohort(parser, or_replace)?))
            }
            ["PROFILE", "STORE", ..] if !or_replace => {
                skip(parser, prefix + 2);
                Statement::CreateProfileStore(parse_location(parser)?)
            }
            _ => return Ok(None),
        };
        return Ok(Some(statement));
    }
    let statement = match words.as_slice() {
        ["DROP", kind @ ("ENTITY" | "INPUT" | "COHORT"), ..] => {
            // `DROP ENTITY VAR x.y` drops a var; `DROP ENTITY var` an entity named var.
            let is_var = *kind != "COHORT"
                && words[2] == "VAR"
                && matches!(parser.peek_nth_token(3).token, Token::Word(_));
            let object = match (*kind, is_var) {
                ("ENTITY", true) => ProfileObject::EntityVar,
                ("ENTITY", false) => ProfileObject::Entity,
                ("INPUT", true) => ProfileObject::InputVar,
                ("INPUT", false) => ProfileObject::Input,
                _ => ProfileObject::Cohort,
            };
            skip(parser, if is_var { 3 } else { 2 });
            let if_exists = eat_words(parser, &["IF", "EXISTS"]);
            let (owner, name) = if object.is_var() {
                let var = parse_var_name(parser)?;
                (Some(var.owner), var.name)
            } else {
                (None, parser.parse_identifier()?)
            };
            Statement::Drop(DropStatement {
                object,
                if_exists,
                owner,
                name,
            })
        }
        [
            "SHOW",
            object @ ("ENTITIES" | "INPUTS" | "VARS" | "COHORTS"),
            ..,
        ] => {
            let object = match *object {
                "ENTITIES" => ShowObject::Entities,
                "INPUTS" => ShowObject::Inputs,
                "VARS" => ShowObject::Vars,
                _ => ShowObject::Cohorts,
            };
            skip(parser, 2);
            Statement::Show(object)
        }
        ["REFRESH", "PROFILE", "STORE", ..] => {
            skip(parser, 3);
            let full = eat_words(parser, &["FULL"]);
            let changes_to = if eat_words(parser, &["CHANGES", "TO"]) {
                Some(parse_quoted(
                    parser,
                    "literal string: the changes' folder or s3:// URL, such as 'changes/'",
                )?)
            } else {
                None
            };
            Statement::RefreshProfileStore { full, changes_to }
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
    let rules = if eat_words(parser, &["RULES", "FROM"]) {
        Some(parse_input_source(parser)?)
    } else {
        None
    };
    Ok(CreateEntityStatement {
        or_replace,
        name,
        id_types,
        main_id,
        rules,
    })
}

fn parse_var_name(parser: &mut Parser<'_>) -> Result<VarName, ParserError> {
    let owner = parser.parse_identifier()?;
    parser.expect_token(&Token::Period)?;
    let name = parser.parse_identifier()?;
    Ok(VarName { owner, name })
}

fn parse_create_entity_var(
    parser: &mut Parser<'_>,
    or_replace: bool,
) -> Result<CreateEntityVarStatement, ParserError> {
    let name = parse_var_name(parser)?;
    expect_words(parser, &["AS"])?;
    let expr = parser.parse_expr()?;
    let from = if eat_words(parser, &["FROM"]) {
        Some(parser.parse_identifier()?)
    } else {
        None
    };
    let filter = parse_optional_expr(parser, "WHERE")?;
    let default = parse_optional_expr(parser, "DEFAULT")?;
    let hidden = eat_words(parser, &["HIDDEN"]);
    let description = parse_description(parser)?;
    Ok(CreateEntityVarStatement {
        or_replace,
        name,
        expr,
        from,
        filter,
        default,
        hidden,
        description,
    })
}

fn parse_create_input_var(
    parser: &mut Parser<'_>,
    or_replace: bool,
) -> Result<CreateInputVarStatement, ParserError> {
    let name = parse_var_name(parser)?;
    expect_words(parser, &["AS"])?;
    let expr = parser.parse_expr()?;
    let filter = parse_optional_expr(parser, "WHERE")?;
    let default = parse_optional_expr(parser, "DEFAULT")?;
    let description = parse_description(parser)?;
    Ok(CreateInputVarStatement {
        or_replace,
        name,
        expr,
        filter,
        default,
        description,
    })
}

fn parse_create_cohort(
    parser: &mut Parser<'_>,
    or_replace: bool,
) -> Result<CreateCohortStatement, ParserError> {
    let name = parser.parse_identifier()?;
    expect_words(parser, &["FOR"])?;
    let entity = parser.parse_identifier()?;
    let extends = if eat_words(parser, &["EXTENDS"]) {
        Some(parser.parse_identifier()?)
    } else {
        None
    };
    expect_words(parser, &["WHERE"])?;
    let condition = parser.parse_expr()?;
    let description = parse_description(parser)?;
    Ok(CreateCohortStatement {
        or_replace,
        name,
        entity,
        extends,
        condition,
        description,
    })
}

/// `keyword expr`, if `keyword` comes next.
fn parse_optional_expr(
    parser: &mut Parser<'_>,
    keyword: &str,
) -> Result<Option<datafusion_sql::sqlparser::ast::Expr>, ParserError> {
    if eat_words(parser, &[keyword]) {
        Ok(Some(parser.parse_expr()?))
    } else {
        Ok(None)
    }
}

fn parse_description(parser: &mut Parser<'_>) -> Result<Option<String>, ParserError> {
    if eat_words(parser, &["DESCRIPTION"]) {
        Ok(Some(parser.parse_literal_string()?))
    } else {
        Ok(None)
    }
}

fn parse_id_type(parser: &mut Parser<'_>) -> Result<IdTypeDef, ParserError> {
    let name = parser.parse_identifier()?;
    let mut filters = Vec::new();
    let mut limit = None;
    loop {
        // `LIMIT n` may come before, between or after the filters, once; the filters
        // apply first whatever the order, since a limit counts the ids they keep.
        if limit.is_none() && eat_words(parser, &["LIMIT"]) {
            limit = Some(parser.parse_literal_uint()?);
            continue;
        }
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
    Ok(IdTypeDef {
        name,
        filters,
        limit,
    })
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
    let lookup_only = eat_words(parser, &["LOOKUP"]);
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
        lookup_only,
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

/// A store's location: a quoted string (a bare word would read as a name).
fn parse_location(parser: &mut Parser<'_>) -> Result<String, ParserError> {
    parse_quoted(
        parser,
        "literal string: the store's folder or s3:// URL, such as 'profiles/'",
    )
}

/// A single-quoted string, or an error saying it is `expected`.
fn parse_quoted(parser: &mut Parser<'_>, expected: &str) -> Result<String, ParserError> {
    let token = parser.next_token();
    match &token.token {
        Token::SingleQuotedString(text) => Ok(text.clone()),
        _ => parser.expected(expected, token),
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
