//! Configuration: the TOML model, validation with precise locations, and secrets.
//!
//! Every problem is reported with the file, line and column it belongs to. A file that
//! is not valid TOML, or does not have the expected shape (unknown key, wrong type), is
//! reported at its first such problem; past that, every problem of values, names and
//! files is collected, so `raumwart check` shows them all at once.

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::core::{MapEntry, RoomMap};
pub use crate::core::{Policy, Secret, Unmanaged, DEFAULT_END_MESSAGE};
pub mod daemon_user;
pub mod password;
mod raw;
pub mod room_names;
mod validate;

use raw::{RawConfig, RawHttp};
use validate::Validator;

/// Name of the component secret inside `$CREDENTIALS_DIRECTORY` when `secret_file` is unset.
pub const SECRET_CREDENTIAL: &str = "component-secret";

#[derive(Debug, Clone)]
pub struct Config {
    pub xmpp: Xmpp,
    pub policy: Policy,
    pub http: Http,
    /// The media centres' web console (`raumwart console`); the daemon ignores it.
    pub console: Console,
    /// Set on a shard that follows another host's register: its schools come from there.
    pub register: Option<Register>,
    /// The Jitsi web app, for the links in the access letter.
    pub jitsi: Option<Jitsi>,
    /// The media centres whose schools these are: none, the one of a `[media_centre]`
    /// table (without id), or every `[[media_centre]]` block (each with an id).
    pub media_centres: Vec<MediaCentre>,
    pub schools: Vec<School>,
    /// The secret and password files read by path, each once. Those read through
    /// `$CREDENTIALS_DIRECTORY/` are not among them: systemd reads their sources as root.
    pub read_files: Vec<PathBuf>,
}

impl Config {
    /// The rooms raumwart manages, as the core keeps and pushes them.
    pub fn room_map(&self) -> RoomMap {
        let rooms = self
            .schools
            .iter()
            .flat_map(|s| {
                let school: Arc<str> = s.id.as_str().into();
                s.rooms.iter().map(move |r| {
                    let entry = MapEntry {
                        school: school.clone(),
                        password: r.password.clone(),
                    };
                    (r.name.clone(), entry)
                })
            })
            .collect();
        RoomMap::new(rooms, self.policy.unmanaged_rooms, self.policy.grace_period)
    }

    /// The media centre `school` belongs to: its `[[media_centre]]`, or the one of a
    /// single `[media_centre]` table. None for an unknown school or when there is none.
    pub fn media_centre_of(&self, school: &str) -> Option<&MediaCentre> {
        let school = self.schools.iter().find(|s| s.id == school)?;
        self.media_centres
            .iter()
            .find(|m| m.id == school.media_centre)
    }

