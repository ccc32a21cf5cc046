// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Graph kernels shared by the stitch, `connected_components` and the feature
//! aggregates: no DataFusion, no SQL, only dense integer ids.
//!
//! - [`intern`]: byte keys (with a small type tag) to dense `u32` ids, in order of
//!   first sight, with batched probes whose cache misses overlap.
//! - [`radix`]: items sorted by a `u64` key, a byte at a time.
//! - [`union_find`]: disjoint sets over dense ids, and the clusters they form.

pub(crate) mod intern;
pub(crate) mod radix;
pub(crate) mod union_find;
