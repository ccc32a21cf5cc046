// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A [`Project`] written as a Knit SQL script: tables, entities, inputs, vars and
//! cohorts, then one `COPY` per output, named as pb names its views.
//!
//! Where pb pastes YAML text into SQL, the script pastes the same text, so outputs match
//! pb even where its text handling surprises: a filter regex is anchored as `'^' || re ||
//! '$'` (written here as a pattern Knit anchors whole), a cohort's `exclude` step is
//! `NOT cond` without parentheses, and a string `default_value` keeps its own quotes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use knit_sql::{quote_ident_if_needed, quote_literal};

use crate::error::Result;
use crate::project::{
    Entity, Filter, FilterExpression, IdType, Input, InputId, Origin, Project, Source, Stitcher,
};
use crate::tables::{external_table, pasted_csv};
use crate::template::{Names, Rendered, render};

mod order;
mod outputs;
mod vars;

use order::{check_time_grain, dependency_order};

/// The file format of outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Parquet files.
    #[default]
    Parquet,
    /// CSV files with a header.
    Csv,
    /// Delta tables, one folder per output, merged on the output's keys.
    Delta,
}

impl OutputFormat {
    /// The file (or, for Delta, folder) name of `output` in this format.
    pub fn file_name(self, output: &str) -> String {
        match self {
            OutputFormat::Parquet => format!("{output}.parquet"),
            OutputFormat::Csv => format!("{output}.csv"),
            OutputFormat::Delta => output.to_string(),
        }
    }
}

/// Where the script reads and writes, and the time window of its input rows.
#[derive(Debug, Clone)]
pub struct ScriptOptions {
    /// The folder of the warehouse tables.
    pub tables: PathBuf,
    /// The folder outputs go to.
    pub out: PathBuf,
    /// Their format.
    pub format: OutputFormat,
    /// pb's `--begin_time`: rows that occurred earlier are left out.
    pub begin_time: Option<String>,
    /// pb's `--end_time` (RFC 3339): rows that occurred later are left out; it is also
    /// the `valid_at` of feature tables.
    pub end_time: String,
    /// Models left out of the run (pb's model selection): a model of a type Knit cannot
    /// run is dropped, and a model Knit can run writes no output.
    pub skip_models: Vec<String>,
    /// pb's model selection (`--model_refs models/a`): only these models' outputs are
    /// written (all, when empty); models Knit cannot run are left out unless named.
    pub model_refs: Vec<String>,
    /// What `warehouse.DatabaseType()` answers in templates (`snowflake`, `bigquery`,
    /// `redshift`, `databricks`), so that projects take the branch whose SQL Knit speaks.
    pub dialect: String,
}

/// One statement of the script.
#[derive(Debug, Clone)]
pub struct ScriptStatement {
    /// The SQL, without the final `;`.
    pub sql: String,
    /// The YAML it came from.
    pub origin: Option<Origin>,
    /// The output it writes, for `COPY` statements.
    pub output: Option<String>,
    /// The columns that identify the output's rows (the id graph's `other_id` and
    /// `other_id_type`, a feature table's main id, ...), for `COPY` statements.
    pub keys: Vec<String>,
    /// The entity whose rows the output holds, for `COPY` statements.
    pub entity: Option<String>,
    /// The warehouse table a `CREATE EXTERNAL TABLE` statement registers (as queries
    /// name it), so that a run can list and pin the files it reads.
    pub table: Option<String>,
}

/// The whole script.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Its statements, in the order they must run.
    pub statements: Vec<ScriptStatement>,
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for statement in &self.statements {
            if let Some(origin) = &statement.origin {
                writeln!(f, "-- {}: {}", origin.file, origin.key)?;
            }
            writeln!(f, "{};\n", statement.sql)?;
        }
        Ok(())
    }
}

