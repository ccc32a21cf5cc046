// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A merge that marks the rows it replaces deleted, instead of rewriting the files that
//! hold them: the table's deletion vectors (`delta.enableDeletionVectors`).
//!
//! Rewriting a file to drop a few of its rows costs the whole file. A refresh that
//! replaces a few customers' rows touches rows in nearly every file of a large table,
//! so a merge that rewrites them costs as much as writing the table anew. Here the
//! commit writes only what changed:
//!
//! - the new rows (inserted keys, and the new values of updated ones) in new files;
//! - the change data feed, in one file of `_change_data/` (inserts, updates before and
//!   after, deletes), as readers of the feed expect of a commit that removes rows;
//! - for each file holding a replaced row, its deletion vector: the positions of those
//!   rows, with the ones already deleted, in one file of the commit, and the file
//!   re-added with it (a file whose rows are all deleted is removed).
//!
//! The positions are found by reading the key columns of the table's files, which is
//! a small part of reading them whole.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::kernels::boolean::{and, not};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, ParquetFileReaderFactory as _,
};
use datafusion::execution::SessionState;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use datafusion::parquet::arrow::async_writer::AsyncArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use deltalake_core::DeltaTable;
use deltalake_core::kernel::transaction::CommitBuilder;
use deltalake_core::kernel::{
    Action, Add, AddCDCFile, DeletionVectorDescriptor, EagerSnapshot, Remove, StorageType,
};
use deltalake_core::protocol::DeltaOperation;
use deltalake_core::writer::{DeltaWriter as _, record_batch::RecordBatchWriter};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt as _;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use roaring::RoaringTreemap;

use crate::error::{DeltaError, Result};
use crate::location::TableLocation;

/// The table property that makes a table's deletes and merges mark rows deleted.
pub const DELETION_VECTORS: &str = "delta.enableDeletionVectors";

/// The prefix of the columns of a change row that hold the table's values before it.
pub(crate) const BEFORE: &str = "__knit_before_";
/// The column of a change row: true when the query gave the key (false: deleted).
pub(crate) const IN_SOURCE: &str = "__knit_in_source";
/// The column of a change row: true when the table had the key.
pub(crate) const IN_TABLE: &str = "__knit_in_table";

/// The magic number of a serialized deletion vector (Delta's `RoaringBitmapArray`).
const DV_MAGIC: u32 = 1_681_511_377;

/// True when the table of `snapshot` has deletion vectors on.
pub(crate) fn enabled(snapshot: &EagerSnapshot) -> bool {
    snapshot
        .metadata()
        .configuration()
        .get(DELETION_VECTORS)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// True when a merge into the table of `snapshot` marks rows deleted: when `asked`
/// (`None`: when the table has deletion vectors on), and the table neither partitions
/// nor maps its columns (such tables are merged by rewriting files).
pub(crate) fn applies(snapshot: &EagerSnapshot, asked: Option<bool>) -> bool {
    let mapped = snapshot
        .metadata()
        .configuration()
        .get("delta.columnMapping.mode")
        .is_some_and(|mode| !mode.eq_ignore_ascii_case("none"));
    asked.unwrap_or_else(|| enabled(snapshot))
        && !mapped
        && snapshot.metadata().partition_columns().is_empty()
}

/// What a merge by deletion vectors committed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MarkedMerge {
    /// The version committed.
    pub version: u64,
    /// Rows inserted.
    pub inserted: u64,
    /// Rows updated.
    pub updated: u64,
    /// Rows deleted.
    pub deleted: u64,
}

