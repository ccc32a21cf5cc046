// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit worker`: a process that runs the stages of plans coordinators send it.
//!
//! A worker is a Knit session without SQL: its functions, object stores (S3 from the
//! same `AWS_*` environment as the coordinator) and memory pool (`--memory-limit`)
//! are a Knit session's, and each stage it is sent runs in a session built from them
//! with [`KnitCodec`] to decode Knit's operators. Every request passes
//! [`AccessCheck`] first.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion_distributed::{DistributedExt, Worker, WorkerQueryContext, WorkerSessionBuilder};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use super::access::{AccessCheck, KNIT_VERSION};
use super::codec::KnitCodec;
use super::coordinator::{KnitChannels, passthrough_headers};
use super::tls::{WorkerTls, install_crypto_provider};
use crate::error::{CoreError, Result};
use crate::stitch::SharedStitches;

/// Builds the session of each stage a worker runs.
#[derive(Debug, Clone)]
struct WorkerSessions {
    scalar: Vec<Arc<ScalarUDF>>,
    aggregate: Vec<Arc<AggregateUDF>>,
    window: Vec<Arc<WindowUDF>>,
    builds: SharedStitches,
    channels: KnitChannels,
    token: String,
}

#[async_trait]
impl WorkerSessionBuilder for WorkerSessions {
    async fn build_session_state(
        &self,
        ctx: WorkerQueryContext,
    ) -> Result<SessionState, DataFusionError> {
        // The worker reaches other workers (shuffles) with the same token.
        Ok(ctx
            .builder
            .with_scalar_functions(self.scalar.clone())
            .with_aggregate_functions(self.aggregate.clone())
            .with_window_functions(self.window.clone())
            .with_distributed_user_codec(KnitCodec::new(self.builds.clone()))
            .with_distributed_channel_resolver(self.channels.clone())
            .with_distributed_passthrough_headers(passthrough_headers(&self.token)?)?
            .build())
    }
}

/// Serves plans on `listener` (over TLS with `tls`) until `shutdown` completes,
/// accepting only requests that carry `token`; each stage runs with the functions,
/// object stores and memory pool of `state` (a Knit session's, see
/// `KnitSession::serve_worker`).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    token: String,
    tls: Option<&WorkerTls>,
    state: SessionState,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    if token.trim().is_empty() {
        return Err(CoreError::invalid(format!(
            "a knit worker needs a token: set {} to a secret shared with the coordinator",
            super::access::WORKER_TOKEN_ENV
        )));
    }
    let runtime: Arc<RuntimeEnv> = Arc::clone(state.runtime_env());
    let sessions = WorkerSessions {
        scalar: state.scalar_functions().values().cloned().collect(),
        aggregate: state.aggregate_functions().values().cloned().collect(),
        window: state.window_functions().values().cloned().collect(),
        builds: SharedStitches::default(),
        channels: KnitChannels::default(),
        token: token.clone(),
    };
    let worker = Worker::from_session_builder(sessions)
        .with_runtime_env(runtime)
        .with_version(KNIT_VERSION);
    let service = InterceptedService::new(
        worker.into_worker_server(),
        AccessCheck::new(token, KNIT_VERSION),
    );
    let address = listener.local_addr().ok();
    tracing::info!(?address, "knit worker listening");
    let mut server = Server::builder();
    if let Some(tls) = tls {
        install_crypto_provider();
        server = server
            .tls_config(tls.server_config())
            .map_err(|e| CoreError::invalid(format!("the worker's certificate and key: {e}")))?;
    }
    server
        .add_service(service)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
        .map_err(|e| CoreError::invalid(format!("the knit worker stopped: {e}")))
}
