// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `input_rows('input')`: the rows of an input, every column of its source, after its
//! `WHERE`, as they were bound at `CREATE INPUT`. Feature queries read inputs through it.

use std::sync::Arc;

use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;

use crate::catalog::Catalog;

/// The table function.
#[derive(Debug)]
pub(crate) struct InputRowsFunc {
    catalog: Catalog,
}

impl InputRowsFunc {
    /// The function over the inputs of `catalog`.
    pub(crate) fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }
}

impl TableFunctionImpl for InputRowsFunc {
    fn call_with_args(&self, args: TableFunctionArgs<'_, '_>) -> Result<Arc<dyn TableProvider>> {
        let [Expr::Literal(ScalarValue::Utf8(Some(name)) | ScalarValue::Utf8View(Some(name)), _)] =
            args.exprs()
        else {
            return Err(DataFusionError::Plan(
                "input_rows takes the name of an input, as in input_rows('orders')".to_string(),
            ));
        };
        let input = self
            .catalog
            .input(name)
            .map_err(|e| DataFusionError::Plan(e.to_string()))?;
        Ok(Arc::new(ViewTable::new(input.rows.clone(), None)))
    }
}
