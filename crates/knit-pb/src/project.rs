// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A pb project read from its YAML: `pb_project.yaml` and every YAML file under its
//! `model_folders`, checked key by key. Templates are left as text here; [`crate::script`]
//! renders them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::Value;

pub use crate::definitions::Origin;
pub(crate) use crate::definitions::{
    Cohort, Entity, FeatureTable, FeatureViewModel, FeatureViews, Filter, FilterExpression, IdType,
    Input, InputId, MemberStep, ModelGrain, Source, SqlFilter, SqlModel, Stitcher,
    UnsupportedModel, Var, VarKind, Window,
};
use crate::error::{PbError, Result};
use crate::keys::{ENTITY_IGNORED, INPUT_IGNORED, PROJECT_IGNORED, VAR_GROUP_IGNORED, VAR_IGNORED};
use crate::template::Macro;
use crate::yaml::{Node, read_yaml};

mod member_sets;

pub(crate) use member_sets::MEMBER_SET_PREFIX;
mod models;
use models::read_feature_views;

pub(crate) use models::union_sql;

/// Everything a project defines.
#[derive(Debug, Default, Clone)]
pub struct Project {
    pub(crate) dir: PathBuf,
    pub(crate) id_types: BTreeMap<String, IdType>,
    pub(crate) entities: Vec<Entity>,
    pub(crate) inputs: Vec<Input>,
    pub(crate) vars: Vec<Var>,
    pub(crate) stitchers: Vec<Stitcher>,
    pub(crate) cohorts: Vec<Cohort>,
    pub(crate) feature_tables: Vec<FeatureTable>,
    pub(crate) feature_view_models: Vec<FeatureViewModel>,
    pub(crate) sql_models: Vec<SqlModel>,
    pub(crate) macros: BTreeMap<String, Macro>,
    /// pb's `include_untimed`: whether rows without an occurred-at time are kept.
    pub(crate) include_untimed: bool,
    /// pb's `default_time_grain`: the grain of every model and var group without one,
    /// so a run is as of its last boundary (see `grains`).
    pub(crate) default_time_grain: Option<String>,
    /// Each model's `time_grain` and where it is set: a pass as of its boundary writes
    /// the model (an id stitcher's grain is on the stitcher, a var group's on its vars).
    pub(crate) time_grains: Vec<ModelGrain>,
    /// Models of types Knit cannot run (Python models, propensity, attribution, ...).
    pub(crate) unsupported_models: Vec<UnsupportedModel>,
    /// `common_column_union` models and the inputs they union.
    pub(crate) unions: Vec<(String, Vec<String>)>,
    /// A package's input name to the project input it is mapped to (`inputsMap`).
    pub(crate) input_aliases: BTreeMap<String, String>,
    /// Inputs and `sql_template` models whose `contract` says `is_append_only: true`
    /// (lower case): the sources pb lets a var with `merge` read.
    pub(crate) append_only: BTreeSet<String>,
    /// Cohort steps by SQL, made into vars once every cohort's entity is known.
    pub(crate) member_steps: Vec<MemberStep>,
}

/// Where a project's packages are, for [`Project::load_with`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// A folder of checkouts, one folder per repository name, for packages given by a
    /// git URL.
    pub packages: Option<PathBuf>,
    /// How deep in packages of packages this load is.
    pub(crate) depth: usize,
}

impl LoadOptions {
    /// Packages given by a git URL are read from `packages/<repository name>`.
    pub fn with_packages(packages: Option<PathBuf>) -> Self {
        Self { packages, depth: 0 }
    }
}

