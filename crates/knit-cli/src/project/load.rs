// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A pb project read and written as Knit SQL: its options checked, its script at an
//! end time, and the definitions `knit report` runs.

use std::path::{Path, PathBuf};

use chrono::Utc;
use datafusion::arrow::compute::kernels::cast_utils::string_to_datetime;
use knit_pb::{GrainRun, LoadOptions, OutputFormat, Project, ScriptOptions};

use super::ProjectArgs;

/// The project of `args`, with its packages.
pub(super) fn load_project(args: &ProjectArgs) -> Result<Project, String> {
    let load = LoadOptions::with_packages(args.packages.clone());
    Project::load_with(&args.dir, &load).map_err(|e| e.to_string())
}

/// The options of a script of `args`' project over the rows from `begin_time` to
/// `end_time`, checked.
pub(super) fn script_options(
    args: &ProjectArgs,
    out: &Path,
    format: OutputFormat,
    begin_time: Option<String>,
    end_time: String,
) -> Result<ScriptOptions, String> {
    let options = ScriptOptions {
        tables: args.tables.clone().unwrap_or_else(|| args.dir.clone()),
        out: out.to_path_buf(),
        format,
        begin_time,
        end_time,
        dialect: format!("{:?}", args.dialect).to_lowercase(),
        skip_models: args.skip_models.clone(),
        model_refs: args.model_refs.clone(),
        grains: None,
    };
    for (flag, time) in [
        ("--begin-time", &options.begin_time),
        ("--end-time", &Some(options.end_time.clone())),
    ] {
        if let Some(time) = time
            && !looks_like_time(time)
        {
            return Err(format!(
                "{flag} '{time}' is not a time; write it as 2024-06-30T00:00:00Z"
            ));
        }
    }
    Ok(options)
}

/// The statements of a pb project that define its entities, inputs, vars and cohorts,
/// without those that write outputs: what `knit report` runs to look at its stitch, as
/// of the end time (an id stitcher's time grain included; those of var groups and
/// models, which change no edge, are left out).
pub fn project_definitions(
    dir: &Path,
    tables: Option<PathBuf>,
    end_time: Option<String>,
) -> Result<Vec<String>, String> {
    let project = Project::load_with(dir, &LoadOptions::with_packages(None))
        .map_err(|e| e.to_string())?
        .stitch_only();
    let end_time = end_time.unwrap_or_else(knit_pb::now_rfc3339);
    let options = ScriptOptions {
        tables: tables.unwrap_or_else(|| dir.to_path_buf()),
        // Outputs are not written: the statements that would write them are left out.
        out: dir.join("knit-output"),
        format: OutputFormat::Parquet,
        begin_time: None,
        end_time: end_time.clone(),
        dialect: "snowflake".to_string(),
        skip_models: Vec::new(),
        model_refs: Vec::new(),
        // No pass is made: only an id stitcher's grain is left, which needs none.
        grains: Some(GrainRun {
            folder: dir.join("knit-output"),
            pass: false,
            run_end: end_time,
        }),
    };
    let script = project.script(&options).map_err(|e| e.to_string())?;
    Ok(script
        .statements
        .into_iter()
        .filter(|s| s.output.is_none())
        .map(|s| s.sql)
        .collect())
}

/// True for a time SQL reads (RFC 3339, or a date and time with a space).
fn looks_like_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && string_to_datetime(&Utc, text).is_ok()
}
