// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Composing the SQL of a feature table, a feature view or a cohort.
//!
//! The composed query is plain DataFusion SQL, so the optimizer, EXPLAIN and every SQL
//! function apply to it. Its shape:
//!
//! ```text
//! s0         every cluster of the entity: its number and main id (entities without
//!            rows keep their NULLs)
//! rows_k     input k's rows (input_rows(..) plus one projection per level of input
//!            vars), each with its cluster, found by probing the stitch's key index with
//!            the row's ids (`__knit_lookup`, see `crate::stitch`)
//! a_n        per stage: the vars of one input aggregated in one GROUP BY cluster, a
//!            var's WHERE as a FILTER on its aggregates; a var that reads other vars
//!            joins the stage before
//! s_n        the previous stage LEFT JOIN its aggregates, DEFAULT applied, then one
//!            projection per level of vars without FROM (each level reads the levels
//!            before it; window functions over entities allowed)
//! ```
//!
//! The query's depth grows with the depth of the vars' dependencies, not with their
//! number: a thousand independent vars are one GROUP BY per input and one projection.
//!
//! A feature view joins the final stage to `id_stitch('user')` on the main id. Rows are
//! grouped and joined on the cluster's number, an integer, and the main id's text is
//! attached once per entity. Every stitch operator of the query shares one stitch (see
//! `IdStitchPlanner`), so the graph is built once.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, DuplicateTreatment, Expr, FunctionArguments, Ident, ObjectName, WindowType,
    visit_expressions, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::cast_blind::{AggregateCall, aggregate_calls, collide};
use super::count_distinct::COUNT_DISTINCT;
use super::group_keys::{distinct_arguments, hard_orderings};
use super::model::{EntityModel, Step};
use knit_sql::{quote_ident, quote_literal};

use super::names::{MAIN, Scope, check_only_vars, var_column};
use crate::catalog::{Input, id_column};
use crate::error::{CoreError, Result};
use crate::kept::KEEP_FUNCTION;
use crate::stitch::CLUSTER_COLUMN as CLUSTER;
use crate::stitch::{CLUSTER_COLUMN, LOOKUP_FUNCTION};
use crate::udtf::CLUSTERS_FUNCTION;

/// What a composed query returns.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape<'a> {
    /// One row per entity: the main id and every visible var.
    Table,
    /// One row per entity: the main id and every var, hidden ones too (pb's
    /// `<entity>_var_table`).
    VarTable,
    /// One row per id of this type: the id and every visible var.
    View(&'a str),
    /// The main ids.
    Members,
    /// The main id and the named vars, hidden ones too, computing only them and what
    /// they read, not kept (`entity_vars`, and to check a definition).
    Vars(&'a [&'a str]),
}

/// The names of the session's aggregate functions (lower case), to tell an aggregate
/// call, which a var's `WHERE` filters, from a scalar one.
#[derive(Debug, Clone, Default)]
pub(crate) struct AggregateNames(pub HashSet<String>);

impl AggregateNames {
    /// The aggregate functions of a session, aliases included.
    pub(crate) fn of(state: &datafusion::execution::context::SessionState) -> Self {
        Self(
            state
                .aggregate_functions()
                .keys()
                .map(|name| name.to_lowercase())
                .collect(),
        )
    }

    fn is_aggregate(&self, name: &ObjectName) -> bool {
        self.0.contains(&name.to_string().to_lowercase())
    }
}

