// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The keys pb accepts that change no output, by where they sit. Knit reads past them;
//! any other key it does not read is an error that names it (with the closest key, for
//! a misspelling).

/// Keys of pb_project.yaml that describe the warehouse (and the privileges kept on its
/// views), the schedule, the Python environment or documentation, none of which changes
/// what Knit computes.
pub(crate) const PROJECT_IGNORED: &[&str] = &[
    "name",
    "schema_version",
    "connection",
    "available_tags",
    "retention_period",
    "compatibility_version",
    "compatibility_mode",
    "python_requirements",
    "profile",
    "allow_beta",
    "hooks",
    "time_to_live",
    "description",
    "carry_forward_privileges",
];

/// Keys of an input that describe it to pb's UI and checks (the columns it promises, the
/// app it comes from) without changing its rows.
pub(crate) const INPUT_IGNORED: &[&str] = &[
    "contract",
    "description",
    "source_metadata",
    "row_identifier",
    "tags",
];

/// Keys of a model and its `model_spec` about how pb stores and schedules it (views or
/// tables, how long a result is reused), none of which changes its rows.
pub(crate) const MODEL_IGNORED: &[&str] = &[
    "materialization",
    "description",
    "validity_time",
    "tags",
    "contract",
    "time_to_live",
    "allow_beta",
    "hooks",
    "serve_traits_360",
    "enable_status",
];

/// Keys of an id stitcher's `model_spec` that make pb log more about the graph, or tune
/// its incremental runs (checked against pb: the same outputs with and without them).
pub(crate) const STITCHER_IGNORED: &[&str] = &[
    "log_direct_edge_info",
    "log_node_metadata",
    // How far back pb's incremental runs look again for late rows; a full run, which
    // is what Knit computes, reads every row (checked against pb: the same outputs).
    "incremental_timedelta",
];

/// Keys of an entity about serving its traits elsewhere (`serve_traits`, the older
/// `feature_views`, is read).
pub(crate) const ENTITY_IGNORED: &[&str] = &[
    "description",
    "serve_traits_360",
    "default_id_type",
    "tags",
    "hooks",
];

/// Keys of a var that document it or say how pb stores it (`vartable_group`: which of
/// pb's var tables holds it), or how pb's incremental runs fold new rows into the last
/// value (`merge`, `merge_where`): Knit computes every var over all rows, which is pb's
/// full run, and an incremental run's value equals it by the merge's contract.
pub(crate) const VAR_IGNORED: &[&str] = &[
    "tags",
    "materialization",
    "contract",
    "vartable_group",
    "merge",
    "merge_where",
];

/// Keys of a var group that document it or say how pb stores its vars.
pub(crate) const VAR_GROUP_IGNORED: &[&str] = &["description", "tags", "vartable_group"];

/// Keys of `feature_views` about how pb stores the views (table or view), which change
/// no row.
pub(crate) const FEATURE_VIEW_IGNORED: &[&str] = &["materialization"];
