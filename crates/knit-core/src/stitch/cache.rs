// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Stitches kept from one query to the next: a project run (or a script) that asks for
//! the id graph, the feature table and each feature view of one entity stitches once.
//!
//! A stitch is found again when the entity's definition, its inputs' plans and the
//! inputs' data (`crate::data_version`) are the same. An input read from anything but
//! files and in-memory tables (a table function, say) is never reused. A changed input,
//! file or definition makes a new stitch; a failed one is dropped.
//!
//! A kept stitch holds its memory in the pool, and is dropped once some queries in a
//! row have not read it (`crate::recent`).

use std::sync::Arc;

use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;

use super::spec::StitchSpec;
use super::state::SharedStitch;
use crate::data_version::data_version;
use crate::recent::Recent;

/// The stitches of a session's recent queries.
#[derive(Debug, Default)]
pub(crate) struct StitchCache {
    recent: Recent<Key, SharedStitch>,
}

/// What a kept stitch is found by.
#[derive(Debug)]
struct Key {
    spec: Arc<StitchSpec>,
    inputs: Vec<LogicalPlan>,
    data: u64,
}

impl StitchCache {
    /// Starts planning a new query ([`Recent::begin_query`]).
    pub(crate) fn begin_query(&self) -> Result<()> {
        self.recent.begin_query()
    }

    /// The kept stitch of `spec` over `inputs` (planned as `physical_inputs` under
    /// `config`), or a new one, kept if its inputs' data can be known. `inputs` are
    /// compared as given: the planner passes them as `crate::plan_identity` makes them.
    pub(crate) fn shared(
        &self,
        spec: &Arc<StitchSpec>,
        inputs: &[LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        config: &ConfigOptions,
    ) -> Result<Arc<SharedStitch>> {
        let Some(data) = data_version(physical_inputs, config) else {
            return Ok(Arc::new(SharedStitch::default()));
        };
        self.recent.find_or_insert(
            |key| {
                key.data == data
                    && key.spec.same_stitch(spec)
                    && key.spec.entity.definition == spec.entity.definition
                    && key.inputs == inputs
            },
            SharedStitch::failed,
            || {
                let key = Key {
                    spec: Arc::clone(spec),
                    inputs: inputs.to_vec(),
                    data,
                };
                (key, Arc::default())
            },
        )
    }
}
