// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The coordinator's side: a session whose queries run on workers.
//!
//! The session plans as ever (Knit's planner, its table functions and catalog), then
//! datafusion-distributed cuts the physical plan into stages at its shuffles and
//! merges, and sends each stage to workers. Three rules keep Knit's answers:
//!
//! - **Knit's graph operators run in one task**, but for the stitch of an id graph
//!   or edges, which spreads by cluster (`crate::stitch`'s `spread`; in its plan only
//!   the labels take one task). The others (a stitch read in several places, a
//!   lookup, `connected_components`, the reports) read all of their input; their
//!   stage runs as one task on one worker, fed by the stages below (scans, filters,
//!   partial aggregates), which do spread.
//! - **What cannot travel stays home.** Before a distributed plan is kept, every
//!   stage a worker would run is encoded; if one holds an operator that cannot be
//!   sent (a kept result, a report, a Delta scan), the query runs in the session's
//!   process instead, as it would without workers (said at debug level).
//! - **Every request carries the token and the version** ([`super::access`]).
//!
//! Which workers: `knit.workers` (`SET knit.workers = 'host:port,...'`, or the session
//! builder's list), read at each query; empty runs locally.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::config::{ConfigExtension, ConfigOptions, ExtensionOptions};
use datafusion::datasource::source_as_provider;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_distributed::grpc::{BoxCloneSyncChannel, create_worker_client};
use datafusion_distributed::{
    ChannelResolver, DesiredTaskCountEvent, DesiredTaskCountEventResponse, DistributedCodec,
    DistributedConfig, DistributedExec, DistributedExt, DistributedLeafExec, NetworkBoundaryExt,
    SessionStateBuilderExt, WorkerChannel, WorkerResolver,
};
use datafusion_proto::physical_plan::AsExecutionPlan;
use datafusion_proto::protobuf::PhysicalPlanNode;
use datafusion_session::Session;
use http::{HeaderMap, HeaderValue};
use knit_delta::DeltaTableScan;
use url::Url;

use super::access::{KNIT_VERSION, TOKEN_HEADER, VERSION_HEADER, WORKER_TOKEN_ENV, token_from_env};
use super::channel::NamedWorkerChannel;
use super::codec::KnitCodec;
use super::merge::{MergePartitionsExec, merge_in_task};
use super::tls::{client_config, install_crypto_provider};
use crate::column_names::LowercaseColumns;
use crate::components::ConnectedComponentsExec;
use crate::entity_scope::IN_SCOPE_FUNCTION;
use crate::error::internal;
use crate::kept::KeepExec;
use crate::options::KnitOptions;
use crate::stitch::{SharedStitches, SpreadStitches, is_routed_stitch, reads_kept_stitch};

/// How long connecting to a worker may take before the query fails naming it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often an idle connection to a worker is probed, and how long a probe may go
/// unanswered before the worker counts as gone (a killed host sends no reset).
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses a worker list, `host:port` (or `http://host:port`, or `https://host:port` for
/// a worker that serves TLS) separated by commas, into the URLs datafusion-distributed
/// dials.
pub fn parse_workers(list: &str) -> crate::Result<Vec<Url>> {
    let mut urls = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let text = if entry.contains("://") {
            entry.to_string()
        } else {
            format!("http://{entry}")
        };
        let url = Url::parse(&text).ok().filter(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.port().is_some()
                && url.path() == "/"
        });
        let Some(url) = url else {
            return Err(crate::CoreError::invalid(format!(
                "worker '{entry}' is not an address: write host:port, as `knit worker \
                 --listen` prints it (e.g. 127.0.0.1:7701), or https://host:port for a \
                 worker that serves TLS"
            )));
        };
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    Ok(urls)
}

/// The workers of the query being planned.
#[derive(Debug, Clone, Default)]
struct WorkerList(Arc<RwLock<Vec<Url>>>);

impl WorkerResolver for WorkerList {
    fn get_urls(&self) -> Result<Vec<Url>> {
        self.0
            .read()
            .map(|urls| urls.clone())
            .map_err(|_| internal("the worker list is poisoned"))
    }
}

/// Connections to workers, one per address, with bounded connect and liveness times.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnitChannels {
    channels: Arc<Mutex<HashMap<Url, tonic::transport::Channel>>>,
}

