// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Vars of a cohort that share their name with another var of the entity.
//!
//! pb gives each cohort a scope of its own over the entity's: a var group of
//! `entity_cohort: models/multi` may define `label` again, and then `multi`'s feature
//! views (and those of cohorts extending it) show multi's `label`, the entity's views
//! the entity's, and `{{multi.Var("label")}}` reads multi's while `{{user.Var("label")}}`
//! reads the entity's (all checked against pb). Knit's vars are named per entity, so
//! such a var is created under a name of its own, `<cohort>__<var>`, and shown under
//! its pb name where pb shows it.

use std::collections::BTreeMap;

use knit_sql::quote_ident_if_needed;

use crate::project::{Project, VarKind};

impl Project {
    /// Renames each cohort's entity var whose name another entity var of the same
    /// entity also has (at the entity or in another cohort) to `<cohort>__<var>`,
    /// keeping its pb name in `shown_as`.
    pub(crate) fn scope_cohort_vars(&mut self) {
        let mut defined: BTreeMap<(String, String), usize> = BTreeMap::new();
        for var in self.vars.iter().filter(|v| v.kind == VarKind::Entity) {
            *defined
                .entry((var.entity.clone(), var.pb_name().to_string()))
                .or_default() += 1;
        }
        for var in &mut self.vars {
            let Some(cohort) = &var.cohort else { continue };
            // Renamed already (a package's vars are scoped when it is read).
            if var.shown_as.is_some() {
                continue;
            }
            let shared = defined
                .get(&(var.entity.clone(), var.name.clone()))
                .is_some_and(|n| *n > 1);
            if var.kind == VarKind::Entity && shared {
                var.shown_as = Some(var.name.clone());
                var.name = format!("{cohort}__{}", var.name);
            }
        }
    }

    /// For each cohort, the vars it sees under a Knit name of their own:
    /// `(cohort, pb name)` to the Knit name of the nearest definition (templates'
    /// `{{cohort.Var("x")}}`).
    pub(crate) fn scoped_vars(&self) -> BTreeMap<(String, String), String> {
        let mut scoped = BTreeMap::new();
        for cohort in &self.cohorts {
            let Some(entity) = self.cohort_entity(&cohort.name) else {
                continue;
            };
            for (name, pb) in self.shown_vars(&entity, Some(&cohort.name), true) {
                if name != pb {
                    scoped.insert((cohort.name.clone(), pb), name);
                }
            }
        }
        scoped
    }

    /// The entity vars of `entity` that a view or table of `cohort`'s members shows
    /// (the entity's view for `None`), as `(Knit name, pb name)`: the entity's vars and
    /// those of the cohort and the cohorts it extends, the nearest definition of a name
    /// winning; hidden vars (`is_feature: false`) only if `hidden`.
    pub(crate) fn shown_vars(
        &self,
        entity: &str,
        cohort: Option<&str>,
        hidden: bool,
    ) -> Vec<(String, String)> {
        let lineage = self.cohort_lineage(cohort);
        let rank = |scope: &Option<String>| match scope {
            None => Some(lineage.len()),
            Some(c) => lineage.iter().position(|l| l == c),
        };
        let mut nearest: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for var in &self.vars {
            if var.kind != VarKind::Entity || var.entity != entity || (var.hidden && !hidden) {
                continue;
            }
            let Some(rank) = rank(&var.cohort) else {
                continue;
            };
            let slot = nearest.entry(var.pb_name()).or_insert((rank, &var.name));
            if rank < slot.0 {
                *slot = (rank, &var.name);
            }
        }
        nearest
            .into_iter()
            .map(|(shown, (_, name))| (name.to_string(), shown.to_string()))
            .collect()
    }

    /// The select list of a feature view of `entity` (of `cohort`'s members), over a
    /// feature query whose columns are the key and every visible var by its Knit name:
    /// the vars pb shows there, each under its pb name.
    pub(crate) fn view_columns(&self, entity: &str, cohort: Option<&str>) -> String {
        let shown = self.shown_vars(entity, cohort, false);
        let excluded: Vec<String> = self
            .vars
            .iter()
            .filter(|v| v.kind == VarKind::Entity && v.entity == entity && !v.hidden)
            .filter(|v| {
                !shown
                    .iter()
                    .any(|(name, pb)| *name == v.name && *pb == v.name)
            })
            .map(|v| quote_ident_if_needed(&v.name))
            .collect();
        let mut columns = if excluded.is_empty() {
            "*".to_string()
        } else {
            format!("* EXCLUDE ({})", excluded.join(", "))
        };
        for (name, pb) in shown.iter().filter(|(name, pb)| name != pb) {
            columns.push_str(&format!(
                ", {} AS {}",
                quote_ident_if_needed(name),
                quote_ident_if_needed(pb)
            ));
        }
        columns
    }
}
