// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The report page: one HTML document with inline styles and inline SVG, no script and
//! nothing fetched. Every table has the id of its `stitch_report` section and holds its
//! rows as the query returned them (long sections are cut, and say so).

use std::fmt::Write;

use super::layout::positions;
use super::{DrawnCluster, Report, Table};

/// Rows a long section shows.
const SHOWN_ROWS: usize = 200;

/// Colours of id types, in the order they first appear.
const PALETTE: &[&str] = &[
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf", "#d62728",
];

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
th{background:#f3f3f3}h2{margin-top:1.5em}.note{color:#666}\
figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}\
figcaption{font-size:12px;color:#444;max-width:480px}";

/// Escapes text for HTML content and attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page.
pub(super) fn page(report: &Report) -> String {
    let entity = escape(&report.entity);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Stitch report: {entity}</title><style>{STYLE}</style></head><body>\
         <h1>Stitch report: {entity}</h1>"
    );
    let section = |name: &str| report.section(name);
    if let Some(summary) = section("summary") {
        limits(&mut out, summary);
        heading(
            &mut out,
            "summary",
            "Summary",
            "ids, clusters and sizes per id type",
        );
        table(&mut out, "summary", summary);
    }
    if let Some(sizes) = section("sizes") {
        heading(
            &mut out,
            "sizes",
            "Cluster sizes",
            "clusters per size, in power-of-two buckets",
        );
        histogram(&mut out, sizes);
        table(&mut out, "sizes", sizes);
    }
    if let Some(hubs) = section("hubs") {
        heading(
            &mut out,
            "hubs",
            "Hubs",
            "the ids with the most distinct neighbours, per id type",
        );
        table(&mut out, "hubs", hubs);
    }
    if let Some(refused) = section("refused") {
        heading(
            &mut out,
            "refused",
            "Refused edges",
            "edges the limits kept out, and why",
        );
        table(&mut out, "refused", refused);
    }
    if let Some(violations) = section("violations") {
        heading(
            &mut out,
            "violations",
            "Clusters over a limit",
            "only edges the rules include can put a cluster over a limit",
        );
        table(&mut out, "violations", violations);
    }
    if let Some(types) = section("types") {
        heading(
            &mut out,
            "types",
            "Id types together",
            "clusters holding both types, and edges between them",
        );
        table(&mut out, "types", types);
    }
    heading(
        &mut out,
        "clusters",
        "Largest clusters",
        "ids coloured by type; bridges in red",
    );
    if report.clusters.is_empty() {
        out.push_str("<p class=\"note\">No cluster holds more than one id.</p>");
    }
    let types = type_colours(report);
    legend(&mut out, &types);
    for cluster in &report.clusters {
        drawing(&mut out, cluster, &types);
    }
    if let Some(bridges) = section("bridges") {
        heading(
            &mut out,
            "bridges",
            "Bridges and articulation points",
            "of the largest clusters: the links and ids whose removal splits them",
        );
        table(&mut out, "bridges", bridges);
    }
    out.push_str("</body></html>\n");
    out
}

fn heading(out: &mut String, id: &str, title: &str, note: &str) {
    let _ = write!(
        out,
        "<h2 id=\"h-{id}\">{title}</h2><p class=\"note\">{note}</p>"
    );
}

/// The limits in force, from the summary.
fn limits(out: &mut String, summary: &Table) {
    let limited: Vec<String> = summary
        .column("id_type")
        .zip(summary.column("limit"))
        .filter_map(|(t, l)| Some(format!("{} at most {}", escape(t?), escape(l?))))
        .collect();
    let text = if limited.is_empty() {
        "none: every id type is unlimited".to_string()
    } else {
        limited.join(", ")
    };
    let _ = write!(out, "<p id=\"limits\">Limits in force: {text}.</p>");
}

