// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `COPY ... TO 'file'` without half-written files: the rows go to a hidden name beside
//! the target, which is renamed to the target once every row is written. A failing or
//! cancelled query leaves the target as it was, and no staged file on local disk. A
//! killed one may leave the hidden file, named `.<target>.knit-<pid>-<n>.tmp`, with a
//! `#<n>` suffix while it is written: the next `COPY` into the folder removes those of
//! processes that are gone.
//!
//! On local disk the target is written as a user would expect of a file they own: its
//! mode and owner are kept, a symbolic link is written through (the file it points to
//! is replaced, the link stays), a read-only file is refused, and so is a folder in the
//! place of a file.
//!
//! DataFusion writes straight to the target, so a query that fails after its first
//! batches leaves a truncated file under the name users read. Directory targets (a
//! trailing `/`, or `PARTITIONED BY`) are written as DataFusion writes them.

use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::logical_expr::LogicalPlan;
use datafusion::logical_expr::dml::CopyTo;
use datafusion::prelude::SessionContext;
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::error::{CoreError, Result, UNFINISHED_WRITE_ADVICE, is_unfinished_write};

/// The DataFusion option that makes the sink write one file at the exact path.
const SINGLE_FILE: &str = "single_file_output";

/// A copy to one file, staged under a temporary name.
pub(crate) struct StagedCopy {
    target: ListingTableUrl,
    temp: ListingTableUrl,
    /// On local disk: the file replaced, whose mode and owner the new one takes.
    existing: Option<std::fs::Metadata>,
}

impl StagedCopy {
    /// The staging of a copy, or `None` when it writes a directory.
    pub fn prepare(copy: &CopyTo) -> Result<Option<Self>> {
        // A path written as a file (with an extension, without a final '/') that names a
        // folder on local disk: DataFusion would write a file of its own naming into it.
        let written = copy.output_url.as_str();
        let as_file = !written.ends_with('/')
            && std::path::Path::new(written).extension().is_some()
            && copy.partition_by.is_empty();
        if as_file && !written.contains("://") && std::path::Path::new(written).is_dir() {
            return Err(CoreError::invalid(format!(
                "COPY target '{written}' is a folder: name a file, or end the path with '/' \
                 to write files into the folder"
            )));
        }
        let target = ListingTableUrl::parse(&copy.output_url)?;
        let single_file = match copy.options.get(SINGLE_FILE).map(|v| v.trim()) {
            Some("true") => true,
            Some(_) => false,
            None => !target.is_collection() && target.file_extension().is_some(),
        };
        if !single_file || !copy.partition_by.is_empty() {
            return Ok(None);
        }
        // On local disk, a link is written through: the file it points to is the target.
        let mut output_url = copy.output_url.clone();
        let mut existing = None;
        if !output_url.contains("://") {
            let path = std::path::Path::new(&output_url);
            if let Ok(real) = std::fs::canonicalize(path)
                && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
            {
                output_url = real.display().to_string();
            }
            let path = std::path::Path::new(&output_url);
            if let Ok(metadata) = std::fs::metadata(path) {
                // Mode bits, and (for a process that may ignore them, or a file of
                // another owner) whether the file opens for writing.
                let writable = std::fs::OpenOptions::new().write(true).open(path).is_ok();
                if metadata.permissions().readonly() || !writable {
                    return Err(CoreError::invalid(format!(
                        "COPY target '{}' is read-only: make it writable (chmod u+w) or \
                         write to another file",
                        copy.output_url
                    )));
                }
                existing = Some(metadata);
            }
            if let Some(folder) = path.parent() {
                remove_stale_staged_files(folder);
            }
        }
        let target = ListingTableUrl::parse(&output_url)?;
        let Some(name) = target.prefix().filename() else {
            return Ok(None);
        };
        static STAGED: AtomicU64 = AtomicU64::new(0);
        let temp_name = format!(
            ".{name}.knit-{}-{}.tmp",
            std::process::id(),
            STAGED.fetch_add(1, Ordering::Relaxed)
        );
        let temp = match output_url.rsplit_once(name) {
            Some((directory, _)) => format!("{directory}{temp_name}"),
            None => return Ok(None),
        };
        let temp = ListingTableUrl::parse(temp)?;
        if let Ok(path) = temp.get_url().to_file_path() {
            probe_writable(&path, &copy.output_url)?;
        }
        Ok(Some(Self {
            target,
            temp,
            existing,
        }))
    }

