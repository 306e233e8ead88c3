//! The media centre's workflow on the config file: add, remove, rotate and list schools.
//!
//! Every operation edits the config file with `toml_edit`, so comments and layout stay
//! as the admin wrote them, and returns a value that says what to print (each has a
//! `Display`). Before anything is written, the file as it would be is validated like
//! `raumwart check` ([`config::parse_with`]); new password files are written first
//! (through a temporary file and a rename) and removed again when anything fails, and the
//! config file is replaced by a rename. An error leaves the files as they were.
//!
//! The daemon reads these files as its own user (group `raumwart` in the package), so
//! every file written gets the owner, group and mode it needs before it is renamed into
//! place: a replaced file keeps its own, a new password file takes those of the password
//! files beside it (else the folder's group, mode 0640), a new folder its parent's group.
//! Run as root on the daemon's configuration, a change the daemon's user could not read
//! is refused before the config file is replaced, so no command leaves the daemon unable
//! to reload or start.
//!
//! The running daemon is not told here: the caller reloads it after a change, and ends
//! the sessions of a school's rooms ([`room_nodes`]) before [`remove`].

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use crate::config::daemon_user::Daemon;
use crate::config::{self, Credentials, Secret};
use crate::config::{password, room_names};

pub mod import;
pub mod letter;

/// The most rooms `--rooms N` makes.
pub const MAX_ROOMS: usize = 50;

/// Where the config file is, and where `$CREDENTIALS_DIRECTORY/` in it points.
pub struct Files {
    pub config: PathBuf,
    pub credentials: CredentialSource,
}

impl Files {
    /// A config whose password files are plain paths (relative to its folder or absolute).
    pub fn new(config: impl Into<PathBuf>) -> Files {
        Files {
            config: config.into(),
            credentials: CredentialSource::Unset,
        }
    }
}

/// How `$CREDENTIALS_DIRECTORY/NAME` in the config is found by an admin command.
pub enum CredentialSource {
    /// The config uses no `$CREDENTIALS_DIRECTORY/`, or it is an error to.
    Unset,
    /// A folder holding the credentials by their names (the variable when set).
    Folder(PathBuf),
    /// The sources named by the unit's `LoadCredential=` lines (an admin outside the unit).
    Unit(UnitCredentials),
}

impl CredentialSource {
    fn get(&self) -> Option<&dyn Credentials> {
        match self {
            CredentialSource::Unset => None,
            CredentialSource::Folder(dir) => Some(dir),
            CredentialSource::Unit(unit) => Some(unit),
        }
    }
}

/// The credentials a systemd unit loads: `LoadCredential=ID:FILE` names one file,
/// `LoadCredential=ID:FOLDER` every file in FOLDER as `ID_<file name>`.
#[derive(Debug, Clone, Default)]
pub struct UnitCredentials {
    files: Vec<(String, PathBuf)>,
    folders: Vec<(String, PathBuf)>,
}

impl UnitCredentials {
    /// Reads the `LoadCredential=` lines of a unit file's text; a source that is a
    /// folder on this machine is a folder credential.
    pub fn from_unit(text: &str) -> UnitCredentials {
        let mut unit = UnitCredentials::default();
        for line in text.lines() {
            let Some(value) = line.trim().strip_prefix("LoadCredential=") else {
                continue;
            };
            let Some((id, source)) = value.split_once(':') else {
                continue;
            };
            let source = PathBuf::from(source.trim());
            if source.is_dir() {
                unit.folders.push((id.trim().to_owned(), source));
            } else {
                unit.files.push((id.trim().to_owned(), source));
            }
        }
        unit
    }
}

