// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! knit-core's integration tests, in one binary so that DataFusion is linked once.

mod slt;
