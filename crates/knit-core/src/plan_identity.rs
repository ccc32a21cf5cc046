// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Logical plans compared as the same computation: the key a shared or kept result is
//! found by.
//!
//! DataFusion's common subexpression elimination names each expression it extracts
//! `__common_expr_<n>`, with `n` counted across the whole query. A stitch's inputs
//! appear several times in a feature query (under the id graph, under each lookup), so
//! two copies of one input, say one filtered on `to_timestamp(created)` twice, come out
//! of the optimizer as `__common_expr_8` and `__common_expr_9` and compare unequal. The
//! operators over them would then each run a stitch of their own, and since a stitch
//! numbers its clusters in the order rows arrive from its input partitions, a join on
//! cluster numbers of two such stitches matches the wrong entities. Plans are compared
//! with those names numbered again in the order they appear in each plan.

use std::collections::HashMap;

use datafusion::common::Column;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan};

/// The prefix of the names DataFusion's common subexpression elimination gives.
const EXTRACTED_PREFIX: &str = "__common_expr_";

/// `plan` with the names of its extracted common subexpressions numbered from 1 in the
/// order the plan defines them (children first), so that two copies of one computation
/// optimized within one query are equal.
pub(crate) fn comparable_plan(plan: &LogicalPlan) -> Result<LogicalPlan> {
    let mut names: HashMap<String, String> = HashMap::new();
    let mut renamed = |name: &str| -> Option<String> {
        let suffix = name.strip_prefix(EXTRACTED_PREFIX)?;
        if !suffix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let next = names.len() + 1;
        Some(
            names
                .entry(name.to_string())
                .or_insert_with(|| format!("{EXTRACTED_PREFIX}{next}"))
                .clone(),
        )
    };
    plan.clone()
        .transform_up_with_subqueries(|node| {
            let node = node.map_expressions(|expr| {
                expr.transform_up(|expr| {
                    Ok(match expr {
                        Expr::Alias(mut alias) => match renamed(&alias.name) {
                            Some(name) => {
                                alias.name = name;
                                Transformed::yes(Expr::Alias(alias))
                            }
                            None => Transformed::no(Expr::Alias(alias)),
                        },
                        Expr::Column(column) => match renamed(&column.name) {
                            Some(name) => {
                                Transformed::yes(Expr::Column(Column::new(column.relation, name)))
                            }
                            None => Transformed::no(Expr::Column(column)),
                        },
                        other => Transformed::no(other),
                    })
                })
            })?;
            // Every node's schema is derived again, renamed or not: a node above a
            // renamed one (a window over a projection that defines a common
            // expression) passes the renamed column on under its new name.
            node.map_data(LogicalPlan::recompute_schema)
        })
        .data()
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    /// The optimized plan of `sql` over a table `t(a, b)`.
    async fn optimized(ctx: &SessionContext, sql: &str) -> LogicalPlan {
        ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap()
    }

    #[tokio::test]
    async fn copies_optimized_apart_compare_equal_and_other_plans_do_not() {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t (a BIGINT, b BIGINT) AS VALUES (1, 2)")
            .await
            .unwrap();
        // One query holding the filter twice: the optimizer names the extracted
        // `a + b` of each copy apart.
        let sql = "SELECT * FROM (SELECT a FROM t WHERE (a + b) * 2 > 1 OR (a + b) IS NULL) \
                   UNION ALL SELECT * FROM (SELECT a FROM t WHERE (a + b) * 2 > 1 OR (a + b) IS NULL)";
        let plan = optimized(&ctx, sql).await;
        let LogicalPlan::Union(union) = &plan else {
            panic!("not a union: {plan}")
        };
        let (left, right) = (union.inputs[0].as_ref(), union.inputs[1].as_ref());
        assert!(format!("{left}").contains("__common_expr_"), "{left}");
        assert_ne!(left, right, "the optimizer named the copies alike");
        assert_eq!(
            comparable_plan(left).unwrap(),
            comparable_plan(right).unwrap()
        );
        let other = optimized(
            &ctx,
            "SELECT a FROM t WHERE (a + b) * 3 > 1 OR (a + b) IS NULL",
        )
        .await;
        assert_ne!(
            comparable_plan(left).unwrap(),
            comparable_plan(&other).unwrap()
        );
    }

    #[tokio::test]
    async fn names_renumbered_under_a_window_stay_resolvable() {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t (u VARCHAR, an VARCHAR, amount INT, ts BIGINT) AS VALUES ('u1', 'a1', 10, 1)")
            .await
            .unwrap();
        // A window partitions by an extracted expression defined below two other
        // windows, and a projection above them extracts another: the windows in
        // between pass the first on under its renumbered name.
        let sql = "SELECT *, row_number() OVER (PARTITION BY u ORDER BY ts) AS v, \
                   sum(amount) OVER (PARTITION BY an ORDER BY ts) AS s, \
                   CASE WHEN coalesce(amount > 5, false) \
                   THEN count(*) OVER (PARTITION BY coalesce(amount > 5, false), u) END AS r FROM t";
        let plan = optimized(&ctx, sql).await;
        let text = format!("{plan}");
        assert!(
            text.contains("__common_expr_1") && text.contains("__common_expr_2"),
            "{text}"
        );
        let comparable = comparable_plan(&plan).unwrap();
        // Each window passes its input's columns on under the input's names.
        let mut windows = 0;
        comparable
            .apply(|node| {
                if let LogicalPlan::Window(window) = node {
                    let names = |schema: &datafusion::common::DFSchema| {
                        schema
                            .fields()
                            .iter()
                            .map(|f| f.name().clone())
                            .collect::<Vec<_>>()
                    };
                    let input = names(window.input.schema());
                    assert_eq!(
                        names(&window.schema)[..input.len()],
                        input[..],
                        "{comparable}"
                    );
                    windows += 1;
                }
                Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
            })
            .unwrap();
        assert_eq!(windows, 3, "{comparable}");
    }
}
