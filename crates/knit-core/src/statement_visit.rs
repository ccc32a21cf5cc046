// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Walking the SQL of a parsed statement with a sqlparser [`Visitor`]: the statement
//! itself, a `COPY`'s query, an `EXPLAIN`'s statement. What must be found before a
//! statement is planned (calls whose tables or data are read ahead) is found this way.

use datafusion::sql::parser::{CopyToSource, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{Visit, Visitor};

/// Visits every part of `statement` that holds SQL.
pub(crate) fn visit_sql<V: Visitor>(statement: &DFStatement, visitor: &mut V) {
    match statement {
        DFStatement::Statement(statement) => {
            let _ = statement.visit(visitor);
        }
        DFStatement::CopyTo(copy) => {
            if let CopyToSource::Query(query) = &copy.source {
                let _ = query.visit(visitor);
            }
        }
        DFStatement::Explain(explain) => visit_sql(&explain.statement, visitor),
        DFStatement::CreateExternalTable(_) | DFStatement::Reset(_) => {}
    }
}
