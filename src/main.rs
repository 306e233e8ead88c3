//! The `raumwart` command: argument parsing, logging, signals, wiring.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use raumwart::metrics::Metrics;
use raumwart::{config, daemon, http, password};
use tokio::sync::{mpsc, watch};
use tracing_subscriber::EnvFilter;

/// sysexits' EX_CONFIG: systemd is told not to restart on it.
const EX_CONFIG: u8 = 78;
const EX_USAGE: u8 = 64;

const USAGE: &str = "\
raumwart keeps the Jitsi Meet conference rooms of schools in order.

Usage:
  raumwart run --config FILE                run in the foreground, logging to stderr
  raumwart check --config FILE              validate FILE; exit 0 printing the room nodes, or 78
                                            listing every problem
  raumwart password                         print a new strong password for a password file
  raumwart status --config FILE [--json]    the managed rooms, from the running daemon
  raumwart end-session ROOM --config FILE   end the session in ROOM now (the hotline's lever)
  raumwart --version | --help

The running daemon is reached on http.listen from FILE (loopback).
SIGHUP reloads FILE; a bad file is refused and the old configuration stays.

Logging: RAUMWART_LOG (e.g. \"debug\", \"raumwart=debug\"); default \"info\".";

enum Command {
    Run(PathBuf),
    Check(PathBuf),
    Status { config: PathBuf, json: bool },
    EndSession { config: PathBuf, room: String },
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let verb = args.next().ok_or("no command given")?;
    let mut config = None;
    let mut json = false;
    let mut positional = vec![];
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => config = Some(args.next().ok_or("--config needs a FILE")?),
            "--json" => json = true,
            other if other.starts_with("--config=") => {
                config = Some(other["--config=".len()..].to_owned());
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other:?}")),
            other => positional.push(other.to_owned()),
        }
    }
    let config = PathBuf::from(config.ok_or("--config FILE is required")?);
    let no_extra = |p: &[String]| match p {
        [] => Ok(()),
        [x, ..] => Err(format!("unexpected argument {x:?}")),
    };
    match verb.as_str() {
        "run" => no_extra(&positional).map(|_| Command::Run(config)),
        "check" => no_extra(&positional).map(|_| Command::Check(config)),
        "status" => no_extra(&positional).map(|_| Command::Status { config, json }),
        "end-session" => match <[String; 1]>::try_from(positional) {
            Ok([room]) => Ok(Command::EndSession { config, room }),
            Err(_) => Err("end-session takes exactly one ROOM".into()),
        },
        other => Err(format!("unknown command {other:?}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version" | "-V") => {
            println!("raumwart {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--help" | "-h" | "help") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("password") if args.len() == 1 => {
            return match password::generate() {
                Ok(p) => {
                    println!("{p}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("raumwart: no random numbers from the OS: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let command = match parse_args(args.into_iter()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("raumwart: {e}\n\n{USAGE}");
            return ExitCode::from(EX_USAGE);
        }
    };
    match command {
        Command::Check(path) => match config::load(&path) {
            Ok(c) => {
                print!("{}", check_report(&path, &c));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EX_CONFIG)
            }
        },
        Command::Run(path) => run(path),
        Command::Status { config, json } => client(&config, |addr| async move {
            let (code, body) = http::request(addr, "GET", "/status").await?;
            anyhow::ensure!(code == 200, "raumwart answered {code}: {body}");
            if json {
                println!("{body}");
            } else {
                print!("{}", status_table(&body)?);
            }
            Ok(())
        }),
        Command::EndSession { config, room } => client(&config, |addr| async move {
            let (code, body) = http::request(addr, "POST", &format!("/rooms/{room}/end")).await?;
            anyhow::ensure!(code == 200, "{}", body.trim_end());
            print!("{body}");
            Ok(())
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
    format!(
        "{}: ok ({} schools, {} rooms)\n{}",
        path.display(),
        c.schools.len(),
        lines.len(),
        lines.concat()
    )
}

/// Runs a command against the running daemon found through FILE's http.listen.
fn client<F, Fut>(path: &Path, f: F) -> ExitCode
where
    F: FnOnce(std::net::SocketAddr) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let config = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(f(config.http.listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raumwart: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn status_table(json: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    let mut out = format!("connected: {}, in sync: {}\n", v["connected"], v["synced"]);
    let rows: Vec<[String; 6]> = v["rooms"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
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
            [
                s("school"),
                s("room"),
                s("state"),
                r["people"].to_string(),
                organizer.into(),
                age,
            ]
        })
        .collect();
    let header = ["SCHOOL", "ROOM", "STATE", "PEOPLE", "ORGANIZER", "SESSION"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header.map(String::from)).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
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

fn run(path: PathBuf) -> ExitCode {
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
    metrics.config_loaded(true);
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
        let (stop, shutdown) = watch::channel(false);
        let (reload_tx, reloads) = mpsc::channel(4);
        let (query_tx, queries) = mpsc::channel(64);
        tokio::spawn(http::serve(listener, query_tx));
        tokio::spawn(signals(path, metrics.clone(), stop, reload_tx));
        tracing::info!(version = env!("CARGO_PKG_VERSION"), "raumwart starting");
        let control = daemon::Control {
            shutdown,
            reloads,
            queries,
        };
        daemon::run(config, metrics, control).await
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

/// SIGTERM/SIGINT stop; SIGHUP reloads the config file, keeping the old one if it is bad.
async fn signals(
    path: PathBuf,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    reload: mpsc::Sender<config::Config>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                let mut state = vec![sd_notify::NotifyState::Reloading];
                if let Ok(t) = sd_notify::NotifyState::monotonic_usec_now() {
                    state.push(t);
                }
                let _ = sd_notify::notify(&state);
                match config::load(&path) {
                    Ok(c) => {
                        metrics.config_loaded(true);
                        let _ = reload.send(c).await;
                    }
                    Err(e) => {
                        metrics.config_loaded(false);
                        tracing::error!("reload refused, the running configuration stays:");
                        for line in e.to_string().lines() {
                            tracing::error!("{line}");
                        }
                    }
                }
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
            }
        }
    }
    let _ = stop.send(true);
}
