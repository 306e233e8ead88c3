//! `raumwart school …`: the media centre's workflow (`raumwart::school`, `letter`,
//! `register` do the work) and telling the running daemon about it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use raumwart::cli::SchoolCommand;
use raumwart::school::{self, CredentialSource, Files, Rooms, UnitCredentials};
use raumwart::{control, letter, register};

/// Where the packaged and the hand-installed unit live, for `LoadCredential=` lines.
const UNITS: [&str; 2] = [
    "/etc/systemd/system/raumwart.service",
    "/lib/systemd/system/raumwart.service",
];

/// What the running daemon must do after a change.
enum Tell {
    Nothing,
    Reload,
    /// End these rooms' sessions before the school's block goes.
    EndSessions(Vec<String>),
}

pub fn run(config: &Path, socket: Option<PathBuf>, action: SchoolCommand) -> ExitCode {
    let files = files(config);
    let outcome = match action {
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
            school::add(&files, &id, &name, media_centre.as_deref(), &rooms)
                .map(|a| (a.to_string(), Tell::Reload))
        }
        SchoolCommand::Remove { id } => school::room_nodes(&files, &id).and_then(|nodes| {
            let ended = tell(config, socket.clone(), Tell::EndSessions(nodes));
            school::remove(&files, &id).map(|r| (format!("{ended}{r}"), Tell::Reload))
        }),
        SchoolCommand::Rotate { id, room } => {
            school::rotate(&files, &id, room.as_deref()).map(|r| (r.to_string(), Tell::Reload))
        }
        SchoolCommand::List { media_centre } => {
            school::list(&files, media_centre.as_deref()).map(|l| (l.to_string(), Tell::Nothing))
        }
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
            let columns = register::Columns {
                id: id_column,
                name: name_column,
            };
            let then = if dry_run { Tell::Nothing } else { Tell::Reload };
            let centre = media_centre.as_deref();
            school::import(&files, &file, &columns, centre, rooms, dry_run)
                .map(|i| (i.to_string(), then))
        }
    };
    match outcome {
        Ok((text, then)) => {
            print!("{text}");
            let credentials = !matches!(files.credentials, CredentialSource::Unset);
            match then {
                Tell::Reload if credentials => println!(
                    "The configuration reads passwords as systemd credentials, which are read at \
                     start: `systemctl restart raumwart` (sessions go on)."
                ),
                then => print!("{}", tell(config, socket, then)),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("raumwart: {e}");
            ExitCode::from(match e {
                school::Error::Config(_) | school::Error::Rejected(_) => 78,
                school::Error::Refused(_) => 65,
                _ => 1,
            })
        }
    }
}

/// `$CREDENTIALS_DIRECTORY/` in the config: the folder when set (inside the unit), else
/// the sources the installed unit's `LoadCredential=` lines name.
fn files(config: &Path) -> Files {
    let mut files = Files::new(config);
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        files.credentials = CredentialSource::Folder(dir.into());
    } else if std::fs::read_to_string(config).is_ok_and(|t| t.contains("$CREDENTIALS_DIRECTORY/")) {
        if let Some(unit) = UNITS.iter().find_map(|u| std::fs::read_to_string(u).ok()) {
            files.credentials = CredentialSource::Unit(UnitCredentials::from_unit(&unit));
        }
    }
    files
}

/// Tells the running daemon; says what happened, or why not (a daemon that is not
/// running reads the file at its next start).
fn tell(config: &Path, socket: Option<PathBuf>, what: Tell) -> String {
    if matches!(what, Tell::Nothing) {
        return String::new();
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
            Tell::Nothing => String::new(),
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
