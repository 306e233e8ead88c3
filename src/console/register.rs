//! `/register` for the shards that follow this host's register (see `crate::register`):
//! each asks with its token, gets the register signed with that token at once when it
//! differs from theirs, else when it next changes, or "no change" after a while.
//!
//! One task watches the register for every request: it loads the config again only when
//! the config file or a password file it read changed (size, time, inode), once a second.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::watch;
use tracing::{debug, warn};

use super::loaded::Stamps;
use super::{auth, Shared};
use crate::register::{follow::HOLD, sign, Issued, Register, SIGNATURE};

/// How often the watcher looks at the files.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// The register as it is now, with its hash.
pub(crate) type Current = Option<Arc<(String, Register)>>;

#[derive(Deserialize)]
pub(crate) struct Asked {
    #[serde(default)]
    after: String,
    #[serde(default)]
    wait: u8,
}

/// Keeps `current` up to date with the config file at `path`.
pub(crate) async fn watch_register(path: PathBuf, current: watch::Sender<Current>) {
    let mut seen: Option<Stamps> = None;
    let mut files = vec![path.clone()];
    loop {
        if !seen.as_ref().is_some_and(Stamps::unchanged) {
            let (loaded, stamps) = Stamps::load(&path, &mut files);
            match loaded {
                Ok(c) => {
                    let register = Register::of(&c);
                    let hash = register.hash();
                    let differs = current.borrow().as_ref().is_none_or(|now| now.0 != hash);
                    if differs {
                        current.send_replace(Some(Arc::new((hash, register))));
                    }
                }
                // The shards keep what they have; `raumwart check` says what is wrong.
                Err(e) => warn!("register: the config does not load, shards keep theirs: {e}"),
            }
            seen = stamps;
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

pub(crate) async fn serve(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(asked): Query<Asked>,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(shard) = app
        .settings
        .shards
        .iter()
        .find(|s| !token.is_empty() && auth::same(token, s.token.expose()))
    else {
        warn!("register: a request without a known shard's token was refused");
        return (StatusCode::UNAUTHORIZED, "unknown shard token\n").into_response();
    };
    let mut current = app.register.clone();
    let now = current.borrow_and_update().clone();
    let answer = match now {
        Some(now) if now.0 != asked.after => Some(now),
        _ if asked.wait == 0 => None,
        _ => {
            // Held until the register changes, or HOLD passes.
            let changed = tokio::time::timeout(HOLD, async {
                loop {
                    if current.changed().await.is_err() {
                        return None;
                    }
                    let next = current.borrow_and_update().clone();
                    if let Some(next) = next.filter(|n| n.0 != asked.after) {
                        return Some(next);
                    }
                }
            })
            .await;
            changed.ok().flatten()
        }
    };
    let Some(answer) = answer else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let issued = Issued {
        issued_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        hash: answer.0.clone(),
        register: answer.1.clone(),
    };
    let body = serde_json::to_vec(&issued).expect("a register serializes");
    debug!(shard = shard.name, "register sent");
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::HeaderName::from_static(SIGNATURE),
                sign(shard.token.expose(), &body),
            ),
        ],
        body,
    )
        .into_response()
}
