// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The interactive shell: line editing, history, completion and backslash commands.
//!
//! Input is read until a `;` that stands outside quotes and comments, so a statement
//! may span lines. The line editor holds one line at a time (the lines of a statement
//! gather here, under a continuation prompt, as in psql): editing a line costs the
//! line's length, so a paste of a megabyte of SQL is read in linear time, where an
//! editor re-laying out the whole statement at each key would take minutes. The whole
//! statement becomes one history entry.
//!
//! Ctrl-C at the prompt clears the input (the pending lines too); during a statement it
//! cancels the statement and returns to the prompt. Ctrl-D or `\q` leaves, Ctrl-D also
//! from the middle of a statement (as psql does). Input that is not UTF-8 is dropped
//! with a message, and the session goes on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, CompletionType, ConditionalEventHandler, Config, Context, Editor, Event, EventContext,
    EventHandler, Helper, KeyEvent, RepeatCount,
};

use crate::command::{Command, HELP};
use crate::error::{CliError, Result};
use crate::exec::{Runner, read_script};
use crate::print::MaxRows;

const PROMPT: &str = "knit> ";
/// The prompt of a statement's further lines.
const CONTINUATION: &str = " ...> ";
/// Returns to the start of the line and erases it: a progress line may stand there.
const CLEAR_LINE: &str = "\r\x1b[2K";

/// Runs the REPL until `\q` or Ctrl-D.
pub async fn run(runner: &mut Runner) -> Result<()> {
    let config = Config::builder()
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<ReplHelper, FileHistory> = Editor::with_config(config)?;
    // Ctrl-D at the end of pending input leaves, as it does at an empty prompt.
    let leave = Arc::new(AtomicBool::new(false));
    editor.bind_sequence(
        KeyEvent::ctrl('D'),
        EventHandler::Conditional(Box::new(LeaveOnCtrlD(Arc::clone(&leave)))),
    );
    let names = Arc::new(Mutex::new(Vec::new()));
    editor.set_helper(Some(ReplHelper {
        names: Arc::clone(&names),
    }));
    let history = history_path();
    if let Some(path) = &history {
        // A first run has no history yet; that is not an error.
        let _ = editor.load_history(path);
    }
    refresh_names(runner, &names).await;
    println!(
        "Knit {}: \\? for help, \\q to quit",
        env!("CARGO_PKG_VERSION")
    );

    // The lines of the statement being typed.
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            PROMPT
        } else {
            CONTINUATION
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if pending.is_empty() && line.trim().is_empty() {
                    continue;
                }
                if pending.is_empty() && line.trim_start().starts_with('\\') {
                    let input = line.trim();
                    remember(&mut editor, input, history.as_deref());
                    match input.parse::<Command>() {
                        Ok(Command::Quit) => break,
                        Ok(command) => run_command(runner, command).await,
                        Err(message) => eprintln!("error: {message}"),
                    }
                    refresh_names(runner, &names).await;
                    continue;
                }
                pending.push_str(&line);
                pending.push('\n');
                // Only a line with a `;` can end a statement: the whole text is split
                // only then.
                if !line.contains(';') || !knit_sql::is_complete(&pending) {
                    continue;
                }
                let input = std::mem::take(&mut pending);
                let input = input.trim();
                remember(&mut editor, input, history.as_deref());
                if let Err(failure) = runner.run_text(input, None).await {
                    match failure.error {
                        CliError::Cancelled => eprintln!("{CLEAR_LINE}cancelled"),
                        CliError::TimedOut(_) => eprintln!("{CLEAR_LINE}{failure}"),
                        ref e if e.is_broken_pipe() => {}
                        _ => eprintln!("{failure}"),
                    }
                }
                refresh_names(runner, &names).await;
            }
            // Ctrl-D with input pending: leave.
            Err(ReadlineError::Interrupted) if leave.load(Ordering::Relaxed) => break,
            // Ctrl-C at the prompt drops the input, pending lines too, as in a shell.
            Err(ReadlineError::Interrupted) => pending.clear(),
            Err(ReadlineError::Eof) => break,
            // Bytes that are not UTF-8 (a paste from a binary file): drop the line.
            Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                eprintln!("error: the input was not UTF-8 text and was dropped ({e})");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Adds `input` to the history, and saves the history.
