// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The arguments of template objects' methods, read with errors that name the method.

use minijinja::value::Value;
use minijinja::{Error, ErrorKind};

/// A single string argument of a method, or an error naming the method.
pub(super) fn one_string<'a>(method: &str, args: &'a [Value]) -> Result<&'a str, Error> {
    match args {
        [arg] => arg.as_str().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("{method} takes a quoted name, not {arg}"),
            )
        }),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("{method} takes one argument, got {}", args.len()),
        )),
    }
}

pub(super) fn unknown_method(owner: &str, method: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMethod,
        format!("{owner} has no method {method}"),
    )
}
