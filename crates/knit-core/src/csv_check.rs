// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Finding the CSV file behind a parse error: Arrow's CSV reader says "incorrect number
//! of fields for line 3001, expected 2 got 4" without the file, and a scan reads many.
//! On such an error the files are read again, as plain CSV records, and the one whose
//! line has that many fields is named. This runs only after a failure.

use std::sync::Arc;

use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use object_store::ObjectStoreExt;
use object_store::path::Path;

/// Bytes read at most, over all files, to find the one that fails.
const BYTES_CHECKED: u64 = 1 << 30;

/// A CSV file a scan reads.
#[derive(Debug, Clone)]
pub(crate) struct CsvFile {
    /// The store it is in.
    pub store: ObjectStoreUrl,
    /// Its path in the store.
    pub location: Path,
    /// Its size in bytes.
    pub size: u64,
    /// The field delimiter.
    pub delimiter: u8,
}

impl CsvFile {
    /// The file as a URL, as errors name files.
    pub fn url(&self) -> String {
        format!("{}{}", self.store.as_str(), self.location)
    }
}

/// The line and the field count of Arrow's "incorrect number of fields" error.
fn field_count_error(message: &str) -> Option<(usize, usize)> {
    let rest = message
        .split("incorrect number of fields for line ")
        .nth(1)?;
    let (line, rest) = rest.split_once(", expected ")?;
    let got = rest.split_once(" got ")?.1;
    let got: String = got.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, got.parse().ok()?))
}

/// The file among `files` whose `line` (1-based, the header included) has the number of
/// fields the error reports, if one does.
pub(crate) async fn failing_csv_file(
    message: &str,
    files: &[CsvFile],
    runtime: &Arc<RuntimeEnv>,
) -> Option<String> {
    let (line, fields) = field_count_error(message)?;
    let mut budget = BYTES_CHECKED;
    for file in files {
        if file.size > budget {
            break;
        }
        budget -= file.size;
        let store = runtime.object_store(&file.store).ok()?;
        let Ok(bytes) = store.get(&file.location).await else {
            continue;
        };
        let Ok(bytes) = bytes.bytes().await else {
            continue;
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(file.delimiter)
            .from_reader(bytes.as_ref());
        if let Some(Ok(record)) = reader.records().nth(line.saturating_sub(1))
            && record.len() == fields
        {
            return Some(file.url());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_message_gives_line_and_fields() {
        let message = "Arrow error: Csv error: incorrect number of fields for line 5002, \
                       expected 2 got 4";
        assert_eq!(field_count_error(message), Some((5002, 4)));
        assert_eq!(field_count_error("Csv error: other"), None);
    }
}
