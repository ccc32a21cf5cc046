// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A result computed once and read by many: the build side that every output partition
//! of an operator (and every operator sharing it) awaits.
//!
//! The first caller starts the build; every caller, then and later, awaits that one
//! build. It runs to its end once polled by anyone, whoever goes away, and its result is
//! kept: the value, or why it failed, given to every reader (as DataFusion's own
//! `OnceAsync` does for join build sides), since running it again would execute input
//! partitions a second time.

use std::sync::{Arc, Mutex};

use datafusion::error::{DataFusionError, Result};
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, TryFutureExt};

use crate::error::internal;

type Build<T> = Shared<BoxFuture<'static, Result<Arc<T>, Arc<DataFusionError>>>>;

/// One build of a `T`, shared by every reader.
pub(crate) struct SharedBuild<T> {
    build: Mutex<Option<Build<T>>>,
}

impl<T> Default for SharedBuild<T> {
    fn default() -> Self {
        Self {
            build: Mutex::new(None),
        }
    }
}

impl<T> std::fmt::Debug for SharedBuild<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBuild").finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> SharedBuild<T> {
    /// True when the build has ended in an error.
    pub(crate) fn failed(&self) -> bool {
        self.build.lock().is_ok_and(|build| {
            build
                .as_ref()
                .and_then(|build| build.peek())
                .is_some_and(Result::is_err)
        })
    }

    /// True when the build has started (and may have ended).
    #[cfg(feature = "distributed")]
    pub(crate) fn started(&self) -> bool {
        self.build.lock().is_ok_and(|build| build.is_some())
    }

    /// The result of the build, started by `start` if no caller has started it yet.
    pub(crate) async fn get<F>(&self, start: impl FnOnce() -> F) -> Result<Arc<T>>
    where
        F: Future<Output = Result<Arc<T>>> + Send + 'static,
    {
        let build = {
            let mut build = self
                .build
                .lock()
                .map_err(|_| internal("a shared build's lock is poisoned"))?;
            build
                .get_or_insert_with(|| start().map_err(Arc::new).boxed().shared())
                .clone()
        };
        build.await.map_err(DataFusionError::Shared)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn builds_once_for_every_reader_and_keeps_a_failure() {
        let runs = Arc::new(AtomicUsize::new(0));
        let shared = SharedBuild::<u32>::default();
        let start = || {
            let runs = Arc::clone(&runs);
            async move {
                runs.fetch_add(1, Ordering::Relaxed);
                Ok(Arc::new(7))
            }
        };
        let (a, b) = futures::join!(shared.get(start), shared.get(start));
        assert_eq!((*a.unwrap(), *b.unwrap()), (7, 7));
        assert_eq!(*shared.get(start).await.unwrap(), 7);
        assert_eq!(runs.load(Ordering::Relaxed), 1);

        let failing = SharedBuild::<u32>::default();
        let fail = || async { Err(DataFusionError::Execution("no input".to_string())) };
        assert!(!failing.failed());
        let first = failing.get(fail).await.unwrap_err().to_string();
        assert!(failing.failed() && !shared.failed());
        assert!(first.contains("no input"), "{first}");
        let again = failing.get(|| async { Ok(Arc::new(1)) }).await;
        assert!(again.unwrap_err().to_string().contains("no input"));
    }
}
