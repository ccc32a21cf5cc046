// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! User-facing error reports: one line that names the object, plus what to do.
//!
//! DataFusion's errors are precise but written for developers: nested prefixes,
//! multi-line S3 responses, no advice. [`ErrorReport`] keeps the precise message,
//! flattens it to one line, adds a hint for the failures users meet most (a misspelled
//! table or column, a missing file, a broken Parquet file, S3 credentials or endpoint,
//! the memory limit), and carries the statement-relative location where one is known.

use std::fmt;

use datafusion::error::DataFusionError;
use knit_sql::SqlError;

use crate::error::{CoreError, ReadFailure, TEXT_OVER_2GIB, read_failure};

/// Phrases of errors that come from the network between Knit and an object store, not
/// from the data.
const NETWORK_FAILURES: &[&str] = &[
    "connection refused",
    "connection reset",
    "connection closed",
    "dns error",
    "error sending request",
    "timed out",
    "timeout",
    "broken pipe",
    "error decoding response body",
    "request or response body error",
    "incomplete message",
];

/// Whether an error's text comes from reading an object store (where a network phrase
/// such as "timeout" means the network, not a setting or a statement timeout), not
/// from a worker.
fn is_remote(lower: &str) -> bool {
    // A worker's failure names the worker and says what to check itself.
    !lower.contains("knit worker")
        && ["object store", "s3 error", "http"]
            .iter()
            .any(|phrase| lower.contains(phrase))
}

/// The longest message kept; S3 error bodies can run to kilobytes.
const MAX_MESSAGE_CHARS: usize = 400;

/// A one-line description of an error, with an optional hint and location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    /// What went wrong, naming the object.
    pub message: String,
    /// What to do about it, where Knit knows.
    pub hint: Option<String>,
    /// 1-based (line, column) within the statement text, where known.
    pub location: Option<(u64, u64)>,
}

impl ErrorReport {
    /// Describes `error`; `memory_limit` is mentioned when memory ran out.
    pub fn new(error: &CoreError, memory_limit: Option<usize>) -> Self {
        match error {
            CoreError::Sql(SqlError::Tokenize { line, column, .. }) => Self {
                message: one_line(&error.to_string()),
                hint: None,
                location: Some((*line, *column)),
            },
            CoreError::Sql(SqlError::Parse(message)) => {
                let (message, location) = split_parser_location(message);
                Self {
                    message: one_line(message.trim_start_matches("sql parser error: ")),
                    hint: None,
                    location,
                }
            }
            CoreError::DataFusion(e) => from_datafusion(e, memory_limit),
            _ => Self {
                message: one_line(&error.to_string()),
                hint: None,
                location: None,
            },
        }
    }
}

impl fmt::Display for ErrorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

