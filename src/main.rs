//! The `raumwart` command: argument parsing, logging, signals, wiring.

use std::path::{Path, PathBuf};

use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;

#[path = "cmd/school.rs"]
mod school_cmd;

use raumwart::cli::{Cli, Command};
use raumwart::config::daemon_user::Daemon;
use raumwart::config::{self, password};
use raumwart::metrics::Metrics;
use raumwart::{control, daemon, http};
use tokio::sync::{mpsc, watch};
use tracing_subscriber::EnvFilter;

/// sysexits' EX_CONFIG: systemd is told not to restart on it.
const EX_CONFIG: u8 = 78;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's convention: 2 for a usage error (no or an unknown subcommand, a bad
            // option), 0 for --help and --version.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let Cli {
        config: path,
        socket,
        command,
    } = cli;
    match command {
        Command::Password => match password::generate() {
            Ok(p) => {
                println!("{p}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("raumwart: no random numbers from the OS: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Check => match config::load(&path) {
            Ok(c) => {
                print!("{}", check_report(&path, &c));
                daemon_can_read(&path, &c)
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EX_CONFIG)
            }
        },
        Command::Run => run(path, socket),
        Command::Status { json } => client(&path, socket, |control| async move {
            let (code, body) = control::request(&control, "GET", "/status").await?;
            anyhow::ensure!(code == 200, "raumwart answered {code}: {body}");
            if json {
                println!("{body}");
            } else {
                print!("{}", status_table(&body)?);
            }
            Ok(ExitCode::SUCCESS)
        }),
        Command::EndSession { room } => client(&path, socket, |control| async move {
            let target = format!("/rooms/{room}/end");
            let (code, body) = control::request(&control, "POST", &target).await?;
            anyhow::ensure!(code == 200, "{}", body.trim_end());
            print!("{body}");
            Ok(ExitCode::SUCCESS)
        }),
        Command::School { action } => school_cmd::run(&path, socket, action),
        Command::Reload => client(&path, socket, |control| async move {
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
        }),
    }
}

/// What `check` prints for a valid file: a summary, then each configured room name
/// with the room node(s) Jitsi opens for it (typed into Jitsi, opened as a link).
fn check_report(path: &Path, c: &config::Config) -> String {
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

/// `check` as root reads every file whatever its owner and mode; the daemon runs as its
/// own user (the unit's `User=`), which may not. Each file it would read is checked
/// against that user's ids: 78, like the daemon's own start, when it could not.
fn daemon_can_read(path: &Path, c: &config::Config) -> ExitCode {
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

/// Runs a command against the running daemon through its control socket.
pub(crate) fn client<F, Fut>(config: &Path, socket: Option<PathBuf>, f: F) -> ExitCode
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

fn status_table(json: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    let mut out = format!("connected: {}, in sync: {}\n", v["connected"], v["synced"]);
    if v["standby"] == true {
        out.push_str("standing by: another raumwart holds the component name\n");
    }
    let problems: Vec<&str> = v["module_problems"]
        .as_array()
        .map(|p| p.iter().filter_map(|p| p.as_str()).collect())
        .unwrap_or_default();
    if problems.contains(&"protocol-mismatch") {
        out.push_str(
            "Prosody runs a raumwart module of another release: restart Prosody \
             (no room map is pushed until then; the module's last map protects the rooms)\n",
        );
    }
    if !problems.is_empty() {
        out.push_str(&format!("module problems: {}\n", problems.join(", ")));
    }
    let rooms = v["rooms"].as_array().map(Vec::as_slice).unwrap_or_default();
    // With [[media_centre]] blocks, rooms are grouped by their media centre.
    let centres = rooms.iter().any(|r| r["media_centre"].is_string());
    let mut rows: Vec<Vec<String>> = rooms
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            let age = r["session_age_seconds"]
                .as_u64()
                .map(|s| format!("{}:{:02}", s / 3600, s / 60 % 60))
                .unwrap_or_else(|| "-".into());
            let organizer = if r["organizer_present"] == true {
                "yes"
            } else {
                "no"
            };
            let row = [
                s("school"),
                s("room"),
                s("state"),
                r["people"].to_string(),
                organizer.into(),
                age,
            ];
            match centres {
                true => std::iter::once(r["media_centre"].as_str().unwrap_or("-").to_owned())
                    .chain(row)
                    .collect(),
                false => row.into(),
            }
        })
        .collect();
    let mut header = vec!["SCHOOL", "ROOM", "STATE", "PEOPLE", "ORGANIZER", "SESSION"];
    if centres {
        header.insert(0, "MEDIA CENTRE");
        rows.sort_by(|a, b| a[0].cmp(&b[0]));
    }
    let header: Vec<String> = header.into_iter().map(String::from).collect();
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    Ok(out)
}

fn init_logging() {
    // Under journald (JOURNAL_STREAM set) one plain line per event: journald stamps time.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let filter = EnvFilter::try_from_env("RAUMWART_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if journald {
        builder.with_ansi(false).without_time().init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

fn run(path: PathBuf, socket: Option<PathBuf>) -> ExitCode {
    init_logging();
    let metrics = Arc::new(Metrics::new());
    let config = match config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            for line in e.to_string().lines() {
                tracing::error!("{line}");
            }
            return ExitCode::from(EX_CONFIG);
        }
    };
    metrics.config_loaded_at_start();
    metrics.use_config(&config);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.http.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.http.listen))?;
        let (control_listener, control_socket) = control::bind(socket.as_deref())?;
        let (stop, shutdown) = watch::channel(false);
        let (reload_tx, reloads) = mpsc::channel(4);
        let (query_tx, queries) = mpsc::channel(64);
        let server = http::Server {
            to_daemon: query_tx,
            control_socket: Some(Arc::new(control_socket.path.clone())),
        };
        tokio::spawn(http::serve(listener, server.clone()));
        tokio::spawn(signals(stop, reload_tx));
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            control = %control_socket.path.display(),
            "raumwart starting"
        );
        let control = daemon::Control {
            config_path: path,
            shutdown,
            reloads,
            queries,
        };
        tokio::select! {
            result = daemon::run(config, metrics, control) => result,
            () = control::serve(control_listener, &control_socket, server) => Ok(()),
        }
    });
    match result {
        Ok(()) => {
            tracing::info!("stopped; the Prosody module keeps enforcing room passwords");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM/SIGINT stop; SIGHUP asks for a reload of the config file.
async fn signals(stop: watch::Sender<bool>, reload: mpsc::Sender<()>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                let _ = reload.send(()).await;
            }
        }
    }
    let _ = stop.send(true);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_status_table_says_when_this_instance_stands_by() {
        let json = r#"{"connected":false,"standby":true,"synced":false,"rooms":[]}"#;
        let table = super::status_table(json).unwrap();
        assert!(table.contains("standing by"), "{table}");
        let json = r#"{"connected":true,"standby":false,"synced":true,"rooms":[]}"#;
        assert!(!super::status_table(json).unwrap().contains("standing by"));
    }

    #[test]
    fn the_status_table_says_when_prosody_runs_a_module_of_another_release() {
        let json = r#"{"connected":true,"synced":false,"module_problems":["protocol-mismatch"],"rooms":[]}"#;
        let table = super::status_table(json).unwrap();
        assert!(
            table.contains("another release: restart Prosody"),
            "{table}"
        );
        let json = r#"{"connected":true,"synced":true,"module_problems":[],"rooms":[]}"#;
        assert!(!super::status_table(json).unwrap().contains("module"));
    }

    #[test]
    fn the_status_table_groups_rooms_by_media_centre_when_there_are_several() {
        let room = |centre: &str, school: &str, room: &str| {
            format!(
                r#"{{"room":"{room}","school":"{school}","media_centre":{centre},"state":"idle","people":0,"organizer_present":false,"session_age_seconds":null}}"#
            )
        };
        let json = format!(
            r#"{{"connected":true,"standby":false,"synced":true,"rooms":[{},{},{}]}}"#,
            room("\"kmz-b\"", "gs-b", "gs-b-1"),
            room("\"kmz-a\"", "gs-a", "gs-a-1"),
            room("\"kmz-b\"", "gs-c", "gs-c-1"),
        );
        let table = super::status_table(&json).unwrap();
        let lines: Vec<&str> = table.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "MEDIA CENTRE  SCHOOL  ROOM    STATE  PEOPLE  ORGANIZER  SESSION",
                "kmz-a         gs-a    gs-a-1  idle   0       no         -",
                "kmz-b         gs-b    gs-b-1  idle   0       no         -",
                "kmz-b         gs-c    gs-c-1  idle   0       no         -",
            ],
            "{table}"
        );
        // The one [media_centre] table: no id, no column.
        let json = format!(
            r#"{{"connected":true,"standby":false,"synced":true,"rooms":[{}]}}"#,
            room("null", "gs-a", "gs-a-1")
        );
        let table = super::status_table(&json).unwrap();
        assert!(table.contains("\nSCHOOL  ROOM"), "{table}");
        assert!(!table.contains("MEDIA CENTRE"), "{table}");
    }
}
