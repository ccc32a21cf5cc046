// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `StitchInspect`: the logical plan node of a question put to a stitch, over the plans
//! of the stitch's inputs (as `IdStitch` is).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};

use super::tables::Inspection;
use crate::stitch::spec::StitchSpec;

/// A report, chain or explanation computed from an entity's stitch.
#[derive(Debug, Clone)]
pub(crate) struct StitchInspectNode {
    spec: Arc<StitchSpec>,
    inspection: Inspection,
    inputs: Vec<LogicalPlan>,
    schema: DFSchemaRef,
}

impl StitchInspectNode {
    /// The node answering `inspection` from the stitch of `spec` over `inputs`.
    pub(crate) fn try_new(
        spec: Arc<StitchSpec>,
        inspection: Inspection,
        inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        let schema = inspection.schema(&spec.entity);
        let schema = Arc::new(DFSchema::try_from(schema.as_ref().clone())?);
        Ok(Self {
            spec,
            inspection,
            inputs,
            schema,
        })
    }

    /// The stitch asked.
    pub(crate) fn spec(&self) -> &Arc<StitchSpec> {
        &self.spec
    }

    /// The question.
    pub(crate) fn inspection(&self) -> &Inspection {
        &self.inspection
    }

    /// The plans of the stitch's inputs.
    pub(crate) fn input_plans(&self) -> &[LogicalPlan] {
        &self.inputs
    }
}

impl PartialEq for StitchInspectNode {
    fn eq(&self, other: &Self) -> bool {
        self.spec.same_stitch(&other.spec)
            && self.inspection == other.inspection
            && self.inputs == other.inputs
    }
}

impl Eq for StitchInspectNode {}

impl Hash for StitchInspectNode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.spec.entity.name.hash(state);
        self.spec.inputs.hash(state);
        self.inspection.hash(state);
        self.inputs.hash(state);
    }
}

impl PartialOrd for StitchInspectNode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        if !self.spec.same_stitch(&other.spec) || self.inspection != other.inspection {
            return None;
        }
        self.inputs.partial_cmp(&other.inputs)
    }
}

impl UserDefinedLogicalNodeCore for StitchInspectNode {
    fn name(&self) -> &str {
        "StitchInspect"
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
            "StitchInspect: entity={}, {}, inputs=[{}]",
            self.spec.entity.name,
            self.inspection,
            self.spec.input_names()
        )
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        Ok(Self {
            spec: Arc::clone(&self.spec),
            inspection: self.inspection.clone(),
            inputs,
            schema: Arc::clone(&self.schema),
        })
    }
}
