// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `packages:`: projects imported into a project, as pb imports them.
//!
//! A package's `url` is a folder (relative to the project), or a git URL
//! (`https://github.com/org/repo/tag/schema_{{best_schema_version}}`) read from a folder
//! of checkouts given with `--packages DIR`, as `DIR/<repo>`: Knit does not fetch.
//! The package's id types, entities, inputs, models, vars and macros join the project's;
//! a definition the project makes itself wins. `inputsMap` binds a package's input to a
//! project input (`rsIdentifies: inputs/identifies`): the package reads the project's
//! rows wherever it names its own input; mapped to `nil`, the package's input is left
//! out, with what reads it. `overrides` with `requested_enable_status: disabled` leave out
//! the models (`models/<name>`) and vars (`<entity>/all/<var>`) they list. A project id
//! type that `extends` the package's type of the same name adds its filters after the
//! package's; a project entity the package also defines takes the package's id types and
//! stitcher if it names none.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::project::{LoadOptions, Project, grow_to_fixpoint, source_name, union_sql};
use crate::yaml::Node;

/// Packages of packages nested deeper than this are taken to import one another.
const MAX_DEPTH: usize = 8;

/// A `packages:` item: the package's name, folder and input mapping.
pub(crate) struct PackageRef {
    pub name: String,
    pub dir: PathBuf,
    /// Package inputs mapped to `nil`, and models and vars turned off by `overrides`
    /// (`models/<name>`, `<entity>/all/<var>`): the package's definitions left out.
    pub disabled: Vec<String>,
    /// Package input name to project input name.
    pub aliases: Vec<(String, String)>,
}

/// Reads a `packages:` item and finds the package's folder.
pub(crate) fn resolve(
    project_dir: &Path,
    node: &Node<'_>,
    options: &LoadOptions,
) -> Result<PackageRef> {
    node.only_keys(&["name", "url", "inputsMap", "overrides"], &["description"])?;
    let mut disabled = Vec::new();
    for item in node.items_of("overrides")? {
        item.only_keys(&["requested_enable_status", "models"], &[])?;
        let status = item.require("requested_enable_status")?;
        match status.text()?.as_str() {
            "disabled" => {}
            "enabled" | "must_have" | "can_have" => continue,
            other => {
                return Err(status.error(format!(
                    "'{other}' is not an enable status; use disabled, enabled, must_have or \
                     can_have"
                )));
            }
        }
        for model in item.items_of("models")? {
            disabled.push(model.text()?.to_lowercase());
        }
    }
    let name = node.require("name")?.text()?;
    let url_node = node.require("url")?;
    let url = url_node.text()?;
    if options.depth >= MAX_DEPTH {
        return Err(url_node.error(format!(
            "packages nest more than {MAX_DEPTH} deep; does a package import itself?"
        )));
    }
    let dir = package_dir(project_dir, &url, options.packages.as_deref())
        .map_err(|reason| url_node.error(format!("package '{name}': {reason}")))?;
    let mut aliases = Vec::new();
    if let Some(map) = node.get("inputsMap") {
        for (input, target) in map.items_of_mapping()? {
            // `nil`: the package's input has no counterpart, so it is left out.
            if target.is_null() || target.text().is_ok_and(|t| t.eq_ignore_ascii_case("nil")) {
                disabled.push(format!("inputs/{}", input.to_lowercase()));
                continue;
            }
            aliases.push((input.to_lowercase(), source_name(&target)?));
        }
    }
    Ok(PackageRef {
        name,
        dir,
        disabled,
        aliases,
    })
}

/// The folder of a package: a path relative to the project, or a git URL's checkout.
fn package_dir(project: &Path, url: &str, checkouts: Option<&Path>) -> Result<PathBuf, String> {
    let is_remote = url.contains("://") || url.starts_with("git@");
    if !is_remote {
        let dir = project.join(url);
        return if dir.join("pb_project.yaml").is_file() {
            Ok(dir)
        } else {
            Err(format!("no pb_project.yaml in {}", dir.display()))
        };
    }
    let repo = repository_name(url).ok_or_else(|| {
        format!("cannot tell the repository of '{url}'; give the package as a folder instead")
    })?;
    let Some(checkouts) = checkouts else {
        return Err(format!(
            "'{url}' is a git repository, which Knit does not fetch: check it out into a \
             folder named {repo} inside a folder of packages, and pass that folder with \
             --packages"
        ));
    };
    let dir = checkouts.join(&repo);
    if dir.join("pb_project.yaml").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "'{url}' is not checked out: no pb_project.yaml in {}; clone the repository \
             there (any tag: {{{{best_schema_version}}}} is not resolved)",
            dir.display()
        ))
    }
}

