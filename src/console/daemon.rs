//! The running daemon, as the console reaches it: only through its control socket.

use std::path::PathBuf;

use serde::Deserialize;

use super::store::Scope;
use crate::daemon::control;

/// A room as the console shows it: never a name or JID of a person.
#[derive(Debug, Clone, Deserialize)]
pub struct LiveRoom {
    pub room: String,
    pub school: String,
    pub media_centre: Option<String>,
    pub state: String,
    pub people: u64,
    pub session_age_seconds: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    pub connected: bool,
    pub synced: bool,
    pub rooms: Vec<LiveRoom>,
}

/// Where the daemon is: `--socket`, else asked from the daemon at `http.listen`.
#[derive(Debug, Clone)]
pub struct Daemon {
    pub config: PathBuf,
    pub socket: Option<PathBuf>,
}

impl Daemon {
    async fn request(&self, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
        let socket = control::locate(&self.config, self.socket.as_deref()).await?;
        control::request(&socket, method, path).await
    }

    /// The rooms `scope` covers: the daemon lists only those (a media centre's console
    /// on a state's service does not fetch every room of the state).
    pub async fn status(&self, scope: &Scope) -> anyhow::Result<Status> {
        // Ids are letters, digits, '-', '_' and '.' (`config::is_id`): nothing to escape.
        let path = match scope {
            Scope::Provider => "/status".to_owned(),
            Scope::MediaCentre(id) => {
                format!("/status?media_centre={}", id.as_deref().unwrap_or_default())
            }
        };
        let (code, body) = self.request("GET", &path).await?;
        anyhow::ensure!(code == 200, "raumwart answered {code}");
        Ok(serde_json::from_str(&body)?)
    }

    /// Ends the session in `room` (a node from `status`).
    pub async fn end_session(&self, room: &str) -> anyhow::Result<()> {
        let (code, body) = self.request("POST", &format!("/rooms/{room}/end")).await?;
        anyhow::ensure!(code == 200, "raumwart answered {code}: {}", body.trim());
        Ok(())
    }

    /// The daemon reads the config again (after a change to the register).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let (code, body) = self.request("POST", "/reload").await?;
        anyhow::ensure!(code == 200, "raumwart answered {code}: {}", body.trim());
        Ok(())
    }
}