impl Credentials for UnitCredentials {
    fn path(&self, name: &str) -> PathBuf {
        if let Some((_, file)) = self.files.iter().find(|(id, _)| id == name) {
            return file.clone();
        }
        for (id, folder) in &self.folders {
            if let Some(file) = name
                .strip_prefix(id.as_str())
                .and_then(|r| r.strip_prefix('_'))
            {
                return folder.join(file);
            }
        }
        // Not loaded by the unit: the daemon would not find it either.
        PathBuf::from(format!("$CREDENTIALS_DIRECTORY/{name}"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file as it is now is invalid (`raumwart check` would say the same).
    #[error("{0}")]
    Config(config::Error),
    /// The change would make the file invalid; nothing was written.
    #[error("the change would make the configuration invalid; nothing was written:\n{0}")]
    Rejected(config::Error),
    /// The request cannot be done (unknown school, id taken, ...); nothing was written.
    #[error("{0}")]
    Refused(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no random numbers from the OS: {0}")]
    Random(getrandom::Error),
    /// The daemon's user could not read what the change wrote; nothing was written.
    #[error("{0}; nothing was written")]
    DaemonCannotRead(crate::config::daemon_user::Unreadable),
    #[error(transparent)]
    Register(#[from] import::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

fn refused(message: impl Into<String>) -> Error {
    Error::Refused(message.into())
}

// --- results -------------------------------------------------------------------------

/// A room as a school reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomAccess {
    /// The name as written in the config.
    pub configured: String,
    /// The node(s) Jitsi opens for it (typed first).
    pub nodes: Vec<String>,
    /// The link to hand out (`[jitsi] url` and the link node), when the url is set.
    pub link: Option<String>,
}

/// `school add`: what the school must be told.
#[derive(Debug, Clone)]
pub struct Added {
    pub school: String,
    pub name: String,
    /// The `[[media_centre]]` it belongs to; None with the one `[media_centre]` table.
    pub media_centre: Option<String>,
    pub rooms: Vec<RoomAccess>,
    pub password_file: PathBuf,
    pub password: Secret,
    /// The password file is a systemd credential (`$CREDENTIALS_DIRECTORY/`), which the
    /// daemon reads at its start only.
    pub credential: bool,
}

/// `school remove`.
#[derive(Debug, Clone)]
pub struct Removed {
    pub school: String,
    /// The nodes that are no longer protected.
    pub nodes: Vec<String>,
    pub deleted_files: Vec<PathBuf>,
}

/// One new password written by `school rotate`.
#[derive(Debug, Clone)]
pub struct NewPassword {
    pub password_file: PathBuf,
    pub password: Secret,
    /// The rooms it opens, as configured.
    pub rooms: Vec<String>,
    /// A systemd credential (`$CREDENTIALS_DIRECTORY/`), read at the daemon's start only.
    pub credential: bool,
}

/// `school rotate`.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub school: String,
    pub passwords: Vec<NewPassword>,
}

/// A school in `school list`: never a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub name: Option<String>,
    /// The `[[media_centre]]` it belongs to; None with the one `[media_centre]` table.
    pub media_centre: Option<String>,
    /// Room names as configured.
    pub rooms: Vec<String>,
    pub passwords: Vec<PasswordAge>,
}

/// How old one password file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordAge {
    /// The rooms it opens; empty for the school password.
    pub rooms: Vec<String>,
    /// Since the file was last written; None when it cannot be read.
    pub age: Option<Duration>,
}

/// `school list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing(pub Vec<Listed>);

/// `school import`.
#[derive(Debug, Clone)]
pub struct Imported {
    pub dry_run: bool,
    /// Schools added (with `dry_run`: that would be added; their passwords are not made).
    pub added: Vec<Added>,
    /// Ids from the register that are configured already, left alone.
    pub unchanged: Vec<String>,
    /// Of those, the ones of another media centre than the import's, with theirs: the
    /// same id in two media centres' registers, which the admin must sort out.
    pub elsewhere: Vec<(String, String)>,
    /// Rows of the register that were not used, and why.
    pub skipped: Vec<import::Skipped>,
}

// --- add -----------------------------------------------------------------------------

/// The rooms of a new school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rooms {
    /// `ID-1` … `ID-N`.
    Count(usize),
    /// These names, as people type them or as nodes.
    Named(Vec<String>),
}

/// `raumwart school add ID --name NAME [--media-centre ID] (--rooms N | --room NAME…)`.
/// The media centre is needed when the config declares several `[[media_centre]]`
/// blocks; with one, it is that one.
pub fn add(
    files: &Files,
    id: &str,
    name: &str,
    media_centre: Option<&str>,
    rooms: &Rooms,
) -> Result<Added, Error> {
    let mut edit = Edit::open(files)?;
    let media_centre = edit.media_centre(media_centre)?;
    let planned = edit.add(id, name, media_centre.as_deref(), rooms)?;
    let config = edit.commit()?;
    Ok(planned.finish(&config))
}

/// A school planned in an edit; its rooms' nodes and links are known after validation.
struct Planned {
    school: String,
    name: String,
    media_centre: Option<String>,
    password_file: PathBuf,
    password: Secret,
    credential: bool,
}

impl Planned {
    fn finish(self, config: &config::Config) -> Added {
        Added {
            rooms: access(config, &self.school),
            school: self.school,
            name: self.name,
            media_centre: self.media_centre,
            password_file: self.password_file,
            password: self.password,
            credential: self.credential,
        }
    }
}

/// Whether a `password_file` or `secret_file` value names a systemd credential.
fn is_credential(reference: &str) -> bool {
    reference.starts_with("$CREDENTIALS_DIRECTORY/")
}

/// Whether the config (its text) reads a secret from `$CREDENTIALS_DIRECTORY`: a
/// `password_file` or `secret_file` value that names it, or no `secret_file` (the
/// component secret is then the credential `component-secret`). Decided on the parsed
/// file, so a comment that mentions the folder does not count.
pub fn uses_credentials(text: &str) -> bool {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return false;
    };
    let secret = doc.get("xmpp").and_then(|x| x.get("secret_file"));
    if secret.is_none() || secret.and_then(Item::as_str).is_some_and(is_credential) {
        return true;
    }
    let file = |t: &dyn toml_edit::TableLike| {
        t.get("password_file")
            .and_then(Item::as_str)
            .is_some_and(is_credential)
    };
    let Some(schools) = doc.get("school").and_then(Item::as_array_of_tables) else {
        return false;
    };
    let named = schools.iter().any(|school| {
        file(school)
            || school
                .get("rooms")
                .and_then(Item::as_array)
                .is_some_and(|rooms| {
                    rooms.iter().any(|r| {
                        r.as_inline_table().is_some_and(|t| {
                            t.get("password_file")
                                .and_then(Value::as_str)
                                .is_some_and(is_credential)
                        })
                    })
                })
    });
    named
}

/// The rooms of a school with nodes and links, from a validated config.
pub fn access(config: &config::Config, school: &str) -> Vec<RoomAccess> {
    let Some(school) = config.schools.iter().find(|s| s.id == school) else {
        return vec![];
    };
    let url = config.jitsi.as_ref().map(|j| j.url.as_str());
    school
        .rooms
        .chunk_by(|a, b| a.configured == b.configured)
        .map(|group| RoomAccess {
            configured: group[0].configured.clone(),
            nodes: group.iter().map(|r| r.name.clone()).collect(),
            // The last node is the link form (the only one when they are the same).
            link: url.map(|u| format!("{u}{}", group[group.len() - 1].name)),
        })
        .collect()
}

fn check_id(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(refused(format!(
            "school id {id:?} may use only a-z, 0-9, '-', '_' and '.' (at most 64)"
        )));
    }
    Ok(())
}

// --- remove --------------------------------------------------------------------------

