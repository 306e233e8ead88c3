//! HTTP/1.1 (hyper) for `/metrics` and `/healthz` on `http.listen`, and for the
//! operator's requests on the control socket (see `control`). It only parses and routes;
//! answers come from the daemon loop, which owns the state.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Metrics,
    Health,
    Status(Rooms),
    /// Where the control socket is (answered by the server, not the daemon).
    ControlSocket,
    EndSession(String),
    Reload,
    /// `raumwart doctor`: the module's report on Prosody, held against what raumwart needs.
    Doctor,
}

/// The rooms `/status` lists: all, or with `?media_centre=ID` those of one media centre's
/// schools (`?media_centre=` those of schools without one), so that the console of a
/// media centre on a state's service does not fetch every room of the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rooms {
    All,
    Centre(String),
    NoCentre,
}

impl Rooms {
    fn parse(target: &str) -> Result<Rooms, Response> {
        let query = target.split_once('?').map_or("", |(_, q)| q);
        let mut rooms = Rooms::All;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            rooms = match pair.split_once('=') {
                Some(("media_centre", "")) => Rooms::NoCentre,
                Some(("media_centre", id)) if crate::config::is_id(id) => {
                    Rooms::Centre(id.to_owned())
                }
                _ => {
                    return Err(Response::text(
                        400,
                        "/status takes only media_centre=ID (empty: the schools without one)\n",
                    ))
                }
            };
        }
        Ok(rooms)
    }

    /// Whether a room of a school in media centre `centre` is listed.
    pub fn lists(&self, centre: Option<&str>) -> bool {
        match self {
            Rooms::All => true,
            Rooms::Centre(id) => centre == Some(id.as_str()),
            Rooms::NoCentre => centre.is_none(),
        }
    }
}

/// Which way a request came in: the network listener (`http.listen`), or the control
/// socket, which file permissions guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Network,
    Control,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
    pub fn json(status: u16, body: String) -> Response {
        Response {
            status,
            content_type: "application/json",
            body,
        }
    }
}

/// A query to the daemon loop, with where its answer goes.
pub type Ask = (Query, oneshot::Sender<Response>);

/// A slow or silent client is dropped after this long without a full request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Every request, from accept to the last byte of the answer, ends within this (one
/// request per connection: no keep-alive).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// Connections open at once on `http.listen`; beyond it a new one is closed at once.
/// Stalled clients hold a slot for at most HEAD_TIMEOUT.
pub const MAX_CONNECTIONS: usize = 512;
/// The smallest read buffer hyper accepts; a longer request head is refused.
const MAX_HEAD: usize = 8 * 1024;

/// Maps a request line to a query, or to the error response. Changes are the
/// operator's: they are taken only from the control socket.
pub fn route(method: &str, target: &str, via: Via) -> Result<Query, Response> {
    let path = target.split('?').next().unwrap_or("");
    let query = match (method, path) {
        ("GET", "/metrics") => Query::Metrics,
        ("GET", "/healthz") => Query::Health,
        ("GET", "/status") => Query::Status(Rooms::parse(target)?),
        ("GET", "/control") => Query::ControlSocket,
        ("POST", "/reload") => Query::Reload,
        ("GET", "/doctor") => Query::Doctor,
        ("POST", p) if p.starts_with("/rooms/") && p.ends_with("/end") => {
            // "/rooms/end" passes both tests: the prefix and the suffix may overlap.
            let room = p
                .strip_prefix("/rooms/")
                .and_then(|r| r.strip_suffix("/end"))
                .unwrap_or("");
            if room.is_empty() || room.contains('/') {
                return Err(Response::text(404, "no such room\n"));
            }
            Query::EndSession(room.to_owned())
        }
        (_, "/metrics" | "/healthz" | "/status" | "/control" | "/doctor") => {
            return Err(Response::text(405, "use GET\n"))
        }
        (_, "/reload") => return Err(Response::text(405, "use POST\n")),
        _ => return Err(Response::text(404, "not found\n")),
    };
    match (&query, via) {
        (Query::EndSession(_) | Query::Reload, Via::Network) => Err(Response::text(
            403,
            "changes are taken only from the control socket (`raumwart end-session`, `raumwart reload`)\n",
        )),
        // Prosody's admins, ports and settings are the operator's to read.
        (Query::Doctor, Via::Network) => Err(Response::text(
            403,
            "the doctor answers only on the control socket (`raumwart doctor`)\n",
        )),
        _ => Ok(query),
    }
}

/// What every connection needs: the way to the daemon and where the control socket is.
#[derive(Clone)]
pub struct Server {
    pub to_daemon: mpsc::Sender<Ask>,
    pub control_socket: Option<Arc<PathBuf>>,
}

/// Serves `http.listen` until the daemon's request channel closes, with at most
/// MAX_CONNECTIONS connections at once.
pub async fn serve(listener: TcpListener, server: Server) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => match slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    let server = server.clone();
                    tokio::spawn(async move {
                        server.connection(stream, Via::Network).await;
                        drop(slot);
                    })
                }
                Err(_) => {
                    debug!("http: {MAX_CONNECTIONS} connections open, one more closed");
                    drop(stream);
                    continue;
                }
            },
            Err(e) => {
                warn!("http accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
    }
}

