// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `stitch_report('entity' [, 'section'])`, `explain_link('entity', 'id a', 'id b')` and
//! `explain_id('entity', 'id')`: questions put to an entity's stitch.
//!
//! Each returns a view over a `StitchInspect` node over the entity's inputs, so the
//! stitch it reads is the one every other query of the session shares.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan};

use super::id_stitch::IdStitchTable;
use crate::catalog::Catalog;
use crate::stitch::{Inspection, ReportSection, StitchInspectNode, StitchOutput, StitchSpec};

/// Which function.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Question {
    /// `stitch_report`.
    Report,
    /// `explain_link`.
    Link,
    /// `explain_id`.
    Id,
}

impl Question {
    /// The SQL name of the function.
    pub(crate) fn function_name(self) -> &'static str {
        match self {
            Question::Report => "stitch_report",
            Question::Link => "explain_link",
            Question::Id => "explain_id",
        }
    }

    fn usage(self) -> &'static str {
        match self {
            Question::Report => {
                "stitch_report('user') or stitch_report('user', 'hubs'); the sections are \
                 summary, sizes, hubs, refused, violations, types and bridges"
            }
            Question::Link => "explain_link('user', 'id a', 'id b')",
            Question::Id => "explain_id('user', 'id')",
        }
    }
}

/// The table function asking `question` of entities of `catalog`.
#[derive(Debug)]
pub(crate) struct StitchInspectFunc {
    catalog: Catalog,
    question: Question,
}

impl StitchInspectFunc {
    pub(crate) fn new(catalog: Catalog, question: Question) -> Self {
        Self { catalog, question }
    }
}

impl TableFunctionImpl for StitchInspectFunc {
    fn call_with_args(&self, args: TableFunctionArgs<'_, '_>) -> Result<Arc<dyn TableProvider>> {
        let usage = || {
            DataFusionError::Plan(format!(
                "{} takes text literals, as in {}",
                self.question.function_name(),
                self.question.usage()
            ))
        };
        let texts = args
            .exprs()
            .iter()
            .map(|expr| match expr {
                Expr::Literal(
                    ScalarValue::Utf8(Some(text))
                    | ScalarValue::Utf8View(Some(text))
                    | ScalarValue::LargeUtf8(Some(text)),
                    _,
                ) => Ok(text.clone()),
                _ => Err(usage()),
            })
            .collect::<Result<Vec<String>>>()?;
        let (entity, inspection) = match (self.question, texts.as_slice()) {
            (Question::Report, [entity]) => (entity, Inspection::Report(ReportSection::Summary)),
            (Question::Report, [entity, section]) => {
                (entity, Inspection::Report(ReportSection::named(section)?))
            }
            (Question::Link, [entity, from, to]) => (
                entity,
                Inspection::Link {
                    from: from.clone(),
                    to: to.clone(),
                },
            ),
            (Question::Id, [entity, id]) => (entity, Inspection::Id { id: id.clone() }),
            _ => return Err(usage()),
        };
        let (spec, inputs) = StitchSpec::for_entity(&self.catalog, entity, StitchOutput::IdGraph)?;
        let node = StitchInspectNode::try_new(spec, inspection, inputs)?;
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        });
        Ok(Arc::new(IdStitchTable::new(plan)))
    }
}