impl Project {
    /// Reads the project in `dir`.
    /// Reads the project in `dir` but not its packages; returns it with the YAML of its
    /// `pb_project.yaml`, whose `packages` the caller reads.
    pub(crate) fn read_own(dir: &Path) -> Result<(Self, Value)> {
        let mut project = Self {
            dir: dir.to_path_buf(),
            include_untimed: true,
            ..Self::default()
        };
        let file = "pb_project.yaml";
        let value = read_yaml(dir, file)?;
        let root = Node::root(&value, file);
        root.only_keys(
            &[
                "model_folders",
                "entities",
                "id_types",
                "inputs",
                "models",
                "var_groups",
                "macros",
                "packages",
                "include_untimed",
                "default_time_grain",
            ],
            PROJECT_IGNORED,
        )?;
        project.default_time_grain = grain_of(&root, "default_time_grain")?;
        if let Some(node) = root.get("include_untimed") {
            project.include_untimed = node.boolean()?;
        }
        for node in root.items_of("id_types")? {
            project.read_id_type(&node)?;
        }
        for node in root.items_of("entities")? {
            project.read_entity(&node)?;
        }
        project.read_models_file(&root)?;
        let mut folders = Vec::new();
        for node in root.items_of("model_folders")? {
            let folder = node.text()?;
            if !dir.join(&folder).is_dir() {
                return Err(node.error(format!(
                    "no folder '{folder}' in the project ({}); model_folders names the \
                     project's folders of model YAML files",
                    dir.display()
                )));
            }
            folders.push(folder);
        }
        for folder in folders {
            let mut files = Vec::new();
            collect_yaml(&dir.join(&folder), &mut files)?;
            files.sort();
            for path in files {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                let value = read_yaml(dir, &relative)?;
                let root = Node::root(&value, &relative);
                root.only_keys(
                    &["inputs", "models", "var_groups", "macros"],
                    &["optimizations", "packages", "description"],
                )?;
                project.read_models_file(&root)?;
            }
        }
        project.union_inputs()?;
        project.stitcher_main_ids();
        project.cohort_var_entities()?;
        project.member_sets()?;
        project.check_merges()?;
        Ok((project, value.clone()))
    }

    /// An old schema's `main_id_type` on an id stitcher names its entity's main id
    /// column, as pb's migration makes it the entity's `id_column_name` (which wins).
    fn stitcher_main_ids(&mut self) {
        for stitcher in &self.stitchers {
            let Some(main_id) = &stitcher.main_id_type else {
                continue;
            };
            let named = |e: &&mut Entity| {
                e.name == stitcher.entity
                    && e.stitcher.as_deref().is_none_or(|s| {
                        s.strip_prefix("models/").unwrap_or(s).to_lowercase() == stitcher.name
                    })
            };
            if let Some(entity) = self.entities.iter_mut().find(named)
                && entity.main_id.is_none()
            {
                entity.main_id = Some(main_id.clone());
            }
        }
    }

    fn read_models_file(&mut self, root: &Node<'_>) -> Result<()> {
        self.read_macros(root)?;
        for node in root.items_of("inputs")? {
            self.read_input(&node)?;
        }
        for node in root.items_of("models")? {
            self.read_model(&node)?;
        }
        for group in root.items_of("var_groups")? {
            group.only_keys(
                &[
                    "name",
                    "entity_key",
                    "vars",
                    "entity_cohort",
                    "cohort",
                    "time_grain",
                ],
                VAR_GROUP_IGNORED,
            )?;
            let grain = time_grain(&group)?;
            // Vars of a cohort get their entity once every cohort is read.
            let (entity, cohort) = entity_scope(&group)?;
            let first = self.vars.len();
            self.read_vars(&group.items_of("vars")?, &entity)?;
            for var in &mut self.vars[first..] {
                var.cohort = cohort.clone();
                var.time_grain = grain.clone();
            }
        }
        Ok(())
    }

    /// The macros of a `macros:` list (of a models file, or inline in an old feature table).
    fn read_macros(&mut self, node: &Node<'_>) -> Result<()> {
        for node in node.items_of("macros")? {
            node.only_keys(&["name", "inputs", "value"], &["description"])?;
            let name = node.require("name")?.text()?;
            let inputs = node
                .items_of("inputs")?
                .iter()
                .map(|n| n.text())
                .collect::<Result<Vec<_>>>()?;
            let value = node.require("value")?.text()?;
            self.macros.insert(name, Macro { inputs, value });
        }
        Ok(())
    }