fn remember(editor: &mut Editor<ReplHelper, FileHistory>, input: &str, history: Option<&Path>) {
    if let Err(e) = editor.add_history_entry(input) {
        tracing::warn!("cannot add to the history: {e}");
    }
    if let Some(path) = history
        && let Err(e) = editor.save_history(path)
    {
        tracing::warn!("cannot save history to {}: {e}", path.display());
    }
}

async fn run_command(runner: &mut Runner, command: Command) {
    let result = match command {
        Command::Quit => Ok(()),
        Command::Help => print_help(),
        Command::ListTables => {
            runner
                .run_statement(
                    "SELECT table_catalog, table_schema, table_name, table_type \
                     FROM information_schema.tables \
                     WHERE table_schema <> 'information_schema' \
                     ORDER BY table_catalog, table_schema, table_name",
                )
                .await
        }
        Command::Describe(table) => runner.run_statement(&format!("DESCRIBE {table}")).await,
        Command::Include(path) => match std::fs::File::open(&path)
            .map_err(|source| CliError::ReadScript {
                path: path.display().to_string(),
                source,
            })
            .and_then(|file| read_script(file, &path.display().to_string()))
        {
            Ok(text) => {
                let origin = path.display().to_string();
                if let Err(failure) = runner.run_text(&text, Some(&origin)).await {
                    eprintln!("{failure}");
                }
                Ok(())
            }
            Err(error) => Err(error),
        },
        Command::Timing(on) => {
            runner.print.timing = on.unwrap_or(!runner.print.timing);
            let state = if runner.print.timing { "on" } else { "off" };
            println!("timing is {state}");
            Ok(())
        }
        Command::Format(format) => {
            if let Some(format) = format {
                runner.print.format = format;
            }
            println!("format is {}", runner.print.format);
            Ok(())
        }
        Command::MaxRows(maxrows) => {
            if let Some(maxrows) = maxrows {
                runner.print.maxrows = maxrows;
            }
            match runner.print.maxrows {
                MaxRows::Unlimited => println!("tables show every row"),
                MaxRows::Limited(n) => println!("tables show at most {n} rows"),
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => {}
        Err(CliError::Cancelled) => eprintln!("{CLEAR_LINE}cancelled"),
        Err(e @ CliError::TimedOut(_)) => eprintln!("{CLEAR_LINE}error: {e}"),
        Err(e) if e.is_broken_pipe() => {}
        Err(e) => match runner.report(&e) {
            Some(report) => eprintln!("error: {report}"),
            None => eprintln!("error: {e}"),
        },
    }
}

fn print_help() -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("command", DataType::Utf8, false),
        Field::new("what it does", DataType::Utf8, false),
    ]));
    let commands = StringArray::from_iter_values(HELP.iter().map(|(c, _)| *c));
    let descriptions = StringArray::from_iter_values(HELP.iter().map(|(_, d)| *d));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(commands), Arc::new(descriptions)])
        .map_err(datafusion::error::DataFusionError::from)?;
    let table =
        pretty_format_batches(&[batch]).map_err(datafusion::error::DataFusionError::from)?;
    println!("{table}");
    println!("SQL statements end with ';' and may span lines; Ctrl-C cancels a running one.");
    Ok(())
}

/// The history file, in the user's data directory (`~/.local/share/knit/history` on Linux).
fn history_path() -> Option<PathBuf> {
    let dir = dirs::data_dir()?.join("knit");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history"))
}

