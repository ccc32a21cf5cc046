// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Lists of distinct values come out sorted, as PostgreSQL's do.
//!
//! `array_agg(DISTINCT x)` and `string_agg(DISTINCT x, ',')` (`listagg`) without an
//! `ORDER BY` list their values in no set order: DataFusion's come in the order of its
//! hash set, which changes with the order rows arrive in, so two runs over the same
//! rows (or a refresh and a full run) could write one customer's list two ways.
//! PostgreSQL, pb's warehouse in the oracle, sorts the values to find the distinct ones
//! and lists them in that order (`{11,12,13}`, `a|b|c`); Snowflake leaves the order
//! open, so sorted is one of its answers too. [`SortedDistinctLists`] gives such a call
//! the `ORDER BY` of its value, ascending with NULLs last, as PostgreSQL sorts.
//!
//! The lists are sorted by the aggregate itself, asking nothing of the rows' order, so
//! the call can share a `GROUP BY` with aggregates ordered otherwise. DataFusion's
//! `array_agg` says so of itself; its `string_agg` asks for its rows in its `ORDER BY`,
//! and two of them ordered by different values cannot share one `GROUP BY` ("Conflicting
//! ordering requirements"). A distinct `string_agg` ordered by its value gathers its
//! values through the same sorting distinct `array_agg`, so [`SortingStringAgg`], the
//! same function saying that it sorts for itself, takes its place.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::DFSchema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::functions_aggregate::string_agg::string_agg_udaf;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, LogicalPlan, Signature, SortExpr,
};
use datafusion::optimizer::AnalyzerRule;

use crate::expr_rewrite::rewrite_expressions;

/// Orders the lists of distinct values (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct SortedDistinctLists;

impl AnalyzerRule for SortedDistinctLists {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, sorted)
    }

    fn name(&self) -> &str {
        "knit_sorted_distinct_lists"
    }
}

/// `expr`, ordered by its value if it is an `array_agg` or `string_agg` of distinct
/// values in no order; a distinct `string_agg` ordered by its value sorts for itself.
fn sorted(expr: Expr, _schema: &DFSchema) -> Transformed<Expr> {
    let Expr::AggregateFunction(mut aggregate) = expr else {
        return Transformed::no(expr);
    };
    let name = aggregate.func.name();
    let is_list = name == "array_agg" || name == "string_agg";
    let params = &mut aggregate.params;
    let Some(value) = params.args.first().filter(|_| is_list && params.distinct) else {
        return Transformed::no(Expr::AggregateFunction(aggregate));
    };
    let mut changed = false;
    if params.order_by.is_empty() {
        params.order_by = vec![SortExpr::new(value.clone(), true, false)];
        changed = true;
    }
    let by_value = matches!(params.order_by.as_slice(), [sort] if &sort.expr == value);
    if name == "string_agg" && by_value && *aggregate.func != **SORTING_STRING_AGG {
        aggregate.func = Arc::clone(&SORTING_STRING_AGG);
        changed = true;
    }
    if changed {
        Transformed::yes(Expr::AggregateFunction(aggregate))
    } else {
        Transformed::no(Expr::AggregateFunction(aggregate))
    }
}

static SORTING_STRING_AGG: LazyLock<Arc<AggregateUDF>> =
    LazyLock::new(|| Arc::new(AggregateUDF::new_from_impl(SortingStringAgg::new())));

/// DataFusion's `string_agg`, for a distinct one ordered by its value: it gathers the
/// values through `array_agg`'s distinct accumulator, which sorts them whatever order
/// the rows come in, so it needs no order of its rows (see the module doc).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct SortingStringAgg {
    string_agg: Arc<AggregateUDF>,
}

impl SortingStringAgg {
    fn new() -> Self {
        Self {
            string_agg: string_agg_udaf(),
        }
    }
}

impl AggregateUDFImpl for SortingStringAgg {
    fn name(&self) -> &str {
        self.string_agg.name()
    }

    fn signature(&self) -> &Signature {
        self.string_agg.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.string_agg.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        self.string_agg.accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        self.string_agg.state_fields(args)
    }

    /// The distinct accumulator sorts the values itself: an order of the rows would
    /// save it nothing, and none is asked for.
    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::SoftRequirement
    }

    fn with_beneficial_ordering(
        self: Arc<Self>,
        _beneficial_ordering: bool,
    ) -> Result<Option<Arc<dyn AggregateUDFImpl>>> {
        Ok(Some(self))
    }
}