    /// Runs the copy into the temporary file and renames it to the target; on failure
    /// the temporary file is removed. Returns the copy's result (the row count).
    pub async fn run(self, ctx: &SessionContext, copy: &CopyTo) -> Result<Vec<RecordBatch>> {
        let mut staged = copy.clone();
        staged.output_url = self.temp.as_str().to_string();
        staged
            .options
            .insert(SINGLE_FILE.to_string(), "true".to_string());
        let store = ctx.runtime_env().object_store(self.target.object_store())?;
        // A cancelled copy (Ctrl-C, a statement timeout) is dropped between awaits; the
        // guard removes its staged file then. The store removes a half-written one.
        let mut guard = StagedFileGuard(self.temp.get_url().to_file_path().ok());
        let written = async {
            ctx.execute_logical_plan(LogicalPlan::Copy(staged))
                .await?
                .collect()
                .await
        }
        .await;
        let temp_path: &Path = self.temp.prefix();
        match written {
            Ok(batches) => {
                if let Some(existing) = &self.existing {
                    keep_mode_and_owner(temp_path, existing);
                }
                store
                    .rename(temp_path, self.target.prefix())
                    .await
                    .map_err(|e| {
                        datafusion::error::DataFusionError::ObjectStore(Box::new(e))
                            .context(format!("renaming the copy to {}", self.target))
                    })?;
                guard.0 = None;
                tracing::debug!(target = %self.target, "copy committed");
                Ok(batches)
            }
            Err(error) => {
                let error = if is_unfinished_write(&error) {
                    CoreError::Write {
                        target: copy.output_url.clone(),
                        detail: UNFINISHED_WRITE_ADVICE.to_string(),
                    }
                } else {
                    error.into()
                };
                if let Err(cleanup) = store.delete(temp_path).await
                    && !matches!(cleanup, object_store::Error::NotFound { .. })
                {
                    tracing::warn!(temp = %self.temp, %cleanup, "could not remove a staged copy");
                }
                Err(error)
            }
        }
    }
}

/// Creates (and removes) the staged file at `path`, creating missing folders as the
/// store would, so that a target the file system refuses is an error naming the cause
/// before any row is computed. (The store itself retries some refusals forever: a
/// file under `/proc` is "not found" however often its folder is created.)
fn probe_writable(path: &std::path::Path, target: &str) -> Result<()> {
    let refused = |error: std::io::Error| {
        let fix = match error.kind() {
            std::io::ErrorKind::PermissionDenied => "check the folder's permissions",
            std::io::ErrorKind::ReadOnlyFilesystem => "the file system is read-only",
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                "free some space"
            }
            _ => "write to a folder of an ordinary file system",
        };
        CoreError::Write {
            target: target.to_string(),
            detail: format!("{error}: {fix}"),
        }
    };
    if let Some(folder) = path.parent()
        && !folder.is_dir()
    {
        std::fs::create_dir_all(folder).map_err(refused)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(refused)?;
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// Removes a local staged file that was never renamed into place, when dropped, and
/// the store's half-written `<staged>#<n>` beside it: the writer that holds that one is
/// a task of its own, which may not run again to remove it (at process exit, say).
struct StagedFileGuard(Option<std::path::PathBuf>);

impl Drop for StagedFileGuard {
    fn drop(&mut self) {
        let Some(path) = self.0.take() else {
            return;
        };
        // Gone already when the copy failed and removed it: nothing to do.
        let _ = std::fs::remove_file(&path);
        let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
            return;
        };
        let partial = format!("{}#", name.to_string_lossy());
        for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&partial) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Gives the staged file at `temp` (a local object path) the mode and owner of the file
/// it replaces. The owner can only be kept by a process allowed to give files away
/// (root); otherwise the file is the writer's, as any new file is.
fn keep_mode_and_owner(temp: &Path, existing: &std::fs::Metadata) {
    let path = std::path::PathBuf::from(format!("/{temp}"));
    if let Err(e) = std::fs::set_permissions(&path, existing.permissions()) {
        tracing::debug!(%e, "could not keep the target's mode");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::chown(&path, Some(existing.uid()), Some(existing.gid()));
    }
}

/// Removes the staged files in `folder` (`.<name>.knit-<pid>-<n>.tmp`, and the
/// `#<n>`-suffixed files the local store writes first) of processes that are gone.
fn remove_stale_staged_files(folder: &std::path::Path) {
    let folder = if folder.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        folder
    };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(staged) = name.strip_prefix('.') else {
            continue;
        };
        let Some((_, rest)) = staged.split_once(".knit-") else {
            continue;
        };
        let Some((pid, tail)) = rest.split_once('-') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if !tail.contains(".tmp") || pid == std::process::id() {
            continue;
        }
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            tracing::debug!(file = %name, "removing a killed copy's staged file");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
