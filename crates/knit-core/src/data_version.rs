// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! What data a plan reads, and under which settings, as a fingerprint: results kept
//! across queries (the stitch, kept feature queries) are found again only when it is
//! the same.
//!
//! The data is known by what the scans read: each file's path, size, modification
//! time and entity tag, or each in-memory table's batches (a table's batches stay where
//! they are while it lives; a new or changed table has new ones). A plan that reads
//! anything else (a table function, say) has no known version.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use datafusion::config::ConfigOptions;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::placeholder_row::PlaceholderRowExec;

/// A fingerprint of the data the plans read, if every leaf is a scan of files or of
/// in-memory batches (or reads nothing).
pub(crate) fn data_version(
    plans: &[Arc<dyn ExecutionPlan>],
    config: &ConfigOptions,
) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    // Settings can change results that the plans do not show (a time zone, say).
    for entry in config.entries() {
        (entry.key, entry.value).hash(&mut hasher);
    }
    for plan in plans {
        hash_leaves(plan.as_ref(), &mut hasher)?;
    }
    Some(hasher.finish())
}

fn hash_leaves(plan: &dyn ExecutionPlan, hasher: &mut DefaultHasher) -> Option<()> {
    let children = plan.children();
    if !children.is_empty() {
        for child in children {
            hash_leaves(child.as_ref(), hasher)?;
        }
        return Some(());
    }
    if plan.is::<EmptyExec>() || plan.is::<PlaceholderRowExec>() {
        return Some(());
    }
    let source = plan.downcast_ref::<DataSourceExec>()?.data_source();
    if let Some(files) = source.downcast_ref::<FileScanConfig>() {
        files.object_store_url.as_str().hash(hasher);
        for file in files.file_groups.iter().flat_map(|group| group.iter()) {
            let meta = &file.object_meta;
            (meta.location.as_ref(), meta.size, meta.last_modified).hash(hasher);
            meta.e_tag.hash(hasher);
            file.range.as_ref().map(|r| (r.start, r.end)).hash(hasher);
        }
        return Some(());
    }
    let memory = source.downcast_ref::<MemorySourceConfig>()?;
    for batch in memory.partitions().iter().flatten() {
        batch.num_rows().hash(hasher);
        for column in batch.columns() {
            (Arc::as_ptr(column) as *const () as usize).hash(hasher);
        }
    }
    Some(())
}