/// The query for `shape` over the entity of `model`, restricted to the entities for which
/// every one of `conditions` (expressions over vars) is true.
pub(crate) fn compose(
    model: &EntityModel,
    conditions: &[Expr],
    shape: Shape<'_>,
    aggregates: &AggregateNames,
) -> Result<String> {
    let entity = &model.entity;
    let names = model.var_names();
    let mut condition_refs = BTreeSet::new();
    let mut rewritten_conditions = Vec::with_capacity(conditions.len());
    model.with_scope(&names, None, |scope| -> Result<()> {
        for condition in conditions {
            check_only_vars(
                scope,
                condition,
                &format!("cohort of entity '{}'", entity.name),
                "",
            )?;
            condition_refs.extend(scope.var_references(condition));
            rewritten_conditions.push(format!("({})", scope.rewrite(condition)));
        }
        Ok(())
    })?;
    let visible: Vec<&str> = model
        .vars
        .iter()
        .filter(|v| !v.definition.hidden)
        .map(|v| v.name.as_str())
        .collect();
    // The feature table, every feature view and every cohort of an entity compute all
    // its vars, in one query that is kept (`__knit_keep`): a run of all the entity's
    // outputs computes each var once.
    let mut wanted: Vec<&str> = match shape {
        Shape::Table | Shape::VarTable | Shape::View(_) | Shape::Members => {
            model.vars.iter().map(|v| v.name.as_str()).collect()
        }
        Shape::Vars(names) => names.to_vec(),
    };
    wanted.extend(condition_refs.iter().map(String::as_str));
    let steps = model.steps(wanted)?;

    let mut ctes: Vec<(String, String)> = vec![(
        stage_name(0),
        format!(
            "SELECT \"{CLUSTER}\", {} AS \"{MAIN}\" FROM {CLUSTERS_FUNCTION}({})",
            quote_ident(&entity.main_id_column),
            quote_literal(&entity.name)
        ),
    )];
    // The rows of each input that some var aggregates, in the entity's input order.
    let mut row_tables: BTreeMap<String, String> = BTreeMap::new();
    for input in &model.inputs {
        if steps
            .iter()
            .any(|s| s.var.from.as_deref() == Some(input.name.as_str()))
        {
            let table = format!("\"__knit_rows_{}\"", row_tables.len());
            ctes.push((table.clone(), rows_sql(model, input)?));
            row_tables.insert(input.name.clone(), table);
        }
    }

    let mut composer = Composer {
        model,
        names: &names,
        aggregates,
        ctes,
        state: 0,
        carried: vec![CLUSTER.to_string(), MAIN.to_string()],
        aggregate_tables: 0,
    };
    let last_stage = steps.iter().map(|s| s.stage).max().unwrap_or(0);
    for stage in 0..=last_stage {
        let in_stage: Vec<&Step> = steps.iter().filter(|s| s.stage == stage).collect();
        composer.aggregate_stage(&in_stage, &row_tables)?;
        let last_level = in_stage.iter().map(|s| s.level).max().unwrap_or(0);
        for level in 1..=last_level {
            let at_level: Vec<&Step> = in_stage
                .iter()
                .copied()
                .filter(|s| s.level == level)
                .collect();
            composer.expression_level(&at_level);
        }
    }

    let mut ctes: Vec<String> = composer
        .ctes
        .into_iter()
        .map(|(name, sql)| format!("{name} AS ({sql})"))
        .collect();
    let mut last = stage_name(composer.state);
    if !matches!(shape, Shape::Vars(_)) {
        let vars = format!("WITH {} SELECT * FROM {last}", ctes.join(", "));
        last = "\"__knit_vars\"".to_string();
        ctes = vec![format!(
            "{last} AS (SELECT * FROM {KEEP_FUNCTION}(({vars}), '{MAIN}'))"
        )];
    }
    let main = quote_ident(&entity.main_id_column);
    let var_columns = |prefix: &str, names: &[&str]| -> String {
        names
            .iter()
            .map(|n| {
                format!(
                    ", {prefix}{} AS {}",
                    quote_ident(&var_column(n)),
                    quote_ident(n)
                )
            })
            .collect()
    };
    let filter = rewritten_conditions.join(" AND ");
    let body = match shape {
        Shape::Table => format!(
            "SELECT \"{MAIN}\" AS {main}{} FROM {last}{}",
            var_columns("", &visible),
            where_clause(&filter)
        ),
        Shape::VarTable => {
            let all: Vec<&str> = model.vars.iter().map(|v| v.name.as_str()).collect();
            format!(
                "SELECT \"{MAIN}\" AS {main}{} FROM {last}{}",
                var_columns("", &all),
                where_clause(&filter)
            )
        }
        Shape::Members => format!(
            "SELECT \"{MAIN}\" AS {main} FROM {last}{}",
            where_clause(&filter)
        ),
        Shape::Vars(names) => format!(
            "SELECT \"{MAIN}\" AS {main}{} FROM {last}",
            var_columns("", names)
        ),
        Shape::View(id_type) => {
            if entity.id_type_index(id_type).is_none() {
                let types: Vec<&str> = entity.id_types.iter().map(|t| t.name.as_str()).collect();
                return Err(CoreError::invalid(format!(
                    "entity '{}' has no id type '{id_type}' (its id types: {})",
                    entity.name,
                    types.join(", ")
                )));
            }
            let mut conditions = format!("g.other_id_type = {}", quote_literal(id_type));
            if !filter.is_empty() {
                conditions.push_str(&format!(" AND {filter}"));
            }
            format!(
                "SELECT g.other_id AS {}{} FROM {last} AS f JOIN id_stitch({}) AS g \
                 ON g.{} = f.\"{MAIN}\" WHERE {conditions}",
                quote_ident(id_type),
                var_columns("f.", &visible),
                quote_literal(&entity.name),
                quote_ident(&entity.main_id_column)
            )
        }
    };
    let sql = format!("WITH {} {body}", ctes.join(", "));
    tracing::debug!(entity = %entity.name, %sql, "composed feature query");
    Ok(sql)
}

