//! The shard's side: ask the console's `/register`, check the answer, keep it, reload.

use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{cache, verify, Issued, SIGNATURE};
use crate::config::Register as Settings;

/// How long the console holds a request without a change (it answers "no change").
pub const HOLD: Duration = Duration::from_secs(25);
/// Retries after a failure, from the first to the longest.
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// One request: the register when it differs from `after`, None when the console held
/// the request `HOLD` long without a change (or at once, with `wait` false, when equal).
pub async fn fetch(
    settings: &Settings,
    after: Option<&str>,
    wait: bool,
) -> anyhow::Result<Option<Issued>> {
    let target = format!(
        "{}?after={}&wait={}",
        settings.path,
        after.unwrap_or(""),
        u8::from(wait)
    );
    let limit = HOLD + Duration::from_secs(10);
    let exchange = async {
        let stream = TcpStream::connect(&settings.authority)
            .await
            .with_context(|| format!("cannot reach {}", settings.authority))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let request = Request::get(&target)
            .header("host", &settings.authority)
            .header(
                "authorization",
                format!("Bearer {}", settings.token.expose()),
            )
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let signature = response
            .headers()
            .get(SIGNATURE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, signature, body))
    };
    let (status, signature, body) = tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("no answer from {} within {limit:?}", settings.authority))??;
    match status {
        204 => return Ok(None),
        200 => {}
        401 => anyhow::bail!("the console refused this shard's token"),
        other => anyhow::bail!("the console answered {other}"),
    }
    let signed = signature.is_some_and(|s| verify(settings.token.expose(), &body, &s));
    anyhow::ensure!(signed, "an answer without this shard's signature: ignored");
    let issued: Issued = serde_json::from_slice(&body).context("a malformed register")?;
    anyhow::ensure!(
        issued.register.hash() == issued.hash,
        "a register whose hash does not match: ignored"
    );
    Ok(Some(issued))
}

/// Keeps `issued` unless it is older than the cached one; true when kept.
fn keep(settings: &Settings, issued: &Issued) -> anyhow::Result<bool> {
    if let Some((hash, at)) = cache::cached(&settings.cache) {
        if issued.issued_at < at {
            warn!("register: an answer older than the one kept was ignored");
            return Ok(false);
        }
        if hash == issued.hash {
            return Ok(false);
        }
    }
    cache::write(&settings.cache, issued)
        .with_context(|| format!("cannot write {}", settings.cache.display()))?;
    Ok(true)
}

/// At start: a shard that has no register yet gets it before anything else, trying for
/// `within`; one that has a copy starts with it (and [`follow`] catches up).
pub async fn ensure(settings: &Settings, within: Duration) -> anyhow::Result<()> {
    if cache::cached(&settings.cache).is_some() {
        return Ok(());
    }
    let deadline = Instant::now() + within;
    let mut delay = RETRY_MIN;
    loop {
        match fetch(settings, None, false).await {
            Ok(Some(issued)) => {
                keep(settings, &issued)?;
                info!(schools = issued.register.schools.len(), "register received");
                return Ok(());
            }
            Ok(None) => anyhow::bail!("the console sent no register"),
            Err(e) if Instant::now() + delay > deadline => {
                return Err(e.context(format!(
                    "no register yet and none from http://{}{}",
                    settings.authority, settings.path
                )))
            }
            Err(e) => warn!("register: {e:#}; trying again"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(RETRY_MAX);
    }
}

/// Follows the register for as long as the daemon runs: every change is kept and the
/// daemon told to reload (through `reloads`, as SIGHUP does).
pub async fn follow(settings: Settings, reloads: mpsc::Sender<()>) {
    let mut delay = RETRY_MIN;
    loop {
        let after = cache::cached(&settings.cache).map(|(hash, _)| hash);
        match fetch(&settings, after.as_deref(), true).await {
            Ok(None) => delay = RETRY_MIN,
            Ok(Some(issued)) => {
                delay = RETRY_MIN;
                match keep(&settings, &issued) {
                    Ok(true) => {
                        info!(
                            schools = issued.register.schools.len(),
                            "register changed; reloading"
                        );
                        let _ = reloads.send(()).await;
                    }
                    // An answer not kept (older, or a write failed) is not asked again at once.
                    Ok(false) => tokio::time::sleep(RETRY_MIN).await,
                    Err(e) => {
                        warn!("register: {e:#}");
                        tokio::time::sleep(RETRY_MIN).await;
                    }
                }
            }
            Err(e) => {
                warn!("register: {e:#}; trying again in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
            }
        }
    }
}
