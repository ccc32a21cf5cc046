// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The `COPY` statements of a script: one per output, named as pb names its views.

use std::collections::BTreeMap;

use super::{OutputFormat, ScriptStatement, Writer};
use crate::error::Result;
use crate::project::{Entity, FeatureTable, Origin, Project};
use knit_sql::{quote_ident_if_needed, quote_literal};

/// The share of a Delta output file's rows that, once marked deleted by merges, has a
/// run write the file again without them (`COPY ... OPTIONS ('purge' ...)`).
pub const DELTA_PURGE_SHARE: f64 = 0.5;

/// The feature views to write: a view by the main id's name is dropped (pb makes none).
/// A view by an id type the entity does not have is kept: pb writes it empty, and so
/// does [`Writer::views`], with a warning naming it.
fn served_views(main: &str, views: Vec<(String, Option<String>)>) -> Vec<(String, Option<String>)> {
    views
        .into_iter()
        .filter(|(_, id)| !id.as_ref().is_some_and(|id| id.eq_ignore_ascii_case(main)))
        .collect()
}

impl Writer<'_> {
    pub(super) fn outputs(&mut self, entity: &Entity, cohorts: &[(String, String)]) -> Result<()> {
        let name = quote_literal(&entity.name);
        let main = entity.main_id_column();
        let (stitcher, _) = self.stitcher(entity)?;
        let origin = Some(entity.origin.clone());
        let by_main = [main.clone()];
        self.copy(
            Some(&entity.name),
            &stitcher,
            format!("SELECT * FROM id_stitch({name})"),
            &origin,
            &["other_id", "other_id_type"].map(String::from),
        );
        self.copy(
            Some(&entity.name),
            &format!("{stitcher}_edges"),
            format!("SELECT * FROM id_stitch_edges({name})"),
            &origin,
            &["id1", "id1_type", "id2", "id2_type"].map(String::from),
        );
        let views = served_views(&main, entity.view_names());
        self.views(entity, &main, None, views, &entity.origin);
        for model in (self.project.feature_view_models.iter()).filter(|m| m.entity == entity.name) {
            let views = served_views(&main, model.view_names(entity));
            self.views(entity, &main, None, views, &model.origin);
        }
        self.copy(
            Some(&entity.name),
            &format!("{}_all", entity.name),
            entity.members_query(),
            &origin,
            &by_main,
        );
        for (cohort, _) in cohorts.iter().filter(|(_, e)| *e == entity.name) {
            let literal = quote_literal(cohort);
            self.copy(
                Some(&entity.name),
                &format!("{}_{cohort}", entity.name),
                format!("SELECT * FROM cohort({literal})"),
                &origin,
                &by_main,
            );
            let Some(definition) = self.project.cohorts.iter().find(|c| &c.name == cohort) else {
                continue;
            };
            let views = definition.view_names(entity);
            let views = served_views(&main, views);
            self.views(entity, &main, Some(cohort), views, &definition.origin);
        }
        Ok(())
    }

    /// Writes the feature views of `entity` (of `cohort`'s members, if given): `(view,
    /// id type)`, the view by the main id for no id type; `origin` defines them.
    fn views(
        &mut self,
        entity: &Entity,
        main: &str,
        cohort: Option<&str>,
        views: Vec<(String, Option<String>)>,
        origin: &Origin,
    ) {
        let name = quote_literal(&entity.name);
        // Every feature but the vars of cohorts that are not `cohort` or one it extends
        // (pb shows those in their cohorts' views only), each under its pb name.
        let columns = self.project.view_columns(&entity.name, cohort);
        let members = cohort
            .map(|c| format!(", {}", quote_literal(c)))
            .unwrap_or_default();
        let origin = Some(origin.clone());
        for (view, id) in views {
            let sql = match &id {
                None => format!("SELECT {columns} FROM feature_table({name}{members})"),
                Some(id) if !entity.id_types.contains(id) => {
                    tracing::warn!(
                        "feature view {view}: '{id}' is not an id type of entity '{}', so \
                         the view has no rows (as pb writes it)",
                        entity.name
                    );
                    format!(
                        "SELECT CAST(NULL AS VARCHAR) AS {}, * EXCLUDE ({}) FROM \
                         (SELECT {columns} FROM feature_table({name}{members})) WHERE false",
                        quote_ident_if_needed(id),
                        quote_ident_if_needed(main)
                    )
                }
                Some(id) => format!(
                    "SELECT {columns} FROM feature_view({name}, {}{members})",
                    quote_literal(id)
                ),
            };
            let key = id.unwrap_or_else(|| main.to_string());
            self.copy(Some(&entity.name), &view, sql, &origin, &[key]);
        }
    }

    pub(super) fn feature_tables(&mut self) -> Result<()> {
        for table in &self.project.feature_tables {
            let query = feature_table_query(self.project, table, &self.options.end_time)?;
            let main = self
                .project
                .entities
                .iter()
                .find(|e| e.name == table.entity)
                .map(|e| e.main_id_column())
                .unwrap_or_default();
            self.copy(
                Some(&table.entity),
                &table.name,
                query,
                &Some(table.origin.clone()),
                &[main],
            );
        }
        Ok(())
    }

    /// The rows of each `sql_template` model that pb keeps (a table or a view, not an
    /// ephemeral model), as the model's query gives them, under its name.
    pub(super) fn written_sql_models(&mut self) {
        for model in self.project.sql_models.iter().filter(|m| m.written) {
            self.copy(
                None,
                &model.name,
                format!("SELECT * FROM {}", quote_ident_if_needed(&model.name)),
                &Some(model.origin.clone()),
                &[],
            );
        }
    }

    /// Writes `query` as `output`, whose rows are identified by the `keys` columns (none:
    /// a SQL model's rows, which a Delta output replaces whole) and belong to `entity`.
    fn copy(
        &mut self,
        entity: Option<&str>,
        output: &str,
        query: String,
        origin: &Option<Origin>,
        keys: &[String],
    ) {
        let file = self.options.format.file_name(output);
        let path = quote_literal(&self.options.out.join(file).display().to_string());
        let sql = match self.options.format {
            OutputFormat::Parquet => format!("COPY ({query}) TO {path} STORED AS PARQUET"),
            OutputFormat::Csv => format!(
                "COPY ({query}) TO {path} STORED AS CSV OPTIONS ('format.has_header' 'true')"
            ),
            // Merged on the output's keys: a run changes only the rows that changed,
            // and the table's change feed says which.
            OutputFormat::Delta if keys.is_empty() => {
                format!("COPY ({query}) TO {path} STORED AS DELTA OPTIONS ('mode' 'overwrite')")
            }
            // Replaced rows are marked deleted (deletion vectors) rather than rewritten,
            // and a file half of whose rows are marked is written again without them.
            OutputFormat::Delta => format!(
                "COPY ({query}) TO {path} STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' {}, \
                 'deletion_vectors' 'true', 'purge' '{DELTA_PURGE_SHARE}')",
                quote_literal(&keys.join(", "))
            ),
        };
        self.script.statements.push(ScriptStatement {
            sql,
            origin: origin.clone(),
            output: Some(output.to_string()),
            keys: keys.to_vec(),
            entity: entity.map(str::to_string),
            table: None,
        });
    }
}