/// The common table expressions of a query being composed, and the stage reached.
struct Composer<'a> {
    model: &'a EntityModel,
    names: &'a BTreeSet<String>,
    aggregates: &'a AggregateNames,
    ctes: Vec<(String, String)>,
    /// The number of the last stage written (`__knit_s<state>`).
    state: usize,
    /// The columns of the last stage written.
    carried: Vec<String>,
    /// How many aggregate tables are written.
    aggregate_tables: usize,
}

impl Composer<'_> {
    /// The aggregates of one stage: one `GROUP BY` per input (and per argument of other
    /// `DISTINCT` aggregates, and per ordering their aggregates require, see
    /// [`distinct_arguments`] and [`hard_orderings`]).
    ///
    /// The vars of a group that read no other var aggregate the input's rows alone and
    /// are joined to the stage before. A group whose vars read other vars aggregates the
    /// stage before joined to the input's rows, carrying every column of that stage
    /// through its `GROUP BY`: each stage is then read once, by the next. (DataFusion
    /// plans a common table expression once per reference, so a stage read twice, by
    /// the next stage and by the rows' join, would double the plan at every stage.)
    fn aggregate_stage(
        &mut self,
        steps: &[&Step],
        row_tables: &BTreeMap<String, String>,
    ) -> Result<()> {
        let model = self.model;
        let mut groups: Vec<AggregateGroup<'_>> = Vec::new();
        for &step in steps {
            let Some(from) = &step.var.from else {
                continue;
            };
            let distinct = distinct_arguments(&with_count_distinct(&step.var.definition.expr));
            let ordering = hard_orderings(&step.var.definition.expr);
            let reads = !step.var.references.is_empty();
            let calls = aggregate_calls(&step.var.definition.expr, |name| {
                self.aggregates.is_aggregate(name)
            });
            match groups.iter_mut().find(|g| {
                g.input == *from
                    && g.distinct == distinct
                    && (g.ordering.is_none() || ordering.is_none() || g.ordering == ordering)
                    && g.reads == reads
                    && !collide(&g.calls, &calls)
            }) {
                Some(group) => {
                    group.members.push(step);
                    group.calls.extend(calls);
                    group.ordering = group.ordering.take().or(ordering);
                }
                None => groups.push(AggregateGroup {
                    input: from.clone(),
                    distinct,
                    ordering,
                    reads,
                    calls,
                    members: vec![step],
                }),
            }
        }
        if groups.is_empty() {
            return Ok(());
        }
        // Groups reading only rows, joined to the stage before in one projection.
        let mut joins = Vec::new();
        let mut columns = Vec::new();
        for group in groups.iter().filter(|g| !g.reads) {
            let input = model.input(&group.input)?;
            let rows = row_tables
                .get(&group.input)
                .ok_or_else(|| CoreError::internal("an input without rows"))?;
            let mut selected = vec![format!("r.\"{CLUSTER}\"")];
            for step in &group.members {
                let value = self.aggregate_value(step, input, None);
                selected.push(format!(
                    "{value} AS {}",
                    quote_ident(&var_column(&step.var.name))
                ));
            }
            let sql = format!(
                "SELECT {} FROM {rows} AS r GROUP BY r.\"{CLUSTER}\"",
                selected.join(", ")
            );
            let alias = format!("a{}", self.aggregate_tables);
            let table = format!("\"__knit_agg_{}\"", self.aggregate_tables);
            self.aggregate_tables += 1;
            self.ctes.push((table.clone(), sql));
            joins.push(format!(
                "LEFT JOIN {table} AS {alias} ON {alias}.\"{CLUSTER}\" = p.\"{CLUSTER}\""
            ));
            for step in &group.members {
                let column = quote_ident(&var_column(&step.var.name));
                columns.push(format!(
                    "{} AS {column}",
                    self.with_default(step, &format!("{alias}.{column}"))
                ));
            }
        }
        if !joins.is_empty() {
            let sql = format!(
                "SELECT p.*, {} FROM {} AS p {}",
                columns.join(", "),
                stage_name(self.state),
                joins.join(" ")
            );
            self.push_stage(sql, columns.len());
            for group in groups.iter().filter(|g| !g.reads) {
                self.carried
                    .extend(group.members.iter().map(|s| var_column(&s.var.name)));
            }
        }
        // Groups reading vars: the stage before, joined to the rows, grouped.
        for group in groups.iter().filter(|g| g.reads) {
            let input = model.input(&group.input)?;
            let rows = row_tables
                .get(&group.input)
                .ok_or_else(|| CoreError::internal("an input without rows"))?;
            let carried: Vec<String> = self
                .carried
                .iter()
                .map(|c| format!("p.{}", quote_ident(c)))
                .collect();
            let mut selected = carried.clone();
            for step in &group.members {
                let value = self.aggregate_value(step, input, Some("r"));
                let value = self.with_default(step, &format!("({value})"));
                selected.push(format!(
                    "{value} AS {}",
                    quote_ident(&var_column(&step.var.name))
                ));
            }
            let sql = format!(
                "SELECT {} FROM {} AS p LEFT JOIN {rows} AS r ON r.\"{CLUSTER}\" = \
                 p.\"{CLUSTER}\" GROUP BY {}",
                selected.join(", "),
                stage_name(self.state),
                carried.join(", ")
            );
            self.push_stage(sql, group.members.len());
            self.carried
                .extend(group.members.iter().map(|s| var_column(&s.var.name)));
        }
        Ok(())
    }

    /// An aggregate var's value in its `GROUP BY`. Its `WHERE` filters the rows of each
    /// of its aggregates (`FILTER (WHERE cond)`), and an entity none of whose rows pass
    /// gets NULL, as when the rows are filtered before grouping. With `joined_rows`,
    /// the rows are that alias of a left join, in which an entity without rows has one
    /// row of NULLs: it takes no part either.
    fn aggregate_value(&self, step: &Step, input: &Input, joined_rows: Option<&str>) -> String {
        let definition = &step.var.definition;
        self.model.with_scope(self.names, Some(input), |scope| {
            let expr = with_count_distinct(&scope.rewrite(&definition.expr));
            let joined = joined_rows.map(|rows| format!("{rows}.\"{CLUSTER}\" IS NOT NULL"));
            let filter = match (&definition.filter, joined) {
                (None, None) => return expr.to_string(),
                (Some(filter), None) => scope.rewrite(filter).to_string(),
                (None, Some(joined)) => joined,
                (Some(filter), Some(joined)) => {
                    format!("{joined} AND ({})", scope.rewrite(filter))
                }
            };
            let Ok(parsed) = parse_expr(&filter) else {
                return expr.to_string();
            };
            let filtered = with_filter(&expr, &parsed, self.aggregates);
            format!("CASE WHEN count(*) FILTER (WHERE {filter}) > 0 THEN {filtered} END")
        })
    }

    /// Adds a stage (`__knit_s<n>`) computing `added` more columns.
    fn push_stage(&mut self, sql: String, added: usize) {
        self.state += 1;
        self.ctes.push((stage_name(self.state), sql));
        tracing::trace!(stage = self.state, added, "composed stage");
    }

    /// One projection computing the vars without `FROM` of one level.
    fn expression_level(&mut self, steps: &[&Step]) {
        if steps.is_empty() {
            return;
        }
        let values: Vec<String> = steps
            .iter()
            .map(|step| {
                let expr = self.model.with_scope(self.names, None, |scope| {
                    scope.rewrite(&step.var.definition.expr).to_string()
                });
                format!(
                    "{} AS {}",
                    self.with_default(step, &format!("({expr})")),
                    quote_ident(&var_column(&step.var.name))
                )
            })
            .collect();
        let sql = format!(
            "SELECT *, {} FROM {}",
            values.join(", "),
            stage_name(self.state)
        );
        self.push_stage(sql, steps.len());
        self.carried
            .extend(steps.iter().map(|s| var_column(&s.var.name)));
    }

    /// `value`, or the var's default where it is NULL.
    fn with_default(&self, step: &Step, value: &str) -> String {
        match &step.var.definition.default {
            Some(default) => {
                let default = self
                    .model
                    .with_scope(self.names, None, |scope| scope.rewrite(default));
                format!("coalesce({value}, {default})")
            }
            None => value.to_string(),
        }
    }
}