impl Project {
    /// The Knit SQL script that computes every output of the project.
    pub fn script(&self, options: &ScriptOptions) -> Result<Script> {
        // pb's --model_refs names models as `models/<name>`.
        let selected: Vec<String> = options
            .model_refs
            .iter()
            .map(|r| r.rsplit('/').next().unwrap_or(r).to_lowercase())
            .collect();
        let is_model = |name: &str| {
            self.stitchers.iter().any(|m| m.name == name)
                || self.feature_tables.iter().any(|m| m.name == name)
                || self.cohorts.iter().any(|m| m.name == name)
                || self.sql_models.iter().any(|m| m.name == name)
                || self.unsupported_models.iter().any(|m| m.name == name)
        };
        if let Some(unknown) = selected.iter().find(|name| !is_model(name)) {
            return Err(crate::error::PbError::Key {
                file: "pb_project.yaml".into(),
                key: "(--model-refs)".into(),
                reason: format!("no model named '{unknown}' in the project"),
            });
        }
        let skipped = |name: &str| {
            options
                .skip_models
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name))
                || (!selected.is_empty() && !selected.iter().any(|s| s == name))
        };
        for unknown in &self.unsupported_models {
            if !skipped(&unknown.name) {
                return Err(unknown.origin.error(format!(
                    "model '{}' is of type '{}', which Knit cannot run; Knit runs \
                     id_stitcher, feature_table_model, entity_cohort and sql_template models. \
                     Leave it out with --skip-models {} to run the rest",
                    unknown.name, unknown.kind, unknown.name
                )));
            }
        }
        let mut script = Writer::new(self, options)?.write()?;
        let dropped = self.outputs_of(&options.skip_models);
        let kept = self.outputs_of(&selected);
        script.statements.retain(|s| {
            s.output.as_ref().is_none_or(|output| {
                let output = output.to_lowercase();
                !dropped.contains(&output) && (selected.is_empty() || kept.contains(&output))
            })
        });
        Ok(script)
    }

    /// The outputs of the named models (their files are not written).
    fn outputs_of(&self, models: &[String]) -> BTreeSet<String> {
        let mut outputs = BTreeSet::new();
        for name in models.iter().map(|m| m.to_lowercase()) {
            if self.stitchers.iter().any(|s| s.name == name) {
                outputs.insert(format!("{name}_edges"));
                outputs.insert(name.clone());
            }
            if self.feature_tables.iter().any(|t| t.name == name) {
                outputs.insert(name.clone());
            }
            if let Some(cohort) = self.cohorts.iter().find(|c| c.name == name) {
                for entity in self.entities.iter().filter(|e| e.name == cohort.entity) {
                    outputs.insert(format!("{}_{name}", entity.name));
                    for (view, _) in cohort.view_names(entity) {
                        outputs.insert(view.to_lowercase());
                    }
                }
            }
        }
        outputs
    }
}

struct Writer<'a> {
    project: &'a Project,
    options: &'a ScriptOptions,
    names: Arc<Names>,
    /// `(pb input, entity)` to the Knit input's name.
    knit_inputs: BTreeMap<(String, String), String>,
    /// Id stitcher and feature table models, by name, to their entity: read through
    /// `this.DeRef`, they need the entity's inputs and vars first.
    model_entities: BTreeMap<String, String>,
    script: Script,
}