    /// A union of inputs that all have the same ids and time column is an input too,
    /// with those ids, as the rows it unions are.
    fn union_inputs(&mut self) -> Result<()> {
        for (name, sources) in self.unions.clone() {
            let parts: Vec<&Input> = sources
                .iter()
                .filter_map(|s| self.inputs.iter().find(|i| &i.name == s))
                .collect();
            let Some(first) = parts.first() else { continue };
            let same = parts.len() == sources.len()
                && parts.iter().all(|p| {
                    p.occurred_at == first.occurred_at
                        && p.ids.len() == first.ids.len()
                        && p.ids.iter().zip(&first.ids).all(|(a, b)| {
                            a.select == b.select && a.id_type == b.id_type && a.entity == b.entity
                        })
                });
            if same && !self.inputs.iter().any(|i| i.name == name) {
                let input = Input {
                    name: name.clone(),
                    source: Source::Model(name.clone()),
                    occurred_at: first.occurred_at.clone(),
                    until: None,
                    ids: first.ids.clone(),
                    filter: None,
                    origin: first.origin.clone(),
                };
                self.inputs.push(input);
            }
        }
        Ok(())
    }

    /// pb refuses a var with `merge` whose input or `sql_template` is not append-only
    /// (`contract: is_append_only: true`): merging new rows into an old value is wrong
    /// when old rows change. Knit refuses it too, so that a project runs here only if
    /// it runs in pb. A source this project does not define (a package's) is not checked.
    fn check_merges(&self) -> Result<()> {
        let defined = |name: &str| {
            self.inputs.iter().any(|i| i.name == name)
                || self.sql_models.iter().any(|m| m.name == name)
        };
        for var in self.vars.iter().filter(|v| v.merge) {
            let Some(from) = &var.from else { continue };
            if defined(from) && !self.append_only.contains(from) {
                return Err(var.origin.error(format!(
                    "{} has a merge, which pb allows only on an append-only source, and '{from}' \
                     does not say it is one: add contract: is_append_only: true to '{from}' (if \
                     its rows are never updated or deleted), or remove the merge",
                    var.name
                )));
            }
        }
        Ok(())
    }

    /// The entity of each cohort's var and feature table: its cohort's, through the
    /// cohorts it extends.
    fn cohort_var_entities(&mut self) -> Result<()> {
        for i in 0..self.vars.len() {
            let Some(cohort) = self.vars[i].cohort.clone() else {
                continue;
            };
            let entity = self.cohort_entity(&cohort).ok_or_else(|| {
                self.vars[i].origin.error(format!(
                    "entity_cohort: no entity_cohort model named '{cohort}' (or it extends \
                     none of an entity)"
                ))
            })?;
            self.vars[i].entity = entity;
        }
        for i in 0..self.feature_tables.len() {
            let Some(cohort) = self.feature_tables[i].cohort.clone() else {
                continue;
            };
            let entity = self.cohort_entity(&cohort).ok_or_else(|| {
                self.feature_tables[i].origin.error(format!(
                    "model_spec.entity_cohort: no entity_cohort model named '{cohort}' (or it \
                     extends none of an entity)"
                ))
            })?;
            self.feature_tables[i].entity = entity;
        }
        Ok(())
    }

    /// `cohort` and the cohorts it extends, nearest first (none for `None`).
    pub(crate) fn cohort_lineage(&self, cohort: Option<&str>) -> Vec<String> {
        let mut lineage = Vec::new();
        let mut current = cohort.map(str::to_string);
        while let Some(name) = current.take() {
            if lineage.contains(&name) {
                break;
            }
            current = (self.cohorts.iter())
                .find(|c| c.name == name)
                .and_then(|c| c.extends.clone());
            lineage.push(name);
        }
        lineage
    }

