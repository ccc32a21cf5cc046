// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Inputs as `CREATE INPUT` statements: which entity each maps rows to, whether it adds
//! edges to the id graph or only maps rows (`LOOKUP`), its ids (filtered by SQL where an
//! id type says so, or found through the id graph for a model keyed by the main id),
//! and its time window.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use knit_sql::{quote_ident_if_needed, quote_literal};

use super::{ScriptOptions, Writer};
use crate::error::Result;
use crate::grains::GRAIN_INPUT_PREFIX;
use crate::project::{
    Entity, Filter, IdType, Input, InputId, MEMBER_SET_PREFIX, Origin, Project, Source,
};
use crate::template::{Names, VarTable, render};

/// A set of an entity's inputs, written together.
#[derive(Debug, Clone, Copy)]
pub(super) enum InputSet<'a> {
    /// Those that add edges to its id graph.
    Graph,
    /// Those that only map rows to it, and the id graph's rows, but for a
    /// `sql_template`'s rows (written one by one, after their views).
    Lookups,
    /// The one (a lookup) that maps the rows of the `sql_template` input `name`.
    Lookup(&'a str),
}

impl<'a> Writer<'a> {
    /// Names the Knit input of each pb input with ids of `entity` (and of each id
    /// stitcher a var of the entity reads `from`), so that vars can refer to them before
    /// the inputs are written.
    pub(super) fn register_inputs(&mut self, entity: &Entity) -> Result<()> {
        for input in &self.project.inputs {
            if !input.ids.iter().any(|id| maps_rows(entity, id)) {
                continue;
            }
            let entities: BTreeSet<&str> = input.ids.iter().map(|i| i.entity.as_str()).collect();
            let knit_name = if entities.len() > 1 {
                format!("{}_{}", input.name, entity.name)
            } else {
                input.name.clone()
            };
            self.knit_inputs
                .insert((input.name.clone(), entity.name.clone()), knit_name);
        }
        for stitcher in self.graph_inputs(entity) {
            self.knit_inputs
                .insert((stitcher.clone(), entity.name.clone()), stitcher);
        }
        Ok(())
    }

    /// The id stitchers of `entity` that its vars read rows of (`from: models/<stitcher>`).
    pub(super) fn graph_inputs(&self, entity: &Entity) -> Vec<String> {
        self.project
            .stitchers
            .iter()
            .filter(|s| s.entity == entity.name)
            .filter(|s| {
                self.project
                    .vars
                    .iter()
                    .any(|v| v.entity == entity.name && v.from.as_ref() == Some(&s.name))
            })
            .map(|s| s.name.clone())
            .collect()
    }

    /// Whether `input` only maps its rows to `entity` (a `LOOKUP` input) instead of
    /// adding edges to its id graph: it is not among the stitcher's edge sources, or
    /// it is a union of inputs (whose rows are its inputs'), or (with the default
    /// stitcher) an id of it has `to_default_stitcher: false`; the others then add their
    /// edges through an input of their own (see [`Self::default_stitched_ids`]).
    pub(super) fn is_lookup(&self, entity: &Entity, input: &str) -> Result<bool> {
        let (_, stitcher) = self.stitcher(entity)?;
        let is_union = self.project.unions.iter().any(|(name, _)| name == input);
        // A cohort step's members are keyed by the main id: they add no edge.
        let members = input.starts_with(MEMBER_SET_PREFIX);
        // A grain pass's vars are keyed by the main id too.
        let grained = input.starts_with(GRAIN_INPUT_PREFIX);
        let unstitched = self.entity_ids(entity, input).iter().any(|id| !id.stitched);
        Ok(match stitcher {
            Some(stitcher) => !stitcher.edge_sources.iter().any(|s| s == input),
            None => is_union || members || grained || unstitched,
        })
    }