/// The vars of one input aggregated in one `GROUP BY`.
struct AggregateGroup<'a> {
    input: String,
    /// The arguments of its `DISTINCT` aggregates, if it has any.
    distinct: Option<String>,
    /// The orderings its aggregates must read their rows in, if any.
    ordering: Option<String>,
    /// Whether its vars read other vars.
    reads: bool,
    /// Its aggregate calls: one that DataFusion would name as one of these goes to
    /// another group.
    calls: Vec<AggregateCall>,
    members: Vec<&'a Step>,
}

/// `expr` with each aggregate call's rows filtered by `filter` (added to a `FILTER` it
/// has already). Window calls are left alone.
fn with_filter(expr: &Expr, filter: &Expr, aggregates: &AggregateNames) -> Expr {
    let mut expr = expr.clone();
    let _ = visit_expressions_mut(&mut expr, |e| {
        if let Expr::Function(function) = e
            && function.over.is_none()
            && aggregates.is_aggregate(&function.name)
        {
            let filter = Expr::Nested(Box::new(filter.clone()));
            function.filter = Some(Box::new(match function.filter.take() {
                Some(existing) => Expr::BinaryOp {
                    left: Box::new(Expr::Nested(existing)),
                    op: BinaryOperator::And,
                    right: Box::new(filter),
                },
                None => filter,
            }));
        }
        ControlFlow::<()>::Continue(())
    });
    expr
}

