// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Looking into a stitch: the audit report (`stitch_report`), why two ids are one
//! customer (`explain_link`) and why a cluster has its main id (`explain_id`).
//!
//! Each is a small table computed from the stitch's state at once, by a
//! [`StitchInspectExec`] that shares the stitch as every stitch operator does (within a
//! query and, through the session's cache, across queries): asking for the report after
//! the id graph stitches nothing again. `explain_link` also re-reads the inputs, to name
//! the input whose row first joined each hop's two ids.
//!
//! **Layers**: `cuts` (bridges and articulation points, no DataFusion), `tables` (the
//! shapes and builders of the results), `report` and `why` (the computations), `node`
//! (the logical plan node), `exec` (the operator).

mod cuts;
mod exec;
mod node;
mod report;
mod tables;
mod why;

pub(crate) use exec::StitchInspectExec;
pub(crate) use node::StitchInspectNode;
pub(crate) use tables::{Inspection, ReportSection};
