// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A pb project's time grains: var groups and models whose grain's last boundary is
//! before the run's end time are computed as of that boundary, each boundary in a pass
//! of its own (see `knit_pb::Project::grain_passes`) before the run, which reads the
//! passes' vars and publishes their outputs with its own.

use std::path::Path;

use knit_pb::{GrainRun, OutputFormat, Script, ScriptStatement};

use super::load::{load_project, script_options};
use super::{ProjectArgs, new_session, run_staged};
use crate::deadline::Deadline;

/// The folder of the passes' files, inside the run's output (or staging) folder.
const GRAINS_FOLDER: &str = "_knit_grains";

/// What a failed run says of the outputs.
const UNCHANGED: &str = "no output was changed";

/// A project's scripts at its end time: the passes, earliest first, and the run.
pub(super) struct ProjectScripts {
    /// Each pass, with the boundary it is computed as of.
    pub passes: Vec<(String, Script)>,
    /// The run, which reads the passes' files.
    pub run: Script,
    /// Whether anything is computed as of an earlier time than the run's (a pass, or an
    /// id stitcher's grain), which makes a profile store's run full.
    pub early: bool,
}

impl ProjectScripts {
    /// The scripts of `args`' project writing to `out`, its passes' files in `out` too,
    /// at its own begin and end times.
    pub(super) fn load(
        args: &ProjectArgs,
        out: &Path,
        format: OutputFormat,
    ) -> Result<Self, String> {
        let end_time = args.end_time.clone().unwrap_or_else(knit_pb::now_rfc3339);
        Self::load_between(args, out, format, args.begin_time.clone(), end_time)
    }

    /// The scripts over the rows from `begin_time` to `end_time`.
    pub(super) fn load_between(
        args: &ProjectArgs,
        out: &Path,
        format: OutputFormat,
        begin_time: Option<String>,
        end_time: String,
    ) -> Result<Self, String> {
        let project = load_project(args)?;
        let early = (project.has_early_grains(&end_time)).map_err(|e| e.to_string())?;
        let folder = out.join(GRAINS_FOLDER);
        let grains = |pass: bool| GrainRun {
            folder: folder.clone(),
            pass,
            run_end: end_time.clone(),
        };
        let script_at = |end_time: String, grains: GrainRun| -> Result<Script, String> {
            let mut options = script_options(args, out, format, begin_time.clone(), end_time)?;
            options.grains = Some(grains);
            project.script(&options).map_err(|e| e.to_string())
        };
        let mut passes = Vec::new();
        for time in project.grain_passes(&end_time).map_err(|e| e.to_string())? {
            passes.push((time.clone(), script_at(time, grains(true))?));
        }
        let run = script_at(end_time.clone(), grains(false))?;
        Ok(Self { passes, run, early })
    }

    /// The run's statements with the passes' times left out of its names: the passes'
    /// files and inputs are named by their times, which move with the end time as it
    /// does (what a profile store's fingerprint of the definitions reads).
    pub(super) fn run_texts(&self) -> Vec<String> {
        (self.run.statements.iter())
            .map(|s| {
                (self.passes.iter()).fold(s.sql.clone(), |sql, (time, _)| {
                    sql.replace(&knit_pb::grain_tag(time), "<pass>")
                })
            })
            .collect()
    }

    /// Runs the passes, each in a session of its own (a pass defines the project's
    /// entities as of its time), into the staging folder `staging`, before `deadline`.
    /// Returns the outputs they wrote (of models of a grain), with the rows of each, and
    /// their statements.
    pub(super) async fn run_passes(
        &self,
        memory_limit: Option<usize>,
        staging: &str,
        deadline: Option<Deadline>,
        quiet: bool,
    ) -> Result<(Vec<(String, u64)>, Vec<ScriptStatement>), String> {
        let (mut written, mut statements) = (Vec::new(), Vec::new());
        for (time, pass) in &self.passes {
            let session = new_session(memory_limit)?;
            let outputs: Vec<&ScriptStatement> = pass
                .statements
                .iter()
                .filter(|s| s.output.is_some())
                .collect();
            let quiet = quiet || outputs.is_empty();
            if !quiet {
                eprintln!("as of {time} (time_grain):");
            }
            let rows = run_staged(&session, pass, false, quiet, staging, deadline, UNCHANGED)
                .await
                .map_err(|e| format!("computing the time grains as of {time}: {e}"))?;
            written.extend(rows);
            statements.extend(outputs.into_iter().cloned());
        }
        Ok((written, statements))
    }
}

impl std::fmt::Display for ProjectScripts {
    /// The scripts, passes first, each headed by what it is: a pass defines the same
    /// entities as the run, so each runs in a session of its own (`knit -f`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = self.passes.len() + 1;
        for (k, (time, pass)) in self.passes.iter().enumerate() {
            writeln!(
                f,
                "-- Part {} of {parts}: the var groups and models with a time_grain whose last \
                 boundary before the end time is {time}, computed as of it (as pb does); run \
                 each part in a session of its own, in order.\n",
                k + 1
            )?;
            write!(f, "{pass}")?;
        }
        if parts > 1 {
            writeln!(
                f,
                "-- Part {parts} of {parts}: the run, reading the grained vars of the parts \
                 before (which write the outputs of their models).\n"
            )?;
        }
        write!(f, "{}", self.run)
    }
}
