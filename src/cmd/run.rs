//! `raumwart run`: the daemon's wiring: config, metrics, HTTP, control socket, signals.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::EX_CONFIG;
use crate::config;
use crate::daemon::metrics::Metrics;
use crate::daemon::{self, control, http};
use crate::register::follow;

/// How long a shard without any register waits for the first at its start.
const FIRST_REGISTER: Duration = Duration::from_secs(20);

pub(super) fn run(path: PathBuf, socket: Option<PathBuf>) -> ExitCode {
    let metrics = Arc::new(Metrics::new());
    let load = || {
        config::load(&path).map_err(|e| {
            for line in e.to_string().lines() {
                tracing::error!("{line}");
            }
            ExitCode::from(EX_CONFIG)
        })
    };
    let mut config = match load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A shard that never had a register protects nothing: it gets one first, or stops.
    if let Some(register) = config.register.clone() {
        if let Err(e) = runtime.block_on(follow::ensure(&register, FIRST_REGISTER)) {
            tracing::error!("{e:#}");
            return ExitCode::FAILURE;
        }
        config = match load() {
            Ok(c) => c,
            Err(code) => return code,
        };
    }
    metrics.config_loaded_at_start();
    metrics.use_config(&config);
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.http.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.http.listen))?;
        let (control_listener, control_socket) = control::bind(socket.as_deref())?;
        let (stop, shutdown) = watch::channel(false);
        let (reload_tx, reloads) = mpsc::channel(4);
        let (query_tx, queries) = mpsc::channel(64);
        let server = http::Server {
            to_daemon: query_tx,
            control_socket: Some(Arc::new(control_socket.path.clone())),
        };
        tokio::spawn(http::serve(listener, server.clone()));
        if let Some(register) = config.register.clone() {
            tokio::spawn(follow::follow(register, reload_tx.clone()));
        }
        tokio::spawn(signals(stop, reload_tx));
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            control = %control_socket.path.display(),
            "raumwart starting"
        );
        let inbox = daemon::Inbox {
            config_path: path,
            shutdown,
            reloads,
            queries,
        };
        tokio::select! {
            result = daemon::run(config, metrics, inbox) => result,
            () = control::serve(control_listener, &control_socket, server) => Ok(()),
        }
    });
    match result {
        Ok(()) => {
            tracing::info!("stopped; the Prosody module keeps enforcing room passwords");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM/SIGINT stop; SIGHUP asks for a reload of the config file.
async fn signals(stop: watch::Sender<bool>, reload: mpsc::Sender<()>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                let _ = reload.send(()).await;
            }
        }
    }
    let _ = stop.send(true);
}
