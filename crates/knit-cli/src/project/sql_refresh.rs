// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `REFRESH PROFILE STORE`: a Knit SQL session's definitions run into its profile store
//! as `knit project run --store` runs a pb project's, under the session's limits.

use std::path::{Path, PathBuf};

use knit_core::KnitSession;

use super::refresh::run_store;
use super::sql_profile::SqlProfile;
use super::store_run::{Definitions, StoreRun};

/// How `REFRESH PROFILE STORE` was asked to run.
pub(crate) struct RefreshOptions {
    /// `FULL`: compute everything from all input files.
    pub(crate) full: bool,
    /// `CHANGES TO 'location'`: where each output's changes of the run go.
    pub(crate) changes_to: Option<PathBuf>,
    /// Leave out the run's progress lines (`knit -q`).
    pub(crate) quiet: bool,
}

/// `REFRESH PROFILE STORE [FULL] [CHANGES TO 'location']`: runs `definitions` (those
/// `session` ran) into the session's profile store, unless `stop` resolves first (see
/// [`run_store`]).
pub(crate) async fn refresh_profile_store(
    session: &KnitSession,
    definitions: &SqlProfile,
    options: &RefreshOptions,
    stop: impl Future<Output = String>,
) -> Result<(), String> {
    let Some(store) = session.profile_store() else {
        return Err(
            "REFRESH PROFILE STORE: the session has no profile store: name one \
                    first with CREATE PROFILE STORE 'path' (a folder or an s3:// URL)"
                .to_string(),
        );
    };
    if let Some(statement) = definitions.unreplayable() {
        return Err(format!(
            "REFRESH PROFILE STORE: the session changed rows that a refresh cannot replay \
             ({statement}): a refresh replays the session's definitions in sessions of its \
             own and reads each table from its files; write those rows to files (COPY ... TO, \
             then CREATE EXTERNAL TABLE) and define the profile over them"
        ));
    }
    let profile = definitions.with_outputs(session.catalog())?;
    if profile.has_no_outputs() {
        return Err(
            "REFRESH PROFILE STORE: the session defines no entity: define one \
                    with CREATE ENTITY and its inputs with CREATE INPUT first"
                .to_string(),
        );
    }
    let run = StoreRun {
        definitions: Definitions::Sql(&profile),
        begin_time: None,
        end_time: None,
        rebuild: options.full,
        changes_out: options.changes_to.clone(),
        quiet: options.quiet,
        deletion_vectors: true,
        memory_limit: session.memory_limit(),
        timeout: session.statement_timeout(),
    };
    Box::pin(run_store(&run, Path::new(&store), stop)).await
}
