// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `IdLabelsExec`: the cluster label of every id fingerprint, from the pairs of
//! [`super::keys::IdKeysExec`]; the one task of a spread stitch
//! that sees every id.
//!
//! It holds per id only its 8-byte fingerprint in a hash table, a 4-byte node number
//! and 8 bytes of union-find, some 30–45 bytes an id against the stitch's 160–220, so
//! that the task finding the labels needs a fraction of a whole stitch's memory. Pairs
//! are joined as they arrive; at the end each fingerprint is emitted with its set's
//! number as its label (`node`, `label`, both `UInt64`), a batch at a time, from the
//! table itself. The table and the sets are reserved in the pool as they grow: past
//! the limit the query fails naming `IdLabelsExec`.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    InputDistributionRequirements, Partitioning, PlanProperties, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};

use crate::error::internal;
use crate::kernels::union_find::UnionFind;

/// A fingerprint is a hash already: the table uses it as it is.
#[derive(Debug, Default, Clone, Copy)]
struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type Fingerprints = HashMap<u64, u32, BuildHasherDefault<FingerprintHasher>>;

/// The sets of fingerprints joined so far.
#[derive(Debug)]
struct Labels {
    nodes: Fingerprints,
    sets: UnionFind,
}

impl Labels {
    fn new() -> Self {
        Self {
            nodes: Fingerprints::default(),
            sets: UnionFind::new(0),
        }
    }

    fn node(&mut self, fingerprint: u64) -> Result<u32> {
        let next = self.nodes.len();
        let node = *self.nodes.entry(fingerprint).or_insert(next as u32);
        if node as usize == next {
            let len = u32::try_from(next + 1).map_err(|_| {
                DataFusionError::ResourcesExhausted(
                    "IdLabelsExec: more than 4 billion distinct ids in one stitch".to_string(),
                )
            })?;
            self.sets.grow_to(len);
        }
        Ok(node)
    }

    /// Joins the pairs of `batch` (`a`, and `b` or NULL).
    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let (Some(a), Some(b)) = (
            batch.column(0).as_primitive_opt::<UInt64Type>(),
            batch.column(1).as_primitive_opt::<UInt64Type>(),
        ) else {
            return Err(internal("IdLabelsExec reads two UInt64 columns"));
        };
        for row in 0..batch.num_rows() {
            if a.is_null(row) {
                continue;
            }
            let first = self.node(a.value(row))?;
            if b.is_valid(row) {
                let second = self.node(b.value(row))?;
                self.sets.union(first, second);
            }
        }
        Ok(())
    }

    /// Bytes held: the table's slots (key, value and control byte) and the sets.
    fn allocated_bytes(&self) -> usize {
        self.nodes.capacity() * (size_of::<(u64, u32)>() + 1) + self.sets.allocated_bytes()
    }
}

/// The labels of the fingerprints its input's pairs name, in one partition.
#[derive(Debug)]
pub(crate) struct IdLabelsExec {
    pairs: Arc<dyn ExecutionPlan>,
    cache: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl IdLabelsExec {
    /// The labels of the pairs `pairs` gives (`a`, `b`: fingerprints).
    pub(crate) fn new(pairs: Arc<dyn ExecutionPlan>) -> Self {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("node", DataType::UInt64, false),
            Field::new("label", DataType::UInt64, false),
        ]));
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Self {
            pairs,
            cache,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for IdLabelsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdLabelsExec")
    }
}

impl ExecutionPlan for IdLabelsExec {
    fn name(&self) -> &str {
        "IdLabelsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        InputDistributionRequirements::new(vec![Distribution::SinglePartition])
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.pairs]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [pairs] = children.as_slice() else {
            return Err(internal("IdLabelsExec has one child"));
        };
        Ok(Arc::new(Self::new(Arc::clone(pairs))))
    }

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(internal(format!(
                "IdLabelsExec has one partition, not {partition}"
            )));
        }
        let pairs = Arc::clone(&self.pairs);
        let schema = self.schema();
        let batch_size = ctx.session_config().batch_size().max(1);
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let nodes: Count = MetricBuilder::new(&self.metrics).counter("nodes", partition);
        let stream = futures::stream::once(async move {
            let reservation = MemoryConsumer::new("IdLabelsExec").register(ctx.memory_pool());
            let mut labels = Labels::new();
            for input in 0..pairs.output_partitioning().partition_count() {
                let mut batches = pairs.execute(input, Arc::clone(&ctx))?;
                while let Some(batch) = batches.next().await {
                    let batch = batch?;
                    let _timer = baseline.elapsed_compute().timer();
                    labels.add(&batch)?;
                    reservation.try_resize(labels.allocated_bytes())?;
                }
            }
            nodes.add(labels.nodes.len());
            let Labels {
                nodes: fingerprints,
                sets,
            } = labels;
            let (label_of, _) = sets.into_clusters();
            let mut fingerprints = fingerprints.into_iter();
            Ok::<_, DataFusionError>(futures::stream::iter(std::iter::from_fn(move || {
                let _timer = baseline.elapsed_compute().timer();
                let (nodes, labels): (Vec<u64>, Vec<u64>) = fingerprints
                    .by_ref()
                    .take(batch_size)
                    .map(|(fingerprint, node)| (fingerprint, u64::from(label_of[node as usize])))
                    .unzip();
                if nodes.is_empty() {
                    reservation.free();
                    baseline.done();
                    return None;
                }
                baseline.record_output(nodes.len());
                Some(
                    RecordBatch::try_new(
                        Arc::clone(&schema),
                        vec![
                            Arc::new(UInt64Array::from(nodes)),
                            Arc::new(UInt64Array::from(labels)),
                        ],
                    )
                    .map_err(DataFusionError::from),
                )
            })))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_join_fingerprints_and_singles_stay_alone() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::UInt64, false),
            Field::new("b", DataType::UInt64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt64Array::from(vec![10, 30, 20, 50, 60])),
                Arc::new(UInt64Array::from(vec![
                    Some(20),
                    Some(40),
                    Some(30),
                    None,
                    Some(60),
                ])),
            ],
        )
        .unwrap();
        let mut labels = Labels::new();
        labels.add(&batch).unwrap();
        let Labels { nodes, sets } = labels;
        let (label_of, sets) = sets.into_clusters();
        let label = |fingerprint: u64| label_of[nodes[&fingerprint] as usize];
        assert_eq!(sets, 3);
        assert_eq!(nodes.len(), 6);
        assert!([20, 30, 40].iter().all(|&f| label(f) == label(10)));
        assert_ne!(label(50), label(10));
        assert_ne!(label(60), label(50));
    }
}
