// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit report stitch`: the page's numbers equal the SQL functions', and the page
//! renders in headless Chromium without console errors (when scripts/test has set
//! `KNIT_TEST_CHROMIUM`).

use std::path::Path;

use crate::{Scratch, knit, text, workspace_root};

fn scratch(test: &str) -> Scratch {
    Scratch::new("knit-report", test)
}

/// A graph with shared emails and devices, under limits that refuse some edges.
const SETUP: &str = "
CREATE TABLE events AS
SELECT 'u' || (value % 50) AS user_id, 'a' || value AS anonymous_id,
       CASE WHEN value % 23 = 0 THEN 'qa@example.com' ELSE 'e' || (value % 70) || '@x' END AS email,
       to_timestamp_seconds(1704067200 + value * 60) AS ts
FROM generate_series(1, 600);
CREATE TABLE devices AS SELECT 'a' || value AS anonymous_id, 'kiosk' || (value % 3) AS device_id
FROM generate_series(1, 600, 7);
CREATE ENTITY user ID TYPES (user_id LIMIT 2, anonymous_id, email LIMIT 4, device_id LIMIT 1);
CREATE INPUT events FOR user IDS (user_id AS user_id, anonymous_id AS anonymous_id, email AS email) OCCURRED AT ts;
CREATE INPUT devices FOR user IDS (anonymous_id AS anonymous_id, device_id AS device_id);
";

/// The rows of a query after the setup, as `knit --format csv` prints them.
fn sql_rows(setup: &Path, sql: &str) -> Vec<Vec<String>> {
    let output = knit()
        .args(["-q", "--format", "csv", "-f"])
        .arg(setup)
        .args(["-c", sql])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let mut reader = csv::ReaderBuilder::new().from_reader(stdout.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The body rows of the table with id `id` in `html`, cell texts.
fn html_rows(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("<table id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no table {id}"));
    let table = &html[start..start + html[start..].find("</table>").unwrap()];
    let body = &table[table.find("<tbody>").unwrap()..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let content = &cell[cell.find('>').unwrap() + 1..cell.find("</td>").unwrap()];
                    unescape(content)
                })
                .collect()
        })
        .collect()
}

/// Runs Chromium headless on `page`: the DOM it renders and its log on stderr.
fn chromium(page: &Path) -> Option<(String, String)> {
    let chromium = std::env::var("KNIT_TEST_CHROMIUM").ok()?;
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output).1);
    Some(text(&output))
}

#[test]
fn the_page_holds_the_reports_numbers_and_renders() {
    let dir = scratch("numbers");
    let setup = dir.join("setup.sql");
    std::fs::write(&setup, SETUP).unwrap();
    let page = dir.join("report.html");
    let output = knit()
        .args(["report", "stitch", "user", "-f"])
        .arg(&setup)
        .arg("--out")
        .arg(&page)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("wrote"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let html = std::fs::read_to_string(&page).unwrap();
    // Each section's rows as the SQL function gives them.
    for section in ["summary", "sizes", "hubs", "types"] {
        let expected = sql_rows(
            &setup,
            &format!("SELECT * FROM stitch_report('user', '{section}')"),
        );
        assert!(!expected.is_empty(), "{section}");
        assert_eq!(html_rows(&html, section), expected, "section {section}");
    }
    let refused = sql_rows(
        &setup,
        "SELECT count(*) FROM stitch_report('user', 'refused')",
    );
    let refused: usize = refused[0][0].parse().unwrap();
    assert!(refused > 0);
    assert_eq!(html_rows(&html, "refused").len(), refused.min(200));
    // The limits in force, and the largest clusters drawn with their sizes.
    assert!(
        html.contains("Limits in force: user_id at most 2, email at most 4, device_id at most 1.")
    );
    let largest = sql_rows(
        &setup,
        "SELECT user_main_id, count(*) FROM id_stitch('user') GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3",
    );
    for row in &largest {
        assert!(
            html.contains(&format!("{} — all {} ids", row[0], row[1]))
                || html.contains(&format!("{} — showing", row[0])),
            "cluster {} of {} ids is not drawn",
            row[0],
            row[1]
        );
    }
    assert_eq!(
        html.matches("<svg class=\"cluster\"").count(),
        largest.len()
    );
    // Nothing is fetched: the only URL is the SVG namespace, which names, not fetches.
    let urls = html.matches("http://").count() + html.matches("https://").count();
    let namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert!(namespaces > 0);
    assert_eq!(urls, namespaces);
    assert!(!html.contains("<script") && !html.contains(" src="));
    let Some((dom, log)) = chromium(&page) else {
        eprintln!("skipped the browser: no Chromium (scripts/test sets KNIT_TEST_CHROMIUM)");
        return;
    };
    assert!(dom.contains("<h1>Stitch report: user</h1>"), "{dom}");
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("ERR_FILE"))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    // The rendered DOM has the same numbers.
    assert_eq!(html_rows(&dom, "summary"), html_rows(&html, "summary"));
    assert_eq!(
        dom.matches("<circle").count(),
        html.matches("<circle").count()
    );
}

