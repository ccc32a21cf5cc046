// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! S3 object stores, registered on demand per bucket.
//!
//! A query may name `s3://bucket/...` anywhere (a URL table, `CREATE EXTERNAL TABLE`,
//! `COPY ... TO`). The first use of a bucket builds its store from the `AWS_*`
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, ...). A statement with `aws.*`
//! options builds the bucket's store from the environment overlaid with those options
//! and replaces the bucket's store for the rest of the session.
//!
//! How long an unreachable or stalled store can hold a query is bounded: each request
//! gets `aws.connect_timeout` (default 5 s) to connect and `aws.timeout` (default 30 s)
//! to finish, and a failed request is retried `aws.max_retries` times (default 3) with
//! backoff, for at most `aws.retry_timeout` (default 60 s) in all; the same settings
//! come from `AWS_CONNECT_TIMEOUT`, `AWS_TIMEOUT`, `AWS_MAX_RETRIES` and
//! `AWS_RETRY_TIMEOUT`. (object_store's own defaults retry for three minutes.) Without
//! credentials in the environment or the options, the store asks the machine's
//! instance metadata service for them, as AWS's own tools do; `AWS_EC2_METADATA_DISABLED`
//! set to `true` makes that an immediate error instead.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use object_store::RetryConfig;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::client::ClientConfigKey;
use url::Url;

use crate::options::parse_duration;

/// The `aws.*` options that `CREATE EXTERNAL TABLE` and `COPY` accept, without the prefix.
pub const S3_OPTIONS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "session_token",
    "region",
    "endpoint",
    "allow_http",
    "skip_signature",
    "connect_timeout",
    "timeout",
    "max_retries",
    "retry_timeout",
];

/// The retry options, which Knit reads itself (object_store takes them as a value, not
/// as configuration keys).
const RETRY_OPTIONS: &[&str] = &["max_retries", "retry_timeout"];

/// Defaults of the bounds on a request (see the module doc).
const DEFAULT_CONNECT_TIMEOUT: &str = "5 seconds";
const DEFAULT_TIMEOUT: &str = "30 seconds";
const DEFAULT_MAX_RETRIES: usize = 3;
const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(60);

/// Object store registry that creates S3 stores the first time a bucket is used.
#[derive(Debug, Default)]
pub(crate) struct KnitObjectStoreRegistry {
    stores: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for KnitObjectStoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.stores.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.stores.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        match self.stores.get_store(url) {
            Ok(store) => Ok(store),
            Err(_) if is_s3(url) => {
                let store = build_s3_store(url, &BTreeMap::new())?;
                tracing::debug!(
                    bucket = url.host_str(),
                    "registered S3 store from environment"
                );
                self.stores.register_store(url, Arc::clone(&store));
                Ok(store)
            }
            Err(e) => Err(e),
        }
    }
}

/// True for `s3://` and `s3a://` URLs.
pub(crate) fn is_s3(url: &Url) -> bool {
    matches!(url.scheme(), "s3" | "s3a")
}

/// Builds the store for the bucket of `url` from the environment and `options`
/// (keys without their `aws.` prefix).
pub(crate) fn build_s3_store(
    url: &Url,
    options: &BTreeMap<String, String>,
) -> Result<Arc<dyn ObjectStore>> {
    let bucket = url.host_str().ok_or_else(|| {
        DataFusionError::Plan(format!(
            "S3 URL '{url}' has no bucket: write s3://bucket/path"
        ))
    })?;
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry_config(options)?);
    // Bounds on each request, unless the environment sets them.
    for (key, default) in [
        (ClientConfigKey::ConnectTimeout, DEFAULT_CONNECT_TIMEOUT),
        (ClientConfigKey::Timeout, DEFAULT_TIMEOUT),
    ] {
        let env = format!("AWS_{}", key.as_ref().to_ascii_uppercase());
        if std::env::var_os(env).is_none() {
            builder = builder.with_config(AmazonS3ConfigKey::Client(key), default);
        }
    }
    for (key, value) in options {
        if RETRY_OPTIONS.contains(&key.as_str()) {
            continue;
        }
        builder = builder.with_config(s3_config_key(key)?, value);
    }
    check_credentials(&builder, bucket)?;
    let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
    let allow_http = builder
        .get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if let Some(endpoint) = endpoint.filter(|e| e.starts_with("http://") && !allow_http) {
        return Err(DataFusionError::Plan(format!(
            "S3 endpoint '{endpoint}' for bucket '{bucket}' is plain http: set \
             AWS_ALLOW_HTTP=true or OPTIONS ('aws.allow_http' 'true') to allow it"
        )));
    }
    let store = builder.build().map_err(|e| {
        DataFusionError::Plan(format!("cannot set up S3 for bucket '{bucket}': {e}"))
    })?;
    Ok(Arc::new(store))
}

/// How failed requests are retried: `aws.max_retries` and `aws.retry_timeout` (or
/// `AWS_MAX_RETRIES`, `AWS_RETRY_TIMEOUT`), bounded by default.
fn retry_config(options: &BTreeMap<String, String>) -> Result<RetryConfig> {
    let setting = |key: &str| {
        options
            .get(key)
            .cloned()
            .or_else(|| std::env::var(format!("AWS_{}", key.to_ascii_uppercase())).ok())
    };
    let max_retries = match setting("max_retries") {
        Some(text) => text.trim().parse().map_err(|_| {
            DataFusionError::Configuration(format!(
                "aws.max_retries '{text}' is not a number of retries, such as 3"
            ))
        })?,
        None => DEFAULT_MAX_RETRIES,
    };
    let retry_timeout = match setting("retry_timeout") {
        Some(text) => parse_duration(&text).ok_or_else(|| {
            DataFusionError::Configuration(format!(
                "aws.retry_timeout '{text}' is not a duration, such as 60s or 2m"
            ))
        })?,
        None => DEFAULT_RETRY_TIMEOUT,
    };
    Ok(RetryConfig {
        max_retries,
        retry_timeout,
        ..RetryConfig::default()
    })
}