/// Reloads the table and column names offered by tab completion.
async fn refresh_names(runner: &Runner, names: &Mutex<Vec<String>>) {
    let query = "SELECT table_name, column_name FROM information_schema.columns \
                 WHERE table_schema <> 'information_schema'";
    let batches = match runner.session().context().sql(query).await {
        Ok(frame) => frame.collect().await,
        Err(e) => Err(e),
    };
    let batches = match batches {
        Ok(batches) => batches,
        Err(e) => {
            tracing::debug!("cannot list names for completion: {e}");
            return;
        }
    };
    let mut found: Vec<String> = batches
        .iter()
        .flat_map(|batch| {
            let tables = batch.column(0).as_string::<i32>();
            let columns = batch.column(1).as_string::<i32>();
            tables
                .iter()
                .chain(columns.iter())
                .flatten()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    found.sort();
    found.dedup();
    if let Ok(mut names) = names.lock() {
        *names = found;
    }
}

/// Completion and multi-line validation for the line editor.
struct ReplHelper {
    /// Table and column names of the session.
    names: Arc<Mutex<Vec<String>>>,
}

impl ReplHelper {
    fn candidates(&self, word: &str) -> Vec<Pair> {
        let lower = word.to_ascii_lowercase();
        let upper_case = word.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        let mut out: Vec<String> = Vec::new();
        if let Ok(names) = self.names.lock() {
            out.extend(
                names
                    .iter()
                    .filter(|n| n.to_ascii_lowercase().starts_with(&lower))
                    .cloned(),
            );
        }
        out.extend(
            ALL_KEYWORDS
                .iter()
                .filter(|k| k.to_ascii_lowercase().starts_with(&lower))
                .map(|k| {
                    if upper_case {
                        k.to_string()
                    } else {
                        k.to_ascii_lowercase()
                    }
                }),
        );
        out.dedup();
        out.into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect()
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if before.starts_with('\\') && !before.contains(char::is_whitespace) {
            let commands = HELP
                .iter()
                .map(|(usage, _)| usage.split_whitespace().next().unwrap_or(usage))
                .filter(|name| name.starts_with(before))
                .map(|name| Pair {
                    display: name.to_string(),
                    replacement: name.to_string(),
                })
                .collect();
            return Ok((0, commands));
        }
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        Ok((start, self.candidates(word)))
    }
}

// Enter always ends a line: statements are gathered line by line in `run`.
impl Validator for ReplHelper {}

/// Leaves the shell on Ctrl-D at the end of pending input (at an empty prompt Ctrl-D
/// already does); elsewhere Ctrl-D deletes the character under the cursor.
struct LeaveOnCtrlD(Arc<AtomicBool>);

impl ConditionalEventHandler for LeaveOnCtrlD {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext<'_>) -> Option<Cmd> {
        if !ctx.line().is_empty() && ctx.pos() == ctx.line().len() {
            self.0.store(true, Ordering::Relaxed);
            Some(Cmd::Interrupt)
        } else {
            None
        }
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper(names: &[&str]) -> ReplHelper {
        ReplHelper {
            names: Arc::new(Mutex::new(names.iter().map(|n| n.to_string()).collect())),
        }
    }

    fn replacements(helper: &ReplHelper, word: &str) -> Vec<String> {
        helper
            .candidates(word)
            .into_iter()
            .map(|p| p.replacement)
            .collect()
    }

    #[test]
    fn completes_names_then_keywords_in_the_case_typed() {
        let helper = helper(&["order_id", "orders", "users"]);
        let found = replacements(&helper, "ord");
        assert_eq!(&found[..2], ["order_id", "orders"]);
        assert!(found.contains(&"order".to_string()));
        assert!(replacements(&helper, "SEL").contains(&"SELECT".to_string()));
        assert!(replacements(&helper, "sel").contains(&"select".to_string()));
    }

    #[test]
    fn completes_the_word_under_the_cursor() {
        let helper = helper(&["users"]);
        let history = rustyline::history::DefaultHistory::new();
        let ctx = Context::new(&history);
        let (start, found) = helper.complete("SELECT * FROM us", 16, &ctx).unwrap();
        assert_eq!(start, 14);
        assert_eq!(found[0].replacement, "users");
        let (start, found) = helper.complete("\\ti", 3, &ctx).unwrap();
        assert_eq!((start, found[0].replacement.as_str()), (0, "\\timing"));
    }
}
