// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Cohort steps by SQL (`filter_pipeline: - type: include, sql: {select, from}`). pb keeps
//! (or drops) the members whose main id the query selects
//! (`user_main_id IN (SELECT <select> FROM <from>)`, checked against pb). Knit makes the
//! query a model whose rows are keyed by the main id, and a hidden var counting them;
//! the step's condition is that the var is not NULL.
//!
//! A step that reads a past material (`this.DeRef(.., pre_existing=true)`) has nothing
//! to read on pb's first run, which Knit's every run is: pb leaves the cohort out (and
//! with it its views, vars and feature tables, and the cohorts extending it), and so
//! does Knit, with a warning.

use std::sync::LazyLock;

use regex::Regex;

use super::{Input, InputId, Project, Source, SqlModel, Var, grow_to_fixpoint};
use crate::error::Result;

/// How the models, inputs and vars Knit makes of cohort steps are named:
/// `knit_members_of_<cohort>_<step>`.
pub(crate) const MEMBER_SET_PREFIX: &str = "knit_members_of_";

/// The column of a step's query that holds the main ids it selects.
const MEMBER: &str = "knit_member";

static PRE_EXISTING: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)pre_existing\s*=\s*true").ok());

impl Project {
    /// Makes each cohort step by SQL a model and a var; leaves out the cohorts whose step
    /// reads a past material.
    pub(super) fn member_sets(&mut self) -> Result<()> {
        let steps = std::mem::take(&mut self.member_steps);
        let mut first_run_only = Vec::new();
        for step in &steps {
            let past = PRE_EXISTING
                .as_ref()
                .is_some_and(|re| re.is_match(&step.from));
            if past && !first_run_only.contains(&step.cohort) {
                tracing::warn!(
                    "{}: {}: cohort '{}' reads a past material (pre_existing=true), which \
                     pb's first run does not have: the cohort is left out, as pb leaves it out",
                    step.origin.file,
                    step.origin.key,
                    step.cohort
                );
                first_run_only.push(step.cohort.clone());
            }
        }
        let left_out = self.leave_out_cohorts(first_run_only);
        for step in steps {
            if left_out.contains(&step.cohort) {
                continue;
            }
            let entity = self.cohort_entity(&step.cohort).ok_or_else(|| {
                step.origin.error(format!(
                    "cohort '{}' extends no cohort of an entity",
                    step.cohort
                ))
            })?;
            self.sql_models.push(SqlModel {
                name: step.var.clone(),
                sql: format!("SELECT {} AS {MEMBER} FROM {}", step.select, step.from),
                written: false,
                origin: step.origin.clone(),
            });
            self.inputs.push(Input {
                name: step.var.clone(),
                source: Source::Model(step.var.clone()),
                occurred_at: None,
                until: None,
                ids: vec![InputId {
                    select: MEMBER.to_string(),
                    id_type: "rudder_id".to_string(),
                    entity: entity.clone(),
                    stitched: true,
                }],
                filter: None,
                origin: step.origin.clone(),
            });
            self.vars.push(Var {
                hidden: true,
                ..Var::entity_var(
                    entity,
                    step.var.clone(),
                    "count(*)".to_string(),
                    step.var,
                    step.origin,
                )
            });
        }
        Ok(())
    }

    /// The project without `cohorts`, the cohorts that extend them, and their vars and
    /// feature tables; the cohorts left out.
    fn leave_out_cohorts(&mut self, mut cohorts: Vec<String>) -> Vec<String> {
        if cohorts.is_empty() {
            return cohorts;
        }
        let all = &self.cohorts;
        grow_to_fixpoint(&mut cohorts, |off| {
            (all.iter())
                .filter(|c| !off.contains(&c.name))
                .filter(|c| c.extends.as_ref().is_some_and(|p| off.contains(p)))
                .map(|c| c.name.clone())
                .collect()
        });
        let off = |cohort: &Option<String>| cohort.as_ref().is_some_and(|c| cohorts.contains(c));
        self.cohorts.retain(|c| !cohorts.contains(&c.name));
        self.vars.retain(|v| !off(&v.cohort));
        self.feature_tables.retain(|t| !off(&t.cohort));
        cohorts
    }
}