    /// The ids of `input` that add edges to `entity`'s default stitcher, when others of
    /// its ids do not (`to_default_stitcher: false`): pb stitches the row by those alone,
    /// and still maps it to its entity by all of them.
    pub(super) fn default_stitched_ids(
        &self,
        entity: &Entity,
        input: &str,
    ) -> Option<Vec<&'a InputId>> {
        if self.stitcher(entity).ok()?.1.is_some() {
            return None;
        }
        let ids = self.entity_ids(entity, input);
        let stitched: Vec<&'a InputId> = ids.iter().copied().filter(|id| id.stitched).collect();
        (!stitched.is_empty() && stitched.len() < ids.len()).then_some(stitched)
    }

    /// The ids of `input` of `entity`, of the entity's id types.
    fn entity_ids(&self, entity: &Entity, input: &str) -> Vec<&'a InputId> {
        let project: &'a Project = self.project;
        project
            .inputs
            .iter()
            .filter(|i| i.name == input)
            .flat_map(|i| &i.ids)
            .filter(|id| id.entity == entity.name && entity.id_types.contains(&id.id_type))
            .collect()
    }

    /// The `CREATE INPUT` statements of `entity` in `set`.
    pub(super) fn inputs(&mut self, entity: &Entity, set: InputSet<'_>) -> Result<()> {
        let (_, stitcher) = self.stitcher(entity)?;
        if let Some(stitcher) = stitcher
            && let Some(source) = stitcher
                .edge_sources
                .iter()
                .find(|source| !self.project.inputs.iter().any(|i| &i.name == *source))
        {
            return Err(stitcher.origin.error(format!(
                "model_spec.edge_sources: no input named '{source}'"
            )));
        }
        for input in &self.project.inputs {
            let ids: Vec<_> = input
                .ids
                .iter()
                .filter(|id| id.entity == entity.name && entity.id_types.contains(&id.id_type))
                .collect();
            let main_ids: Vec<_> = input
                .ids
                .iter()
                .filter(|id| is_main_id(entity, id))
                .collect();
            if ids.is_empty() && main_ids.is_empty() {
                continue;
            }
            for id in &input.ids {
                if !self.names.entities.contains(&id.entity) {
                    return Err(input.origin.error(format!(
                        "ids: entity '{}' is not declared in pb_project.yaml",
                        id.entity
                    )));
                }
            }
            let Some(knit_name) = self
                .knit_inputs
                .get(&(input.name.clone(), entity.name.clone()))
                .cloned()
            else {
                continue;
            };
            let mut is_lookup = self.is_lookup(entity, &input.name)?;
            let of_view = matches!(&input.source, Source::Model(model)
                if self.project.sql_models.iter().any(|m| &m.name == model));
            // Ids left out of the default stitcher: the rows add edges by the others,
            // through an input of their own, and are mapped by all of them.
            let stitched = self.default_stitched_ids(entity, &input.name);
            let wanted = match set {
                InputSet::Graph => !is_lookup || stitched.is_some(),
                InputSet::Lookups => is_lookup && !of_view,
                InputSet::Lookup(name) => is_lookup && of_view && input.name == name,
            };
            if !wanted {
                continue;
            }
            let (ids, main_ids, knit_name) = match (set, stitched) {
                (InputSet::Graph, Some(stitched)) if is_lookup => {
                    is_lookup = false;
                    (stitched, Vec::new(), format!("{knit_name}__stitched"))
                }
                _ => (ids, main_ids, knit_name),
            };
            let mut id_sql = Vec::new();
            // Ids that id type filters by SQL (`sql: {select, from}`) keep or drop: each
            // is matched by a join with the filter's values, in a wrapper of the source.
            let mut joins = Vec::new();
            let mut filtered = Vec::new();
            for (k, id) in ids.iter().enumerate() {
                let select = self.render(&id.select, None, &input.origin, "ids")?.sql;
                let filters = self.sql_filters(entity, &id.id_type)?;
                if filters.is_empty() {
                    id_sql.push(format!(
                        "{select} AS {}",
                        quote_ident_if_needed(&id.id_type)
                    ));
                    continue;
                }
                let mut kept = Vec::new();
                for (j, filter) in filters.iter().enumerate() {
                    let from = self.sql_filter_source(filter, &input.origin)?;
                    let alias = format!("\"__knit_f{k}_{j}\"");
                    joins.push(format!(
                        "LEFT JOIN (SELECT DISTINCT CAST(({}) AS VARCHAR) AS \"__knit_match\" \
                         FROM {from}) AS {alias} ON CAST(({select}) AS VARCHAR) = \
                         {alias}.\"__knit_match\"",
                        filter
                            .sql
                            .as_ref()
                            .map(|s| s.select.as_str())
                            .unwrap_or("NULL")
                    ));
                    let test = if filter.include {
                        "IS NOT NULL"
                    } else {
                        "IS NULL"
                    };
                    kept.push(format!("{alias}.\"__knit_match\" {test}"));
                }
                let column = format!("\"__knit_filtered_{k}\"");
                filtered.push(format!(
                    "CASE WHEN {} THEN CAST(({select}) AS VARCHAR) END AS {column}",
                    kept.join(" AND ")
                ));
                id_sql.push(format!(
                    "{column} AS {}",
                    quote_ident_if_needed(&id.id_type)
                ));
            }
            // A model's rows keyed by the main id itself (`type: rudder_id` or `main_id`,
            // as pb reads it): each is mapped by one id of its cluster, found in the id
            // graph.
            for (k, id) in main_ids.iter().enumerate() {
                if !is_lookup {
                    return Err(input.origin.error(format!(
                        "ids: a {} (the main id of entity '{}') maps a model's rows to \
                         their entity but cannot add edges to its id graph: leave this input \
                         out of the id stitcher's edge_sources",
                        id.id_type, entity.name
                    )));
                }
                let select = self.render(&id.select, None, &input.origin, "ids")?.sql;
                let main = quote_ident_if_needed(&entity.main_id_column());
                let alias = format!("\"__knit_r{k}\"");
                let first = |column: &str| {
                    format!("first_value({column} ORDER BY other_id_type, other_id)")
                };
                joins.push(format!(
                    "LEFT JOIN (SELECT {main} AS \"__knit_main\", {} AS \"__knit_id\", {} AS \
                     \"__knit_type\" FROM id_stitch({}) GROUP BY {main}) AS {alias} ON \
                     CAST(({select}) AS VARCHAR) = {alias}.\"__knit_main\"",
                    first("other_id"),
                    first("other_id_type"),
                    quote_literal(&entity.name)
                ));
                for id_type in &entity.id_types {
                    let column = format!("\"__knit_r{k}_{id_type}\"");
                    filtered.push(format!(
                        "CASE WHEN {alias}.\"__knit_type\" = {} THEN {alias}.\"__knit_id\" END \
                         AS {column}",
                        quote_literal(id_type)
                    ));
                    id_sql.push(format!("{column} AS {}", quote_ident_if_needed(id_type)));
                }
            }
            let source = &self.names.input_sources[&input.name];
            let source = if joins.is_empty() {
                source.clone()
            } else {
                format!(
                    "(SELECT \"__knit_src\".*, {} FROM {source} AS \"__knit_src\" {})",
                    filtered.join(", "),
                    joins.join(" ")
                )
            };
            let lookup = if is_lookup { "LOOKUP " } else { "" };
            let mut sql = format!(
                "CREATE INPUT {} FOR {} FROM {source} {lookup}IDS ({})",
                quote_ident_if_needed(&knit_name),
                quote_ident_if_needed(&entity.name),
                id_sql.join(", ")
            );
            // pb reads a sql_template's occurred_at_col only to date the edges it adds
            // to a stitch: a model vars read, it takes as it is (the inputs it reads
            // through this.DeRef are already cut to the run's window). Checked against
            // pb: a column that does not exist is no error then.
            let dated = !(lookup == "LOOKUP " && matches!(input.source, Source::Model(_)));
            let occurred_at = input.occurred_at.as_ref().filter(|_| dated);
            if let Some(time) = occurred_at {
                sql.push_str(&format!(" OCCURRED AT {}", occurred_at_sql(time)));
            }
            let mut conditions = Vec::new();
            if let Some(filter) = &input.filter {
                let filter = self.render(filter, None, &input.origin, "where")?.sql;
                conditions.push(format!("({filter})"));
            }
            let window = time_window(input, self.options, self.project.include_untimed);
            if let Some(time) = occurred_at.and(window) {
                conditions.push(time);
            }
            if !conditions.is_empty() {
                sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
            }
            self.script.push(sql, Some(input.origin.clone()));
        }
        if !matches!(set, InputSet::Lookups) {
            return Ok(());
        }
        // The id graph's rows, each mapped to its cluster by its own id.
        for name in self.graph_inputs(entity) {
            let ids: Vec<String> = entity
                .id_types
                .iter()
                .map(|t| {
                    format!(
                        "CASE WHEN other_id_type = {} THEN other_id END AS {}",
                        quote_literal(t),
                        quote_ident_if_needed(t)
                    )
                })
                .collect();
            let origin = self
                .project
                .stitchers
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.origin.clone());
            self.script.push(
                format!(
                    "CREATE INPUT {} FOR {} FROM (SELECT * FROM id_stitch({})) LOOKUP IDS ({})",
                    quote_ident_if_needed(&name),
                    quote_ident_if_needed(&entity.name),
                    quote_literal(&entity.name),
                    ids.join(", ")
                ),
                origin,
            );
        }
        Ok(())
    }

    /// The SQL filters (`sql: {select, from}`) of an id type, its extended types' first.
    pub(super) fn sql_filters(&self, entity: &Entity, id_type: &str) -> Result<Vec<&'a Filter>> {
        Ok(self
            .type_filters(entity, id_type)?
            .into_iter()
            .filter(|f| f.sql.is_some())
            .collect())
    }

    /// The filters of an id type of `entity`, in order: a type that extends another has
    /// the other's first. A type not declared, or extending itself, is an error.
    pub(super) fn type_filters(&self, entity: &Entity, id_type: &str) -> Result<Vec<&'a Filter>> {
        let mut current = Some(id_type.to_string());
        let mut seen = BTreeSet::new();
        let mut chain: Vec<&'a IdType> = Vec::new();
        while let Some(type_name) = current {
            if !seen.insert(type_name.clone()) {
                return Err(entity.origin.error(format!(
                    "id type '{type_name}' extends itself through its extends chain"
                )));
            }
            let definition = self.project.id_types.get(&type_name).ok_or_else(|| {
                let reason = format!(
                    "id type '{type_name}' is not declared under id_types in pb_project.yaml"
                );
                match chain.last() {
                    Some(child) => child.origin.error(format!("extends: {reason}")),
                    None => entity.origin.error(format!("id_types: {reason}")),
                }
            })?;
            chain.push(definition);
            current = definition.extends.clone();
        }
        Ok(chain.iter().rev().flat_map(|d| d.filters.iter()).collect())
    }

    /// The SQL that reads the rows of a SQL filter's model or input.
    pub(super) fn sql_filter_source(&self, filter: &Filter, origin: &Origin) -> Result<String> {
        let from = filter
            .sql
            .as_ref()
            .map(|s| s.from.as_str())
            .unwrap_or_default();
        self.names
            .models
            .get(from)
            .or_else(|| self.names.input_sources.get(from))
            .cloned()
            .ok_or_else(|| {
                origin.error(format!(
                    "an id type filter reads '{from}', which is no model or input of the project"
                ))
            })
    }
}

