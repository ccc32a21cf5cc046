// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The `models:` of a project: id stitchers, cohorts (`filter_pipeline` or
//! `filter_expression`), feature tables, `sql_template` models (with their `features`),
//! unions of inputs, and the model types Knit cannot run, kept to be refused by name.

use std::collections::BTreeSet;

use super::member_sets::MEMBER_SET_PREFIX;
use super::{
    Cohort, FeatureTable, FeatureViewModel, FeatureViews, FilterExpression, Input, InputId,
    MemberStep, Origin, Project, Source, SqlModel, Stitcher, UnsupportedModel, Var, VarKind,
    cohort_scope, entity_scope, is_append_only, is_include, last_segment, read_ids, source_name,
    time_grain,
};
use crate::error::Result;
use crate::keys::{FEATURE_VIEW_IGNORED, MODEL_IGNORED, STITCHER_IGNORED};
use crate::multi_sql::multi_sql_query;
use crate::yaml::Node;

impl Project {
    pub(super) fn read_model(&mut self, node: &Node<'_>) -> Result<()> {
        node.only_keys(
            &["name", "model_type", "model_spec", "time_grain"],
            MODEL_IGNORED,
        )?;
        let name = node.require("name")?.text()?.to_lowercase();
        let kind = node.require("model_type")?;
        let spec = node.require("model_spec")?;
        // An id stitcher's grain is its own: the run stitches as of its boundary.
        let stitcher_grain = if kind.text()? == "id_stitcher" {
            time_grain(&spec)?.or(time_grain(node)?)
        } else {
            self.read_time_grain(node, &name)?;
            self.read_time_grain(&spec, &name)?;
            None
        };
        let origin = Origin::of(node);
        let ignored = MODEL_IGNORED;
        match kind.text()?.as_str() {
            "id_stitcher" => {
                if let Some(rounds) = spec.get("max_iterations") {
                    // pb stops its rounds of label propagation there: a cluster whose
                    // ids are more rounds apart stays split (checked against pb: a chain
                    // of 25 ids, one cluster without it, six with max_iterations: 1).
                    return Err(rounds.error(
                        "max_iterations caps pb's rounds of merging clusters, and a cluster \
                         not merged by then stays split; Knit always stitches whole \
                         clusters, which is pb's result whenever its rounds finish: remove \
                         the key",
                    ));
                }
                let stitcher_ignored: Vec<&str> =
                    ignored.iter().chain(STITCHER_IGNORED).copied().collect();
                spec.only_keys(
                    &["entity_key", "edge_sources", "time_grain", "main_id_type"],
                    &stitcher_ignored,
                )?;
                let mut edge_sources = Vec::new();
                for source in spec.require("edge_sources")?.items()? {
                    // `- from: inputs/x`, or in old schemas `- inputs/x`.
                    let from = match source.get("from") {
                        Some(from) => {
                            source.only_keys(&["from"], &[])?;
                            from
                        }
                        None => source,
                    };
                    edge_sources.push(source_name(&from)?);
                }
                self.stitchers.push(Stitcher {
                    name,
                    entity: spec.require("entity_key")?.text()?.to_lowercase(),
                    edge_sources,
                    main_id_type: spec.text_of("main_id_type")?,
                    time_grain: stitcher_grain,
                    origin,
                });
            }
            "entity_cohort" => {
                spec.only_keys(
                    &[
                        "extends",
                        "filter_pipeline",
                        "filter_expression",
                        "entity_key",
                        "time_grain",
                        "feature_views",
                    ],
                    ignored,
                )?;
                let extends_node = spec.require("extends")?;
                let extends = extends_node.text()?;
                let (entity, parent) = match extends.split_once('/') {
                    Some(("models", parent)) => (None, Some(parent.to_lowercase())),
                    Some((entity, "all")) => (Some(entity.to_lowercase()), None),
                    _ => {
                        return Err(extends_node.error(format!(
                            "'{extends}' is neither <entity>/all nor models/<cohort>"
                        )));
                    }
                };
                let entity = match (entity, spec.text_of("entity_key")?) {
                    (Some(e), _) => e,
                    (None, Some(e)) => e.to_lowercase(),
                    // Filled in from the parent cohort once every model is read.
                    (None, None) => String::new(),
                };
                let mut steps = Vec::new();
                for (n, step) in spec.items_of("filter_pipeline")?.iter().enumerate() {
                    step.only_keys(&["type", "value", "sql"], &["description"])?;
                    let include = is_include(&step.require("type")?)?;
                    match (step.get("value"), step.get("sql")) {
                        (Some(value), None) => steps.push((include, value.text()?)),
                        (None, Some(sql)) => {
                            sql.only_keys(&["select", "from"], &[])?;
                            let var = format!("{MEMBER_SET_PREFIX}{name}_{n}");
                            steps.push((include, format!("{var} IS NOT NULL")));
                            self.member_steps.push(MemberStep {
                                cohort: name.clone(),
                                var,
                                select: sql.require("select")?.text()?,
                                from: sql.require("from")?.text()?,
                                origin: Origin {
                                    key: format!(
                                        "{}.model_spec.filter_pipeline[{n}].sql",
                                        origin.key
                                    ),
                                    ..origin.clone()
                                },
                            });
                        }
                        (Some(_), Some(sql)) => {
                            return Err(
                                sql.error("a step filters by value or by sql, not both; keep one")
                            );
                        }
                        (None, None) => {
                            return Err(step.error("missing value (or sql); write the condition"));
                        }
                    }
                }
                let expression = match spec.get("filter_expression") {
                    Some(_) if !steps.is_empty() => {
                        return Err(spec.error(
                            "filter_expression and filter_pipeline cannot be used together \
                             (as in pb): write the pipeline's steps into the expression's AND",
                        ));
                    }
                    Some(node) => Some(read_filter_expression(&node)?),
                    None => None,
                };
                let views = match spec.get("feature_views") {
                    Some(views) => Some(read_feature_views(&views)?),
                    None => None,
                };
                self.cohorts.push(Cohort {
                    name,
                    entity,
                    extends: parent,
                    steps,
                    expression,
                    views,
                    origin,
                });
            }
            "feature_table_model" => {
                refuse_first_schema_features(&spec)?;
                spec.only_keys(
                    &[
                        "entity_key",
                        "entity_cohort",
                        "cohort",
                        "features",
                        "vars",
                        "macros",
                        "time_grain",
                    ],
                    ignored,
                )?;
                // Older schemas define macros and vars inside the feature table.
                self.read_macros(&spec)?;
                // A table of a cohort's members; its entity is known once every model
                // is read.
                let (entity, cohort) = entity_scope(&spec)?;
                // Old schemas define the vars inline; without a features list, every
                // inline var that is a feature is one.
                let first_inline = self.vars.len();
                self.read_vars(&spec.items_of("vars")?, &entity)?;
                for var in &mut self.vars[first_inline..] {
                    var.cohort = cohort.clone();
                }
                let features = match spec.get("features") {
                    Some(features) => features
                        .items()?
                        .iter()
                        .map(|n| Ok(last_segment(&n.text()?)))
                        .collect::<Result<Vec<_>>>()?,
                    None if first_inline < self.vars.len() => self.vars[first_inline..]
                        .iter()
                        .filter(|v| v.kind == VarKind::Entity && !v.hidden)
                        .map(|v| v.name.clone())
                        .collect(),
                    None => return Err(spec.error("features: missing; list the vars to output")),
                };
                // An inline var the table does not list is no feature of the entity's
                // views either: pb's migration marks it `is_feature: false`.
                for var in &mut self.vars[first_inline..] {
                    if var.kind == VarKind::Entity && !features.contains(&var.name) {
                        var.hidden = true;
                    }
                }
                self.feature_tables.push(FeatureTable {
                    name,
                    entity,
                    cohort,
                    features,
                    origin,
                });
            }
            // Views of the entity's features by its main id (named as the model) and by
            // the ids of `using_ids` (the entity's, without them). pb 0.26 leaves the
            // `features` list unapplied (each view has every feature), and so does Knit.
            "feature_view" => {
                spec.only_keys(&["entity_key", "using_ids", "features"], ignored)?;
                let entity = spec.require("entity_key")?.text()?.to_lowercase();
                let by_id = match spec.get("using_ids") {
                    Some(_) => Some(read_using_ids(&spec)?),
                    None => None,
                };
                self.feature_view_models.push(FeatureViewModel {
                    name,
                    entity,
                    by_id,
                    origin,
                });
            }
            // pb's Python package model: the rows of its inputs, in the columns they all
            // have. Knit writes it as SQL; columns only some inputs have are kept, NULL
            // elsewhere, so that what reads the common columns gets pb's rows.
            "common_column_union" | "common_column_union_new" => {
                spec.only_keys(&["inputs"], ignored)?;
                let sources = spec
                    .require("inputs")?
                    .items()?
                    .iter()
                    .map(source_name)
                    .collect::<Result<Vec<_>>>()?;
                if sources.is_empty() {
                    return Err(spec.error("inputs: a union needs at least one input"));
                }
                let sql = union_sql(&sources);
                self.unions.push((name.clone(), sources));
                let written = is_written(&spec)?;
                self.sql_models.push(SqlModel {
                    name,
                    sql,
                    written,
                    origin,
                });
            }
            "sql_template" => {
                spec.only_keys(
                    &[
                        "single_sql",
                        "multi_sql",
                        "occurred_at_col",
                        "ids",
                        "time_grain",
                        "features",
                        "entity_cohort",
                    ],
                    ignored,
                )?;
                let sql = match (spec.get("single_sql"), spec.get("multi_sql")) {
                    (Some(single), None) => single.text()?,
                    (None, Some(multi)) => {
                        multi_sql_query(&multi.text()?).map_err(|reason| multi.error(reason))?
                    }
                    (Some(_), Some(multi)) => {
                        return Err(multi.error(
                            "a sql_template has single_sql or multi_sql, not both; keep one",
                        ));
                    }
                    (None, None) => spec.require("single_sql")?.text()?,
                };
                if is_append_only(&spec)? {
                    self.append_only.insert(name.clone());
                }
                let ids = read_ids(spec.get("ids"))?;
                self.read_model_features(&spec, &name, &ids)?;
                if !ids.is_empty() {
                    self.inputs.push(Input {
                        name: name.clone(),
                        source: Source::Model(name.clone()),
                        occurred_at: spec.text_of("occurred_at_col")?,
                        until: None,
                        ids,
                        filter: None,
                        origin: origin.clone(),
                    });
                }
                let written = is_written(&spec)?;
                self.sql_models.push(SqlModel {
                    name,
                    sql,
                    written,
                    origin,
                });
            }
            other => {
                // Refused when the script is written, unless the run leaves it out.
                self.unsupported_models.push(UnsupportedModel {
                    name,
                    kind: other.to_string(),
                    origin: Origin {
                        key: format!("{}.model_type", origin.key),
                        ..origin
                    },
                });
            }
        }
        Ok(())
    }

