// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The table format: rows as an aligned table with borders, rendered page by page.
//!
//! A table needs its rows before it can size its columns, so rows are kept, as text, a
//! page at a time ([`PAGE_ROWS`]); a longer result is printed as several tables, each
//! with its header, and never held whole. A cell is cut at [`MAX_CELL_CHARS`]
//! characters (a ten-million-character value would otherwise take seconds to lay out
//! and a screen no one reads), and line breaks and tabs inside a value are shown as
//! `\n`, `\r` and `\t` so that each row stays one line. Widths count what a terminal
//! shows: a wide character takes two columns.

use std::io::Write;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use unicode_width::UnicodeWidthStr;

/// Rows laid out together; a longer result is printed as one table per page.
pub const PAGE_ROWS: usize = 10_000;

/// The most characters a cell shows.
pub const MAX_CELL_CHARS: usize = 1_000;

/// One page of a table being rendered: the rows' cells as text.
#[derive(Debug)]
pub struct TablePage {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Whether a cell was cut at [`MAX_CELL_CHARS`].
    pub cut: bool,
}

impl TablePage {
    /// An empty page of the columns of `schema`.
    pub fn new(schema: &SchemaRef) -> Self {
        Self {
            header: schema
                .fields()
                .iter()
                .map(|f| cell_text(f.name()).0)
                .collect(),
            rows: Vec::new(),
            cut: false,
        }
    }

    /// How many rows the page holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Adds the rows `start..start + count` of `batch`.
    pub fn push(
        &mut self,
        batch: &RecordBatch,
        start: usize,
        count: usize,
    ) -> Result<(), ArrowError> {
        let options = FormatOptions::default().with_null("NULL");
        let formatters = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        let mut text = String::new();
        for row in start..start + count {
            let mut cells = Vec::with_capacity(formatters.len());
            for formatter in &formatters {
                text.clear();
                // A cell longer than shown is cut while it is formatted, so that a huge
                // value costs no more than the characters kept.
                let mut writer = Capped {
                    out: &mut text,
                    room: MAX_CELL_CHARS * 4 + 4,
                };
                let _ = std::fmt::Write::write_fmt(
                    &mut writer,
                    format_args!("{}", formatter.value(row)),
                );
                let (cell, cut) = cell_text(&text);
                self.cut |= cut;
                cells.push(cell);
            }
            self.rows.push(cells);
        }
        Ok(())
    }

    /// Writes the page as a table and empties it.
    pub fn write(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.header.is_empty() {
            self.rows.clear();
            return Ok(());
        }
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.width());
            }
        }
        let rule = {
            let mut rule = String::from("+");
            for &width in &widths {
                rule.push_str(&"-".repeat(width + 2));
                rule.push('+');
            }
            rule
        };
        let line = |cells: &[String]| {
            let mut line = String::from("|");
            for (cell, &width) in cells.iter().zip(&widths) {
                line.push(' ');
                line.push_str(cell);
                line.push_str(&" ".repeat(width - cell.width() + 1));
                line.push('|');
            }
            line
        };
        writeln!(out, "{rule}")?;
        writeln!(out, "{}", line(&self.header))?;
        writeln!(out, "{rule}")?;
        for row in &self.rows {
            writeln!(out, "{}", line(row))?;
        }
        if !self.rows.is_empty() {
            writeln!(out, "{rule}")?;
        }
        self.rows.clear();
        Ok(())
    }
}

/// A writer that keeps at most `room` more bytes and drops the rest.
struct Capped<'a> {
    out: &'a mut String,
    room: usize,
}

impl std::fmt::Write for Capped<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.room == 0 {
            // Stop formatting: the rest would be dropped anyway.
            return Err(std::fmt::Error);
        }
        let mut end = s.len().min(self.room);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.push_str(&s[..end]);
        self.room = if end == 0 { 0 } else { self.room - end };
        if end < s.len() {
            return Err(std::fmt::Error);
        }
        Ok(())
    }
}

/// A value as a table shows it: control characters escaped, cut at
/// [`MAX_CELL_CHARS`] characters; and whether it was cut.
fn cell_text(value: &str) -> (String, bool) {
    let mut text = String::with_capacity(value.len().min(MAX_CELL_CHARS + 8));
    let mut cut = false;
    for (shown, c) in value.chars().enumerate() {
        if shown == MAX_CELL_CHARS {
            cut = true;
            text.push('…');
            break;
        }
        match c {
            '\n' => text.push_str("\\n"),
            '\r' => text.push_str("\\r"),
            '\t' => text.push_str("\\t"),
            c if c.is_control() => text.push('\u{FFFD}'),
            c => text.push(c),
        }
    }
    (text, cut)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};

    use super::*;

    fn render(batch: &RecordBatch) -> (String, bool) {
        let mut page = TablePage::new(&batch.schema());
        page.push(batch, 0, batch.num_rows()).unwrap();
        let mut out = Vec::new();
        let cut = page.cut;
        page.write(&mut out).unwrap();
        (String::from_utf8(out).unwrap(), cut)
    }

    #[test]
    fn aligns_columns_and_shows_null() {
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![Some(1), None])) as _),
            (
                "name",
                Arc::new(StringArray::from(vec!["ä wide 漢字", "x"])) as _,
            ),
        ])
        .unwrap();
        let (table, cut) = render(&batch);
        assert!(!cut);
        assert_eq!(
            table,
            "+------+-------------+\n\
             | id   | name        |\n\
             +------+-------------+\n\
             | 1    | ä wide 漢字 |\n\
             | NULL | x           |\n\
             +------+-------------+\n"
        );
    }

    #[test]
    fn huge_cells_are_cut_and_breaks_escaped() {
        let long = "y".repeat(10_000_000);
        let batch = RecordBatch::try_from_iter([(
            "v",
            Arc::new(StringArray::from(vec![long.as_str(), "a\nb\tc"])) as _,
        )])
        .unwrap();
        let started = std::time::Instant::now();
        let (table, cut) = render(&batch);
        assert!(started.elapsed().as_secs() < 2, "{:?}", started.elapsed());
        assert!(cut);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[3].chars().filter(|&c| c == 'y').count(),
            MAX_CELL_CHARS
        );
        assert!(lines[3].contains('…'));
        assert!(lines[4].starts_with("| a\\nb\\tc "), "{}", lines[4]);
    }

    #[test]
    fn an_empty_result_shows_its_header() {
        let batch = RecordBatch::try_from_iter([(
            "v",
            Arc::new(StringArray::from(Vec::<&str>::new())) as _,
        )])
        .unwrap();
        let (table, _) = render(&batch);
        assert_eq!(table, "+---+\n| v |\n+---+\n");
    }
}
