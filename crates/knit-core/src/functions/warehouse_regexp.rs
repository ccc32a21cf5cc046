// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Snowflake's (and Redshift's) `regexp_substr` and `regexp_substr_all`, with their
//! position, occurrence, parameters and group:
//!
//! `regexp_substr(subject, pattern [, position [, occurrence [, parameters [, group]]]])`
//! is the `occurrence`-th match (from 1) of `pattern` in `subject`, searching from the
//! `position`-th character (from 1); NULL when there is no such match or any argument is
//! NULL. `regexp_substr_all` gives every match from the `occurrence`-th on, as a list
//! (empty when none). The parameters are letters: `c` case-sensitive (the default), `i`
//! case-insensitive (the last of the two wins), `m` multi-line, `s` `.` matches a newline,
//! `e` the first group rather than the whole match (the whole match when the pattern has
//! no group), and Redshift's `p` (Perl's syntax, which the patterns always have). A
//! `group` (0 the whole match) extracts that group with or without `e`; a group the
//! pattern lacks is an error naming it.
//!
//! BigQuery's `regexp_extract(s, p [, position [, occurrence]])` and
//! `regexp_extract_all(s, p)`, which give the pattern's group when it has one, are these
//! with `e` (rewritten in `knit-sql`).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::compute::{CastOptions, cast, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use regex::{Regex, RegexBuilder};

use super::{argument_arrays, check_arity, columnar};

/// The functions, for the session to register.
pub(crate) fn functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(RegexpSubstr::new("regexp_substr", false)),
        ScalarUDF::from(RegexpSubstr::new("regexp_substr_all", true)),
        ScalarUDF::from(RegexpReplace::new("warehouse_regexp_replace", false)),
        ScalarUDF::from(RegexpReplace::new("redshift_regexp_replace", true)),
    ]
}

/// A warehouse's `regexp_replace`, which replaces every match (PostgreSQL's, and so
/// DataFusion's, replaces the first unless told `'g'`):
/// `warehouse_regexp_replace(subject, pattern [, replacement [, position [, occurrence
/// [, parameters]]]])` as Snowflake has it (BigQuery's and Databricks' calls are its
/// first three and four arguments); `redshift_regexp_replace` takes the parameters
/// fifth, as Redshift has no occurrence.
///
/// The replacement defaults to empty text and may name groups as `\1` or `$1`; the
/// search starts at the `position`-th character (from 1); an occurrence of 0 (the
/// default) replaces every match, `n` only the `n`-th. Parameters are those of
/// `regexp_substr`. A NULL argument gives NULL. A fourth argument of text is read as
/// PostgreSQL's flags (see [`postgres_flags`]): projects written for pb's PostgreSQL
/// warehouse pass `'g'` there.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RegexpReplace {
    name: &'static str,
    redshift: bool,
    signature: Signature,
}

impl RegexpReplace {
    fn new(name: &'static str, redshift: bool) -> Self {
        Self {
            name,
            redshift,
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for RegexpReplace {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_arity(
            self.name,
            arg_types.len(),
            2,
            if self.redshift { 5 } else { 6 },
        )?;
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, constants) = argument_arrays(&args)?;
        let subjects = texts(&arrays, 0)?;
        let patterns = texts(&arrays, 1)?;
        let replacements = texts(&arrays, 2)?;
        let (positions, occurrences, parameters) = match postgres_flags(&arrays, self.redshift)? {
            Some((occurrences, parameters)) => (None, Some(occurrences), Some(parameters)),
            None if self.redshift => (numbers(self.name, &arrays, 3)?, None, texts(&arrays, 4)?),
            None => (
                numbers(self.name, &arrays, 3)?,
                numbers(self.name, &arrays, 4)?,
                texts(&arrays, 5)?,
            ),
        };

        let mut compiled: HashMap<(&str, &str), Arc<Regex>> = HashMap::new();
        let mut templates: HashMap<&str, String> = HashMap::new();
        let mut out = StringBuilder::new();
        for row in 0..args.number_rows {
            let call = (
                text_at(&subjects, row, ""),
                text_at(&patterns, row, ""),
                text_at(&replacements, row, ""),
                number_at(&positions, row, 1),
                number_at(&occurrences, row, 0),
                text_at(&parameters, row, "c"),
            );
            let (
                Some(subject),
                Some(pattern),
                Some(replacement),
                Some(position),
                Some(n),
                Some(flags),
            ) = call
            else {
                out.append_null();
                continue;
            };
            if position < 1 || n < 0 {
                return exec_err!(
                    "{}(): position {position} counts from 1 and occurrence {n} from 1 (0 \
                     replaces every match)",
                    self.name
                );
            }
            let regex = compiled_once(&mut compiled, self.name, pattern, flags)?;
            let template = templates
                .entry(replacement)
                .or_insert_with(|| replacement_template(replacement));
            out.append_value(replace_from(
                &regex,
                subject,
                position as usize,
                n as usize,
                template,
            ));
        }
        columnar(Arc::new(out.finish()), constants)
    }
}

/// A warehouse's replacement text as a template of Rust's `regex`: `\1` and `$1` name
/// group 1, `\\` is a backslash, and any other `$` is itself.
fn replacement_template(replacement: &str) -> String {
    let mut template = String::with_capacity(replacement.len());
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\' | '$', Some(d)) if d.is_ascii_digit() => {
                chars.next();
                template.push_str(&format!("${{{d}}}"));
            }
            ('\\', Some('\\')) => {
                chars.next();
                template.push('\\');
            }
            ('$', _) => template.push_str("$$"),
            (c, _) => template.push(c),
        }
    }
    template
}