/// Merges `changes` into `table`: rows of a frame of changes (the query's values by
/// name, the table's under [`BEFORE`], and [`IN_SOURCE`] and [`IN_TABLE`]), keyed on
/// `keys`. `None` when no row changes (and nothing is committed). A table without
/// deletion vectors has them turned on first (one version that sets the property, made
/// only once the merge's files are written).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn merge(
    location: &TableLocation,
    table: &DeltaTable,
    state: &SessionState,
    changes: DataFrame,
    keys: &[String],
    properties: WriterProperties,
    merge_predicate: &str,
) -> Result<Option<MarkedMerge>> {
    let fail = |detail: String| DeltaError::Query {
        path: location.display.clone(),
        detail,
    };
    let delta = |e: deltalake_core::DeltaTableError| DeltaError::from_write(&location.display, e);
    let snapshot = table
        .snapshot()
        .map_err(|e| DeltaError::from_delta(&location.display, e))?
        .snapshot()
        .clone();
    let mut data = RecordBatchWriter::for_table(table)
        .map_err(delta)?
        .with_writer_properties(properties.clone());
    let schema = data.arrow_schema();
    let key_types: Vec<DataType> = keys
        .iter()
        .map(|k| {
            schema
                .field_with_name(k)
                .map(|f| f.data_type().clone())
                .map_err(|e| fail(e.to_string()))
        })
        .collect::<Result<_>>()?;
    let mut keyer = Keyer::new(&key_types, state, &location.display)?;
    let mut feed = ChangeFeed::new(location, &schema, properties);
    let mut counts = MarkedMerge::default();
    let mut replaced: HashSet<Box<[u8]>> = HashSet::new();
    let mut given: HashSet<Box<[u8]>> = HashSet::new();
    let started = std::time::Instant::now();
    let mut stream = changes
        .execute_stream()
        .await
        .map_err(|e| fail(e.to_string()))?;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| fail(e.to_string()))?;
        let flag = |name: &str| -> Result<datafusion::arrow::array::BooleanArray> {
            let column = batch
                .column_by_name(name)
                .ok_or_else(|| fail(format!("the changes lack column {name}")))?;
            Ok(column.as_boolean().clone())
        };
        let (in_source, in_table) = (flag(IN_SOURCE)?, flag(IN_TABLE)?);
        let after = image(&batch, &schema, "").map_err(|e| fail(e.to_string()))?;
        let before = image(&batch, &schema, BEFORE).map_err(|e| fail(e.to_string()))?;
        let arrow = |e: datafusion::arrow::error::ArrowError| fail(e.to_string());
        let inserts = and(&in_source, &not(&in_table).map_err(arrow)?).map_err(arrow)?;
        let updates = and(&in_source, &in_table).map_err(arrow)?;
        let deletes = not(&in_source).map_err(arrow)?;

        // The query's rows: new files, and their keys checked for repeats.
        let written = filter_record_batch(&after, &in_source).map_err(arrow)?;
        for row in keyer.keys(&written, keys)? {
            if !given.insert(row) {
                return Err(DeltaError::Invalid(format!(
                    "cannot merge into Delta table '{}': two of the query's rows have the \
                     same keys; a merge takes one row per key: deduplicate the rows, or \
                     merge on more columns",
                    location.display
                )));
            }
        }
        for row in keyer.keys(
            &filter_record_batch(&before, &in_table).map_err(arrow)?,
            keys,
        )? {
            replaced.insert(row);
        }
        if written.num_rows() > 0 {
            data.write(written).await.map_err(delta)?;
        }
        for (image, mask, kind) in [
            (&after, &inserts, "insert"),
            (&before, &updates, "update_preimage"),
            (&after, &updates, "update_postimage"),
            (&before, &deletes, "delete"),
        ] {
            let rows = filter_record_batch(image, mask).map_err(arrow)?;
            feed.write(rows, kind).await?;
        }
        counts.inserted += inserts.true_count() as u64;
        counts.updated += updates.true_count() as u64;
        counts.deleted += deletes.true_count() as u64;
    }
    if counts.inserted + counts.updated + counts.deleted == 0 {
        return Ok(None);
    }
    let mut actions: Vec<Action> = data
        .flush()
        .await
        .map_err(delta)?
        .into_iter()
        .map(Action::Add)
        .collect();
    actions.extend(feed.finish().await?.map(Action::Cdc));
    let compared = started.elapsed();
    let replaced = Arc::new(replaced);
    actions.extend(mark_deleted(location, &snapshot, keys, &key_types, replaced).await?);
    tracing::debug!(
        table = %location.url,
        ?compared,
        marked = ?started.elapsed() - compared,
        "merged by deletion vectors: the changes compared and written, the replaced rows marked"
    );

    let metrics = serde_json::json!({
        "num_source_rows": counts.inserted + counts.updated,
        "num_target_rows_inserted": counts.inserted,
        "num_target_rows_updated": counts.updated,
        "num_target_rows_deleted": counts.deleted,
        "num_target_rows_copied": 0,
        "num_output_rows": counts.inserted + counts.updated,
        "num_added_rows": counts.inserted + counts.updated,
    });
    let operation = DeltaOperation::Merge {
        predicate: None,
        merge_predicate: Some(merge_predicate.to_string()),
        matched_predicates: Vec::new(),
        not_matched_predicates: Vec::new(),
        not_matched_by_source_predicates: Vec::new(),
    };
    let table = if enabled(&snapshot) {
        table.clone()
    } else {
        table
            .clone()
            .set_tbl_properties()
            .with_properties(HashMap::from([(
                DELETION_VECTORS.to_string(),
                "true".to_string(),
            )]))
            .await
            .map_err(delta)?
    };
    let commit = CommitBuilder::default()
        .with_actions(actions)
        .with_app_metadata(HashMap::from([("operationMetrics".to_string(), metrics)]))
        .build(
            Some(table.snapshot().map_err(delta)?),
            table.log_store(),
            operation,
        )
        .await
        .map_err(|e| DeltaError::from_delta(&location.display, e))?;
    counts.version = commit.version;
    Ok(Some(counts))
}

