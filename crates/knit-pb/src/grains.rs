// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! pb's time grains. A model or var group with `time_grain: day` is computed as of the
//! grain's last boundary before the run's end time (midnight for `day`, Monday for
//! `week`, a month's and a year's first Monday), over the rows up to that boundary and
//! with the id graph of that time. Checked against pb 0.26.4, a run whose end time is not
//! on a grain's boundary:
//!
//! - computes each grain in a run of its own (its `seq_no`) at the boundary; the feature
//!   views join a grained var group's var table to the run's entities by main id, so an
//!   entity that appeared or whose main id changed since has NULL there;
//! - writes a grained cohort, feature table or `sql_template` from that run, as the
//!   whole project stood then;
//! - stitches, when the id stitcher has a grain, as of its boundary, and aggregates the
//!   rows up to the end time through that graph;
//! - moves the whole run to the last boundary of `default_time_grain`, the grain of
//!   every model without one.
//!
//! Knit does the same: a run first runs the project as of each boundary it needs (a
//! *pass*), which writes the grained vars of each entity to a file keyed by main id,
//! and the outputs of the models of that boundary; the run reads each such var from its
//! file as an input keyed by the main id. Boundaries nest (a month's is a Monday's
//! midnight), so a pass needs only passes of earlier boundaries. An id stitcher's grain
//! needs no pass: a copy of each of its inputs, cut at the boundary, adds the edges.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use knit_sql::quote_ident_if_needed;

use crate::error::{PbError, Result};
use crate::project::{Input, InputId, Origin, Project, Source, Var, VarKind};

/// The prefix of the inputs that read a pass's file: they map rows by main id only.
pub(crate) const GRAIN_INPUT_PREFIX: &str = "__knit_grain_";

/// The prefix of the copies of an id stitcher's inputs that add its edges up to its
/// grain's boundary.
const GRAIN_EDGES_PREFIX: &str = "__knit_edges_";

/// Where a run keeps its passes' files, and whether the script being written is a pass.
#[derive(Debug, Clone)]
pub struct GrainRun {
    /// The folder (or `s3://` prefix) of the passes' files, one per boundary and entity.
    pub folder: PathBuf,
    /// Whether this script is a pass: it writes the grained vars computed at its end
    /// time into `folder`, and the outputs of the models whose grain's boundary it is,
    /// instead of the project's outputs.
    pub pass: bool,
    /// The end time of the run the passes are of.
    pub run_end: String,
}

impl GrainRun {
    /// The file of the vars of `entity` computed as of `time` (RFC 3339).
    pub(crate) fn file(&self, time: &str, entity: &str) -> String {
        self.folder
            .join(format!("grain_{}_{entity}.parquet", grain_tag(time)))
            .display()
            .to_string()
    }
}

/// The last boundary of `grain` at or before `end_time` (both RFC 3339), as pb places
/// it; `None` for an end time that does not parse (a library caller's to keep).
pub(crate) fn boundary(grain: &str, end_time: &str) -> std::result::Result<Option<String>, String> {
    let Ok(end) = chrono::DateTime::parse_from_rfc3339(end_time) else {
        return Ok(None);
    };
    let end = end.naive_utc();
    let midnight = |date: NaiveDate| date.and_hms_opt(0, 0, 0).unwrap_or(NaiveDateTime::MIN);
    let first_monday = |year: i32, month: u32| -> NaiveDate {
        let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
        let offset = (7 - first.weekday().num_days_from_monday()) % 7;
        first + Duration::days(i64::from(offset))
    };
    let at = match grain {
        "tick" => end,
        "tenminutes" => end
            .with_nanosecond(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_minute(t.minute() / 10 * 10))
            .unwrap_or(end),
        "hour" => end
            .with_nanosecond(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_minute(0))
            .unwrap_or(end),
        "day" => midnight(end.date()),
        "week" => {
            midnight(end.date() - Duration::days(i64::from(end.weekday().num_days_from_monday())))
        }
        "month" => {
            let this = midnight(first_monday(end.year(), end.month()));
            if this <= end {
                this
            } else if end.month() == 1 {
                midnight(first_monday(end.year() - 1, 12))
            } else {
                midnight(first_monday(end.year(), end.month() - 1))
            }
        }
        "year" => {
            let this = midnight(first_monday(end.year(), 1));
            if this <= end {
                this
            } else {
                midnight(first_monday(end.year() - 1, 1))
            }
        }
        _ => return Err(format!("'{grain}' is not a time grain")),
    };
    if at == end {
        // The end time as given, so that a pass's file is named by the same text.
        return Ok(Some(end_time.to_string()));
    }
    Ok(Some(
        at.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ))
}

