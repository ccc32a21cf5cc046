// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `table_changes('dir', from [, to])`: a Delta table's change data feed, and
//! `delta_history('dir')`: its commits.
//!
//! A table function is called while the statement is planned, which cannot wait on a
//! store; opening a table (reading its log) does. So before a statement is planned,
//! its calls of these functions are found and their tables opened
//! ([`resolve_calls`]), and the functions take them from there.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::Expr;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, TableFactor, Value, Visitor,
};

use super::table_location;
use crate::statement_visit::visit_sql;

/// The change data feed function.
pub(crate) const TABLE_CHANGES: &str = "table_changes";
/// The history function.
pub(crate) const DELTA_HISTORY: &str = "delta_history";

/// One argument of a call, as written.
#[derive(Debug, Clone, PartialEq)]
enum Argument {
    Text(String),
    Number(String),
    /// Anything else (a column, an expression).
    Other(String),
}

/// A call, checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Call {
    Changes {
        path: String,
        from: u64,
        to: Option<u64>,
    },
    History {
        path: String,
    },
}

impl Call {
    /// The call of `function` with `arguments`, or an error showing how it is called.
    fn parse(function: &str, arguments: &[Argument]) -> Result<Self> {
        let usage = |detail: &str| {
            let example = if function == TABLE_CHANGES {
                "table_changes('out/vip_members', 7) or table_changes('dir', 2, 5)"
            } else {
                "delta_history('out/vip_members')"
            };
            DataFusionError::Plan(format!("{function}: {detail}; call it as {example}"))
        };
        let version = |argument: &Argument| match argument {
            Argument::Number(n) => n
                .parse::<u64>()
                .map_err(|_| usage(&format!("version {n} is not a version number (0, 1, ...)"))),
            other => Err(usage(&format!(
                "a version is a number, not {}",
                describe(other)
            ))),
        };
        let path = match arguments.first() {
            Some(Argument::Text(path)) => path.clone(),
            Some(other) => {
                return Err(usage(&format!(
                    "the table is a quoted path, not {}",
                    describe(other)
                )));
            }
            None => return Err(usage("name the table's folder")),
        };
        match (function, arguments.len()) {
            (TABLE_CHANGES, 2) => Ok(Call::Changes {
                path,
                from: version(&arguments[1])?,
                to: None,
            }),
            (TABLE_CHANGES, 3) => Ok(Call::Changes {
                path,
                from: version(&arguments[1])?,
                to: Some(version(&arguments[2])?),
            }),
            (TABLE_CHANGES, _) => Err(usage("it takes a table and one or two versions")),
            (_, 1) => Ok(Call::History { path }),
            _ => Err(usage("it takes one argument, the table")),
        }
    }

    /// Opens the call's table: its changes or its history.
    async fn open(&self, runtime: &RuntimeEnv) -> Result<Arc<dyn TableProvider>> {
        match self {
            Call::Changes { path, from, to } => {
                let location = table_location(runtime, path)?;
                Ok(knit_delta::changes(&location, *from, *to).await?)
            }
            Call::History { path } => {
                let location = table_location(runtime, path)?;
                let batch = knit_delta::history(&location).await?;
                Ok(Arc::new(MemTable::try_new(
                    batch.schema(),
                    vec![vec![batch]],
                )?))
            }
        }
    }
}

fn describe(argument: &Argument) -> String {
    match argument {
        Argument::Text(text) => format!("'{text}'"),
        Argument::Number(number) => number.clone(),
        Argument::Other(expr) => expr.clone(),
    }
}

/// The tables of the calls in the statement being planned.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResolvedCalls(Arc<Mutex<HashMap<Call, Arc<dyn TableProvider>>>>);

impl ResolvedCalls {
    fn get(&self, call: &Call) -> Option<Arc<dyn TableProvider>> {
        self.0.lock().ok()?.get(call).cloned()
    }

    fn insert(&self, call: Call, table: Arc<dyn TableProvider>) {
        if let Ok(mut calls) = self.0.lock() {
            calls.insert(call, table);
        }
    }

