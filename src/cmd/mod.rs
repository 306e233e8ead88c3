//! The subcommands, one file each; `main` parses the command line and hands it to [`run`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::daemon::control;

mod check;
mod console;
mod doctor;
mod end_session;
mod password;
mod reload;
mod run;
mod school;
mod setup;
mod status;

/// sysexits' EX_CONFIG: systemd is told not to restart on it.
const EX_CONFIG: u8 = 78;

/// Runs the parsed command line; what it returns is the process's exit code.
pub fn run(cli: Cli) -> ExitCode {
    let Cli {
        config: path,
        socket,
        command,
    } = cli;
    match command {
        Command::Password => password::run(),
        Command::Check => check::run(&path),
        Command::Run => run::run(path, socket),
        Command::Status { json } => status::run(&path, socket, json),
        Command::Doctor => doctor::run(&path, socket),
        Command::EndSession { room } => end_session::run(&path, socket, room),
        Command::School { action } => school::run(&path, socket, action),
        Command::Reload => reload::run(&path, socket),
        Command::Console { action } => console::run(&path, socket, action),
        Command::Setup {
            domain,
            prosody_config,
            module_dir,
            dry_run,
        } => setup::run(path, domain, prosody_config, module_dir, dry_run),
    }
}

/// Runs a command against the running daemon through its control socket.
fn client<F, Fut>(config: &Path, socket: Option<PathBuf>, f: F) -> ExitCode
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = runtime.block_on(async move {
        let control = control::locate(config, socket.as_deref()).await?;
        f(control).await
    });
    result.unwrap_or_else(|e| {
        eprintln!("raumwart: {e:#}");
        ExitCode::FAILURE
    })
}
