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
    pub views: FeatureViews,
    pub origin: Origin,
}

/// `feature_views` of an entity or a cohort: the views pb makes of its features.
#[derive(Debug, Clone, Default)]
pub(crate) struct FeatureViews {
    /// `name`: the view keyed by the main id, if renamed.
    pub main: Option<String>,
    /// `using_ids` (and the older `serve_traits`): id type and view name.
    pub by_id: Vec<(String, Option<String>)>,
}

impl Entity {
    /// The name of the entity's main id column: `id_column_name`, else
    /// `<entity>_main_id`, as pb names it.
    pub fn main_id_column(&self) -> String {
        self.main_id
            .clone()
            .unwrap_or_else(|| format!("{}_main_id", self.name))
    }

    /// The query of the entity's members, one main id each: pb's `<entity>_all`, also
    /// what `this.DeRef("<entity>/all")` reads.
    pub fn members_query(&self) -> String {
        format!(
            "SELECT DISTINCT {} FROM id_stitch({})",
            knit_sql::quote_ident_if_needed(&self.main_id_column()),
            knit_sql::quote_literal(&self.name)
        )
    }

    /// The entity's feature views as pb names them: `(view, id type)`, the id type
    /// `None` for the view keyed by the main id.
    pub fn view_names(&self) -> Vec<(String, Option<String>)> {
        named_views(&self.name, &self.views)
    }
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
    /// `to_default_stitcher: false`: the id adds no node or edge to its entity's default
    /// id stitcher (checked against pb), though it still maps the row to its entity.
    pub stitched: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub name: String,
    pub source: Source,
    pub occurred_at: Option<String>,
    /// An end time of its own, before the run's: that of the copy of an input that adds
    /// the edges of an id stitcher with a time grain (see `grains`).
    pub until: Option<String>,
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
    /// Whether it has a `merge` (how pb's incremental runs fold new rows in), which pb
    /// allows only on an append-only source.
    pub merge: bool,
    /// The cohort of a var group's `entity_cohort: models/<cohort>`: the var shows in
    /// that cohort's feature views (and its descendants') only.
    pub cohort: Option<String>,
    /// The name pb shows the var under, when Knit names it otherwise (a cohort's var
    /// that another var of the entity shares its name with: see `cohort_scope`).
    pub shown_as: Option<String>,
    /// Its var group's `time_grain`: pb computes it as of the grain's last boundary.
    pub time_grain: Option<String>,
    pub origin: Origin,
}

impl Var {
    /// An entity var Knit defines itself rather than reads from a var group: `select`
    /// over the rows of `from`, every other setting as a var group's default.
    pub(crate) fn entity_var(
        entity: String,
        name: String,
        select: String,
        from: String,
        origin: Origin,
    ) -> Self {
        Self {
            kind: VarKind::Entity,
            entity,
            name,
            select,
            from: Some(from),
            filter: None,
            default: None,
            window: None,
            hidden: false,
            description: None,
            data_type: None,
            dependencies: Vec::new(),
            merge: false,
            cohort: None,
            shown_as: None,
            time_grain: None,
            origin,
        }
    }

    /// The var's name in the pb project.
    pub(crate) fn pb_name(&self) -> &str {
        self.shown_as.as_deref().unwrap_or(&self.name)
    }

    /// The vars it reads: by `Var("x")` (also `~/entity/user/all/x`, `./x`), by
    /// `{{entity.x}}`, and older schemas' `dependencies`. A name that is an input's column
    /// is among them too, which can only turn off a var that reads an input var or column
    /// of that name.
    pub(crate) fn reads(&self) -> Vec<String> {
        static READS: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
            regex::Regex::new(
                r#"Var\(\s*["'](?:[^"']*/)?([^"'/]+)["']\s*\)|\{\{\s*\w+\.(\w+)\s*\}\}"#,
            )
            .ok()
        });
        let Some(reads) = READS.as_ref() else {
            return self.dependencies.clone();
        };
        let window = (self.window.iter()).flat_map(|w| w.partition_by.iter().chain(&w.order_by));
        let texts = std::iter::once(&self.select)
            .chain(&self.filter)
            .chain(window);
        let mut names: Vec<String> = texts
            .flat_map(|text| {
                reads
                    .captures_iter(text)
                    .filter_map(|c| c.get(1).or_else(|| c.get(2)))
                    .map(|m| m.as_str().to_lowercase())
                    .collect::<Vec<_>>()
            })
            .collect();
        names.extend(self.dependencies.iter().map(|d| d.to_lowercase()));
        names
    }
}

