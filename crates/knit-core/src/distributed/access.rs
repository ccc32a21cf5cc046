// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Who may send a worker plans: the shared token, and the Knit version both ends run.
//!
//! A worker executes whatever plan it is sent, reading any file its credentials reach,
//! so it refuses every request that does not carry the token it was started with
//! (`KNIT_WORKER_TOKEN`, the same on the coordinator and every worker). Plans are
//! Knit's operators encoded by one build of Knit, so a request from another version is
//! refused too, saying which two versions met.

use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

/// The environment variable holding the token.
pub const WORKER_TOKEN_ENV: &str = "KNIT_WORKER_TOKEN";

/// The header carrying the token on every request to a worker.
pub(crate) const TOKEN_HEADER: &str = "x-knit-worker-token";

/// The header carrying the sender's Knit version.
pub(crate) const VERSION_HEADER: &str = "x-knit-version";

/// This build's version, as workers and coordinators compare it.
pub(crate) const KNIT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The token of `KNIT_WORKER_TOKEN`, if set and not empty.
pub fn token_from_env() -> Option<String> {
    std::env::var(WORKER_TOKEN_ENV)
        .ok()
        .filter(|token| !token.trim().is_empty())
}

/// Checks each request a worker receives.
#[derive(Clone)]
pub(crate) struct AccessCheck {
    token: String,
    version: String,
}

impl std::fmt::Debug for AccessCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in logs.
        f.debug_struct("AccessCheck")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl AccessCheck {
    pub(crate) fn new(token: String, version: &str) -> Self {
        Self {
            token,
            version: version.to_string(),
        }
    }

    /// `Ok` when `metadata` carries the token and this worker's version.
    pub(crate) fn check(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let token = metadata.get(TOKEN_HEADER).map(|v| v.as_bytes());
        if !token.is_some_and(|token| same_secret(token, self.token.as_bytes())) {
            tracing::warn!("refused a request without the worker token");
            return Err(Status::unauthenticated(format!(
                "the knit worker refused the plan: its token is wrong or missing (set \
                 {WORKER_TOKEN_ENV} to the same value on the coordinator and every worker)"
            )));
        }
        let theirs = metadata
            .get(VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown");
        if theirs != self.version {
            return Err(Status::failed_precondition(format!(
                "the knit worker runs knit {} but the coordinator runs knit {theirs}: run \
                 the same version of knit on the coordinator and every worker",
                self.version
            )));
        }
        Ok(())
    }
}

impl tonic::service::Interceptor for AccessCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        self.check(request.metadata())?;
        Ok(request)
    }
}

/// Compares two secrets in time that depends on their lengths only.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(token: Option<&str>, version: Option<&str>) -> MetadataMap {
        let mut map = MetadataMap::new();
        if let Some(token) = token {
            map.insert(TOKEN_HEADER, token.parse().unwrap());
        }
        if let Some(version) = version {
            map.insert(VERSION_HEADER, version.parse().unwrap());
        }
        map
    }

    #[test]
    fn requests_need_the_token_and_the_same_version() {
        let check = AccessCheck::new("s3cret".to_string(), "1.2.0");
        assert!(
            check
                .check(&metadata(Some("s3cret"), Some("1.2.0")))
                .is_ok()
        );
        for token in [
            None,
            Some(""),
            Some("s3cre"),
            Some("s3cret!"),
            Some("S3CRET"),
        ] {
            let err = check.check(&metadata(token, Some("1.2.0"))).unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated, "{token:?}");
            assert!(
                err.message().contains("token is wrong"),
                "{}",
                err.message()
            );
            assert!(!err.message().contains("s3cret"), "{}", err.message());
        }
        let err = check
            .check(&metadata(Some("s3cret"), Some("1.1.0")))
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        assert!(
            err.message()
                .contains("runs knit 1.2.0 but the coordinator runs knit 1.1.0"),
            "{}",
            err.message()
        );
        assert!(format!("{check:?}").contains("1.2.0"));
        assert!(!format!("{check:?}").contains("s3cret"));
    }
}