    /// The entity of a cohort: its own, or (extending another cohort) its root's.
    pub(crate) fn cohort_entity(&self, cohort: &str) -> Option<String> {
        let mut current = cohort.to_string();
        for _ in 0..=self.cohorts.len() {
            let found = self.cohorts.iter().find(|c| c.name == current)?;
            if !found.entity.is_empty() {
                return Some(found.entity.clone());
            }
            current = found.extends.clone()?;
        }
        None
    }

    /// The vars of a `vars:` list (of a var group, or inline in an old feature table);
    /// older schemas' `entityvar` and `inputvar` as pb's migration renames them.
    fn read_vars(&mut self, items: &[Node<'_>], entity: &str) -> Result<()> {
        const KINDS: [(&str, VarKind); 4] = [
            ("entity_var", VarKind::Entity),
            ("input_var", VarKind::Input),
            ("entityvar", VarKind::Entity),
            ("inputvar", VarKind::Input),
        ];
        for item in items {
            item.only_keys(&["entity_var", "input_var"], &["entityvar", "inputvar"])?;
            for (key, kind) in KINDS {
                if let Some(var) = item.get(key) {
                    self.vars.push(read_var(&var, kind, entity)?);
                }
            }
        }
        Ok(())
    }

    /// Records a model's `time_grain`, which pb applies by computing the model as of the
    /// grain's last boundary (a run writes it from a pass as of that boundary).
    fn read_time_grain(&mut self, node: &Node<'_>, model: &str) -> Result<()> {
        if let (Some(grain), Some(key)) = (time_grain(node)?, node.get("time_grain")) {
            self.time_grains.push(ModelGrain {
                model: model.to_string(),
                grain,
                origin: Origin::of(&key),
            });
        }
        Ok(())
    }

    fn read_id_type(&mut self, node: &Node<'_>) -> Result<()> {
        if let Some(limits) = node.get("maximum_edges") {
            // pb's cardinality rules (Snowflake and BigQuery only) cap each id's edges to
            // ids of other types, dropping edges by pb's own order, which no warehouse
            // Knit can check against shows; stitching without them would merge more.
            return Err(limits.error(
                "maximum_edges (pb's cardinality rules) would drop edges, and Knit does not \
                 reproduce pb's choice of which: remove it to stitch without it, or run the \
                 project's SQL (knit project sql) with a LIMIT on the id types in CREATE \
                 ENTITY, Knit's cap on ids of a type per cluster",
            ));
        }
        node.only_keys(&["name", "filters", "extends"], &["description", "tags"])?;
        let name = node.require("name")?.text()?;
        let mut filters = Vec::new();
        for filter in node.items_of("filters")? {
            filter.only_keys(&["type", "value", "regex", "sql"], &[])?;
            let include = is_include(&filter.require("type")?)?;
            if let Some(sql) = filter.get("sql") {
                sql.only_keys(&["select", "from"], &[])?;
                filters.push(Filter {
                    include,
                    regex: false,
                    value: String::new(),
                    sql: Some(SqlFilter {
                        select: sql.require("select")?.text()?,
                        from: source_name(&sql.require("from")?)?,
                    }),
                });
                continue;
            }
            let (regex, value) = match (filter.get("regex"), filter.get("value")) {
                (Some(r), None) => (true, r.text()?),
                (None, Some(v)) => (false, v.text()?),
                _ => return Err(filter.error("a filter needs exactly one of value or regex")),
            };
            filters.push(Filter {
                include,
                regex,
                value,
                sql: None,
            });
        }
        let extends = node.text_of("extends")?;
        self.id_types.insert(
            name,
            IdType {
                filters,
                extends,
                origin: Origin::of(node),
            },
        );
        Ok(())
    }

    fn read_entity(&mut self, node: &Node<'_>) -> Result<()> {
        node.only_keys(
            &[
                "name",
                "id_types",
                "id_stitcher",
                "id_column_name",
                "feature_views",
                "serve_traits",
            ],
            ENTITY_IGNORED,
        )?;
        let name = node.require("name")?.text()?.to_lowercase();
        let id_types = node
            .items_of("id_types")?
            .iter()
            .map(|n| n.text())
            .collect::<Result<Vec<_>>>()?;
        let stitcher = match node.get("id_stitcher") {
            Some(n) => Some(model_path(&n, "models")?),
            None => None,
        };
        let mut views = match node.get("feature_views") {
            Some(feature_views) => read_feature_views(&feature_views)?,
            None => FeatureViews::default(),
        };
        // Older schemas' `serve_traits` are the same views: the features by an id type.
        // pb's migration names one without a name `<id>_<entity>_default_entity_serve_360`
        // (checked against pb 0.26.4; a cohort's views still take the default names).
        for serve in node.items_of("serve_traits")? {
            serve.only_keys(&["id_served", "name"], &["description"])?;
            let id = serve.require("id_served")?.text()?;
            let view = serve
                .text_of("name")?
                .unwrap_or_else(|| format!("{id}_{name}_default_entity_serve_360"));
            (views.by_id).push((id, Some(view)));
        }
        self.entities.push(Entity {
            name,
            id_types,
            stitcher,
            main_id: node.text_of("id_column_name")?,
            views,
            origin: Origin::of(node),
        });
        Ok(())
    }

    fn read_input(&mut self, node: &Node<'_>) -> Result<()> {
        const SOURCE_KEYS: &[&str] = &[
            "table",
            "view",
            "csv",
            "s3",
            "occurred_at_col",
            "ids",
            "where",
        ];
        let name = node.require("name")?.text()?.to_lowercase();
        let mut known = vec!["name", "app_defaults"];
        known.extend_from_slice(SOURCE_KEYS);
        node.only_keys(&known, INPUT_IGNORED)?;
        let defaults = node.get("app_defaults");
        if let Some(defaults) = &defaults {
            defaults.only_keys(SOURCE_KEYS, INPUT_IGNORED)?;
        }
        // Old schemas put the source keys on the input itself; pb's migration moves them
        // under app_defaults, so each key may sit in either place, as long as it is one.
        let source_key = |key: &str| -> Result<Option<Node<'_>>> {
            match (node.get(key), defaults.as_ref().and_then(|d| d.get(key))) {
                (Some(n), None) | (None, Some(n)) => Ok(Some(n)),
                (None, None) => Ok(None),
                (Some(n), Some(_)) => Err(n.error(format!(
                    "{key} is given twice (under the input and under app_defaults); keep one"
                ))),
            }
        };
        let source_text = |key: &str| source_key(key)?.map(|n| n.text()).transpose();
        let sources: Vec<Source> = [
            source_text("table")?.map(Source::Table),
            source_text("view")?.map(Source::Table),
            source_text("csv")?.map(|p| Source::Csv(self.dir.join(p))),
            source_text("s3")?.map(Source::S3),
        ]
        .into_iter()
        .flatten()
        .collect();
        let [source] = <[Source; 1]>::try_from(sources).map_err(|_| {
            (defaults.as_ref().unwrap_or(node))
                .error("an input needs exactly one of table, view, csv or s3")
        })?;
        let ids = read_ids(source_key("ids")?)?;
        let filter = source_text("where")?;
        let occurred_at = source_text("occurred_at_col")?;
        let append_only = match &defaults {
            Some(defaults) => is_append_only(node)? || is_append_only(defaults)?,
            None => is_append_only(node)?,
        };
        if append_only {
            self.append_only.insert(name.clone());
        }
        self.inputs.push(Input {
            name,
            source,
            occurred_at,
            until: None,
            ids,
            filter,
            origin: Origin::of(node),
        });
        Ok(())
    }
}

