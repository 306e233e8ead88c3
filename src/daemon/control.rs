//! The operator's path: status, end-session and reload, taken only through a Unix socket
//! that file permissions guard (the socket 0600 in a folder 0700, both the daemon's), not
//! through "comes from loopback". Peers other than root and the daemon's own user are
//! refused as well, should anyone loosen the permissions.
//!
//! The socket is `--socket PATH`, else `$RUNTIME_DIRECTORY/control` (systemd's
//! `RuntimeDirectory=`), else `control` in a private folder made for this run. The
//! commands find it with `--socket`, or by asking the daemon on `http.listen`.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use tokio::net::{UnixListener, UnixStream};
use tracing::{debug, warn};

use crate::daemon::http::{self, Server, Via};

/// The bound socket; removes the socket file (and a private folder) when dropped.
pub struct Socket {
    pub path: PathBuf,
    private_dir: Option<PathBuf>,
    /// The daemon's own user: it may use the socket besides root.
    owner: u32,
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = &self.private_dir {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Creates the control socket (see the module docs for where).
pub fn bind(explicit: Option<&Path>) -> anyhow::Result<(UnixListener, Socket)> {
    let runtime = std::env::var_os("RUNTIME_DIRECTORY").map(|dirs| {
        // systemd separates several runtime directories with ':'.
        let first = dirs
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or("")
            .to_owned();
        PathBuf::from(first).join("control")
    });
    let (path, private_dir) = match explicit.map(Path::to_owned).or(runtime) {
        Some(path) => (path, None),
        None => {
            let dir = private_dir()?;
            (dir.join("control"), Some(dir))
        }
    };
    remove_stale(&path)?;
    let listener =
        UnixListener::bind(&path).with_context(|| format!("cannot create {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", path.display()))?;
    let owner = std::fs::metadata(&path)?.uid();
    Ok((
        listener,
        Socket {
            path,
            private_dir,
            owner,
        },
    ))
}

/// A folder only this user can enter, for a daemon run outside systemd. Folders that
/// daemons killed without a chance to clean up left behind are removed first.
fn private_dir() -> anyhow::Result<PathBuf> {
    remove_left_behind(&std::env::temp_dir());
    let mut random = [0u8; 8];
    getrandom::getrandom(&mut random)
        .map_err(|e| anyhow::anyhow!("no random numbers from the OS: {e}"))?;
    let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("{PRIVATE_PREFIX}{name}"));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

const PRIVATE_PREFIX: &str = "raumwart-";

/// A private folder changed more recently than this may belong to a daemon that is
/// starting: it made the folder and has yet to bind its socket there.
const LEFT_BEHIND_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Removes this user's private folders in `tmp` whose socket no daemon answers (and
/// that are not new: see LEFT_BEHIND_AFTER).
fn remove_left_behind(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    let me = own_uid();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_prefix(PRIVATE_PREFIX)) else {
            continue;
        };
        let ours_and_old = entry.metadata().is_ok_and(|m| {
            let age = m.modified().ok().and_then(|t| t.elapsed().ok());
            m.uid() == me && m.is_dir() && age.is_some_and(|a| a >= LEFT_BEHIND_AFTER)
        });
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || !ours_and_old {
            continue;
        }
        let socket = entry.path().join("control");
        if std::os::unix::net::UnixStream::connect(&socket).is_err() {
            let _ = std::fs::remove_file(&socket);
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// This process's user, as the owner of what it creates.
fn own_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// A socket file left by a daemon that died is replaced; a live daemon's is not.
fn remove_stale(path: &Path) -> anyhow::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        anyhow::bail!(
            "{} is in use: is another raumwart running with it?",
            path.display()
        );
    }
    std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))
}

/// Serves the control socket until the daemon's request channel closes.
pub async fn serve(listener: UnixListener, socket: &Socket, server: Server) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                warn!("control socket accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        match stream.peer_cred().map(|c| c.uid()) {
            Ok(uid) if uid == 0 || uid == socket.owner => {
                tokio::spawn(server.clone().connection(stream, Via::Control));
            }
            Ok(uid) => warn!(
                uid,
                "control socket: refused a user that is neither root nor raumwart"
            ),
            Err(e) => debug!("control socket: no peer credentials: {e}"),
        }
    }
}

/// Where the running daemon's control socket is: `explicit`, or as the daemon on the
/// configuration's `http.listen` says.
pub async fn locate(config: &Path, explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    let listen = crate::config::http_listen(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (code, body) = http::request(listen, "GET", "/control").await?;
    anyhow::ensure!(
        code == 200,
        "raumwart at {listen} answered {code}: {}",
        body.trim_end()
    );
    Ok(PathBuf::from(body.trim_end()))
}

/// One request to the running daemon through its control socket.
pub async fn request(socket: &Path, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
    let stream = UnixStream::connect(socket).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::PermissionDenied => " (the control socket is root's: use sudo)",
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                " (is raumwart running?)"
            }
            _ => "",
        };
        anyhow::anyhow!("cannot reach raumwart at {}: {e}{hint}", socket.display())
    })?;
    http::exchange(stream, method, path)
        .await
        .with_context(|| format!("{}", socket.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_folders_left_behind_are_removed_and_live_ones_kept() {
        let tmp = std::env::temp_dir().join(format!("raumwart-cleanup-{}", std::process::id()));
        let dead = tmp.join("raumwart-0123456789abcdef");
        let live = tmp.join("raumwart-fedcba9876543210");
        // Made by a daemon that is starting: no socket yet (two daemons starting at once
        // once removed each other's socket between the folder and the bind).
        let starting = tmp.join("raumwart-00112233445566ff");
        let other = tmp.join("raumwart-test-1");
        for dir in [&dead, &live, &starting, &other] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(dead.join("control"), "").unwrap();
        let _listener = std::os::unix::net::UnixListener::bind(live.join("control")).unwrap();
        let long_ago = std::time::SystemTime::now() - 2 * LEFT_BEHIND_AFTER;
        for dir in [&dead, &live, &other] {
            std::fs::File::open(dir)
                .and_then(|d| d.set_modified(long_ago))
                .unwrap();
        }
        remove_left_behind(&tmp);
        assert!(!dead.exists());
        assert!(live.join("control").exists() && other.exists() && starting.exists());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
