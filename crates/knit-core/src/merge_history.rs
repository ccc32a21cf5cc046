// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `current_main_id('user', id)`: today's main id of an id that a profile store's merges
//! retired, read from the store named by `SET knit.profile_store = 'path'`.
//!
//! When two customers turn out to be one, the later one's main id disappears, and each
//! store run appends the main ids it retired to `<id graph>_redirects` (`old_main_id`,
//! `new_main_id`, `run`). Replayed in run order, those rows map every main id ever
//! given out to the one that stands for its customer now: a chain (a to b, then b to c)
//! ends at c, and a main id that a later run gave back (a rebuild that split a cluster
//! again) is its own once more. Ids that no run retired (today's main ids, and ids the
//! store never saw) map to themselves; NULL stays NULL.
//!
//! A scalar function is evaluated without waiting on a store, and reading the store
//! does wait. So before a statement is planned its calls are found, and each named
//! entity's redirects are read and replayed (`crate::profile_store`); the function
//! looks them up from there.

use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::sync::{Arc, RwLock};

use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DFResult, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments, Value, Visitor,
};

use crate::error::{CoreError, Result};
use crate::statement_visit::visit_sql;

/// The function's name.
pub(crate) const CURRENT_MAIN_ID: &str = "current_main_id";

/// One entity's replayed redirects: old main id to today's.
type MainIdMap = Arc<HashMap<String, String>>;

/// Each entity's replayed redirects, as the last statement that called the function
/// read them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redirects {
    by_entity: Arc<RwLock<HashMap<String, MainIdMap>>>,
}

impl Redirects {
    fn get(&self, entity: &str) -> Option<MainIdMap> {
        let maps = self.by_entity.read().unwrap_or_else(|e| e.into_inner());
        maps.get(entity).cloned()
    }

    pub(crate) fn insert(&self, entity: String, map: HashMap<String, String>) {
        let mut maps = self.by_entity.write().unwrap_or_else(|e| e.into_inner());
        maps.insert(entity, Arc::new(map));
    }
}

/// Replays redirect rows `(old, new, run)` in run order: each row points `old`, and
/// every id that pointed to `old`, to `new`. Ids left pointing to themselves (a main id
/// given back) are dropped.
pub(crate) fn replay(mut rows: Vec<(String, String, i64)>) -> HashMap<String, String> {
    rows.sort_by_key(|(_, _, run)| *run);
    let mut current: HashMap<String, String> = HashMap::new();
    // The ids pointing to each target, to re-point them when it is retired in turn.
    let mut pointing: HashMap<String, Vec<String>> = HashMap::new();
    for (old, new, _) in rows {
        let mut moved = pointing.remove(&old).unwrap_or_default();
        moved.push(old);
        for id in &moved {
            current.insert(id.clone(), new.clone());
        }
        pointing.entry(new).or_default().extend(moved);
    }
    current.retain(|id, target| id != target);
    current
}

/// The entities named by the `current_main_id` calls of a statement.
pub(crate) fn called_entities(statement: &DFStatement) -> Result<BTreeSet<String>> {
    let mut finder = CallFinder::default();
    visit_sql(statement, &mut finder);
    if let Some(bad) = finder.not_literal {
        return Err(CoreError::invalid(format!(
            "current_main_id({bad}, ...): the first argument is an entity's name, written \
             as text, such as current_main_id('user', old_main_id)"
        )));
    }
    Ok(finder.entities)
}

#[derive(Default)]
struct CallFinder {
    entities: BTreeSet<String>,
    not_literal: Option<String>,
}

impl Visitor for CallFinder {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &SqlExpr) -> ControlFlow<()> {
        if let SqlExpr::Function(function) = expr
            && function
                .name
                .to_string()
                .eq_ignore_ascii_case(CURRENT_MAIN_ID)
            && let FunctionArguments::List(list) = &function.args
        {
            match list.args.first() {
                Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Value(value))))
                    if matches!(value.value, Value::SingleQuotedString(_)) =>
                {
                    if let Value::SingleQuotedString(entity) = &value.value {
                        self.entities.insert(entity.clone());
                    }
                }
                Some(other) => self.not_literal = Some(other.to_string()),
                None => {}
            }
        }
        ControlFlow::Continue(())
    }
}

