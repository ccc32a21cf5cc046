// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Reading a project with its packages: the project's own files, then each package
//! (read the same way, so packages may have packages), merged in.

use std::path::Path;

use crate::error::Result;
use crate::packages::{merge, resolve};
use crate::project::{LoadOptions, Project};
use crate::yaml::Node;

impl Project {
    /// Reads the project in `dir` (packages by git URL need [`Project::load_with`]).
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with(dir, &LoadOptions::default())
    }

    /// Reads the project in `dir`, with its packages from where `options` says.
    pub fn load_with(dir: &Path, options: &LoadOptions) -> Result<Self> {
        let (mut project, value) = Project::read_own(dir)?;
        let root = Node::root(&value, "pb_project.yaml");
        // Packages last: what the project defines wins over what a package does.
        for node in root.items_of("packages")? {
            let package = resolve(dir, &node, options)?;
            let nested = LoadOptions {
                packages: options.packages.clone(),
                depth: options.depth + 1,
            };
            let loaded = Project::load_with(&package.dir, &nested).map_err(|e| {
                node.error(format!(
                    "package '{}' (from {}): {e}",
                    package.name,
                    package.dir.display()
                ))
            })?;
            merge(
                &mut project,
                loaded,
                &package.name,
                package.aliases,
                &package.disabled,
            );
        }
        project.scope_cohort_vars();
        Ok(project)
    }
}
