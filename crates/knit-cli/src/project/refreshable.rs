// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Whether a project's outputs can be refreshed cluster by cluster: true when every
//! value of a cluster's rows in every output depends on that cluster's input rows
//! alone. Aggregates over an input, vars over other vars, cohorts and id graphs do.
//! What may not, and makes a run full:
//!
//! - a window in an entity var or a cohort (it ranks entities against each other);
//! - a window in an input var that is not partitioned by the row's main id (`rudder_id`
//!   or the entity's main id column): one partitioned by an id column spans clusters
//!   through its rows whose id is NULL or filtered out, which pb's window counts (over
//!   the rows of every entity) and a refresh would count over the touched clusters'
//!   rows only;
//! - a SQL model that joins, groups, unions, de-duplicates or limits rows (a new row of
//!   one table may change rows read from another);
//! - an input read by URL rather than through a table whose files a run lists;
//! - an entity without its id graph among the outputs, which a refresh starts from;
//! - an output of a SQL model's rows (a `sql_template` pb keeps as a table or view).
//!
//! And a definition that reads the time of the run (`now()`, `current_date`, ...) makes
//! every run full, new files or not: its values move for every cluster (see
//! [`reads_current_time`]).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DFStatement;
use knit_pb::{Script, ScriptStatement};
use knit_sql::Statement;
use knit_sql::sqlparser::ast::{
    Expr, Query, SetExpr, Statement as SqlStatement, TableFactor, WindowType, visit_expressions,
};

/// The name input vars read an input row's main id by (pb's).
const ROW_MAIN_ID: &str = "rudder_id";

/// Why `script` cannot be refreshed cluster by cluster, if it cannot.
pub(super) fn not_incremental(script: &Script) -> Option<String> {
    // The main id columns, as written.
    let parsed: Vec<(&ScriptStatement, Option<Statement>)> = script
        .statements
        .iter()
        .map(|s| (s, knit_sql::parse_statement(&s.sql).ok()))
        .collect();
    let mut mains = BTreeSet::new();
    for (_, parsed) in &parsed {
        if let Some(Statement::CreateEntity(create)) = parsed {
            mains.insert(normal(&format!("{}_main_id", create.name.value)));
            mains.insert(ROW_MAIN_ID.to_string());
        }
    }
    // A SQL model's rows are not an entity's: nothing scopes them to the touched clusters.
    if let Some(output) = script
        .statements
        .iter()
        .find(|s| s.output.is_some() && s.entity.is_none())
        .and_then(|s| s.output.as_deref())
    {
        return Some(format!(
            "output {output} holds a SQL model's rows, which belong to no entity's clusters"
        ));
    }
    for (statement, parsed) in &parsed {
        if let Some(reason) = not_local(statement, parsed.as_ref(), &mains) {
            return Some(reason);
        }
    }
    let entities: BTreeSet<&str> = script
        .statements
        .iter()
        .filter_map(|s| s.entity.as_deref())
        .collect();
    for entity in entities {
        if graph_output(script, entity).is_none() {
            return Some(format!(
                "entity {entity} has no id graph output, which a refresh starts from"
            ));
        }
    }
    None
}