/// `expr` with each `count(DISTINCT x)` as [`COUNT_DISTINCT`]`(x)`, which counts the
/// distinct values of every entity at once, whatever their type.
fn with_count_distinct(expr: &Expr) -> Expr {
    let mut expr = expr.clone();
    let _ = visit_expressions_mut(&mut expr, |e| {
        if let Expr::Function(function) = e
            && function.name.to_string().eq_ignore_ascii_case("count")
            && let FunctionArguments::List(list) = &mut function.args
            && list.duplicate_treatment == Some(DuplicateTreatment::Distinct)
            && list.args.len() == 1
        {
            list.duplicate_treatment = None;
            function.name = ObjectName::from(vec![Ident::new(COUNT_DISTINCT)]);
        }
        ControlFlow::<()>::Continue(())
    });
    expr
}

fn stage_name(n: usize) -> String {
    format!("\"__knit_s{n}\"")
}

fn where_clause(filter: &str) -> String {
    if filter.is_empty() {
        String::new()
    } else {
        format!(" WHERE {filter}")
    }
}

/// The rows of an input with its input vars, each with its entity's cluster.
pub(crate) fn rows_sql(model: &EntityModel, input: &Input) -> Result<String> {
    let rows = input_rows_sql(model, input)?;
    if maps_rows_first(model, input) {
        // The rows were mapped to their entities before their input vars.
        return Ok(rows);
    }
    Ok(lookup_sql(model, input, &rows))
}