fn from_datafusion(error: &DataFusionError, memory_limit: Option<usize>) -> ErrorReport {
    let location = error
        .diagnostic()
        .and_then(|d| d.span)
        .map(|span| (span.start.line, span.start.column))
        .filter(|(line, _)| *line > 0);
    if crate::error::is_unfinished_write(error) {
        return ErrorReport {
            message: format!(
                "writing the output failed: {} (files written so far may remain)",
                crate::error::UNFINISHED_WRITE_ADVICE
            ),
            hint: None,
            location,
        };
    }
    // DataFusion's internal errors say "a bug in DataFusion's code"; to the user it is a
    // bug in Knit, which is where it should be reported.
    if let Some(what) = datafusion_internal(error) {
        return ErrorReport {
            message: one_line(&crate::InternalError::new(what).to_string()),
            hint: None,
            location,
        };
    }
    let text = error.strip_backtrace();
    if let Some(report) = function_mismatch(&text) {
        return ErrorReport { location, ..report };
    }
    let lower = text.to_ascii_lowercase();
    let hint = if lower.contains("resources exhausted") {
        Some(match memory_limit {
            Some(limit) => format!(
                "the memory limit is {}: raise it with --memory-limit, or query less data",
                human_bytes(limit)
            ),
            None => "query less data, or give the session more memory".to_string(),
        })
    } else if lower.contains("unsupported cast from") {
        Some(
            "there is no conversion between these types: build or extract the value with a \
             function instead (array_element(list, 1), to_date(text), named_struct(...))"
                .to_string(),
        )
    } else if lower.contains("compiledtoobig") || lower.contains("regex exceeds size limit") {
        Some(
            "the regular expression is too large once compiled: use fewer or smaller \
             repetitions ({n} counts)"
                .to_string(),
        )
    } else if lower.contains("offset overflow") {
        // The message says what overflowed when the panic was caught here; a worker's
        // panic arrives as its bare text.
        let why = if text.contains(TEXT_OVER_2GIB) {
            String::new()
        } else {
            format!("{TEXT_OVER_2GIB}: ")
        };
        Some(format!(
            "{why}make the values shorter, or lower datafusion.execution.batch_size \
             (SET datafusion.execution.batch_size = 1024)"
        ))
    } else if lower.contains("arithmetic overflow") {
        Some(
            "an integer result is out of range: cast the values to DECIMAL(38, 0) or DOUBLE"
                .to_string(),
        )
    } else if lower.contains("table '") && lower.contains("not found") {
        Some(
            "list tables with SHOW TABLES, or read files directly with FROM 'dir/*.parquet'"
                .to_string(),
        )
    } else if lower.contains("no field named")
        || (lower.contains("column '")
            && !lower.contains("incompatible")
            && !lower.contains("disagree"))
    {
        Some("list a table's columns with DESCRIBE <table>".to_string())
    } else if lower.contains("invalidaccesskeyid")
        || lower.contains("signaturedoesnotmatch")
        || lower.contains("accessdenied")
        || lower.contains("403 forbidden")
    {
        Some(
            "S3 refused the credentials: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
             or the table's aws.access_key_id and aws.secret_access_key options"
                .to_string(),
        )
    } else if lower.contains("nosuchbucket") {
        Some("the bucket does not exist: check the bucket name and AWS_ENDPOINT".to_string())
    } else if lower.contains("instance metadata")
        || lower.contains("failed to load credentials")
        || lower.contains("error getting credentials")
        || lower.contains("no s3 credentials")
    {
        Some(
            "no S3 credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
             or the table's aws.access_key_id and aws.secret_access_key options (or \
             aws.skip_signature 'true' for a public bucket)"
                .to_string(),
        )
    } else if is_remote(&lower) && NETWORK_FAILURES.iter().any(|phrase| lower.contains(phrase)) {
        Some(
            "the network to the object store failed (the file may be fine): check \
             AWS_ENDPOINT (or aws.endpoint), AWS_REGION and the network; aws.timeout, \
             aws.connect_timeout and aws.max_retries bound how long Knit waits"
                .to_string(),
        )
    } else if lower.contains("not found") && lower.contains("object at location") {
        // A listed file that is gone when read: removed meanwhile, or named by a Delta
        // table's log without being there.
        Some(
            "a file to read is missing: it was removed while the query ran, or (in a Delta \
             table) the log names a data file that is gone: restore it, or read a version \
             that does not use it"
                .to_string(),
        )
    } else if read_failure(error) == Some(ReadFailure::Parquet) {
        Some(
            "the file is not valid Parquet (truncated or of another format): rewrite it or \
             leave it out of the path"
                .to_string(),
        )
    } else {
        None
    };
    // DataFusion shows context as "outer\ncaused by\ninner", and wraps parquet's own
    // "Parquet error: ..." in another "Parquet error: ".
    let text = text
        .replace("\ncaused by\n", ": ")
        .replace("Parquet error: Parquet error: ", "Parquet error: ")
        .replace("External error: ", "");
    let text = tidy_store_response(&text);
    let text = remove_categories(&text).replace("Unsupported CAST from ", "cannot CAST ");
    ErrorReport {
        message: one_line(strip_prefixes(&text)),
        hint,
        location,
    }
}