/// Why one statement's values may depend on rows of other clusters, if they may.
fn not_local(
    statement: &ScriptStatement,
    parsed: Option<&Statement>,
    mains: &BTreeSet<String>,
) -> Option<String> {
    let name = || {
        statement.origin.as_ref().map_or_else(
            || statement.sql.clone(),
            |o| format!("{}: {}", o.file, o.key),
        )
    };
    let lower = statement.sql.to_lowercase();
    if lower.starts_with("create view") {
        let words: BTreeSet<&str> = lower
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .collect();
        if ["join", "group", "union", "distinct", "limit", "over"]
            .iter()
            .any(|w| words.contains(w))
        {
            return Some(format!("{} is a SQL model that combines rows", name()));
        }
        return None;
    }
    match parsed {
        Some(Statement::CreateInput(create)) => {
            let by_url = match &create.source {
                Some(knit_sql::InputSource::Table(name)) => name.to_string().contains("://"),
                Some(knit_sql::InputSource::Query(query)) => query.to_string().contains("://"),
                None => false,
            };
            by_url.then(|| format!("{} reads files by URL, which a run cannot list", name()))
        }
        Some(Statement::CreateInputVar(create)) => {
            let local = |partition: &[Expr]| {
                partition
                    .iter()
                    .any(|e| mains.contains(&normal(&e.to_string())))
            };
            windows(&create.expr)
                .iter()
                .any(|partition| !partition.as_ref().is_some_and(|p| local(p)))
                .then(|| {
                    format!(
                        "{} is a window not partitioned by the row's main id, whose rows may span entities",
                        name()
                    )
                })
        }
        Some(Statement::CreateEntityVar(create)) => (!windows(&create.expr).is_empty())
            .then(|| format!("{} is a window over entities", name())),
        Some(Statement::CreateCohort(create)) => (!windows(&create.condition).is_empty())
            .then(|| format!("{} is a window over entities", name())),
        _ => None,
    }
}

/// Functions whose value is the time of the run, as SQL and warehouses spell them;
/// those of the first list are also written without parentheses.
const CURRENT_TIME_KEYWORDS: &[&str] = &[
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
];
const CURRENT_TIME_FUNCTIONS: &[&str] = &[
    "now",
    "getdate",
    "sysdate",
    "systimestamp",
    "sysdatetime",
    "current_datetime",
    "today",
];

/// The first definition of `script` that reads the time of the run, with the function
/// it calls, if one does. Its values change as time passes, for every cluster, so a
/// refresh of the touched clusters would leave the others' stale: each run is full.
pub(super) fn reads_current_time(script: &Script) -> Option<String> {
    use knit_sql::sqlparser::tokenizer::Token;
    for statement in &script.statements {
        let Some(tokens) = knit_sql::significant_tokens(&statement.sql) else {
            continue;
        };
        for (at, token) in tokens.iter().enumerate() {
            let Token::Word(word) = token else {
                continue;
            };
            let name = word.value.to_lowercase();
            // A column or table of that name is not a call: `x.now`, `now.x`.
            let qualified = at > 0 && matches!(tokens[at - 1], Token::Period)
                || matches!(tokens.get(at + 1), Some(Token::Period));
            let called = matches!(tokens.get(at + 1), Some(Token::LParen));
            let is_call = CURRENT_TIME_KEYWORDS.contains(&name.as_str())
                || (CURRENT_TIME_FUNCTIONS.contains(&name.as_str()) && called);
            if word.quote_style.is_none() && !qualified && is_call {
                let what = statement.origin.as_ref().map_or_else(
                    || statement.sql.clone(),
                    |o| format!("{}: {}", o.file, o.key),
                );
                return Some(format!(
                    "{what} reads the time of the run ({}{}), which moves for every customer",
                    word.value,
                    if called { "()" } else { "" }
                ));
            }
        }
    }
    None
}