    /// The id of the `[[media_centre]]` `school` belongs to; None with the single
    /// `[media_centre]` table (which has no id), none at all, or an unknown school.
    pub fn media_centre_id(&self, school: &str) -> Option<&str> {
        let school = self.schools.iter().find(|s| s.id == school)?;
        school.media_centre.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jitsi {
    /// The address schools open, ending in `/`: a room's link is this plus its node.
    pub url: String,
}

/// Whom a school asks: the media centre's office (never a person's private contact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaCentre {
    /// The `[[media_centre]]` id; None for the single `[media_centre]` table, which
    /// has none.
    pub id: Option<String>,
    pub name: String,
    /// Postal address, one line (commas may separate its parts).
    pub address: Option<String>,
    pub phone: Option<String>,
    pub mail: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Xmpp {
    pub server: String,
    pub component: String,
    pub secret: Secret,
    pub muc: String,
    /// Jitsi's lobby MUC: a session's lobby room is destroyed with it.
    pub lobby_muc: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Http {
    pub listen: SocketAddr,
}

/// `[console]`: where the console serves and keeps its accounts, sessions and audit log.
#[derive(Debug, Clone)]
pub struct Console {
    /// Loopback by default: the provider's TLS reverse proxy stands in front.
    pub listen: SocketAddr,
    /// The SQLite file; relative to the config's folder unless absolute.
    pub database: PathBuf,
    /// A staff session ends after this long without a request.
    pub idle_timeout: Duration,
    /// Audit entries older than this are deleted.
    pub audit_retention: Duration,
    /// The shards that may follow this host's register, each with its own token.
    pub shards: Vec<Shard>,
}

#[derive(Debug, Clone)]
pub struct Shard {
    pub name: String,
    pub token: Secret,
}

/// `[register]`: where a shard's raumwart takes its register from, and keeps it.
#[derive(Debug, Clone)]
pub struct Register {
    /// `host:port` and path of the console's register (plain HTTP: loopback to the
    /// shard's own TLS proxy, see README).
    pub authority: String,
    pub path: String,
    pub token: Secret,
    /// The register as last received; the schools are read from it.
    pub cache: PathBuf,
}

/// Where a follower keeps its register unless `[register] cache` says otherwise.
pub const REGISTER_CACHE: &str = "/var/lib/raumwart/register/register.toml";
/// A register token is at least this long (`raumwart password` makes longer ones).
pub const MIN_TOKEN: usize = 24;

#[derive(Debug, Clone)]
pub struct School {
    pub id: String,
    pub name: Option<String>,
    /// The id of its `[[media_centre]]` (named, or the only one); None with a single
    /// `[media_centre]` table or none.
    pub media_centre: Option<String>,
    pub rooms: Vec<Room>,
}

/// One room node to protect. A configured name becomes one or two nodes (typed into
/// Jitsi, opened as a link: see `room_names`), each a `Room` of its own.
#[derive(Debug, Clone)]
pub struct Room {
    /// The node of the room JID, as Jitsi opens it.
    pub name: String,
    /// The name as written in the config file.
    pub configured: String,
    pub password: Secret,
}

/// One problem in a config file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
}

// --- loading -------------------------------------------------------------------------

/// Reads and validates a config file. Relative paths resolve against its folder.
pub fn load(path: &Path) -> Result<Config, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    parse(path, &text, credentials.as_deref())
}

/// Reads only `http.listen` from a config file: the operator's commands need no more,
/// and must work where the daemon's secrets (systemd credentials) are not readable.
pub fn http_listen(path: &Path) -> Result<SocketAddr, Error> {
    #[derive(Deserialize)]
    struct Only {
        #[serde(default)]
        http: RawHttp,
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut v = Validator::new(path, &text, Path::new("."), None);
    match toml::from_str::<Only>(&text) {
        Ok(only) => {
            let http = v.http(only.http);
            match v.problems.is_empty() {
                true => Ok(http.listen),
                false => Err(v.finish()),
            }
        }
        Err(e) => {
            v.problem(
                &e.span().unwrap_or(0..0),
                e.message().trim_end().to_string(),
            );
            Err(v.finish())
        }
    }
}

/// Where `$CREDENTIALS_DIRECTORY/NAME` is found: in that folder when raumwart runs under
/// systemd, or in the credential's source for an admin command run outside the unit.
pub trait Credentials {
    fn path(&self, name: &str) -> PathBuf;
}

impl Credentials for &Path {
    fn path(&self, name: &str) -> PathBuf {
        self.join(name)
    }
}

impl Credentials for PathBuf {
    fn path(&self, name: &str) -> PathBuf {
        self.join(name)
    }
}

/// Validates config text that was read from `path`.
pub fn parse(path: &Path, text: &str, credentials: Option<&Path>) -> Result<Config, Error> {
    parse_with(
        path,
        text,
        credentials.as_ref().map(|dir| dir as &dyn Credentials),
    )
}

/// Like [`parse`], with `$CREDENTIALS_DIRECTORY/` resolved by `credentials`.
pub fn parse_with(
    path: &Path,
    text: &str,
    credentials: Option<&dyn Credentials>,
) -> Result<Config, Error> {
    let mut v = Validator::new(
        path,
        text,
        path.parent().unwrap_or(Path::new(".")),
        credentials,
    );
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = match mixed_media_centres(text, &span) {
                true => "[media_centre] and [[media_centre]] do not mix: write the one media \
                         centre as a [media_centre] table, or every media centre as a \
                         [[media_centre]] block with an id"
                    .to_owned(),
                false => e.message().trim_end().to_string(),
            };
            v.problem(&span, message);
            return Err(v.finish());
        }
    };
    let config = v.config(raw);
    if v.problems.is_empty() {
        Ok(config)
    } else {
        Err(v.finish())
    }
}