/// Whether `time` is `end_time` itself (the same instant, however written).
fn same_instant(time: &str, end_time: &str) -> bool {
    time == end_time
        || matches!(
            (
                chrono::DateTime::parse_from_rfc3339(time),
                chrono::DateTime::parse_from_rfc3339(end_time)
            ),
            (Ok(a), Ok(b)) if a == b
        )
}

/// The last boundary of `grain` when it is before `end_time` (`None` on the boundary),
/// an error at `origin` for a grain pb does not know.
fn earlier_boundary(grain: &str, end_time: &str, origin: &Origin) -> Result<Option<String>> {
    let at = boundary(grain, end_time).map_err(|reason| origin.error(reason))?;
    Ok(at.filter(|at| !same_instant(at, end_time)))
}

/// Checks that `end_time` is a boundary of a model's `grain`, for a script written
/// without passes (no [`GrainRun`]): it computes every model as of the end time, which
/// agrees with pb exactly when the end time is on a boundary.
pub(crate) fn check_model_grain(grain: &str, end_time: &str) -> std::result::Result<(), String> {
    match boundary(grain, end_time)? {
        Some(at) if !same_instant(&at, end_time) => {
            Err(one_time_only("computes a model", grain, &at, end_time))
        }
        _ => Ok(()),
    }
}

/// Why a script written without passes (no [`GrainRun`]) refuses a grain off its
/// boundary: pb `does` it as of the boundary `at`.
fn one_time_only(does: &str, grain: &str, at: &str, end_time: &str) -> String {
    format!(
        "pb {does} with time_grain {grain} as of its last boundary, {at}, not as of the end \
         time {end_time}, with the id graph of that time; `knit project run` does so, in a \
         pass of its own, but this script is written as of one time only: run it with \
         --end-time {at}"
    )
}

impl Project {
    /// The time a run at `end_time` is computed as of: the last boundary of the
    /// project's `default_time_grain` (pb's grain of every model without one; checked
    /// against pb 0.26.4: with `day`, a run at noon is the run at midnight, its id graph
    /// and feature views included), or the end time itself.
    pub fn run_end_time(&self, end_time: &str) -> Result<String> {
        let Some(grain) = &self.default_time_grain else {
            return Ok(end_time.to_string());
        };
        let origin = Origin {
            file: "pb_project.yaml".into(),
            key: "default_time_grain".into(),
        };
        Ok(earlier_boundary(grain, end_time, &origin)?.unwrap_or_else(|| end_time.to_string()))
    }

    /// The boundaries before `end_time` at which a run must first compute the var
    /// groups and models of a time grain (its passes), earliest first. Empty when every
    /// grain's boundary is the end time itself.
    pub fn grain_passes(&self, end_time: &str) -> Result<Vec<String>> {
        let end_time = &self.run_end_time(end_time)?;
        let mut times: BTreeSet<String> = (self.late_models(end_time)?.into_iter())
            .map(|(_, at)| at)
            .collect();
        for var in &self.vars {
            let Some(grain) = &var.time_grain else {
                continue;
            };
            if let Some(at) = earlier_boundary(grain, end_time, &var.origin)? {
                times.insert(at);
            }
        }
        // RFC 3339 UTC text of one layout sorts as time does.
        Ok(times.into_iter().collect())
    }