/// `current_main_id(entity, id)`.
#[derive(Debug)]
pub(crate) struct CurrentMainId {
    signature: Signature,
    redirects: Redirects,
}

impl CurrentMainId {
    pub(crate) fn new(redirects: Redirects) -> Self {
        Self {
            signature: Signature::exact(vec![DataType::Utf8, DataType::Utf8], Volatility::Stable),
            redirects,
        }
    }
}

impl PartialEq for CurrentMainId {
    fn eq(&self, other: &Self) -> bool {
        self.signature == other.signature
    }
}

impl Eq for CurrentMainId {}

impl std::hash::Hash for CurrentMainId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        CURRENT_MAIN_ID.hash(state);
    }
}

impl ScalarUDFImpl for CurrentMainId {
    fn name(&self) -> &str {
        CURRENT_MAIN_ID
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let [entity, ids] = args.args.as_slice() else {
            return plan_err!("current_main_id takes an entity and an id");
        };
        let ColumnarValue::Scalar(ScalarValue::Utf8(Some(entity))) = entity else {
            return plan_err!(
                "current_main_id: the first argument is an entity's name, written as text"
            );
        };
        let Some(map) = self.redirects.get(entity) else {
            return exec_err!(
                "current_main_id('{entity}', ...): the redirects of '{entity}' were not read; \
                 call it in a SQL statement, after SET knit.profile_store = 'path'"
            );
        };
        let scalar = matches!(ids, ColumnarValue::Scalar(_));
        let ids = ids.to_array(args.number_rows)?;
        let Some(ids) = ids.as_any().downcast_ref::<StringArray>() else {
            return exec_err!("current_main_id: the id is not text");
        };
        let current: StringArray = ids
            .iter()
            .map(|id| id.map(|id| map.get(id).map_or(id, String::as_str)))
            .collect();
        let current: ArrayRef = Arc::new(current);
        if scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &current, 0,
            )?));
        }
        Ok(ColumnarValue::Array(current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(list: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
        list.iter()
            .map(|(a, b, r)| (a.to_string(), b.to_string(), *r))
            .collect()
    }

    #[test]
    fn chains_end_at_the_last_main_id_whatever_the_row_order() {
        // a -> b in run 2, b -> c in run 3 (listed first), and d -> c in run 3.
        let map = replay(rows(&[("b", "c", 3), ("a", "b", 2), ("d", "c", 3)]));
        assert_eq!(map.get("a").map(String::as_str), Some("c"));
        assert_eq!(map.get("b").map(String::as_str), Some("c"));
        assert_eq!(map.get("d").map(String::as_str), Some("c"));
        assert_eq!(map.get("c"), None);
    }

    #[test]
    fn a_main_id_given_back_is_its_own_again() {
        // x merged into y in run 2; a rebuild in run 5 made y's ids x's again.
        let map = replay(rows(&[("x", "y", 2), ("y", "x", 5)]));
        assert_eq!(map.get("x"), None);
        assert_eq!(map.get("y").map(String::as_str), Some("x"));
    }

    #[test]
    fn calls_name_their_entities_as_text() {
        let parse = |sql: &str| {
            let dialect = datafusion::sql::sqlparser::dialect::GenericDialect {};
            let statement = datafusion::sql::sqlparser::parser::Parser::parse_sql(&dialect, sql)
                .unwrap()
                .pop()
                .unwrap();
            called_entities(&DFStatement::Statement(Box::new(statement)))
        };
        let entities = parse(
            "SELECT current_main_id('user', a), CURRENT_MAIN_ID('account', b) FROM t \
             WHERE current_main_id('user', c) IS NOT NULL",
        )
        .unwrap();
        assert_eq!(
            entities.into_iter().collect::<Vec<_>>(),
            vec!["account".to_string(), "user".to_string()]
        );
        let error = parse("SELECT current_main_id(kind, a) FROM t").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the first argument is an entity's name")
        );
        assert!(parse("SELECT upper('user')").unwrap().is_empty());
    }
}