/// A model's `time_grain` (an id stitcher's is on the stitcher).
#[derive(Debug, Clone)]
pub(crate) struct ModelGrain {
    pub model: String,
    pub grain: String,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub(crate) struct Stitcher {
    pub name: String,
    pub entity: String,
    /// Input (or sql_template model) names.
    pub edge_sources: Vec<String>,
    /// Old schemas' `main_id_type`: the name of the entity's main id column, which pb's
    /// migration moves to the entity's `id_column_name`.
    pub main_id_type: Option<String>,
    /// Its `time_grain`: pb stitches as of the grain's last boundary.
    pub time_grain: Option<String>,
    pub origin: Origin,
}

/// A cohort's `filter_expression`: a condition, or expressions joined by `AND` or `OR`
/// (nested to any depth).
#[derive(Debug, Clone)]
pub(crate) enum FilterExpression {
    Condition(String),
    All(Vec<FilterExpression>),
    Any(Vec<FilterExpression>),
}

#[derive(Debug, Clone)]
pub(crate) struct Cohort {
    pub name: String,
    pub entity: String,
    pub extends: Option<String>,
    /// `(include, condition)` in order.
    pub steps: Vec<(bool, String)>,
    /// Its `filter_expression`, which members meet as well as every step.
    pub expression: Option<FilterExpression>,
    /// Its own `feature_views`, which replace the entity's ids.
    pub views: Option<FeatureViews>,
    pub origin: Origin,
}

impl Cohort {
    /// The feature views of the cohort's members as pb names them: `(view, id type)`,
    /// the id type `None` for the view keyed by the main id. Its own `feature_views`
    /// replace the entity's; without them it has a view per id of the entity's (not of a
    /// parent cohort's: checked against pb), named after the cohort.
    pub fn view_names(&self, entity: &Entity) -> Vec<(String, Option<String>)> {
        match &self.views {
            Some(own) => named_views(&self.name, own),
            None => {
                let ids = FeatureViews {
                    main: None,
                    by_id: (entity.views.by_id.iter())
                        .map(|(id, _)| (id.clone(), None))
                        .collect(),
                };
                named_views(&self.name, &ids)
            }
        }
    }
}

/// The views of `owner` (an entity or a cohort) as pb names them: the main-id view
/// `<owner>_feature_view` unless renamed, and a view by an id without a name of its own
/// `<main-id view>_with_<id>` (checked against pb: a renamed main view renames these).
fn named_views(owner: &str, views: &FeatureViews) -> Vec<(String, Option<String>)> {
    let main = (views.main.clone()).unwrap_or_else(|| format!("{owner}_feature_view"));
    let mut named = vec![(main.clone(), None)];
    for (id, name) in &views.by_id {
        let view = name.clone().unwrap_or_else(|| format!("{main}_with_{id}"));
        named.push((view, Some(id.clone())));
    }
    named
}

/// A `feature_view` model: views of its entity's features, as the entity's own
/// `feature_views` make them, named after the model (checked against pb 0.26, which
/// also leaves its `features` list unapplied: each view has every feature).
#[derive(Debug, Clone)]
pub(crate) struct FeatureViewModel {
    pub name: String,
    pub entity: String,
    /// Its `using_ids`: id type and view name; without them, the entity's.
    pub by_id: Option<Vec<(String, Option<String>)>>,
    pub origin: Origin,
}

impl FeatureViewModel {
    /// Its views as pb names them: `(view, id type)`, the model's name for the view by
    /// the main id, `<model>_with_<id>` for a view by an id without a name of its own.
    pub fn view_names(&self, entity: &Entity) -> Vec<(String, Option<String>)> {
        let views = FeatureViews {
            main: Some(self.name.clone()),
            by_id: (self.by_id.clone()).unwrap_or_else(|| entity.views.by_id.clone()),
        };
        named_views(&self.name, &views)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FeatureTable {
    pub name: String,
    pub entity: String,
    /// `entity_cohort: models/<cohort>`: the table has the cohort's members, and may
    /// show the cohort's vars.
    pub cohort: Option<String>,
    pub features: Vec<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub(crate) struct SqlModel {
    pub name: String,
    pub sql: String,
    /// Whether pb keeps its rows (`materialization.output_type` `table`, the default, or
    /// `view`): Knit writes them as an output of the model's name. An `ephemeral` model
    /// is only read by others.
    pub written: bool,
    pub origin: Origin,
}

/// A cohort's `filter_pipeline` step by SQL (`sql: {select, from}`): its members are the
/// main ids the query selects. The step's condition reads `var`, which counts them.
#[derive(Debug, Clone)]
pub(crate) struct MemberStep {
    pub cohort: String,
    pub var: String,
    pub select: String,
    pub from: String,
    pub origin: Origin,
}

/// A model of a type Knit cannot run.
#[derive(Debug, Clone)]
pub(crate) struct UnsupportedModel {
    pub name: String,
    pub kind: String,
    pub origin: Origin,
}