    /// The project as a run at `end_time` reads it: an id stitcher with a grain whose
    /// boundary is before the end time stitches the rows up to it (a copy of each of its
    /// inputs adds the edges, and the input itself maps rows by lookup), and each var of
    /// a grain whose boundary is before the end time becomes the value of its column
    /// in the file of the pass at that boundary, read as an input keyed by the main id.
    /// `None` when nothing is off its boundary.
    pub(crate) fn as_of_grains(
        &self,
        end_time: &str,
        grains: Option<&GrainRun>,
    ) -> Result<Option<Project>> {
        let mut early_stitchers = Vec::new();
        for (k, stitcher) in self.stitchers.iter().enumerate() {
            let Some(grain) = &stitcher.time_grain else {
                continue;
            };
            let Some(at) = earlier_boundary(grain, end_time, &stitcher.origin)? else {
                continue;
            };
            if grains.is_none() {
                let reason = one_time_only("stitches", grain, &at, end_time);
                return Err(stitcher.origin.error(reason));
            }
            early_stitchers.push((k, at));
        }
        if early_stitchers.is_empty() && self.grain_passes(end_time)?.is_empty() {
            return Ok(None);
        }
        let mut project = self.clone();
        for (k, at) in early_stitchers {
            let stitcher = &mut project.stitchers[k];
            for source in &mut stitcher.edge_sources {
                let Some(input) = self.inputs.iter().find(|i| &i.name == source) else {
                    continue;
                };
                let mut edges = input.clone();
                edges.name = format!("{GRAIN_EDGES_PREFIX}{}", input.name);
                edges.until = Some(at.clone());
                edges.ids.retain(|id| id.entity == stitcher.entity);
                *source = edges.name.clone();
                project.inputs.push(edges);
            }
        }
        let early_inputs = self.early_input_vars(end_time)?;
        project.vars.retain(|v| {
            v.kind != VarKind::Input || !early_inputs.contains(&(v.entity.clone(), v.name.clone()))
        });
        let mut added = BTreeSet::new();
        for var in &mut project.vars {
            let Some(grain) = var.time_grain.clone() else {
                continue;
            };
            let Some(at) = earlier_boundary(&grain, end_time, &var.origin)? else {
                continue;
            };
            let Some(grains) = grains else {
                let reason = one_time_only("computes a var group", &grain, &at, end_time);
                return Err(var.origin.error(reason));
            };
            let input = format!("{GRAIN_INPUT_PREFIX}{}_{}", grain_tag(&at), var.entity);
            if added.insert(input.clone()) {
                let main = project
                    .entities
                    .iter()
                    .find(|e| e.name == var.entity)
                    .map(|e| e.main_id_column())
                    .unwrap_or_else(|| format!("{}_main_id", var.entity));
                project.inputs.push(Input {
                    name: input.clone(),
                    source: Source::S3(grains.file(&at, &var.entity)),
                    occurred_at: None,
                    until: None,
                    ids: vec![InputId {
                        select: quote_ident_if_needed(&main),
                        id_type: "rudder_id".to_string(),
                        entity: var.entity.clone(),
                        stitched: true,
                    }],
                    filter: None,
                    origin: var.origin.clone(),
                });
            }
            // The pass applied the default to the entities of its time; an entity
            // that appeared since has none there, and NULL here, as in pb. Of the one
            // row an entity has there, `max` takes the value with a groups accumulator
            // (lists and structs too), where `first_value` keeps a value per group: on
            // 2.3M entities and twelve vars, 31.8 s and 7.0 GB against 45 s and 13.8 GB.
            var.select = format!("max({})", quote_ident_if_needed(&var.name));
            var.from = Some(input);
            var.filter = None;
            var.default = None;
            var.window = None;
            var.dependencies = Vec::new();
            var.merge = false;
            var.data_type = None;
            var.time_grain = None;
        }
        Ok(Some(project))
    }

