// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Runs RudderStack Profiles (`pb`) projects as Knit SQL.
//!
//! [`Project::load`] reads `pb_project.yaml` and every YAML file under its
//! `model_folders`, rejecting any key it would not honour with the file and key path.
//! [`Project::script`] writes the project as a Knit SQL [`Script`]: the warehouse tables
//! as external tables over files, `CREATE ENTITY`/`INPUT`/`VAR`/`COHORT` statements,
//! and one `COPY` per output, named as pb names its views. `knit project run` runs that
//! script; `knit project sql` prints it.

mod cohort_scope;
mod csv_values;
mod definitions;
mod dialect;
mod error;
mod grains;
mod keys;
mod load;
mod multi_sql;
mod packages;
mod pongo;
mod project;
mod script;
mod tables;
mod template;
mod yaml;

pub use error::{PbError, Result};
pub use grains::{GrainRun, grain_tag};
pub use project::{LoadOptions, Origin, Project};
pub use script::{DELTA_PURGE_SHARE, OutputFormat, Script, ScriptOptions, ScriptStatement};

/// The current time as RFC 3339 UTC text (`2026-11-28T16:00:00Z`), pb's default end time.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