/// Whether `id` maps an input's rows to `entity`: an id of one of its id types, or its
/// main id (`type: rudder_id` or `main_id`, unless the entity has an id type of that
/// name).
fn maps_rows(entity: &Entity, id: &InputId) -> bool {
    id.entity == entity.name && (entity.id_types.contains(&id.id_type) || is_main_id(entity, id))
}

/// Whether `id` is `entity`'s main id: pb reads `type: rudder_id` and `type: main_id`
/// as the main id itself (checked against pb: a model's `user_main_id` column of type
/// `main_id` keys its rows, where another type the entity lacks matches no row).
fn is_main_id(entity: &Entity, id: &InputId) -> bool {
    id.entity == entity.name
        && MAIN_ID_TYPES.contains(&id.id_type.as_str())
        && !entity.id_types.contains(&id.id_type)
}

/// The id types that name an entity's main id rather than an id of its graph.
const MAIN_ID_TYPES: &[&str] = &["rudder_id", "main_id"];

/// An input's `occurred_at_col` as SQL. pb writes it into its queries as it is, so it
/// may be an expression (`to_timestamp(created)`, checked against pb); a bare name is a
/// column, lower-cased as the warehouse folds it and quoted if it is a keyword
/// (`timestamp`).
fn occurred_at_sql(occurred_at: &str) -> String {
    let occurred_at = occurred_at.trim();
    let bare = !occurred_at.is_empty()
        && occurred_at
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if bare {
        quote_ident_if_needed(&occurred_at.to_lowercase())
    } else {
        occurred_at.to_string()
    }
}