/// Whether a model's or input's `contract` says `is_append_only: true`.
pub(crate) fn is_append_only(node: &Node<'_>) -> Result<bool> {
    match node.get("contract").and_then(|c| c.get("is_append_only")) {
        Some(flag) => flag.boolean(),
        None => Ok(false),
    }
}

/// A var's `default_value`, or older schemas' `default` (pb's migration renames it:
/// checked with `pb migrate auto`); both is an error.
fn default_value(node: &Node<'_>) -> Result<Option<String>> {
    match (node.get("default_value"), node.get("default")) {
        (Some(_), Some(older)) => Err(older.error(
            "default is the older name of default_value, which is also given; keep default_value",
        )),
        (value, older) => value.or(older).map(|n| n.text()).transpose(),
    }
}

/// Whose a var group's vars or a feature table's rows are: `entity_key: user`, or
/// `entity_cohort` (`user/all`, or `models/<cohort>`, whose entity is known once every
/// model is read). Both is an error, as in pb.
fn entity_scope(node: &Node<'_>) -> Result<(String, Option<String>)> {
    match (node.get("entity_key"), entity_cohort(node)?) {
        (Some(_), Some(scope)) => Err(scope.error(
            "give entity_key or entity_cohort, not both (pb refuses both as well): \
             entity_cohort: models/<cohort> for a cohort's members",
        )),
        (None, Some(scope)) => cohort_scope(&scope),
        (Some(key), None) => Ok((key.text()?.to_lowercase(), None)),
        (None, None) => {
            Err(node.error("entity_key: missing; name the entity (or entity_cohort: the cohort)"))
        }
    }
}

