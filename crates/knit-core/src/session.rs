// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Building Knit's DataFusion session, and running statements in it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::catalog::{DynamicFileCatalog, TableProviderFactory, UrlTableFactory};
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::SessionStateDefaults;
use datafusion::execution::memory_pool::MemoryLimit;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::dml::CopyTo;
use datafusion::logical_expr::planner::ExprPlanner;
use datafusion::logical_expr::{AggregateUDF, DdlStatement, Expr, LogicalPlan, ScalarUDF};
use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;
use datafusion::optimizer::{Analyzer, AnalyzerRule};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use knit_sql::Statement;
use url::Url;

use crate::catalog::Catalog;
use crate::column_names::ColumnNamesFactory;
use crate::components::ConnectedComponentsRelationPlanner;
use crate::copy::StagedCopy;
use crate::delta::copy::{copy_options, copy_to_delta, is_delta_copy};
use crate::delta::functions::{
    DELTA_HISTORY, DeltaTableFunction, ResolvedCalls, TABLE_CHANGES, resolve_calls,
};
use crate::delta::{DELTA, DeltaTableFactory};
use crate::distinct_order::SortedDistinctLists;
use crate::error::{CoreError, Result};
use crate::exact_numbers::ExactNumbers;
use crate::features::count_distinct::CountDistinct;
use crate::features::{AggregateNames, SingleStageEntityAggregate, expand_feature_functions};
use crate::file_tables::{FileTableFactory, name_damaged_files};
use crate::float_text_casts::FloatTextCasts;
use crate::functions::columns_through;
use crate::functions::interval_text::{IntervalText, is_duration};
use crate::functions::to_json::{ToJson, is_nested};
use crate::integer_casts::RoundingIntegerCasts;
use crate::kept::KeepRelationPlanner;
use crate::memory::default_memory_limit;
use crate::memory_table::create_memory_table;
use crate::merge_history::{CurrentMainId, Redirects};
use crate::object_stores::{
    KnitObjectStoreRegistry, S3TableOptions, build_s3_store, is_s3, s3_options,
};
use crate::options::KnitOptions;
use crate::overflow::CheckedArithmetic;
use crate::planner::KnitQueryPlanner;
use crate::profile_statements::execute_profile;
use crate::query::{self, RunningQuery};
use crate::stitch::{IdTypeFilter, MainIdLookupRelationPlanner};
use crate::udtf::all_table_functions;
use crate::volatile_between::VolatileBetweenOnce;
use crate::volatile_case::VolatileCaseOnce;
use knit_delta::DeltaTableScan;

/// The column `DESCRIBE` adds for a Delta table: the version it reads.
const DELTA_VERSION_COLUMN: &str = "delta_version";

/// Rows per batch, unless `DATAFUSION_EXECUTION_BATCH_SIZE` says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 32 * 1024;

/// The codec of the Parquet files Knit writes, unless
/// `DATAFUSION_EXECUTION_PARQUET_COMPRESSION` or `SET
/// datafusion.execution.parquet.compression` names another.
pub const DEFAULT_PARQUET_COMPRESSION: &str = "zstd(1)";

/// Builds a [`KnitSession`]: the one place where Knit sets up DataFusion.
#[derive(Debug, Clone, Default)]
pub struct SessionBuilder {
    memory_limit: Option<usize>,
    target_partitions: Option<usize>,
    statement_timeout: Option<Duration>,
    workers: Option<String>,
    // Read only by a build with workers (the `distributed` feature).
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    worker_token: Option<String>,
}

impl SessionBuilder {
    /// A builder with the defaults: memory limited to 80% of physical memory, one
    /// partition per core, and `DATAFUSION_*` environment settings applied.
    pub fn new() -> Self {
        Self::default()
    }

    /// Caps the memory that queries may hold, in bytes. Past it, a query fails with a
    /// resources error (or spills, where the operator can).
    pub fn with_memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Sets how many partitions plans use; results then do not depend on the core count.
    pub fn with_target_partitions(mut self, partitions: usize) -> Self {
        self.target_partitions = Some(partitions);
        self
    }

