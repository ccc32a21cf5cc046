// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The wire form of the stitch's operators, so that a plan holding them can run on a
//! worker (`crate::distributed`).
//!
//! An operator travels as its spec: the entity as the `CREATE ENTITY` statement that
//! made it (compiled again on the worker, filters, regexes and limits included), its
//! inputs' names and id types, the output and columns it renders. Its children travel
//! as DataFusion's own plans. The build it shares travels as a key: the operators a
//! worker decodes with the same key share one build there, as they did where the plan
//! was made, and a build another plan of the same key started is reused (a key names
//! one build of one set of input data).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;
use serde::{Deserialize, Serialize};

use super::exec::IdStitchExec;
use super::keys::{IdKeysExec, KeysOutput};
use super::labels::IdLabelsExec;
use super::lookup::Lookup;
use super::lookup_exec::MainIdLookupExec;
use super::spec::{StitchColumn, StitchInput, StitchOutput, StitchSpec};
use super::state::SharedStitch;
use crate::catalog::Entity;
use crate::error::internal;

/// Every output, in the order of its wire number.
const OUTPUTS: [StitchOutput; 3] = [
    StitchOutput::IdGraph,
    StitchOutput::Edges,
    StitchOutput::Clusters,
];

/// Every column, in the order of its wire number.
const COLUMNS: [StitchColumn; 10] = [
    StitchColumn::MainId,
    StitchColumn::OtherId,
    StitchColumn::OtherIdType,
    StitchColumn::ValidAt,
    StitchColumn::FirstSeenAt,
    StitchColumn::Id1,
    StitchColumn::Id1Type,
    StitchColumn::Id2,
    StitchColumn::Id2Type,
    StitchColumn::Cluster,
];

/// A stitch operator as data; its children and output schema travel beside it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum StitchNode {
    /// An [`IdStitchExec`].
    Stitch {
        spec: SpecWire,
        partitions: usize,
        columns: Vec<u8>,
        /// Each partition stitches its own routed rows (module `spread`).
        #[serde(default)]
        routed: bool,
        /// The id types whose nodes it renders, when not all (module `type_filter`).
        #[serde(default)]
        id_types: Option<Vec<bool>>,
    },
    /// An [`IdLabelsExec`].
    Labels,
    /// An [`IdKeysExec`] of input number `input`: rows `width` ids wide, or pairs
    /// (`width` absent).
    Keys {
        spec: SpecWire,
        input: usize,
        width: Option<usize>,
    },
    /// A [`MainIdLookupExec`]: its first child is the rows, the others the stitch's
    /// inputs.
    Lookup { spec: SpecWire, id_types: Vec<u16> },
}

/// A [`StitchSpec`] and the key of its build.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SpecWire {
    entity: String,
    inputs: Vec<(String, Vec<u16>)>,
    output: u8,
    rules: bool,
    build: u64,
}

/// The builds a worker's decoded operators share, by key; entries go when the last
/// operator holding the build does.
#[derive(Debug, Default, Clone)]
pub(crate) struct SharedStitches(Arc<Mutex<HashMap<u64, Weak<SharedStitch>>>>);

impl SharedStitches {
    /// The build named `key`: the one a live operator holds, or a new one.
    fn get(&self, key: u64) -> Result<Arc<SharedStitch>> {
        let mut builds = self
            .0
            .lock()
            .map_err(|_| internal("the table of shared stitches is poisoned"))?;
        if let Some(build) = builds.get(&key).and_then(Weak::upgrade) {
            return Ok(build);
        }
        builds.retain(|_, build| build.strong_count() > 0);
        let build = Arc::new(SharedStitch::with_key(key));
        builds.insert(key, Arc::downgrade(&build));
        Ok(build)
    }
}

/// True when `plan` is a stitch operator whose build an earlier query started: it
/// will not read its inputs, so they must not be sent to workers to be read.
pub(crate) fn reads_kept_stitch(plan: &dyn ExecutionPlan) -> bool {
    if let Some(stitch) = plan.downcast_ref::<IdStitchExec>() {
        return stitch.parts().1.started();
    }
    plan.downcast_ref::<MainIdLookupExec>()
        .is_some_and(|lookup| lookup.parts().2.started())
}

/// The wire form of `plan`, if it is a stitch operator.
pub(crate) fn encode(plan: &dyn ExecutionPlan) -> Result<Option<StitchNode>> {
    if let Some(stitch) = plan.downcast_ref::<IdStitchExec>() {
        let (spec, shared, partitions, columns) = stitch.parts();
        let columns = columns.iter().map(|c| column_number(*c)).collect();
        return Ok(Some(StitchNode::Stitch {
            spec: SpecWire::of(spec, shared)?,
            partitions,
            columns,
            routed: stitch.is_routed(),
            id_types: stitch.rendered_types().map(|types| types.to_vec()),
        }));
    }
    if plan.is::<IdLabelsExec>() {
        return Ok(Some(StitchNode::Labels));
    }
    if let Some(keys) = plan.downcast_ref::<IdKeysExec>() {
        let (spec, input, output) = keys.parts();
        return Ok(Some(StitchNode::Keys {
            // The keys share no build.
            spec: SpecWire::of(spec, &SharedStitch::with_key(0))?,
            input,
            width: match output {
                KeysOutput::Rows { width } => Some(width),
                KeysOutput::Pairs => None,
            },
        }));
    }
    if let Some(lookup) = plan.downcast_ref::<MainIdLookupExec>() {
        let (lookup, spec, shared) = lookup.parts();
        return Ok(Some(StitchNode::Lookup {
            spec: SpecWire::of(spec, shared)?,
            id_types: lookup.id_types.clone(),
        }));
    }
    Ok(None)
}