impl<'a> Writer<'a> {
    fn new(project: &'a Project, options: &'a ScriptOptions) -> Result<Self> {
        let mut names = Names {
            macros: project.macros.clone(),
            entities: project.entities.iter().map(|e| e.name.clone()).collect(),
            cohorts: (project.cohorts.iter())
                .filter_map(|c| Some((c.name.clone(), project.cohort_entity(&c.name)?)))
                .collect(),
            scoped_vars: scoped_vars(project),
            models: project
                .sql_models
                .iter()
                .map(|m| (m.name.clone(), quote_ident_if_needed(&m.name)))
                .collect(),
            dialect: options.dialect.clone(),
            end_time: Some(options.end_time.clone()),
            begin_time: options.begin_time.clone(),
            project_dir: project.dir.clone(),
            ..Names::default()
        };
        let mut model_entities = BTreeMap::new();
        for table in &project.feature_tables {
            let query = outputs::feature_table_query(project, table, &options.end_time)?;
            names
                .models
                .insert(table.name.clone(), format!("({query})"));
            model_entities.insert(table.name.clone(), table.entity.clone());
        }
        for stitcher in &project.stitchers {
            let query = format!(
                "(SELECT * FROM id_stitch({}))",
                quote_literal(&stitcher.entity)
            );
            names.models.insert(stitcher.name.clone(), query);
            model_entities.insert(stitcher.name.clone(), stitcher.entity.clone());
        }
        // A cohort's rows are its members' main ids; its entity is its own or, through
        // the cohorts it extends, its root's.
        for cohort in &project.cohorts {
            if let Some(entity) = project.cohort_entity(&cohort.name) {
                let query = format!("(SELECT * FROM cohort({}))", quote_literal(&cohort.name));
                names.models.insert(cohort.name.clone(), query);
                model_entities.insert(cohort.name.clone(), entity);
            }
        }
        let mut script = Script::default();
        let mut created = BTreeSet::new();
        let mut tables: BTreeMap<String, String> = BTreeMap::new();
        for input in &project.inputs {
            let source = match &input.source {
                Source::Table(table) => {
                    if let Some(existing) = tables.get(table) {
                        existing.clone()
                    } else {
                        let origin = Origin {
                            key: format!("{}.app_defaults", input.origin.key),
                            ..input.origin.clone()
                        };
                        let sql = external_table(&options.tables, table, &origin)?;
                        let (create, qualifiers) = sql
                            .creates
                            .split_last()
                            .ok_or_else(|| origin.error("no statement registers this table"))?;
                        for statement in qualifiers {
                            if created.insert(statement.clone()) {
                                script.push(statement.clone(), None);
                            }
                        }
                        script.push(create.clone(), Some(input.origin.clone()));
                        if let Some(last) = script.statements.last_mut() {
                            last.table = Some(sql.name.clone());
                        }
                        tables.insert(table.clone(), sql.name.clone());
                        sql.name
                    }
                }
                Source::Csv(path) => pasted_csv(path, &input.origin)?,
                Source::S3(url) => quote_literal(url),
                Source::Model(model) => model.clone(),
            };
            names.input_sources.insert(input.name.clone(), source);
        }
        // A package's input mapped to a project input reads the project input's rows.
        for (alias, target) in &project.input_aliases {
            let source = names.input_sources.get(target).cloned().ok_or_else(|| {
                Origin {
                    file: "pb_project.yaml".into(),
                    key: format!("packages.inputsMap.{alias}"),
                }
                .error(format!("no input named '{target}' in the project"))
            })?;
            names.input_sources.insert(alias.clone(), source);
        }
        let names = input_rows(project, options, names)?;
        Ok(Self {
            project,
            options,
            names,
            knit_inputs: BTreeMap::new(),
            model_entities,
            script,
        })
    }