#[test]
fn bad_report_requests_fail_clearly_and_write_nothing() {
    let dir = scratch("bad");
    let setup = dir.join("setup.sql");
    std::fs::write(&setup, SETUP).unwrap();
    let page = dir.join("report.html");
    let run = |args: &[&str]| {
        let output = knit()
            .args(["report", "stitch"])
            .args(args)
            .arg("--out")
            .arg(&page)
            .output()
            .unwrap();
        (output.status.code(), text(&output).1)
    };
    let (code, stderr) = run(&["nobody", "-f", setup.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("entity 'nobody'"), "{stderr}");
    let broken = dir.join("broken.sql");
    std::fs::write(&broken, "CREATE ENTITY user ID TYPES (user_id LIMIT 0);").unwrap();
    let (code, stderr) = run(&["user", "-f", broken.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("broken.sql:1"), "{stderr}");
    assert!(stderr.contains("LIMIT 0"), "{stderr}");
    let (code, stderr) = run(&["user", "-f", "no/such/file.sql"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read script 'no/such/file.sql'"),
        "{stderr}"
    );
    assert!(!page.exists());
    assert!(!dir.join("report.html.partial").exists());
    // No --out: a usage error.
    let output = knit().args(["report", "stitch", "user"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("--out"));
}

#[test]
fn a_pb_projects_report_counts_pbs_id_graph() {
    let dir = scratch("pb");
    let page = dir.join("report.html");
    let output = knit()
        .args([
            "report",
            "stitch",
            "user",
            "--project",
            "testdata/oracle/ecommerce/project",
            "--tables",
            "testdata/oracle/ecommerce/tables",
            "--end-time",
            "2100-01-01T00:00:00Z",
            "--out",
        ])
        .arg(&page)
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let html = std::fs::read_to_string(&page).unwrap();
    // pb's own id graph of the project (an oracle fixture): its ids and clusters.
    let expected = "testdata/oracle/ecommerce/expected/user_id_stitcher.csv";
    let output = knit()
        .args(["-q", "--format", "csv", "-c"])
        .arg(format!(
            "SELECT count(*), count(DISTINCT user_main_id) FROM '{expected}'"
        ))
        .output()
        .unwrap();
    let (stdout, _) = text(&output);
    let counts: Vec<&str> = stdout.lines().nth(1).unwrap().split(',').collect();
    let all = html_rows(&html, "summary")
        .into_iter()
        .find(|row| row[0] == "(all)")
        .unwrap();
    assert_eq!((all[1].as_str(), all[2].as_str()), (counts[0], counts[1]));
    // The project's outputs were not computed.
    assert!(
        !workspace_root()
            .join("testdata/oracle/ecommerce/project/knit-output")
            .exists()
    );
    // Flags of a project need the project.
    let output = knit()
        .args(["report", "stitch", "user", "--tables", "x", "--out"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("--project"));
}
