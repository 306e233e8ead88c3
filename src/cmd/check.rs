//! `raumwart check`: the configuration file validated, with the room nodes Jitsi opens.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::EX_CONFIG;
use crate::config::daemon_user::Daemon;
use crate::config::{self, Config};

pub(super) fn run(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(c) => {
            print!("{}", report(path, &c));
            for warning in warnings(&c) {
                eprintln!("warning: {warning}");
            }
            daemon_can_read(path, &c)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EX_CONFIG)
        }
    }
}

/// What `check` prints for a valid file: a summary, then each configured room name
/// with the room node(s) Jitsi opens for it (typed into Jitsi, opened as a link).
pub(super) fn report(path: &Path, c: &Config) -> String {
    let mut lines = vec![];
    for school in &c.schools {
        for group in school.rooms.chunk_by(|a, b| a.configured == b.configured) {
            let nodes = match group {
                [one] => one.name.clone(),
                [typed, link] => format!("{} (typed), {} (link)", typed.name, link.name),
                _ => unreachable!("a name has one or two nodes"),
            };
            lines.push(format!(
                "  {}: {:?} -> {nodes}\n",
                school.id, group[0].configured
            ));
        }
    }
    // Media centres are counted when they are blocks with ids, which schools name.
    let centres = match c.media_centres.iter().filter(|m| m.id.is_some()).count() {
        0 => String::new(),
        n => format!("{n} media centres, "),
    };
    format!(
        "{}: ok ({centres}{} schools, {} rooms)\n{}",
        path.display(),
        c.schools.len(),
        lines.len(),
        lines.concat()
    )
}

/// What works but is likely wrong: said on stderr, the exit status stays 0.
pub(super) fn warnings(c: &Config) -> Vec<String> {
    // Jitsi's focus is focus@auth.<domain>, its MUC conference.<domain> (or muc.<domain>).
    let domain = c.xmpp.muc.split_once('.').map_or("", |(_, d)| d);
    let (focus, auth) = (format!("focus@auth.{domain}"), format!("auth.{domain}"));
    let services = &c.policy.service_jids;
    if services.iter().any(|j| *j == focus || *j == auth) {
        return vec![];
    }
    vec![format!(
        "policy.service_jids does not list Jitsi's focus ({focus}): it would count as a \
         person, so a room it stays in never ends its session; list it, with jibri's and \
         jigasi's accounts"
    )]
}

/// `check` as root reads every file whatever its owner and mode; the daemon runs as its
/// own user (the unit's `User=`), which may not. Each file it would read is checked
/// against that user's ids: 78, like the daemon's own start, when it could not.
fn daemon_can_read(path: &Path, c: &Config) -> ExitCode {
    let user = match Daemon::for_config(path) {
        Daemon::NotApplicable => return ExitCode::SUCCESS,
        Daemon::NoSuchUser(name) => {
            eprintln!(
                "raumwart: the unit's user {name} does not exist here: not checked whether \
                 the daemon can read these files"
            );
            return ExitCode::SUCCESS;
        }
        Daemon::User(user) => user,
    };
    let mut ok = true;
    for file in std::iter::once(path).chain(c.read_files.iter().map(PathBuf::as_path)) {
        if let Some(why) = user.cannot_read(file) {
            eprintln!("{why}");
            ok = false;
        }
    }
    match ok {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(EX_CONFIG),
    }
}