/// Refuses a store that has no way to get credentials when the instance metadata
/// service is turned off, so that the error says so at once.
fn check_credentials(builder: &AmazonS3Builder, bucket: &str) -> Result<()> {
    let has = |key: AmazonS3ConfigKey| builder.get_config_value(&key).is_some();
    let metadata_off =
        std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    let other_source = [
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|var| std::env::var_os(var).is_some());
    let skip = builder
        .get_config_value(&AmazonS3ConfigKey::SkipSignature)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if metadata_off && !skip && !other_source && !has(AmazonS3ConfigKey::AccessKeyId) {
        return Err(DataFusionError::Configuration(format!(
            "no S3 credentials for bucket '{bucket}': set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY (or the aws.access_key_id and aws.secret_access_key \
             options), or aws.skip_signature 'true' for a public bucket"
        )));
    }
    Ok(())
}

/// Maps an `aws.*` option (without the prefix) to object_store's key.
fn s3_config_key(key: &str) -> Result<AmazonS3ConfigKey> {
    if !S3_OPTIONS.contains(&key) || RETRY_OPTIONS.contains(&key) {
        return Err(unknown_option(key));
    }
    format!("aws_{key}")
        .parse()
        .map_err(|_| unknown_option(key))
}

fn unknown_option(key: &str) -> DataFusionError {
    DataFusionError::Configuration(format!(
        "unknown S3 option 'aws.{key}': use one of {}",
        S3_OPTIONS
            .iter()
            .map(|o| format!("aws.{o}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The `aws` namespace of table options, so that DataFusion accepts `aws.*` keys in
/// `CREATE EXTERNAL TABLE ... OPTIONS` and `COPY ... OPTIONS`.
#[derive(Debug, Clone, Default)]
pub(crate) struct S3TableOptions {
    values: BTreeMap<String, String>,
}

impl ConfigExtension for S3TableOptions {
    const PREFIX: &'static str = "aws";
}

impl ExtensionOptions for S3TableOptions {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        // DataFusion passes the whole key, namespace included.
        let key = key.strip_prefix("aws.").unwrap_or(key);
        if !RETRY_OPTIONS.contains(&key) {
            s3_config_key(key)?;
        }
        self.values.insert(key.to_string(), value.to_string());
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        S3_OPTIONS
            .iter()
            .map(|key| ConfigEntry {
                key: format!("aws.{key}"),
                // Secrets stay out of SHOW and information_schema.
                value: self.values.get(*key).map(|v| {
                    if key.contains("secret") || key.contains("token") {
                        "***".to_string()
                    } else {
                        v.clone()
                    }
                }),
                description: "S3 connection option",
            })
            .collect()
    }
}

/// The `aws.*` entries of a statement's options, keyed without the prefix.
pub(crate) fn s3_options<'a>(
    options: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> BTreeMap<String, String> {
    options
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("aws.")?.to_string(), v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_option_maps_to_a_key() {
        for key in S3_OPTIONS.iter().filter(|k| !RETRY_OPTIONS.contains(k)) {
            assert!(s3_config_key(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn retries_are_bounded_and_settable() {
        let default = retry_config(&BTreeMap::new()).unwrap();
        assert_eq!(default.max_retries, DEFAULT_MAX_RETRIES);
        assert_eq!(default.retry_timeout, DEFAULT_RETRY_TIMEOUT);
        let options = BTreeMap::from([
            ("max_retries".to_string(), "0".to_string()),
            ("retry_timeout".to_string(), "2m".to_string()),
        ]);
        let set = retry_config(&options).unwrap();
        assert_eq!(
            (set.max_retries, set.retry_timeout),
            (0, Duration::from_secs(120))
        );
        let bad = BTreeMap::from([("retry_timeout".to_string(), "soon".to_string())]);
        assert!(
            retry_config(&bad)
                .unwrap_err()
                .to_string()
                .contains("not a duration")
        );
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
    }

    #[test]
    fn unknown_option_lists_the_valid_ones() {
        let err = s3_config_key("secret_key").unwrap_err().to_string();
        assert!(err.contains("'aws.secret_key'"), "{err}");
        assert!(err.contains("aws.secret_access_key"), "{err}");
    }

    #[test]
    fn plain_http_endpoint_needs_allow_http() {
        let url = Url::parse("s3://bucket/x").unwrap();
        let mut options = BTreeMap::from([
            ("endpoint".to_string(), "http://127.0.0.1:1".to_string()),
            ("region".to_string(), "us-east-1".to_string()),
        ]);
        let err = build_s3_store(&url, &options).unwrap_err().to_string();
        assert!(err.contains("aws.allow_http"), "{err}");
        options.insert("allow_http".to_string(), "true".to_string());
        assert!(build_s3_store(&url, &options).is_ok());
    }

    #[test]
    fn options_without_the_prefix_are_not_s3_options() {
        let a = ("aws.region".to_string(), "eu-west-1".to_string());
        let b = ("format.has_header".to_string(), "true".to_string());
        let options = s3_options([(&a.0, &a.1), (&b.0, &b.1)]);
        assert_eq!(options.len(), 1);
        assert_eq!(options["region"], "eu-west-1");
    }
}