/// The rows of one side of a change batch as the table's columns: the columns named as
/// the table's after `prefix`, cast to the table's types.
pub(crate) fn image(
    batch: &RecordBatch,
    schema: &SchemaRef,
    prefix: &str,
) -> datafusion::error::Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let name = format!("{prefix}{}", field.name());
            let column = batch.column_by_name(&name).ok_or_else(|| {
                datafusion::error::DataFusionError::Internal(format!(
                    "the changes lack column {name}"
                ))
            })?;
            Ok(cast(column, field.data_type())?)
        })
        .collect::<datafusion::error::Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// Key values as comparable bytes (Arrow's row format), with their memory held in the
/// session's pool.
struct Keyer {
    converter: RowConverter,
    types: Vec<DataType>,
    reservation: MemoryReservation,
    table: String,
}

impl Keyer {
    fn new(types: &[DataType], state: &SessionState, table: &str) -> Result<Self> {
        let converter = RowConverter::new(types.iter().cloned().map(SortField::new).collect())
            .map_err(|e| DeltaError::Invalid(format!("cannot merge on these keys: {e}")))?;
        let reservation =
            MemoryConsumer::new("DeltaMergeKeys").register(&state.runtime_env().memory_pool);
        Ok(Self {
            converter,
            types: types.to_vec(),
            reservation,
            table: table.to_string(),
        })
    }

    /// The keys of each row of `batch`, whose key columns are `keys`.
    fn keys(&mut self, batch: &RecordBatch, keys: &[String]) -> Result<Vec<Box<[u8]>>> {
        if batch.num_rows() == 0 {
            return Ok(Vec::new());
        }
        let rows =
            key_rows(&self.converter, &self.types, batch, keys).map_err(|e| DeltaError::Query {
                path: self.table.clone(),
                detail: e.to_string(),
            })?;
        let owned: Vec<Box<[u8]>> = rows.iter().map(|row| Box::from(row.as_ref())).collect();
        let bytes: usize = owned.iter().map(|row| row.len() + 48).sum();
        self.reservation
            .try_grow(bytes)
            .map_err(|e| DeltaError::Query {
                path: self.table.clone(),
                detail: format!("the keys of the rows the merge replaces: {e}"),
            })?;
        Ok(owned)
    }
}

