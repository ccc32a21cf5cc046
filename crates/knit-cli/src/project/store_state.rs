// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! What a profile store keeps besides its output tables: `_knit/state.json`, the record
//! of the last complete run (which files each input table read, the definitions'
//! fingerprint, the run's times), and `_knit/lock`, held while a run changes the store.
//!
//! The state is written last, whole or not at all (a temporary file renamed), so it
//! always names a run whose outputs were all published. A run that dies before that
//! leaves the state of the run before; the next run reads the same files again, and
//! because a refresh replaces the rows of the clusters it touches, running it twice
//! gives the same tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use knit_core::{KnitSession, TableFile};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::STAGING_PREFIX;

/// The state file's format; a store of another format is rebuilt.
const STATE_FORMAT: u64 = 1;

/// The folder of a store's own files.
pub(crate) const STATE_FOLDER: &str = "_knit";

/// The record of a store's last complete run.
#[derive(Debug, Clone)]
pub(crate) struct StoreState {
    /// The run's number: 1 for the first.
    pub run: u64,
    /// The Knit version that wrote it.
    pub knit_version: String,
    /// `full` or `incremental`.
    pub mode: String,
    /// The fingerprint of the project's definitions (see [`fingerprint`]).
    pub fingerprint: String,
    /// The run's `--begin-time`, if any.
    pub begin_time: Option<String>,
    /// The run's end time.
    pub end_time: String,
    /// When the run started and finished.
    pub started_at: String,
    pub finished_at: String,
    /// The files each input table read, by table name.
    pub tables: BTreeMap<String, Vec<TableFile>>,
    /// The outputs published, as the run's manifest lists them.
    pub outputs: Vec<Value>,
    /// What the run refreshed, per entity (ids and clusters touched), when incremental.
    pub touched: Value,
    /// Per entity, the tables of its id graph and merge history, as
    /// `{"user": {"id_graph": "user_graph", "redirects": "user_graph_redirects"}}`:
    /// what `current_main_id` reads.
    pub entities: Value,
}

impl StoreState {
    /// The state file of the store at `store`.
    pub(crate) fn path(store: &Path) -> PathBuf {
        store.join(STATE_FOLDER).join("state.json")
    }

    /// The state of the store at `store`: `None` for a store no run has completed.
    pub(crate) async fn read(session: &KnitSession, store: &Path) -> Result<Option<Self>, String> {
        let path = Self::path(store);
        let Some(bytes) = session
            .read_file(&path.display().to_string())
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "'{}' is not a store state ({e}); run with --rebuild to start the store again",
                path.display()
            )
        })?;
        if value["format"].as_u64() != Some(STATE_FORMAT) {
            return Ok(None);
        }
        let text_of = |key: &str| value[key].as_str().unwrap_or_default().to_string();
        let mut tables = BTreeMap::new();
        if let Some(listed) = value["tables"].as_object() {
            for (table, files) in listed {
                let files = files
                    .as_array()
                    .map(|files| files.iter().filter_map(file_from_json).collect())
                    .unwrap_or_default();
                tables.insert(table.clone(), files);
            }
        }
        Ok(Some(Self {
            run: value["run"].as_u64().unwrap_or(0),
            knit_version: text_of("knit_version"),
            mode: text_of("mode"),
            fingerprint: text_of("fingerprint"),
            begin_time: value["begin_time"].as_str().map(str::to_string),
            end_time: text_of("end_time"),
            started_at: text_of("started_at"),
            finished_at: text_of("finished_at"),
            tables,
            outputs: value["outputs"].as_array().cloned().unwrap_or_default(),
            touched: value["touched"].clone(),
            entities: value["entities"].clone(),
        }))
    }

    /// The state as JSON.
    pub(crate) fn to_json(&self) -> Value {
        let tables: serde_json::Map<String, Value> = self
            .tables
            .iter()
            .map(|(table, files)| (table.clone(), files.iter().map(file_to_json).collect()))
            .collect();
        json!({
            "format": STATE_FORMAT,
            "run": self.run,
            "knit_version": self.knit_version,
            "mode": self.mode,
            "fingerprint": self.fingerprint,
            "begin_time": self.begin_time,
            "end_time": self.end_time,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "tables": tables,
            "outputs": self.outputs,
            "touched": self.touched,
            "entities": self.entities,
        })
    }
}

fn file_to_json(file: &TableFile) -> Value {
    json!({
        "url": file.url,
        "size": file.size,
        "modified_ms": file.modified_ms,
        "e_tag": file.e_tag,
    })
}

fn file_from_json(value: &Value) -> Option<TableFile> {
    Some(TableFile {
        url: value["url"].as_str()?.to_string(),
        size: value["size"].as_u64()?,
        modified_ms: value["modified_ms"].as_i64()?,
        e_tag: value["e_tag"].as_str().map(str::to_string),
    })
}

