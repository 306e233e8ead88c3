//! `raumwart console`: the media centres' web console, a process of its own beside the
//! daemon. Staff log in (accounts in [`store`]), see the live rooms of their schools and
//! end a session, keep the register (add, remove, new password, import) and print the
//! access letters; every change goes into the audit log.
//!
//! It edits the register through [`crate::schools`], as `raumwart school …` does (both
//! under the register's lock), and reaches the daemon only through its control socket
//! ([`daemon`]). It serves plain HTTP on loopback for the provider's TLS reverse proxy;
//! pages are rendered on the server and work without JavaScript.

// Handlers answer early with a whole `Response` (a redirect, a refusal): boxing it would
// only move the same bytes once more per request.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tracing::{info, warn};

use crate::config::{self, Config};
use crate::schools::Files;

pub mod auth;
pub mod daemon;
mod guard;
mod loaded;
mod pages;
mod register;
pub mod store;

use daemon::Daemon;
use store::Store;

/// A staff session ends this long after its login, however busy.
pub const LONGEST_SESSION: Duration = Duration::from_secs(12 * 3600);
/// The largest register file taken for an import.
pub const MAX_UPLOAD: usize = 5 * 1024 * 1024;

/// What every request shares.
pub struct App {
    pub files: Files,
    pub daemon: Daemon,
    pub settings: config::Console,
    pub store: Mutex<Store>,
    /// Uploaded registers waiting between preview and apply (mode 0700).
    pub uploads: PathBuf,
    /// The register the shards follow, kept current by [`register::watch_register`].
    pub register: tokio::sync::watch::Receiver<register::Current>,
    /// The config's last load, for [`App::config`].
    loaded: loaded::Cache,
}

pub type Shared = Arc<App>;

impl App {
    /// The config as it is now (the register changes while the console runs), loaded
    /// again only when one of its files changed.
    pub fn config(&self) -> anyhow::Result<Arc<Config>> {
        Ok(self.loaded.get()?)
    }

    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic elsewhere while holding it leaves the connection usable.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The database file: `[console] database`, relative to the config's folder (so the
/// unit and root's `raumwart console user` find the same file).
pub fn database(config_path: &Path, settings: &config::Console) -> PathBuf {
    let base = config_path.parent().map(Path::to_owned).unwrap_or_default();
    base.join(&settings.database)
}

pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(pages::rooms::list))
        .route(
            "/anmelden",
            get(pages::login::form).post(pages::login::submit),
        )
        .route("/abmelden", post(pages::login::logout))
        .route("/konsole.css", get(pages::stylesheet))
        .route(
            "/raeume/{room}/beenden",
            get(pages::rooms::confirm).post(pages::rooms::end),
        )
        .route(
            "/schulen",
            get(pages::schools::list).post(pages::schools::add),
        )
        .route("/schulen/{id}", get(pages::schools::show))
        .route(
            "/schulen/{id}/entfernen",
            get(pages::schools::confirm_remove).post(pages::schools::remove),
        )
        .route("/schulen/{id}/neues-passwort", post(pages::schools::rotate))
        .route("/schulen/{id}/brief", get(pages::schools::letter_html))
        .route("/schulen/{id}/brief.pdf", get(pages::schools::letter_pdf))
        .route(
            "/import",
            get(pages::import::form).post(pages::import::preview),
        )
        .route("/import/anwenden", post(pages::import::apply))
        .route("/protokoll", get(pages::audit::list))
        .route("/register", get(register::serve))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(guard::headers))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD + 64 * 1024))
        .with_state(app)
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn serve(files: Files, socket: Option<PathBuf>) -> anyhow::Result<()> {
    let config = config::load(&files.config)?;
    let settings = config.console.clone();
    let db = database(&files.config, &settings);
    let store = Store::open(&db)?;
    let uploads = db.with_file_name("console-uploads");
    make_private_dir(&uploads)?;
    let daemon = Daemon {
        config: files.config.clone(),
        socket,
    };
    let (register_tx, register_rx) = tokio::sync::watch::channel(None);
    if !settings.shards.is_empty() {
        tokio::spawn(register::watch_register(files.config.clone(), register_tx));
    }
    let app = Arc::new(App {
        loaded: loaded::Cache::new(files.config.clone()),
        files,
        daemon,
        settings: settings.clone(),
        store: Mutex::new(store),
        uploads,
        register: register_rx,
    });
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    info!(listen = %settings.listen, database = %db.display(), "console serving");
    tokio::spawn(expire_audit(app.clone()));
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await?;
    Ok(())
}

/// At start and then hourly: deletes audit entries past their retention, failed-login
/// counts no longer counted (they name addresses), and uploads never applied.
async fn expire_audit(app: Shared) {
    loop {
        match app.store().expire_audit(app.settings.audit_retention) {
            Ok(0) => {}
            Ok(n) => info!(entries = n, "audit entries past their retention deleted"),
            Err(e) => warn!("cannot expire the audit log: {e}"),
        }
        if let Err(e) = app.store().expire_failures(auth::FORGET_FAILURES) {
            warn!("cannot expire failed logins: {e}");
        }
        pages::import::forget_old_uploads(&app);
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn make_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", dir.display()))
}