/// The repository name of a git URL: `repo` in `https://github.com/org/repo/tag/x`,
/// `https://host/org/repo.git` or `git@host:org/repo.git`.
fn repository_name(url: &str) -> Option<String> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/')?.1,
        None => url.split_once(':')?.1,
    };
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let _owner = parts.next()?;
    let repo = parts.next()?.trim_end_matches(".git");
    (!repo.is_empty() && !repo.contains("{{")).then(|| repo.to_string())
}

/// Adds what `package` defines and `project` does not.
pub(crate) fn merge(
    project: &mut Project,
    mut package: Project,
    name: &str,
    aliases: Vec<(String, String)>,
    disabled: &[String],
) {
    drop_disabled(&mut package, disabled);
    let alias = |input: &str| -> String {
        aliases
            .iter()
            .find(|(from, _)| from == input)
            .map_or_else(|| input.to_string(), |(_, to)| to.clone())
    };
    for (from, to) in &aliases {
        project.input_aliases.insert(from.clone(), to.clone());
    }
    for (type_name, mut id_type) in package.id_types {
        match project.id_types.get_mut(&type_name) {
            // The project's type extends the package's of the same name: it is kept
            // under another name, which the project's type extends.
            Some(own) if own.extends.as_deref() == Some(type_name.as_str()) => {
                let renamed = format!("{type_name}@{name}");
                own.extends = Some(renamed.clone());
                if id_type.extends.as_deref() == Some(type_name.as_str()) {
                    id_type.extends = None;
                }
                project.id_types.insert(renamed, id_type);
            }
            Some(_) => {}
            None => {
                project.id_types.insert(type_name, id_type);
            }
        }
    }
    for entity in package.entities {
        match project.entities.iter_mut().find(|e| e.name == entity.name) {
            // The project's entity may only add views to the package's.
            Some(own) => {
                if own.id_types.is_empty() {
                    own.id_types = entity.id_types;
                }
                if own.stitcher.is_none() {
                    own.stitcher = entity.stitcher;
                }
                if own.main_id.is_none() {
                    own.main_id = entity.main_id;
                }
                if own.views.main.is_none() {
                    own.views.main = entity.views.main;
                }
                for view in entity.views.by_id {
                    if !own.views.by_id.contains(&view) {
                        own.views.by_id.push(view);
                    }
                }
            }
            None => project.entities.push(entity),
        }
    }
    for input in package.inputs {
        let mapped = aliases.iter().any(|(from, _)| *from == input.name);
        if !mapped && !project.inputs.iter().any(|i| i.name == input.name) {
            project.inputs.push(input);
        }
    }
    for mut var in package.vars {
        var.from = var.from.as_deref().map(alias);
        let defined = project
            .vars
            .iter()
            .any(|v| v.kind == var.kind && v.entity == var.entity && v.name == var.name);
        if !defined {
            project.vars.push(var);
        }
    }
    for mut stitcher in package.stitchers {
        stitcher.edge_sources = stitcher.edge_sources.iter().map(|s| alias(s)).collect();
        if !project.stitchers.iter().any(|s| s.name == stitcher.name) {
            project.stitchers.push(stitcher);
        }
    }
    for cohort in package.cohorts {
        if !project.cohorts.iter().any(|c| c.name == cohort.name) {
            project.cohorts.push(cohort);
        }
    }
    for table in package.feature_tables {
        if !project.feature_tables.iter().any(|t| t.name == table.name) {
            project.feature_tables.push(table);
        }
    }
    for model in package.feature_view_models {
        if !project
            .feature_view_models
            .iter()
            .any(|m| m.name == model.name)
        {
            project.feature_view_models.push(model);
        }
    }
    for model in package.sql_models {
        if !project.sql_models.iter().any(|m| m.name == model.name) {
            project.sql_models.push(model);
        }
    }
    for (macro_name, definition) in package.macros {
        project.macros.entry(macro_name).or_insert(definition);
    }
    project
        .unsupported_models
        .extend(package.unsupported_models);
    project.time_grains.extend(package.time_grains);
    project.input_aliases.extend(package.input_aliases);
}