/// A call whose arguments fit no form of the function, told as such: DataFusion's text
/// nests each form's failure (sometimes as an "Internal error" with its bug-report
/// footer, though the statement is at fault) before the one line that matters.
fn function_mismatch(text: &str) -> Option<ErrorReport> {
    const MARK: &str = "No function matches the given name and argument types '";
    let start = text.find(MARK)? + MARK.len();
    let call = &text[start..start + text[start..].find('\'')?];
    let name = call.split('(').next().unwrap_or(call);
    let candidates: Vec<&str> = text
        .split_once("Candidate functions:")
        .map(|(_, rest)| {
            rest.split(['\n', '\t'])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let no_common_type = ["coercion failed", "common type", "not comparable"]
        .iter()
        .any(|phrase| text.contains(phrase));
    // Signatures such as `coalesce(UserDefined)` or `abs(Numeric(1))` describe nothing
    // a user can act on.
    let readable = !candidates.is_empty()
        && candidates
            .iter()
            .all(|c| !c.contains("UserDefined") && !c.contains("(1))") && !c.contains("(2))"));
    let hint = if no_common_type {
        "the arguments have no type in common: CAST them to one type".to_string()
    } else if readable {
        format!(
            "it takes {}: CAST the arguments to those types",
            candidates.join(" or ")
        )
    } else {
        "CAST the arguments to the types it takes".to_string()
    };
    Some(ErrorReport {
        message: format!("no form of {name} takes these arguments: {call}"),
        hint: Some(hint),
        location: None,
    })
}

/// Removes the names DataFusion gives its stages and error categories inside a message
/// ("Optimizer rule 'simplify_expressions' failed: ", "type_coercion: "): they say where
/// in DataFusion the error arose, which is nothing a user can act on.
fn remove_categories(text: &str) -> String {
    let mut text = text.to_string();
    for category in [
        "type_coercion: ",
        "This feature is not implemented: ",
        "Arrow error: ",
        "Error during planning: ",
        "Execution error: ",
    ] {
        text = text.replace(category, "");
    }
    while let Some(start) = text.find("Optimizer rule '") {
        let Some(end) = text[start..].find("' failed: ") else {
            break;
        };
        text.replace_range(start..start + end + "' failed: ".len(), "");
    }
    text
}

/// The message of a DataFusion internal error in `error`'s chain, without its footer.
fn datafusion_internal(error: &DataFusionError) -> Option<String> {
    crate::error::causes(error).find_map(|cause| match crate::error::as_datafusion(cause)? {
        DataFusionError::Internal(message) => Some(message.trim_end_matches('.').to_string()),
        _ => None,
    })
}

/// DataFusion's category prefixes say nothing to a user; the rest of the text does.
fn strip_prefixes(mut text: &str) -> &str {
    const PREFIXES: &[&str] = &[
        "Error during planning: ",
        "Schema error: ",
        "Execution error: ",
        "External error: ",
        "Invalid or Unsupported Configuration: ",
        "Optimizer rule 'optimize_projections' failed\ncaused by\n",
        "Context(",
    ];
    loop {
        let before = text;
        for prefix in PREFIXES {
            text = text.strip_prefix(prefix).unwrap_or(text);
        }
        if before == text {
            return text;
        }
    }
}

/// S3 puts an XML document in its error responses; its code and message are what a
/// person needs.
fn tidy_store_response(text: &str) -> String {
    let Some(xml_start) = text.find("<?xml") else {
        return text.to_string();
    };
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text[xml_start..].find(&open)? + xml_start + open.len();
        let end = text[start..].find('<')? + start;
        Some(text[start..end].to_string())
    };
    match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => format!("{}{code}: {message}", &text[..xml_start]),
        (Some(code), None) => format!("{}{code}", &text[..xml_start]),
        _ => text.to_string(),
    }
}

/// Splits sqlparser's `... at Line: L, Column: C` suffix off a parser message.
fn split_parser_location(message: &str) -> (&str, Option<(u64, u64)>) {
    let Some(at) = message.rfind(" at Line: ") else {
        return (message, None);
    };
    let rest = &message[at + " at Line: ".len()..];
    let mut parts = rest.splitn(2, ", Column: ");
    let line = parts.next().and_then(|l| l.trim().parse().ok());
    let column = parts.next().and_then(|c| c.trim().parse().ok());
    match (line, column) {
        (Some(line), Some(column)) => (&message[..at], Some((line, column))),
        _ => (message, None),
    }
}

