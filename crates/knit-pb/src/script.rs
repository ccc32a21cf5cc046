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
use crate::grains::{GrainRun, check_model_grain, late_reader};
use crate::project::{Entity, Origin, Project, Source, Stitcher};
use crate::tables::{external_table, pasted_csv};
use crate::template::{ModelEntity, Names, Rendered, render};

mod cohorts;
mod inputs;
mod order;
mod outputs;
mod steps;
mod vars;

use inputs::input_rows;
pub use outputs::DELTA_PURGE_SHARE;

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
    /// Where the passes of var groups with a `time_grain` keep their vars, when the
    /// run makes them (see [`Project::grain_passes`]); without it, a var group whose
    /// grain's boundary is before the end time is an error.
    pub grains: Option<GrainRun>,
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
                || self.feature_view_models.iter().any(|m| m.name == name)
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
        // The run is as of the default time grain's boundary; vars of a grain whose
        // boundary is before that read their pass's file.
        let end_time = self.run_end_time(&options.end_time)?;
        let options = &ScriptOptions {
            end_time,
            ..options.clone()
        };
        let as_of_grains = self.as_of_grains(&options.end_time, options.grains.as_ref())?;
        let project = as_of_grains.as_ref().unwrap_or(self);
        let mut script = Writer::new(project, options)?.write()?;
        let dropped = self.outputs_of(&options.skip_models);
        let kept = self.outputs_of(&selected);
        // Models of an earlier boundary are written by its pass, and only they are: a
        // pass keeps the outputs of its boundary's models, the run drops them all.
        let late = match &options.grains {
            Some(grains) => self.late_models(&grains.run_end)?,
            None => Vec::new(),
        };
        let pass = options.grains.as_ref().is_some_and(|g| g.pass);
        let late_outputs = |of_this_pass: bool| {
            let models: Vec<String> = (late.iter())
                .filter(|(_, at)| !of_this_pass || *at == options.end_time)
                .map(|(model, _)| model.clone())
                .collect();
            self.outputs_of(&models)
        };
        let (late, this_pass) = (late_outputs(false), late_outputs(true));
        script.statements.retain(|s| {
            s.output.as_ref().is_none_or(|output| {
                let output = output.to_lowercase();
                let written_here = if pass {
                    this_pass.contains(&output)
                } else {
                    !late.contains(&output)
                };
                written_here
                    && !dropped.contains(&output)
                    && (selected.is_empty() || kept.contains(&output))
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
            if self.feature_tables.iter().any(|t| t.name == name)
                || self.sql_models.iter().any(|m| m.name == name && m.written)
            {
                outputs.insert(name.clone());
            }
            if let Some(model) = self.feature_view_models.iter().find(|m| m.name == name) {
                for entity in self.entities.iter().filter(|e| e.name == model.entity) {
                    for (view, _) in model.view_names(entity) {
                        outputs.insert(view.to_lowercase());
                    }
                }
            }
            if let Some(cohort) = self.cohorts.iter().find(|c| c.name == name) {
                // A cohort extending another has its entity through it.
                let entity = self.cohort_entity(&cohort.name);
                for entity in (self.entities.iter()).filter(|e| Some(&e.name) == entity.as_ref()) {
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
            scoped_vars: project.scoped_vars(),
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
        // Id stitchers, feature tables and cohorts are of an entity: read through
        // `this.DeRef`, they need the entity's inputs and vars first.
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
        // `this.DeRef("<entity>/all")`: the entity's members, a main id each (pb's
        // `<entity>_all` table).
        for entity in &project.entities {
            let all = format!("{}/all", entity.name);
            names
                .models
                .insert(all.clone(), format!("({})", entity.members_query()));
            model_entities.insert(all, entity.name.clone());
            // `this.DeRef("<entity>/<entity>_default_id_stitcher")`: the id graph of an
            // entity without an id stitcher model of its own, by pb's name for it.
            let own = project
                .stitchers
                .iter()
                .any(|s| s.entity == entity.name || entity.stitcher.as_ref() == Some(&s.name));
            if !own {
                let graph = format!("{0}/{0}_default_id_stitcher", entity.name);
                let query = format!("(SELECT * FROM id_stitch({}))", quote_literal(&entity.name));
                names.models.insert(graph.clone(), query);
                model_entities.insert(graph, entity.name.clone());
            }
        }
        for (model, entity) in model_entities {
            if let Some(entity) = project.entities.iter().find(|e| e.name == entity) {
                let shown = ModelEntity {
                    name: entity.name.clone(),
                    id_column: entity.main_id_column(),
                };
                names.model_entities.insert(model, shown);
            }
        }
        let mut script = Script::default();
        // pb projects are written for warehouses, whose arrays count from 0
        // (`array_construct(..)[0]`, `split(s, ',')[0]`): so do the script's lists.
        script.push("SET knit.list_index_base = 0".to_string(), None);
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
                        for statement in &sql.qualifiers {
                            if created.insert(statement.clone()) {
                                script.push(statement.clone(), None);
                            }
                        }
                        script.push(sql.table.clone(), Some(input.origin.clone()));
                        if let Some(last) = script.statements.last_mut() {
                            last.table = Some(sql.files_table.clone());
                        }
                        if let Some(view) = &sql.view {
                            script.push(view.clone(), Some(input.origin.clone()));
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
            script,
        })
    }

    fn write(mut self) -> Result<Script> {
        // A run that makes passes computes a model of an earlier boundary in its pass.
        if self.options.grains.is_none() {
            for model in &self.project.time_grains {
                check_model_grain(&model.grain, &self.options.end_time)
                    .map_err(|reason| model.origin.error(reason))?;
            }
        }
        for entity in &self.project.entities {
            self.register_inputs(entity)?;
        }
        let views = self.sql_models()?;
        self.check_late_reads(&views)?;
        self.tables_read_by_models(&views)?;
        for entity in &self.project.entities {
            self.entity(entity)?;
        }
        let vars = self.vars()?;
        let cohorts = self.cohorts()?;
        self.write_definitions(&views, &vars, &cohorts)?;
        let cohorts: Vec<(String, String)> =
            cohorts.into_iter().map(|c| (c.name, c.entity)).collect();
        if let Some(grains) = self.options.grains.as_ref().filter(|g| g.pass) {
            self.grain_files(grains);
        }
        for entity in &self.project.entities {
            self.outputs(entity, &cohorts)?;
        }
        for model in &self.project.feature_view_models {
            if !self.project.entities.iter().any(|e| e.name == model.entity) {
                return Err(model.origin.error(format!(
                    "model_spec.entity_key: entity '{}' is not declared in pb_project.yaml",
                    model.entity
                )));
            }
        }
        self.feature_tables()?;
        self.written_sql_models();
        outputs::one_writer_per_output(&self.script.statements)?;
        Ok(self.script)
    }

    /// A `sql_template` that reads (`this.DeRef`) a model of a grain whose boundary is
    /// before the run's end time must be of that time too: pb reads the model as of it.
    fn check_late_reads(&self, views: &BTreeMap<String, (Rendered, &Origin)>) -> Result<()> {
        let Some(grains) = &self.options.grains else {
            return Ok(());
        };
        let late = self.project.late_models(&grains.run_end)?;
        let pass_of = |name: &str| late.iter().find(|(m, _)| m == name).map(|(_, at)| at);
        for (reader, (rendered, origin)) in views {
            for model in &rendered.models {
                if let Some(at) = pass_of(model)
                    && pass_of(reader) != Some(at)
                {
                    return Err(late_reader(
                        reader,
                        "model",
                        model,
                        at,
                        &grains.run_end,
                        origin,
                    ));
                }
            }
        }
        Ok(())
    }

    /// A pass's statements that write each entity's vars of the grains whose boundary
    /// is its end time, keyed by main id, for the run to read.
    fn grain_files(&mut self, grains: &GrainRun) {
        for (entity, vars) in self.project.grained_vars(&self.options.end_time) {
            let Some(main) = (self.project.entities.iter())
                .find(|e| e.name == entity)
                .map(|e| e.main_id_column())
            else {
                continue;
            };
            let columns: Vec<String> = std::iter::once(&main)
                .chain(&vars)
                .map(|c| quote_ident_if_needed(c))
                .collect();
            // Only these vars and what they read are computed, not the whole var table.
            let named: Vec<String> = std::iter::once(&entity)
                .chain(&vars)
                .map(|n| quote_literal(n))
                .collect();
            let file = grains.file(&self.options.end_time, &entity);
            self.script.push(
                format!(
                    "COPY (SELECT {} FROM entity_vars({})) TO {} STORED AS PARQUET",
                    columns.join(", "),
                    named.join(", "),
                    quote_literal(&file)
                ),
                None,
            );
        }
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
            let mut sql = self.render(&model.sql, None, &model.origin, "model_spec.single_sql")?;
            sql.sql = open_with_list(&sql.sql);
            rendered.insert(model.name.clone(), (sql, &model.origin));
        }
        Ok(rendered)
    }

    /// Registers the warehouse tables that `sql_template` models name directly
    /// (`FROM shop.exclusions`), as inputs' tables are: qualified names that are no
    /// input's table, found under the tables folder. A qualified name not found there is
    /// an error naming every place looked at, as for an input's table, unless its last
    /// part names one of the project's models or it is in DataFusion's own catalog: the
    /// query would otherwise report it under DataFusion's name (`datafusion.shop.x`),
    /// which is no file a user can put anywhere.
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
                match external_table(&self.options.tables, &lower, origin) {
                    Ok(table) => {
                        for statement in table.qualifiers {
                            self.script.push(statement, Some((*origin).clone()));
                        }
                        self.script.push(table.table, Some((*origin).clone()));
                        if let Some(last) = self.script.statements.last_mut() {
                            last.table = Some(table.files_table.clone());
                        }
                        if let Some(view) = table.view {
                            self.script.push(view, Some((*origin).clone()));
                        }
                    }
                    Err(error) if self.names_no_model_table(&lower) => return Err(error),
                    Err(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Whether a qualified name a model reads can only be a warehouse table: its last
    /// part names no model of the project (in any case), and it is not in DataFusion's
    /// own catalog.
    fn names_no_model_table(&self, qualified: &str) -> bool {
        let parts: Vec<&str> = qualified.split('.').collect();
        let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
            return false;
        };
        let internal = ["datafusion", "public", "information_schema"];
        let project = self.project;
        let model = |name: &str| name.eq_ignore_ascii_case(last);
        let models = project.sql_models.iter().map(|m| &m.name);
        let models = models
            .chain(project.stitchers.iter().map(|m| &m.name))
            .chain(project.cohorts.iter().map(|m| &m.name))
            .chain(project.feature_tables.iter().map(|m| &m.name))
            .chain(project.unsupported_models.iter().map(|m| &m.name));
        !internal.contains(first) && !models.into_iter().any(|name| model(name))
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

/// A `single_sql` that starts with `, name AS (...)` continues the `WITH` list that newer
/// pb versions open before the model's SQL (with the rows its `DeRef`s read); Knit reads
/// those rows in place, so the list opens here: the comma becomes `WITH`.
fn open_with_list(sql: &str) -> String {
    let mut rest = sql.trim_start();
    // Past comments before the first token.
    while let Some(comment) = rest.strip_prefix("--") {
        rest = comment
            .split_once('\n')
            .map_or("", |(_, after)| after)
            .trim_start();
    }
    match rest.strip_prefix(',') {
        Some(list) => format!("WITH {}", list.trim_start()),
        None => sql.to_string(),
    }
}