/// The room nodes of a configured school: the sessions to end before [`remove`].
pub fn room_nodes(files: &Files, id: &str) -> Result<Vec<String>, Error> {
    let edit = Edit::open(files)?;
    let config = edit.current()?;
    let school = config
        .schools
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| refused(format!("there is no school {id:?}")))?;
    Ok(school.rooms.iter().map(|r| r.name.clone()).collect())
}

/// `raumwart school remove ID`: removes the block and deletes the password files no
/// other school or room uses.
pub fn remove(files: &Files, id: &str) -> Result<Removed, Error> {
    let mut edit = Edit::open(files)?;
    let current = edit.current()?;
    let nodes: Vec<String> = current
        .schools
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.rooms.iter().map(|r| r.name.clone()).collect())
        .unwrap_or_default();
    let schools = edit.schools()?;
    let index = schools
        .iter()
        .position(|s| s.id == id)
        .ok_or_else(|| refused(format!("there is no school {id:?}")))?;
    let gone = schools[index].files();
    let aot = edit.school_tables()?;
    let prefix = aot
        .get(index)
        .and_then(|t| t.decor().prefix())
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_owned();
    aot.remove(index);
    // Comments above the first block introduce all schools: they stay. Above any other
    // block, a paragraph directly above its header is that school's and goes with it.
    let keep = if index == 0 {
        prefix
    } else {
        match prefix.trim_end_matches('\n').rfind("\n\n") {
            Some(at) => prefix[..at + 1].to_owned(),
            None => String::new(),
        }
    };
    if !keep.trim().is_empty() {
        match aot.get_mut(index) {
            Some(next) => {
                let own = next
                    .decor()
                    .prefix()
                    .and_then(|p| p.as_str())
                    .unwrap_or("")
                    .to_owned();
                next.decor_mut().set_prefix(format!("{keep}{own}"));
            }
            None => {
                let trailing = edit.doc.trailing().as_str().unwrap_or("").to_owned();
                edit.doc.set_trailing(format!("{keep}{trailing}"));
            }
        }
    }
    let still_used: Vec<String> = edit.schools()?.iter().flat_map(|s| s.files()).collect();
    let mut doomed = vec![];
    for file in gone {
        if !still_used.contains(&file) && !doomed.contains(&file) {
            doomed.push(file);
        }
    }
    let doomed: Vec<PathBuf> = doomed
        .iter()
        .map(|f| edit.resolve(f))
        .collect::<Result<_, _>>()?;
    edit.commit()?;
    let mut deleted_files = vec![];
    for path in doomed {
        match fs::remove_file(&path) {
            Ok(()) => deleted_files.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { path, source }),
        }
    }
    Ok(Removed {
        school: id.to_owned(),
        nodes,
        deleted_files,
    })
}

// --- rotate --------------------------------------------------------------------------

/// `raumwart school rotate ID [--room ROOM]`: a new school password; with a room, a new
/// password for that room only (a room that shared the school's gets a file of its own).
/// A room without a session uses it after the reload, a room in session from its next
/// reset.
pub fn rotate(files: &Files, id: &str, room: Option<&str>) -> Result<Rotated, Error> {
    let mut edit = Edit::open(files)?;
    let schools = edit.schools()?;
    let index = schools
        .iter()
        .position(|s| s.id == id)
        .ok_or_else(|| refused(format!("there is no school {id:?}")))?;
    let school = schools[index].clone();
    let mut passwords = vec![];
    match room {
        None => {
            if let Some(file) = &school.password_file {
                let rooms = school
                    .rooms
                    .iter()
                    .filter(|r| r.password_file.is_none())
                    .map(|r| r.name.clone())
                    .collect();
                passwords.push(edit.replace(&school, file, rooms)?);
            } else {
                for r in &school.rooms {
                    let file = r.password_file.as_ref().expect("checked by config");
                    passwords.push(edit.replace(&school, file, vec![r.name.clone()])?);
                }
            }
        }
        Some(wanted) => {
            let at = school
                .rooms
                .iter()
                .position(|r| {
                    r.name == wanted
                        || room_names::nodes(&r.name).is_ok_and(|n| n.distinct().contains(&wanted))
                })
                .ok_or_else(|| refused(format!("school {id:?} has no room {wanted:?}")))?;
            let r = &school.rooms[at];
            match &r.password_file {
                Some(file) => passwords.push(edit.replace(&school, file, vec![r.name.clone()])?),
                None => {
                    let reference = edit.file_reference(&file_stem(&r.name))?;
                    let password = new_password()?;
                    let path = edit.create(&reference, &password)?;
                    let aot = edit.school_tables()?;
                    let rooms = aot
                        .get_mut(index)
                        .and_then(|t| t.get_mut("rooms"))
                        .and_then(Item::as_array_mut)
                        .ok_or_else(|| refused("rooms is not a list"))?;
                    let mut table = InlineTable::new();
                    table.insert("name", r.name.as_str().into());
                    table.insert("password_file", reference.as_str().into());
                    let old = rooms.get(at).expect("room").decor().clone();
                    let mut value = Value::InlineTable(table);
                    *value.decor_mut() = old;
                    rooms.replace(at, value);
                    passwords.push(NewPassword {
                        password_file: path,
                        password,
                        rooms: vec![r.name.clone()],
                        credential: is_credential(&reference),
                    });
                }
            }
        }
    }
    edit.commit()?;
    Ok(Rotated {
        school: id.to_owned(),
        passwords,
    })
}

/// A file name stem from a room name: lower case, `a-z 0-9 - _ .` kept, others `-`.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    stem.trim_matches(['-', '.']).to_owned()
}

// --- list ----------------------------------------------------------------------------