/// Whether the rows of `input` are mapped to their entities before its input vars are
/// computed: always when it has input vars, since pb computes them over the rows of an
/// entity only (`WHERE user_main_id IS NOT NULL`), so a row of no entity takes no part
/// in a window (`row_number() OVER (PARTITION BY user_id ...)` counts no row whose ids
/// are all NULL or filtered out).
fn maps_rows_first(model: &EntityModel, input: &Input) -> bool {
    !model.input_vars_of(&input.name).is_empty()
}

/// pb's name of the column that holds an input row's main id, which input vars may
/// read (`PARTITION BY context_session_id, rudder_id`).
const ROW_MAIN_ID: &str = "rudder_id";

/// Whether an input var of `input` reads the row's main id, as [`ROW_MAIN_ID`] or by
/// the entity's main id column (`user_main_id`): then the rows are mapped to their
/// entities first.
fn reads_main_id(model: &EntityModel, input: &Input) -> bool {
    reads_column(model, input, ROW_MAIN_ID)
        || reads_column(model, input, &model.entity.main_id_column)
}

/// Whether an input var of `input` reads a column named `column` (any case).
fn reads_column(model: &EntityModel, input: &Input, column: &str) -> bool {
    let mentions = |expr: &Expr| {
        let mut found = false;
        let _ = visit_expressions(expr, |e| {
            if let Expr::Identifier(ident) = e
                && ident.value.eq_ignore_ascii_case(column)
            {
                found = true;
            }
            ControlFlow::<()>::Continue(())
        });
        found
    };
    model
        .input_vars_of(&input.name)
        .iter()
        .any(|v| mentions(&v.definition.expr) || v.definition.filter.as_ref().is_some_and(mentions))
}

/// `rows` (a query of an input's rows) with each row's cluster, rows of no entity left out.
fn lookup_sql(model: &EntityModel, input: &Input, rows: &str) -> String {
    let ids = &input.definition.ids;
    let id_columns: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                "CAST(({}) AS VARCHAR) AS {}",
                id.expr,
                quote_ident(&id_column(i))
            )
        })
        .collect();
    let id_types: Vec<String> = ids
        .iter()
        .map(|id| format!(", {}", quote_literal(&id.id_type.value)))
        .collect();
    format!(
        "SELECT * FROM {LOOKUP_FUNCTION}({}, (SELECT *, {} FROM ({rows}) AS \"__knit_source\"){})",
        quote_literal(&model.entity.name),
        id_columns.join(", "),
        id_types.concat()
    )
}

