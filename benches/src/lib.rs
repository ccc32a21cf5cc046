// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Deterministic data generators for Knit's sample data, tests and benchmarks.
//!
//! Everything here is a pure function of a seed: the same seed gives byte-identical
//! data on every machine, so generated files need not be committed to be reproduced.
//!
//! - [`rng::SplitMix64`]: the seeded generator
//! - [`ecommerce`]: a small e-commerce sample (identifies, tracks, orders)
//! - [`identity_graph`]: CDP-like identity graphs of any size, for stitching benchmarks

#![warn(missing_docs)]

pub mod ecommerce;
pub mod identity_graph;
pub mod rng;