/// pb keeps the rows of an input that occurred in the run's window, and those without a
/// time when the project includes them. Times compare as microseconds, whose range takes
/// any date (nanoseconds stop at 1677 and 2262).
fn time_window(input: &Input, options: &ScriptOptions, include_untimed: bool) -> Option<String> {
    let column = occurred_at_sql(input.occurred_at.as_ref()?);
    let micros = |sql: &str| format!("arrow_cast({sql}, 'Timestamp(Microsecond, None)')");
    let end = micros(&quote_literal(
        input.until.as_ref().unwrap_or(&options.end_time),
    ));
    let at = micros(&column);
    let window = match &options.begin_time {
        Some(begin) => format!("{at} BETWEEN {} AND {end}", micros(&quote_literal(begin))),
        None => format!("{at} <= {end}"),
    };
    Some(if include_untimed {
        format!("({window} OR {column} IS NULL)")
    } else {
        format!("({window})")
    })
}

/// Fills in the rows `this.DeRef("inputs/x")` reads: as pb's, the input's rows in the
/// run's time window that its `where` keeps (checked against pb); a model is read as it
/// is. The `where` is a template too, rendered with the names known so far.
pub(super) fn input_rows(
    project: &Project,
    options: &ScriptOptions,
    names: Names,
) -> Result<Arc<Names>> {
    let mut names = Arc::new(names);
    let mut rows = BTreeMap::new();
    let mut var_tables = BTreeMap::new();
    for input in &project.inputs {
        let source = names.input_sources[&input.name].clone();
        let mut conditions = Vec::new();
        if !matches!(input.source, Source::Model(_)) {
            if let Some(filter) = &input.filter {
                let rendered = render(filter, &names, &BTreeMap::new()).map_err(|reason| {
                    Origin {
                        key: format!("{}.where", input.origin.key),
                        ..input.origin.clone()
                    }
                    .error(reason)
                })?;
                conditions.push(format!("({})", rendered.sql));
            }
            conditions.extend(time_window(input, options, project.include_untimed));
        }
        let sql = if conditions.is_empty() {
            source
        } else {
            format!(
                "(SELECT * FROM {source} WHERE {})",
                conditions.join(" AND ")
            )
        };
        if let Some(table) = var_table(project, input, &sql, &names)? {
            var_tables.insert(input.name.clone(), table);
        }
        rows.insert(input.name.clone(), sql);
    }
    for (alias, target) in &project.input_aliases {
        if let Some(sql) = rows.get(target).cloned() {
            rows.insert(alias.clone(), sql);
        }
        if let Some(table) = var_tables.get(target).cloned() {
            var_tables.insert(alias.clone(), table);
        }
    }
    // Rendering keeps no reference to the names once it returns.
    let Some(mutable) = Arc::get_mut(&mut names) else {
        let origin = Origin {
            file: "pb_project.yaml".into(),
            key: "inputs".into(),
        };
        return Err(origin.error("internal: the inputs' filters kept the template names"));
    };
    mutable.input_rows = rows;
    mutable.input_var_tables = var_tables;
    Ok(names)
}

