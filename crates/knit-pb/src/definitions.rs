// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The definitions a pb project is made of (id types, entities, inputs, vars, models),
//! as [`crate::project`] reads them, each with where it came from.

use std::path::PathBuf;

use crate::error::PbError;
use crate::yaml::Node;

/// Where a definition came from, for errors.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The file, relative to the project.
    pub file: String,
    /// The key path.
    pub key: String,
}

impl Origin {
    pub(crate) fn of(node: &Node<'_>) -> Self {
        Self {
            file: node.file().to_string(),
            key: node.path().to_string(),
        }
    }

    /// An error at this place.
    pub fn error(&self, reason: impl Into<String>) -> PbError {
        PbError::Key {
            file: self.file.clone(),
            key: self.key.clone(),
            reason: reason.into(),
        }
    }
}

/// An id type filter.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub include: bool,
    pub regex: bool,
    pub value: String,
    /// `sql: {select, from}`: the ids a model's (or input's) column holds.
    pub sql: Option<SqlFilter>,
}

/// An id type filter by the values of a column of a model or input.
#[derive(Debug, Clone)]
pub(crate) struct SqlFilter {
    /// The column (an expression) whose values the filter matches.
    pub select: String,
    /// The model or input name (lower case).
    pub from: String,
}

#[derive(Debug, Clone)]
pub(crate) struct IdType {
    pub filters: Vec<Filter>,
    pub extends: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub(crate) struct Entity {
    pub name: String,
    pub id_types: Vec<String>,
    /// `models/<name>` of its id stitcher, if it names one.
    pub stitcher: Option<String>,
    pub main_id: Option<String>,
    /// `using_ids`: id type and view name.
    pub views: Vec<(String, Option<String>)>,
    pub origin: Origin,
}

/// Where an input's rows come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A warehouse table or view, `schema.table`.
    Table(String),
    /// `csv:` in the project, whose cells pb pastes into SQL.
    Csv(PathBuf),
    /// `s3:` a file on S3.
    S3(String),
    /// A `sql_template` model.
    Model(String),
}

#[derive(Debug, Clone)]
pub(crate) struct InputId {
    pub select: String,
    pub id_type: String,
    pub entity: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub name: String,
    pub source: Source,
    pub occurred_at: Option<String>,
    pub ids: Vec<InputId>,
    pub filter: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub partition_by: Vec<String>,
    pub order_by: Vec<String>,
    pub frame: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarKind {
    Entity,
    Input,
}

#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub kind: VarKind,
    pub entity: String,
    pub name: String,
    pub select: String,
    /// The input name of `from: inputs/x`.
    pub from: Option<String>,
    pub filter: Option<String>,
    pub default: Option<String>,
    pub window: Option<Window>,
    pub hidden: bool,
    pub description: Option<String>,
    pub data_type: Option<String>,
    /// Older schemas' `dependencies`: vars this one reads by bare name.
    pub dependencies: Vec<String>,
    /// The cohort of a var group's `entity_cohort: models/<cohort>`: the var shows in
    /// that cohort's feature views (and its descendants') only.
    pub cohort: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub(crate) struct Stitcher {
    pub name: String,
    pub entity: String,
    /// Input (or sql_template model) names.
    pub edge_sources: Vec<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub(crate) struct Cohort {
    pub name: String,
    pub entity: String,
    pub extends: Option<String>,
    /// `(include, condition)` in order.
    pub steps: Vec<(bool, String)>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub(crate) struct FeatureTable {
    pub name: String,
    pub entity: String,
    pub features: Vec<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub(crate) struct SqlModel {
    pub name: String,
    pub sql: String,
    pub origin: Origin,
}

/// A model of a type Knit cannot run.
#[derive(Debug, Clone)]
pub(crate) struct UnsupportedModel {
    pub name: String,
    pub kind: String,
    pub origin: Origin,
}
