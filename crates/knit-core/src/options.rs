// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Knit's own session settings, the `knit.*` namespace of `SET` and `SHOW`, and the
//! durations they (and the `aws.*` timeouts) are written in.
//!
//! `SET knit.statement_timeout = '30s'` bounds how long each later statement may run;
//! `0` turns the bound off. The engine keeps the setting; whoever runs statements (the
//! CLI, a project run) enforces it, since only it knows when a statement's output is
//! fully written.
//!
//! `SET knit.list_index_base = 0` makes `list[i]` count from 0, as Snowflake's, BigQuery's,
//! Databricks' and Redshift's arrays do (pb projects are written for them, and `knit
//! project` scripts set it); the default, 1, is PostgreSQL's and DuckDB's.

use std::any::Any;
use std::time::Duration;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::{DataFusionError, Result};

/// The settings Knit adds to a session, under `knit.`.
pub const KNIT_SETTINGS: &[&str] = &[
    "statement_timeout",
    "profile_store",
    "workers",
    "list_index_base",
];

/// Parses a duration such as `500ms`, `30s`, `5m`, `2h` or `90` (seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => number,
        "ms" | "millisecond" | "milliseconds" => number / 1000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => number * 60.0,
        "h" | "hour" | "hours" => number * 3600.0,
        _ => return None,
    };
    // Past a century the bound means nothing; it also keeps the conversion exact.
    (seconds.is_finite() && (0.0..=3.2e9).contains(&seconds))
        .then(|| Duration::from_secs_f64(seconds))
}

/// Writes a duration the way [`parse_duration`] reads it back.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) {
        format!("{millis}ms")
    } else if millis.is_multiple_of(3_600_000) && millis > 0 {
        format!("{}h", millis / 3_600_000)
    } else if millis.is_multiple_of(60_000) && millis > 0 {
        format!("{}m", millis / 60_000)
    } else {
        format!("{}s", millis / 1000)
    }
}

/// The `knit` namespace of session settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnitOptions {
    /// How long a statement may run; `None` is no bound.
    pub statement_timeout: Option<Duration>,
    /// The profile store `current_main_id` reads (a folder or URL); `None` is none.
    pub profile_store: Option<String>,
    /// The workers queries run on (`host:port,...`); `None` runs them in this process.
    pub workers: Option<String>,
    /// Where `list[i]` starts counting: 1 (the default) or 0 (warehouses').
    pub list_index_base: ListIndexBase,
}

/// Where `list[i]` starts counting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListIndexBase {
    /// `list[1]` is the first element (PostgreSQL, DuckDB, DataFusion).
    #[default]
    One,
    /// `list[0]` is the first element (Snowflake, BigQuery, Databricks, Redshift).
    Zero,
}

impl KnitOptions {
    /// Parses a statement timeout: a duration, `0` for none.
    pub fn parse_timeout(value: &str) -> Result<Option<Duration>> {
        let duration = parse_duration(value).ok_or_else(|| {
            DataFusionError::Configuration(format!(
                "knit.statement_timeout '{value}' is not a duration: write one such as \
                 '30s', '5m' or '1h' ('0' turns the timeout off)"
            ))
        })?;
        Ok((!duration.is_zero()).then_some(duration))
    }
}

impl ConfigExtension for KnitOptions {
    const PREFIX: &'static str = "knit";
}

impl ExtensionOptions for KnitOptions {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        // `SET` passes the key without the namespace; other paths pass all of it.
        match key.strip_prefix("knit.").unwrap_or(key) {
            "statement_timeout" => {
                self.statement_timeout = Self::parse_timeout(value)?;
                Ok(())
            }
            "profile_store" => {
                let value = value.trim();
                self.profile_store = (!value.is_empty()).then(|| value.to_string());
                Ok(())
            }
            "workers" => {
                let value = value.trim();
                if cfg!(not(feature = "distributed")) && !value.is_empty() {
                    return Err(DataFusionError::Configuration(
                        "this knit was built without workers (cargo feature `distributed`): \
                         build it with the feature to set knit.workers"
                            .to_string(),
                    ));
                }
                self.workers = (!value.is_empty()).then(|| value.to_string());
                Ok(())
            }
            "list_index_base" => {
                self.list_index_base = match value.trim() {
                    "1" => ListIndexBase::One,
                    "0" => ListIndexBase::Zero,
                    other => {
                        return Err(DataFusionError::Configuration(format!(
                            "knit.list_index_base '{other}' is neither 0 (lists count from 0, \
                             as warehouses' arrays do) nor 1 (from 1, the default)"
                        )));
                    }
                };
                Ok(())
            }
            other => Err(DataFusionError::Configuration(format!(
                "unknown setting 'knit.{other}': Knit's settings are {}",
                KNIT_SETTINGS
                    .iter()
                    .map(|s| format!("knit.{s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![
            ConfigEntry {
                key: "knit.statement_timeout".to_string(),
                value: Some(
                    self.statement_timeout
                        .map_or_else(|| "0".to_string(), format_duration),
                ),
                description: "How long a statement may run before it is cancelled ('30s', \
                          '5m'); 0 is no limit",
            },
            ConfigEntry {
                key: "knit.profile_store".to_string(),
                value: self.profile_store.clone(),
                description: "The profile store (folder or s3:// URL of knit project run \
                          --store) whose merge history current_main_id reads",
            },
            ConfigEntry {
                key: "knit.workers".to_string(),
                value: self.workers.clone(),
                description: "The knit workers queries run on (host:port,...); empty runs \
                          them in this process",
            },
            ConfigEntry {
                key: "knit.list_index_base".to_string(),
                value: Some(
                    match self.list_index_base {
                        ListIndexBase::One => "1",
                        ListIndexBase::Zero => "0",
                    }
                    .to_string(),
                ),
                description: "Where list[i] counts from: 1 (PostgreSQL's, DuckDB's) or 0 \
                          (warehouses' arrays, as pb projects write them)",
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_every_unit_and_write_back() {
        for (text, millis) in [
            ("500ms", 500),
            ("90", 90_000),
            ("1.5s", 1_500),
            ("2m", 120_000),
            ("1h", 3_600_000),
            ("0", 0),
            (" 10 S ", 10_000),
        ] {
            let duration = parse_duration(text).unwrap();
            assert_eq!(duration.as_millis(), millis, "{text}");
            assert_eq!(parse_duration(&format_duration(duration)), Some(duration));
        }
        for bad in ["", "soon", "-1s", "1d", "1e400", "NaN", "5 parsecs"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn statement_timeout_is_set_shown_and_turned_off() {
        let mut options = KnitOptions::default();
        options.set("statement_timeout", "2m").unwrap();
        assert_eq!(options.statement_timeout, Some(Duration::from_secs(120)));
        assert_eq!(options.entries()[0].value.as_deref(), Some("2m"));
        options.set("knit.statement_timeout", "0").unwrap();
        assert_eq!(options.statement_timeout, None);
        let err = options.set("statement_timeout", "soon").unwrap_err();
        assert!(err.to_string().contains("is not a duration"), "{err}");
        let err = options.set("statment_timeout", "1s").unwrap_err();
        assert!(err.to_string().contains("knit.statement_timeout"), "{err}");
    }
}
