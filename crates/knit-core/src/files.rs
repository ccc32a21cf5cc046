// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Whole files on local disk or S3, through the session's object stores: moving staged
//! outputs into place, writing a small file atomically or only when absent, reading
//! one, listing and removing a folder. `knit project run` publishes its outputs with
//! these, once every one is written, and a profile store keeps its state and lock.

use datafusion::datasource::listing::ListingTableUrl;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions};

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
        let (store, files) = self.files_under(dir).await?;
        for file in files {
            store
                .delete(&file.location)
                .await
                .map_err(|e| CoreError::invalid(format!("removing '{}': {e}", file.location)))?;
        }
        Ok(())
    }

    /// The bytes of the file `path`; `None` when there is none.
    pub async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let (store, location) = self.locate(path)?;
        let read = async { store.get(&location).await?.bytes().await };
        match read.await {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(CoreError::invalid(format!("reading '{path}': {e}"))),
        }
    }

    /// Writes `bytes` as the file `path` only when it does not exist (on S3 a
    /// conditional `If-None-Match: *` put): `false` when it already did, so that of two
    /// writers exactly one creates it.
    pub async fn create_file(&self, path: &str, bytes: Vec<u8>) -> Result<bool> {
        let (store, location) = self.locate(path)?;
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match store.put_opts(&location, bytes.into(), options).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(CoreError::invalid(format!("creating '{path}': {e}"))),
        }
    }

    /// Removes the file `path`, if there is one.
    pub async fn remove_file(&self, path: &str) -> Result<()> {
        let (store, location) = self.locate(path)?;
        match store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(CoreError::invalid(format!("removing '{path}': {e}"))),
        }
    }

    /// The names of the files and folders directly in the folder `dir`.
    pub async fn folder_entries(&self, dir: &str) -> Result<Vec<String>> {
        let (store, prefix) = self.locate(dir)?;
        let listed = match store.list_with_delimiter(Some(&prefix)).await {
            Ok(listed) => listed,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(CoreError::invalid(format!("listing '{dir}': {e}"))),
        };
        let names = listed
            .common_prefixes
            .iter()
            .chain(listed.objects.iter().map(|o| &o.location))
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        Ok(names)
    }

    /// The bytes of every file under the folder `dir`.
    pub async fn folder_size(&self, dir: &str) -> Result<u64> {
        let (_, files) = self.files_under(dir).await?;
        Ok(files.iter().map(|f| f.size).sum())
    }

    /// The store of the folder `dir`, and every file under it.
    async fn files_under(
        &self,
        dir: &str,
    ) -> Result<(
        std::sync::Arc<dyn object_store::ObjectStore>,
        Vec<object_store::ObjectMeta>,
    )> {
        let (store, prefix) = self.locate(dir)?;
        let files = store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| CoreError::invalid(format!("listing '{dir}': {e}")))?;
        Ok((store, files))
    }
}
