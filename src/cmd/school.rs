//! `raumwart school …`: the media centre's workflow (`crate::schools` does the work) and
//! telling the running daemon about it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::SchoolCommand;
use crate::config::daemon_user;
use crate::daemon::control;
use crate::schools::{self, import, letter, CredentialSource, Files, Rooms, UnitCredentials};

/// What the running daemon must do after a change.
enum Tell {
    Nothing,
    Reload,
    /// A password file written is a systemd credential, which systemd copies at start
    /// only: a reload would keep the old one (or miss a new one).
    Restart,
    /// End these rooms' sessions before the school's block goes.
    EndSessions(Vec<String>),
}

/// Restart when a written password file is a credential, else reload.
fn reload_or_restart(credential: bool) -> Tell {
    match credential {
        true => Tell::Restart,
        false => Tell::Reload,
    }
}

pub(super) fn run(config: &Path, socket: Option<PathBuf>, action: SchoolCommand) -> ExitCode {
    let files = files(config);
    let outcome =
        match action {
            SchoolCommand::Add {
                id,
                name,
                media_centre,
                rooms,
                room,
            } => {
                let rooms = match rooms {
                    Some(n) => Rooms::Count(n),
                    None => Rooms::Named(room),
                };
                schools::add(&files, &id, &name, media_centre.as_deref(), &rooms)
                    .map(|a| (a.to_string(), reload_or_restart(a.credential)))
            }
            SchoolCommand::Remove { id } => schools::room_nodes(&files, &id).and_then(|nodes| {
                let ended = tell(config, socket.clone(), Tell::EndSessions(nodes));
                schools::remove(&files, &id).map(|r| (format!("{ended}{r}"), Tell::Reload))
            }),
            SchoolCommand::Rotate { id, room } => schools::rotate(&files, &id, room.as_deref())
                .map(|r| {
                    let credential = r.passwords.iter().any(|p| p.credential);
                    (r.to_string(), reload_or_restart(credential))
                }),
            SchoolCommand::List { media_centre } => schools::list(&files, media_centre.as_deref())
                .map(|l| (l.to_string(), Tell::Nothing)),
            SchoolCommand::Letter { id, out } => {
                letter::write(&files, &id, &out, letter::Date::today())
                    .map(|w| (w.to_string(), Tell::Nothing))
            }
            SchoolCommand::Import {
                file,
                id_column,
                name_column,
                media_centre,
                rooms,
                dry_run,
            } => {
                let columns = import::Columns {
                    id: id_column,
                    name: name_column,
                };
                let centre = media_centre.as_deref();
                schools::import(&files, &file, &columns, centre, rooms, dry_run).map(|i| {
                    let then = match dry_run {
                        true => Tell::Nothing,
                        false => reload_or_restart(i.added.iter().any(|a| a.credential)),
                    };
                    (i.to_string(), then)
                })
            }
        };
    match outcome {
        Ok((text, then)) => {
            print!("{text}");
            print!("{}", tell(config, socket, then));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("raumwart: {e}");
            ExitCode::from(match e {
                schools::Error::Config(_) | schools::Error::Rejected(_) => 78,
                schools::Error::Refused(_) => 65,
                // What the daemon would say at its start: a file it cannot read.
                schools::Error::DaemonCannotRead(_) => 78,
                // EX_TEMPFAIL: another change (the console's) held the lock; try again.
                schools::Error::Busy { .. } => 75,
                _ => 1,
            })
        }
    }
}

/// `$CREDENTIALS_DIRECTORY/` in the config: the folder when set (inside the unit), else
/// the sources the installed unit's `LoadCredential=` lines name (with its drop-ins).
fn files(config: &Path) -> Files {
    let mut files = Files::new(config);
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        files.credentials = CredentialSource::Folder(dir.into());
    } else if std::fs::read_to_string(config).is_ok_and(|t| schools::uses_credentials(&t)) {
        let unit = daemon_user::unit_text();
        if !unit.is_empty() {
            files.credentials = CredentialSource::Unit(UnitCredentials::from_unit(&unit));
        }
    }
    files
}

/// Tells the running daemon; says what happened, or why not (a daemon that is not
/// running reads the file at its next start).
fn tell(config: &Path, socket: Option<PathBuf>, what: Tell) -> String {
    match what {
        Tell::Nothing => return String::new(),
        Tell::Restart => {
            return "A password file written is a systemd credential (LoadCredential=), which \
                    systemd reads at start only: `systemctl restart raumwart` (sessions go on).\n"
                .into()
        }
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let control = match control::locate(config, socket.as_deref()).await {
            Ok(c) => c,
            Err(e) => {
                return format!(
                    "raumwart is not reachable ({e:#}): it reads the file at its next start.\n"
                )
            }
        };
        match what {
            Tell::Nothing | Tell::Restart => String::new(),
            Tell::Reload => match control::request(&control, "POST", "/reload").await {
                Ok((200, _)) => "The running raumwart has reloaded the configuration.\n".into(),
                Ok((code, body)) => format!("raumwart refused the reload ({code}): {body}"),
                Err(e) => format!(
                    "raumwart did not reload ({e:#}); if it is not running, it reads the file at \
                     its next start.\n"
                ),
            },
            Tell::EndSessions(nodes) => {
                let mut out = String::new();
                for node in nodes {
                    let target = format!("/rooms/{node}/end");
                    match control::request(&control, "POST", &target).await {
                        Ok((200, _)) => out += &format!("Ended the session in {node}.\n"),
                        Ok((_, body)) => out += &format!("{node}: {}\n", body.trim_end()),
                        Err(e) => out += &format!("{node}: {e:#}\n"),
                    }
                }
                out
            }
        }
    })
}
