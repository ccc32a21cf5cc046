// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The logical side of the stitch: what to stitch, the `IdStitch` plan node over the
//! inputs' plans, and its physical planner.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Expr, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use datafusion_session::Session;

use super::exec::IdStitchExec;
use super::lookup::{MainIdLookupExec, MainIdLookupNode};
use super::shared::SharedStitch;
use crate::catalog::Entity;
use crate::components::ConnectedComponentsPlanner;

/// Which table the stitch produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StitchOutput {
    /// One row per node: main id, id, id type, `valid_at`, `first_seen_at`.
    IdGraph,
    /// pb's edge table.
    Edges,
    /// One row per cluster: its number ([`CLUSTER_COLUMN`]) and its main id. Feature
    /// queries group rows by cluster number and name the entities at the end.
    Clusters,
}

/// The column holding a cluster's number: the id of its main node, dense enough to
/// group on and cheaper than the main id's text.
pub const CLUSTER_COLUMN: &str = "__knit_cluster";

impl fmt::Display for StitchOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StitchOutput::IdGraph => "id_graph",
            StitchOutput::Edges => "edges",
            StitchOutput::Clusters => "clusters",
        })
    }
}

/// One input of a stitch: its name and the id type (index into the entity's id types)
/// of each of its id columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StitchInput {
    /// The input's name.
    pub name: String,
    /// The id type of each id column.
    pub column_types: Vec<u16>,
}

/// Everything the operator needs besides the rows.
#[derive(Debug)]
pub struct StitchSpec {
    /// The entity whose ids are stitched.
    pub entity: Arc<Entity>,
    /// Its inputs, in the order of the plan's children.
    pub inputs: Vec<StitchInput>,
    /// Which table to produce.
    pub output: StitchOutput,
}

impl StitchSpec {
    /// The schema of the produced table.
    pub fn schema(&self) -> SchemaRef {
        let time = || DataType::Timestamp(TimeUnit::Microsecond, None);
        let main = self.entity.main_id_column.as_str();
        Arc::new(Schema::new(match self.output {
            StitchOutput::IdGraph => vec![
                Field::new(main, DataType::Utf8, false),
                Field::new("other_id", DataType::Utf8, false),
                Field::new("other_id_type", DataType::Utf8, false),
                Field::new("valid_at", time(), true),
                Field::new("first_seen_at", time(), true),
            ],
            StitchOutput::Edges => vec![
                Field::new("id1", DataType::Utf8, true),
                Field::new("id1_type", DataType::Utf8, false),
                Field::new("id2", DataType::Utf8, true),
                Field::new("id2_type", DataType::Utf8, false),
                Field::new(main, DataType::Utf8, false),
                Field::new("valid_at", time(), true),
            ],
            StitchOutput::Clusters => vec![
                Field::new(CLUSTER_COLUMN, DataType::UInt32, false),
                Field::new(main, DataType::Utf8, false),
            ],
        }))
    }

    fn input_names(&self) -> String {
        self.inputs
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn same(&self, other: &Self) -> bool {
        self.output == other.output && self.same_stitch(other)
    }

    /// True when both stitch the same entity from the same inputs (whatever the output).
    pub(crate) fn same_stitch(&self, other: &Self) -> bool {
        self.entity.name == other.entity.name && self.inputs == other.inputs
    }
}

/// `IdStitch`: the id graph (or edges) of an entity, over one child plan per input.
#[derive(Debug, Clone)]
pub struct IdStitchNode {
    spec: Arc<StitchSpec>,
    inputs: Vec<LogicalPlan>,
    schema: DFSchemaRef,
}

impl IdStitchNode {
    /// A node over the plans of the spec's inputs, in order.
    pub fn try_new(spec: Arc<StitchSpec>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let schema = Arc::new(DFSchema::try_from(spec.schema().as_ref().clone())?);
        Ok(Self {
            spec,
            inputs,
            schema,
        })
    }