    fn write(mut self) -> Result<Script> {
        for (grain, origin) in &self.project.time_grains {
            check_time_grain(grain, &self.options.end_time)
                .map_err(|reason| origin.error(reason))?;
        }
        for entity in &self.project.entities {
            self.register_inputs(entity)?;
        }
        let views = self.sql_models()?;
        self.tables_read_by_models(&views)?;
        for entity in &self.project.entities {
            self.entity(entity)?;
        }
        let vars = self.vars()?;
        // Views and entities' inputs and vars in one order: a view may read an entity's
        // id graph or feature table, and an entity's input may be a view. An entity is
        // two steps: its graph (the inputs that add edges), then the inputs that only
        // map rows to it, its vars and cohorts, so that a view those read may read the
        // id graph.
        let mut units: Vec<(String, Vec<String>, &Origin)> = Vec::new();
        for (name, (rendered, origin)) in &views {
            let reads = rendered
                .models
                .iter()
                .map(|model| match self.model_entities.get(model) {
                    Some(entity) if self.project.stitchers.iter().any(|s| &s.name == model) => {
                        format!("graph {entity}")
                    }
                    Some(entity) => format!("entity {entity}"),
                    None => format!("view {model}"),
                })
                .collect();
            units.push((format!("view {name}"), reads, origin));
        }
        for entity in &self.project.entities {
            let mut graph_reads = Vec::new();
            let mut reads = vec![format!("graph {}", entity.name)];
            for input in &self.project.inputs {
                if !(self.knit_inputs).contains_key(&(input.name.clone(), entity.name.clone())) {
                    continue;
                }
                let Source::Model(model) = &input.source else {
                    continue;
                };
                if views.contains_key(model) {
                    let view = format!("view {model}");
                    if self.is_lookup(entity, &input.name)? {
                        reads.push(view);
                    } else {
                        graph_reads.push(view);
                    }
                }
            }
            // Id type filters that read a model's rows.
            for id_type in &entity.id_types {
                for sql in self
                    .sql_filters(entity, id_type)?
                    .iter()
                    .filter_map(|f| f.sql.as_ref())
                {
                    if views.contains_key(&sql.from) {
                        graph_reads.push(format!("view {}", sql.from));
                    }
                }
            }
            units.push((
                format!("graph {}", entity.name),
                graph_reads,
                &entity.origin,
            ));
            units.push((format!("entity {}", entity.name), reads, &entity.origin));
        }
        for unit in dependency_order(units)? {
            if let Some(name) = unit.strip_prefix("view ")
                && let Some((rendered, origin)) = views.get(name)
            {
                let sql = format!(
                    "CREATE VIEW {} AS {}",
                    quote_ident_if_needed(name),
                    rendered.sql.trim().trim_end_matches(';')
                );
                self.script.push(sql, Some((*origin).clone()));
            } else if let Some(name) = unit.strip_prefix("graph ")
                && let Some(entity) = self.project.entities.iter().find(|e| e.name == name)
            {
                self.inputs(entity, false)?;
            } else if let Some(name) = unit.strip_prefix("entity ")
                && let Some(entity) = self.project.entities.iter().find(|e| e.name == name)
            {
                self.inputs(entity, true)?;
                for var in vars.iter().filter(|v| v.entity == entity.name) {
                    self.script.push(var.sql.clone(), Some(var.origin.clone()));
                }
                // A view may read a cohort's members: they come with the entity.
                self.cohorts(Some(&entity.name))?;
            }
        }
        let cohorts = self.cohorts(None)?;
        for entity in &self.project.entities {
            self.outputs(entity, &cohorts)?;
        }
        self.feature_tables()?;
        Ok(self.script)
    }

    fn render(
        &self,
        text: &str,
        entity: Option<&str>,
        origin: &Origin,
        key: &str,
    ) -> Result<Rendered> {
        let mut inputs: BTreeMap<String, String> = match entity {
            Some(entity) => self
                .knit_inputs
                .iter()
                .filter(|((_, e), _)| e == entity)
                .map(|((input, _), name)| (input.clone(), name.clone()))
                .collect(),
            None => BTreeMap::new(),
        };
        for (alias, target) in &self.project.input_aliases {
            if let Some(name) = inputs.get(target).cloned() {
                inputs.insert(alias.clone(), name);
            }
        }
        render(text, &self.names, &inputs).map_err(|reason| {
            Origin {
                key: format!("{}.{key}", origin.key),
                ..origin.clone()
            }
            .error(reason)
        })
    }

    /// Each `sql_template` model rendered, with the models it reads.
    fn sql_models(&self) -> Result<BTreeMap<String, (Rendered, &'a Origin)>> {
        let mut rendered = BTreeMap::new();
        for model in &self.project.sql_models {
            let sql = self.render(&model.sql, None, &model.origin, "model_spec.single_sql")?;
            rendered.insert(model.name.clone(), (sql, &model.origin));
        }
        Ok(rendered)
    }

