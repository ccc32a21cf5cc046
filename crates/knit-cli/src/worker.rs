// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `knit worker --listen ADDR`: runs a worker that coordinators (`--workers`,
//! `KNIT_WORKERS`, `SET knit.workers`) send plan stages to.
//!
//! It listens on 127.0.0.1 unless told otherwise, refuses to start without a token
//! (`KNIT_WORKER_TOKEN`), serves TLS with `--tls-cert` and `--tls-key`, prints the
//! address it listens on as its first line (so that a script can start it on port 0),
//! and stops on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use knit_core::distributed::{WORKER_TOKEN_ENV, WorkerTls, token_from_env};
use knit_core::{SessionBuilder, parse_memory_size};

/// The address a worker listens on unless told otherwise: loopback only.
const DEFAULT_LISTEN: &str = "127.0.0.1:7701";

/// `knit worker`'s arguments.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Address to listen on, host:port (port 0 picks a free one). Other hosts reach it
    /// only if you name an address of theirs, such as 0.0.0.0:7701.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: String,

    /// Memory the worker's tasks may use, such as 512M or 4G (default: 80% of physical
    /// memory).
    #[arg(short = 'm', long, value_name = "SIZE")]
    memory_limit: Option<String>,

    /// Serve TLS with this certificate (PEM, the worker's first, then any intermediate
    /// authorities'); coordinators then list the worker as https://host:port and trust
    /// its authority through KNIT_WORKER_CA.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// Runs the worker until it is stopped.
pub async fn run(args: WorkerArgs) -> ExitCode {
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: WorkerArgs) -> Result<(), String> {
    let token = token_from_env().ok_or_else(|| {
        format!(
            "a knit worker needs a token: set {WORKER_TOKEN_ENV} to a secret, the same \
                 on the coordinator and every worker"
        )
    })?;
    let address: SocketAddr = tokio::net::lookup_host(&args.listen)
        .await
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| {
            format!(
                "--listen '{}' is not an address: write host:port, such as {DEFAULT_LISTEN}",
                args.listen
            )
        })?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            // The error names the file (certificate or key) at fault.
            Some(WorkerTls::from_files(cert, key).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let mut builder = SessionBuilder::new();
    if let Some(limit) = &args.memory_limit {
        let bytes = parse_memory_size(limit).map_err(|e| format!("--memory-limit: {e}"))?;
        builder = builder.with_memory_limit(bytes);
    }
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    // The address as coordinators list it.
    let scheme = if tls.is_some() { "https://" } else { "" };
    println!("knit worker listening on {scheme}{bound}");
    let session = builder.build().map_err(|e| e.to_string())?;
    session
        .serve_worker(listener, token, tls.as_ref(), stopped())
        .await
        .map_err(|e| e.to_string())
}

/// Completes on Ctrl-C or SIGTERM.
async fn stopped() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