    /// Bounds how long each statement may run (`knit.statement_timeout`); whoever runs
    /// the statements enforces it, see [`KnitSession::statement_timeout`].
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = (!timeout.is_zero()).then_some(timeout);
        self
    }

    /// Runs queries on the workers of `list` (`host:port,...`, see
    /// [`crate::distributed`]), as `SET knit.workers` does; an empty list runs them in
    /// this process.
    #[cfg(feature = "distributed")]
    pub fn with_workers(mut self, list: &str) -> Result<Self> {
        crate::distributed::parse_workers(list)?;
        self.workers = (!list.trim().is_empty()).then(|| list.trim().to_string());
        Ok(self)
    }

    /// The token of the session's workers (default: `KNIT_WORKER_TOKEN`).
    #[cfg(feature = "distributed")]
    pub fn with_worker_token(mut self, token: &str) -> Self {
        self.worker_token = Some(token.to_string());
        self
    }

    /// Builds the session.
    pub fn build(self) -> Result<KnitSession> {
        crate::panics::ensure_recording();
        let mut config = SessionConfig::from_env()?.with_information_schema(true);
        // Spans let errors point at the line of the offending table or column.
        config.options_mut().sql_parser.collect_spans = true;
        // Parquet strings as Utf8, not Utf8View: a feature table keeps string values (a
        // last event, a latest email) through aggregates and joins, where each view array
        // holds on to every decoded page buffer it came from; the hash joins that put
        // vars side by side then copy those buffers once per batch. On 3M events that
        // took 126 s and 10.6 GB, against 16 s and 1.5 GB with plain strings.
        config
            .options_mut()
            .execution
            .parquet
            .schema_force_view_types = false;
        // No pushdown of "leaf" expressions (DataFusion 55's `extract_leaf_expressions`
        // and `push_down_leaf_projections`, for field reads: `get_field`, the JSON
        // functions): in a
        // feature table whose var reads a field of another var (`address:zipcode`), the
        // pushdown rebuilt a projection over the vars' joins with their columns only,
        // dropping the `coalesce(var, default)` of a var's default, so the default went
        // NULL: apache/datafusion#25414 (a computed column named as its input column is
        // replaced by that column). The rule moves field reads towards scans; Knit's
        // JSON is text, read once wherever it is, so it saves little here.
        config
            .options_mut()
            .optimizer
            .enable_leaf_expression_pushdown = false;
        // Parquet files (COPY, project outputs, Delta data files) in zstd at level 1
        // rather than DataFusion's level 3, unless the environment names a codec: the
        // 14 outputs of the 1M-edge project bench were written in 3.64-3.67 s instead of
        // 4.07-4.29 s, and came out smaller (150 MB against 155 MB); the 10M-edge id
        // graph as a Delta table in 1.77 s instead of 2.71 s. Snappy wrote as fast, but
        // its files were 60% larger and read 25% slower.
        if std::env::var_os("DATAFUSION_EXECUTION_PARQUET_COMPRESSION").is_none() {
            config.options_mut().execution.parquet.compression =
                Some(DEFAULT_PARQUET_COMPRESSION.to_string());
        }
        // Batches of 32K rows rather than 8K, unless the environment sets a size: the
        // stitch and the lookups overlap their cache misses over a batch, and per-batch
        // costs shrink. A 10M-event feature table took 15.5 s instead of 16.9 s.
        if std::env::var_os("DATAFUSION_EXECUTION_BATCH_SIZE").is_none() {
            config = config.with_batch_size(DEFAULT_BATCH_SIZE);
        }
        config = config.with_option_extension(KnitOptions {
            statement_timeout: self.statement_timeout,
            profile_store: None,
            workers: self.workers.clone().or_else(workers_from_env),
            list_index_base: Default::default(),
        });
        if let Some(partitions) = self.target_partitions {
            config = config.with_target_partitions(partitions);
        }

        // The same pool as `SET datafusion.runtime.memory_limit` makes: greedy, and
        // naming its largest consumers when it runs out.
        let memory_limit = self.memory_limit.or_else(default_memory_limit);
        // No cache of directory listings: DataFusion keeps one forever by default, so a
        // session would never see files that land (or go) after it first listed a path.
        let mut runtime = RuntimeEnvBuilder::new()
            .with_object_store_registry(Arc::new(KnitObjectStoreRegistry::default()))
            .with_object_list_cache_limit(0);
        if let Some(limit) = memory_limit {
            runtime = runtime.with_memory_limit(limit, 1.0);
        }
        let runtime = runtime.build_arc()?;
        let catalog = Catalog::default();
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_table_factories(table_factories())
            .with_query_planner(Arc::new(KnitQueryPlanner::default()))
            .with_analyzer_rules(analyzer_rules())
            .with_analyzer_rule(Arc::new(RoundingIntegerCasts))
            .with_analyzer_rule(Arc::new(SortedDistinctLists))
            .with_analyzer_rule(Arc::new(FloatTextCasts))
            .with_analyzer_rule(Arc::new(VolatileCaseOnce))
            .with_analyzer_rule(Arc::new(VolatileBetweenOnce::default()))
            .with_physical_optimizer_rule(Arc::new(CheckedArithmetic))
            .with_physical_optimizer_rule(Arc::new(SingleStageEntityAggregate))
            .with_physical_optimizer_rule(Arc::new(IdTypeFilter))
            .with_relation_planners(vec![
                Arc::new(ConnectedComponentsRelationPlanner),
                Arc::new(KeepRelationPlanner),
                Arc::new(MainIdLookupRelationPlanner::new(catalog.clone())),
            ]);
        #[cfg(feature = "distributed")]
        let state = crate::distributed::distribute(state, self.worker_token)?;
        let state = state.build();

        // File paths as table names: the factory needs the finished session, and the
        // session needs the factory in its catalog list, so it is wired in afterwards.
        let files = Arc::new(FileTableFactory::default());
        let catalogs = Arc::new(DynamicFileCatalog::new(
            Arc::clone(state.catalog_list()),
            Arc::clone(&files) as Arc<dyn UrlTableFactory>,
        ));
        // Field access on text reads JSON, arithmetic on text reads numbers, and text
        // compared with a boolean reads one; they go first, before DataFusion's own
        // planners (which refuse text there).
        let mut expr_planners: Vec<Arc<dyn ExprPlanner>> = vec![
            Arc::new(crate::functions::json_access::JsonFieldAccess),
            Arc::new(crate::functions::text_arithmetic::TextArithmetic),
            Arc::new(crate::functions::text_boolean::TextBooleanComparison),
        ];
        expr_planners.extend(state.expr_planners().iter().cloned());
        let ctx: SessionContext = SessionStateBuilder::new_from_existing(state)
            .with_catalog_list(catalogs)
            .with_expr_planners(expr_planners)
            .build()
            .into();
        files.session_store().with_state(ctx.state_weak_ref());
        ctx.register_table_options_extension(S3TableOptions::default());
        for (name, function) in all_table_functions(&catalog) {
            ctx.register_udtf(name, function);
        }
        let redirects = Redirects::default();
        ctx.register_udf(ScalarUDF::from(CurrentMainId::new(redirects.clone())));
        let delta_calls = ResolvedCalls::default();
        for name in [TABLE_CHANGES, DELTA_HISTORY] {
            let function = DeltaTableFunction::new(name, delta_calls.clone());
            ctx.register_udtf(name, Arc::new(function));
        }
        for function in crate::functions::all_scalar_functions() {
            ctx.register_udf(function);
        }
        ctx.register_udaf(AggregateUDF::from(CountDistinct::new()));
        for function in crate::functions::all_aggregate_functions() {
            ctx.register_udaf(function);
        }
        // json_get(j, 'a', 0), json_as_text, json_length, ... and the `->` / `->>`
        // operators over JSON kept as text.
        datafusion_functions_json::register_all(&mut *ctx.state_ref().write())?;

        tracing::debug!(?memory_limit, "built session");
        Ok(KnitSession {
            ctx,
            catalog,
            delta_calls,
            redirects,
        })
    }
}

