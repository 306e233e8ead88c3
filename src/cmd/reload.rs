//! `raumwart reload`: the running daemon reads its configuration file again.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{client, EX_CONFIG};
use crate::daemon::control;

pub(super) fn run(path: &Path, socket: Option<PathBuf>) -> ExitCode {
    client(path, socket, |control| async move {
        let (code, body) = control::request(&control, "POST", "/reload").await?;
        match code {
            200 => {
                print!("{body}");
                Ok(ExitCode::SUCCESS)
            }
            422 => {
                eprint!("{body}");
                Ok(ExitCode::from(EX_CONFIG))
            }
            _ => anyhow::bail!("raumwart answered {code}: {}", body.trim_end()),
        }
    })
}