/// Joins lines and shortens the text so that the report stays one readable line.
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= MAX_MESSAGE_CHARS {
        return joined;
    }
    let cut: String = joined.chars().take(MAX_MESSAGE_CHARS).collect();
    format!("{cut}...")
}

/// `4294967296` as `4.0 GiB`.
fn human_bytes(bytes: usize) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_location_is_split_off() {
        let (message, location) =
            split_parser_location("Expected: an expression, found: EOF at Line: 3, Column: 7");
        assert_eq!(message, "Expected: an expression, found: EOF");
        assert_eq!(location, Some((3, 7)));
        assert_eq!(split_parser_location("no location").1, None);
    }

    #[test]
    fn long_multi_line_messages_become_one_short_line() {
        let text = format!("first\n  second {}", "x".repeat(1000));
        let line = one_line(&text);
        assert!(line.starts_with("first second x"));
        assert!(!line.contains('\n'));
        assert!(line.chars().count() <= MAX_MESSAGE_CHARS + 3);
    }

    #[test]
    fn resources_error_names_the_limit() {
        let error = CoreError::DataFusion(DataFusionError::ResourcesExhausted(
            "Failed to allocate additional 1.0 MB for HashJoin".to_string(),
        ));
        let report = ErrorReport::new(&error, Some(64 << 20));
        assert!(report.message.contains("HashJoin"), "{report}");
        assert!(report.to_string().contains("64.0 MiB"), "{report}");
        assert!(report.to_string().contains("--memory-limit"), "{report}");
    }

    #[test]
    fn planning_prefix_is_dropped_and_hint_added() {
        let error = CoreError::DataFusion(DataFusionError::Plan(
            "table 'datafusion.public.custmers' not found".to_string(),
        ));
        let report = ErrorReport::new(&error, None);
        assert_eq!(
            report.message,
            "table 'datafusion.public.custmers' not found"
        );
        assert!(report.hint.unwrap().contains("SHOW TABLES"));
    }

    #[test]
    fn s3_responses_keep_code_and_message() {
        let text = "GET http://h/b returned 403 Forbidden: <?xml version=\"1.0\"?> \
                    <Error><Code>InvalidAccessKeyId</Code><Message>No such key.</Message>\
                    <BucketName>b</BucketName></Error>";
        assert_eq!(
            tidy_store_response(text),
            "GET http://h/b returned 403 Forbidden: InvalidAccessKeyId: No such key."
        );
        assert_eq!(tidy_store_response("plain"), "plain");
    }

    #[test]
    fn datafusion_internal_errors_are_reported_as_knits() {
        let error = CoreError::DataFusion(
            DataFusionError::Internal("Physical input schema should be the same".to_string())
                .context("Optimizer rule 'x' failed"),
        );
        let report = ErrorReport::new(&error, None).to_string();
        assert!(
            report.starts_with(
                "internal error: Physical input schema should be the same. This is a bug in Knit"
            ),
            "{report}"
        );
        assert!(!report.contains("DataFusion's code"), "{report}");
    }

    #[test]
    fn network_hints_are_for_object_stores_only() {
        let setting = CoreError::DataFusion(DataFusionError::Configuration(
            "knit.statement_timeout 'x' is not a duration".to_string(),
        ));
        assert_eq!(ErrorReport::new(&setting, None).hint, None);
        let store = CoreError::DataFusion(DataFusionError::External(
            "Generic S3 error: error sending request: operation timed out".into(),
        ));
        let hint = ErrorReport::new(&store, None).hint.unwrap();
        assert!(
            hint.starts_with("the network to the object store failed"),
            "{hint}"
        );
    }

    #[test]
    fn bytes_read_as_binary_units() {
        assert_eq!(human_bytes(512), "512.0 B");
        assert_eq!(human_bytes(4 << 30), "4.0 GiB");
    }
}