    /// The input vars of a grain whose boundary is before `end_time`, as `(entity,
    /// name)`: pb computes one only in the run at its boundary, for the vars of that run,
    /// so the run at `end_time` leaves it out. A var of another time that reads one is
    /// refused: pb 0.26.4 fails on it (the column is not in that run's var table).
    fn early_input_vars(&self, end_time: &str) -> Result<BTreeSet<(String, String)>> {
        let boundary = |var: &Var| match &var.time_grain {
            Some(grain) => earlier_boundary(grain, end_time, &var.origin),
            None => Ok(None),
        };
        let mut early = BTreeSet::new();
        for var in self.vars.iter().filter(|v| v.kind == VarKind::Input) {
            let Some(at) = boundary(var)? else {
                continue;
            };
            let name = var.pb_name().to_lowercase();
            let readers = (self.vars.iter())
                .filter(|r| r.entity == var.entity && r.name != var.name)
                .filter(|r| r.reads().contains(&name));
            for reader in readers {
                if boundary(reader)?.as_ref() != Some(&at) {
                    let grain = var.time_grain.as_deref().unwrap_or_default();
                    return Err(reader.origin.error(format!(
                        "reads input var {name} of time_grain {grain}, which pb computes only \
                         as of the grain's last boundary, {at}, in a run of its own (the end \
                         time is {end_time}); this var is not of that run, and pb fails on it \
                         (column \"{name}\" does not exist): give its var group time_grain \
                         {grain} too"
                    )));
                }
            }
            early.insert((var.entity.clone(), var.name.clone()));
        }
        Ok(early)
    }

    /// The project as `knit report` reads it, to look at its stitch as of the end time:
    /// its var groups and models without their time grains (which change no edge), its
    /// id stitchers with theirs.
    pub fn stitch_only(mut self) -> Project {
        for var in &mut self.vars {
            var.time_grain = None;
        }
        self.time_grains.clear();
        self
    }

    /// Whether a run at `end_time` computes anything as of an earlier time than its own
    /// (a pass, or an id stitcher's grain): such a run is not an increment of the last.
    pub fn has_early_grains(&self, end_time: &str) -> Result<bool> {
        let end_time = &self.run_end_time(end_time)?;
        for stitcher in &self.stitchers {
            let Some(grain) = &stitcher.time_grain else {
                continue;
            };
            if earlier_boundary(grain, end_time, &stitcher.origin)?.is_some() {
                return Ok(true);
            }
        }
        Ok(!self.grain_passes(end_time)?.is_empty())
    }

    /// The models (not id stitchers) whose grain's last boundary is before `end_time`,
    /// with that boundary: a pass at it writes their outputs, as pb computes them then.
    /// A cohort or feature table reading such a cohort (`extends`, `entity_cohort`) must
    /// be of the same pass, or it would read the cohort as of another time than pb.
    pub(crate) fn late_models(&self, end_time: &str) -> Result<Vec<(String, String)>> {
        let end_time = &self.run_end_time(end_time)?;
        let mut late = Vec::new();
        for model in &self.time_grains {
            if let Some(at) = earlier_boundary(&model.grain, end_time, &model.origin)? {
                late.push((model.model.clone(), at));
            }
        }
        let pass_of = |name: &str| late.iter().find(|(m, _)| m == name).map(|(_, at)| at);
        let readers = (self.cohorts.iter())
            .filter_map(|c| Some((&c.name, c.extends.as_ref()?, &c.origin)))
            .chain(
                (self.feature_tables.iter())
                    .filter_map(|t| Some((&t.name, t.cohort.as_ref()?, &t.origin))),
            );
        for (reader, cohort, origin) in readers {
            if let Some(at) = pass_of(cohort)
                && pass_of(reader) != Some(at)
            {
                return Err(late_reader(reader, "cohort", cohort, at, end_time, origin));
            }
        }
        // A model's rows read as an input: by a stitcher, or by vars of another time.
        for input in &self.inputs {
            let Source::Model(model) = &input.source else {
                continue;
            };
            let Some(at) = pass_of(model) else {
                continue;
            };
            for stitcher in &self.stitchers {
                if stitcher.edge_sources.contains(&input.name) {
                    let (name, origin) = (&stitcher.name, &stitcher.origin);
                    return Err(late_reader(name, "model", model, at, end_time, origin));
                }
            }
            for var in &self.vars {
                if var.from.as_ref() != Some(&input.name) {
                    continue;
                }
                let var_at = match &var.time_grain {
                    Some(grain) => earlier_boundary(grain, end_time, &var.origin)?,
                    None => None,
                };
                if var_at.as_ref() != Some(at) {
                    return Err(late_reader(
                        &var.name,
                        "model",
                        model,
                        at,
                        end_time,
                        &var.origin,
                    ));
                }
            }
        }
        Ok(late)
    }