/// `subject` with the matches of `regex` from its `position`-th character on replaced
/// by `template`: every one (`occurrence` 0) or only the `occurrence`-th.
fn replace_from(
    regex: &Regex,
    subject: &str,
    position: usize,
    occurrence: usize,
    template: &str,
) -> String {
    let Some((start, _)) = subject.char_indices().nth(position - 1) else {
        return subject.to_string();
    };
    let (head, tail) = subject.split_at(start);
    let mut out = String::with_capacity(subject.len());
    out.push_str(head);
    let mut last = 0;
    for (i, captures) in regex.captures_iter(tail).enumerate() {
        if occurrence != 0 && i + 1 != occurrence {
            continue;
        }
        let Some(whole) = captures.get(0) else {
            continue;
        };
        out.push_str(&tail[last..whole.start()]);
        captures.expand(template, &mut out);
        last = whole.end();
        if occurrence != 0 {
            break;
        }
    }
    out.push_str(&tail[last..]);
    out
}

/// `regexp_substr` (`all`: `regexp_substr_all`): see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RegexpSubstr {
    name: &'static str,
    all: bool,
    signature: Signature,
}

impl RegexpSubstr {
    fn new(name: &'static str, all: bool) -> Self {
        Self {
            name,
            all,
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for RegexpSubstr {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_arity(self.name, arg_types.len(), 2, 6)?;
        Ok(if self.all {
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
        } else {
            DataType::Utf8
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, constants) = argument_arrays(&args)?;
        let subjects = texts(&arrays, 0)?;
        let patterns = texts(&arrays, 1)?;
        let positions = numbers(self.name, &arrays, 2)?;
        let occurrences = numbers(self.name, &arrays, 3)?;
        let parameters = texts(&arrays, 4)?;
        let groups = numbers(self.name, &arrays, 5)?;

        let mut compiled: HashMap<(&str, &str), Arc<Regex>> = HashMap::new();
        let mut one = StringBuilder::new();
        let mut lists = ListBuilder::new(StringBuilder::new());
        for row in 0..args.number_rows {
            // An argument left out takes its default; one that is NULL makes the answer NULL.
            let call = (
                text_at(&subjects, row, ""),
                text_at(&patterns, row, ""),
                number_at(&positions, row, 1),
                number_at(&occurrences, row, 1),
                text_at(&parameters, row, "c"),
                number_at(&groups, row, i64::MIN),
            );
            let (Some(subject), Some(pattern), Some(position), Some(n), Some(flags), Some(group)) =
                call
            else {
                one.append_null();
                lists.append_null();
                continue;
            };
            let regex = compiled_once(&mut compiled, self.name, pattern, flags)?;
            let group = which_group(
                self.name,
                &regex,
                pattern,
                flags,
                (group != i64::MIN).then_some(group),
            )?;
            if position < 1 || n < 1 {
                return exec_err!(
                    "{}(): position {position} and occurrence {n} count from 1; write 1 for \
                     the first character and the first match",
                    self.name
                );
            }
            let mut matches =
                matches_from(&regex, subject, position as usize, group).skip(n as usize - 1);
            if self.all {
                for found in matches {
                    lists.values().append_option(found);
                }
                lists.append(true);
            } else {
                one.append_option(matches.next().flatten());
            }
        }
        let result: ArrayRef = if self.all {
            Arc::new(lists.finish())
        } else {
            Arc::new(one.finish())
        };
        columnar(result, constants)
    }
}

/// The argument at `index` as text, if the call has it.
fn texts(arrays: &[ArrayRef], index: usize) -> Result<Option<StringArray>> {
    match arrays.get(index) {
        Some(array) => Ok(Some(
            cast(array, &DataType::Utf8)?.as_string::<i32>().clone(),
        )),
        None => Ok(None),
    }
}

/// The argument at `index` as integers, if the call has it.
fn numbers(function: &str, arrays: &[ArrayRef], index: usize) -> Result<Option<Int64Array>> {
    let Some(array) = arrays.get(index) else {
        return Ok(None);
    };
    // Text that is no number is an error, as in the warehouse, not a NULL.
    let checked = CastOptions {
        safe: false,
        ..Default::default()
    };
    match cast_with_options(array, &DataType::Int64, &checked) {
        Ok(numbers) => Ok(Some(numbers.as_primitive::<Int64Type>().clone())),
        Err(e) => exec_err!(
            "{function}(): argument {} must be a whole number ({e})",
            index + 1
        ),
    }
}

/// PostgreSQL's `regexp_replace(subject, pattern, replacement, flags)`, told apart from
/// the warehouses' form by a fourth argument of text (theirs is the position): each
/// row's occurrence (0, every match, with `g`; without it 1, the first, as PostgreSQL
/// replaces) and its other letters as the parameters.
fn postgres_flags(
    arrays: &[ArrayRef],
    redshift: bool,
) -> Result<Option<(Int64Array, StringArray)>> {
    let [_, _, _, flags] = arrays else {
        return Ok(None);
    };
    let is_text = matches!(
        flags.data_type(),
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    );
    if redshift || !is_text {
        return Ok(None);
    }
    let flags = cast(flags, &DataType::Utf8)?;
    let flags = flags.as_string::<i32>();
    let occurrences = flags
        .iter()
        .map(|f| f.map(|f| if f.contains('g') { 0 } else { 1 }))
        .collect();
    let parameters = flags
        .iter()
        .map(|f| f.map(|f| f.replace('g', "")))
        .collect();
    Ok(Some((occurrences, parameters)))
}

/// A row's text: `default` when the argument was left out, `None` when it is NULL.
fn text_at<'a>(array: &'a Option<StringArray>, row: usize, default: &'a str) -> Option<&'a str> {
    match array {
        None => Some(default),
        Some(array) if array.is_null(row) => None,
        Some(array) => Some(array.value(row)),
    }
}

/// A row's integer: `default` when the argument was left out, `None` when it is NULL.
fn number_at(array: &Option<Int64Array>, row: usize, default: i64) -> Option<i64> {
    match array {
        None => Some(default),
        Some(array) if array.is_null(row) => None,
        Some(array) => Some(array.value(row)),
    }
}

/// The pattern with its parameters, compiled on its first row and taken from `compiled`
/// on the others (a column of patterns usually repeats a few).
fn compiled_once<'a>(
    compiled: &mut HashMap<(&'a str, &'a str), Arc<Regex>>,
    name: &str,
    pattern: &'a str,
    flags: &'a str,
) -> Result<Arc<Regex>> {
    if let Some(regex) = compiled.get(&(pattern, flags)) {
        return Ok(Arc::clone(regex));
    }
    let regex = Arc::new(compile(name, pattern, flags)?);
    compiled.insert((pattern, flags), Arc::clone(&regex));
    Ok(regex)
}

/// The pattern with Snowflake's parameter letters.
fn compile(name: &str, pattern: &str, flags: &str) -> Result<Regex> {
    let mut builder = RegexBuilder::new(pattern);
    for flag in flags.chars() {
        match flag {
            'c' => builder.case_insensitive(false),
            'i' => builder.case_insensitive(true),
            'm' => builder.multi_line(true),
            's' => builder.dot_matches_new_line(true),
            // Redshift's `p` asks for Perl's syntax, which Rust's already is.
            'e' | 'p' => &mut builder,
            other => {
                return exec_err!(
                    "{name}(): '{other}' is not a regular expression parameter; use c, i, m, \
                     s, e or p"
                );
            }
        };
    }
    builder.build().or_else(|e| {
        exec_err!("{name}(): the pattern '{pattern}' is not a regular expression: {e}")
    })
}

/// The group a match gives: the one asked for, else with `e` the first group (the whole
/// match without groups), else the whole match.
fn which_group(
    name: &str,
    regex: &Regex,
    pattern: &str,
    flags: &str,
    group: Option<i64>,
) -> Result<usize> {
    let groups = regex.captures_len() - 1;
    match group {
        Some(g) if g < 0 || g as usize > groups => exec_err!(
            "{name}(): the pattern '{pattern}' has {groups} group(s), so group {g} does not \
             exist; write 0 for the whole match or 1 to {groups}"
        ),
        Some(g) => Ok(g as usize),
        None if flags.contains('e') && groups > 0 => Ok(1),
        None => Ok(0),
    }
}

/// The matches of `regex` in `subject` from its `position`-th character on, each as the
/// text of `group` (`None` where that group took no part in the match). A match may be
/// empty; the search then moves on by one character.
fn matches_from<'a>(
    regex: &'a Regex,
    subject: &'a str,
    position: usize,
    group: usize,
) -> impl Iterator<Item = Option<&'a str>> + 'a {
    let mut at = subject
        .char_indices()
        .nth(position - 1)
        .map(|(byte, _)| Some(byte))
        .unwrap_or(None);
    std::iter::from_fn(move || {
        let start = at?;
        let captures = regex.captures_at(subject, start)?;
        let whole = captures.get(0)?;
        at = if whole.end() > whole.start() {
            Some(whole.end())
        } else {
            subject[whole.end()..]
                .chars()
                .next()
                .map(|c| whole.end() + c.len_utf8())
        };
        Some(captures.get(group).map(|m| m.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(pattern: &str, subject: &str, position: usize, group: usize) -> Vec<Option<String>> {
        let regex = Regex::new(pattern).unwrap();
        matches_from(&regex, subject, position, group)
            .map(|m| m.map(str::to_string))
            .collect()
    }

    #[test]
    fn matches_from_a_character_position() {
        let some = |s: &[&str]| s.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
        assert_eq!(
            found("[0-9]+", "a1b22c333", 1, 0),
            some(&["1", "22", "333"])
        );
        assert_eq!(found("[0-9]+", "a1b22c333", 5, 0), some(&["2", "333"]));
        assert_eq!(found("[0-9]+", "a1b22c333", 10, 0), vec![]);
        // Positions count characters, not bytes.
        assert_eq!(found("[a-z]", "ééxy", 3, 0), some(&["x", "y"]));
        // An empty match moves on by one character.
        assert_eq!(found("x*", "ab", 1, 0), some(&["", "", ""]));
        // A group that takes no part in a match is None.
        assert_eq!(
            found("(a)|b", "ba", 1, 1),
            vec![None, Some("a".to_string())]
        );
    }

    #[test]
    fn replacements_from_a_position_and_of_one_occurrence() {
        let replace = |pattern: &str, subject: &str, position, occurrence, with: &str| {
            let regex = Regex::new(pattern).unwrap();
            replace_from(
                &regex,
                subject,
                position,
                occurrence,
                &replacement_template(with),
            )
        };
        assert_eq!(replace("[^0-9]", "(555) 123-4567", 1, 0, ""), "5551234567");
        assert_eq!(replace("[0-9]", "a1b2c3", 1, 2, "#"), "a1b#c3");
        assert_eq!(replace("[0-9]", "a1b2c3", 4, 0, "#"), "a1b#c#");
        assert_eq!(replace("[0-9]", "a1b2", 9, 0, "#"), "a1b2");
        assert_eq!(replace("[0-9]", "a1b2", 1, 5, "#"), "a1b2");
        assert_eq!(replace("é", "ééx", 2, 0, "e"), "éex");
        // Groups as \\1 or $1; a $ not before a digit is itself.
        assert_eq!(replace("(\\w+)@(\\w+)", "ann@x", 1, 0, "\\2:\\1"), "x:ann");
        assert_eq!(
            replace("(\\w+)@(\\w+)", "ann@x", 1, 0, "$2 $$ $1a"),
            "x $$ anna"
        );
        assert_eq!(replace("a", "a", 1, 0, "\\\\"), "\\");
        // An empty match replaces between characters.
        assert_eq!(replace("x*", "ab", 1, 0, "-"), "-a-b-");
    }

    #[test]
    fn groups_by_parameters() {
        let regex = Regex::new("user=([a-z]+)").unwrap();
        assert_eq!(which_group("f", &regex, "p", "c", None).unwrap(), 0);
        assert_eq!(which_group("f", &regex, "p", "e", None).unwrap(), 1);
        assert_eq!(which_group("f", &regex, "p", "c", Some(1)).unwrap(), 1);
        let error = which_group("f", &regex, "p", "c", Some(2)).unwrap_err();
        assert!(error.to_string().contains("has 1 group(s)"), "{error}");
        let plain = Regex::new("[0-9]+").unwrap();
        assert_eq!(which_group("f", &plain, "p", "e", None).unwrap(), 0);
        assert!(compile("f", "a", "x").is_err());
        assert!(compile("f", "(", "c").is_err());
        assert!(compile("f", "A", "ci").unwrap().is_match("a"));
        assert!(!compile("f", "A", "ic").unwrap().is_match("a"));
    }
}
