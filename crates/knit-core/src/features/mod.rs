// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Entity vars, input vars, feature tables, feature views and cohorts.
//!
//! Semantics (as RudderStack Profiles computes them):
//!
//! - An input row belongs to the entity of its ids: every id of a row that survives its
//!   id type's filters is in one cluster of the id graph, so the row's first surviving
//!   id finds the main id. Rows without one belong to no entity.
//! - `CREATE ENTITY VAR e.v AS agg FROM input [WHERE cond]` aggregates the input's rows
//!   per main id, after `WHERE`; `first_value(x ORDER BY t)` is the ordered first.
//!   Without `FROM`, the expression is evaluated over the entity's other vars (window
//!   functions over entities allowed). Vars are computed after the vars they read,
//!   whatever the order they were created in; a cycle is an error naming it.
//! - Entities without rows get NULL, or `DEFAULT` (which also replaces a NULL value).
//!   `HIDDEN` vars are computed and usable, but not columns of the feature table.
//! - `CREATE INPUT VAR i.v AS expr [WHERE cond] [DEFAULT d]` adds a column to every row
//!   of the input, windows included; rows failing `cond` get `d` and take no part in
//!   the var's windows.
//! - `feature_table('e' [, 'cohort'])`: one row per main id of the id graph.
//!   `feature_view('e', 'id_type' [, 'cohort'])`: one row per id of that type, keyed by it.
//!   `cohort('c')`: the main ids for which the cohort's condition, and those of the
//!   cohorts it extends, are true (NULL is not true).
//!
//! The functions are expanded into SQL ([`expand`], [`compose`]) that DataFusion plans
//! with the statement around them; [`entity_aggregate`] aggregates each input's rows per
//! entity in one stage.

mod cast_blind;
mod compose;
pub mod count_distinct;
mod define;
mod entity_aggregate;
mod expand;
mod group_keys;
mod model;
mod names;
mod packed_pairs;

pub(crate) use compose::AggregateNames;
pub(crate) use define::{create_cohort, create_entity_var, create_input_var};
pub(crate) use entity_aggregate::SingleStageEntityAggregate;
pub(crate) use expand::expand_feature_functions;
pub use names::normalize;
