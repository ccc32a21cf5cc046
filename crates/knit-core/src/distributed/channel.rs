// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A connection to one worker whose failures name that worker.
//!
//! datafusion-distributed decodes an error a worker's plan raised into the
//! `DataFusionError` it was (a bad cast stays a bad cast), and passes any other gRPC
//! failure on as an `External` `tonic::Status`: a worker that is killed, or whose
//! network goes, mid-query ends the query with `h2 protocol error: error reading a
//! body from connection`, which says neither which worker nor what to do. Every call
//! and every stream of [`NamedWorkerChannel`] turns such a failure into one that
//! names the worker's address and what to check.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion_distributed::{
    CoordinatorToWorkerMsg, ExecuteTaskRequest, GetWorkerInfoRequest, GetWorkerInfoResponse,
    SetPlanRequest, WorkerChannel, WorkerToCoordinatorMsg,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use http::HeaderMap;
use url::Url;

use super::tls::WORKER_CA_ENV;

/// A worker's channel, with its failures naming the worker.
pub(crate) struct NamedWorkerChannel {
    inner: Box<dyn WorkerChannel>,
    /// The worker as users write it, `host:port`.
    address: Arc<str>,
}

impl NamedWorkerChannel {
    pub(crate) fn new(inner: Box<dyn WorkerChannel>, url: &Url) -> Self {
        let address = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            _ => url.to_string(),
        };
        Self {
            inner,
            address: address.into(),
        }
    }
}

/// `error` as the query reports it: a gRPC failure (not an error the worker's plan
/// raised) names the worker and says what to check.
fn name_worker(address: &str, error: DataFusionError) -> DataFusionError {
    let DataFusionError::External(source) = &error else {
        return error;
    };
    let Some(status) = source.downcast_ref::<tonic::Status>() else {
        return error;
    };
    // tonic says "transport error" and keeps the cause in the error's sources.
    let mut detail = status.message().to_string();
    let mut cause = std::error::Error::source(status);
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !detail.contains(&text) {
            detail = format!("{detail}: {text}");
        }
        cause = inner.source();
    }
    let lower = detail.to_ascii_lowercase();
    let message = match status.code() {
        // The worker answered and refused: its own message says why (token, version).
        tonic::Code::Unauthenticated | tonic::Code::FailedPrecondition => {
            format!("knit worker {address}: {detail}")
        }
        _ if lower.contains("certificate") => format!(
            "knit worker {address} is not trusted ({detail}): set {WORKER_CA_ENV} to the PEM \
             file of the authority that signed its certificate, and list the worker by a name \
             or address its certificate holds"
        ),
        // Killed, hung, unreachable, or TLS on one side only: gRPC's messages for these
        // overlap (a broken pipe ends both a killed worker's stream and a plain
        // client's talk to a TLS worker), so one message covers them.
        _ => format!(
            "knit worker {address} failed or could not be reached ({detail}): it stopped, \
             its network failed, or it serves TLS and the list does not say https:// (or \
             the other way round); check that `knit worker` runs there and that this machine \
             reaches it, or leave it out of the worker list (--workers, KNIT_WORKERS or SET \
             knit.workers)"
        ),
    };
    DataFusionError::Execution(message)
}

/// `stream` with its errors naming the worker.
fn named<T: Send + 'static>(
    address: &Arc<str>,
    stream: BoxStream<'static, Result<T>>,
) -> BoxStream<'static, Result<T>> {
    let address = Arc::clone(address);
    stream
        .map(move |item| item.map_err(|e| name_worker(&address, e)))
        .boxed()
}

#[async_trait]
impl WorkerChannel for NamedWorkerChannel {
    async fn coordinator_channel(
        &mut self,
        headers: HeaderMap,
        set_plan_request: SetPlanRequest,
        c2w_stream: BoxStream<'static, CoordinatorToWorkerMsg>,
        metrics: ExecutionPlanMetricsSet,
        task_ctx: &Arc<TaskContext>,
    ) -> Result<BoxStream<'static, Result<WorkerToCoordinatorMsg>>> {
        let stream = self
            .inner
            .coordinator_channel(headers, set_plan_request, c2w_stream, metrics, task_ctx)
            .await
            .map_err(|e| name_worker(&self.address, e))?;
        Ok(named(&self.address, stream))
    }

    async fn execute_task(
        &mut self,
        headers: HeaderMap,
        request: ExecuteTaskRequest,
        metrics: ExecutionPlanMetricsSet,
        task_ctx: &Arc<TaskContext>,
    ) -> Result<Vec<BoxStream<'static, Result<RecordBatch>>>> {
        let streams = self
            .inner
            .execute_task(headers, request, metrics, task_ctx)
            .await
            .map_err(|e| name_worker(&self.address, e))?;
        Ok(streams
            .into_iter()
            .map(|stream| named(&self.address, stream))
            .collect())
    }

    async fn get_worker_info(
        &mut self,
        request: GetWorkerInfoRequest,
    ) -> Result<GetWorkerInfoResponse> {
        self.inner
            .get_worker_info(request)
            .await
            .map_err(|e| name_worker(&self.address, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message a query gets for a worker's gRPC `status`.
    fn reported(status: tonic::Status) -> String {
        name_worker("h:1", DataFusionError::External(Box::new(status))).to_string()
    }

    #[test]
    fn a_broken_stream_or_a_worker_not_reached_names_it_and_what_to_check() {
        for (status, detail) in [
            (
                tonic::Status::unknown(
                    "h2 protocol error: error reading a body from connection: stream closed \
                     because of a broken pipe",
                ),
                "(h2 protocol",
            ),
            (
                tonic::Status::unavailable("tcp connect error: Connection refused"),
                "(tcp connect",
            ),
        ] {
            let text = reported(status);
            assert!(
                text.contains(&format!(
                    "knit worker h:1 failed or could not be reached {detail}"
                )) && text.contains("leave it out of the worker list"),
                "{text}"
            );
        }
    }

    #[test]
    fn an_untrusted_certificate_says_which_variable_names_the_authority() {
        let text = reported(tonic::Status::unknown(
            "invalid peer certificate: UnknownIssuer",
        ));
        assert!(
            text.contains("knit worker h:1 is not trusted (invalid peer certificate")
                && text.contains("KNIT_WORKER_CA"),
            "{text}"
        );
    }

    #[test]
    fn a_refusal_keeps_the_workers_reason() {
        assert_eq!(
            reported(tonic::Status::unauthenticated(
                "the knit worker refused the plan"
            )),
            "Execution error: knit worker h:1: the knit worker refused the plan"
        );
    }

    #[test]
    fn an_error_of_the_workers_plan_is_left_as_it_is() {
        let error = name_worker("h:1", DataFusionError::Plan("bad cast".into()));
        assert_eq!(error.to_string(), "Error during planning: bad cast");
        let other = DataFusionError::External("not a status".into());
        assert_eq!(
            name_worker("h:1", other).to_string(),
            "External error: not a status"
        );
    }
}