    /// What the node stitches.
    pub fn spec(&self) -> &Arc<StitchSpec> {
        &self.spec
    }
}

impl PartialEq for IdStitchNode {
    fn eq(&self, other: &Self) -> bool {
        self.spec.same(&other.spec) && self.inputs == other.inputs
    }
}

impl Eq for IdStitchNode {}

impl Hash for IdStitchNode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.spec.entity.name.hash(state);
        self.spec.output.hash(state);
        self.spec.inputs.hash(state);
        self.inputs.hash(state);
    }
}

impl PartialOrd for IdStitchNode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        // Nodes of different entities or outputs are unordered, as DataFusion's own
        // nodes are when their parameters differ.
        if !self.spec.same(&other.spec) {
            return None;
        }
        self.inputs.partial_cmp(&other.inputs)
    }
}

impl UserDefinedLogicalNodeCore for IdStitchNode {
    fn name(&self) -> &str {
        "IdStitch"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        self.inputs.iter().collect()
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IdStitch: entity={}, output={}, inputs=[{}]",
            self.spec.entity.name,
            self.spec.output,
            self.spec.input_names()
        )
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        Ok(Self {
            spec: Arc::clone(&self.spec),
            inputs,
            schema: Arc::clone(&self.schema),
        })
    }
}

/// A stitch planned in the current query: what it stitches, its inputs' plans, and the
/// result its operators share.
type PlannedStitch = (Arc<StitchSpec>, Vec<LogicalPlan>, Arc<SharedStitch>);

/// Plans `IdStitch` nodes as [`IdStitchExec`] and `MainIdLookup` nodes as
/// [`MainIdLookupExec`]. Within one query, every node over the same stitch (same entity,
/// same inputs) shares one result, so the stitch runs once.
#[derive(Debug, Default)]
pub struct IdStitchPlanner {
    planned: Mutex<Vec<PlannedStitch>>,
}

impl IdStitchPlanner {
    fn shared(&self, spec: &Arc<StitchSpec>, inputs: &[LogicalPlan]) -> Result<Arc<SharedStitch>> {
        let mut planned = self.planned.lock().map_err(|_| {
            DataFusionError::Internal("the stitch planner's lock is poisoned".to_string())
        })?;
        let shared = match planned
            .iter()
            .find(|(s, i, _)| s.same_stitch(spec) && i.as_slice() == inputs)
        {
            Some((_, _, shared)) => Arc::clone(shared),
            None => {
                let shared = Arc::new(SharedStitch::default());
                planned.push((Arc::clone(spec), inputs.to_vec(), Arc::clone(&shared)));
                shared
            }
        };
        shared.add_use();
        Ok(shared)
    }
}

#[async_trait]
impl ExtensionPlanner for IdStitchPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        if let Some(node) = node.as_any().downcast_ref::<IdStitchNode>() {
            let shared = self.shared(node.spec(), &node.inputs)?;
            let exec = IdStitchExec::try_new_shared(
                Arc::clone(node.spec()),
                physical_inputs.to_vec(),
                shared,
                session.config().target_partitions(),
            )?;
            return Ok(Some(Arc::new(exec)));
        }
        if let Some(node) = node.as_any().downcast_ref::<MainIdLookupNode>() {
            // The first child is the rows; the others are the stitch's inputs.
            let stitch_inputs: Vec<LogicalPlan> =
                logical_inputs[1..].iter().map(|&p| p.clone()).collect();
            let shared = self.shared(node.spec(), &stitch_inputs)?;
            let exec = MainIdLookupExec::try_new(
                node.lookup(),
                Arc::clone(node.spec()),
                Arc::clone(&physical_inputs[0]),
                physical_inputs[1..].to_vec(),
                shared,
            )?;
            return Ok(Some(Arc::new(exec)));
        }
        Ok(None)
    }
}

/// DataFusion's planner, taught Knit's plan nodes.
#[derive(Debug, Default)]
pub struct KnitQueryPlanner;

#[async_trait]
impl QueryPlanner for KnitQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // A planner per query: stitches are shared within a query, never across.
        DefaultPhysicalPlanner::with_extension_planners(vec![
            Arc::new(IdStitchPlanner::default()),
            Arc::new(ConnectedComponentsPlanner),
        ])
        .create_physical_plan(logical_plan, session)
        .await
    }
}