/// The `entity_cohort` of a var group or feature table, or older schemas' `cohort`
/// (`cohort: user/all`), which pb's migrations renamed; both is an error.
fn entity_cohort<'a>(node: &Node<'a>) -> Result<Option<Node<'a>>> {
    match (node.get("entity_cohort"), node.get("cohort")) {
        (Some(_), Some(older)) => Err(older.error(
            "cohort is the older name of entity_cohort, which is also given; keep entity_cohort",
        )),
        (scope, older) => Ok(scope.or(older)),
    }
}

/// A filter's `type`: `include` (true) or `exclude` (false).
fn is_include(kind: &Node<'_>) -> Result<bool> {
    match kind.text()?.as_str() {
        "include" => Ok(true),
        "exclude" => Ok(false),
        other => Err(kind.error(format!(
            "filter type '{other}' is not supported; use include or exclude"
        ))),
    }
}

/// A node's `time_grain`, checked to be one pb knows.
pub(crate) fn time_grain(node: &Node<'_>) -> Result<Option<String>> {
    grain_of(node, "time_grain")
}

/// A node's time grain under `key`, checked to be one pb knows (`10minutes`, as pb's
/// messages spell it, is `tenminutes`, as its docs do).
fn grain_of(node: &Node<'_>, key: &str) -> Result<Option<String>> {
    let Some(grain) = node.get(key) else {
        return Ok(None);
    };
    let text = grain
        .text()?
        .to_lowercase()
        .replace("10minutes", "tenminutes");
    if !TIME_GRAINS.contains(&text.as_str()) {
        return Err(grain.error(format!(
            "'{text}' is not a time grain; use one of {}",
            TIME_GRAINS.join(", ")
        )));
    }
    Ok(Some(text))
}

/// The time grains pb knows, finest first.
pub(crate) const TIME_GRAINS: &[&str] =
    &["tick", "tenminutes", "hour", "day", "week", "month", "year"];

/// `entity_cohort: <entity>/all` (an entity's vars) or `models/<cohort>` (a cohort's,
/// whose entity is known once every model is read).
fn cohort_scope(node: &Node<'_>) -> Result<(String, Option<String>)> {
    let text = node.text()?;
    match text.split_once('/') {
        Some((entity, "all")) => Ok((entity.to_lowercase(), None)),
        Some(("models", cohort)) if !cohort.is_empty() => {
            Ok((String::new(), Some(cohort.to_lowercase())))
        }
        _ => Err(node.error(format!(
            "'{text}' is neither <entity>/all nor models/<cohort>"
        ))),
    }
}