/// The workers `KNIT_WORKERS` names, when this Knit can use workers.
#[cfg(feature = "distributed")]
fn workers_from_env() -> Option<String> {
    std::env::var(crate::distributed::WORKERS_ENV)
        .ok()
        .filter(|list| !list.trim().is_empty())
}

#[cfg(not(feature = "distributed"))]
fn workers_from_env() -> Option<String> {
    None
}

/// A DataFusion session with Knit's tables, functions and statements.
#[derive(Clone)]
pub struct KnitSession {
    ctx: SessionContext,
    catalog: Catalog,
    /// The tables of the Delta table functions of the statement being planned.
    delta_calls: ResolvedCalls,
    /// The merge histories of the entities `current_main_id` calls name.
    redirects: Redirects,
}

impl std::fmt::Debug for KnitSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnitSession")
            .field("session_id", &self.ctx.session_id())
            .field("memory_limit", &self.memory_limit())
            .finish()
    }
}

impl KnitSession {
    /// Serves as a knit worker on `listener` until `shutdown` completes: the stages
    /// coordinators send (with `token`, see [`crate::distributed`]) run with this
    /// session's functions, object stores and memory pool. With `tls`, it accepts TLS
    /// connections only.
    #[cfg(feature = "distributed")]
    pub async fn serve_worker(
        self,
        listener: tokio::net::TcpListener,
        token: String,
        tls: Option<&crate::distributed::WorkerTls>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        crate::distributed::serve(listener, token, tls, self.ctx.state(), shutdown).await
    }

