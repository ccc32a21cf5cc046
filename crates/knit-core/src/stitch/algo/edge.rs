// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! An edge of the id graph over dense node ids.

use super::time::Time;

/// One row of pb's edge table, over dense node ids: the nodes of one input row and the
/// earliest time they were seen together. A node seen alone has `b == a`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Edge {
    /// One node.
    pub a: u32,
    /// The other node, or `a` again.
    pub b: u32,
    /// Earliest `OCCURRED AT` of the rows that gave this pair; NULL if none had one.
    pub valid_at: Time,
}

impl Edge {
    /// The edge between `a` and `b` first seen at `valid_at`.
    #[cfg(test)]
    pub(crate) fn new(a: u32, b: u32, valid_at: Option<i64>) -> Self {
        Self {
            a,
            b,
            valid_at: Time::from_micros(valid_at).unwrap_or(Time::NULL),
        }
    }
}
