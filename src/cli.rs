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
    /// listing every problem as FILE:LINE:COLUMN: message. Run as root on the unit's
    /// configuration, also 78 naming each file the unit's user (raumwart) could not
    /// read, which root can.
    Check,
    /// Print a new strong password for a password file
    Password,
    /// Show every managed room of the running daemon
    Status {
        /// Print JSON for scripts instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Check the running Prosody against what raumwart needs
    ///
    /// Asks Prosody through the running daemon and its module, and prints one line per
    /// check, ok or what to change: the module on the main and breakout MUCs, raumwart
    /// admin and owner there and on the lobby MUC, the room cache, the garbage collector,
    /// Nagle, the component port on loopback, focus in policy.service_jids, the Prosody
    /// version. Exit 0 when every line is ok, 1 when something must change, 2 when the
    /// module (or the daemon) is too old to be asked, 75 when the daemon or Prosody
    /// cannot be asked now.
    Doctor,
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
    /// Add, remove and list schools, new passwords, access letters, register imports
    ///
    /// Each change edits the configuration file keeping its comments and layout, is
    /// validated like `check` before anything is written, and is reloaded by the running
    /// daemon.
    School {
        #[command(subcommand)]
        action: SchoolCommand,
    },
    /// Serve the media centres' web console, or manage its staff accounts
    ///
    /// Without a subcommand, serves `[console] listen` (loopback by default, for a TLS
    /// reverse proxy) until SIGTERM. Accounts, sessions and the audit log live in the
    /// SQLite file `[console] database`.
    Console {
        #[command(subcommand)]
        action: Option<ConsoleCommand>,
    },
    /// Add raumwart to the Prosody of a Jitsi Meet from Jitsi's Debian packages
    ///
    /// Finds the Jitsi domain in Prosody's configuration (or takes --domain), keeps or
    /// makes the component secret (a file beside the configuration file, root and the
    /// folder's group, 0640), writes Prosody's side: conf.d/raumwart.cfg.lua (the
    /// component with the secret and raumwart's options on the MUCs; root and
    /// prosody.cfg.lua's group, 0640) and raumwart's items in the lists of Jitsi's file
    /// that only one file may set (the modules and admins of the MUCs, plugin_paths), in
    /// blocks marked "-- BEGIN raumwart (raumwart setup)" ... "-- END raumwart". Then it
    /// sets the [xmpp] names and Jitsi's focus in the configuration file (a new one when
    /// there is none) and says what changed. Every file is computed before any is
    /// written, and written whole. Run again, it changes nothing that is in place.
    /// Prosody reads the change when it restarts. Exit 0 when done, 1 when refused
    /// (nothing written).
    Setup {
        /// The Jitsi domain (default: the one Prosody serves with its MUC conference.DOMAIN)
        #[arg(long, value_name = "DOMAIN")]
        domain: Option<String>,
        /// Prosody's configuration folder, with prosody.cfg.lua and conf.d/
        #[arg(long, value_name = "DIR", default_value = crate::setup::PROSODY_CONFIG)]
        prosody_config: PathBuf,
        /// The folder of raumwart's Prosody module, added to Prosody's plugin_paths
        #[arg(long, value_name = "DIR", default_value = crate::setup::MODULE_DIR)]
        module_dir: PathBuf,
        /// Print the changes as a diff of every file, change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Staff accounts of the console
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account and print its generated password (hand it over, then forget it)
    Add {
        login: String,
        /// The [[media_centre]] whose schools the account sees (omit with the one
        /// [media_centre] table)
        #[arg(long, value_name = "ID", conflicts_with = "provider")]
        media_centre: Option<String>,
        /// The provider's admin: every media centre
        #[arg(long)]
        provider: bool,
    },
    /// Remove an account and end its sessions
    Remove { login: String },
    /// Give an account a new generated password (printed) and end its sessions
    ResetPassword { login: String },
    /// List the accounts and what each sees (never a password)
    List,
}

#[derive(Debug, Subcommand)]
pub enum SchoolCommand {
    /// Add a school with its rooms and a new generated password
    ///
    /// Rooms are ID-1 … ID-N unless named with --room. Prints what the school must be
    /// told (the password included): hand it over, then forget it.
    Add {
        /// A short id: a-z 0-9 - _ .
        id: String,
        /// The school's name, for the media centre and the letter
        #[arg(long)]
        name: String,
        /// The id of the school's [[media_centre]] (needed when there are several)
        #[arg(long, value_name = "ID")]
        media_centre: Option<String>,
        /// How many rooms (ID-1 … ID-N)
        #[arg(long, conflicts_with = "room", required_unless_present = "room")]
        rooms: Option<usize>,
        /// A room name, as people type it (repeatable)
        #[arg(long)]
        room: Vec<String>,
    },
    /// Remove a school: end its running sessions, remove its block and password files
    Remove { id: String },
    /// Write a new password, in force from each room's next reset
    Rotate {
        id: String,
        /// Only this room (it then gets a password of its own)
        #[arg(long)]
        room: Option<String>,
    },
    /// List schools, their media centres, rooms and the age of each password (never a
    /// password)
    List {
        /// Only the schools of this [[media_centre]]
        #[arg(long, value_name = "ID")]
        media_centre: Option<String>,
    },
    /// Write the school's one-page access letter (German) to FILE: a PDF when FILE ends
    /// in .pdf, else an HTML page
    Letter {
        id: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Add the schools of a register (.xlsx, .ods, .csv) that are not configured yet
    ///
    /// Only the id and name columns are read: no contact data ever reaches raumwart.
    Import {
        /// The register file
        file: PathBuf,
        /// The header of the column holding the school id
        #[arg(long, value_name = "COL")]
        id_column: String,
        /// The header of the column holding the school's name
        #[arg(long, value_name = "COL")]
        name_column: String,
        /// The id of the [[media_centre]] whose register it is: every new school is its
        /// (needed when there are several)
        #[arg(long, value_name = "ID")]
        media_centre: Option<String>,
        /// Rooms per new school
        #[arg(long, default_value_t = 1)]
        rooms: usize,
        /// Show what would change, change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// The clap command, for the man page and completions.
pub fn command() -> clap::Command {
    Cli::command()
}
