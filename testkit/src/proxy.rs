//! A TCP proxy between raumwart and Prosody's component port that can cut the link
//! (every connection closed, new ones closed at once) or black-hole it (connections stay
//! open, nothing passes either way) until it is restored.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Pass,
    Cut,
    BlackHole,
}

pub struct Proxy {
    pub port: u16,
    mode: watch::Sender<Mode>,
}

impl Proxy {
    /// A proxy on a free loopback port in front of `upstream`.
    pub async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, watching) = watch::channel(Mode::Pass);
        tokio::spawn(async move {
            while let Ok((daemon, _)) = listener.accept().await {
                if *watching.borrow() == Mode::Cut {
                    continue; // dropped: closed at once
                }
                let Ok(prosody) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    continue;
                };
                let (from_daemon, to_daemon) = daemon.into_split();
                let (from_prosody, to_prosody) = prosody.into_split();
                let up = tokio::spawn(pump(from_daemon, to_prosody, watching.clone()));
                let down = tokio::spawn(pump(from_prosody, to_daemon, watching.clone()));
                // Either side closing closes both.
                tokio::spawn(async move {
                    let (up_abort, down_abort) = (up.abort_handle(), down.abort_handle());
                    tokio::select! {
                        _ = up => down_abort.abort(),
                        _ = down => up_abort.abort(),
                    }
                });
            }
        });
        Proxy { port, mode }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

/// Copies until either side closes or the link is cut; holds bytes while black-holed.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(n @ 1..) => n,
                _ => return,
            },
            _ = mode.wait_for(|m| *m == Mode::Cut) => return,
        };
        let passing = mode
            .wait_for(|m| *m != Mode::BlackHole)
            .await
            .map(|m| *m)
            .ok();
        if passing != Some(Mode::Pass) || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
