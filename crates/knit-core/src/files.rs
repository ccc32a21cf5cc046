// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Whole files on local disk or S3, through the session's object stores: moving staged
//! outputs into place, writing a small file atomically, removing a staging folder.
//! `knit project run` publishes its outputs with these, once every one is written.

use datafusion::datasource::listing::ListingTableUrl;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::error::{CoreError, Result};
use crate::session::KnitSession;

impl KnitSession {
    /// The store and path of a local path or URL.
    fn locate(&self, path: &str) -> Result<(std::sync::Arc<dyn object_store::ObjectStore>, Path)> {
        let url = ListingTableUrl::parse(path)?;
        let store = self
            .context()
            .runtime_env()
            .object_store(url.object_store())?;
        Ok((store, url.prefix().clone()))
    }

    /// Moves the file `from` to `to` (replacing it): a rename on local disk, a copy and a
    /// delete on S3.
    pub async fn rename_file(&self, from: &str, to: &str) -> Result<()> {
        let (store, from_path) = self.locate(from)?;
        let (_, to_path) = self.locate(to)?;
        store
            .rename(&from_path, &to_path)
            .await
            .map_err(|e| CoreError::invalid(format!("moving '{from}' to '{to}': {e}")))
    }

    /// Writes `bytes` as the file `path`, whole or not at all (a hidden file beside it,
    /// renamed).
    pub async fn write_file(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        let (store, target) = self.locate(path)?;
        let name = target.filename().unwrap_or("file").to_string();
        let temp = match target.parts().count() {
            0 | 1 => Path::from(format!(".{name}.knit-{}.tmp", std::process::id())),
            _ => {
                let parent: Vec<_> = target.parts().collect();
                Path::from_iter(parent[..parent.len() - 1].iter().cloned())
                    .join(format!(".{name}.knit-{}.tmp", std::process::id()))
            }
        };
        store
            .put(&temp, bytes.into())
            .await
            .map_err(|e| CoreError::invalid(format!("writing '{path}': {e}")))?;
        store
            .rename(&temp, &target)
            .await
            .map_err(|e| CoreError::invalid(format!("writing '{path}': {e}")))
    }

    /// Removes every file under the folder `dir` (and, on local disk, the folder).
    pub async fn remove_folder(&self, dir: &str) -> Result<()> {
        if !dir.contains("://") {
            return match std::fs::remove_dir_all(dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(CoreError::invalid(format!("removing '{dir}': {e}"))),
            };
        }
        let (store, prefix) = self.locate(dir)?;
        let files: Vec<_> = store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| CoreError::invalid(format!("listing '{dir}': {e}")))?;
        for file in files {
            store
                .delete(&file.location)
                .await
                .map_err(|e| CoreError::invalid(format!("removing '{}': {e}", file.location)))?;
        }
        Ok(())
    }
}
