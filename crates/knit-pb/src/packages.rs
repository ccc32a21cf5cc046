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
//! rows wherever it names its own input. A project id type that `extends` the package's
//! type of the same name adds its filters after the package's.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::project::{LoadOptions, Project, source_name};
use crate::yaml::Node;

/// Packages of packages nested deeper than this are taken to import one another.
const MAX_DEPTH: usize = 8;

/// A `packages:` item: the package's name, folder and input mapping.
pub(crate) struct PackageRef {
    pub name: String,
    pub dir: PathBuf,
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
    if let Some(overrides) = node.get("overrides") {
        return Err(overrides.error(
            "overriding a package's models is not supported yet; copy the models to change \
             into the project instead",
        ));
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
            aliases.push((input.to_lowercase(), source_name(&target)?));
        }
    }
    Ok(PackageRef { name, dir, aliases })
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
    package: Project,
    name: &str,
    aliases: Vec<(String, String)>,
) {
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
        if !project.entities.iter().any(|e| e.name == entity.name) {
            project.entities.push(entity);
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
}