/// `raumwart school list [--media-centre ID]`: ids, media centres, names, rooms and the
/// age of each password file; with `only`, the schools of that media centre.
pub fn list(files: &Files, only: Option<&str>) -> Result<Listing, Error> {
    let edit = Edit::open(files)?;
    if let Some(wanted) = only {
        edit.media_centre(Some(wanted))?;
    }
    let now = SystemTime::now();
    let mut listed = vec![];
    for school in edit.schools()? {
        if only.is_some() && school.media_centre.as_deref() != only {
            continue;
        }
        let mut passwords = vec![];
        let mut age = |file: &str, rooms: Vec<String>| {
            let age = edit
                .resolve(file)
                .ok()
                .and_then(|path| fs::metadata(path).ok())
                .and_then(|m| m.modified().ok())
                .map(|t| now.duration_since(t).unwrap_or_default());
            passwords.push(PasswordAge { rooms, age });
        };
        if let Some(file) = &school.password_file {
            age(file, vec![]);
        }
        for room in &school.rooms {
            if let Some(file) = &room.password_file {
                age(file, vec![room.name.clone()]);
            }
        }
        listed.push(Listed {
            id: school.id.clone(),
            name: school.name.clone(),
            media_centre: school.media_centre.clone(),
            rooms: school.rooms.iter().map(|r| r.name.clone()).collect(),
            passwords,
        });
    }
    Ok(Listing(listed))
}

// --- import --------------------------------------------------------------------------

/// `raumwart school import FILE --id-column COL --name-column COL [--media-centre ID]
/// [--rooms N] [--dry-run]`: adds the register's schools that are not configured yet,
/// each with `rooms` rooms, all of `media_centre` (a register is one media centre's; it
/// is needed when there are several). Only the id and name columns are read; a school
/// configured already stays where it is, of whichever media centre.
pub fn import(
    files: &Files,
    register_file: &Path,
    columns: &import::Columns,
    media_centre: Option<&str>,
    rooms: usize,
    dry_run: bool,
) -> Result<Imported, Error> {
    let mut edit = Edit::open(files)?;
    let media_centre = edit.media_centre(media_centre)?;
    let register = import::read(register_file, columns)?;
    let known = edit.schools()?;
    let mut skipped = register.skipped;
    let mut unchanged = vec![];
    let mut planned = vec![];
    let mut seen: Vec<String> = vec![];
    let mut elsewhere = vec![];
    for entry in register.schools {
        if let Some(school) = known.iter().find(|s| s.id == entry.id) {
            if let (Some(theirs), Some(ours)) = (&school.media_centre, &media_centre) {
                if theirs != ours {
                    elsewhere.push((entry.id.clone(), theirs.clone()));
                }
            }
            unchanged.push(entry.id);
        } else if seen.contains(&entry.id) {
            skipped.push(import::Skipped {
                row: entry.row,
                reason: format!("school id {:?} is in the register twice", entry.id),
            });
        } else {
            seen.push(entry.id.clone());
            let rooms = Rooms::Count(rooms);
            planned.push(edit.add(&entry.id, &entry.name, media_centre.as_deref(), &rooms)?);
        }
    }
    let config = if dry_run || planned.is_empty() {
        edit.validate()?
    } else {
        edit.commit()?
    };
    let added = planned
        .into_iter()
        .map(|p| {
            let mut added = p.finish(&config);
            if dry_run {
                added.password = Secret::new("");
            }
            added
        })
        .collect();
    Ok(Imported {
        dry_run,
        added,
        unchanged,
        elsewhere,
        skipped,
    })
}

// --- the edit ------------------------------------------------------------------------

/// A school block as written.
#[derive(Debug, Clone)]
struct Written {
    id: String,
    name: Option<String>,
    media_centre: Option<String>,
    password_file: Option<String>,
    rooms: Vec<WrittenRoom>,
}

#[derive(Debug, Clone)]
struct WrittenRoom {
    name: String,
    password_file: Option<String>,
}

impl Written {
    fn files(&self) -> Vec<String> {
        self.password_file
            .iter()
            .chain(self.rooms.iter().filter_map(|r| r.password_file.as_ref()))
            .cloned()
            .collect()
    }
}

/// The config file being changed, and the password files that go with the change.
struct Edit<'a> {
    files: &'a Files,
    text: String,
    doc: DocumentMut,
    /// New password files: path and content, written at commit, and the reference.
    created: Vec<(PathBuf, String)>,
    references: Vec<String>,
    /// Password files given new content at commit.
    replaced: Vec<(PathBuf, String)>,
    /// Of the created and replaced files, those the daemon reads by path itself (not
    /// through `$CREDENTIALS_DIRECTORY/`, which systemd reads as root).
    by_path: Vec<PathBuf>,
}