    /// A `sql_template`'s `features`: columns of its rows that are features of the
    /// entity its ids belong to (of a cohort's members with `entity_cohort`). pb maps
    /// each row to its entity by the ids and takes each column's greatest value per
    /// entity (checked against pb), so each is the var `max(column)` over the model.
    fn read_model_features(&mut self, spec: &Node<'_>, model: &str, ids: &[InputId]) -> Result<()> {
        let features = spec.items_of("features")?;
        if features.is_empty() {
            return Ok(());
        }
        let (entity, cohort) = match spec.get("entity_cohort") {
            Some(scope) => cohort_scope(&scope)?,
            None => {
                let entities: BTreeSet<&str> = ids.iter().map(|id| id.entity.as_str()).collect();
                match entities.into_iter().collect::<Vec<_>>().as_slice() {
                    [entity] => (entity.to_string(), None),
                    [] => {
                        return Err(spec.error(
                            "features: a model's features need ids that map its rows to an \
                             entity",
                        ));
                    }
                    several => {
                        return Err(spec.error(format!(
                            "features: the model's ids belong to entities {}; say whose \
                             features these are with entity_cohort: <entity>/all",
                            several.join(", ")
                        )));
                    }
                }
            }
        };
        for feature in features {
            let column = if feature.items_of_mapping().is_ok() {
                feature.only_keys(&["name"], &["description", "tags"])?;
                feature.require("name")?.text()?
            } else {
                feature.text()?
            };
            let column = column.to_lowercase();
            self.vars.push(Var {
                cohort: cohort.clone(),
                ..Var::entity_var(
                    entity.clone(),
                    column.clone(),
                    format!("max({})", knit_sql::quote_ident_if_needed(&column)),
                    model.to_lowercase(),
                    Origin::of(&feature),
                )
            });
        }
        Ok(())
    }
}

