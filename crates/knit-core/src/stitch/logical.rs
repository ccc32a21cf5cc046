// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `IdStitch`: the logical plan node of a stitch, over one child plan per input.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};

use super::spec::StitchSpec;

/// `IdStitch`: the id graph (or edges, or clusters) of an entity, over one child plan
/// per input.
#[derive(Debug, Clone)]
pub(crate) struct IdStitchNode {
    spec: Arc<StitchSpec>,
    inputs: Vec<LogicalPlan>,
    schema: DFSchemaRef,
}

impl IdStitchNode {
    /// A node over the plans of the spec's inputs, in order.
    pub(crate) fn try_new(spec: Arc<StitchSpec>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let schema = Arc::new(DFSchema::try_from(spec.schema().as_ref().clone())?);
        Ok(Self {
            spec,
            inputs,
            schema,
        })
    }

    /// What the node stitches.
    pub(crate) fn spec(&self) -> &Arc<StitchSpec> {
        &self.spec
    }

    /// The plans of the inputs.
    pub(crate) fn input_plans(&self) -> &[LogicalPlan] {
        &self.inputs
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