/// Refuses two outputs of one name, the second naming the first (pb refuses two
/// models of one table name too): one would replace the other's file.
pub(super) fn one_writer_per_output(statements: &[ScriptStatement]) -> Result<()> {
    let mut writers: BTreeMap<String, &Option<Origin>> = BTreeMap::new();
    for statement in statements {
        let Some(output) = &statement.output else {
            continue;
        };
        let Some(first) = writers.insert(output.to_lowercase(), &statement.origin) else {
            continue;
        };
        let first = match first {
            Some(origin) => format!("{}: {}", origin.file, origin.key),
            None => "another model".to_string(),
        };
        let reason = format!(
            "its output '{output}' is also written by {first}; give one of them another name"
        );
        return Err(match &statement.origin {
            Some(origin) => origin.error(reason),
            None => crate::error::PbError::Key {
                file: "pb_project.yaml".into(),
                key: output.clone(),
                reason,
            },
        });
    }
    Ok(())
}

/// The query of a `feature_table_model`: the entity's main id, `valid_at` (the run's end
/// time) and its features.
pub(super) fn feature_table_query(
    project: &Project,
    table: &FeatureTable,
    end_time: &str,
) -> Result<String> {
    let entity = project
        .entities
        .iter()
        .find(|e| e.name == table.entity)
        .ok_or_else(|| {
            table.origin.error(format!(
                "model_spec.entity_key: entity '{}' is not declared",
                table.entity
            ))
        })?;
    let main = entity.main_id_column();
    // A table of a cohort's members shows the entity's vars and those of the cohort and
    // the cohorts it extends. pb takes a var that is not a feature (`is_feature: false`)
    // too, so the table reads the var table, hidden vars included.
    let visible: BTreeMap<String, String> = project
        .shown_vars(&entity.name, table.cohort.as_deref(), true)
        .into_iter()
        .map(|(name, shown)| (shown, name))
        .collect();
    let mut columns = vec![
        quote_ident_if_needed(&main),
        format!(
            "arrow_cast({}, 'Timestamp(Microsecond, Some(\"UTC\"))') AS valid_at",
            quote_literal(end_time)
        ),
    ];
    for feature in &table.features {
        let Some(name) = visible.get(feature) else {
            return Err(table.origin.error(format!(
                "model_spec.features: '{feature}' is not an entity var of entity '{}'{}",
                entity.name,
                match &table.cohort {
                    Some(cohort) => format!(" or cohort '{cohort}'"),
                    None => String::new(),
                }
            )));
        };
        columns.push(if name == feature {
            quote_ident_if_needed(feature)
        } else {
            format!(
                "{} AS {}",
                quote_ident_if_needed(name),
                quote_ident_if_needed(feature)
            )
        });
    }
    let cohort = match &table.cohort {
        Some(cohort) => format!(", {}", quote_literal(cohort)),
        None => String::new(),
    };
    Ok(format!(
        "SELECT {} FROM var_table({}{cohort})",
        columns.join(", "),
        quote_literal(&entity.name)
    ))
}
