// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A filter on the id graph's `other_id_type` folded into the stitch operator, which then
//! renders only the nodes of those id types.
//!
//! A feature view by an id type (`feature_view('user', 'email')`, and each such view a
//! pb project writes) reads the id graph's rows of one type: a `FilterExec` on
//! `other_id_type = 'email'` over `IdStitchExec`. The operator rendered every node's
//! main id (and value) for the filter to drop most of them: at 10M edges, the email
//! view rendered 10.8M rows to keep 1.0M. Folded in, the operator skips the other nodes
//! before building any column.
//!
//! Conjuncts of the forms `other_id_type = 'x'` (either side), `other_id_type IN
//! ('x', ...)` and ORs of them are folded; the rest of the predicate stays in the
//! filter. A type the entity does not have matches no node, as the filter would. The
//! rule runs after DataFusion's own, on the plan as it will run.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, InListExpr, Literal, lit};
use datafusion::physical_expr::utils::{conjunction, split_conjunction};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

use super::exec::IdStitchExec;
use super::spec::{StitchColumn, StitchOutput, StitchSpec};
use crate::plan_rewrite::rewrite_bottom_up;

/// The rule: see the module doc.
#[derive(Debug, Default)]
pub(crate) struct IdTypeFilter;

impl PhysicalOptimizerRule for IdTypeFilter {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        rewrite_bottom_up(plan, fold)
    }

    fn name(&self) -> &str {
        "id_type_filter"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `Filter(p) <- IdStitchExec` with the id-type conjuncts of `p` in the operator.
fn fold(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(filter) = node.downcast_ref::<FilterExec>() else {
        return Ok(None);
    };
    let Some(stitch) = filter.input().downcast_ref::<IdStitchExec>() else {
        return Ok(None);
    };
    let (spec, _, _, columns) = stitch.parts();
    if spec.output != StitchOutput::IdGraph {
        return Ok(None);
    }
    let Some(type_at) = columns.iter().position(|&c| c == StitchColumn::OtherIdType) else {
        return Ok(None);
    };
    let mut marked: Vec<bool> = match stitch.rendered_types() {
        Some(types) => types.to_vec(),
        None => vec![true; spec.entity.id_types.len()],
    };
    let mut rest = Vec::new();
    let mut folded = false;
    for conjunct in split_conjunction(filter.predicate()) {
        match id_types_named(conjunct, type_at) {
            Some(names) => {
                let named = named_types(spec, &names);
                marked.iter_mut().zip(named).for_each(|(m, n)| *m &= n);
                folded = true;
            }
            None => rest.push(Arc::clone(conjunct)),
        }
    }
    if !folded {
        return Ok(None);
    }
    let typed = stitch.with_types(Some(marked.into()))?;
    let stitch: Arc<dyn ExecutionPlan> = Arc::new(typed);
    if !rest.is_empty() || filter.fetch().is_some() {
        let predicate = if rest.is_empty() {
            lit(true)
        } else {
            conjunction(rest)
        };
        let kept = FilterExecBuilder::from(filter)
            .with_input(stitch)
            .with_predicate(predicate)
            .build()?;
        return Ok(Some(Arc::new(kept)));
    }
    // Nothing is left to filter: the filter's projection, if any, stays.
    let Some(projection) = filter.projection() else {
        return Ok(Some(stitch));
    };
    let schema = stitch.schema();
    let picked = projection.iter().map(|&index| {
        let name = schema.field(index).name();
        let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(name, index));
        ProjectionExpr::new(column, name.clone())
    });
    let projection = ProjectionExec::try_new(picked, Arc::clone(&stitch))?;
    // The operator renders only the columns picked (the type among them no more).
    Ok(Some(
        match stitch.try_swapping_with_projection(&projection)? {
            Some(folded) => folded,
            None => Arc::new(projection),
        },
    ))
}

/// The id type names `conjunct` keeps, when it is `other_id_type = 'x'` (either way
/// round), `other_id_type IN ('x', ...)`, or an OR of such, over the column at
/// `type_at`.
fn id_types_named(conjunct: &Arc<dyn PhysicalExpr>, type_at: usize) -> Option<Vec<String>> {
    let is_type_column = |expr: &Arc<dyn PhysicalExpr>| {
        expr.downcast_ref::<Column>()
            .is_some_and(|c| c.index() == type_at)
    };
    let text = |expr: &Arc<dyn PhysicalExpr>| {
        let value = expr.downcast_ref::<Literal>()?.value();
        value.try_as_str().flatten().map(str::to_string)
    };
    if let Some(binary) = conjunct.downcast_ref::<BinaryExpr>() {
        let (left, right) = (binary.left(), binary.right());
        if *binary.op() == Operator::Or {
            // DataFusion writes a short IN list as ORs of equalities.
            let mut names = id_types_named(left, type_at)?;
            names.extend(id_types_named(right, type_at)?);
            return Some(names);
        }
        if *binary.op() != Operator::Eq {
            return None;
        }
        let name = if is_type_column(left) {
            text(right)
        } else if is_type_column(right) {
            text(left)
        } else {
            None
        };
        return name.map(|n| vec![n]);
    }
    let in_list = conjunct.downcast_ref::<InListExpr>()?;
    if in_list.negated() || !is_type_column(in_list.expr()) {
        return None;
    }
    in_list.list().iter().map(text).collect()
}

/// For each id type of the entity, whether it is among `names`.
fn named_types(spec: &StitchSpec, names: &[String]) -> Vec<bool> {
    (spec.entity.id_types.iter())
        .map(|t| names.contains(&t.name))
        .collect()
}
