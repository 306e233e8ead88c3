//! The `raumwart` command: argument parsing, logging, signals, wiring.

use std::path::PathBuf;
use std::process::ExitCode;

use raumwart::config;
use tracing_subscriber::EnvFilter;

/// sysexits' EX_CONFIG: systemd is told not to restart on it.
const EX_CONFIG: u8 = 78;
const EX_USAGE: u8 = 64;

const USAGE: &str = "\
raumwart keeps the Jitsi Meet conference rooms of schools in order.

Usage:
  raumwart run --config FILE     run in the foreground, logging to stderr
  raumwart check --config FILE   validate FILE; exit 0, or 78 listing every problem
  raumwart --version | --help

Logging: RAUMWART_LOG (e.g. \"debug\", \"raumwart=debug\"); default \"info\".";

enum Command {
    Run(PathBuf),
    Check(PathBuf),
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let verb = args.next().ok_or("no command given")?;
    let mut config = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => config = Some(args.next().ok_or("--config needs a FILE")?),
            other => match other.strip_prefix("--config=") {
                Some(file) => config = Some(file.to_owned()),
                None => return Err(format!("unexpected argument {other:?}")),
            },
        }
    }
    let config = PathBuf::from(config.ok_or("--config FILE is required")?);
    match verb.as_str() {
        "run" => Ok(Command::Run(config)),
        "check" => Ok(Command::Check(config)),
        other => Err(format!("unknown command {other:?}")),
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    match args.peek().map(String::as_str) {
        Some("--version" | "-V") => {
            println!("raumwart {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--help" | "-h" | "help") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let command = match parse_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("raumwart: {e}\n\n{USAGE}");
            return ExitCode::from(EX_USAGE);
        }
    };
    match command {
        Command::Check(path) => match config::load(&path) {
            Ok(c) => {
                let rooms: usize = c.schools.iter().map(|s| s.rooms.len()).sum();
                println!(
                    "{}: ok ({} schools, {rooms} rooms)",
                    path.display(),
                    c.schools.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EX_CONFIG)
            }
        },
        Command::Run(path) => run(path),
    }
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
    let config = match config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            for line in e.to_string().lines() {
                tracing::error!("{line}");
            }
            return ExitCode::from(EX_CONFIG);
        }
    };
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
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_stop_signal().await;
            let _ = stop.send(true);
        });
        tracing::info!(version = env!("CARGO_PKG_VERSION"), "raumwart starting");
        raumwart::xmpp::run(config, stopped).await
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

async fn wait_for_stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