/// How a table's files now differ from those a run read.
#[derive(Debug, Default)]
pub(crate) struct FileChanges {
    /// Files not read before.
    pub added: Vec<TableFile>,
    /// A file read before that is gone or different, if any: the reason a refresh
    /// cannot only add rows.
    pub changed: Option<String>,
}

/// Compares the files a table has now with those it had.
pub(crate) fn file_changes(before: &[TableFile], now: &[TableFile]) -> FileChanges {
    let now_by_url: BTreeMap<&str, &TableFile> = now.iter().map(|f| (f.url.as_str(), f)).collect();
    let before_urls: std::collections::BTreeSet<&str> =
        before.iter().map(|f| f.url.as_str()).collect();
    let mut changes = FileChanges::default();
    for file in before {
        match now_by_url.get(file.url.as_str()) {
            None => {
                changes.changed = Some(format!("{} was deleted", file.url));
                break;
            }
            Some(current) if *current != file => {
                changes.changed = Some(format!("{} changed", file.url));
                break;
            }
            Some(_) => {}
        }
    }
    changes.added = now
        .iter()
        .filter(|f| !before_urls.contains(f.url.as_str()))
        .cloned()
        .collect();
    changes
}

/// The fingerprint of a project's statements: what they compute, without where this
/// run stages its outputs and without the run's end time (whose moves a refresh
/// handles), so that two runs of the same definitions share it. Comments and layout
/// are not part of it: a script whose comments or line breaks were edited computes the
/// same, and its next refresh stays incremental.
pub(crate) fn fingerprint(statements: &[&str], staging: &str, end_time: &str) -> String {
    let mut hasher = Sha256::new();
    for statement in statements {
        let text = statement
            .replace(staging, "<out>")
            .replace(end_time, "<end>");
        hasher.update(tokens_of(&text).as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The tokens of `sql` without its comments and whitespace, one space apart (words,
/// literals and quoted names as written); `sql` itself when it does not tokenize.
fn tokens_of(sql: &str) -> String {
    match knit_sql::significant_tokens(sql) {
        Some(tokens) => tokens
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        None => sql.to_string(),
    }
}

/// The store's lock, held while a run changes the store: the file `_knit/lock`, created
/// only when absent (on S3 by a conditional put), so that of two runs one takes it. It
/// names its holder as `pid@host`.
#[derive(Debug)]
pub(crate) struct StoreLock {
    path: String,
}

impl StoreLock {
    /// Takes the lock of the store at `store`. A lock left on this host by a process
    /// that is gone (a killed run) is taken over; one held by a running process, or by
    /// a run on another host, is an error naming it.
    pub(crate) async fn acquire(session: &KnitSession, store: &Path) -> Result<Self, String> {
        let path = store.join(STATE_FOLDER).join("lock").display().to_string();
        let host = this_host();
        let holder = format!("{}@{host}", std::process::id());
        for _ in 0..2 {
            if session
                .create_file(&path, holder.clone().into_bytes())
                .await
                .map_err(|e| e.to_string())?
            {
                return Ok(Self { path });
            }
            let held = session
                .read_file(&path)
                .await
                .map_err(|e| e.to_string())?
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_default();
            let (pid, held_host) = held
                .split_once('@')
                .unwrap_or((held.as_str(), host.as_str()));
            let gone = held_host == host
                && pid.parse::<u32>().is_ok_and(|pid| {
                    pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
                });
            if !gone {
                return Err(format!(
                    "another knit run (process {held}) is changing the store '{}': wait for \
                     it to finish (if no knit runs, remove '{path}')",
                    store.display(),
                ));
            }
            tracing::info!(lock = %path, "taking over the lock of a run that is gone");
            session
                .remove_file(&path)
                .await
                .map_err(|e| e.to_string())?;
        }
        Err(format!(
            "cannot take the lock '{path}': another run took it first"
        ))
    }

    /// Gives the lock up.
    pub(crate) async fn release(self, session: &KnitSession) {
        if let Err(e) = session.remove_file(&self.path).await {
            tracing::warn!(%e, "could not remove the store's lock");
        }
    }
}

/// This machine's name, which a lock names beside its process.
fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// Removes the staging folders runs killed in the store left: with the store's lock
/// held, no other run is writing one.
pub(super) async fn remove_staging_folders(
    session: &KnitSession,
    store: &Path,
) -> Result<(), String> {
    let entries = session
        .folder_entries(&store.display().to_string())
        .await
        .map_err(|e| format!("--store: {e}"))?;
    for name in entries.iter().filter(|n| n.starts_with(STAGING_PREFIX)) {
        tracing::debug!(folder = %name, "removing a killed run's staging folder");
        session
            .remove_folder(&store.join(name).display().to_string())
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(url: &str, size: u64) -> TableFile {
        TableFile {
            url: url.to_string(),
            size,
            modified_ms: 1,
            e_tag: None,
        }
    }

    #[test]
    fn new_files_are_added_and_a_changed_or_deleted_one_is_named() {
        let before = [
            file("file:///t/a.parquet", 10),
            file("file:///t/b.parquet", 20),
        ];
        let grown = [
            file("file:///t/a.parquet", 10),
            file("file:///t/b.parquet", 20),
            file("file:///t/c.parquet", 5),
        ];
        let changes = file_changes(&before, &grown);
        assert_eq!(changes.added, vec![file("file:///t/c.parquet", 5)]);
        assert!(changes.changed.is_none());
        let rewritten = [
            file("file:///t/a.parquet", 11),
            file("file:///t/b.parquet", 20),
        ];
        assert_eq!(
            file_changes(&before, &rewritten).changed.as_deref(),
            Some("file:///t/a.parquet changed")
        );
        let shrunk = [file("file:///t/b.parquet", 20)];
        assert_eq!(
            file_changes(&before, &shrunk).changed.as_deref(),
            Some("file:///t/a.parquet was deleted")
        );
    }

    #[test]
    fn the_fingerprint_ignores_the_staging_folder_and_the_end_time() {
        let one = fingerprint(
            &["COPY (x WHERE t <= '2024-01-01') TO '/s/.knit-run-1/o.parquet'"],
            "/s/.knit-run-1",
            "2024-01-01",
        );
        let two = fingerprint(
            &["COPY (x WHERE t <= '2024-02-01') TO '/s/.knit-run-2/o.parquet'"],
            "/s/.knit-run-2",
            "2024-02-01",
        );
        assert_eq!(one, two);
        assert_ne!(one, fingerprint(&["COPY (y) TO 'o'"], "/s", "2024-01-01"));
    }

    #[test]
    fn the_fingerprint_ignores_comments_and_layout_but_not_what_is_computed() {
        let print = |sql: &str| fingerprint(&[sql], "/s", "2024-01-01");
        let one = print("CREATE ENTITY VAR user.n AS count(*) FROM events WHERE kind = 'a  b'");
        assert_eq!(
            one,
            print(
                "-- how many events\nCREATE ENTITY VAR user.n\n  AS count(*) /* all */ \
                 FROM events\n  WHERE kind = 'a  b'"
            )
        );
        for other in [
            "CREATE ENTITY VAR user.n AS count(*) FROM events WHERE kind = 'a b'",
            "CREATE ENTITY VAR user.n AS count(*) FROM events WHERE kind = 'A  b'",
            "CREATE ENTITY VAR user.n AS count(*) FROM events WHERE \"kind\" = 'a  b'",
            "CREATE ENTITY VAR user.n AS count(1) FROM events WHERE kind = 'a  b'",
        ] {
            assert_ne!(one, print(other), "{other}");
        }
        // Statements stay apart: two are not one.
        assert_ne!(
            fingerprint(&["SET a = 1", "SET b = 2"], "/s", "e"),
            fingerprint(&["SET a = 1 SET b = 2"], "/s", "e")
        );
    }

    #[tokio::test]
    async fn a_lock_is_exclusive_until_released_and_a_dead_holder_is_taken_over() {
        let session = knit_core::SessionBuilder::new().build().unwrap();
        let store = std::env::temp_dir().join(format!("knit-lock-{}", std::process::id()));
        let lock_file = store.join(STATE_FOLDER).join("lock");
        std::fs::create_dir_all(store.join(STATE_FOLDER)).unwrap();
        // A lock naming a process of this host that does not exist is stale.
        std::fs::write(&lock_file, format!("4294967290@{}", this_host())).unwrap();
        let lock = StoreLock::acquire(&session, &store).await.unwrap();
        let held = std::fs::read_to_string(&lock_file).unwrap();
        assert_eq!(held, format!("{}@{}", std::process::id(), this_host()));
        let error = StoreLock::acquire(&session, &store).await.unwrap_err();
        assert!(
            error.contains(&format!("another knit run (process {held})")),
            "{error}"
        );
        lock.release(&session).await;
        assert!(!lock_file.exists());
        // A run on another host cannot be checked: its lock stands.
        std::fs::write(&lock_file, "4294967290@elsewhere").unwrap();
        let error = StoreLock::acquire(&session, &store).await.unwrap_err();
        assert!(error.contains("process 4294967290@elsewhere"), "{error}");
        assert!(error.contains("remove"), "{error}");
        std::fs::remove_dir_all(&store).unwrap();
    }
}