#[async_trait]
impl ChannelResolver for KnitChannels {
    async fn get_worker_client_for_url(&self, url: &Url) -> Result<Box<dyn WorkerChannel>> {
        let channel = {
            let mut channels = self
                .channels
                .lock()
                .map_err(|_| internal("the worker connections are poisoned"))?;
            match channels.get(url) {
                Some(channel) => channel.clone(),
                None => {
                    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_string())
                        .map_err(|e| {
                            DataFusionError::Configuration(format!("worker {url}: {e}"))
                        })?;
                    if url.scheme() == "https" {
                        install_crypto_provider();
                        endpoint = endpoint.tls_config(client_config(url)?).map_err(|e| {
                            DataFusionError::Configuration(format!("worker {url}: {e}"))
                        })?;
                    }
                    let endpoint = endpoint
                        .connect_timeout(CONNECT_TIMEOUT)
                        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
                        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
                        .keep_alive_while_idle(true);
                    let channel = endpoint.connect_lazy();
                    channels.insert(url.clone(), channel.clone());
                    channel
                }
            }
        };
        let client = create_worker_client(BoxCloneSyncChannel::new(channel));
        Ok(Box::new(NamedWorkerChannel::new(client, url)))
    }
}

/// The headers every request to a worker carries: the token and this Knit's version.
pub(crate) fn passthrough_headers(token: &str) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    let token = HeaderValue::from_str(token).map_err(|_| {
        DataFusionError::Configuration(format!(
            "{WORKER_TOKEN_ENV} holds characters a header cannot carry: use letters, digits \
             and punctuation"
        ))
    })?;
    headers.insert(TOKEN_HEADER, token);
    headers.insert(VERSION_HEADER, HeaderValue::from_static(KNIT_VERSION));
    Ok(headers)
}

/// True for Knit's graph operators, which read all of their input.
fn is_graph_operator(plan: &dyn ExecutionPlan) -> bool {
    plan.is::<ConnectedComponentsExec>()
        || matches!(
            plan.name(),
            "IdStitchExec" | "MainIdLookupExec" | "StitchInspectExec" | "IdLabelsExec"
        )
}

/// How many tasks Knit's operators may run in. The operators that emit a graph (the
/// stitch, its reports, `connected_components`) run as one task: each task would emit
/// all of it. A lookup would run in as many tasks as its rows spread over (a query
/// holding one runs locally, see [`DistributingPlanner`]); a merge is run whole by
/// every task of its stage.
fn knit_task_counts(
    event: DesiredTaskCountEvent<'_>,
) -> Option<Result<DesiredTaskCountEventResponse>> {
    let plan = event.plan.as_ref();
    if plan.is::<MergePartitionsExec>() {
        return Some(Ok(DesiredTaskCountEventResponse::desired(1)));
    }
    // A routed stitch's partitions are stitches of their own, spread as any stage's.
    (is_graph_operator(plan) && plan.name() != "MainIdLookupExec" && !is_routed_stitch(plan))
        .then(|| Ok(DesiredTaskCountEventResponse::maximum(1)))
}

/// Knit's planner, with the inputs of graph operators merged in the operators' own
/// task ([`merge_in_task`]): the plans the distributed planner cuts into stages.
#[derive(Debug)]
struct GraphInputsInTask(Arc<dyn QueryPlanner + Send + Sync>);

#[async_trait]
impl QueryPlanner for GraphInputsInTask {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // The stitch's planner spreads the stitches this says (`crate::stitch`'s
        // `spread`), told through the config of a copy of the session.
        let spread = SpreadStitches::of_plan(logical_plan)?;
        let plan = match session.as_any().downcast_ref::<SessionState>() {
            Some(state) if !spread.is_empty() => {
                let mut state = state.clone();
                state.config_mut().set_extension(Arc::new(spread));
                self.0.create_physical_plan(logical_plan, &state).await?
            }
            _ => self.0.create_physical_plan(logical_plan, session).await?,
        };
        merge_in_task(plan, is_graph_operator)
    }
}

/// Plans locally, or across the session's workers when it has some and the plan can
/// travel.
#[derive(Debug)]
struct DistributingPlanner {
    local: Arc<dyn QueryPlanner + Send + Sync>,
    distributed: Arc<dyn QueryPlanner + Send + Sync>,
    workers: WorkerList,
    /// Whether requests carry a token; without one, workers refuse every plan.
    has_token: bool,
}

impl DistributingPlanner {
    /// The workers `knit.workers` names, with a check that the token is there.
    fn workers_of(&self, session: &dyn Session) -> Result<Vec<Url>> {
        let list = session
            .config()
            .options()
            .extensions
            .get::<KnitOptions>()
            .and_then(|options| options.workers.clone())
            .unwrap_or_default();
        let urls = parse_workers(&list).map_err(|e| DataFusionError::Plan(e.to_string()))?;
        if !urls.is_empty() && !self.has_token {
            return Err(DataFusionError::Configuration(format!(
                "knit.workers names workers, but {WORKER_TOKEN_ENV} is not set: set it to the \
                 token the workers were started with"
            )));
        }
        Ok(urls)
    }
}