/// The `PARTITION BY` of each window function in `expr` (`None` for a named window).
fn windows(expr: &Expr) -> Vec<Option<Vec<Expr>>> {
    let mut found = Vec::new();
    let _ = visit_expressions(expr, |e| {
        if let Expr::Function(function) = e
            && let Some(over) = &function.over
        {
            found.push(match over {
                WindowType::WindowSpec(spec) => Some(spec.partition_by.clone()),
                WindowType::NamedWindow(_) => None,
            });
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

/// An expression's (or a name's) text compared without case or quotes.
pub(super) fn normal(text: &str) -> String {
    text.to_lowercase().replace('"', "")
}

/// The id graph output of `entity` (the one keyed by `other_id, other_id_type`).
pub(super) fn graph_output<'a>(script: &'a Script, entity: &str) -> Option<&'a str> {
    script
        .statements
        .iter()
        .find(|s| s.entity.as_deref() == Some(entity) && s.keys == ["other_id", "other_id_type"])
        .and_then(|s| s.output.as_deref())
}

/// The tables whose rows are an input's rows (an input's `FROM` table, or the table a
/// SQL model it reads selects from), as queries name them (lower case). A new file in
/// one of them adds input rows; a new file in any other table read beside them (an id
/// type filter's list, a joined table) may change rows already read.
pub(super) fn row_tables(script: &Script) -> BTreeSet<String> {
    let mut views: BTreeMap<String, Box<Query>> = BTreeMap::new();
    let mut sources: Vec<Source> = Vec::new();
    for statement in &script.statements {
        match knit_sql::parse_statement(&statement.sql) {
            Ok(Statement::DataFusion(df)) => {
                if let DFStatement::Statement(inner) = df.as_ref()
                    && let SqlStatement::CreateView(view) = inner.as_ref()
                {
                    views.insert(normal(&view.name.to_string()), view.query.clone());
                }
            }
            Ok(Statement::CreateInput(create)) => match &create.source {
                Some(knit_sql::InputSource::Table(name)) => {
                    sources.push(Source::Table(normal(&name.to_string())));
                }
                Some(knit_sql::InputSource::Query(query)) => {
                    sources.push(Source::Query(query.clone()));
                }
                None => {}
            },
            _ => {}
        }
    }
    let mut rows = BTreeSet::new();
    let mut seen = BTreeSet::new();
    while let Some(source) = sources.pop() {
        match source {
            Source::Table(name) => match views.get(&name) {
                Some(query) if seen.insert(name.clone()) => {
                    sources.push(Source::Query(query.clone()));
                }
                Some(_) => {}
                None => {
                    rows.insert(name);
                }
            },
            Source::Query(query) => {
                if let Some(base) = base_table(&query) {
                    sources.push(Source::Table(base));
                }
            }
        }
    }
    rows
}

/// Where an input's rows come from.
enum Source {
    Table(String),
    Query(Box<Query>),
}

/// The table a query's rows come from: the first table of its `FROM`, alone or with
/// joins (Knit's id filters join their lists to the rows, aliased `__knit_src`); any
/// other table it reads is read beside the rows. `None` for anything else (a union,
/// several `FROM` items, a subquery in `FROM`).
fn base_table(query: &Query) -> Option<String> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    let TableFactor::Table { name, .. } = &from.relation else {
        return None;
    };
    Some(normal(&name.to_string()))
}

#[cfg(test)]
mod tests {
    use knit_pb::{Script, ScriptStatement};

    use super::reads_current_time;

    fn script(sql: &str) -> Script {
        Script {
            statements: vec![ScriptStatement {
                sql: sql.to_string(),
                origin: None,
                output: None,
                keys: Vec::new(),
                entity: None,
                table: None,
            }],
        }
    }

    #[test]
    fn calls_of_the_run_time_are_found_and_names_alike_are_not() {
        for (sql, call) in [
            (
                "CREATE ENTITY VAR user.recent AS count(*) FROM events \
                 WHERE ts > now() - INTERVAL '7 days'",
                "now()",
            ),
            (
                "CREATE ENTITY VAR user.age AS date_diff('day', max(ts), CURRENT_DATE) FROM e",
                "CURRENT_DATE",
            ),
            (
                "CREATE VIEW v AS SELECT * FROM t WHERE d < current_timestamp()",
                "current_timestamp()",
            ),
            (
                "CREATE COHORT c FOR user WHERE last_seen > GETDATE ()",
                "GETDATE()",
            ),
        ] {
            let reason = reads_current_time(&script(sql)).expect(sql);
            assert!(
                reason.contains(&format!("reads the time of the run ({call})")),
                "{sql}: {reason}"
            );
        }
        for sql in [
            "CREATE ENTITY VAR user.n AS count(*) FROM events WHERE kind = 'now()'",
            "CREATE ENTITY VAR user.n AS max(\"now\") FROM events",
            "CREATE ENTITY VAR user.n AS max(e.now) FROM events e",
            "CREATE ENTITY VAR user.n AS max(today) FROM events",
            "CREATE ENTITY VAR user.n AS max(ts) FROM events WHERE ts < '2024-01-01'",
        ] {
            assert_eq!(reads_current_time(&script(sql)), None, "{sql}");
        }
    }
}