/// The row-format keys of `batch`'s key columns.
fn key_rows(
    converter: &RowConverter,
    types: &[DataType],
    batch: &RecordBatch,
    keys: &[String],
) -> datafusion::error::Result<datafusion::arrow::row::Rows> {
    let columns = keys
        .iter()
        .zip(types)
        .map(|(key, data_type)| {
            let column = batch.column_by_name(key).ok_or_else(|| {
                datafusion::error::DataFusionError::Internal(format!("no key column {key}"))
            })?;
            Ok(cast(column, data_type)?)
        })
        .collect::<datafusion::error::Result<Vec<ArrayRef>>>()?;
    Ok(converter.convert_columns(&columns)?)
}

/// The change data feed of one commit, written to one file of `_change_data/` as rows
/// arrive (none when no row does).
struct ChangeFeed {
    location: TableLocation,
    schema: SchemaRef,
    properties: WriterProperties,
    writer: Option<(AsyncArrowWriter<BufWriter>, String)>,
}

impl ChangeFeed {
    fn new(location: &TableLocation, table: &SchemaRef, properties: WriterProperties) -> Self {
        let mut fields: Vec<Arc<Field>> = table.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new("_change_type", DataType::Utf8, false)));
        Self {
            location: location.clone(),
            schema: Arc::new(Schema::new(fields)),
            properties,
            writer: None,
        }
    }

    fn error(&self, detail: impl std::fmt::Display) -> DeltaError {
        DeltaError::Query {
            path: self.location.display.clone(),
            detail: format!("writing its change data feed: {detail}"),
        }
    }

    /// Writes `rows` (the table's columns) as changes of `kind`.
    async fn write(&mut self, rows: RecordBatch, kind: &str) -> Result<()> {
        if rows.num_rows() == 0 {
            return Ok(());
        }
        if self.writer.is_none() {
            let name = format!("_change_data/cdc-{}.parquet", uuid::Uuid::new_v4());
            let path = self.location.file_path(&name);
            let sink = BufWriter::new(self.location.store.clone(), path);
            let writer =
                AsyncArrowWriter::try_new(sink, self.schema.clone(), Some(self.properties.clone()))
                    .map_err(|e| self.error(e))?;
            self.writer = Some((writer, name));
        }
        let mut columns = rows.columns().to_vec();
        columns.push(Arc::new(StringArray::from(vec![kind; rows.num_rows()])));
        let batch =
            RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| self.error(e))?;
        let Some((writer, _)) = self.writer.as_mut() else {
            return Ok(());
        };
        let written = writer.write(&batch).await;
        written.map_err(|e| self.error(e))
    }

    /// Closes the file: its action, if a row was written.
    async fn finish(mut self) -> Result<Option<AddCDCFile>> {
        let Some((writer, name)) = self.writer.take() else {
            return Ok(None);
        };
        writer.close().await.map_err(|e| self.error(e))?;
        let meta = self
            .location
            .store
            .head(&self.location.file_path(&name))
            .await
            .map_err(|e| self.error(e))?;
        Ok(Some(AddCDCFile {
            path: name,
            size: i64::try_from(meta.size).unwrap_or(i64::MAX),
            partition_values: HashMap::new(),
            data_change: false,
            tags: None,
        }))
    }
}

