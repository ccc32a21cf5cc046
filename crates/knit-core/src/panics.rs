// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Panics as errors: a panic while a statement is planned or run (in Knit, or in a
//! decoder fed a damaged file) is caught and reported as an error, and the process
//! goes on.
//!
//! A caught panic's payload says what went wrong but not where; the hook
//! ([`install_hook`]) keeps the place of the last panic, so that a panic inside a file
//! decoder (parquet-rs, arrow-rs) can be told from a bug in Knit.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::error::DataFusionError;
use futures::FutureExt;

use crate::error::{CoreError, TEXT_OVER_2GIB, internal};

/// What a panic said and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PanicRecord {
    /// The panic's message.
    pub(crate) message: String,
    /// `file:line:column` of the panic, if known.
    pub(crate) location: Option<String>,
}

/// A file decoder a panic can happen in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoder {
    /// parquet-rs.
    Parquet,
    /// arrow-rs's CSV, JSON or IPC reader.
    OtherFormat,
}

impl Decoder {
    /// The error the decoder would give for a damaged file, from its panic's message.
    pub(crate) fn error(self, message: &str) -> DataFusionError {
        use datafusion::arrow::error::ArrowError;
        use datafusion::parquet::errors::ParquetError;
        let what = format!("the decoder failed on damaged data ({message})");
        match self {
            Decoder::Parquet => {
                DataFusionError::ParquetError(Box::new(ParquetError::General(what)))
            }
            Decoder::OtherFormat => {
                DataFusionError::ArrowError(Box::new(ArrowError::CsvError(what)), None)
            }
        }
    }
}

impl PanicRecord {
    /// The file decoder the panic happened in (the parquet crate, arrow's readers): a
    /// damaged file, not a bug in Knit. `None` for a panic anywhere else.
    pub(crate) fn decoder(&self) -> Option<Decoder> {
        let location = self.location.as_deref()?.replace('\\', "/");
        if location.contains("/parquet-") {
            Some(Decoder::Parquet)
        } else if ["/arrow-csv-", "/arrow-json-", "/arrow-ipc-"]
            .iter()
            .any(|reader| location.contains(reader))
        {
            Some(Decoder::OtherFormat)
        } else {
            None
        }
    }
}

/// The last panic the hook saw.
static LAST_PANIC: Mutex<Option<PanicRecord>> = Mutex::new(None);

/// The text of a panic's payload.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Whether a hook that records panics is installed.
static RECORDING: AtomicBool = AtomicBool::new(false);

/// Installs a panic hook that keeps the place of each panic for `last_panic`. With
/// `quiet`, it prints nothing (the caller reports caught panics as errors); otherwise
/// the previous hook prints as before.
pub fn install_hook(quiet: bool) {
    RECORDING.store(true, Ordering::SeqCst);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let record = PanicRecord {
            message: message(info.payload()),
            location: info.location().map(|l| l.to_string()),
        };
        tracing::debug!(message = %record.message, location = ?record.location, "panic");
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(record);
        }
        if !quiet {
            previous(info);
        }
    }));
}

/// Makes sure panics are recorded, installing a hook that prints as the present one
/// does, unless one is installed already. Sessions call it, so that a library user's
/// panics in decoders are told from bugs too.
pub(crate) fn ensure_recording() {
    if !RECORDING.swap(true, Ordering::SeqCst) {
        install_hook(false);
    }
}

/// The last panic seen by the hook, if it was installed; the record is taken.
pub(crate) fn last_panic() -> Option<PanicRecord> {
    LAST_PANIC.lock().ok().and_then(|mut last| last.take())
}

/// The record of a caught panic: the hook's, when it saw this panic, else its payload.
pub(crate) fn caught(payload: &(dyn Any + Send)) -> PanicRecord {
    let text = message(payload);
    match last_panic() {
        Some(record) if record.message == text => record,
        _ => PanicRecord {
            message: text,
            location: None,
        },
    }
}

/// Runs `future`, turning a panic into an error (see [`panic_error`]).
pub(crate) async fn catch_panics<T, E: From<DataFusionError>>(
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(panic_error(&*payload).into()),
    }
}

/// The error for a caught panic: a decoder's panic is the error that decoder gives for
/// damaged data (callers that know the files name them); any other is a bug in Knit.
pub(crate) fn panic_error(payload: &(dyn Any + Send)) -> DataFusionError {
    let record = caught(payload);
    match record.decoder() {
        Some(decoder) => decoder.error(&record.message),
        // Arrow's string builders panic when a batch's values outgrow 32-bit offsets
        // (`repeat(s, 1000000)` over a batch of long rows): the query's data is too
        // large for one batch, not a bug.
        None if record.message.contains("offset overflow") => {
            DataFusionError::Execution(format!("{} ({})", TEXT_OVER_2GIB, record.message))
        }
        None => {
            let place = record
                .location
                .as_deref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            internal(format!("a panic: {}{place}", record.message))
        }
    }
}

/// `panic_error` for callers outside the engine (a task that ran a statement).
pub fn panic_to_error(payload: &(dyn Any + Send)) -> CoreError {
    CoreError::DataFusion(panic_error(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_and_places() {
        assert_eq!(message(&"static text"), "static text");
        assert_eq!(message(&String::from("owned")), "owned");
        assert_eq!(message(&42u8), "a panic without a message");
        let at = |location: &str| PanicRecord {
            message: "x".into(),
            location: Some(location.into()),
        };
        let parquet = at("/root/.cargo/registry/src/x/parquet-59.3.2/src/a.rs:1:2");
        assert_eq!(parquet.decoder(), Some(Decoder::Parquet));
        assert_eq!(
            at("/r/arrow-csv-59.0.0/src/reader.rs:3:4").decoder(),
            Some(Decoder::OtherFormat)
        );
        // A panic in a compute kernel or in Knit is a bug, not a damaged file.
        assert_eq!(at("/r/arrow-select-59.0.0/src/b.rs:3:4").decoder(), None);
        assert_eq!(
            at("crates/knit-core/src/stitch/exec.rs:1:1").decoder(),
            None
        );
    }

    #[test]
    fn text_past_2_gib_in_a_batch_is_the_querys_size_not_a_bug() {
        let overflow = String::from(
            "byte array offset overflow: Execution(\"output size exceeds 2147483647 bytes\")",
        );
        let text = panic_error(&overflow).to_string();
        assert!(text.contains("add up to more than 2 GiB"), "{text}");
        assert!(!text.contains("bug in Knit"), "{text}");
        let report = crate::ErrorReport::new(&CoreError::DataFusion(panic_error(&overflow)), None);
        assert!(
            report
                .to_string()
                .contains("lower datafusion.execution.batch_size"),
            "{report}"
        );
        let other = panic_error(&String::from("index out of bounds")).to_string();
        assert!(other.contains("bug in Knit"), "{other}");
    }
}
