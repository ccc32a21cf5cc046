// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Recognising calls of Knit's relation-level functions in `FROM`
//! (`connected_components((query))`, `__knit_lookup(...)`), whose arguments include
//! queries and so are planned by relation planners rather than as table functions.

use datafusion::sql::sqlparser::ast::{FunctionArg, TableAlias, TableFactor};

/// The arguments and alias of `relation` when it calls the function `name`
/// (case-insensitive).
pub(crate) fn table_function_call<'a>(
    relation: &'a TableFactor,
    name: &str,
) -> Option<(&'a [FunctionArg], &'a Option<TableAlias>)> {
    match relation {
        TableFactor::Table {
            name: called,
            args: Some(args),
            alias,
            ..
        } if called.to_string().eq_ignore_ascii_case(name) => Some((&args.args, alias)),
        _ => None,
    }
}
