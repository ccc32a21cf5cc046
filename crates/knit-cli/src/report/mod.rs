// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit report stitch ENTITY --out report.html`: the stitch report of an entity as one
//! self-contained HTML page.
//!
//! The page shows what `stitch_report(entity, section)` returns, section by section,
//! and the same numbers (it runs those queries), plus a drawing of each of the largest
//! clusters: its ids coloured by type, its bridges in red. A cluster larger than
//! [`DRAWN_IDS`] is drawn by its best-connected ids and the links between them, and
//! says so. The page needs no network: styles are inline, the drawings inline SVG, and
//! there is no script.
//!
//! The entity and its inputs come from the SQL files given with `--file` (run first, in
//! order), as `knit -f` would run them, or from a pb project (`--project DIR`): its
//! definitions, without the statements that write its outputs.

mod html;
mod layout;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use knit_core::{KnitSession, SessionBuilder};

use crate::error::CliError;
use crate::exec::{Runner, read_script};
use crate::print::{MaxRows, PrintFormat, PrintOptions};

/// How many of the largest clusters the page draws.
const DRAWN_CLUSTERS: usize = 3;
/// The most ids a drawing shows.
const DRAWN_IDS: usize = 150;

/// `knit report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Write the stitch report of an entity as one HTML page.
    Stitch(StitchReportArgs),
}

/// What to report on and where to write it.
#[derive(Debug, Args)]
pub struct StitchReportArgs {
    /// The entity.
    entity: String,

    /// A SQL file defining the entity and its inputs, run before the report (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,

    /// A pb project (the folder holding pb_project.yaml) whose entities and inputs to
    /// report on; its outputs are not computed.
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,

    /// With --project: the folder of its warehouse tables (default: the project folder).
    #[arg(long, value_name = "DIR", requires = "project")]
    tables: Option<PathBuf>,

    /// With --project: leave out input rows after this time (RFC 3339; default: now).
    #[arg(long, value_name = "TIME", requires = "project")]
    end_time: Option<String>,

    /// The HTML file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// A query's result as text: column names and rows (NULL as `None`).
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    fn from_batches(batches: &[RecordBatch], columns: Vec<String>) -> Result<Self, CliError> {
        let mut rows = Vec::new();
        let options = FormatOptions::default();
        for batch in batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CliError::Report(e.to_string()))?;
            for row in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .zip(&formatters)
                        .map(|(c, f)| (!c.is_null(row)).then(|| f.value(row).to_string()))
                        .collect(),
                );
            }
        }
        Ok(Self { columns, rows })
    }

    /// The column named `name`, as text.
    pub fn column(&self, name: &str) -> impl Iterator<Item = Option<&str>> {
        let at = self.columns.iter().position(|c| c == name);
        self.rows
            .iter()
            .map(move |row| at.and_then(|at| row[at].as_deref()))
    }
}

/// What the page shows.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub entity: String,
    /// The sections, by name, in order.
    pub sections: Vec<(String, Table)>,
    /// The drawn clusters: main id, size, ids (value, type), links (indexes into the
    /// ids, and whether the link is a bridge).
    pub clusters: Vec<DrawnCluster>,
}

impl Report {
    /// The section named `name`.
    pub fn section(&self, name: &str) -> Option<&Table> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
    }
}

/// One cluster as drawn.
#[derive(Debug, Default)]
pub(crate) struct DrawnCluster {
    pub main_id: String,
    pub size: usize,
    pub ids: Vec<(String, String)>,
    pub links: Vec<(usize, usize, bool)>,
}