/// The rows of an input with one column per input var: one projection per level of
/// input vars (a var comes one level after the input vars it reads), each level a common
/// table expression of the one before, so that the SQL nests no deeper with more levels.
pub(crate) fn input_rows_sql(model: &EntityModel, input: &Input) -> Result<String> {
    let raw = format!("SELECT * FROM input_rows({})", quote_literal(&input.name));
    let main = &model.entity.main_id_column;
    let level_0 = if reads_column(model, input, main) {
        // The main id itself (pb's `user_main_id` on each row), from the entity's
        // clusters; the cluster stands for it where only `rudder_id` is read (one for
        // one, so a window partitions alike).
        format!(
            "SELECT r.*, r.\"{CLUSTER_COLUMN}\" AS {ROW_MAIN_ID}, c.{main} AS {main} \
             FROM ({}) AS r JOIN (SELECT \"{CLUSTER}\", {main} FROM {CLUSTERS_FUNCTION}({})) \
             AS c ON r.\"{CLUSTER_COLUMN}\" = c.\"{CLUSTER}\"",
            lookup_sql(model, input, &raw),
            quote_literal(&model.entity.name),
            main = quote_ident(main),
        )
    } else if reads_main_id(model, input) {
        format!(
            "SELECT *, \"{CLUSTER_COLUMN}\" AS {ROW_MAIN_ID} FROM ({})",
            lookup_sql(model, input, &raw)
        )
    } else if maps_rows_first(model, input) {
        lookup_sql(model, input, &raw)
    } else {
        raw
    };
    let mut ctes = vec![format!("\"__knit_level_0\" AS ({level_0})")];
    let rewrite = |expr: &Expr| -> Expr {
        let none = BTreeSet::new();
        let has_column = |_: &str| true;
        Scope {
            entity: "",
            vars: &none,
            input: Some((&input.name, &has_column)),
        }
        .rewrite(expr)
    };
    for level in model.input_var_levels(&input.name)? {
        let mut values = Vec::with_capacity(level.len());
        for var in level {
            let definition = &var.definition;
            let mut value = rewrite(&definition.expr);
            let mut text = value.to_string();
            if let Some(filter) = &definition.filter {
                let keep = format!("coalesce(({}), false)", rewrite(filter));
                // Rows that fail the filter take no part in the var's windows.
                let partition = parse_expr(&keep)?;
                let _ = visit_expressions_mut(&mut value, |e| {
                    if let Expr::Function(function) = e
                        && let Some(WindowType::WindowSpec(spec)) = &mut function.over
                    {
                        spec.partition_by.insert(0, partition.clone());
                    }
                    ControlFlow::<()>::Continue(())
                });
                text = format!("CASE WHEN {keep} THEN {value} END");
            }
            if let Some(default) = &definition.default {
                text = format!("coalesce({text}, {})", rewrite(default));
            }
            values.push(format!("{text} AS {}", quote_ident(&var.name)));
        }
        // The level reads the one before as the input's name, which `input.column`
        // names in the vars' expressions.
        ctes.push(format!(
            "\"__knit_level_{}\" AS (SELECT *, {} FROM \"__knit_level_{}\" AS {})",
            ctes.len(),
            values.join(", "),
            ctes.len() - 1,
            quote_ident(&input.name)
        ));
    }
    Ok(format!(
        "WITH {} SELECT * FROM \"__knit_level_{}\"",
        ctes.join(", "),
        ctes.len() - 1
    ))
}

/// Parses one SQL expression.
pub(crate) fn parse_expr(sql: &str) -> Result<Expr> {
    Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| CoreError::internal(format!("a composed expression does not parse ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_distinct_is_rewritten_everywhere_in_an_expression() {
        let rewritten = |sql: &str| with_count_distinct(&parse_expr(sql).unwrap()).to_string();
        assert_eq!(
            rewritten("count(DISTINCT CAST(ts AS DATE)) * 2 + COUNT(DISTINCT a) FILTER (WHERE b)"),
            "__knit_count_distinct(CAST(ts AS DATE)) * 2 + __knit_count_distinct(a) FILTER (WHERE b)"
        );
        // Plain counts and other distinct aggregates stay.
        assert_eq!(
            rewritten("count(a) + sum(DISTINCT a)"),
            "count(a) + sum(DISTINCT a)"
        );
        let expr = parse_expr("count(DISTINCT a) + sum(DISTINCT b)").unwrap();
        assert_eq!(
            distinct_arguments(&with_count_distinct(&expr)).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn a_filter_reaches_every_aggregate_and_no_scalar_or_window() {
        let aggregates = AggregateNames(
            ["sum", "count", "first_value"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
        let filtered = |sql: &str| {
            with_filter(
                &parse_expr(sql).unwrap(),
                &parse_expr("x > 1 OR y").unwrap(),
                &aggregates,
            )
            .to_string()
        };
        assert_eq!(
            filtered("round(sum(a), 2) + count(*)"),
            "round(sum(a) FILTER (WHERE (x > 1 OR y)), 2) + count(*) FILTER (WHERE (x > 1 OR y))"
        );
        assert_eq!(
            filtered("count(*) FILTER (WHERE b)"),
            "count(*) FILTER (WHERE (b) AND (x > 1 OR y))"
        );
        assert_eq!(
            filtered("first_value(a ORDER BY t)"),
            "first_value(a ORDER BY t) FILTER (WHERE (x > 1 OR y))"
        );
        assert_eq!(
            filtered("sum(a) OVER (PARTITION BY b)"),
            "sum(a) OVER (PARTITION BY b)"
        );
    }
}
