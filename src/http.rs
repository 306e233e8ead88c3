//! A deliberately small HTTP/1.1 endpoint: `/metrics`, `/healthz`, `/status` and the
//! hotline's `POST /rooms/<room>/end`. It only parses and routes; answers come from the
//! daemon loop, which owns the state.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Metrics,
    Health,
    Status,
    EndSession(String),
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

pub type Request = (Query, oneshot::Sender<Response>);

/// The longest request head read, blank line included.
pub const MAX_HEAD: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves until the daemon's request channel closes.
pub async fn serve(listener: TcpListener, to_daemon: mpsc::Sender<Request>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!("http accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let to_daemon = to_daemon.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, to_daemon).await {
                debug!("http connection: {e}");
            }
        });
    }
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    to_daemon: mpsc::Sender<Request>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let (method, target) = loop {
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "slow client"))??;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        match parse_head(&buf) {
            Head::Incomplete => {}
            Head::TooLarge => {
                return write(&mut stream, Response::text(431, "request head too large\n")).await
            }
            Head::Request { method, target } => break (method, target),
        }
    };
    let response = match route(&method, &target, peer) {
        Ok(query) => {
            let (tx, rx) = oneshot::channel();
            if to_daemon.send((query, tx)).await.is_err() {
                Response::text(503, "shutting down\n")
            } else {
                rx.await
                    .unwrap_or_else(|_| Response::text(503, "shutting down\n"))
            }
        }
        Err(r) => r,
    };
    write(&mut stream, response).await
}

/// What the bytes of a request read so far make of its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// No blank line yet: read on.
    Incomplete,
    /// The head does not end within [`MAX_HEAD`] bytes.
    TooLarge,
    /// The first two words of the request line (empty when missing).
    Request { method: String, target: String },
}

/// Decides on the bytes read so far. Only where the head ends counts, not how the bytes
/// arrived: a head ending within `MAX_HEAD` bytes is read whatever came after it.
pub fn parse_head(buf: &[u8]) -> Head {
    let within = &buf[..buf.len().min(MAX_HEAD)];
    let Some(end) = within.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() >= MAX_HEAD {
            Head::TooLarge
        } else {
            Head::Incomplete
        };
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let mut word = || words.next().unwrap_or("").to_owned();
    Head::Request {
        method: word(),
        target: word(),
    }
}

/// Maps a request line to a query, or to the error response.
pub fn route(method: &str, target: &str, peer: SocketAddr) -> Result<Query, Response> {
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => Ok(Query::Metrics),
        ("GET", "/healthz") => Ok(Query::Health),
        ("GET", "/status") => Ok(Query::Status),
        ("POST", p) if p.starts_with("/rooms/") && p.ends_with("/end") => {
            if !peer.ip().is_loopback() {
                return Err(Response::text(403, "only from this machine\n"));
            }
            // "/rooms/end" passes both tests above: the two may overlap.
            let room = p
                .strip_prefix("/rooms/")
                .and_then(|r| r.strip_suffix("/end"))
                .unwrap_or("");
            if room.is_empty() || room.contains('/') {
                return Err(Response::text(404, "no such room\n"));
            }
            Ok(Query::EndSession(room.to_owned()))
        }
        (_, "/metrics" | "/healthz" | "/status") => Err(Response::text(405, "use GET\n")),
        _ => Err(Response::text(404, "not found\n")),
    }
}

async fn write(stream: &mut TcpStream, r: Response) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(r.body.as_bytes()).await?;
    stream.shutdown().await
}

/// A tiny client for `raumwart status` and `raumwart end-session`.
pub async fn request(addr: SocketAddr, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach raumwart at {addr}: {e} (is it running?)"))?;
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("malformed HTTP answer from {addr}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("malformed HTTP status from {addr}"))?;
    Ok((status, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let local: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let remote: SocketAddr = "192.0.2.1:1".parse().unwrap();
        assert_eq!(route("GET", "/metrics", local), Ok(Query::Metrics));
        assert_eq!(route("GET", "/healthz?x=1", local), Ok(Query::Health));
        assert_eq!(
            route("POST", "/rooms/gs-1/end", local),
            Ok(Query::EndSession("gs-1".into()))
        );
        assert_eq!(
            route("POST", "/rooms/gs-1/end", remote).unwrap_err().status,
            403
        );
        assert_eq!(route("POST", "/rooms//end", local).unwrap_err().status, 404);
        assert_eq!(route("POST", "/metrics", local).unwrap_err().status, 405);
        assert_eq!(route("GET", "/", local).unwrap_err().status, 404);
    }
}
