//! `raumwart end-session ROOM`: the hotline's lever, through the control socket.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::client;
use crate::daemon::control;

pub(super) fn run(path: &Path, socket: Option<PathBuf>, room: String) -> ExitCode {
    client(path, socket, |control| async move {
        let target = format!("/rooms/{room}/end");
        let (code, body) = control::request(&control, "POST", &target).await?;
        anyhow::ensure!(code == 200, "{}", body.trim_end());
        print!("{body}");
        Ok(ExitCode::SUCCESS)
    })
}