#[async_trait]
impl QueryPlanner for DistributingPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let urls = self.workers_of(session)?;
        if urls.is_empty() {
            return self.local.create_physical_plan(logical_plan, session).await;
        }
        *self
            .workers
            .0
            .write()
            .map_err(|_| internal("the worker list is poisoned"))? = urls;
        if let Some(reason) = reason_to_plan_here(logical_plan)? {
            tracing::debug!("running the query locally: {reason}");
            return self.local.create_physical_plan(logical_plan, session).await;
        }
        let plan = self
            .distributed
            .create_physical_plan(logical_plan, session)
            .await?;
        // `EXPLAIN ANALYZE` wraps the distributed plan.
        if !plan.exists(|node| Ok(node.is::<DistributedExec>()))? {
            // Nothing spread: the query runs as a local session would run it. The plan
            // made for workers is not that plan: its stitch may be routed (slower whole
            // in one process), and its graph operators' inputs are merged for a worker's
            // task, hidden from the optimizer; run here beside a query that builds the
            // same stitch (a project run computes two outputs at once), such a plan
            // built it from the wrong rows.
            return self.local.create_physical_plan(logical_plan, session).await;
        }
        if let Some(reason) = reason_to_run_here(&plan)? {
            tracing::debug!("running the query locally: {reason}");
            return self.local.create_physical_plan(logical_plan, session).await;
        }
        match stage_that_cannot_travel(&plan, session)? {
            None => Ok(plan),
            Some(reason) => {
                tracing::debug!(%reason, "running the query locally");
                self.local.create_physical_plan(logical_plan, session).await
            }
        }
    }
}

