//! `raumwart console`: serve the web console, or manage its staff accounts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::EX_CONFIG;
use crate::cli::{ConsoleCommand, UserCommand};
use crate::config::{self, password};
use crate::console::store::{Scope, Staff, Store};
use crate::console::{self, auth};
use crate::schools::Files;

pub(super) fn run(
    path: &Path,
    socket: Option<PathBuf>,
    action: Option<ConsoleCommand>,
) -> ExitCode {
    let Some(ConsoleCommand::User { action }) = action else {
        return serve(path, socket);
    };
    let config = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("raumwart: {e}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    let db = console::database(path, &config.console);
    let result = Store::open(&db)
        .map_err(anyhow::Error::from)
        .and_then(|store| user(&config, &store, action));
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("raumwart: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(path: &Path, socket: Option<PathBuf>) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(console::serve(Files::new(path), socket)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raumwart: {e:#}");
            match e.downcast_ref::<config::Error>() {
                Some(_) => ExitCode::from(EX_CONFIG),
                None => ExitCode::FAILURE,
            }
        }
    }
}

fn user(config: &config::Config, store: &Store, action: UserCommand) -> anyhow::Result<String> {
    match action {
        UserCommand::Add {
            login,
            media_centre,
            provider,
        } => {
            anyhow::ensure!(
                valid_login(&login),
                "a login is 1 to 64 of a-z 0-9 . _ - (lower case)"
            );
            let scope = match provider {
                true => Scope::Provider,
                false => Scope::MediaCentre(media_centre_of(config, media_centre)?),
            };
            let secret = password::generate()
                .map_err(|e| anyhow::anyhow!("no random numbers from the OS: {e}"))?;
            let staff = Staff { login, scope };
            anyhow::ensure!(
                store.add_staff(&staff, &auth::hash(&secret))?,
                "{} exists already",
                staff.login
            );
            Ok(format!(
                "added {} ({})\npassword: {secret}\n",
                staff.login,
                describe(&staff.scope)
            ))
        }
        UserCommand::Remove { login } => {
            anyhow::ensure!(store.remove_staff(&login)?, "no account {login}");
            Ok(format!("removed {login}; its sessions ended\n"))
        }
        UserCommand::ResetPassword { login } => {
            let secret = password::generate()
                .map_err(|e| anyhow::anyhow!("no random numbers from the OS: {e}"))?;
            anyhow::ensure!(
                store.set_hash(&login, &auth::hash(&secret))?,
                "no account {login}"
            );
            Ok(format!(
                "new password for {login} (its sessions ended): {secret}\n"
            ))
        }
        UserCommand::List => Ok(store
            .all_staff()?
            .iter()
            .map(|s| format!("{}\t{}\n", s.login, describe(&s.scope)))
            .collect()),
    }
}

/// The account's media centre: a `[[media_centre]]` id, or none with the one table.
fn media_centre_of(
    config: &config::Config,
    wanted: Option<String>,
) -> anyhow::Result<Option<String>> {
    let ids: Vec<&str> = config
        .media_centres
        .iter()
        .filter_map(|m| m.id.as_deref())
        .collect();
    match wanted {
        None if ids.is_empty() => Ok(None),
        None => anyhow::bail!(
            "--media-centre ID is needed (one of: {}), or --provider",
            ids.join(", ")
        ),
        Some(id) if ids.contains(&id.as_str()) => Ok(Some(id)),
        Some(id) if ids.is_empty() => anyhow::bail!(
            "the config has one [media_centre] table without ids: omit --media-centre {id}"
        ),
        Some(id) => anyhow::bail!(
            "no [[media_centre]] {id} in the config (there are: {})",
            ids.join(", ")
        ),
    }
}

fn describe(scope: &Scope) -> String {
    match scope {
        Scope::Provider => "provider: every media centre".into(),
        Scope::MediaCentre(Some(id)) => format!("media centre {id}"),
        Scope::MediaCentre(None) => "the media centre".into(),
    }
}

fn valid_login(login: &str) -> bool {
    (1..=64).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-_".contains(&b))
}