    /// For a pass: each entity's vars of the grains whose boundary is `end_time`, the
    /// columns of its file.
    pub(crate) fn grained_vars(&self, end_time: &str) -> Vec<(String, Vec<String>)> {
        let mut by_entity: Vec<(String, Vec<String>)> = Vec::new();
        for var in &self.vars {
            let Some(grain) = &var.time_grain else {
                continue;
            };
            let native = matches!(earlier_boundary(grain, end_time, &var.origin), Ok(None));
            if !native || var.kind != VarKind::Entity {
                continue;
            }
            match by_entity.iter_mut().find(|(e, _)| e == &var.entity) {
                Some((_, vars)) => vars.push(var.name.clone()),
                None => by_entity.push((var.entity.clone(), vec![var.name.clone()])),
            }
        }
        by_entity
    }
}

/// The error of `reader`, which reads `model` (a `kind`) of a grain whose boundary `at` is
/// before the end time, and is not of that time.
pub(crate) fn late_reader(
    reader: &str,
    kind: &str,
    model: &str,
    at: &str,
    end_time: &str,
    origin: &Origin,
) -> PbError {
    origin.error(format!(
        "'{reader}' reads {kind} '{model}', whose time_grain makes pb compute it as of {at}, \
         before the end time {end_time}, and '{reader}' is not of that time: give \
         '{reader}' the same time_grain, or run with --end-time {at}"
    ))
}

