// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The statement parser: Knit's keyword dispatch over DataFusion's `DFParser`.

use datafusion_common::DataFusionError;
use datafusion_sql::parser::{DFParser, DFParserBuilder};
use datafusion_sql::sqlparser::dialect::GenericDialect;
use datafusion_sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::ast::Statement;
use crate::error::{Result, SqlError};
use crate::profile_parser::parse_profile_statement;

/// DataFusion's default dialect, which Knit keeps so that plain DataFusion SQL works unchanged.
static DIALECT: GenericDialect = GenericDialect {};

/// Parses Knit SQL: Knit's own statements, and DataFusion's for everything else.
pub struct KnitParser<'a> {
    df: DFParser<'a>,
}

impl<'a> KnitParser<'a> {
    /// A parser over `sql`, which may hold several statements separated by `;`.
    pub fn try_new(sql: &'a str) -> Result<Self> {
        let tokens = Tokenizer::new(&DIALECT, sql)
            .tokenize_with_location()
            .map_err(|e| parse_error(DataFusionError::SQL(Box::new(e.into()), None)))?;
        let df = DFParserBuilder::new(crate::warehouse_syntax::rewrite(tokens))
            .with_dialect(&DIALECT)
            .build()
            .map_err(parse_error)?;
        Ok(Self { df })
    }

    /// Parses every statement of the text.
    pub fn parse_statements(&mut self) -> Result<Vec<Statement>> {
        let mut statements = Vec::new();
        loop {
            while self.df.parser.consume_token(&Token::SemiColon) {}
            if self.df.parser.peek_token() == Token::EOF {
                return Ok(statements);
            }
            statements.push(self.parse_statement()?);
            let next = self.df.parser.peek_token();
            if next != Token::SemiColon && next != Token::EOF {
                return Err(parse_error(DataFusionError::SQL(
                    Box::new(datafusion_sql::sqlparser::parser::ParserError::ParserError(
                        format!(
                            "Expected: end of statement, found: {}{}",
                            next.token, next.span.start
                        ),
                    )),
                    None,
                )));
            }
        }
    }

    /// Parses one statement, leaving any `;` after it unconsumed.
    pub fn parse_statement(&mut self) -> Result<Statement> {
        // Knit's own statements are recognised here by their leading keywords, before
        // DataFusion sees them; anything else is DataFusion's.
        if let Some(statement) = parse_profile_statement(&mut self.df.parser)? {
            return Ok(statement);
        }
        let mut statement = self.df.parse_statement().map_err(parse_error)?;
        crate::flatten::rewrite_flatten(&mut statement);
        crate::warehouse_ast::rewrite_warehouse_forms(&mut statement);
        Ok(Statement::DataFusion(Box::new(statement)))
    }
}

/// Parses text that holds exactly one statement (a trailing `;` is allowed).
pub fn parse_statement(sql: &str) -> Result<Statement> {
    let mut statements = parse_statements(sql)?;
    match statements.len() {
        1 => Ok(statements.remove(0)),
        found => Err(SqlError::StatementCount { found }),
    }
}

/// Parses every statement of `sql`.
pub fn parse_statements(sql: &str) -> Result<Vec<Statement>> {
    KnitParser::try_new(sql)?.parse_statements()
}

