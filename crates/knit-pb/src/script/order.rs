// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Orders: of definitions that read one another, and of a run's end time against a
//! model's time grain.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Result;
use crate::project::Origin;

/// Checks that `end_time` is a boundary of `grain`. pb computes a model with a time grain
/// as of the grain's last boundary before the run's end time (a month's and a year's is
/// its first Monday); Knit computes every model as of the end time, so the two agree
/// exactly when the end time is on a boundary.
pub(super) fn check_time_grain(grain: &str, end_time: &str) -> Result<(), String> {
    use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
    let Ok(end) = chrono::DateTime::parse_from_rfc3339(end_time) else {
        // The CLI checks the end time; a library caller's odd value is theirs to keep.
        return Ok(());
    };
    let end = end.naive_utc();
    let midnight = |date: NaiveDate| date.and_hms_opt(0, 0, 0).unwrap_or(NaiveDateTime::MIN);
    let first_monday = |year: i32, month: u32| -> NaiveDate {
        let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
        let offset = (7 - first.weekday().num_days_from_monday()) % 7;
        first + Duration::days(i64::from(offset))
    };
    let boundary = match grain {
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
    if boundary == end {
        return Ok(());
    }
    let boundary = boundary
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Err(format!(
        "pb computes a model with time_grain {grain} as of its last boundary, {boundary}, \
         not as of the end time {end_time}; Knit computes every model as of the end time, \
         so run with --end-time {boundary} (or remove time_grain)"
    ))
}

/// Names in an order where each comes after those it reads; a cycle is an error that
/// names it.
pub(super) fn dependency_order(nodes: Vec<(String, Vec<String>, &Origin)>) -> Result<Vec<String>> {
    let edges: BTreeMap<&str, (&[String], &Origin)> = nodes
        .iter()
        .map(|(name, references, origin)| (name.as_str(), (references.as_slice(), *origin)))
        .collect();
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    for (name, _, _) in &nodes {
        let mut path = Vec::new();
        visit(name, &edges, &mut done, &mut path, &mut order)?;
    }
    Ok(order)
}

fn visit(
    name: &str,
    edges: &BTreeMap<&str, (&[String], &Origin)>,
    done: &mut BTreeSet<String>,
    path: &mut Vec<String>,
    order: &mut Vec<String>,
) -> Result<()> {
    if done.contains(name) {
        return Ok(());
    }
    if let Some(start) = path.iter().position(|p| p == name) {
        let mut cycle = path[start..].to_vec();
        cycle.push(name.to_string());
        let origin = edges
            .get(path[start].as_str())
            .map(|(_, o)| (*o).clone())
            .unwrap_or_else(|| Origin {
                file: "pb_project.yaml".into(),
                key: name.into(),
            });
        return Err(origin.error(format!("these form a cycle: {}", cycle.join(" -> "))));
    }
    path.push(name.to_string());
    if let Some((references, _)) = edges.get(name) {
        for reference in *references {
            visit(reference, edges, done, path, order)?;
        }
    }
    path.pop();
    done.insert(name.to_string());
    order.push(name.to_string());
    Ok(())
}