    /// Registers the warehouse tables that `sql_template` models name directly
    /// (`FROM shop.exclusions`), as inputs' tables are: qualified names that are no
    /// input's table, found under the tables folder. A name not found is left for the
    /// query to report (it may be a view or a CTE of the model).
    fn tables_read_by_models(
        &mut self,
        views: &BTreeMap<String, (Rendered, &'a Origin)>,
    ) -> Result<()> {
        use knit_sql::sqlparser::ast::visit_relations;
        use knit_sql::sqlparser::dialect::GenericDialect;
        use knit_sql::sqlparser::parser::Parser;
        let mut seen = BTreeSet::new();
        for (rendered, origin) in views.values() {
            let Ok(statements) = Parser::parse_sql(&GenericDialect {}, &rendered.sql) else {
                continue;
            };
            let mut names = Vec::new();
            let _ = visit_relations(&statements, |name| {
                names.push(name.to_string());
                std::ops::ControlFlow::<()>::Continue(())
            });
            for name in names {
                let lower = name.to_lowercase().replace('"', "");
                let qualified = lower.split('.').count() >= 2;
                let known = self
                    .names
                    .input_sources
                    .values()
                    .any(|s| s.to_lowercase().replace('"', "") == lower);
                if !qualified || known || !seen.insert(lower.clone()) {
                    continue;
                }
                if let Ok(table) = external_table(&self.options.tables, &lower, origin) {
                    for statement in table.creates {
                        self.script.push(statement, Some((*origin).clone()));
                    }
                    if let Some(last) = self.script.statements.last_mut() {
                        last.table = Some(table.name.clone());
                    }
                }
            }
        }
        Ok(())
    }

    fn entity(&mut self, entity: &Entity) -> Result<()> {
        let mut types = Vec::new();
        for name in &entity.id_types {
            let mut filters = Vec::new();
            // Filters by SQL are applied where inputs read their ids.
            for filter in self.type_filters(entity, name)? {
                if filter.sql.is_some() {
                    continue;
                }
                let word = if filter.include { "INCLUDE" } else { "EXCLUDE" };
                filters.push(if filter.regex {
                    format!("{word} REGEX {}", quote_literal(&pb_regex(&filter.value)))
                } else {
                    format!("{word} ({})", quote_literal(&filter.value))
                });
            }
            types.push(
                std::iter::once(quote_ident_if_needed(name))
                    .chain(filters)
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        let mut sql = format!(
            "CREATE ENTITY {} ID TYPES ({})",
            quote_ident_if_needed(&entity.name),
            types.join(", ")
        );
        if let Some(main) = &entity.main_id {
            sql.push_str(&format!(" MAIN ID {}", quote_ident_if_needed(main)));
        }
        self.script.push(sql, Some(entity.origin.clone()));
        Ok(())
    }

    /// The entity's stitcher: its output name, and its model (`None`: pb's default
    /// stitcher, over every input).
    fn stitcher(&self, entity: &Entity) -> Result<(String, Option<&'a Stitcher>)> {
        let stitchers = &self.project.stitchers;
        let found = match &entity.stitcher {
            Some(name) => Some(stitchers.iter().find(|s| &s.name == name).ok_or_else(|| {
                entity.origin.error(format!(
                    "id_stitcher: no id_stitcher model named '{name}' in the model folders"
                ))
            })?),
            None => stitchers.iter().find(|s| s.entity == entity.name),
        };
        Ok(match found {
            Some(stitcher) => (stitcher.name.clone(), Some(stitcher)),
            None => (format!("{}_default_id_stitcher", entity.name), None),
        })
    }

    /// Names the Knit input of each pb input with ids of `entity` (and of each id
    /// stitcher a var of the entity reads `from`), so that vars can refer to them before
    /// the inputs are written.
    fn register_inputs(&mut self, entity: &Entity) -> Result<()> {
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
    fn graph_inputs(&self, entity: &Entity) -> Vec<String> {
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
    /// it is a union of inputs (whose rows are its inputs').
    fn is_lookup(&self, entity: &Entity, input: &str) -> Result<bool> {
        let (_, stitcher) = self.stitcher(entity)?;
        let is_union = self.project.unions.iter().any(|(name, _)| name == input);
        Ok(match stitcher {
            Some(stitcher) => !stitcher.edge_sources.iter().any(|s| s == input),
            None => is_union,
        })
    }

    /// The `CREATE INPUT` statements of `entity`: those that add edges to its id graph,
    /// or (`lookups`) those that only map rows to it, the id graph's rows included.
    fn inputs(&mut self, entity: &Entity, lookups: bool) -> Result<()> {
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
            let is_lookup = self.is_lookup(entity, &input.name)?;
            if is_lookup != lookups {
                continue;
            }
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
            // A model's rows keyed by the main id itself (`type: rudder_id`, as pb reads
            // it): each is mapped by one id of its cluster, found in the id graph.
            for (k, id) in main_ids.iter().enumerate() {
                if !is_lookup {
                    return Err(input.origin.error(format!(
                        "ids: a rudder_id (the main id of entity '{}') maps a model's rows to \
                         their entity but cannot add edges to its id graph: leave this input \
                         out of the id stitcher's edge_sources",
                        entity.name
                    )));
                }
                let select = self.render(&id.select, None, &input.origin, "ids")?.sql;
                let main = quote_ident_if_needed(
                    entity
                        .main_id
                        .as_deref()
                        .unwrap_or(&format!("{}_main_id", entity.name)),
                );
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
        if !lookups {
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
    fn sql_filters(&self, entity: &Entity, id_type: &str) -> Result<Vec<&'a Filter>> {
        Ok(self
            .type_filters(entity, id_type)?
            .into_iter()
            .filter(|f| f.sql.is_some())
            .collect())
    }

    /// The filters of an id type of `entity`, in order: a type that extends another has
    /// the other's first. A type not declared, or extending itself, is an error.
    fn type_filters(&self, entity: &Entity, id_type: &str) -> Result<Vec<&'a Filter>> {
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
    fn sql_filter_source(&self, filter: &Filter, origin: &Origin) -> Result<String> {
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

    /// Cohorts in `EXTENDS` order, each with its entity; the statements of those of
    /// entity `write` are written (`None`: none).
    fn cohorts(&mut self, write: Option<&str>) -> Result<Vec<(String, String)>> {
        let cohorts = &self.project.cohorts;
        let order = dependency_order(
            cohorts
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.extends.iter().cloned().collect(),
                        &c.origin,
                    )
                })
                .collect(),
        )?;
        let mut entities: BTreeMap<String, String> = BTreeMap::new();
        let mut result = Vec::new();
        for name in order {
            let Some(cohort) = cohorts.iter().find(|c| c.name == name) else {
                let origin = cohorts
                    .iter()
                    .find(|c| c.extends.as_deref() == Some(name.as_str()))
                    .map(|c| c.origin.clone());
                return Err(origin
                    .map(|o| o.error(format!("extends: no entity_cohort model named '{name}'")))
                    .unwrap_or_else(|| {
                        Origin {
                            file: "pb_project.yaml".into(),
                            key: name.clone(),
                        }
                        .error("unknown cohort")
                    }));
            };
            let entity = match &cohort.extends {
                Some(parent) => entities.get(parent).cloned().unwrap_or_default(),
                None => cohort.entity.clone(),
            };
            if !self.names.entities.contains(&entity) {
                return Err(cohort.origin.error(format!(
                    "model_spec.extends: entity '{entity}' is not declared in pb_project.yaml"
                )));
            }
            let mut conditions = Vec::new();
            for (n, (include, condition)) in cohort.steps.iter().enumerate() {
                let key = format!("model_spec.filter_pipeline[{n}].value");
                let rendered = self
                    .render(condition, Some(&entity), &cohort.origin, &key)?
                    .sql;
                // pb pastes `NOT` before the text, without parentheses.
                conditions.push(if *include {
                    format!("({rendered})")
                } else {
                    format!("(NOT {rendered})")
                });
            }
            if let Some(expression) = &cohort.expression {
                let rendered = self.render_filter_expression(
                    expression,
                    &entity,
                    &cohort.origin,
                    "model_spec.filter_expression",
                )?;
                conditions.push(rendered);
            }
            let condition = if conditions.is_empty() {
                "TRUE".to_string()
            } else {
                conditions.join(" AND ")
            };
            let extends = cohort
                .extends
                .as_ref()
                .map(|p| format!(" EXTENDS {}", quote_ident_if_needed(p)))
                .unwrap_or_default();
            if write == Some(entity.as_str()) {
                self.script.push(
                    format!(
                        "CREATE COHORT {} FOR {}{extends} WHERE {condition}",
                        quote_ident_if_needed(&cohort.name),
                        quote_ident_if_needed(&entity)
                    ),
                    Some(cohort.origin.clone()),
                );
            }
            entities.insert(cohort.name.clone(), entity.clone());
            result.push((cohort.name.clone(), entity));
        }
        Ok(result)
    }
}

impl Writer<'_> {
    /// A cohort's `filter_expression` as SQL, each condition rendered as a template and
    /// put in parentheses (as pb does: checked against pb, nested `AND`/`OR` included).
    fn render_filter_expression(
        &mut self,
        expression: &FilterExpression,
        entity: &str,
        origin: &Origin,
        key: &str,
    ) -> Result<String> {
        let (operands, operator) = match expression {
            FilterExpression::Condition(condition) => {
                let rendered = self.render(condition, Some(entity), origin, key)?.sql;
                return Ok(format!("({rendered})"));
            }
            FilterExpression::All(operands) => (operands, " AND "),
            FilterExpression::Any(operands) => (operands, " OR "),
        };
        if operands.is_empty() {
            return Err(origin.error(format!("{key}: an empty AND or OR list")));
        }
        let parts = operands
            .iter()
            .map(|o| self.render_filter_expression(o, entity, origin, key))
            .collect::<Result<Vec<_>>>()?;
        Ok(format!("({})", parts.join(operator)))
    }
}

impl Script {
    fn push(&mut self, sql: String, origin: Option<Origin>) {
        self.statements.push(ScriptStatement {
            sql,
            origin,
            output: None,
            keys: Vec::new(),
            entity: None,
            table: None,
        });
    }
}

/// A pattern that Knit anchors whole (`^(?:p)$`) and that matches what pb's
/// `'^' || re || '$'` finds: pasted, a top-level `|` binds `^` and `$` to one side each.
fn pb_regex(re: &str) -> String {
    if re.contains('|') {
        format!("(?s:.*)(?:^{re}$)(?s:.*)")
    } else {
        re.to_string()
    }
}

/// Whether `id` maps an input's rows to `entity`: an id of one of its id types, or its
/// main id (`type: rudder_id`, unless the entity has an id type of that name).
fn maps_rows(entity: &Entity, id: &InputId) -> bool {
    id.entity == entity.name && (entity.id_types.contains(&id.id_type) || is_main_id(entity, id))
}

/// Whether `id` is `entity`'s main id (pb's `type: rudder_id`).
fn is_main_id(entity: &Entity, id: &InputId) -> bool {
    id.entity == entity.name
        && id.id_type == "rudder_id"
        && !entity.id_types.iter().any(|t| t == "rudder_id")
}

/// For each cohort and each var name that a cohort's var shares with another var, the
/// Knit name of the var as the cohort sees it (templates' `{{cohort.Var("x")}}`).
fn scoped_vars(project: &Project) -> BTreeMap<(String, String), String> {
    let shared: BTreeSet<&str> = (project.vars.iter())
        .filter(|v| v.shown_as.is_some())
        .map(|v| v.pb_name())
        .collect();
    let mut scoped = BTreeMap::new();
    for cohort in &project.cohorts {
        for name in &shared {
            if let Some(knit) = project.scoped_var_name(&cohort.name, name) {
                scoped.insert((cohort.name.clone(), name.to_string()), knit);
            }
        }
    }
    scoped
}

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
    let end = micros(&quote_literal(&options.end_time));
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
fn input_rows(project: &Project, options: &ScriptOptions, names: Names) -> Result<Arc<Names>> {
    let mut names = Arc::new(names);
    let mut rows = BTreeMap::new();
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
        rows.insert(input.name.clone(), sql);
    }
    for (alias, target) in &project.input_aliases {
        if let Some(sql) = rows.get(target).cloned() {
            rows.insert(alias.clone(), sql);
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
    Ok(names)
}