/// The `ids` list of an input or a model (none when absent).
fn read_ids(list: Option<Node<'_>>) -> Result<Vec<InputId>> {
    let mut ids = Vec::new();
    let items = match list {
        Some(list) => list.items()?,
        None => Vec::new(),
    };
    for id in items {
        id.only_keys(&["select", "type", "entity", "to_default_stitcher"], &[])?;
        let stitched = match id.get("to_default_stitcher") {
            Some(flag) => flag.boolean()?,
            None => true,
        };
        ids.push(InputId {
            select: id.require("select")?.text()?,
            id_type: id.require("type")?.text()?,
            entity: id.require("entity")?.text()?.to_lowercase(),
            stitched,
        });
    }
    Ok(ids)
}

fn read_var(node: &Node<'_>, kind: VarKind, entity: &str) -> Result<Var> {
    node.only_keys(
        &[
            "name",
            "select",
            "from",
            "where",
            "default_value",
            "default",
            "window",
            "is_feature",
            "description",
            "column_data_type",
            "dependencies",
        ],
        VAR_IGNORED,
    )?;
    let from = match node.get("from") {
        Some(n) => Some(source_name(&n)?),
        None => None,
    };
    if kind == VarKind::Input && from.is_none() {
        return Err(node.error("an input_var needs from: inputs/<input>"));
    }
    let window = match node.get("window") {
        Some(w) => {
            w.only_keys(&["partition_by", "order_by", "frame_clause"], &[])?;
            let list = |key: &str| -> Result<Vec<String>> {
                w.items_of(key)?.iter().map(|n| n.text()).collect()
            };
            Some(Window {
                partition_by: list("partition_by")?,
                order_by: list("order_by")?,
                frame: w.text_of("frame_clause")?,
            })
        }
        None => None,
    };
    let hidden = match node.get("is_feature") {
        Some(n) => !n.boolean()?,
        None => false,
    };
    Ok(Var {
        kind,
        entity: entity.to_string(),
        name: node.require("name")?.text()?.to_lowercase(),
        select: node.require("select")?.text()?,
        from,
        filter: node.text_of("where")?,
        default: default_value(node)?,
        window,
        hidden,
        description: node.text_of("description")?,
        dependencies: node
            .items_of("dependencies")?
            .iter()
            .map(|n| Ok(n.text()?.to_lowercase()))
            .collect::<Result<Vec<_>>>()?,
        data_type: node.text_of("column_data_type")?,
        merge: node.get("merge").is_some(),
        cohort: None,
        shown_as: None,
        time_grain: None,
        origin: Origin::of(node),
    })
}

/// `set` grown until `more` (what else belongs, given the set so far) adds nothing: what
/// depends on what is left out is left out, however long the chain.
pub(crate) fn grow_to_fixpoint<T>(set: &mut Vec<T>, more: impl Fn(&[T]) -> Vec<T>) {
    loop {
        let added = more(set);
        if added.is_empty() {
            return;
        }
        set.extend(added);
    }
}

/// The name in `inputs/<name>` or `models/<name>`.
pub(crate) fn source_name(node: &Node<'_>) -> Result<String> {
    let text = node.text()?;
    match text.split_once('/') {
        Some(("inputs" | "models", name)) if !name.is_empty() => Ok(name.to_lowercase()),
        _ => Err(node.error(format!(
            "'{text}' is neither inputs/<input> nor models/<model>"
        ))),
    }
}

/// The name in `models/<name>`.
fn model_path(node: &Node<'_>, folder: &str) -> Result<String> {
    let text = node.text()?;
    match text.split_once('/') {
        Some((f, name)) if f == folder && !name.is_empty() => Ok(name.to_lowercase()),
        _ => Err(node.error(format!("'{text}' is not {folder}/<name>"))),
    }
}

fn last_segment(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_lowercase()
}

fn collect_yaml(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| PbError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| PbError::Read {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.is_dir() {
            collect_yaml(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(path);
        }
    }
    Ok(())
}