/// Whether a TOML error at `span` comes from a file holding both forms of media
/// centre, which TOML itself can only call a duplicate key.
fn mixed_media_centres(text: &str, span: &Range<usize>) -> bool {
    let at = text.get(span.start..).unwrap_or("");
    let headers = |table: &str| {
        text.lines()
            .any(|l| l.trim_start().replace(' ', "").starts_with(table))
    };
    at.starts_with("media_centre") && headers("[[media_centre]]") && headers("[media_centre]")
}

/// A school's or a media centre's id: `a-z 0-9 - _ .` (upper case too), not empty.
pub fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Parses "90s", "2m", "1h", "30d", "500ms" and sums like "1m30s".
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration like \"60s\", \"2m\" or \"1m30s\"");
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86_400),
            _ => return Err(bad()),
        };
        total += part;
        rest = &rest[unit..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("60").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1 d").is_err());
    }

    #[test]
    fn password_files_may_live_in_the_credentials_directory() {
        let dir = std::env::temp_dir().join(format!("raumwart-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("component-secret"), "s3cret\n").unwrap();
        std::fs::write(dir.join("schools_gs.pw"), "Tafel-Kreide-Pausenhof-47\n").unwrap();
        let text = "[xmpp]\nserver = \"127.0.0.1:5347\"\ncomponent = \"c.example\"\nmuc = \"m.example\"\n\
                    [[school]]\nid = \"gs\"\npassword_file = \"$CREDENTIALS_DIRECTORY/schools_gs.pw\"\nrooms = [\"r\"]\n";
        let file = Path::new("/nonexistent/raumwart.toml");
        let config = parse(file, text, Some(&dir)).unwrap();
        assert_eq!(config.xmpp.secret.expose(), "s3cret");
        assert_eq!(
            config.schools[0].rooms[0].password.expose(),
            "Tafel-Kreide-Pausenhof-47"
        );
        let err = parse(file, text, None).unwrap_err().to_string();
        assert!(err.contains("needs $CREDENTIALS_DIRECTORY"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn fixture(name: &str) -> Config {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/valid")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        parse(&path, &text, None).unwrap()
    }

    #[test]
    fn every_school_knows_its_media_centre() {
        let c = fixture("media-centres.toml");
        let centre = |school| c.media_centre_of(school).map(|m| m.name.as_str());
        assert_eq!(
            centre("rs-beispiel"),
            Some("Kreismedienzentrum Beispielkreis")
        );
        assert_eq!(
            centre("gs-nachbarort"),
            Some("Kreismedienzentrum Nachbarkreis")
        );
        assert_eq!(
            c.media_centre_id("gs-nachbarort"),
            Some("kmz_nachbarkreis.2")
        );
        assert_eq!(centre("gs-nowhere"), None);

        // The only block is the media centre of a school that names none.
        let c = fixture("one-media-centre-block.toml");
        assert_eq!(
            c.media_centre_id("gs-musterstadt"),
            Some("kmz-beispielkreis")
        );

        // The one table of before: every school's, without an id.
        let c = fixture("full.toml");
        assert_eq!(c.media_centres.len(), 1);
        assert_eq!(c.media_centre_id("rs_beispiel"), None);
        let m = c.media_centre_of("rs_beispiel").unwrap();
        assert_eq!(
            (m.id.as_deref(), m.name.as_str()),
            (None, "Kreismedienzentrum Beispielkreis")
        );

        let c = fixture("one-school.toml");
        assert!(c.media_centres.is_empty());
        assert!(c.schools.iter().all(|s| c.media_centre_of(&s.id).is_none()));
    }
}
