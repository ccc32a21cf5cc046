// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The REPL's backslash commands.

use std::path::PathBuf;
use std::str::FromStr;

use crate::print::{MaxRows, PrintFormat};

/// One backslash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `\q`: leave the REPL.
    Quit,
    /// `\?`: list the commands.
    Help,
    /// `\d`: list tables.
    ListTables,
    /// `\d name`: describe a table's columns.
    Describe(String),
    /// `\i file`: run a script.
    Include(PathBuf),
    /// `\timing [on|off]`: show elapsed time after results (toggles without argument).
    Timing(Option<bool>),
    /// `\format [name]`: set or show the output format.
    Format(Option<PrintFormat>),
    /// `\maxrows [n|inf]`: set or show how many rows a table shows.
    MaxRows(Option<MaxRows>),
}

/// Each command's usage and what it does, for `\?`.
pub const HELP: &[(&str, &str)] = &[
    ("\\?", "list these commands"),
    ("\\q", "quit (Ctrl-D works too)"),
    ("\\d", "list tables"),
    (
        "\\d NAME",
        "describe the columns of a table (or of a file: \\d 'dir/*.parquet')",
    ),
    ("\\i FILE", "run the statements of a SQL file"),
    (
        "\\timing [on|off]",
        "show or hide the elapsed time after each result",
    ),
    (
        "\\format [table|csv|json|ndjson]",
        "set or show the output format",
    ),
    (
        "\\maxrows [N|inf]",
        "set or show how many rows a table shows",
    ),
];

impl FromStr for Command {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let input = input.trim().trim_end_matches(';').trim();
        let (name, argument) = match input.split_once(char::is_whitespace) {
            Some((name, rest)) => (name, Some(rest.trim()).filter(|a| !a.is_empty())),
            None => (input, None),
        };
        let no_argument = |command: Command| match argument {
            None => Ok(command),
            Some(a) => Err(format!("{name} takes no argument, got '{a}'")),
        };
        match name {
            "\\q" | "\\quit" => no_argument(Command::Quit),
            "\\?" | "\\h" | "\\help" => no_argument(Command::Help),
            "\\d" => Ok(match argument {
                None => Command::ListTables,
                Some(table) => Command::Describe(table.to_string()),
            }),
            "\\i" => argument
                .map(|path| Command::Include(PathBuf::from(unquote(path))))
                .ok_or_else(|| "\\i needs a file: \\i path/to/script.sql".to_string()),
            "\\timing" => match argument.map(str::to_ascii_lowercase).as_deref() {
                None => Ok(Command::Timing(None)),
                Some("on") => Ok(Command::Timing(Some(true))),
                Some("off") => Ok(Command::Timing(Some(false))),
                Some(other) => Err(format!("\\timing takes on or off, got '{other}'")),
            },
            "\\format" => argument
                .map(PrintFormat::from_str)
                .transpose()
                .map(Command::Format),
            "\\maxrows" => argument
                .map(MaxRows::from_str)
                .transpose()
                .map(Command::MaxRows),
            other => Err(format!("unknown command '{other}': \\? lists the commands")),
        }
    }
}

/// `'a b.sql'` and `"a b.sql"` name the file `a b.sql`.
fn unquote(text: &str) -> &str {
    for quote in ['\'', '"'] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return inner;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        let cases = [
            ("\\q", Command::Quit),
            ("\\?", Command::Help),
            ("\\d", Command::ListTables),
            ("\\d orders", Command::Describe("orders".into())),
            (
                "\\d 'data/*.parquet';",
                Command::Describe("'data/*.parquet'".into()),
            ),
            (
                "\\i 'my script.sql'",
                Command::Include("my script.sql".into()),
            ),
            ("\\timing", Command::Timing(None)),
            ("\\timing OFF", Command::Timing(Some(false))),
            ("\\format csv", Command::Format(Some(PrintFormat::Csv))),
            ("\\format", Command::Format(None)),
            ("\\maxrows inf", Command::MaxRows(Some(MaxRows::Unlimited))),
            ("\\maxrows 5", Command::MaxRows(Some(MaxRows::Limited(5)))),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<Command>().unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn bad_commands_say_what_to_write() {
        for (input, needle) in [
            ("\\x", "\\? lists"),
            ("\\i", "needs a file"),
            ("\\format xml", "table, csv, json or ndjson"),
            ("\\timing maybe", "on or off"),
            ("\\q now", "takes no argument"),
            ("\\maxrows lots", "'lots'"),
        ] {
            let err = input.parse::<Command>().unwrap_err();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }
}
