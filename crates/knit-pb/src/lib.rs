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

mod error;
mod project;
mod script;
mod tables;
mod template;
mod yaml;

pub use error::{PbError, Result};
pub use project::{Origin, Project};
pub use script::{OutputFormat, Script, ScriptOptions, ScriptStatement};

/// The current time as RFC 3339 UTC text (`2026-11-28T16:00:00Z`), pb's default end time.
pub fn now_rfc3339() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}
