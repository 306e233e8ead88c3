//! The `raumwart` command: parses the command line, sets up logging for the daemon, and
//! hands over to the library (`raumwart::run`).

use std::process::ExitCode;

use clap::Parser;
use raumwart::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

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
    // Only the daemon and the console's server log; the other commands print what they
    // have to say.
    if matches!(
        cli.command,
        Command::Run | Command::Console { action: None }
    ) {
        init_logging();
    }
    raumwart::run(cli)
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
