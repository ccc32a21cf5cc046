// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The order of a project's definitions: `sql_template` views, each entity's inputs,
//! each var and each entity's cohorts, every one after what it reads.
//!
//! pb orders its models one by one, so a `sql_template` may read a feature table of
//! its own entity and a var of that entity may read the template's rows, as long as
//! the feature table does not list that var. Knit orders the same way: a view is
//! defined once the vars it reads are (a feature function in it is expanded with the
//! vars defined then, see `knit_core::features`), and a var that reads the view comes
//! after it. Ordering whole entities instead would see a cycle there.

use std::collections::{BTreeMap, BTreeSet};

use knit_sql::quote_ident_if_needed;

use super::Writer;
use super::cohorts::PlannedCohort;
use super::inputs::InputSet;
use super::order::dependency_order;
use super::vars::{PlannedVar, entity_var_key};
use crate::error::Result;
use crate::project::{Entity, Origin, Source};
use crate::template::Rendered;

/// One definition, or a group of them written together.
enum Step<'v> {
    /// A `sql_template` model as a view.
    View(&'v str),
    /// The inputs that add edges to an entity's id graph.
    Graph(&'v Entity),
    /// The inputs that only map rows to an entity, but for those of views.
    Lookups(&'v Entity),
    /// The input that maps a view's rows to an entity.
    Lookup(&'v Entity, &'v str),
    /// A var.
    Var(&'v PlannedVar),
    /// A cohort.
    Cohort(&'v PlannedCohort),
    /// All of an entity's vars, cohorts and inputs: what a read of a table of a
    /// cohort's members waits for.
    Entity,
}

impl Writer<'_> {
    /// Writes the views, entities' inputs, vars and cohorts, each after what it reads.
    pub(super) fn write_definitions(
        &mut self,
        views: &BTreeMap<String, (Rendered, &Origin)>,
        vars: &[PlannedVar],
        cohorts: &[PlannedCohort],
    ) -> Result<()> {
        let project = self.project;
        let mut nodes: Vec<(String, Vec<String>, &Origin)> = Vec::new();
        let mut steps: BTreeMap<String, Step<'_>> = BTreeMap::new();
        for (name, (rendered, origin)) in views {
            let mut reads: Vec<String> = rendered
                .graphs
                .iter()
                .map(|entity| format!("graph {entity}"))
                .collect();
            for model in &rendered.models {
                reads.extend(self.model_reads(model));
            }
            let unit = format!("view {name}");
            nodes.push((unit.clone(), reads, origin));
            steps.insert(unit, Step::View(name));
        }
        for entity in &project.entities {
            let e = entity.name.as_str();
            let mut graph_reads = Vec::new();
            let mut view_lookups = BTreeSet::new();
            for input in &project.inputs {
                if !self
                    .knit_inputs
                    .contains_key(&(input.name.clone(), e.to_string()))
                {
                    continue;
                }
                let Source::Model(model) = &input.source else {
                    continue;
                };
                if views.contains_key(model) {
                    let view = format!("view {model}");
                    // With ids left out of the default stitcher, both.
                    if self.default_stitched_ids(entity, &input.name).is_some() {
                        graph_reads.push(view.clone());
                    }
                    if self.is_lookup(entity, &input.name)? {
                        let unit = format!("lookup {e}/{}", input.name);
                        let reads = vec![view, format!("graph {e}")];
                        nodes.push((unit.clone(), reads, &input.origin));
                        steps.insert(unit, Step::Lookup(entity, &input.name));
                        view_lookups.insert(input.name.clone());
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
            let graph = format!("graph {e}");
            let lookups = format!("lookups {e}");
            nodes.push((graph.clone(), graph_reads, &entity.origin));
            steps.insert(graph.clone(), Step::Graph(entity));
            nodes.push((lookups.clone(), vec![graph.clone()], &entity.origin));
            steps.insert(lookups.clone(), Step::Lookups(entity));
            let mut all = Vec::new();
            for var in vars.iter().filter(|v| v.entity == e) {
                let mut reads = vec![graph.clone(), lookups.clone()];
                if let Some(from) = var.from.as_ref().filter(|f| view_lookups.contains(*f)) {
                    reads.push(format!("lookup {e}/{from}"));
                }
                reads.extend(var.reads.iter().map(|key| format!("var {key}")));
                let unit = format!("var {}", var.key);
                nodes.push((unit.clone(), reads, &var.origin));
                steps.insert(unit.clone(), Step::Var(var));
                all.push(unit);
            }
            // A cohort's conditions read vars (a step by SQL, the var counting the
            // members it selects), and a cohort the members of the one it extends.
            for cohort in cohorts.iter().filter(|c| c.entity == e) {
                let mut reads = vec![graph.clone(), lookups.clone()];
                reads.extend(cohort.extends.iter().map(|p| format!("cohort {p}")));
                reads.extend(cohort.reads.iter().map(|key| format!("var {key}")));
                let unit = format!("cohort {}", cohort.name);
                nodes.push((unit.clone(), reads, &cohort.origin));
                steps.insert(unit.clone(), Step::Cohort(cohort));
                all.push(unit);
            }
            all.extend(view_lookups.iter().map(|i| format!("lookup {e}/{i}")));
            all.push(lookups);
            nodes.push((format!("entity {e}"), all, &entity.origin));
            steps.insert(format!("entity {e}"), Step::Entity);
        }
        for unit in dependency_order(nodes)? {
            let Some(step) = steps.get(&unit) else {
                continue;
            };
            match *step {
                Step::View(name) => {
                    if let Some((rendered, origin)) = views.get(name) {
                        let sql = format!(
                            "CREATE VIEW {} AS {}",
                            quote_ident_if_needed(name),
                            rendered.sql.trim().trim_end_matches(';')
                        );
                        self.script.push(sql, Some((*origin).clone()));
                    }
                }
                Step::Graph(entity) => self.inputs(entity, InputSet::Graph)?,
                Step::Lookups(entity) => self.inputs(entity, InputSet::Lookups)?,
                Step::Lookup(entity, input) => self.inputs(entity, InputSet::Lookup(input))?,
                Step::Var(var) => self.script.push(var.sql.clone(), Some(var.origin.clone())),
                Step::Cohort(cohort) => {
                    self.script
                        .push(cohort.sql.clone(), Some(cohort.origin.clone()));
                }
                Step::Entity => {}
            }
        }
        Ok(())
    }

    /// The steps a view's read of `model` waits for: an id stitcher or the entity's
    /// members need its id graph; a feature table needs the vars it lists; a cohort
    /// the vars its conditions read; a table of a cohort's members, the whole entity.
    fn model_reads(&self, model: &str) -> Vec<String> {
        let Some(entity) = self.names.model_entities.get(model).map(|e| &e.name) else {
            return vec![format!("view {model}")];
        };
        // `<entity>/all` and `<entity>/<entity>_default_id_stitcher` read its id graph.
        if self.project.stitchers.iter().any(|s| s.name == model)
            || model.starts_with(&format!("{entity}/"))
        {
            return vec![format!("graph {entity}")];
        }
        let table = self.project.feature_tables.iter().find(|t| t.name == model);
        match table {
            Some(table) if table.cohort.is_none() => {
                let shown: BTreeMap<String, String> = self
                    .project
                    .shown_vars(entity, None, true)
                    .into_iter()
                    .map(|(name, shown)| (shown, name))
                    .collect();
                let mut reads = vec![format!("graph {entity}"), format!("lookups {entity}")];
                for feature in &table.features {
                    let name = shown.get(feature).unwrap_or(feature);
                    reads.push(format!("var {}", entity_var_key(entity, name)));
                }
                reads
            }
            _ if self.project.cohorts.iter().any(|c| c.name == model) => {
                vec![format!("cohort {model}")]
            }
            _ => vec![format!("entity {entity}")],
        }
    }
}