    /// The underlying DataFusion context, for DataFrame-level work.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The memory limit in bytes, if memory is limited. It is read from the pool, so
    /// it follows `SET datafusion.runtime.memory_limit`.
    pub fn memory_limit(&self) -> Option<usize> {
        match self.ctx.runtime_env().memory_pool.memory_limit() {
            MemoryLimit::Finite(bytes) => Some(bytes),
            MemoryLimit::Infinite | MemoryLimit::Unknown => None,
        }
    }

    /// How long a statement may run (`SET knit.statement_timeout`), if it is bounded.
    /// The caller enforces it over planning, execution and the writing of results, by
    /// dropping the statement's future when the time is up.
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.knit_setting(|options| options.statement_timeout)
    }

    /// The profile store `current_main_id` reads (`SET knit.profile_store`), if named.
    pub fn profile_store(&self) -> Option<String> {
        self.knit_setting(|options| options.profile_store.clone())
    }

    /// One of the session's `knit.*` settings.
    fn knit_setting<T>(&self, read: impl FnOnce(&KnitOptions) -> Option<T>) -> Option<T> {
        self.ctx
            .state_ref()
            .read()
            .config_options()
            .extensions
            .get::<KnitOptions>()
            .and_then(read)
    }

    /// The merge histories `current_main_id` reads.
    pub(crate) fn redirects(&self) -> &Redirects {
        &self.redirects
    }

    /// Parses and runs one statement; queries come back as a lazy [`DataFrame`].
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        let statement = knit_sql::parse_statement(sql)?;
        self.execute(statement).await
    }

    /// Parses and plans one statement and starts executing it.
    pub async fn start(&self, sql: &str) -> Result<RunningQuery> {
        let frame = self.sql(sql).await?;
        query::start(frame).await
    }

    /// For a table (or a path, quoted) that is a Delta table: its location and the
    /// version it reads (which `DESCRIBE` shows). `None` for other tables and unknown
    /// names.
    pub async fn delta_version(&self, table: &str) -> Option<(String, u64)> {
        let name = table.trim();
        let provider = match name.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')) {
            Some(path) => crate::delta::open_if_delta(&self.ctx.state(), path)
                .await
                .ok()??,
            None => self.ctx.table_provider(name).await.ok()?,
        };
        let scan = (provider.as_ref() as &dyn std::any::Any).downcast_ref::<DeltaTableScan>()?;
        Some((scan.location().to_string(), scan.version()))
    }

    /// The session's entities and inputs.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The ids of `entity`'s lookup-only inputs' rows that hold an id of its scope (every
    /// row when it has none), as `(id type, id)`: a refresh closes its scope over them
    /// (see `lookup_ids`).
    pub async fn lookup_row_ids(&self, entity: &str) -> Result<Vec<(String, String)>> {
        crate::lookup_ids::lookup_row_ids(&self.ctx, &self.catalog, entity).await
    }

    /// Runs one parsed statement. A panic while it is planned (in a decoder reading a
    /// damaged file's footer, say) comes back as an error.
    pub async fn execute(&self, statement: Statement) -> Result<DataFrame> {
        crate::panics::catch_panics(self.execute_unguarded(statement)).await
    }

    async fn execute_unguarded(&self, statement: Statement) -> Result<DataFrame> {
        if let Some(frame) = execute_profile(&self.ctx, &self.catalog, &statement).await? {
            return Ok(frame);
        }
        match statement {
            Statement::DataFusion(mut statement) => {
                self.resolve_current_main_ids(&statement).await?;
                let aggregates = AggregateNames::of(&self.ctx.state());
                expand_feature_functions(&self.catalog, &aggregates, &mut statement)?;
                let delta_copy = is_delta_copy(&statement);
                if delta_copy {
                    // Its query may read a change feed or a history, as any other.
                    resolve_calls(
                        self.ctx.runtime_env().as_ref(),
                        &statement,
                        &self.delta_calls,
                    )
                    .await?;
                }
                if delta_copy && let DFStatement::CopyTo(copy) = *statement {
                    let options: HashMap<String, String> = copy_options(&copy);
                    self.register_store(std::slice::from_ref(&copy.target), &options)?;
                    let written = Box::pin(copy_to_delta(&self.ctx, copy)).await;
                    self.delta_calls.clear();
                    return Ok(written?);
                }
                let described = match statement.as_ref() {
                    DFStatement::Statement(inner) => match inner.as_ref() {
                        SqlStatement::ExplainTable { table_name, .. } => {
                            Some(table_name.to_string())
                        }
                        _ => None,
                    },
                    _ => None,
                };
                resolve_calls(
                    self.ctx.runtime_env().as_ref(),
                    &statement,
                    &self.delta_calls,
                )
                .await?;
                let plan = self.ctx.state().statement_to_plan(*statement).await;
                self.delta_calls.clear();
                let plan = plan?;
                self.register_statement_store(&plan)?;
                // DDL runs right here; say which table failed, since the reader's error
                // (a corrupt footer, say) does not, and which file of it is damaged.
                let created = match &plan {
                    LogicalPlan::Ddl(DdlStatement::CreateExternalTable(create)) => Some((
                        format!(
                            "creating table {} from '{}'",
                            create.name,
                            create.locations.join("', '")
                        ),
                        create.locations.clone(),
                        create.file_type.eq_ignore_ascii_case("parquet"),
                    )),
                    _ => None,
                };
                if let LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) = plan {
                    return Ok(create_memory_table(&self.ctx, create).await?);
                }
                let plan = match plan {
                    LogicalPlan::Copy(copy) => LogicalPlan::Copy(csv_columns_as_text(copy)?),
                    other => other,
                };
                if let LogicalPlan::Copy(copy) = &plan
                    && let Some(staged) = StagedCopy::prepare(copy)?
                {
                    let batches = staged.run(&self.ctx, copy).await?;
                    return Ok(self.ctx.read_batches(batches)?);
                }
                let frame = crate::panics::catch_panics(self.ctx.execute_logical_plan(plan)).await;
                // DESCRIBE of a Delta table says which version it reads.
                if let (Some(table), Ok(described)) = (&described, &frame)
                    && let Some((_, version)) = self.delta_version(table).await
                {
                    let version = ScalarValue::UInt64(Some(version));
                    return Ok(described
                        .clone()
                        .with_column(DELTA_VERSION_COLUMN, Expr::Literal(version, None))?);
                }
                let Some((context, locations, is_parquet)) = created else {
                    return Ok(frame?);
                };
                match frame {
                    Ok(frame) => Ok(frame),
                    Err(mut error) => {
                        let state = self.ctx.state();
                        for location in &locations {
                            if let Ok(url) = ListingTableUrl::parse(location) {
                                error = name_damaged_files(error, &state, &url, is_parquet).await;
                            }
                        }
                        Err(error.context(context).into())
                    }
                }
            }
            // Profile statements were run above.
            _ => Err(CoreError::internal(format!(
                "statement not handled: {statement}"
            ))),
        }
    }

    /// Gives each bucket the store that a statement's `aws.*` options describe.
    fn register_statement_store(&self, plan: &LogicalPlan) -> Result<()> {
        match plan {
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(create)) => {
                self.register_store(&create.locations, &create.options)
            }
            LogicalPlan::Copy(copy) => {
                self.register_store(std::slice::from_ref(&copy.output_url), &copy.options)
            }
            _ => Ok(()),
        }
    }

    /// Gives the buckets of `locations` the store that `aws.*` options describe.
    fn register_store(
        &self,
        locations: &[String],
        options: &HashMap<String, String>,
    ) -> Result<()> {
        let options = s3_options(options);
        if options.is_empty() {
            return Ok(());
        }
        for location in locations {
            let url = Url::parse(location).ok().filter(is_s3).ok_or_else(|| {
                CoreError::invalid(format!(
                    "aws.* options apply to s3:// locations, not to '{location}': remove them"
                ))
            })?;
            let store = build_s3_store(&url, &options)?;
            self.ctx.register_object_store(&url, store);
        }
        Ok(())
    }
}