impl<'a> Edit<'a> {
    fn open(files: &'a Files) -> Result<Edit<'a>, Error> {
        let text = fs::read_to_string(&files.config).map_err(|source| {
            Error::Config(config::Error::Read {
                path: files.config.clone(),
                source,
            })
        })?;
        let doc: DocumentMut = match text.parse() {
            Ok(doc) => doc,
            // The same report `check` gives.
            Err(_) => return Err(Error::Config(self_check(files, &text).unwrap_err())),
        };
        Ok(Edit {
            files,
            text,
            doc,
            created: vec![],
            references: vec![],
            replaced: vec![],
            by_path: vec![],
        })
    }

    /// The file as it is now, validated.
    fn current(&self) -> Result<config::Config, Error> {
        self_check(self.files, &self.text).map_err(Error::Config)
    }

    fn schools(&self) -> Result<Vec<Written>, Error> {
        // A school that names no media centre belongs to the only block, if there is one.
        let only = match self.media_centre_ids().as_deref() {
            Some([only]) => Some(only.clone()),
            _ => None,
        };
        let Some(item) = self.doc.get("school") else {
            return Ok(vec![]);
        };
        let aot = item
            .as_array_of_tables()
            .ok_or_else(|| refused("schools must be written as [[school]] blocks"))?;
        Ok(aot
            .iter()
            .map(|t| Written {
                id: str_of(t.get("id")).unwrap_or_default(),
                name: str_of(t.get("name")),
                media_centre: str_of(t.get("media_centre")).or_else(|| only.clone()),
                password_file: str_of(t.get("password_file")),
                rooms: t
                    .get("rooms")
                    .and_then(Item::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| match v {
                                Value::String(s) => Some(WrittenRoom {
                                    name: s.value().clone(),
                                    password_file: None,
                                }),
                                Value::InlineTable(t) => Some(WrittenRoom {
                                    name: t.get("name")?.as_str()?.to_owned(),
                                    password_file: t
                                        .get("password_file")
                                        .and_then(Value::as_str)
                                        .map(str::to_owned),
                                }),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// The ids of the `[[media_centre]]` blocks; None for the one `[media_centre]` table
    /// or none.
    fn media_centre_ids(&self) -> Option<Vec<String>> {
        let id = |t: &dyn toml_edit::TableLike| str_of(t.get("id")).unwrap_or_default();
        match self.doc.get("media_centre")? {
            Item::ArrayOfTables(blocks) => Some(blocks.iter().map(|t| id(t)).collect()),
            Item::Value(Value::Array(list)) => Some(
                list.iter()
                    .filter_map(Value::as_inline_table)
                    .map(|t| id(t))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// The media centre of a new school: `wanted` if declared, else the only one; an
    /// error says what to give. None with the one `[media_centre]` table or none.
    fn media_centre(&self, wanted: Option<&str>) -> Result<Option<String>, Error> {
        let ids = self.media_centre_ids();
        let quoted = |ids: &[String]| {
            ids.iter()
                .map(|id| format!("{id:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (ids, wanted) {
            (Some(ids), Some(wanted)) if ids.iter().any(|id| id == wanted) => {
                Ok(Some(wanted.to_owned()))
            }
            (Some(ids), Some(wanted)) => Err(refused(format!(
                "there is no media centre {wanted:?}; the media centres are {}",
                quoted(&ids)
            ))),
            (Some(ids), None) => match ids.as_slice() {
                [] => Ok(None),
                [only] => Ok(Some(only.clone())),
                _ => Err(refused(format!(
                    "there are several media centres ({}): say which with --media-centre ID",
                    quoted(&ids)
                ))),
            },
            (None, Some(wanted)) => Err(refused(format!(
                "--media-centre {wanted}: the configuration declares no [[media_centre]] \
                 blocks with ids; its schools all belong to its one media centre"
            ))),
            (None, None) => Ok(None),
        }
    }

    fn school_tables(&mut self) -> Result<&mut ArrayOfTables, Error> {
        if self.doc.get("school").is_none() {
            self.doc
                .insert("school", Item::ArrayOfTables(ArrayOfTables::new()));
        }
        self.doc["school"]
            .as_array_of_tables_mut()
            .ok_or_else(|| refused("schools must be written as [[school]] blocks"))
    }

    /// Where a `password_file` value points, for an admin on this machine.
    fn resolve(&self, file: &str) -> Result<PathBuf, Error> {
        if let Some(rest) = file.strip_prefix("$CREDENTIALS_DIRECTORY/") {
            return match self.files.credentials.get() {
                Some(c) => Ok(c.path(rest)),
                None => Err(refused(format!(
                    "{file}: the config reads passwords from $CREDENTIALS_DIRECTORY; \
                     say where those credentials come from"
                ))),
            };
        }
        let base = self.files.config.parent().unwrap_or(Path::new("."));
        Ok(base.join(file))
    }

    /// A `password_file` value for a new file named after `stem`, beside the password
    /// files the config uses: like the last school's (`schools/<id>.pw` by default).
    fn file_reference(&self, stem: &str) -> Result<String, Error> {
        let schools = self.schools()?;
        let example = schools.iter().rev().find_map(|s| {
            s.password_file
                .clone()
                .or_else(|| s.rooms.iter().find_map(|r| r.password_file.clone()))
                .map(|f| (s.id.clone(), f))
        });
        let reference = match example {
            None => format!("schools/{stem}.pw"),
            Some((id, file)) => {
                let (dir, name) = match file.rfind('/') {
                    Some(at) => file.split_at(at + 1),
                    None => ("", file.as_str()),
                };
                match name.find(id.as_str()) {
                    Some(at) if !id.is_empty() => {
                        format!("{dir}{}{stem}{}", &name[..at], &name[at + id.len()..])
                    }
                    _ => format!("{dir}{stem}.pw"),
                }
            }
        };
        let taken = schools
            .iter()
            .flat_map(Written::files)
            .any(|f| f == reference)
            || self
                .created
                .iter()
                .any(|(p, _)| self.resolve(&reference).is_ok_and(|r| &r == p));
        if taken || self.resolve(&reference)?.exists() {
            return Err(refused(format!(
                "{reference} exists already; remove it or choose another id"
            )));
        }
        Ok(reference)
    }

    /// Plans a new school: its block, and its password file for the commit.
    /// Plans a new school of `media_centre` (as [`Edit::media_centre`] chose it).
    fn add(
        &mut self,
        id: &str,
        name: &str,
        media_centre: Option<&str>,
        rooms: &Rooms,
    ) -> Result<Planned, Error> {
        check_id(id)?;
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(refused("the school's name must be one line of text"));
        }
        if self.schools()?.iter().any(|s| s.id == id) {
            return Err(refused(format!("school {id:?} exists already")));
        }
        let names: Vec<String> = match rooms {
            Rooms::Count(n) if (1..=MAX_ROOMS).contains(n) => {
                (1..=*n).map(|i| format!("{id}-{i}")).collect()
            }
            Rooms::Count(n) => {
                return Err(refused(format!(
                    "--rooms {n}: a school has 1 to {MAX_ROOMS} rooms"
                )))
            }
            Rooms::Named(names) if names.is_empty() => {
                return Err(refused("a school needs at least one room"))
            }
            Rooms::Named(names) => names.clone(),
        };
        let reference = self.file_reference(id)?;
        let password = new_password()?;
        let path = self.create(&reference, &password)?;
        let mut table = Table::new();
        table.insert("id", toml_edit::value(id));
        table.insert("name", toml_edit::value(name.trim()));
        // Named even when it is the only block: a second one added later then needs no
        // edit of every school.
        if let Some(centre) = media_centre {
            table.insert("media_centre", toml_edit::value(centre));
        }
        table.insert("password_file", toml_edit::value(reference.as_str()));
        let mut list = Array::new();
        for room in &names {
            list.push(room.as_str());
        }
        table.insert("rooms", toml_edit::value(list));
        table.decor_mut().set_prefix("\n");
        self.school_tables()?.push(table);
        Ok(Planned {
            school: id.to_owned(),
            name: name.trim().to_owned(),
            media_centre: media_centre.map(str::to_owned),
            password_file: path,
            password,
            credential: is_credential(&reference),
        })
    }

    /// Plans a new password file; returns where it will be.
    fn create(&mut self, reference: &str, password: &Secret) -> Result<PathBuf, Error> {
        let path = self.resolve(reference)?;
        self.created
            .push((path.clone(), format!("{}\n", password.expose())));
        self.references.push(reference.to_owned());
        if !is_credential(reference) {
            self.by_path.push(path.clone());
        }
        Ok(path)
    }

    /// Plans a new password in an existing password file.
    fn replace(
        &mut self,
        school: &Written,
        file: &str,
        rooms: Vec<String>,
    ) -> Result<NewPassword, Error> {
        let path = self.resolve(file)?;
        let password = new_password()?;
        // The strength rule `check` applies, with this school's names.
        let mut context: Vec<&str> = vec![&school.id];
        context.extend(school.name.as_deref());
        context.extend(school.rooms.iter().map(|r| r.name.as_str()));
        if let Err(weak) = password::check(password.expose(), &context) {
            return Err(refused(format!("the new password is refused: {weak}")));
        }
        self.replaced
            .push((path.clone(), format!("{}\n", password.expose())));
        if !is_credential(file) {
            self.by_path.push(path.clone());
        }
        Ok(NewPassword {
            password_file: path,
            password,
            rooms,
            credential: is_credential(file),
        })
    }

    /// Validates the changed file without writing anything beside it: for `--dry-run`.
    /// The new password files are stood in for by files in a private temporary folder.
    fn validate(self) -> Result<config::Config, Error> {
        if self.created.is_empty() {
            return self_check(self.files, &self.doc.to_string()).map_err(Error::Rejected);
        }
        let dir = std::env::temp_dir().join(format!("raumwart-dry-run-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io(&dir))?;
        let mut doc = self.doc.clone();
        let result = (|| {
            for (n, ((_, content), reference)) in
                self.created.iter().zip(&self.references).enumerate()
            {
                let stand_in = dir.join(format!("{n}.pw"));
                write_new(&stand_in, content.as_bytes(), Access::private())?;
                let stand_in = stand_in.to_string_lossy().into_owned();
                for table in doc["school"]
                    .as_array_of_tables_mut()
                    .into_iter()
                    .flat_map(|a| a.iter_mut())
                {
                    if table.get("password_file").and_then(Item::as_str) == Some(reference) {
                        table.insert("password_file", toml_edit::value(stand_in.as_str()));
                    }
                }
            }
            self_check(self.files, &doc.to_string()).map_err(Error::Rejected)
        })();
        let _ = fs::remove_dir_all(&dir);
        result
    }

    /// Writes everything, or nothing: new password files, validation of the changed
    /// file, the config file, then the replaced password files.
    fn commit(self) -> Result<config::Config, Error> {
        let mut written = vec![];
        let mut temporary = vec![];
        let result = self.commit_inner(&mut written, &mut temporary);
        if result.is_err() {
            for path in written.iter().chain(&temporary) {
                let _ = fs::remove_file(path);
            }
        }
        result
    }

    fn commit_inner(
        &self,
        written: &mut Vec<PathBuf>,
        temporary: &mut Vec<PathBuf>,
    ) -> Result<config::Config, Error> {
        let text = self.doc.to_string();
        self.write_created(written)?;
        let mut staged = vec![];
        // What the daemon will read at its next reload, where it is before the renames.
        let mut daemon_reads = vec![];
        for (path, content) in &self.replaced {
            let temp = temp_beside(path);
            temporary.push(temp.clone());
            // A new password keeps the file's owner, group and mode.
            let access = Access::of(&fs::metadata(path).map_err(io(path))?);
            write_new(&temp, content.as_bytes(), access)?;
            if self.by_path.contains(path) {
                daemon_reads.push((temp.clone(), path.clone()));
            }
            staged.push((temp, path));
        }
        daemon_reads.extend(
            self.created
                .iter()
                .filter(|(path, _)| self.by_path.contains(path))
                .map(|(path, _)| (path.clone(), path.clone())),
        );
        let config = self_check(self.files, &text).map_err(Error::Rejected)?;
        let mut config_temp = None;
        if text != self.text {
            // Someone else may have changed the file since it was read.
            let now = fs::read_to_string(&self.files.config).map_err(io(&self.files.config))?;
            if now != self.text {
                return Err(refused(format!(
                    "{} changed while this command ran; nothing was written, run it again",
                    self.files.config.display()
                )));
            }
            let access =
                Access::of(&fs::metadata(&self.files.config).map_err(io(&self.files.config))?);
            let temp = temp_beside(&self.files.config);
            temporary.push(temp.clone());
            write_new(&temp, text.as_bytes(), access)?;
            daemon_reads.push((temp.clone(), self.files.config.clone()));
            config_temp = Some(temp);
        }
        self.daemon_can_read(&daemon_reads)?;
        if let Some(temp) = config_temp {
            rename(&temp, &self.files.config)?;
        }
        for (temp, path) in staged {
            rename(&temp, path)?;
        }
        Ok(config)
    }

    /// Root can write what the daemon's user cannot read. On the daemon's own config, run
    /// as root, every file the daemon will read after this change is checked against that
    /// user (`files`: where each is now, and where it will be).
    fn daemon_can_read(&self, files: &[(PathBuf, PathBuf)]) -> Result<(), Error> {
        let user = match Daemon::for_config(&self.files.config) {
            Daemon::User(user) => user,
            Daemon::NotApplicable | Daemon::NoSuchUser(_) => return Ok(()),
        };
        for (now, then) in files {
            if let Some(mut why) = user.cannot_read(now) {
                if why.at == fs::canonicalize(now).unwrap_or_default() {
                    why.at.clone_from(then);
                }
                why.path.clone_from(then);
                return Err(Error::DaemonCannotRead(why));
            }
        }
        Ok(())
    }

    fn write_created(&self, written: &mut Vec<PathBuf>) -> Result<(), Error> {
        for (path, content) in &self.created {
            if path.exists() {
                return Err(refused(format!("{} exists already", path.display())));
            }
            let dir = path.parent().unwrap_or(Path::new("."));
            create_folder(dir)?;
            let access = Access::new_password(dir, &self.password_files_in(dir, path));
            let temp = temp_beside(path);
            write_new(&temp, content.as_bytes(), access)?;
            if let Err(e) = rename(&temp, path) {
                let _ = fs::remove_file(&temp);
                return Err(e);
            }
            written.push(path.clone());
        }
        Ok(())
    }
}

impl Edit<'_> {
    /// The password files the config names in `dir`, other than `new`, that exist.
    fn password_files_in(&self, dir: &Path, new: &Path) -> Vec<PathBuf> {
        let named = self.schools().unwrap_or_default();
        named
            .iter()
            .flat_map(Written::files)
            .filter_map(|f| self.resolve(&f).ok())
            .filter(|p| p != new && p.parent() == Some(dir) && p.is_file())
            .collect()
    }
}

/// Owner, group and mode for a file that is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Access {
    /// None: whoever writes it (only root can give a file to another user).
    uid: Option<u32>,
    /// None: the writer's group.
    gid: Option<u32>,
    mode: u32,
}

impl Access {
    /// The writer's own, mode 0600.
    fn private() -> Access {
        Access {
            uid: None,
            gid: None,
            mode: 0o600,
        }
    }

    /// Those of an existing file, which its replacement keeps.
    fn of(meta: &fs::Metadata) -> Access {
        Access {
            uid: Some(meta.uid()),
            gid: Some(meta.gid()),
            mode: meta.mode() & 0o7777,
        }
    }

    /// A new password file in `dir`: like the config's password files there
    /// (`siblings`), else like any file there, else the folder's group with 0640. The
    /// owner reads and writes it, the group at most reads it, others never.
    fn new_password(dir: &Path, siblings: &[PathBuf]) -> Access {
        let beside = || {
            fs::read_dir(dir).ok()?.flatten().find_map(|e| {
                let hidden = e.file_name().to_string_lossy().starts_with('.');
                let meta = e.metadata().ok()?;
                (!hidden && meta.is_file()).then_some(meta)
            })
        };
        let like = siblings
            .iter()
            .find_map(|s| fs::metadata(s).ok())
            .or_else(beside);
        match like {
            Some(meta) => Access {
                uid: Some(meta.uid()),
                gid: Some(meta.gid()),
                mode: (meta.mode() & 0o640) | 0o600,
            },
            None => Access {
                uid: None,
                gid: fs::metadata(dir).ok().map(|m| m.gid()),
                mode: 0o640,
            },
        }
    }

    /// A new folder in `parent`: its group, searchable by the group when the parent is.
    fn folder_in(parent: &Path) -> Access {
        match fs::metadata(parent) {
            Ok(meta) => Access {
                uid: Some(meta.uid()),
                gid: Some(meta.gid()),
                mode: (meta.mode() & 0o750) | 0o700,
            },
            Err(_) => Access {
                mode: 0o700,
                ..Access::private()
            },
        }
    }

    /// Gives `file` (just created by this process) this owner, group and mode. Root
    /// gives any; another user keeps its own uid and gives the group when it may (a
    /// group it is not in stays its own: nothing fails for it).
    fn apply(&self, file: &fs::File, path: &Path) -> Result<(), Error> {
        let now = file.metadata().map_err(io(path))?;
        let root = now.uid() == 0;
        let uid = self.uid.filter(|&u| root && u != now.uid());
        let gid = self.gid.filter(|&g| g != now.gid());
        if uid.is_some() || gid.is_some() {
            match std::os::unix::fs::fchown(file, uid, gid) {
                Ok(()) => {}
                Err(e) if !root && e.kind() == std::io::ErrorKind::PermissionDenied => {}
                Err(e) => return Err(io(path)(e)),
            }
        }
        // After chown, which may clear set-id bits; also restores what the umask took.
        file.set_permissions(fs::Permissions::from_mode(self.mode))
            .map_err(io(path))
    }
}

/// Creates `dir` and any missing folder above it, each with its parent's group.
fn create_folder(dir: &Path) -> Result<(), Error> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("/"));
    create_folder(parent)?;
    let access = Access::folder_in(parent);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let folder = fs::File::open(dir).map_err(io(dir))?;
    access.apply(&folder, dir)
}

fn str_of(item: Option<&Item>) -> Option<String> {
    item.and_then(Item::as_str).map(str::to_owned)
}

/// Validates config text read from `files.config` like `raumwart check`.
pub fn validate(files: &Files, text: &str) -> Result<config::Config, Error> {
    self_check(files, text).map_err(Error::Config)
}

fn self_check(files: &Files, text: &str) -> Result<config::Config, config::Error> {
    config::parse_with(&files.config, text, files.credentials.get())
}

fn new_password() -> Result<Secret, Error> {
    password::generate().map(Secret::new).map_err(Error::Random)
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.raumwart-{}", std::process::id()))
}

/// Writes a new file with `access` and syncs it. It is created 0600 and given its
/// owner, group and mode before anything is written or it is renamed into place.
fn write_new(path: &Path, content: &[u8], access: Access) -> Result<(), Error> {
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    access.apply(&file, path)?;
    file.write_all(content).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

fn rename(from: &Path, to: &Path) -> Result<(), Error> {
    fs::rename(from, to).map_err(io(to))?;
    if let Some(dir) = to.parent().and_then(|d| fs::File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}

// --- what to print -------------------------------------------------------------------

impl fmt::Display for Added {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "added school {} ({}){} with {} room(s); password in {}",
            self.school,
            self.name,
            of_centre(self.media_centre.as_deref()),
            self.rooms.len(),
            self.password_file.display()
        )?;
        write_rooms(f, &self.rooms)?;
        if !self.password.expose().is_empty() {
            writeln!(
                f,
                "organizer password for the school: {}",
                self.password.expose()
            )?;
        }
        Ok(())
    }
}

/// `, media centre ID,` after a school's name, when it has one by id.
fn of_centre(media_centre: Option<&str>) -> String {
    media_centre.map_or(String::new(), |id| format!(", media centre {id},"))
}

fn write_rooms(f: &mut fmt::Formatter<'_>, rooms: &[RoomAccess]) -> fmt::Result {
    for room in rooms {
        let target = match &room.link {
            Some(link) => link.clone(),
            None => room.nodes.join(", "),
        };
        writeln!(f, "  {:?} -> {target}", room.configured)?;
    }
    Ok(())
}

impl fmt::Display for Removed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "removed school {}; rooms no longer protected: {}",
            self.school,
            self.nodes.join(", ")
        )?;
        for file in &self.deleted_files {
            writeln!(f, "  deleted {}", file.display())?;
        }
        Ok(())
    }
}

impl fmt::Display for Rotated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.passwords {
            writeln!(
                f,
                "new password for school {} in {} (rooms: {}): {}",
                self.school,
                p.password_file.display(),
                p.rooms.join(", "),
                p.password.expose()
            )?;
        }
        writeln!(
            f,
            "it opens idle rooms once raumwart has reloaded, rooms in session from their next reset"
        )
    }
}

/// An age as the largest unit that fits: `5 min`, `3 h`, `12 d`.
pub fn age_text(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The media centre's column only when schools name theirs by id.
        let centres = self.0.iter().any(|s| s.media_centre.is_some());
        let mut header = vec!["ID", "NAME", "ROOMS", "PASSWORD AGE"];
        if centres {
            header.insert(1, "MEDIA CENTRE");
        }
        let header: Vec<String> = header.into_iter().map(String::from).collect();
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|s| {
                let ages: Vec<String> = s
                    .passwords
                    .iter()
                    .map(|p| {
                        let age = p.age.map_or("unreadable".into(), age_text);
                        match p.rooms.as_slice() {
                            [] => age,
                            rooms => format!("{age} ({})", rooms.join(", ")),
                        }
                    })
                    .collect();
                let mut row = vec![
                    s.id.clone(),
                    s.name.clone().unwrap_or_default(),
                    s.rooms.join(", "),
                    ages.join("; "),
                ];
                if centres {
                    row.insert(1, s.media_centre.clone().unwrap_or_else(|| "-".into()));
                }
                row
            })
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            writeln!(f, "{}", cells.join("  ").trim_end())?;
        }
        Ok(())
    }
}

impl fmt::Display for Imported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would add" } else { "added" };
        for added in &self.added {
            writeln!(
                f,
                "{verb} school {} ({}){} with {} room(s)",
                added.school,
                added.name,
                of_centre(added.media_centre.as_deref()),
                added.rooms.len()
            )?;
            if !self.dry_run {
                writeln!(f, "  password in {}", added.password_file.display())?;
            }
            write_rooms(f, &added.rooms)?;
        }
        if !self.unchanged.is_empty() {
            writeln!(
                f,
                "configured already, left alone: {}",
                self.unchanged.join(", ")
            )?;
        }
        for (school, centre) in &self.elsewhere {
            writeln!(
                f,
                "school {school} is configured for media centre {centre}, not this register's: \
                 left alone; check whether the two are the same school"
            )?;
        }
        for skipped in &self.skipped {
            writeln!(f, "row {} skipped: {}", skipped.row, skipped.reason)?;
        }
        if self.added.is_empty() {
            writeln!(f, "no new schools")?;
        } else if !self.dry_run {
            writeln!(
                f,
                "`raumwart school letter ID --out FILE` writes each school's access letter"
            )?;
        }
        Ok(())
    }
}
