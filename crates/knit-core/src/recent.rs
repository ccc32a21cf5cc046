// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Results kept from one query of a session to the next (stitches, kept feature
//! queries), each dropped once [`KEEP_UNUSED_QUERIES`] queries in a row have not read
//! it: a kept result holds its memory in the pool, and must not crowd out other work.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::error::Result;

use crate::error::internal;

/// How many queries in a row may leave a kept result unread before it is dropped.
pub(crate) const KEEP_UNUSED_QUERIES: u64 = 8;

/// Results of recent queries, each found by a key `K`.
#[derive(Debug)]
pub(crate) struct Recent<K, V> {
    entries: Mutex<Vec<Entry<K, V>>>,
    /// The number of the query being planned.
    query: AtomicU64,
}

#[derive(Debug)]
struct Entry<K, V> {
    key: K,
    value: Arc<V>,
    last_query: u64,
}

impl<K, V> Default for Recent<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            query: AtomicU64::new(0),
        }
    }
}

impl<K, V> Recent<K, V> {
    fn lock(&self) -> Result<MutexGuard<'_, Vec<Entry<K, V>>>> {
        self.entries
            .lock()
            .map_err(|_| internal("the lock of kept results is poisoned"))
    }

    /// Starts planning a new query: drops the results that have gone unread too long.
    pub(crate) fn begin_query(&self) -> Result<()> {
        let query = self.query.fetch_add(1, Ordering::Relaxed) + 1;
        self.lock()?
            .retain(|entry| entry.last_query + KEEP_UNUSED_QUERIES >= query);
        Ok(())
    }

    /// The kept result whose key `matches`, or the new one `make` gives, kept. Results
    /// that are `unusable` (a failed computation) are dropped first.
    pub(crate) fn find_or_insert(
        &self,
        matches: impl Fn(&K) -> bool,
        unusable: impl Fn(&V) -> bool,
        make: impl FnOnce() -> (K, Arc<V>),
    ) -> Result<Arc<V>> {
        let query = self.query.load(Ordering::Relaxed);
        let mut entries = self.lock()?;
        entries.retain(|entry| !unusable(&entry.value));
        if let Some(entry) = entries.iter_mut().find(|entry| matches(&entry.key)) {
            entry.last_query = query;
            return Ok(Arc::clone(&entry.value));
        }
        let (key, value) = make();
        entries.push(Entry {
            key,
            value: Arc::clone(&value),
            last_query: query,
        });
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_is_found_until_it_goes_unread() {
        let recent = Recent::<u32, String>::default();
        let make = |key: u32| move || (key, Arc::new(format!("result {key}")));
        recent.begin_query().unwrap();
        let first = recent
            .find_or_insert(|&k| k == 1, |_| false, make(1))
            .unwrap();
        for _ in 0..KEEP_UNUSED_QUERIES {
            recent.begin_query().unwrap();
        }
        let again = recent
            .find_or_insert(|&k| k == 1, |_| false, make(1))
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        for _ in 0..=KEEP_UNUSED_QUERIES {
            recent.begin_query().unwrap();
        }
        let fresh = recent
            .find_or_insert(|&k| k == 1, |_| false, make(1))
            .unwrap();
        assert!(!Arc::ptr_eq(&first, &fresh));
        let replaced = recent
            .find_or_insert(|&k| k == 1, |_| true, make(1))
            .unwrap();
        assert!(!Arc::ptr_eq(&fresh, &replaced));
    }
}