fn table(out: &mut String, id: &str, table: &Table) {
    let _ = write!(out, "<table id=\"{id}\"><thead><tr>");
    for column in &table.columns {
        let _ = write!(out, "<th>{}</th>", escape(column));
    }
    out.push_str("</tr></thead><tbody>");
    for row in table.rows.iter().take(SHOWN_ROWS) {
        out.push_str("<tr>");
        for cell in row {
            let text = cell.as_deref().unwrap_or("");
            let numeric = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
            let class = if numeric { " class=\"n\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(text));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    if table.rows.len() > SHOWN_ROWS {
        let _ = write!(
            out,
            "<p class=\"note\" id=\"{id}-cut\">Showing {SHOWN_ROWS} of {} rows; \
             SELECT * FROM stitch_report(..., '{id}') gives them all.</p>",
            table.rows.len()
        );
    }
}

/// Bars of clusters per size bucket, on a log scale (sizes span many orders).
fn histogram(out: &mut String, sizes: &Table) {
    let bars: Vec<(String, f64)> = sizes
        .rows
        .iter()
        .filter_map(|row| {
            let (from, to, clusters) = (row[0].as_deref()?, row[1].as_deref()?, row[2].as_deref()?);
            let label = if from == to {
                from.to_string()
            } else {
                format!("{from}-{to}")
            };
            Some((label, clusters.parse::<f64>().ok()?))
        })
        .collect();
    if bars.is_empty() {
        return;
    }
    let (width, height, bar) = ((60 + bars.len() * 48).max(360), 220, 36.0);
    let top = bars
        .iter()
        .map(|b| (b.1 + 1.0).log10())
        .fold(0.0, f64::max)
        .max(1.0);
    let _ = write!(
        out,
        "<svg id=\"histogram\" width=\"{width}\" height=\"{height}\" role=\"img\" \
         aria-label=\"clusters per size\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (i, (label, clusters)) in bars.iter().enumerate() {
        let h = (clusters + 1.0).log10() / top * 160.0;
        let x = 40.0 + i as f64 * 48.0;
        let y = 180.0 - h;
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar}\" height=\"{h:.1}\" fill=\"#1f77b4\">\
             <title>{clusters} clusters of {label} ids</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{clusters}</text>\
             <text x=\"{:.1}\" y=\"198\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x + bar / 2.0,
            y - 3.0,
            x + bar / 2.0,
            escape(label)
        );
    }
    out.push_str("<text x=\"4\" y=\"215\" font-size=\"10\">ids per cluster (clusters on a log scale)</text></svg>");
}

/// Each id type's colour.
fn type_colours(report: &Report) -> Vec<(String, &'static str)> {
    let mut types: Vec<String> = Vec::new();
    for cluster in &report.clusters {
        for (_, id_type) in &cluster.ids {
            if !types.contains(id_type) {
                types.push(id_type.clone());
            }
        }
    }
    types
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, PALETTE[i % PALETTE.len()]))
        .collect()
}

fn legend(out: &mut String, types: &[(String, &str)]) {
    if types.is_empty() {
        return;
    }
    out.push_str("<p>");
    for (name, colour) in types {
        let _ = write!(
            out,
            "<svg width=\"12\" height=\"12\"><circle cx=\"6\" cy=\"6\" r=\"5\" fill=\"{colour}\"/></svg> {} &nbsp; ",
            escape(name)
        );
    }
    out.push_str("</p>");
}

fn drawing(out: &mut String, cluster: &DrawnCluster, types: &[(String, &str)]) {
    let size = 480.0;
    let at = positions(cluster.ids.len(), &cluster.links);
    let point = |i: usize| (at[i].0 * size, at[i].1 * size);
    let _ = write!(
        out,
        "<figure><svg class=\"cluster\" width=\"{size}\" height=\"{size}\" \
         xmlns=\"http://www.w3.org/2000/svg\" style=\"border:1px solid #ddd\">"
    );
    for &(a, b, bridge) in &cluster.links {
        let ((x1, y1), (x2, y2)) = (point(a), point(b));
        let (colour, width) = if bridge {
            ("#d62728", 2.0)
        } else {
            ("#aaa", 1.0)
        };
        let _ = write!(
            out,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{colour}\" stroke-width=\"{width}\"/>"
        );
    }
    for (i, (value, id_type)) in cluster.ids.iter().enumerate() {
        let (x, y) = point(i);
        let colour = types
            .iter()
            .find(|(t, _)| t == id_type)
            .map_or("#000", |(_, c)| c);
        let _ = write!(
            out,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{colour}\"><title>{} ({})</title></circle>",
            escape(value),
            escape(id_type)
        );
    }
    let shown = if cluster.ids.len() < cluster.size {
        format!(
            "showing its {} best-connected ids of {}",
            cluster.ids.len(),
            cluster.size
        )
    } else {
        format!("all {} ids", cluster.size)
    };
    let _ = write!(
        out,
        "</svg><figcaption>{} — {shown}</figcaption></figure>",
        escape(&cluster.main_id)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">O'Brien & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; co&lt;/a&gt;"
        );
    }

    #[test]
    fn a_report_without_clusters_says_so() {
        let report = Report {
            entity: "user<script>".to_string(),
            sections: vec![(
                "summary".to_string(),
                Table {
                    columns: vec!["id_type".into(), "limit".into()],
                    rows: vec![vec![Some("email".into()), Some("5".into())]],
                },
            )],
            clusters: Vec::new(),
        };
        let page = page(&report);
        assert!(page.contains("Stitch report: user&lt;script&gt;"));
        assert!(page.contains("Limits in force: email at most 5."));
        assert!(page.contains("No cluster holds more than one id."));
        assert!(!page.contains("<script"));
    }
}