/// A cohort's `filter_expression`: a condition, or `AND:`/`OR:` over a list of them.
fn read_filter_expression(node: &Node<'_>) -> Result<FilterExpression> {
    if node.items_of_mapping().is_err() {
        return Ok(FilterExpression::Condition(node.text()?));
    }
    let entries = node.items_of_mapping()?;
    let [(operator, operands)] = entries.as_slice() else {
        return Err(node.error("expected one key, AND or OR, over a list of conditions"));
    };
    let operands = operands
        .items()?
        .iter()
        .map(read_filter_expression)
        .collect::<Result<Vec<_>>>()?;
    match operator.to_uppercase().as_str() {
        "AND" => Ok(FilterExpression::All(operands)),
        "OR" => Ok(FilterExpression::Any(operands)),
        _ => Err(node.error(format!(
            "'{operator}' is not an operator of filter_expression; use AND or OR"
        ))),
    }
}

/// The feature tables of pb's first schema versions (`id_stitching`, and `features`
/// entries `tablevar`, `tablefeature`, `feature`, `macro`) are refused by name: pb 0.26's
/// `pb migrate` does not rewrite them and its `pb run` refuses them, so no run can check
/// what they compute; the error says how to write them today.
fn refuse_first_schema_features(spec: &Node<'_>) -> Result<()> {
    const FORMS: &[&str] = &["tablevar", "tablefeature", "feature", "macro"];
    let old_entry = spec
        .get("features")
        .and_then(|features| features.items().ok())
        .and_then(|items| {
            items
                .into_iter()
                .find(|item| FORMS.iter().any(|form| item.get(form).is_some()))
        });
    let offending = match (old_entry, spec.get("id_stitching")) {
        (Some(entry), _) => entry,
        (None, Some(stitching)) => stitching,
        (None, None) => return Ok(()),
    };
    Err(offending.error(
        "this is the feature table of pb's first schema versions (id_stitching; features \
         as tablevar, tablefeature, feature, macro), which pb 0.26 neither runs nor migrates: \
         write each tablevar or tablefeature as an entity_var under var_groups (from: its \
         ref, select: its value, where: its filter; is_feature: false for a tablevar), each \
         feature as an entity_var without from, and name the stitcher in the entity's \
         id_stitcher",
    ))
}