/// The package without what the project turned off: inputs mapped to `nil` (and what
/// reads them), models by `models/<name>`, vars by `<entity>/all/<var>`.
fn drop_disabled(package: &mut Project, disabled: &[String]) {
    if disabled.is_empty() {
        return;
    }
    let off = |path: String| disabled.contains(&path);
    // The inputs and models that are off, by name: vars `from` them are off too.
    let mut sources_off: Vec<String> = package
        .inputs
        .iter()
        .filter(|i| off(format!("inputs/{}", i.name)))
        .map(|i| i.name.clone())
        .collect();
    // A union of inputs (`common_column_union`) reads those still there, as pb's does;
    // with none left it is off too, with what reads it.
    for (name, sources) in &mut package.unions {
        sources.retain(|s| !sources_off.contains(s));
        if sources.is_empty() {
            sources_off.push(name.clone());
        } else if let Some(model) = package.sql_models.iter_mut().find(|m| &m.name == name) {
            model.sql = union_sql(sources);
        }
    }
    // A SQL model that reads what is off is off too, as pb turns off what depends on a
    // disabled model; so is a var that reads what is off, or a var that is.
    sources_off.extend(
        (package.sql_models.iter())
            .filter(|m| off(format!("models/{}", m.name)))
            .map(|m| m.name.clone()),
    );
    let models = &package.sql_models;
    grow_to_fixpoint(&mut sources_off, |off| {
        (models.iter())
            .filter(|m| !off.contains(&m.name))
            .filter(|m| dereferenced(&m.sql).iter().any(|r| off.contains(r)))
            .map(|m| m.name.clone())
            .collect()
    });
    package
        .unions
        .retain(|(name, _)| !sources_off.contains(name));
    package
        .sql_models
        .retain(|m| !sources_off.contains(&m.name));
    package.inputs.retain(|i| !sources_off.contains(&i.name));
    let mut vars_off: Vec<(String, String)> = Vec::new();
    let vars = &package.vars;
    grow_to_fixpoint(&mut vars_off, |vars_off| {
        (vars.iter())
            .filter(|v| !vars_off.contains(&(v.entity.clone(), v.name.clone())))
            .filter(|v| {
                off(format!("{}/all/{}", v.entity, v.name))
                    || v.from.as_ref().is_some_and(|f| sources_off.contains(f))
                    || v.reads()
                        .iter()
                        .any(|name| vars_off.contains(&(v.entity.clone(), name.clone())))
            })
            .map(|v| (v.entity.clone(), v.name.clone()))
            .collect()
    });
    package
        .vars
        .retain(|v| !vars_off.contains(&(v.entity.clone(), v.name.clone())));
    for stitcher in &mut package.stitchers {
        stitcher.edge_sources.retain(|s| !sources_off.contains(s));
    }
    package
        .stitchers
        .retain(|m| !off(format!("models/{}", m.name)));
    package
        .feature_tables
        .retain(|m| !off(format!("models/{}", m.name)));
    package
        .cohorts
        .retain(|m| !off(format!("models/{}", m.name)));
    package
        .sql_models
        .retain(|m| !off(format!("models/{}", m.name)));
    package
        .feature_view_models
        .retain(|m| !off(format!("models/{}", m.name)));
    package
        .unsupported_models
        .retain(|m| !off(format!("models/{}", m.name)));
    // A feature table keeps the features still defined.
    let defined: Vec<(String, String)> = package
        .vars
        .iter()
        .map(|v| (v.entity.clone(), v.name.clone()))
        .collect();
    for table in &mut package.feature_tables {
        let entity = table.entity.clone();
        table
            .features
            .retain(|f| defined.contains(&(entity.clone(), f.clone())));
    }
}

/// The inputs and models a template reads through `this.DeRef("inputs/x")` or
/// `this.DeRef("models/x")`, by name.
fn dereferenced(sql: &str) -> Vec<String> {
    static DEREF: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"DeRef\(\s*["'](?:inputs|models)/([^"'/]+)"#).ok()
    });
    let Some(deref) = DEREF.as_ref() else {
        return Vec::new();
    };
    deref
        .captures_iter(sql)
        .map(|c| c[1].to_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        let name = |url: &str| repository_name(url);
        assert_eq!(
            name(
                "https://github.com/rudderlabs/profiles-corelib/tag/schema_{{best_schema_version}}"
            ),
            Some("profiles-corelib".into())
        );
        assert_eq!(name("https://github.com/org/lib.git"), Some("lib".into()));
        assert_eq!(name("git@github.com:org/lib.git"), Some("lib".into()));
        assert_eq!(name("https://github.com/org"), None);
    }

    #[test]
    fn what_templates_dereference() {
        assert_eq!(
            dereferenced(
                "{% with a = this.DeRef(\"inputs/rsTracks\") b = this.DeRef('models/m/var_table') %}\
                 {{ this.DeRef( \"inputs/x\" ) }}"
            ),
            ["rstracks", "m", "x"]
        );
        assert!(dereferenced("select * from t").is_empty());
    }
}
