// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Knit's table functions: `id_stitch('entity')`, `id_stitch_edges('entity')` and
//! `input_rows('input')`, the stitch's report and explanations (`stitch_report`,
//! `explain_link`, `explain_id`), and the internal `__knit_clusters('entity')` that feature
//! queries use. (`feature_table`, `feature_view` and `cohort` are expanded
//! before planning: see [`crate::features`].)

mod id_stitch;
mod input_rows;
mod stitch_inspect;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;

use crate::catalog::Catalog;
use crate::stitch::StitchOutput;

pub(crate) use id_stitch::CLUSTERS_FUNCTION;
use id_stitch::IdStitchFunc;
use input_rows::InputRowsFunc;
use stitch_inspect::{Question, StitchInspectFunc};

/// Every table function with its name, for the session builder to register.
pub(crate) fn all_table_functions(
    catalog: &Catalog,
) -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    let mut functions: Vec<(&'static str, Arc<dyn TableFunctionImpl>)> = vec![
        (
            "id_stitch",
            Arc::new(IdStitchFunc::new(catalog.clone(), StitchOutput::IdGraph)),
        ),
        (
            "id_stitch_edges",
            Arc::new(IdStitchFunc::new(catalog.clone(), StitchOutput::Edges)),
        ),
        (
            CLUSTERS_FUNCTION,
            Arc::new(IdStitchFunc::new(catalog.clone(), StitchOutput::Clusters)),
        ),
        ("input_rows", Arc::new(InputRowsFunc::new(catalog.clone()))),
    ];
    for question in [Question::Report, Question::Link, Question::Id] {
        functions.push((
            question.function_name(),
            Arc::new(StitchInspectFunc::new(catalog.clone(), question)),
        ));
    }
    functions
}