/// A `COPY` to CSV with its list, struct and map columns as JSON text (CSV has no form
/// for them, and JSON is what warehouses export them as), and its durations as the
/// warehouse's text of an interval (`1 day 02:00:00`).
fn csv_columns_as_text(mut copy: CopyTo) -> Result<CopyTo> {
    if !copy.file_type.get_ext().eq_ignore_ascii_case("csv") {
        return Ok(copy);
    }
    let input = columns_through(Arc::unwrap_or_clone(copy.input), |data_type| {
        if is_nested(data_type) {
            Some(ScalarUDF::from(ToJson::new()))
        } else if is_duration(data_type) {
            Some(ScalarUDF::from(IntervalText::new()))
        } else {
            None
        }
    })?;
    copy.input = Arc::new(input);
    Ok(copy)
}

/// DataFusion's analyzer rules, with Knit's that must see the plan before its types are
/// coerced: [`ExactNumbers`] widens a dividend or a sum, which coercion then follows.
fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let mut rules = Analyzer::new().rules;
    let coercion = rules
        .iter()
        .position(|rule| rule.name() == TypeCoercion::new().name())
        .unwrap_or(rules.len());
    rules.insert(coercion, Arc::new(ExactNumbers));
    rules
}

/// `STORED AS` formats and their factories: DataFusion's, and Delta, each taking
/// Knit's `knit.column_names` option.
fn table_factories() -> HashMap<String, Arc<dyn TableProviderFactory>> {
    let mut factories = SessionStateDefaults::default_table_factories();
    factories.insert(DELTA.to_string(), Arc::new(DeltaTableFactory));
    factories
        .into_iter()
        .map(|(format, factory)| {
            let factory: Arc<dyn TableProviderFactory> = Arc::new(ColumnNamesFactory::new(factory));
            (format, factory)
        })
        .collect()
}