/// Why the distributed `plan` must run in this process, if one of its operators, in any
/// stage (below the network boundaries, which a plain walk does not enter), says so.
fn reason_to_run_here(plan: &Arc<dyn ExecutionPlan>) -> Result<Option<&'static str>> {
    let mut reason = None;
    plan.apply(|node| {
        reason = reason_for_operator(node.as_ref());
        if reason.is_none()
            && let Some(stage) = node
                .as_network_boundary()
                .and_then(|boundary| boundary.input_stage().local_plan())
        {
            reason = reason_to_run_here(stage)?;
        }
        Ok(if reason.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    Ok(reason)
}

/// Why `node` keeps its query in this process, if it does.
fn reason_for_operator(node: &dyn ExecutionPlan) -> Option<&'static str> {
    if node.name() == "MainIdLookupExec" {
        // A lookup maps rows to cluster numbers of the stitch it builds, and the entity
        // list beside it numbers clusters by its own build: two builds, in two
        // processes, number clusters in the order their inputs' partitions deliver
        // rows, which differs from run to run once an input has several files, so the
        // vars of one entity could land on another. Until clusters are numbered the
        // same by every build, rows are mapped where the stitch is.
        Some("it maps rows to their entity")
    } else if node.is::<KeepExec>() {
        // A kept result (a feature table's vars, kept for the next outputs) is shared
        // by the session's queries, and computed by the first to run it from its own
        // plan: computed in a plan cut for workers, beside a query that builds the same
        // stitch from its local plan (a project run computes two outputs at once), it
        // mapped rows to clusters of another build.
        Some("it keeps a result")
    } else if reads_kept_stitch(node) {
        // The stitch an earlier query built is in this process; its inputs' stages
        // would run on the workers for nothing (and hold the query's end).
        Some("it reads a kept stitch")
    } else {
        None
    }
}

/// Why `plan` can only be planned and run in this process, if it can: it reads a Delta
/// table (whose scan cannot be sent, and whose deletion vectors' filter cannot take the
/// nodes the distributed planner puts below it), or its change data feed
/// (`table_changes`: delta-rs registers the store its scan reads through in the session
/// that plans it, which the distributed planner's steps do not find), or it filters on
/// a refresh's scope of ids (`__knit_in_scope`, whose set of ids lives here and is not
/// encoded).
fn reason_to_plan_here(plan: &LogicalPlan) -> Result<Option<&'static str>> {
    let mut reason = None;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(provider) = source_as_provider(&scan.source)
        {
            let provider = match provider.downcast_ref::<LowercaseColumns>() {
                Some(renamed) => Arc::clone(renamed.source()),
                None => provider,
            };
            if knit_delta::is_change_feed(provider.as_ref()) {
                reason = Some("it reads a Delta table's change data feed");
            } else if provider.is::<DeltaTableScan>() {
                reason = Some("it reads a Delta table");
            }
        }
        // A scan's own filters too: the optimizer pushes filters into scans.
        if reason.is_none() {
            node.apply_expressions(|expr| {
                expr.apply(|expr| {
                    if let Expr::ScalarFunction(call) = expr
                        && call.name() == IN_SCOPE_FUNCTION
                    {
                        reason = Some("it reads a refresh's scope of ids");
                        return Ok(TreeNodeRecursion::Stop);
                    }
                    Ok(TreeNodeRecursion::Continue)
                })
            })?;
        }
        Ok(if reason.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    Ok(reason)
}

/// Why a stage of the distributed `plan` cannot be sent to a worker, if one cannot.
fn stage_that_cannot_travel(
    plan: &Arc<dyn ExecutionPlan>,
    session: &dyn Session,
) -> Result<Option<String>> {
    let codec = DistributedCodec::new_combined_with_user(session.config());
    let mut reason = None;
    plan.apply(|node| {
        let Some(boundary) = node.as_network_boundary() else {
            return Ok(TreeNodeRecursion::Continue);
        };
        let Some(stage) = boundary.input_stage().local_plan() else {
            return Ok(TreeNodeRecursion::Continue);
        };
        // Each task gets its own variant of a spread scan, as the scan it wraps is
        // encoded.
        let stage = Arc::clone(stage)
            .transform_down(|node| {
                Ok(match node.downcast_ref::<DistributedLeafExec>() {
                    Some(leaf) => Transformed::yes(Arc::clone(leaf.original())),
                    None => Transformed::no(node),
                })
            })?
            .data;
        if let Err(e) = PhysicalPlanNode::try_from_physical_plan(stage, &codec) {
            reason = Some(e.to_string());
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(reason)
}

/// Sets up `builder` (whose query planner is Knit's) to run queries on the workers of
/// `knit.workers`, sending `token` (default: `KNIT_WORKER_TOKEN`).
pub(crate) fn distribute(
    builder: SessionStateBuilder,
    token: Option<String>,
) -> Result<SessionStateBuilder> {
    let workers = WorkerList::default();
    let mut builder = builder;
    let local = builder
        .query_planner()
        .clone()
        .ok_or_else(|| internal("the session has no query planner to distribute"))?;
    let config = builder.config().get_or_insert_default();
    let scalar_subqueries = config
        .options()
        .optimizer
        .enable_physical_uncorrelated_scalar_subquery;
    let mut builder = builder
        .with_query_planner(Arc::new(GraphInputsInTask(Arc::clone(&local))))
        .with_distributed_planner()
        .with_distributed_worker_resolver(workers.clone())
        .with_distributed_channel_resolver(KnitChannels::default())
        .with_distributed_user_codec(KnitCodec::new(SharedStitches::default()))
        .with_distributed_desired_task_count_handler(knit_task_counts);
    let token = token.or_else(token_from_env);
    if let Some(token) = &token {
        builder = builder.with_distributed_passthrough_headers(passthrough_headers(token)?)?;
    }
    // The distributed planner turns physical scalar subqueries off for every plan;
    // local plans keep DataFusion's choice, and a distributed plan holding one that
    // cannot be encoded runs locally.
    if let Some(config) = builder.config() {
        config
            .options_mut()
            .optimizer
            .enable_physical_uncorrelated_scalar_subquery = scalar_subqueries;
        distributed_options_from_env(config.options_mut())?;
    }
    let distributed = builder
        .query_planner()
        .clone()
        .ok_or_else(|| internal("the distributed planner is missing"))?;
    Ok(builder.with_query_planner(Arc::new(DistributingPlanner {
        local,
        distributed,
        workers,
        has_token: token.is_some(),
    })))
}

/// Sets the engine's `distributed.*` options from the environment, as DataFusion sets
/// its own (`DATAFUSION_EXECUTION_BATCH_SIZE`): `distributed.file_scan_config_bytes_per_partition`
/// from `DATAFUSION_DISTRIBUTED_FILE_SCAN_CONFIG_BYTES_PER_PARTITION`. DataFusion reads
/// the environment for its own options only, and a `knit project run` has no `SET`.
fn distributed_options_from_env(options: &mut ConfigOptions) -> Result<()> {
    // The extension lists its options by field name, without its prefix.
    let keys: Vec<String> = options
        .extensions
        .get::<DistributedConfig>()
        .map(|config| {
            config
                .entries()
                .into_iter()
                .map(|entry| entry.key)
                .collect()
        })
        .unwrap_or_default();
    for field in keys {
        let key = format!("{}.{field}", DistributedConfig::PREFIX);
        let variable = format!("DATAFUSION_{}", key.to_uppercase().replace('.', "_"));
        if let Some(value) = std::env::var_os(&variable) {
            let value = value.to_string_lossy();
            options.set(&key, &value).map_err(|e| {
                DataFusionError::Configuration(format!(
                    "environment variable {variable}: {e}; unset it or give it a valid value"
                ))
            })?;
        }
    }
    Ok(())
}
