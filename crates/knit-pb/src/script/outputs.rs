// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The `COPY` statements of a script: one per output, named as pb names its views.

use std::collections::BTreeSet;

use super::{OutputFormat, ScriptStatement, Writer};
use crate::error::Result;
use crate::project::{Entity, FeatureTable, Origin, Project, VarKind};
use knit_sql::{quote_ident_if_needed, quote_literal};

/// Feature views keyed by an id type of the entity: a view by the main id's name is
/// dropped (pb makes none), a view by any other id is an error at `origin` (the entity's
/// or the cohort's `feature_views`).
fn checked_views(
    entity: &Entity,
    main: &str,
    origin: &Origin,
    views: Vec<(String, Option<String>)>,
) -> Result<Vec<(String, Option<String>)>> {
    let mut checked = Vec::new();
    for (view, id) in views {
        match &id {
            Some(id) if id.eq_ignore_ascii_case(main) => continue,
            Some(id) if !entity.id_types.contains(id) => {
                return Err(origin.error(format!(
                    "feature_views.using_ids: '{id}' is not an id type of entity '{}'",
                    entity.name
                )));
            }
            _ => checked.push((view, id)),
        }
    }
    Ok(checked)
}

impl Writer<'_> {
    pub(super) fn outputs(&mut self, entity: &Entity, cohorts: &[(String, String)]) -> Result<()> {
        let name = quote_literal(&entity.name);
        let main = entity
            .main_id
            .clone()
            .unwrap_or_else(|| format!("{}_main_id", entity.name));
        let (stitcher, _) = self.stitcher(entity)?;
        let origin = Some(entity.origin.clone());
        let by_main = [main.clone()];
        self.copy(
            &entity.name,
            &stitcher,
            format!("SELECT * FROM id_stitch({name})"),
            &origin,
            &["other_id", "other_id_type"].map(String::from),
        );
        self.copy(
            &entity.name,
            &format!("{stitcher}_edges"),
            format!("SELECT * FROM id_stitch_edges({name})"),
            &origin,
            &["id1", "id1_type", "id2", "id2_type"].map(String::from),
        );
        let views = checked_views(entity, &main, &entity.origin, entity.view_names())?;
        self.views(entity, &main, None, views);
        self.copy(
            &entity.name,
            &format!("{}_all", entity.name),
            format!(
                "SELECT DISTINCT {} FROM id_stitch({name})",
                quote_ident_if_needed(&main)
            ),
            &origin,
            &by_main,
        );
        for (cohort, _) in cohorts.iter().filter(|(_, e)| *e == entity.name) {
            let literal = quote_literal(cohort);
            self.copy(
                &entity.name,
                &format!("{}_{cohort}", entity.name),
                format!("SELECT * FROM cohort({literal})"),
                &origin,
                &by_main,
            );
            let Some(definition) = self.project.cohorts.iter().find(|c| &c.name == cohort) else {
                continue;
            };
            let views = definition.view_names(entity);
            let views = checked_views(entity, &main, &definition.origin, views)?;
            self.views(entity, &main, Some(cohort), views);
        }
        Ok(())
    }

    /// Writes the feature views of `entity` (of `cohort`'s members, if given): `(view,
    /// id type)`, the view by the main id for no id type.
    fn views(
        &mut self,
        entity: &Entity,
        main: &str,
        cohort: Option<&str>,
        views: Vec<(String, Option<String>)>,
    ) {
        let name = quote_literal(&entity.name);
        let columns = self.columns(entity, cohort);
        let members = cohort
            .map(|c| format!(", {}", quote_literal(c)))
            .unwrap_or_default();
        let origin = Some(entity.origin.clone());
        for (view, id) in views {
            let sql = match &id {
                None => format!("SELECT {columns} FROM feature_table({name}{members})"),
                Some(id) => format!(
                    "SELECT {columns} FROM feature_view({name}, {}{members})",
                    quote_literal(id)
                ),
            };
            let key = id.unwrap_or_else(|| main.to_string());
            self.copy(&entity.name, &view, sql, &origin, &[key]);
        }
    }

    /// The columns of a feature view of `entity` (of `cohort`'s members, if given): every
    /// feature but the vars of cohorts that are not `cohort` or one it extends, which pb
    /// shows in those cohorts' views only.
    fn columns(&self, entity: &Entity, cohort: Option<&str>) -> String {
        let lineage = self.project.cohort_lineage(cohort);
        let hidden: Vec<String> = self
            .project
            .vars
            .iter()
            .filter(|v| v.kind == VarKind::Entity && v.entity == entity.name && !v.hidden)
            .filter(|v| v.cohort.as_ref().is_some_and(|c| !lineage.contains(c)))
            .map(|v| quote_ident_if_needed(&v.name))
            .collect();
        if hidden.is_empty() {
            "*".to_string()
        } else {
            format!("* EXCLUDE ({})", hidden.join(", "))
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
                .map(|e| {
                    e.main_id
                        .clone()
                        .unwrap_or_else(|| format!("{}_main_id", e.name))
                })
                .unwrap_or_default();
            self.copy(
                &table.entity,
                &table.name,
                query,
                &Some(table.origin.clone()),
                &[main],
            );
        }
        Ok(())
    }

    /// Writes `query` as `output`, whose rows are identified by the `keys` columns.
    fn copy(
        &mut self,
        entity: &str,
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
            OutputFormat::Delta => format!(
                "COPY ({query}) TO {path} STORED AS DELTA OPTIONS ('mode' 'merge', 'keys' {})",
                quote_literal(&keys.join(", "))
            ),
        };
        self.script.statements.push(ScriptStatement {
            sql,
            origin: origin.clone(),
            output: Some(output.to_string()),
            keys: keys.to_vec(),
            entity: Some(entity.to_string()),
            table: None,
        });
    }
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
    let main = entity
        .main_id
        .clone()
        .unwrap_or_else(|| format!("{}_main_id", entity.name));
    // A table of a cohort's members shows the entity's vars and those of the cohort and
    // the cohorts it extends.
    let lineage = project.cohort_lineage(table.cohort.as_deref());
    let visible: BTreeSet<&str> = project
        .vars
        .iter()
        .filter(|v| v.kind == VarKind::Entity && v.entity == entity.name && !v.hidden)
        .filter(|v| v.cohort.as_ref().is_none_or(|c| lineage.contains(c)))
        .map(|v| v.name.as_str())
        .collect();
    let mut columns = vec![
        quote_ident_if_needed(&main),
        format!(
            "arrow_cast({}, 'Timestamp(Microsecond, Some(\"UTC\"))') AS valid_at",
            quote_literal(end_time)
        ),
    ];
    for feature in &table.features {
        if !visible.contains(feature.as_str()) {
            return Err(table.origin.error(format!(
                "model_spec.features: '{feature}' is not a feature (an entity var with \
                 is_feature true) of entity '{}'{}",
                entity.name,
                match &table.cohort {
                    Some(cohort) => format!(" or cohort '{cohort}'"),
                    None => String::new(),
                }
            )));
        }
        columns.push(quote_ident_if_needed(feature));
    }
    let cohort = match &table.cohort {
        Some(cohort) => format!(", {}", quote_literal(cohort)),
        None => String::new(),
    };
    Ok(format!(
        "SELECT {} FROM feature_table({}{cohort})",
        columns.join(", "),
        quote_literal(&entity.name)
    ))
}
