//! The network listener (`http.listen`, hyper) against bad and slow clients: malformed
//! requests get a 4xx, a stalled request is closed within its deadline, connections are
//! capped, and `/healthz` answers within a second while 300 connections stall.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use raumwart::http::{MAX_CONNECTIONS, REQUEST_DEADLINE};
use testkit::*;

use crate::REPO;

/// Sends `raw` and returns the status code of the answer (None: closed without one).
async fn send_raw(port: u16, raw: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut answer = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
}

/// A connection that sends half a request head and holds.
async fn stall(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: raum")
        .await
        .unwrap();
    s
}

#[tokio::test]
async fn malformed_requests_get_a_4xx() {
    let env = Env::new(REPO, Options::default());
    let _d = env.daemon().await;
    let long_header = format!("GET /healthz HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    let cases: [(&str, &[u8]); 6] = [
        ("garbage", b"\x00\x01 nonsense\r\n\r\n"),
        ("no version", b"GET /healthz\r\n\r\n"),
        (
            "bad header",
            b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n",
        ),
        (
            "a change on the network",
            b"POST /rooms/end HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        ),
        (
            "unknown path",
            b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        ("huge head", long_header.as_bytes()),
    ];
    for (what, raw) in cases {
        let code = send_raw(env.http, raw).await;
        assert!(
            code.is_some_and(|c| (400..500).contains(&c)),
            "{what}: {code:?}"
        );
    }
    // And the listener still serves.
    assert_eq!(http_get(&env, "/healthz").await.0, 200);
}

#[tokio::test]
async fn healthz_answers_within_a_second_while_300_connections_stall() {
    let env = Env::new(REPO, Options::default());
    let _d = env.daemon().await;
    let mut stalled = vec![];
    for _ in 0..300 {
        stalled.push(stall(env.http).await);
    }
    // Let the daemon accept them all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    let (code, body) = http_get(&env, "/healthz").await;
    let took = start.elapsed();
    assert_eq!(code, 200, "{body}");
    assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
    drop(stalled);
}

#[tokio::test]
async fn a_stalled_request_is_closed_within_its_deadline() {
    let env = Env::new(REPO, Options::default());
    let _d = env.daemon().await;
    let mut s = stall(env.http).await;
    let start = Instant::now();
    let mut rest = vec![];
    let read = tokio::time::timeout(REQUEST_DEADLINE * 2, s.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "still open after {:?}", REQUEST_DEADLINE * 2);
    assert!(start.elapsed() <= REQUEST_DEADLINE + Duration::from_secs(1));
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let env = Env::new(REPO, Options::default());
    let _d = env.daemon().await;
    let mut held = vec![];
    for _ in 0..MAX_CONNECTIONS {
        held.push(stall(env.http).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = stall(env.http).await;
    let mut rest = vec![];
    let start = Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(2), extra.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "a connection beyond the cap was kept");
    assert!(rest.is_empty() && start.elapsed() < Duration::from_secs(2));
    drop(held);
    // Slots come back: the listener serves again. The daemon sees the held connections
    // close a moment after the drop; until then a new one is still beyond the cap and
    // is closed at once, as it should be.
    let deadline = Instant::now() + Duration::from_secs(5);
    let addr = format!("127.0.0.1:{}", env.http).parse().unwrap();
    loop {
        match raumwart::http::request(addr, "GET", "/healthz").await {
            Ok((200, _)) => break,
            answer => assert!(Instant::now() < deadline, "no slot came back: {answer:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