/// Runs `knit report ...`.
pub async fn run(command: ReportCommand) -> ExitCode {
    let ReportCommand::Stitch(args) = command;
    match stitch_report(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn stitch_report(args: &StitchReportArgs) -> Result<(), CliError> {
    let session = SessionBuilder::new().build()?;
    let print = PrintOptions {
        format: PrintFormat::Table,
        maxrows: MaxRows::Unlimited,
        quiet: true,
        timing: false,
    };
    let runner = Runner::new(session, print);
    for path in &args.files {
        let what = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| CliError::ReadScript {
            path: what.clone(),
            source,
        })?;
        let text = read_script(file, &what)?;
        runner
            .run_text(&text, Some(&what))
            .await
            .map_err(|failure| CliError::Report(failure.to_string()))?;
    }
    if let Some(project) = &args.project {
        let statements = crate::project::project_definitions(
            project,
            args.tables.clone(),
            args.end_time.clone(),
        )
        .map_err(CliError::Report)?;
        let origin = project.join("pb_project.yaml").display().to_string();
        for sql in statements {
            runner
                .run_text(&sql, Some(&origin))
                .await
                .map_err(|failure| CliError::Report(failure.to_string()))?;
        }
    }
    let session = runner.session();
    let report = collect(session, &args.entity).await?;
    let page = html::page(&report);
    // Written whole to a temporary file beside the target, then renamed: a failed
    // report leaves no half-written page.
    let staging = args.out.with_extension("html.partial");
    std::fs::write(&staging, page)
        .and_then(|()| std::fs::rename(&staging, &args.out))
        .map_err(|e| {
            let _ = std::fs::remove_file(&staging);
            CliError::Report(format!("cannot write {}: {e}", args.out.display()))
        })?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

async fn query(session: &KnitSession, sql: &str) -> Result<Table, CliError> {
    let frame = session.sql(sql).await?;
    let columns = frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let batches = frame.collect().await?;
    Table::from_batches(&batches, columns)
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

async fn collect(session: &KnitSession, entity: &str) -> Result<Report, CliError> {
    let name = literal(entity);
    let mut report = Report {
        entity: entity.to_string(),
        ..Report::default()
    };
    for section in [
        "summary",
        "sizes",
        "hubs",
        "refused",
        "violations",
        "types",
        "bridges",
    ] {
        let table = query(
            session,
            &format!("SELECT * FROM stitch_report({name}, '{section}')"),
        )
        .await?;
        report.sections.push((section.to_string(), table));
    }
    // The main id column's name is the entity's: the hubs section names it.
    let main = report
        .section("hubs")
        .and_then(|hubs| hubs.columns.get(4))
        .cloned()
        .ok_or_else(|| CliError::Report("the hubs section has no main id column".to_string()))?;
    let main = format!("\"{}\"", main.replace('"', "\"\""));
    let largest = query(
        session,
        &format!(
            "SELECT {main} AS main_id, count(*) AS size FROM id_stitch({name}) GROUP BY 1 \
             HAVING count(*) > 1 ORDER BY 2 DESC, 1 LIMIT {DRAWN_CLUSTERS}"
        ),
    )
    .await?;
    let no_bridges = Table::default();
    let bridges = report.section("bridges").unwrap_or(&no_bridges);
    let mut clusters = Vec::new();
    for row in &largest.rows {
        let (Some(main_id), Some(size)) = (&row[0], &row[1]) else {
            continue;
        };
        let cluster = draw_cluster(session, &name, &main, main_id, bridges).await?;
        clusters.push(DrawnCluster {
            size: size.parse().unwrap_or_default(),
            ..cluster
        });
    }
    report.clusters = clusters;
    Ok(report)
}

/// The ids and links of one cluster to draw: its best-connected ids, at most
/// [`DRAWN_IDS`], and the links among them.
async fn draw_cluster(
    session: &KnitSession,
    entity: &str,
    main: &str,
    main_id: &str,
    bridges: &Table,
) -> Result<DrawnCluster, CliError> {
    let main_id_literal = literal(main_id);
    let links = query(
        session,
        &format!(
            "WITH ids AS (SELECT other_id, other_id_type FROM id_stitch({entity}) \
             WHERE {main} = {main_id_literal}) \
             SELECT DISTINCT e.id1, e.id1_type, e.id2, e.id2_type FROM id_stitch_edges({entity}) e \
             JOIN ids a ON a.other_id = e.id1 AND a.other_id_type = e.id1_type \
             JOIN ids b ON b.other_id = e.id2 AND b.other_id_type = e.id2_type \
             WHERE NOT (e.id1 = e.id2 AND e.id1_type = e.id2_type)"
        ),
    )
    .await?;
    let bridge_pairs: std::collections::HashSet<(&str, &str, &str, &str)> = bridges
        .rows
        .iter()
        .filter(|r| r[0].as_deref() == Some(main_id) && r[2].as_deref() == Some("bridge"))
        .filter_map(|r| {
            Some((
                r[3].as_deref()?,
                r[4].as_deref()?,
                r[5].as_deref()?,
                r[6].as_deref()?,
            ))
        })
        .collect();
    let mut ids: Vec<(String, String)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut edges: Vec<(usize, usize, bool)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in &links.rows {
        let [Some(id1), Some(t1), Some(id2), Some(t2)] = [&row[0], &row[1], &row[2], &row[3]]
        else {
            continue;
        };
        let mut at = |id: &str, t: &str| {
            *index
                .entry((id.to_string(), t.to_string()))
                .or_insert_with(|| {
                    ids.push((id.to_string(), t.to_string()));
                    ids.len() - 1
                })
        };
        let (a, b) = (at(id1, t1), at(id2, t2));
        let bridge = bridge_pairs.contains(&(id1.as_str(), t1.as_str(), id2.as_str(), t2.as_str()))
            || bridge_pairs.contains(&(id2.as_str(), t2.as_str(), id1.as_str(), t1.as_str()));
        if a != b && seen.insert((a.min(b), a.max(b))) {
            edges.push((a.min(b), a.max(b), bridge));
        }
    }
    let (ids, links) = layout::best_connected(ids, edges, DRAWN_IDS);
    Ok(DrawnCluster {
        main_id: main_id.to_string(),
        size: 0,
        ids,
        links,
    })
}