/// pb's var table of an input (`this.DeRef("inputs/x/var_table")`): its `rows`, numbered
/// as `input_row_id`, with the main id of each entity it has ids of, named as the
/// entity's id graph names it (`user_main_id`). As pb's, a row's main id is that of its
/// first id, in the order of `ids`, that the entity's id graph holds (NULL if none), and
/// is found by a join of each id with the graph. `None` for an input without ids.
fn var_table(
    project: &Project,
    input: &Input,
    rows: &str,
    names: &Arc<Names>,
) -> Result<Option<VarTable>> {
    let mut id_columns = Vec::new();
    let mut joins = Vec::new();
    let mut main_ids = Vec::new();
    let mut entities = Vec::new();
    for entity in &project.entities {
        let ids: Vec<_> = input
            .ids
            .iter()
            .filter(|id| id.entity == entity.name && entity.id_types.contains(&id.id_type))
            .collect();
        if ids.is_empty() {
            continue;
        }
        let main = quote_ident_if_needed(&entity.main_id_column());
        let mut found = Vec::new();
        for id in ids {
            let select = render(&id.select, names, &BTreeMap::new())
                .map_err(|reason| input.origin.error(format!("ids: {reason}")))?
                .sql;
            let n = id_columns.len();
            let column = format!("\"__knit_vt_id_{n}\"");
            let graph = format!("\"__knit_vt_graph_{n}\"");
            id_columns.push((
                format!("CAST(({select}) AS VARCHAR) AS {column}"),
                column.clone(),
            ));
            joins.push(format!(
                "LEFT JOIN (SELECT {main}, other_id, other_id_type FROM id_stitch({})) AS {graph} \
                 ON {graph}.other_id = \"__knit_vt\".{column} AND {graph}.other_id_type = {}",
                quote_literal(&entity.name),
                quote_literal(&id.id_type)
            ));
            found.push(format!("{graph}.{main}"));
        }
        main_ids.push(format!("coalesce({}) AS {main}", found.join(", ")));
        entities.push(entity.name.clone());
    }
    if entities.is_empty() {
        return Ok(None);
    }
    let (computed, id_names): (Vec<_>, Vec<_>) = id_columns.into_iter().unzip();
    let sql = format!(
        "(SELECT row_number() OVER () AS input_row_id, \"__knit_vt\".* EXCLUDE ({}), {} \
         FROM (SELECT *, {} FROM {rows} AS \"__knit_rows\") AS \"__knit_vt\" {})",
        id_names.join(", "),
        main_ids.join(", "),
        computed.join(", "),
        joins.join(" ")
    );
    let model = match &input.source {
        Source::Model(model) => Some(model.clone()),
        _ => None,
    };
    Ok(Some(VarTable {
        sql,
        entities,
        model,
    }))
}
