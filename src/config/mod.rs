//! Configuration: the TOML model, validation with precise locations, and secrets.
//!
//! Every problem is reported with the file, line and column it belongs to. A file that
//! is not valid TOML, or does not have the expected shape (unknown key, wrong type), is
//! reported at its first such problem; past that, every problem of values, names and
//! files is collected, so `raumwart check` shows them all at once.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::core::{MapEntry, RoomMap};
pub use crate::core::{Policy, Secret, Unmanaged, DEFAULT_END_MESSAGE};
pub mod daemon_user;
pub mod password;
pub mod room_names;

/// Name of the component secret inside `$CREDENTIALS_DIRECTORY` when `secret_file` is unset.
pub const SECRET_CREDENTIAL: &str = "component-secret";

#[derive(Debug, Clone)]
pub struct Config {
    pub xmpp: Xmpp,
    pub policy: Policy,
    pub http: Http,
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
                s.rooms.iter().map(|r| {
                    let entry = MapEntry {
                        school: s.id.clone(),
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

// --- the file as written -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    xmpp: RawXmpp,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    http: RawHttp,
    jitsi: Option<RawJitsi>,
    media_centre: Option<RawMediaCentres>,
    #[serde(default, rename = "school")]
    schools: Vec<Spanned<RawSchool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawXmpp {
    server: Spanned<String>,
    component: Spanned<String>,
    secret_file: Option<Spanned<String>>,
    muc: Spanned<String>,
    lobby_muc: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    service_jids: Vec<Spanned<String>>,
    unmanaged_rooms: Option<Unmanaged>,
    grace_period: Option<Spanned<String>>,
    end_message: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJitsi {
    url: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMediaCentre {
    /// Required in a `[[media_centre]]` block, refused in the one `[media_centre]` table.
    id: Option<Spanned<String>>,
    name: Spanned<String>,
    address: Option<Spanned<String>>,
    phone: Option<Spanned<String>>,
    mail: Option<Spanned<String>>,
}

/// `[media_centre]` (one table, the form from before there were several) or
/// `[[media_centre]]` (blocks with ids).
enum RawMediaCentres {
    One(RawMediaCentre),
    Several(Vec<Spanned<RawMediaCentre>>),
}

// By hand rather than `untagged`, which would hide the error inside a table.
impl<'de> Deserialize<'de> for RawMediaCentres {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Centres;
        impl<'de> serde::de::Visitor<'de> for Centres {
            type Value = RawMediaCentres;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("one [media_centre] table, or [[media_centre]] blocks with an id each")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let d = serde::de::value::MapAccessDeserializer::new(map);
                RawMediaCentre::deserialize(d).map(RawMediaCentres::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut all = vec![];
                while let Some(centre) = seq.next_element()? {
                    all.push(centre);
                }
                Ok(RawMediaCentres::Several(all))
            }
        }
        d.deserialize_any(Centres)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchool {
    id: Spanned<String>,
    name: Option<String>,
    media_centre: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    #[serde(default)]
    rooms: Vec<Spanned<RawRoom>>,
}

enum RawRoom {
    Name(String),
    Table(RoomTable),
}

// By hand rather than `untagged`, which would hide the error inside a room table.
impl<'de> Deserialize<'de> for RawRoom {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Room;
        impl<'de> serde::de::Visitor<'de> for Room {
            type Value = RawRoom;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a room name, or a table { name = \"...\", password_file = \"...\" }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawRoom, E> {
                Ok(RawRoom::Name(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawRoom, A::Error> {
                let d = serde::de::value::MapAccessDeserializer::new(map);
                RoomTable::deserialize(d).map(RawRoom::Table)
            }
        }
        d.deserialize_any(Room)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoomTable {
    name: String,
    password_file: Option<Spanned<String>>,
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
    let mut v = Validator {
        file: path,
        text: &text,
        base: Path::new("."),
        credentials: None,
        problems: vec![],
        read_files: vec![],
    };
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
    let mut v = Validator {
        file: path,
        text,
        base: path.parent().unwrap_or(Path::new(".")),
        credentials,
        problems: vec![],
        read_files: vec![],
    };
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

struct Validator<'a> {
    file: &'a Path,
    text: &'a str,
    base: &'a Path,
    credentials: Option<&'a dyn Credentials>,
    problems: Vec<Problem>,
    read_files: Vec<PathBuf>,
}

impl Validator<'_> {
    fn problem(&mut self, span: &Range<usize>, message: String) {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line,
            column,
            message,
        });
    }

    fn finish(&mut self) -> Error {
        let mut problems = std::mem::take(&mut self.problems);
        problems.sort_by_key(|p| (p.line, p.column));
        Error::Invalid { problems }
    }

    fn config(&mut self, raw: RawConfig) -> Config {
        let xmpp = self.xmpp(raw.xmpp);
        let policy = self.policy(raw.policy);
        let http = self.http(raw.http);
        let jitsi = raw.jitsi.map(|j| self.jitsi(j));
        let media_centres = self.media_centres(raw.media_centre);
        let schools = self.schools(raw.schools, &media_centres);
        Config {
            xmpp,
            policy,
            http,
            jitsi,
            media_centres,
            schools,
            read_files: std::mem::take(&mut self.read_files),
        }
    }

    fn media_centres(&mut self, raw: Option<RawMediaCentres>) -> Vec<MediaCentre> {
        let listed = match raw {
            None => return vec![],
            Some(RawMediaCentres::One(one)) => {
                if let Some(id) = &one.id {
                    self.problem(
                        &id.span(),
                        "the one [media_centre] table has no id; media centres with ids are \
                         [[media_centre]] blocks"
                            .into(),
                    );
                }
                return vec![self.media_centre(None, one)];
            }
            Some(RawMediaCentres::Several(listed)) => listed,
        };
        let mut ids: Vec<String> = vec![];
        let mut centres = vec![];
        for centre in listed {
            let span = centre.span();
            let raw = centre.into_inner();
            let id = match &raw.id {
                None => {
                    self.problem(
                        &span,
                        "a [[media_centre]] block needs an id, which its schools name".into(),
                    );
                    String::new()
                }
                Some(id) => {
                    let text = id.get_ref().clone();
                    if !is_id(&text) {
                        self.problem(
                            &id.span(),
                            format!(
                                "media centre id {text:?} may use only a-z, 0-9, '-', '_' and '.'"
                            ),
                        );
                    } else if ids.contains(&text) {
                        self.problem(
                            &id.span(),
                            format!("media centre id {text:?} is used twice"),
                        );
                    }
                    text
                }
            };
            ids.push(id.clone());
            centres.push(self.media_centre(Some(id), raw));
        }
        centres
    }

    /// The media centre of a school: the one it names, or the only one there is.
    fn school_media_centre(
        &mut self,
        school: &str,
        school_span: &Range<usize>,
        named: Option<&Spanned<String>>,
        centres: &[MediaCentre],
    ) -> Option<String> {
        let mut ids: Vec<&str> = vec![];
        // An empty id is a block without one, reported already.
        for id in centres.iter().filter_map(|m| m.id.as_deref()) {
            if !id.is_empty() && !ids.contains(&id) {
                ids.push(id);
            }
        }
        let quoted = || {
            ids.iter()
                .map(|id| format!("{id:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(named) = named else {
            return match ids.as_slice() {
                [] => None,
                [only] => Some((*only).to_owned()),
                _ => {
                    self.problem(
                        school_span,
                        format!(
                            "school {school:?} names no media centre: with several, set media_centre to one of {}",
                            quoted()
                        ),
                    );
                    None
                }
            };
        };
        let wanted = named.get_ref();
        if ids.contains(&wanted.as_str()) {
            return Some(wanted.clone());
        }
        let listed = centres.iter().any(|m| m.id.is_some());
        let message = if listed && !ids.is_empty() {
            format!(
                "there is no media centre {wanted:?}; the media centres are {}",
                quoted()
            )
        } else if listed {
            format!("there is no media centre {wanted:?}")
        } else if !centres.is_empty() {
            format!(
                "media centre {wanted:?}: the [media_centre] table has no id; to name media \
                 centres, write them as [[media_centre]] blocks with an id each"
            )
        } else {
            format!("there is no media centre {wanted:?}: declare it in a [[media_centre]] block")
        };
        self.problem(&named.span(), message);
        None
    }

    fn jitsi(&mut self, raw: RawJitsi) -> Jitsi {
        let url = raw.url.get_ref();
        if !is_web_address(url) {
            self.problem(
                &raw.url.span(),
                format!(
                    "url {url:?} is not the address of the Jitsi web app, like \"https://meet.kmz-beispiel.de/\""
                ),
            );
        }
        let mut url = raw.url.into_inner();
        if !url.ends_with('/') {
            url.push('/');
        }
        Jitsi { url }
    }

    fn media_centre(&mut self, id: Option<String>, raw: RawMediaCentre) -> MediaCentre {
        let mut line = |field: &Option<Spanned<String>>, what: &str| {
            if let Some(value) = field {
                let v = value.get_ref();
                if v.trim().is_empty() || v.chars().any(char::is_control) {
                    self.problem(
                        &value.span(),
                        format!("{what} must be one line of text, not empty"),
                    );
                }
            }
        };
        line(&Some(raw.name.clone()), "name");
        line(&raw.address, "address");
        line(&raw.phone, "phone");
        line(&raw.mail, "mail");
        if let Some(phone) = &raw.phone {
            let p = phone.get_ref();
            let digits = p.chars().filter(char::is_ascii_digit).count();
            if digits < 3
                || !p
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-/()".contains(c))
            {
                self.problem(
                    &phone.span(),
                    format!("phone {p:?} is not a phone number, like \"07000 123456-0\""),
                );
            }
        }
        if let Some(mail) = &raw.mail {
            let m = mail.get_ref();
            let ok = m.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !local.contains(char::is_whitespace)
                    && domain.contains('.')
                    && is_domain(domain)
            });
            if !ok {
                self.problem(
                    &mail.span(),
                    format!("mail {m:?} is not a mail address, like \"medienzentrum@kreis-beispiel.de\""),
                );
            }
        }
        MediaCentre {
            id,
            name: raw.name.into_inner(),
            address: raw.address.map(Spanned::into_inner),
            phone: raw.phone.map(Spanned::into_inner),
            mail: raw.mail.map(Spanned::into_inner),
        }
    }

    fn xmpp(&mut self, raw: RawXmpp) -> Xmpp {
        if !is_host_port(raw.server.get_ref()) {
            self.problem(
                &raw.server.span(),
                "server must be a host and port, like \"127.0.0.1:5347\" or \"localhost:5347\""
                    .into(),
            );
        }
        for field in [&raw.component, &raw.muc]
            .into_iter()
            .chain(raw.lobby_muc.as_ref())
        {
            if !is_domain(field.get_ref()) {
                self.problem(
                    &field.span(),
                    format!("{:?} is not a domain name", field.get_ref()),
                );
            }
        }
        let secret = match &raw.secret_file {
            Some(file) => self.read_secret(file),
            None => match self.credentials {
                Some(dir) => {
                    let span = raw.component.span();
                    self.read_secret_at(&dir.path(SECRET_CREDENTIAL), &span)
                }
                None => {
                    self.problem(
                        &raw.component.span(),
                        "no secret_file, and no $CREDENTIALS_DIRECTORY to find the component secret in"
                            .into(),
                    );
                    Secret::new("")
                }
            },
        };
        Xmpp {
            server: raw.server.into_inner(),
            component: raw.component.into_inner(),
            secret,
            muc: raw.muc.into_inner(),
            lobby_muc: raw.lobby_muc.map(Spanned::into_inner),
        }
    }

    fn policy(&mut self, raw: RawPolicy) -> Policy {
        let defaults = Policy::default();
        for jid in &raw.service_jids {
            if !is_service_jid(jid.get_ref()) {
                self.problem(
                    &jid.span(),
                    format!("{:?} is neither a bare JID nor a domain", jid.get_ref()),
                );
            }
        }
        let grace_period = match &raw.grace_period {
            None => defaults.grace_period,
            Some(text) => parse_duration(text.get_ref()).unwrap_or_else(|message| {
                self.problem(&text.span(), message);
                defaults.grace_period
            }),
        };
        Policy {
            service_jids: raw
                .service_jids
                .into_iter()
                .map(|j| j.into_inner().to_lowercase())
                .collect(),
            unmanaged_rooms: raw.unmanaged_rooms.unwrap_or(defaults.unmanaged_rooms),
            grace_period,
            end_message: raw.end_message.map_or(defaults.end_message, |m| {
                if let Some(c) = m.get_ref().chars().find(|&c| !is_xml_char(c)) {
                    self.problem(
                        &m.span(),
                        format!("end_message holds {c:?}, which XML cannot carry"),
                    );
                }
                m.into_inner()
            }),
        }
    }

    fn http(&mut self, raw: RawHttp) -> Http {
        let default: SocketAddr = ([127, 0, 0, 1], 9469).into();
        let listen = match raw.listen {
            None => default,
            Some(text) => text.get_ref().parse().unwrap_or_else(|_| {
                self.problem(
                    &text.span(),
                    "listen must be an address and port, like \"127.0.0.1:9469\"".into(),
                );
                default
            }),
        };
        Http { listen }
    }

    fn schools(&mut self, raw: Vec<Spanned<RawSchool>>, centres: &[MediaCentre]) -> Vec<School> {
        let mut ids: HashMap<String, ()> = HashMap::new();
        // node -> (configured name, school id)
        let mut nodes_seen: HashMap<String, (String, String)> = HashMap::new();
        let mut schools = vec![];
        for spanned in raw {
            let school_span = spanned.span();
            let raw = spanned.into_inner();
            let id = raw.id.get_ref().clone();
            if !is_id(&id) {
                self.problem(
                    &raw.id.span(),
                    format!("school id {id:?} may use only a-z, 0-9, '-', '_' and '.'"),
                );
            }
            if ids.insert(id.clone(), ()).is_some() {
                self.problem(&raw.id.span(), format!("school id {id:?} is used twice"));
            }
            if raw.rooms.is_empty() {
                self.problem(&school_span, format!("school {id:?} has no rooms"));
            }
            let media_centre =
                self.school_media_centre(&id, &school_span, raw.media_centre.as_ref(), centres);
            let rooms: Vec<(Range<usize>, String, Option<Spanned<String>>)> = raw
                .rooms
                .into_iter()
                .map(|room| {
                    let span = room.span();
                    match room.into_inner() {
                        RawRoom::Name(name) => (span, name, None),
                        RawRoom::Table(t) => (span, t.name, t.password_file),
                    }
                })
                .collect();
            // What an attacker would try first: the school's and its rooms' own names.
            let mut context: Vec<String> = vec![id.clone()];
            context.extend(raw.name.clone());
            for (_, name, _) in &rooms {
                context.push(name.clone());
                if let Ok(nodes) = room_names::nodes(name) {
                    context.extend(nodes.distinct().into_iter().map(str::to_owned));
                }
            }
            let context: Vec<&str> = context.iter().map(String::as_str).collect();
            let school_password = raw
                .password_file
                .as_ref()
                .map(|f| self.read_password(f.get_ref(), &f.span(), &context));
            let mut school_rooms = vec![];
            for (span, name, file) in rooms {
                let nodes = match room_names::nodes(&name) {
                    Ok(nodes) => nodes,
                    Err(refused) => {
                        self.problem(&span, format!("room {name:?}: {refused}"));
                        room_names::Nodes {
                            typed: name.clone(),
                            link: name.clone(),
                        }
                    }
                };
                for node in nodes.distinct() {
                    let seen = nodes_seen.insert(node.to_owned(), (name.clone(), id.clone()));
                    match seen {
                        Some((other, school)) if other == name => {
                            self.problem(
                                &span,
                                format!(
                                    "room {name:?} is listed twice (also in school {school:?})"
                                ),
                            );
                            break;
                        }
                        Some((other, school)) => {
                            self.problem(
                                &span,
                                format!(
                                    "rooms {other:?} (school {school:?}) and {name:?} are the same Jitsi room {node:?}"
                                ),
                            );
                            break;
                        }
                        None => {}
                    }
                }
                let password = match (&file, &school_password) {
                    (Some(file), _) => self.read_password(file.get_ref(), &file.span(), &context),
                    (None, Some(password)) => password.clone(),
                    (None, None) => {
                        self.problem(
                            &span,
                            format!(
                                "room {name:?} has no password: set password_file on the school or the room"
                            ),
                        );
                        Secret::new("")
                    }
                };
                for node in nodes.distinct() {
                    school_rooms.push(Room {
                        name: node.to_owned(),
                        configured: name.clone(),
                        password: password.clone(),
                    });
                }
            }
            schools.push(School {
                id,
                name: raw.name,
                media_centre,
                rooms: school_rooms,
            });
        }
        schools
    }

    /// Reads a school or room password and refuses one that is easy to guess (see
    /// `password`), reporting at `span` and never showing the password.
    fn read_password(&mut self, file: &str, span: &Range<usize>, context: &[&str]) -> Secret {
        let before = self.problems.len();
        let secret = self.read_secret_file(file, span);
        if self.problems.len() == before {
            if let Err(weak) = password::check(secret.expose(), context) {
                self.problem(
                    span,
                    format!(
                        "the password in {file} is easy to guess: {weak}; `raumwart password` makes a strong one"
                    ),
                );
            }
        }
        secret
    }

    fn read_secret(&mut self, file: &Spanned<String>) -> Secret {
        self.read_secret_file(file.get_ref(), &file.span())
    }

    /// Relative paths are relative to the config file; `$CREDENTIALS_DIRECTORY/` is
    /// systemd's credentials folder.
    fn resolve(&self, file: &str) -> Result<PathBuf, String> {
        match (file.strip_prefix("$CREDENTIALS_DIRECTORY/"), self.credentials) {
            (Some(rest), Some(dir)) => Ok(dir.path(rest)),
            (Some(_), None) => Err(format!(
                "{file} needs $CREDENTIALS_DIRECTORY, which systemd sets for LoadCredential=; it is not set"
            )),
            (None, _) => Ok(self.base.join(file)),
        }
    }

    fn read_secret_file(&mut self, file: &str, span: &Range<usize>) -> Secret {
        match self.resolve(file) {
            Ok(path) => {
                let by_path = !file.starts_with("$CREDENTIALS_DIRECTORY/");
                if by_path && !self.read_files.contains(&path) {
                    self.read_files.push(path.clone());
                }
                self.read_secret_at(&path, span)
            }
            Err(message) => {
                self.problem(span, message);
                Secret::new("")
            }
        }
    }

    fn read_secret_at(&mut self, path: &Path, span: &Range<usize>) -> Secret {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                // One line; a trailing newline from `echo` is not part of the secret.
                let value = text.trim_end_matches(['\r', '\n']);
                if value.trim().is_empty() {
                    self.problem(span, format!("{} is empty", path.display()));
                } else if value.contains('\n') {
                    self.problem(span, format!("{} has more than one line", path.display()));
                }
                Secret::new(value)
            }
            Err(e) => {
                self.problem(span, format!("cannot read {}: {e}", path.display()));
                Secret::new("")
            }
        }
    }
}

/// A school's or a media centre's id: `a-z 0-9 - _ .` (upper case too), not empty.
pub fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// XML 1.0's `Char`: what a stanza can carry at all.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn is_host_port(s: &str) -> bool {
    if s.parse::<SocketAddr>().is_ok() {
        return true;
    }
    s.rsplit_once(':')
        .is_some_and(|(host, port)| is_domain(host) && port.parse::<u16>().is_ok())
}

fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// `http(s)://host[:port][/path]`: no query, fragment, user or whitespace.
fn is_web_address(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => authority,
    };
    is_domain(host)
        && !path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "?#\\\"<>".contains(c))
}

fn is_service_jid(s: &str) -> bool {
    match s.split_once('@') {
        Some((node, domain)) => !node.is_empty() && !node.contains('/') && is_domain(domain),
        None => is_domain(s),
    }
}

/// Parses "90s", "2m", "1h", "500ms" and sums like "1m30s".
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

    #[test]
    fn service_jids() {
        assert!(is_service_jid("focus@auth.meet.jitsi"));
        assert!(is_service_jid("auth.meet.jitsi"));
        assert!(!is_service_jid("focus@"));
        assert!(!is_service_jid("focus@auth/res"));
    }
}
