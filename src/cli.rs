//! The command line, declared once: `main` parses it, the man page is generated from it.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

/// Where the packaged unit and the docs keep the configuration.
pub const DEFAULT_CONFIG: &str = "/etc/raumwart/config.toml";

#[derive(Debug, Parser)]
#[command(
    name = "raumwart",
    version,
    about = "Keeps the Jitsi Meet conference rooms of schools in order",
    long_about = "raumwart keeps the Jitsi Meet conference rooms of schools in order: a \
teacher who enters with the school password becomes organizer, and when the last \
organizer leaves, the room is reset to the school password with nothing left from the \
class before.",
    after_help = "Logging: RAUMWART_LOG (e.g. \"debug\", \"raumwart=debug\"); default \"info\".\n\
SIGHUP reloads the configuration file like `raumwart reload`.",
    propagate_version = true
)]
pub struct Cli {
    /// The configuration file
    #[arg(
        short,
        long,
        global = true,
        value_name = "FILE",
        env = "RAUMWART_CONFIG",
        default_value = DEFAULT_CONFIG
    )]
    pub config: PathBuf,

    /// The running daemon's control socket (default: asked from the daemon at the
    /// configuration's http.listen); for `run`, where to create it (default:
    /// $RUNTIME_DIRECTORY/control, else a private temporary folder)
    #[arg(long, global = true, value_name = "PATH", env = "RAUMWART_SOCKET")]
    pub socket: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground, logging to stderr
    Run,
    /// Validate the configuration file
    ///
    /// Exit 0 printing the room nodes Jitsi opens for every configured room, or 78
    /// listing every problem as FILE:LINE:COLUMN: message.
    Check,
    /// Print a new strong password for a password file
    Password,
    /// Show every managed room of the running daemon
    Status {
        /// Print JSON for scripts instead of a table
        #[arg(long)]
        json: bool,
    },
    /// End the session in ROOM now (the hotline's lever)
    ///
    /// Everyone is removed with the end message and the room is reset, as when a grace
    /// period expires.
    EndSession {
        /// The room node, as `raumwart status` lists it
        room: String,
    },
    /// Make the running daemon read its configuration file again
    ///
    /// A bad file is refused with every problem listed (exit 78); the running
    /// configuration stays. Sessions are not disturbed.
    Reload,
}

/// The clap command, for the man page and completions.
pub fn command() -> clap::Command {
    Cli::command()
}
