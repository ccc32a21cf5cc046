// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Scoping an entity to some of its clusters: the stitch reads only the input rows that
//! hold one of the scope's ids, so every query over the entity (its id graph, edges,
//! features, cohorts) sees those clusters alone.
//!
//! An incremental refresh scopes each entity to the clusters its new rows touch: the
//! ids of those rows and every id the stored graph puts in a cluster with one of them.
//! Clusters are closed under rows (a row's ids are all in one cluster), so the rows
//! holding a scoped id are exactly the rows of the scoped clusters, and the stitch of
//! those rows gives those clusters as a run over all rows would: the stitch is computed
//! cluster by cluster (see `stitch`). Rows whose ids are all outside the scope map to
//! no entity, so feature queries leave them out too.

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility, col, lit,
};

use crate::error::internal;

/// A scope's ids of one type. The stitch's read probes the set once for each id of
/// every input row (tens of millions per refresh), so it hashes with `ahash` rather
/// than the standard library's SipHash: the scoped stitch of a 1% refresh at 10M edges
/// (1.6M ids in scope, 23M input rows) took 4.6–4.7 s rather than 5.1–5.4 s.
type IdSet = HashSet<String, ahash::RandomState>;

/// The ids an entity is scoped to, by id type.
#[derive(Debug, Clone, Default)]
pub struct EntityScope {
    ids: BTreeMap<String, Arc<IdSet>>,
}

impl EntityScope {
    /// An empty scope: the entity has no cluster until ids are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an id of type `id_type`.
    pub fn add(&mut self, id_type: &str, id: String) {
        Arc::make_mut(self.ids.entry(id_type.to_string()).or_default()).insert(id);
    }

    /// How many ids the scope holds.
    pub fn len(&self) -> usize {
        self.ids.values().map(|ids| ids.len()).sum()
    }

    /// True when the scope holds no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `plan` (an input's id columns, named by `id_columns`, of the types `types`) with
    /// only the rows holding an id of the scope. Each column is matched by a function
    /// holding its type's ids in a hash set: a list of literals as large as a scope
    /// would be copied by every optimizer rule that rewrites the plan.
    pub(crate) fn restrict(
        &self,
        plan: LogicalPlan,
        id_columns: &[String],
        types: &[&str],
    ) -> Result<LogicalPlan> {
        let conditions: Vec<Expr> = id_columns
            .iter()
            .zip(types)
            .filter_map(|(column, id_type)| {
                let ids = self.ids.get(*id_type).filter(|ids| !ids.is_empty())?;
                let matcher = ScalarUDF::from(InScope::new(id_type, Arc::clone(ids)));
                Some(matcher.call(vec![col(column.as_str())]))
            })
            .collect();
        let condition = conditions
            .into_iter()
            .reduce(Expr::or)
            .unwrap_or_else(|| lit(false));
        LogicalPlanBuilder::from(plan).filter(condition)?.build()
    }
}

/// The name of [`InScope`].
pub(crate) const IN_SCOPE_FUNCTION: &str = "__knit_in_scope";

/// `__knit_in_scope(id)`: true when the id is one of a scope's ids of one type (false
/// for NULL). Two are equal when they hold the same set, so that plans of one scope
/// compare equal (and a kept stitch is found again) while plans of two scopes do not.
#[derive(Debug)]
struct InScope {
    id_type: String,
    ids: Arc<IdSet>,
    signature: Signature,
}

impl InScope {
    fn new(id_type: &str, ids: Arc<IdSet>) -> Self {
        Self {
            id_type: id_type.to_string(),
            ids,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl PartialEq for InScope {
    fn eq(&self, other: &Self) -> bool {
        self.id_type == other.id_type && Arc::ptr_eq(&self.ids, &other.ids)
    }
}

impl Eq for InScope {}

impl Hash for InScope {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id_type.hash(state);
        Arc::as_ptr(&self.ids).hash(state);
    }
}

impl ScalarUDFImpl for InScope {
    fn name(&self) -> &str {
        IN_SCOPE_FUNCTION
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null] => {
                Ok(DataType::Boolean)
            }
            other => plan_err!("__knit_in_scope takes one text id, not {other:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("__knit_in_scope takes one argument");
        };
        let array = value.to_array(args.number_rows)?;
        let test = |id: Option<&str>| Some(id.is_some_and(|id| self.ids.contains(id)));
        let matches: BooleanArray = match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().iter().map(test).collect(),
            DataType::LargeUtf8 => array.as_string::<i64>().iter().map(test).collect(),
            DataType::Utf8View => array.as_string_view().iter().map(test).collect(),
            DataType::Null => (0..array.len()).map(|_| Some(false)).collect(),
            other => return exec_err!("__knit_in_scope takes text ids, not {other}"),
        };
        Ok(ColumnarValue::Array(Arc::new(matches)))
    }
}

/// The scopes of a session's entities; an entity without one is whole.
#[derive(Debug, Clone, Default)]
pub struct EntityScopes {
    scopes: Arc<RwLock<BTreeMap<String, Arc<EntityScope>>>>,
}

impl EntityScopes {
    /// Scopes `entity` to `scope`, or makes it whole again with `None`.
    pub fn set(&self, entity: &str, scope: Option<EntityScope>) -> Result<()> {
        let mut scopes = self
            .scopes
            .write()
            .map_err(|_| internal("the entity scopes' lock is poisoned"))?;
        match scope {
            Some(scope) => scopes.insert(entity.to_string(), Arc::new(scope)),
            None => scopes.remove(entity),
        };
        Ok(())
    }

    /// The scope of `entity`, if it has one.
    pub fn get(&self, entity: &str) -> Result<Option<Arc<EntityScope>>> {
        Ok(self
            .scopes
            .read()
            .map_err(|_| internal("the entity scopes' lock is poisoned"))?
            .get(entity)
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::prelude::SessionContext;

    async fn kept(scope: &EntityScope, types: &[&str]) -> Vec<String> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("u1"), Some("u2"), None])),
                Arc::new(StringArray::from(vec![Some("e1"), None, Some("e3")])),
            ],
        )
        .unwrap();
        let ctx = SessionContext::new();
        let frame = ctx.read_batch(batch).unwrap();
        let plan = scope
            .restrict(
                frame.logical_plan().clone(),
                &["a".to_string(), "b".to_string()],
                types,
            )
            .unwrap();
        let batches = ctx
            .execute_logical_plan(plan)
            .await
            .unwrap()
            .collect()
            .await;
        let mut rows = Vec::new();
        for batch in batches.unwrap() {
            let a = batch
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            let b = batch
                .column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            for i in 0..batch.num_rows() {
                rows.push(format!(
                    "{:?}/{:?}",
                    a.value(i),
                    b.is_valid(i).then(|| b.value(i))
                ));
            }
        }
        rows
    }

    #[tokio::test]
    async fn rows_holding_a_scoped_id_of_their_column_type_stay() {
        let mut scope = EntityScope::new();
        scope.add("email", "e3".to_string());
        scope.add("user_id", "u1".to_string());
        // "e1" is an email but not in the scope; "u1" matches only in the user_id column.
        assert_eq!(
            kept(&scope, &["user_id", "email"]).await,
            vec!["\"u1\"/Some(\"e1\")", "\"\"/Some(\"e3\")"]
        );
        // The same value under another type is another id.
        assert!(kept(&scope, &["email", "user_id"]).await.is_empty());
        assert!(
            kept(&EntityScope::new(), &["user_id", "email"])
                .await
                .is_empty()
        );
        assert_eq!(scope.len(), 2);
    }
}