/// The actions that mark the rows of `replaced` keys deleted in the files of
/// `snapshot`: each such file removed and added again with its new deletion vector
/// (all of them in one new file), or only removed when none of its rows is left.
async fn mark_deleted(
    location: &TableLocation,
    snapshot: &EagerSnapshot,
    keys: &[String],
    key_types: &[DataType],
    replaced: Arc<HashSet<Box<[u8]>>>,
) -> Result<Vec<Action>> {
    if replaced.is_empty() {
        return Ok(Vec::new());
    }
    #[allow(deprecated)] // the log's own add action is what a re-add must repeat
    let files: Vec<Add> = snapshot.log_data().iter().map(|f| f.add_action()).collect();
    let found: Vec<(Add, RoaringTreemap)> = futures::stream::iter(files)
        .map(|file| {
            let replaced = replaced.clone();
            async move {
                let deleted = positions(location, &file, keys, key_types, &replaced).await?;
                Ok::<_, DeltaError>(deleted.map(|deleted| (file, deleted)))
            }
        })
        .buffer_unordered(8)
        .try_filter_map(|found| async move { Ok(found) })
        .try_collect()
        .await?;
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let uuid = uuid::Uuid::new_v4();
    let descriptor = DeletionVectorDescriptor {
        storage_type: StorageType::UuidRelativePath,
        path_or_inline_dv: z85::encode(uuid.as_bytes()),
        offset: None,
        size_in_bytes: 0,
        cardinality: 0,
    };
    let dv_path = dv_store_path(location, &descriptor)?;
    let mut bytes: Vec<u8> = Vec::new();
    let mut actions = Vec::new();
    let now = chrono::Utc::now().timestamp_millis();
    {
        use delta_kernel::actions::deletion_vector_writer::{
            KernelDeletionVector, StreamingDeletionVectorWriter,
        };
        let mut writer = StreamingDeletionVectorWriter::new(&mut bytes);
        for (file, deleted) in found {
            let records = num_records(&file);
            actions.push(Action::Remove(removal(&file, true, now)));
            if records.is_some_and(|n| deleted.len() >= n) {
                continue;
            }
            let cardinality = deleted.len();
            let mut vector = KernelDeletionVector::new();
            vector.add_deleted_row_indexes(deleted.iter());
            let written = writer
                .write_deletion_vector(vector)
                .map_err(|e| dv_error(location, e))?;
            actions.push(Action::Add(Add {
                deletion_vector: Some(DeletionVectorDescriptor {
                    offset: Some(written.offset),
                    size_in_bytes: written.size_in_bytes,
                    cardinality: i64::try_from(cardinality).unwrap_or(i64::MAX),
                    ..descriptor.clone()
                }),
                stats: file.stats.as_deref().map(loose_bounds),
                modification_time: file.modification_time,
                data_change: true,
                ..file
            }));
        }
        writer.finalize().map_err(|e| dv_error(location, e))?;
    }
    if bytes.len() > 1 {
        location
            .store
            .put(&dv_path, bytes.into())
            .await
            .map_err(|e| dv_error(location, e))?;
    }
    Ok(actions)
}

fn dv_error(location: &TableLocation, e: impl std::fmt::Display) -> DeltaError {
    DeltaError::Query {
        path: location.display.clone(),
        detail: format!("writing its deletion vectors: {e}"),
    }
}

/// The action that removes `file` (as the log adds it, with its deletion vector) at
/// `now` (milliseconds since the Unix epoch).
pub(crate) fn removal(file: &Add, data_change: bool, now: i64) -> Remove {
    Remove {
        path: file.path.clone(),
        data_change,
        deletion_timestamp: Some(now),
        extended_file_metadata: Some(true),
        partition_values: Some(file.partition_values.clone()),
        size: Some(file.size),
        tags: file.tags.clone(),
        deletion_vector: file.deletion_vector.clone(),
        base_row_id: file.base_row_id,
        default_row_commit_version: file.default_row_commit_version,
    }
}

/// The rows a file holds, from its statistics.
pub(crate) fn num_records(file: &Add) -> Option<u64> {
    let stats: serde_json::Value = serde_json::from_str(file.stats.as_deref()?).ok()?;
    stats.get("numRecords")?.as_u64()
}