/// A time as a name's part (of a pass's files and inputs): its digits and letters.
pub fn grain_tag(time: &str) -> String {
    time.chars().filter(char::is_ascii_alphanumeric).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_pbs() {
        // Wednesday 2024-07-03 12:34:56 UTC.
        let end = "2024-07-03T12:34:56Z";
        for (grain, at) in [
            ("tick", end),
            ("tenminutes", "2024-07-03T12:30:00Z"),
            ("hour", "2024-07-03T12:00:00Z"),
            ("day", "2024-07-03T00:00:00Z"),
            ("week", "2024-07-01T00:00:00Z"),
            // July 2024 starts on a Monday; 2024 on a Monday too.
            ("month", "2024-07-01T00:00:00Z"),
            ("year", "2024-01-01T00:00:00Z"),
        ] {
            assert_eq!(
                boundary(grain, end).unwrap().as_deref(),
                Some(at),
                "{grain}"
            );
        }
        // Before a month's first Monday, the month before's; before a year's, the year
        // before's (2023-01-02, 2022-12-05).
        assert_eq!(
            boundary("month", "2023-01-01T10:00:00Z")
                .unwrap()
                .as_deref(),
            Some("2022-12-05T00:00:00Z")
        );
        assert_eq!(
            boundary("year", "2023-01-01T10:00:00Z").unwrap().as_deref(),
            Some("2022-01-03T00:00:00Z")
        );
        assert_eq!(
            boundary("month", "2024-09-01T10:00:00Z")
                .unwrap()
                .as_deref(),
            Some("2024-08-05T00:00:00Z")
        );
        // An end time on the boundary is kept as written; a time in another zone is
        // placed in UTC.
        assert_eq!(
            boundary("day", "2024-07-03T00:00:00+00:00")
                .unwrap()
                .as_deref(),
            Some("2024-07-03T00:00:00+00:00")
        );
        assert_eq!(
            boundary("day", "2024-07-03T01:00:00+02:00")
                .unwrap()
                .as_deref(),
            Some("2024-07-02T00:00:00Z")
        );
        assert!(
            boundary("fortnight", end)
                .unwrap_err()
                .contains("not a time grain")
        );
        assert_eq!(boundary("day", "yesterday").unwrap(), None);
    }

    #[test]
    fn a_model_off_its_boundary_is_refused_naming_it() {
        assert!(check_model_grain("week", "2024-07-01T00:00:00Z").is_ok());
        assert!(check_model_grain("week", "2024-07-01T00:00:00.000Z").is_ok());
        let refused = check_model_grain("week", "2024-07-03T12:00:00Z").unwrap_err();
        assert!(
            refused.contains("as of its last boundary, 2024-07-01T00:00:00Z")
                && refused.contains("run it with --end-time 2024-07-01T00:00:00Z"),
            "{refused}"
        );
    }

    #[test]
    fn passes_are_the_boundaries_before_the_end_time_once_each_earliest_first() {
        let mut project = Project::default();
        let var = |name: &str, grain: Option<&str>| Var {
            time_grain: grain.map(String::from),
            ..Var::entity_var(
                "user".into(),
                name.into(),
                "count(*)".into(),
                "events".into(),
                Origin {
                    file: "models/profiles.yaml".into(),
                    key: format!("var_groups[0].vars.{name}"),
                },
            )
        };
        project.vars = vec![
            var("live", None),
            var("daily", Some("day")),
            var("weekly", Some("week")),
            var("monthly", Some("month")),
            var("hourly", Some("hour")),
        ];
        // Week and month share Monday 2024-07-01; the hour's boundary is the end time.
        assert_eq!(
            project.grain_passes("2024-07-03T12:00:00Z").unwrap(),
            vec!["2024-07-01T00:00:00Z", "2024-07-03T00:00:00Z"]
        );
        assert!(
            project
                .grain_passes("2024-07-01T00:00:00Z")
                .unwrap()
                .is_empty()
        );
        // Without a place for the passes' files, a var off its boundary is an error
        // naming it and the time to run at.
        let refused = project
            .as_of_grains("2024-07-03T12:00:00Z", None)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("var_groups[0].vars.daily")
                && refused.contains("run it with --end-time 2024-07-03T00:00:00Z"),
            "{refused}"
        );
        // A run reads each such var from its pass's file, by main id, without its
        // default; the hour's var stays its own.
        let grains = GrainRun {
            folder: PathBuf::from("/tmp/run/_knit_grains"),
            pass: false,
            run_end: "2024-07-03T12:00:00Z".to_string(),
        };
        let read = project
            .as_of_grains("2024-07-03T12:00:00Z", Some(&grains))
            .unwrap()
            .unwrap();
        let daily = read.vars.iter().find(|v| v.name == "daily").unwrap();
        assert_eq!(daily.select, "max(daily)");
        assert_eq!(
            daily.from.as_deref(),
            Some("__knit_grain_20240703T000000Z_user")
        );
        let hourly = read.vars.iter().find(|v| v.name == "hourly").unwrap();
        assert_eq!(hourly.from.as_deref(), Some("events"));
        let files: Vec<String> = read
            .inputs
            .iter()
            .map(|i| match &i.source {
                Source::S3(file) => file.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            files,
            vec![
                "/tmp/run/_knit_grains/grain_20240703T000000Z_user.parquet",
                "/tmp/run/_knit_grains/grain_20240701T000000Z_user.parquet"
            ]
        );
        // The pass at Monday writes the vars of every grain whose boundary it is.
        assert_eq!(
            project.grained_vars("2024-07-01T00:00:00Z"),
            vec![(
                "user".to_string(),
                vec!["daily", "weekly", "monthly", "hourly"]
                    .into_iter()
                    .map(String::from)
                    .collect()
            )]
        );
    }
}