    /// Forgets the tables once the statement is planned (its plan holds them).
    pub(crate) fn clear(&self) {
        if let Ok(mut calls) = self.0.lock() {
            calls.clear();
        }
    }
}

/// Opens the tables of the calls of `table_changes` and `delta_history` in
/// `statement`, for the functions to find while it is planned.
pub(crate) async fn resolve_calls(
    runtime: &RuntimeEnv,
    statement: &DFStatement,
    resolved: &ResolvedCalls,
) -> Result<()> {
    let mut finder = CallFinder::default();
    visit_sql(statement, &mut finder);
    for (function, arguments) in finder.calls {
        let call = Call::parse(&function, &arguments)?;
        if resolved.get(&call).is_none() {
            let table = call.open(runtime).await?;
            resolved.insert(call, table);
        }
    }
    Ok(())
}

/// Collects the calls of the Delta table functions in a statement.
#[derive(Default)]
struct CallFinder {
    calls: Vec<(String, Vec<Argument>)>,
}

impl Visitor for CallFinder {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name,
            args: Some(args),
            ..
        } = factor
        {
            let function = name.to_string().to_ascii_lowercase();
            if function == TABLE_CHANGES || function == DELTA_HISTORY {
                let arguments = args.args.iter().map(sql_argument).collect();
                self.calls.push((function, arguments));
            }
        }
        ControlFlow::Continue(())
    }
}

fn sql_argument(argument: &FunctionArg) -> Argument {
    let FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) = argument else {
        return Argument::Other(argument.to_string());
    };
    match expr {
        SqlExpr::Value(value) => match &value.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                Argument::Text(s.clone())
            }
            Value::Number(n, _) => Argument::Number(n.clone()),
            other => Argument::Other(other.to_string()),
        },
        other => Argument::Other(other.to_string()),
    }
}

fn literal_argument(expr: &Expr) -> Argument {
    match expr {
        Expr::Literal(value, _) => match value {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)) => Argument::Text(s.clone()),
            ScalarValue::Int64(Some(_))
            | ScalarValue::Int32(Some(_))
            | ScalarValue::UInt64(Some(_))
            | ScalarValue::UInt32(Some(_))
            | ScalarValue::Int16(Some(_))
            | ScalarValue::Int8(Some(_)) => Argument::Number(value.to_string()),
            other => Argument::Other(other.to_string()),
        },
        other => Argument::Other(other.to_string()),
    }
}

/// `table_changes` or `delta_history`.
#[derive(Debug)]
pub(crate) struct DeltaTableFunction {
    name: &'static str,
    resolved: ResolvedCalls,
}

impl DeltaTableFunction {
    pub(crate) fn new(name: &'static str, resolved: ResolvedCalls) -> Self {
        Self { name, resolved }
    }
}

impl TableFunctionImpl for DeltaTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs<'_, '_>) -> Result<Arc<dyn TableProvider>> {
        let arguments: Vec<Argument> = args.exprs().iter().map(literal_argument).collect();
        let call = Call::parse(self.name, &arguments)?;
        self.resolved.get(&call).ok_or_else(|| {
            DataFusionError::Plan(format!(
                "{}: write its arguments as literals (a quoted path and version numbers)",
                self.name
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_checked() {
        let text = |s: &str| Argument::Text(s.to_string());
        let number = |s: &str| Argument::Number(s.to_string());
        assert_eq!(
            Call::parse(TABLE_CHANGES, &[text("d"), number("3")]).unwrap(),
            Call::Changes {
                path: "d".into(),
                from: 3,
                to: None
            }
        );
        assert_eq!(
            Call::parse(TABLE_CHANGES, &[text("d"), number("1"), number("2")]).unwrap(),
            Call::Changes {
                path: "d".into(),
                from: 1,
                to: Some(2)
            }
        );
        let error = Call::parse(TABLE_CHANGES, &[text("d")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("one or two versions"), "{error}");
        let error = Call::parse(TABLE_CHANGES, &[text("d"), number("1.5")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a version number"), "{error}");
        let error = Call::parse(DELTA_HISTORY, &[number("1")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("quoted path"), "{error}");
    }
}
