// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! What a run into a profile store computes: a pb project (`knit project run --store`)
//! or a Knit SQL session's definitions (`REFRESH PROFILE STORE`), as a script of
//! statements whose outputs go to a staging folder; and how it runs (times, memory,
//! what it writes beside the store).

use std::path::{Path, PathBuf};
use std::time::Duration;

use knit_core::KnitSession;
use knit_pb::{OutputFormat, Script};

use super::grain_passes::ProjectScripts;
use super::load::load_project;
use super::sql_profile::SqlProfile;
use super::{ProjectArgs, new_session};

/// A run into a profile store: what it computes, and how.
pub(crate) struct StoreRun<'a> {
    /// Where its definitions come from.
    pub(crate) definitions: Definitions<'a>,
    /// Input rows that occurred earlier are left out (pb projects only).
    pub(crate) begin_time: Option<String>,
    /// Input rows that occurred later are left out (pb projects only; default: now).
    pub(crate) end_time: Option<String>,
    /// Compute everything from all input files.
    pub(crate) rebuild: bool,
    /// Where each output's changes of the run are written, if anywhere.
    pub(crate) changes_out: Option<PathBuf>,
    /// Merges mark replaced rows deleted rather than rewrite their files.
    pub(crate) deletion_vectors: bool,
    /// The memory the run's queries may use, in bytes.
    pub(crate) memory_limit: Option<usize>,
    /// How long writing the outputs may take.
    pub(crate) timeout: Option<Duration>,
    /// Leave out the run's progress lines (a Knit SQL session's `-q`).
    pub(crate) quiet: bool,
}

/// Where a store run's definitions come from.
pub(crate) enum Definitions<'a> {
    /// A pb project, whose script bounds each input's rows by the run's times.
    Project(&'a ProjectArgs),
    /// A Knit SQL session's statements and the outputs they make, with no time bound:
    /// an input reads every row of its files.
    Sql(&'a SqlProfile),
}

impl<'a> StoreRun<'a> {
    /// `knit project run --store`'s run of the project `args` name.
    pub(super) fn of_project(args: &'a ProjectArgs) -> Result<Self, String> {
        Ok(Self {
            definitions: Definitions::Project(args),
            begin_time: args.begin_time.clone(),
            end_time: args.end_time.clone(),
            rebuild: args.rebuild,
            changes_out: args.changes_out.clone(),
            deletion_vectors: args.deletion_vectors,
            memory_limit: args.memory_limit_bytes()?,
            timeout: args.timeout,
            quiet: false,
        })
    }

    /// The scripts of the run over the rows from `begin_time` to `end_time`, writing
    /// their outputs to `staging` as Parquet files: a pb project's passes (see
    /// `ProjectScripts`), and the run.
    pub(super) fn scripts(
        &self,
        staging: &Path,
        begin_time: Option<String>,
        end_time: String,
    ) -> Result<ProjectScripts, String> {
        match &self.definitions {
            Definitions::Project(args) => ProjectScripts::load_between(
                args,
                staging,
                OutputFormat::Parquet,
                begin_time,
                end_time,
            ),
            Definitions::Sql(profile) => Ok(ProjectScripts {
                passes: Vec::new(),
                run: profile.script(staging),
                early: false,
            }),
        }
    }

    /// The script of the run over the rows from `begin_time` to `end_time`, writing its
    /// outputs to `staging` as Parquet files (without a pb project's passes: a run
    /// that has them is full, see [`StoreRun::scripts`]).
    pub(super) fn script(
        &self,
        staging: &Path,
        begin_time: Option<String>,
        end_time: String,
    ) -> Result<Script, String> {
        self.scripts(staging, begin_time, end_time)
            .map(|scripts| scripts.run)
    }

    /// The time a run at `end_time` is computed as of: for a pb project, the last
    /// boundary of its `default_time_grain`, so that the rows the store has read are
    /// those up to it.
    pub(super) fn run_end_time(&self, end_time: String) -> Result<String, String> {
        match &self.definitions {
            Definitions::Project(args) => load_project(args)?
                .run_end_time(&end_time)
                .map_err(|e| e.to_string()),
            Definitions::Sql(_) => Ok(end_time),
        }
    }

    /// Whether the run's end time bounds the rows inputs read, so that rows of files
    /// read before become new when it moves.
    pub(super) fn bounded_by_end_time(&self) -> bool {
        matches!(self.definitions, Definitions::Project(_))
    }

    /// How the user asked for a full run.
    pub(super) fn rebuild_flag(&self) -> &'static str {
        match self.definitions {
            Definitions::Project(_) => "--rebuild",
            Definitions::Sql(_) => "REFRESH PROFILE STORE FULL",
        }
    }

    /// Prints a line of the run's progress, unless the run is quiet.
    pub(super) fn say(&self, line: std::fmt::Arguments<'_>) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// A session under the run's memory limit.
    pub(super) fn session(&self) -> Result<KnitSession, String> {
        new_session(self.memory_limit)
    }
}