/// The operator of a wire form over `children`, rendering `schema`.
pub(crate) fn decode(
    node: StitchNode,
    children: &[Arc<dyn ExecutionPlan>],
    schema: SchemaRef,
    builds: &SharedStitches,
) -> Result<Arc<dyn ExecutionPlan>> {
    match node {
        StitchNode::Stitch {
            spec,
            partitions,
            columns,
            routed,
            id_types,
        } => {
            let id_types = id_types.map(Arc::from);
            let columns = columns
                .into_iter()
                .map(|n| {
                    COLUMNS
                        .get(usize::from(n))
                        .copied()
                        .ok_or_else(|| internal(format!("no stitch column numbered {n}")))
                })
                .collect::<Result<Vec<_>>>()?;
            if routed {
                let exec =
                    IdStitchExec::routed(spec.decode_spec()?, children.to_vec(), columns, schema)?;
                return Ok(Arc::new(exec.with_types(id_types)?));
            }
            let (spec, shared) = spec.decode(builds)?;
            let exec = IdStitchExec::build(
                spec,
                children.to_vec(),
                shared,
                partitions.max(1),
                columns,
                schema,
                false,
            )?;
            Ok(Arc::new(exec.with_types(id_types)?))
        }
        StitchNode::Labels => {
            let [pairs] = children else {
                return Err(internal("an IdLabelsExec arrived without its pairs"));
            };
            Ok(Arc::new(IdLabelsExec::new(Arc::clone(pairs))))
        }
        StitchNode::Keys { spec, input, width } => {
            let [rows] = children else {
                return Err(internal("an IdKeysExec arrived without its rows"));
            };
            let output = match width {
                Some(width) => KeysOutput::Rows { width },
                None => KeysOutput::Pairs,
            };
            let exec = IdKeysExec::try_new(spec.decode_spec()?, input, output, Arc::clone(rows))?;
            Ok(Arc::new(exec))
        }
        StitchNode::Lookup { spec, id_types } => {
            let (spec, shared) = spec.decode(builds)?;
            let Some((rows, stitch_inputs)) = children.split_first() else {
                return Err(internal("a MainIdLookupExec arrived without its rows"));
            };
            let exec = MainIdLookupExec::try_new(
                Lookup { id_types },
                spec,
                Arc::clone(rows),
                stitch_inputs.to_vec(),
                shared,
            )?;
            Ok(Arc::new(exec))
        }
    }
}

fn column_number(column: StitchColumn) -> u8 {
    COLUMNS
        .iter()
        .position(|c| *c == column)
        .and_then(|n| u8::try_from(n).ok())
        .unwrap_or(u8::MAX)
}

impl SpecWire {
    fn of(spec: &StitchSpec, shared: &SharedStitch) -> Result<Self> {
        let output = OUTPUTS
            .iter()
            .position(|o| *o == spec.output)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| internal("a stitch output without a wire number"))?;
        Ok(Self {
            entity: spec.entity.definition.to_string(),
            inputs: spec
                .inputs
                .iter()
                .map(|i| (i.name.clone(), i.column_types.clone()))
                .collect(),
            output,
            rules: spec.rules,
            build: shared.key(),
        })
    }

    fn decode(self, builds: &SharedStitches) -> Result<(Arc<StitchSpec>, Arc<SharedStitch>)> {
        let build = self.build;
        Ok((self.decode_spec()?, builds.get(build)?))
    }

    /// The spec alone, for an operator that shares no build.
    fn decode_spec(self) -> Result<Arc<StitchSpec>> {
        let statement = knit_sql::parse_statement(&self.entity)
            .map_err(|e| DataFusionError::Plan(format!("a stitch's entity: {e}")))?;
        let knit_sql::Statement::CreateEntity(definition) = statement else {
            return Err(internal(
                "a stitch's entity is not a CREATE ENTITY statement",
            ));
        };
        let entity = Entity::try_new(*definition)
            .map_err(|e| DataFusionError::Plan(format!("a stitch's entity: {e}")))?;
        let output = OUTPUTS
            .get(usize::from(self.output))
            .copied()
            .ok_or_else(|| internal(format!("no stitch output numbered {}", self.output)))?;
        let spec = StitchSpec {
            entity: Arc::new(entity),
            inputs: self
                .inputs
                .into_iter()
                .map(|(name, column_types)| StitchInput { name, column_types })
                .collect(),
            output,
            rules: self.rules,
        };
        Ok(Arc::new(spec))
    }
}