impl Server {
    /// One HTTP/1.1 connection with one request, within REQUEST_DEADLINE. A malformed
    /// request gets hyper's 4xx answer.
    pub async fn connection<S>(self, stream: S, via: Via)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = service_fn(move |req: hyper::Request<Incoming>| {
            let server = self.clone();
            async move { Ok::<_, Infallible>(server.handle(req, via).await) }
        });
        let served = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEAD_TIMEOUT)
            .max_buf_size(MAX_HEAD)
            .keep_alive(false)
            .serve_connection(TokioIo::new(stream), service);
        match tokio::time::timeout(REQUEST_DEADLINE, served).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => debug!("http connection: {e}"),
            Err(_) => debug!("http connection: deadline passed, closed"),
        }
    }

    async fn handle(
        &self,
        req: hyper::Request<Incoming>,
        via: Via,
    ) -> hyper::Response<Full<Bytes>> {
        let target = req.uri().path_and_query().map_or("", |p| p.as_str());
        let response = match route(req.method().as_str(), target, via) {
            Ok(Query::ControlSocket) => match &self.control_socket {
                Some(path) => Response::text(200, format!("{}\n", path.display())),
                None => Response::text(404, "this raumwart has no control socket\n"),
            },
            Ok(query) => self.ask(query).await,
            Err(r) => r,
        };
        let mut answer = hyper::Response::new(Full::new(Bytes::from(response.body)));
        *answer.status_mut() = hyper::StatusCode::from_u16(response.status)
            .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        answer.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(response.content_type),
        );
        answer
    }

    async fn ask(&self, query: Query) -> Response {
        let (tx, rx) = oneshot::channel();
        if self.to_daemon.send((query, tx)).await.is_err() {
            return Response::text(503, "shutting down\n");
        }
        rx.await
            .unwrap_or_else(|_| Response::text(503, "shutting down\n"))
    }
}

/// A tiny client for the operator's commands and the tests: one request on `addr`.
pub async fn request(addr: SocketAddr, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach raumwart at {addr}: {e} (is it running?)"))?;
    exchange(stream, method, path)
        .await
        .map_err(|e| anyhow::anyhow!("{addr}: {e}"))
}

/// One request on an open stream (`Connection: close`), the status and the body back.
pub async fn exchange<S>(mut stream: S, method: &str, path: &str) -> anyhow::Result<(u16, String)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: raumwart\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("malformed HTTP answer"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("malformed HTTP status"))?;
    Ok((status, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        use Via::*;
        assert_eq!(route("GET", "/metrics", Network), Ok(Query::Metrics));
        assert_eq!(route("GET", "/healthz?x=1", Network), Ok(Query::Health));
        assert_eq!(
            route("GET", "/status", Network),
            Ok(Query::Status(Rooms::All))
        );
        assert_eq!(
            route("GET", "/status?media_centre=kmz-a", Network),
            Ok(Query::Status(Rooms::Centre("kmz-a".into())))
        );
        assert_eq!(
            route("GET", "/status?media_centre=", Control),
            Ok(Query::Status(Rooms::NoCentre))
        );
        for bad in [
            "school=x",
            "media_centre=a%2Fb",
            "media_centre=a/b",
            "media_centre",
        ] {
            let answer = route("GET", &format!("/status?{bad}"), Network).unwrap_err();
            assert_eq!(answer.status, 400, "{bad}");
        }
        assert_eq!(route("GET", "/control", Network), Ok(Query::ControlSocket));
        assert_eq!(
            route("POST", "/rooms/gs-1/end", Control),
            Ok(Query::EndSession("gs-1".into()))
        );
        assert_eq!(route("POST", "/reload", Control), Ok(Query::Reload));
        assert_eq!(route("GET", "/doctor", Control), Ok(Query::Doctor));
        assert_eq!(route("GET", "/doctor", Network).unwrap_err().status, 403);
        assert_eq!(route("POST", "/doctor", Control).unwrap_err().status, 405);
        // Loopback or not, the network listener takes no changes.
        for change in ["/rooms/gs-1/end", "/reload"] {
            assert_eq!(route("POST", change, Network).unwrap_err().status, 403);
        }
        assert_eq!(
            route("POST", "/rooms//end", Control).unwrap_err().status,
            404
        );
        assert_eq!(
            route("POST", "/rooms/end", Control).unwrap_err().status,
            404
        );
        assert_eq!(
            route("POST", "/rooms/a/b/end", Control).unwrap_err().status,
            404
        );
        assert_eq!(route("POST", "/metrics", Control).unwrap_err().status, 405);
        assert_eq!(route("GET", "/reload", Control).unwrap_err().status, 405);
        assert_eq!(route("GET", "/", Network).unwrap_err().status, 404);
    }
}