/// A file's statistics once rows of it are deleted: its minimum and maximum values may
/// be of deleted rows, so they bound the rows left without being tight.
fn loose_bounds(stats: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(stats) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.insert("tightBounds".to_string(), serde_json::Value::Bool(false));
            serde_json::Value::Object(map).to_string()
        }
        _ => stats.to_string(),
    }
}

/// Where a deletion vector stored in a file of the table lives, in the table's store.
fn dv_store_path(location: &TableLocation, descriptor: &DeletionVectorDescriptor) -> Result<Path> {
    let kernel: delta_kernel::actions::deletion_vector::DeletionVectorDescriptor = descriptor
        .clone()
        .try_into()
        .map_err(|e: delta_kernel::Error| dv_error(location, e))?;
    let url = kernel
        .absolute_path(&location.url)
        .map_err(|e| dv_error(location, e))?
        .ok_or_else(|| dv_error(location, "an inline deletion vector has no file"))?;
    Path::from_url_path(url.path()).map_err(|e| dv_error(location, e))
}

/// The deleted positions of a file: its deletion vector's.
async fn read_deletion_vector(
    location: &TableLocation,
    descriptor: &DeletionVectorDescriptor,
) -> Result<RoaringTreemap> {
    let bad = |detail: &str| DeltaError::Log {
        path: location.display.clone(),
        detail: format!("deletion vector {}: {detail}", descriptor.path_or_inline_dv),
    };
    let bitmap = if descriptor.storage_type == StorageType::Inline {
        let bytes = z85::decode(&descriptor.path_or_inline_dv).map_err(|_| bad("not base85"))?;
        let magic = bytes.get(..4).ok_or_else(|| bad("too short"))?;
        if u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]) != DV_MAGIC {
            return Err(bad("not a deletion vector"));
        }
        bytes[4..].to_vec()
    } else {
        let path = dv_store_path(location, descriptor)?;
        let offset = u64::try_from(descriptor.offset.unwrap_or(1)).map_err(|_| bad("offset"))?;
        let size = u64::try_from(descriptor.size_in_bytes).map_err(|_| bad("size"))?;
        // The size (4 bytes, big-endian), then the magic and the bitmap, then a checksum.
        let bytes = location
            .store
            .get_range(&path, offset..offset + 4 + size)
            .await
            .map_err(|e| bad(&e.to_string()))?;
        let magic = bytes.get(4..8).ok_or_else(|| bad("too short"))?;
        if u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]) != DV_MAGIC {
            return Err(bad("not a deletion vector"));
        }
        bytes[8..].to_vec()
    };
    RoaringTreemap::deserialize_from(&bitmap[..]).map_err(|e| bad(&e.to_string()))
}