/// Turns DataFusion's parse error into ours, keeping the parser's own message (with its
/// `at Line: L, Column: C` suffix) and dropping the `SQL error: ParserError(..)` wrapping.
fn parse_error(e: DataFusionError) -> SqlError {
    match e {
        DataFusionError::SQL(parser_error, _) => SqlError::from(*parser_error),
        other => SqlError::Parse(other.strip_backtrace()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsing the printed form of a statement gives back the same statement.
    fn assert_round_trip(sql: &str) {
        let parsed = parse_statement(sql).unwrap();
        let printed = parsed.to_string();
        let reparsed = parse_statement(&printed).unwrap();
        assert_eq!(parsed, reparsed, "{sql} printed as {printed}");
    }

    #[test]
    fn datafusion_statements_round_trip() {
        for sql in [
            "SELECT a, count(*) FROM 'data/*.parquet' WHERE b <> '' GROUP BY a",
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://bucket/t/' \
             OPTIONS ('aws.region' 'us-east-1', 'aws.allow_http' true)",
            "CREATE OR REPLACE EXTERNAL TABLE t (a INT NOT NULL, b VARCHAR) \
             STORED AS CSV PARTITIONED BY (b) WITH ORDER (a ASC) WITH ORDER (b DESC) \
             LOCATION 'dir/' OPTIONS ('format.has_header' 'true')",
            "CREATE UNBOUNDED EXTERNAL TABLE IF NOT EXISTS s STORED AS JSON LOCATION 'x.json'",
            "COPY (SELECT 1 AS x) TO 'my out.csv' STORED AS CSV OPTIONS ('format.delimiter' '|')",
            "COPY t TO 's3://b/o/' STORED AS PARQUET PARTITIONED BY (day)",
            "EXPLAIN ANALYZE SELECT 1",
            "EXPLAIN VERBOSE CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 'a' \
             OPTIONS ('aws.region' 'x')",
            "SET datafusion.execution.batch_size = 1024",
            "SHOW TABLES",
            "CREATE TABLE t AS VALUES (1, 'a'), (2, NULL)",
        ] {
            assert_round_trip(sql);
        }
    }

    #[test]
    fn printing_keeps_what_datafusion_drops() {
        let sql = "CREATE EXTERNAL TABLE t (a INT) STORED AS PARQUET LOCATION 's3://b/t/' \
                   OPTIONS ('aws.secret_access_key' 'it''s')";
        let printed = parse_statement(sql).unwrap().to_string();
        assert_eq!(
            printed,
            sql.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }

    #[test]
    fn profile_statements_round_trip() {
        for sql in [
            "CREATE ENTITY user ID TYPES (user_id, anonymous_id EXCLUDE ('', 'unknown', 'NaN'), \
             email INCLUDE REGEX '.+@.+' EXCLUDE ('test@company.com'), device_id EXCLUDE REGEX '0+')",
            "CREATE ENTITY user ID TYPES (user_id LIMIT 1, email INCLUDE REGEX '.+@.+' LIMIT 5, \
             anonymous_id EXCLUDE ('') LIMIT 50)",
            "CREATE OR REPLACE ENTITY account ID TYPES (account_id) MAIN ID account_key",
            "CREATE ENTITY user ID TYPES (user_id, email) RULES FROM 'rules.csv'",
            "CREATE ENTITY user ID TYPES (user_id) MAIN ID key RULES FROM (SELECT * FROM r WHERE x = 1)",
            "CREATE INPUT identifies FOR user IDS (user_id AS user_id, anonymous_id AS anonymous_id, \
             lower(email) AS email) OCCURRED AT \"timestamp\"",
            "CREATE OR REPLACE INPUT tracks FOR user FROM (SELECT * FROM 's3://acme/tracks/' \
             WHERE event <> 'test') IDS (user_id AS user_id) OCCURRED AT ts WHERE ts > '2024-01-01'",
            "CREATE INPUT orders FOR user FROM 'testdata/ecommerce/orders/*.parquet' \
             IDS (upper(email) AS email)",
            "CREATE INPUT crm FOR user FROM sales.contacts IDS (\"E-mail\" AS email)",
            "CREATE INPUT refunds FOR user FROM sales.refunds LOOKUP IDS (email AS email) OCCURRED AT ts",
            "CREATE INPUT lookup FOR user LOOKUP IDS (a AS id)",
            "DROP ENTITY user",
            "DROP INPUT IF EXISTS tracks",
            "SHOW ENTITIES",
            "SHOW INPUTS",
            "DESCRIBE ENTITY user",
            "CREATE ENTITY VAR user.ltv AS sum(total) FROM orders DEFAULT 0",
            "CREATE OR REPLACE ENTITY VAR user.first_source AS first_value(source ORDER BY \"timestamp\") \
             FROM identifies WHERE source <> '' HIDDEN DESCRIPTION 'first campaign, it''s set once'",
            "CREATE ENTITY VAR user.is_engaged AS active_days >= 3 AND user.ltv > 0",
            "CREATE ENTITY VAR \"User\".\"Days\" AS count(DISTINCT date_trunc('day', ts)) FROM t",
            "CREATE INPUT VAR orders.rank_in_day AS rank() OVER (PARTITION BY day ORDER BY total DESC) \
             WHERE total > 0 DEFAULT -1",
            "CREATE OR REPLACE INPUT VAR tracks.day AS date_trunc('day', ts) DESCRIPTION 'the day'",
            "CREATE COHORT engaged FOR user WHERE is_engaged AND ltv > 100",
            "CREATE OR REPLACE COHORT big FOR user EXTENDS engaged WHERE NOT (ltv < 50) \
             DESCRIPTION 'big spenders'",
            "DROP ENTITY VAR user.ltv",
            "DROP INPUT VAR IF EXISTS orders.rank_in_day",
            "DROP COHORT IF EXISTS engaged",
            "DROP ENTITY var",
            "CREATE ENTITY var ID TYPES (id)",
            "CREATE INPUT var FOR user IDS (a AS id)",
            "SHOW VARS",
            "SHOW COHORTS",
            "CREATE PROFILE STORE 's3://acme/profiles/it''s'",
            "REFRESH PROFILE STORE",
            "REFRESH PROFILE STORE FULL",
            "REFRESH PROFILE STORE CHANGES TO 'sync/'",
            "REFRESH PROFILE STORE FULL CHANGES TO 's3://acme/sync/'",
        ] {
            assert_round_trip(sql);
            let printed = parse_statement(sql).unwrap().to_string();
            assert_eq!(
                printed,
                sql.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .replace("( ", "(")
            );
        }
    }

    #[test]
    fn profile_statement_errors_say_what_was_expected() {
        for (sql, expected) in [
            ("CREATE ENTITY user (user_id)", "Expected: ID TYPES"),
            (
                "CREATE ENTITY user ID TYPES (email INCLUDE REGEX)",
                "Expected: literal string",
            ),
            ("CREATE INPUT t FOR user IDS (a)", "Expected: AS"),
            (
                "CREATE ENTITY user ID TYPES (a LIMIT 'x')",
                "Expected: literal int",
            ),
            (
                "CREATE ENTITY user ID TYPES (a LIMIT 1 LIMIT 2)",
                "Expected: ), found: LIMIT",
            ),
            ("CREATE INPUT t user IDS (a AS b)", "Expected: FOR"),
            ("CREATE ENTITY user ID TYPES (a) extra", "end of statement"),
            ("CREATE ENTITY VAR user AS 1", "Expected: ."),
            ("CREATE ENTITY VAR user.x sum(a)", "Expected: AS"),
            (
                "CREATE ENTITY VAR user.x AS sum(a) FROM",
                "Expected: identifier",
            ),
            ("CREATE COHORT c FOR user", "Expected: WHERE"),
            (
                "CREATE ENTITY VAR user.x AS 1 DESCRIPTION 2",
                "Expected: literal string",
            ),
            ("CREATE PROFILE STORE store", "Expected: literal string"),
            ("REFRESH PROFILE STORE NOW", "end of statement"),
            (
                "REFRESH PROFILE STORE CHANGES TO sync",
                "Expected: literal string: the changes' folder",
            ),
            ("REFRESH PROFILE STORE CHANGES 'sync/'", "end of statement"),
        ] {
            let err = parse_statement(sql).unwrap_err().to_string();
            assert!(err.contains(expected), "{sql}: {err}");
        }
    }

    #[test]
    fn describe_of_a_table_is_still_datafusion() {
        assert!(matches!(
            parse_statement("DESCRIBE orders").unwrap(),
            Statement::DataFusion(_)
        ));
        assert!(matches!(
            parse_statement("SHOW TABLES").unwrap(),
            Statement::DataFusion(_)
        ));
        assert!(matches!(
            parse_statement("DROP TABLE t").unwrap(),
            Statement::DataFusion(_)
        ));
    }

    #[test]
    fn several_statements() {
        let statements = parse_statements("SELECT 1; ; SELECT 2;").unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[1].to_string(), "SELECT 2");
    }

    #[test]
    fn exactly_one_statement() {
        let err = parse_statement("SELECT 1; SELECT 2").unwrap_err();
        assert!(
            matches!(err, SqlError::StatementCount { found: 2 }),
            "{err}"
        );
    }

    #[test]
    fn parse_error_keeps_the_location() {
        let err = parse_statement("SELECT *\nFROM t WHERE = 1").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("Line: 2"), "{message}");
        assert!(!message.contains("ParserError("), "{message}");
    }

    #[test]
    fn missing_separator_is_an_error() {
        let err = parse_statements("SELECT 1 SELECT 2").unwrap_err();
        assert!(err.to_string().contains("end of statement"), "{err}");
    }
}
