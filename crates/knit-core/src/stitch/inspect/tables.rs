// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! What can be asked of a stitch, and the shape of each answer.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::error::{DataFusionError, Result};

use crate::catalog::Entity;

/// A section of `stitch_report(entity, section)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ReportSection {
    /// Per id type and for all ids: counts, singletons, the largest cluster, size
    /// percentiles, the limit in force and the edges it refused.
    Summary,
    /// The cluster-size histogram, in power-of-two buckets.
    Sizes,
    /// The ids with the most distinct neighbours, per id type.
    Hubs,
    /// The edges the limits refused, and why.
    Refused,
    /// Clusters over a limit (only edges the rules include can put them there).
    Violations,
    /// Which id types occur together: in one cluster, and on one edge.
    Types,
    /// Bridges and articulation points of the largest clusters.
    Bridges,
}

impl ReportSection {
    /// Every section, in the order the report shows them.
    pub(crate) const ALL: [ReportSection; 7] = [
        ReportSection::Summary,
        ReportSection::Sizes,
        ReportSection::Hubs,
        ReportSection::Refused,
        ReportSection::Violations,
        ReportSection::Types,
        ReportSection::Bridges,
    ];

    /// The section named `name` (any case).
    pub(crate) fn named(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.to_string().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let names: Vec<String> = Self::ALL.iter().map(|s| format!("'{s}'")).collect();
                DataFusionError::Plan(format!(
                    "stitch_report has no section '{name}'; the sections are {}",
                    names.join(", ")
                ))
            })
    }
}

impl fmt::Display for ReportSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReportSection::Summary => "summary",
            ReportSection::Sizes => "sizes",
            ReportSection::Hubs => "hubs",
            ReportSection::Refused => "refused",
            ReportSection::Violations => "violations",
            ReportSection::Types => "types",
            ReportSection::Bridges => "bridges",
        })
    }
}

/// A question put to a stitch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Inspection {
    /// `stitch_report(entity, section)`.
    Report(ReportSection),
    /// `explain_link(entity, from, to)`: the shortest chain of edges joining two ids.
    Link { from: String, to: String },
    /// `explain_id(entity, id)`: an id's cluster and why it has its main id.
    Id { id: String },
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inspection::Report(section) => write!(f, "report={section}"),
            Inspection::Link { from, to } => write!(f, "link={from:?} to {to:?}"),
            Inspection::Id { id } => write!(f, "id={id:?}"),
        }
    }
}

/// The text id given for the row of all id types in the summary.
pub(crate) const ALL_TYPES: &str = "(all)";

/// How many of the largest clusters the bridges section looks into.
pub(crate) const LARGEST_CLUSTERS: usize = 5;

/// How many hubs the report lists per id type.
pub(crate) const HUBS_PER_TYPE: usize = 10;

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

fn maybe_text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn count(name: &str) -> Field {
    Field::new(name, DataType::UInt64, false)
}

fn time(name: &str) -> Field {
    Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, None), true)
}

impl Inspection {
    /// The schema of the answer, for `entity`.
    pub(crate) fn schema(&self, entity: &Entity) -> SchemaRef {
        let main = entity.main_id_column.as_str();
        let fields = match self {
            Inspection::Report(ReportSection::Summary) => vec![
                text("id_type"),
                count("ids"),
                count("clusters"),
                count("singletons"),
                count("largest"),
                count("p50"),
                count("p90"),
                count("p99"),
                Field::new("limit", DataType::UInt32, true),
                count("refused_edges"),
            ],
            Inspection::Report(ReportSection::Sizes) => vec![
                count("size_from"),
                count("size_to"),
                count("clusters"),
                count("ids"),
            ],
            Inspection::Report(ReportSection::Hubs) => vec![
                text("id_type"),
                Field::new("rank", DataType::UInt32, false),
                text("id"),
                count("degree"),
                text(main),
                count("cluster_size"),
            ],
            Inspection::Report(ReportSection::Refused) => vec![
                text("id1"),
                text("id1_type"),
                text("id2"),
                text("id2_type"),
                time("valid_at"),
                text("limited_id_type"),
                Field::new("limit", DataType::UInt32, false),
                Field::new("would_hold", DataType::UInt32, false),
                text("reason"),
            ],
            Inspection::Report(ReportSection::Violations) => vec![
                text(main),
                count("cluster_size"),
                text("id_type"),
                count("held"),
                Field::new("limit", DataType::UInt32, false),
            ],
            Inspection::Report(ReportSection::Types) => vec![
                text("id_type1"),
                text("id_type2"),
                count("clusters"),
                count("edges"),
            ],
            Inspection::Report(ReportSection::Bridges) => vec![
                text(main),
                count("cluster_size"),
                text("kind"),
                text("id1"),
                text("id1_type"),
                maybe_text("id2"),
                maybe_text("id2_type"),
            ],
            Inspection::Link { .. } => vec![
                Field::new("hop", DataType::UInt32, false),
                text("id1"),
                text("id1_type"),
                text("id2"),
                text("id2_type"),
                maybe_text("input"),
                time("occurred_at"),
            ],
            Inspection::Id { .. } => vec![
                text("id"),
                text("id_type"),
                text(main),
                count("cluster_size"),
                time("first_seen_at"),
                time("valid_at"),
                text("anchor_id"),
                text("anchor_id_type"),
                time("anchor_first_seen_at"),
                count("refused_edges"),
                text("why"),
            ],
        };
        Arc::new(Schema::new(fields))
    }
}
