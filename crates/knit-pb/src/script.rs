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
use crate::project::{Entity, Input, Origin, Project, Source, Stitcher, Var, VarKind};
use crate::tables::{external_table, pasted_csv};
use crate::template::{Names, Rendered, render, sql_type};

mod outputs;

/// The file format of outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Parquet files.
    #[default]
    Parquet,
    /// CSV files with a header.
    Csv,
}

impl OutputFormat {
    /// The file extension of an output in this format.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Csv => "csv",
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
    /// What `warehouse.DatabaseType()` answers in templates (`snowflake`, `bigquery`,
    /// `redshift`, `databricks`), so that projects take the branch whose SQL Knit speaks.
    pub dialect: String,
}

/// The dialects `warehouse.DatabaseType()` may answer.
pub const DIALECTS: &[&str] = &["snowflake", "bigquery", "redshift", "databricks"];

/// One statement of the script.
#[derive(Debug, Clone)]
pub struct ScriptStatement {
    /// The SQL, without the final `;`.
    pub sql: String,
    /// The YAML it came from.
    pub origin: Option<Origin>,
    /// The output it writes, for `COPY` statements.
    pub output: Option<String>,
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
        Writer::new(self, options)?.write()
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
            models: project
                .sql_models
                .iter()
                .map(|m| (m.name.clone(), quote_ident_if_needed(&m.name)))
                .collect(),
            dialect: options.dialect.clone(),
            end_time: Some(options.end_time.clone()),
            begin_time: options.begin_time.clone(),
            ..Names::default()
        };
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
        Ok(Self {
            project,
            options,
            names: Arc::new(names),
            knit_inputs: BTreeMap::new(),
            script,
        })
    }

    fn write(mut self) -> Result<Script> {
        for (grain, origin) in &self.project.time_grains {
            check_time_grain(grain, &self.options.end_time)
                .map_err(|reason| origin.error(reason))?;
        }
        self.sql_models()?;
        for entity in &self.project.entities {
            self.entity(entity)?;
        }
        for entity in &self.project.entities {
            self.inputs(entity)?;
        }
        self.vars()?;
        let cohorts = self.cohorts()?;
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
        let inputs: BTreeMap<String, String> = match entity {
            Some(entity) => self
                .knit_inputs
                .iter()
                .filter(|((_, e), _)| e == entity)
                .map(|((input, _), name)| (input.clone(), name.clone()))
                .collect(),
            None => BTreeMap::new(),
        };
        render(text, &self.names, &inputs).map_err(|reason| {
            Origin {
                key: format!("{}.{key}", origin.key),
                ..origin.clone()
            }
            .error(reason)
        })
    }

    fn sql_models(&mut self) -> Result<()> {
        let mut rendered = BTreeMap::new();
        for model in &self.project.sql_models {
            let sql = self.render(&model.sql, None, &model.origin, "model_spec.single_sql")?;
            rendered.insert(model.name.clone(), (sql, &model.origin));
        }
        let order = dependency_order(
            rendered
                .iter()
                .map(|(name, (sql, origin))| {
                    (name.clone(), sql.models.iter().cloned().collect(), *origin)
                })
                .collect(),
        )?;
        for name in order {
            if let Some((sql, origin)) = rendered.get(&name) {
                let sql = format!(
                    "CREATE VIEW {} AS {}",
                    quote_ident_if_needed(&name),
                    sql.sql.trim().trim_end_matches(';')
                );
                self.script.push(sql, Some((*origin).clone()));
            }
        }
        Ok(())
    }

    fn entity(&mut self, entity: &Entity) -> Result<()> {
        let mut types = Vec::new();
        for name in &entity.id_types {
            let mut filters = Vec::new();
            let mut current = Some(name.clone());
            let mut seen = BTreeSet::new();
            // A type that extends another has the other's filters first.
            let mut chain: Vec<&crate::project::IdType> = Vec::new();
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
            for definition in chain.iter().rev() {
                for filter in &definition.filters {
                    let word = if filter.include { "INCLUDE" } else { "EXCLUDE" };
                    filters.push(if filter.regex {
                        format!("{word} REGEX {}", quote_literal(&pb_regex(&filter.value)))
                    } else {
                        format!("{word} ({})", quote_literal(&filter.value))
                    });
                }
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

    fn inputs(&mut self, entity: &Entity) -> Result<()> {
        let (_, stitcher) = self.stitcher(entity)?;
        let edge_sources = stitcher.map(|s| s.edge_sources.as_slice());
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
            if ids.is_empty() {
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
            let entities: BTreeSet<&str> = input.ids.iter().map(|i| i.entity.as_str()).collect();
            let knit_name = if entities.len() > 1 {
                format!("{}_{}", input.name, entity.name)
            } else {
                input.name.clone()
            };
            self.knit_inputs
                .insert((input.name.clone(), entity.name.clone()), knit_name.clone());
            let mut id_sql = Vec::new();
            for id in ids {
                let select = self.render(&id.select, None, &input.origin, "ids")?.sql;
                id_sql.push(format!(
                    "{select} AS {}",
                    quote_ident_if_needed(&id.id_type)
                ));
            }
            let lookup = match edge_sources {
                Some(sources) if !sources.contains(&input.name) => "LOOKUP ",
                _ => "",
            };
            let mut sql = format!(
                "CREATE INPUT {} FOR {} FROM {} {lookup}IDS ({})",
                quote_ident_if_needed(&knit_name),
                quote_ident_if_needed(&entity.name),
                self.names.input_sources[&input.name],
                id_sql.join(", ")
            );
            if let Some(column) = &input.occurred_at {
                sql.push_str(&format!(
                    " OCCURRED AT {}",
                    quote_ident_if_needed(&column.to_lowercase())
                ));
            }
            let mut conditions = Vec::new();
            if let Some(filter) = &input.filter {
                let filter = self.render(filter, None, &input.origin, "where")?.sql;
                conditions.push(format!("({filter})"));
            }
            if let Some(time) = self.time_filter(input) {
                conditions.push(time);
            }
            if !conditions.is_empty() {
                sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
            }
            self.script.push(sql, Some(input.origin.clone()));
        }
        Ok(())
    }

    /// pb keeps the rows that occurred in the run's window, and those without a time.
    /// Times compare as microseconds, whose range takes any date (nanoseconds stop at
    /// 1677 and 2262).
    fn time_filter(&self, input: &Input) -> Option<String> {
        let column = quote_ident_if_needed(&input.occurred_at.as_ref()?.to_lowercase());
        let micros = |sql: &str| format!("arrow_cast({sql}, 'Timestamp(Microsecond, None)')");
        let end = micros(&quote_literal(&self.options.end_time));
        let at = micros(&column);
        let window = match &self.options.begin_time {
            Some(begin) => format!("{at} BETWEEN {} AND {end}", micros(&quote_literal(begin))),
            None => format!("{at} <= {end}"),
        };
        Some(if self.project.include_untimed {
            format!("({window} OR {column} IS NULL)")
        } else {
            format!("({window})")
        })
    }

    fn vars(&mut self) -> Result<()> {
        let mut statements = BTreeMap::new();
        let mut graph = Vec::new();
        let input_vars: BTreeSet<(String, String)> = self
            .project
            .vars
            .iter()
            .filter(|v| v.kind == VarKind::Input)
            .filter_map(|v| Some((v.from.clone()?, v.name.clone())))
            .collect();
        for var in &self.project.vars {
            let (key, sql, references) = self.var(var, &input_vars)?;
            if statements.contains_key(&key) {
                return Err(var
                    .origin
                    .error(format!("a var named '{}' is defined twice", var.name)));
            }
            graph.push((key.clone(), references, &var.origin));
            statements.insert(key, (sql, var.origin.clone()));
        }
        for (key, references, origin) in &graph {
            if let Some(unknown) = references.iter().find(|r| !statements.contains_key(*r)) {
                let name = unknown
                    .trim_start_matches("entity ")
                    .trim_start_matches("input ");
                return Err(origin.error(format!(
                    "{} reads {name}, which no var_groups entry defines",
                    key.trim_start_matches("entity ")
                        .trim_start_matches("input ")
                )));
            }
        }
        for key in dependency_order(graph)? {
            if let Some((sql, origin)) = statements.remove(&key) {
                self.script.push(sql, Some(origin));
            }
        }
        Ok(())
    }

    /// A var's statement, its key in the dependency graph and the keys it reads.
    fn var(
        &self,
        var: &Var,
        input_vars: &BTreeSet<(String, String)>,
    ) -> Result<(String, String, Vec<String>)> {
        let entity = Some(var.entity.as_str());
        let mut references = BTreeSet::new();
        let mut render = |text: &str, key: &str| -> Result<String> {
            let rendered = self.render(text, entity, &var.origin, key)?;
            for (owner, name) in &rendered.vars {
                references.insert(format!("entity {owner}.{name}"));
            }
            for reference in &rendered.input_names {
                if input_vars.contains(reference) {
                    references.insert(format!("input {}.{}", reference.0, reference.1));
                }
            }
            Ok(rendered.sql)
        };
        let mut select = render(&var.select, "select")?;
        let filter = var
            .filter
            .as_ref()
            .map(|w| render(w, "where"))
            .transpose()?;
        let default = var
            .default
            .as_ref()
            .map(|d| render(d, "default_value"))
            .transpose()?;
        let window = match &var.window {
            Some(window) => Some((
                window
                    .partition_by
                    .iter()
                    .map(|p| render(p, "window.partition_by"))
                    .collect::<Result<Vec<_>>>()?,
                window
                    .order_by
                    .iter()
                    .map(|o| render(o, "window.order_by"))
                    .collect::<Result<Vec<_>>>()?,
                window.frame.clone(),
            )),
            None => None,
        };
        let data_type = match &var.data_type {
            Some(t) => Some(
                sql_type(render(t, "column_data_type")?.trim())
                    .map_err(|reason| var.origin.error(format!("column_data_type: {reason}")))?,
            ),
            None => None,
        };
        let knit_input = match &var.from {
            Some(from) => Some(
                self.knit_inputs
                    .get(&(from.clone(), var.entity.clone()))
                    .cloned()
                    .ok_or_else(|| {
                        var.origin.error(format!(
                            "from: input '{from}' has no ids of entity '{}'",
                            var.entity
                        ))
                    })?,
            ),
            None => None,
        };
        match (&window, var.kind, &knit_input) {
            // An ordered first or last value per entity.
            (Some((partition, order, _)), VarKind::Entity, Some(_)) => {
                if !partition.is_empty() {
                    return Err(var.origin.error(
                        "window.partition_by with from is not supported; \
                         an entity var's window is always one entity",
                    ));
                }
                select = ordered_aggregate(&select, order).ok_or_else(|| {
                    var.origin.error(
                        "a window with from is supported for first_value(x) and last_value(x)",
                    )
                })?;
            }
            (Some((partition, order, frame)), _, _) => {
                let mut over = Vec::new();
                if !partition.is_empty() {
                    over.push(format!("PARTITION BY {}", partition.join(", ")));
                }
                if !order.is_empty() {
                    over.push(format!("ORDER BY {}", order.join(", ")));
                }
                if let Some(frame) = frame {
                    over.push(frame.clone());
                }
                select = format!("{select} OVER ({})", over.join(" "));
            }
            (None, _, _) => {}
        }
        if let Some(data_type) = data_type {
            select = format!("CAST(({select}) AS {data_type})");
        }
        let (key, mut sql) = match (var.kind, &knit_input) {
            (VarKind::Entity, _) => (
                format!("entity {}.{}", var.entity, var.name),
                format!(
                    "CREATE ENTITY VAR {}.{} AS {select}",
                    quote_ident_if_needed(&var.entity),
                    quote_ident_if_needed(&var.name)
                ),
            ),
            (VarKind::Input, Some(input)) => (
                format!(
                    "input {}.{}",
                    var.from.clone().unwrap_or_default(),
                    var.name
                ),
                format!(
                    "CREATE INPUT VAR {}.{} AS {select}",
                    quote_ident_if_needed(input),
                    quote_ident_if_needed(&var.name)
                ),
            ),
            (VarKind::Input, None) => {
                return Err(var.origin.error("an input_var needs from: inputs/<input>"));
            }
        };
        if var.kind == VarKind::Entity
            && let Some(input) = &knit_input
        {
            sql.push_str(&format!(" FROM {}", quote_ident_if_needed(input)));
        }
        if let Some(filter) = filter {
            if var.kind == VarKind::Entity && knit_input.is_none() {
                return Err(var
                    .origin
                    .error("where needs from: an entity var without from has no rows to filter"));
            }
            sql.push_str(&format!(" WHERE {filter}"));
        }
        if let Some(default) = default {
            sql.push_str(&format!(" DEFAULT {default}"));
        }
        if var.hidden {
            sql.push_str(" HIDDEN");
        }
        if let Some(description) = &var.description {
            sql.push_str(&format!(
                " DESCRIPTION {}",
                quote_literal(description.trim())
            ));
        }
        Ok((key, sql, references.into_iter().collect()))
    }

    /// Cohorts in `EXTENDS` order; returns each cohort's entity.
    fn cohorts(&mut self) -> Result<Vec<(String, String)>> {
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
            self.script.push(
                format!(
                    "CREATE COHORT {} FOR {}{extends} WHERE {condition}",
                    quote_ident_if_needed(&cohort.name),
                    quote_ident_if_needed(&entity)
                ),
                Some(cohort.origin.clone()),
            );
            entities.insert(cohort.name.clone(), entity.clone());
            result.push((cohort.name.clone(), entity));
        }
        Ok(result)
    }
}

impl Script {
    fn push(&mut self, sql: String, origin: Option<Origin>) {
        self.statements.push(ScriptStatement {
            sql,
            origin,
            output: None,
        });
    }
}

/// Checks that `end_time` is a boundary of `grain`. pb computes a model with a time grain
/// as of the grain's last boundary before the run's end time (a month's and a year's is
/// its first Monday); Knit computes every model as of the end time, so the two agree
/// exactly when the end time is on a boundary.
fn check_time_grain(grain: &str, end_time: &str) -> Result<(), String> {
    use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
    let Ok(end) = chrono::DateTime::parse_from_rfc3339(end_time) else {
        // The CLI checks the end time; a library caller's odd value is theirs to keep.
        return Ok(());
    };
    let end = end.naive_utc();
    let midnight = |date: NaiveDate| date.and_hms_opt(0, 0, 0).unwrap_or(NaiveDateTime::MIN);
    let first_monday = |year: i32, month: u32| -> NaiveDate {
        let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
        let offset = (7 - first.weekday().num_days_from_monday()) % 7;
        first + Duration::days(i64::from(offset))
    };
    let boundary = match grain {
        "tick" => end,
        "tenminutes" => end
            .with_nanosecond(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_minute(t.minute() / 10 * 10))
            .unwrap_or(end),
        "hour" => end
            .with_nanosecond(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_minute(0))
            .unwrap_or(end),
        "day" => midnight(end.date()),
        "week" => {
            midnight(end.date() - Duration::days(i64::from(end.weekday().num_days_from_monday())))
        }
        "month" => {
            let this = midnight(first_monday(end.year(), end.month()));
            if this <= end {
                this
            } else if end.month() == 1 {
                midnight(first_monday(end.year() - 1, 12))
            } else {
                midnight(first_monday(end.year(), end.month() - 1))
            }
        }
        "year" => {
            let this = midnight(first_monday(end.year(), 1));
            if this <= end {
                this
            } else {
                midnight(first_monday(end.year() - 1, 1))
            }
        }
        _ => return Err(format!("'{grain}' is not a time grain")),
    };
    if boundary == end {
        return Ok(());
    }
    let boundary = boundary
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Err(format!(
        "pb computes a model with time_grain {grain} as of its last boundary, {boundary}, \
         not as of the end time {end_time}; Knit computes every model as of the end time, \
         so run with --end-time {boundary} (or remove time_grain)"
    ))
}

/// `first_value(x)` as `first_value(x ORDER BY ...)` (and `last_value`): pb's window
/// over one entity's rows, of which it keeps one row's value.
fn ordered_aggregate(select: &str, order: &[String]) -> Option<String> {
    let pattern = regex::Regex::new(r"(?is)^\s*(first_value|last_value)\s*\((.*)\)\s*$").ok()?;
    let captures = pattern.captures(select)?;
    let function = captures.get(1)?.as_str();
    let argument = captures.get(2)?.as_str();
    if order.is_empty() {
        return Some(format!("{function}({argument})"));
    }
    Some(format!(
        "{function}({argument} ORDER BY {})",
        order.join(", ")
    ))
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

/// Names in an order where each comes after those it reads; a cycle is an error that
/// names it.
fn dependency_order(nodes: Vec<(String, Vec<String>, &Origin)>) -> Result<Vec<String>> {
    let edges: BTreeMap<&str, (&[String], &Origin)> = nodes
        .iter()
        .map(|(name, references, origin)| (name.as_str(), (references.as_slice(), *origin)))
        .collect();
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    for (name, _, _) in &nodes {
        let mut path = Vec::new();
        visit(name, &edges, &mut done, &mut path, &mut order)?;
    }
    Ok(order)
}

fn visit(
    name: &str,
    edges: &BTreeMap<&str, (&[String], &Origin)>,
    done: &mut BTreeSet<String>,
    path: &mut Vec<String>,
    order: &mut Vec<String>,
) -> Result<()> {
    if done.contains(name) {
        return Ok(());
    }
    if let Some(start) = path.iter().position(|p| p == name) {
        let mut cycle = path[start..].to_vec();
        cycle.push(name.to_string());
        let origin = edges
            .get(path[start].as_str())
            .map(|(_, o)| (*o).clone())
            .unwrap_or_else(|| Origin {
                file: "pb_project.yaml".into(),
                key: name.into(),
            });
        return Err(origin.error(format!("these form a cycle: {}", cycle.join(" -> "))));
    }
    path.push(name.to_string());
    if let Some((references, _)) = edges.get(name) {
        for reference in *references {
            visit(reference, edges, done, path, order)?;
        }
    }
    path.pop();
    done.insert(name.to_string());
    order.push(name.to_string());
    Ok(())
}