/// The positions of `file`'s live rows whose keys are in `replaced`, with the positions
/// its deletion vector already deletes; `None` when no live row's key is.
async fn positions(
    location: &TableLocation,
    file: &Add,
    keys: &[String],
    key_types: &[DataType],
    replaced: &HashSet<Box<[u8]>>,
) -> Result<Option<RoaringTreemap>> {
    let error = |e: &dyn std::fmt::Display| DeltaError::Query {
        path: location.display.clone(),
        detail: format!("reading the keys of its file {}: {e}", file.path),
    };
    let mut deleted = match &file.deletion_vector {
        Some(descriptor) => read_deletion_vector(location, descriptor).await?,
        None => RoaringTreemap::new(),
    };
    let size = u64::try_from(file.size).unwrap_or_default();
    let partitioned = PartitionedFile::new(location.file_path(&file.path).to_string(), size);
    // (`AsyncFileReader` is `Send` itself, so the box's own bound is redundant.)
    let reader: Box<dyn AsyncFileReader> =
        DefaultParquetFileReaderFactory::new(location.store.clone())
            .create_reader(0, partitioned, None, &ExecutionPlanMetricsSet::new())
            .map_err(|e| error(&e))?;
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| error(&e))?;
    let roots: Vec<usize> = keys
        .iter()
        .map(|key| builder.schema().index_of(key).map_err(|e| error(&e)))
        .collect::<Result<_>>()?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let mut stream = builder
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| error(&e))?;
    let converter = RowConverter::new(key_types.iter().cloned().map(SortField::new).collect())
        .map_err(|e| error(&e))?;
    let mut position: u64 = 0;
    let mut found = false;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| error(&e))?;
        let rows = key_rows(&converter, key_types, &batch, keys).map_err(|e| error(&e))?;
        for (offset, row) in rows.iter().enumerate() {
            let at = position + offset as u64;
            if replaced.contains(row.as_ref()) && !deleted.contains(at) {
                deleted.insert(at);
                found = true;
            }
        }
        position += batch.num_rows() as u64;
    }
    Ok(found.then_some(deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_rows_loosen_a_files_bounds() {
        let stats = r#"{"numRecords":3,"minValues":{"id":1},"maxValues":{"id":9}}"#;
        let loose: serde_json::Value = serde_json::from_str(&loose_bounds(stats)).unwrap();
        assert_eq!(loose["tightBounds"], false);
        assert_eq!(loose["numRecords"], 3);
        assert_eq!(loose["maxValues"]["id"], 9);
        assert_eq!(loose_bounds("not json"), "not json");
        let file = Add {
            stats: Some(stats.to_string()),
            ..Add::default()
        };
        assert_eq!(num_records(&file), Some(3));
        assert_eq!(num_records(&Add::default()), None);
    }

    #[tokio::test]
    async fn a_written_deletion_vector_reads_back() {
        use delta_kernel::actions::deletion_vector_writer::{
            KernelDeletionVector, StreamingDeletionVectorWriter,
        };
        let dir = std::env::temp_dir().join(format!("knit-dv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = url::Url::from_directory_path(&dir).unwrap();
        let store: Arc<dyn object_store::ObjectStore> =
            Arc::new(object_store::local::LocalFileSystem::new());
        let location = TableLocation::new(
            "t",
            url,
            store.clone(),
            url::Url::parse("file:///").unwrap(),
        );
        // Two vectors in one file, as a commit writes them; the second is read back.
        let mut bytes = Vec::new();
        let mut writer = StreamingDeletionVectorWriter::new(&mut bytes);
        let mut first = KernelDeletionVector::new();
        first.add_deleted_row_indexes([0u64, 1]);
        writer.write_deletion_vector(first).unwrap();
        let mut second = KernelDeletionVector::new();
        second.add_deleted_row_indexes([3u64, 5, 1 << 33]);
        let written = writer.write_deletion_vector(second).unwrap();
        writer.finalize().unwrap();
        let uuid = uuid::Uuid::new_v4();
        let descriptor = DeletionVectorDescriptor {
            storage_type: StorageType::UuidRelativePath,
            path_or_inline_dv: z85::encode(uuid.as_bytes()),
            offset: Some(written.offset),
            size_in_bytes: written.size_in_bytes,
            cardinality: 3,
        };
        let path = dv_store_path(&location, &descriptor).unwrap();
        assert!(
            path.as_ref()
                .ends_with(&format!("deletion_vector_{uuid}.bin"))
        );
        store.put(&path, bytes.into()).await.unwrap();
        let read = read_deletion_vector(&location, &descriptor).await.unwrap();
        assert_eq!(read.iter().collect::<Vec<u64>>(), vec![3, 5, 1 << 33]);
        // A descriptor pointing past the vector is an error naming it, not a panic.
        let wrong = DeletionVectorDescriptor {
            offset: Some(2),
            ..descriptor
        };
        let error = read_deletion_vector(&location, &wrong).await.unwrap_err();
        assert!(error.to_string().contains("deletion vector"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
