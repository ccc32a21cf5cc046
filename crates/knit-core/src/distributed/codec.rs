// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `KnitCodec`: Knit's operators in the plans sent to workers.
//!
//! DataFusion's own operators, expressions and file scans travel as `datafusion-proto`
//! encodes them; functions travel by name and are found in the worker's session, which
//! has Knit's. This codec adds the stitch's operators ([`crate::stitch`]'s wire form)
//! and `connected_components`. An operator it does not know (a kept result, a report,
//! a Delta scan) fails to encode, and the session then runs that query locally.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{
    AsExecutionPlan, PhysicalExtensionCodec, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf::PhysicalPlanNode;
use prost::Message;
use serde::{Deserialize, Serialize};

use super::merge::MergePartitionsExec;
use crate::components::ConnectedComponentsExec;
use crate::error::internal;
use crate::stitch::{SharedStitches, StitchNode, decode_node, encode_node};

/// A Knit operator as data, with the output schema of the operator (its children are
/// encoded by DataFusion beside it).
#[derive(Debug, Serialize, Deserialize)]
enum KnitNode {
    Stitch {
        node: StitchNode,
        schema: Vec<u8>,
    },
    ConnectedComponents {
        partitions: usize,
        /// The node column's name, if the rows carry their node.
        node: Option<String>,
        component: String,
    },
    /// The input travels inside: the distributed planner sees no child.
    MergePartitions {
        input: Vec<u8>,
    },
}

/// Encodes and decodes Knit's operators; on a worker, its decoded stitch operators
/// share their builds through `builds`.
#[derive(Debug, Default, Clone)]
pub(crate) struct KnitCodec {
    builds: SharedStitches,
}

impl KnitCodec {
    /// A codec whose decoded stitch operators share the builds of `builds`.
    pub(crate) fn new(builds: SharedStitches) -> Self {
        Self { builds }
    }
}

fn codec_error(what: &str, e: impl std::fmt::Display) -> DataFusionError {
    internal(format!("{what}: {e}"))
}

fn encode_schema(schema: &Schema) -> Result<Vec<u8>> {
    let proto = datafusion_proto::protobuf::Schema::try_from(schema)
        .map_err(|e| codec_error("encoding a stitch's schema", e))?;
    Ok(proto.encode_to_vec())
}

fn decode_schema(bytes: &[u8]) -> Result<SchemaRef> {
    let proto = datafusion_proto::protobuf::Schema::decode(bytes)
        .map_err(|e| codec_error("decoding a stitch's schema", e))?;
    let schema = Schema::try_from(&proto).map_err(|e| codec_error("a stitch's schema", e))?;
    Ok(Arc::new(schema))
}

impl PhysicalExtensionCodec for KnitCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        _converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let node: KnitNode =
            serde_json::from_slice(buf).map_err(|e| codec_error("decoding a Knit operator", e))?;
        match node {
            KnitNode::Stitch { node, schema } => {
                decode_node(node, inputs, decode_schema(&schema)?, &self.builds)
            }
            KnitNode::MergePartitions { input } => {
                let input = PhysicalPlanNode::decode(input.as_slice())
                    .map_err(|e| codec_error("decoding a merged input", e))?
                    .try_into_physical_plan(ctx, self)?;
                Ok(Arc::new(MergePartitionsExec::new(input)))
            }
            KnitNode::ConnectedComponents {
                partitions,
                node,
                component,
            } => {
                let [input] = inputs else {
                    return Err(internal(
                        "ConnectedComponentsExec arrived without one input",
                    ));
                };
                Ok(Arc::new(ConnectedComponentsExec::with_columns(
                    Arc::clone(input),
                    partitions,
                    node.as_deref(),
                    &component,
                )?))
            }
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let wire = if let Some(stitch) = encode_node(node.as_ref())? {
            KnitNode::Stitch {
                node: stitch,
                schema: encode_schema(&node.schema())?,
            }
        } else if let Some(components) = node.downcast_ref::<ConnectedComponentsExec>() {
            let (node, component) = components.column_names();
            KnitNode::ConnectedComponents {
                partitions: components.partitions(),
                node: node.map(str::to_owned),
                component: component.to_owned(),
            }
        } else if let Some(merge) = node.downcast_ref::<MergePartitionsExec>() {
            let input = PhysicalPlanNode::try_from_physical_plan(Arc::clone(merge.input()), self)?;
            KnitNode::MergePartitions {
                input: input.encode_to_vec(),
            }
        } else {
            return Err(DataFusionError::NotImplemented(format!(
                "{} cannot run on a worker",
                node.name()
            )));
        };
        serde_json::to_writer(buf, &wire).map_err(|e| codec_error("encoding a Knit operator", e))
    }
}
