//! The `gateway` binary: flags and environment, logging, connect, serve, stop on a signal.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use gateway::{Gateway, NAME, Settings};
use mandate::{Bus, ConnectionOptions, LogFormat};

/// The storefront's HTTP/JSON API: every route is a call to a component over NATS.
#[derive(Debug, Parser)]
#[command(name = "gateway", version, about)]
struct Args {
    #[command(flatten)]
    connection: ConnectionOptions,
    /// The address the HTTP API listens on.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Log format; the level comes from RUST_LOG (default `info`).
    #[arg(long, env = "MANDATE_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// The largest request body accepted, in bytes (larger ones get 413).
    #[arg(long, env = "GATEWAY_BODY_LIMIT", default_value_t = 64 * 1024)]
    body_limit: usize,
    /// How long a service call may take before the request fails with 504.
    #[arg(long, env = "GATEWAY_CALL_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    call_timeout: Duration,
    /// How often an idle event stream sends a keep-alive comment.
    #[arg(long, env = "GATEWAY_KEEP_ALIVE", default_value = "15s", value_parser = humantime::parse_duration)]
    keep_alive: Duration,
    /// Serve `/metrics`, `/livez` and `/readyz` on this address, IP:PORT (e.g.
    /// 127.0.0.1:9464); off when not given.
    #[arg(long, env = "MANDATE_METRICS", value_parser = mandate::metrics::parse_addr)]
    metrics: Option<SocketAddr>,
    /// Ask this gateway's own listener (MANDATE_METRICS) whether it is ready, and exit 0 if it
    /// is, 1 if not: a container healthcheck that needs nothing but this binary.
    #[arg(long)]
    healthcheck: bool,
    /// How long shutdown waits for open requests before it gives up on them.
    #[arg(long, env = "GATEWAY_SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    shutdown_grace: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.healthcheck {
        return healthcheck(args.metrics);
    }
    mandate::init_logging(args.log_format);
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "stopped with an error");
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `--healthcheck`: 0 when the running gateway's listener says it is ready.
fn healthcheck(metrics: Option<SocketAddr>) -> ExitCode {
    let Some(addr) = metrics else {
        eprintln!(
            "error: --healthcheck asks the gateway's metrics listener: set MANDATE_METRICS (or --metrics) to its address, e.g. 0.0.0.0:9464"
        );
        return ExitCode::FAILURE;
    };
    match mandate::health::healthcheck(addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let telemetry = mandate::telemetry::init(NAME, None);
    let served = serve(args).await;
    // After the open requests: the spans of the last ones are in the queue.
    if let Some(telemetry) = telemetry {
        telemetry.shutdown().await;
    }
    served
}

async fn serve(args: Args) -> Result<(), String> {
    let bus = Bus::connect(&args.connection, NAME).await.map_err(|e| e.to_string())?;
    let settings = Settings {
        body_limit: args.body_limit,
        call_timeout: args.call_timeout,
        keep_alive: args.keep_alive,
        ..Settings::default()
    };
    let gateway = Gateway::start(bus, settings).await.map_err(|e| e.to_string())?;
    let metrics_stop = tokio_util::sync::CancellationToken::new();
    let _metrics_stop = metrics_stop.clone().drop_guard();
    if let Some(addr) = args.metrics {
        gateway
            .serve_metrics(addr, metrics_stop)
            .await
            .map_err(|e| e.to_string())?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e} (set --listen or GATEWAY_LISTEN)", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %local, nats = %args.connection.url, "gateway listening");
    println!("gateway listening on http://{local}");

    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        mandate::shutdown_signal().await;
        tracing::info!("shutdown requested; finishing open requests");
        let _ = stopping_tx.send(());
    };
    let mut server = std::pin::pin!(gateway.serve(listener, signal));
    // Serve until a signal; then give open requests `shutdown_grace` to finish.
    tokio::select! {
        result = &mut server => result.map_err(|e| e.to_string())?,
        _ = stopping_rx => match tokio::time::timeout(args.shutdown_grace, server).await {
            Ok(result) => result.map_err(|e| e.to_string())?,
            Err(_) => tracing::warn!(grace = ?args.shutdown_grace, "open requests did not finish in time; stopping anyway"),
        },
    }
    tracing::info!("stopped");
    Ok(())
}