/// Whether pb keeps a SQL model's rows: its `materialization.output_type` is `table` (the
/// default: pb 0.26 makes a table of a model without one) or `view`; `ephemeral` models
/// are only read by others. Another output type is refused by name, as pb refuses it.
fn is_written(spec: &Node<'_>) -> Result<bool> {
    let Some(output_type) = spec
        .get("materialization")
        .and_then(|m| m.get("output_type"))
    else {
        return Ok(true);
    };
    match output_type.text()?.to_lowercase().as_str() {
        "table" | "view" => Ok(true),
        "ephemeral" => Ok(false),
        other => Err(output_type.error(format!(
            "'{other}' is not an output type; write table, view or ephemeral"
        ))),
    }
}

/// The SQL of a union of inputs: their rows, by column name.
pub(crate) fn union_sql(sources: &[String]) -> String {
    sources
        .iter()
        .map(|s| format!("SELECT * FROM {{{{this.DeRef(\"models/{s}\")}}}}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL BY NAME ")
}

/// `feature_views` of an entity or a cohort.
pub(super) fn read_feature_views(node: &Node<'_>) -> Result<FeatureViews> {
    node.only_keys(&["name", "using_ids"], FEATURE_VIEW_IGNORED)?;
    Ok(FeatureViews {
        main: node.text_of("name")?,
        by_id: read_using_ids(node)?,
    })
}

/// The `using_ids` of `node`: each view's id type and name.
fn read_using_ids(node: &Node<'_>) -> Result<Vec<(String, Option<String>)>> {
    let mut by_id = Vec::new();
    for view in node.items_of("using_ids")? {
        view.only_keys(&["id", "name"], FEATURE_VIEW_IGNORED)?;
        by_id.push((view.require("id")?.text()?, view.text_of("name")?));
    }
    Ok(by_id)
}
