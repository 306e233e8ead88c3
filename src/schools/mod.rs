//! The media centre's workflow on the config file: add, remove, rotate and list schools.
//!
//! Every operation edits the config file with `toml_edit`, so comments and layout stay
//! as the admin wrote them, and returns a value that says what to print (each has a
//! `Display`). Before anything is written, the file as it would be is validated like
//! `raumwart check` ([`config::parse_with`]); new password files are written first
//! (through a temporary file and a rename) and removed again when anything fails, and the
//! config file is replaced by a rename. An error leaves the files as they were.
//!
//! The console (as the daemon's user) and an admin's `raumwart school` (as root) change
//! the same files: every operation takes the config's lock itself ([`ConfigLock`],
//! exclusive for a change from the read to the last rename, shared for a read), so two
//! changes at the same moment are made one after the other and neither is lost.
//!
//! The daemon reads these files as its own user (group `raumwart` in the package), so
//! every file written gets the owner, group and mode it needs before it is renamed into
//! place: a replaced file keeps its own, a new password file takes those of the password
//! files beside it (else the folder's group, mode 0640), a new folder its parent's group.
//! Only root can give a file to another user: run as another user (the console's), a
//! file written is that user's, with the group and mode it should have (a group the
//! user is not in is not given, and then the user's own gets no more than others).
//! Run as root on the daemon's configuration, a change the daemon's user could not read
//! is refused before the config file is replaced, so no command leaves the daemon unable
//! to reload or start.
//!
//! The console's user may write the config and the folders beside it, and root runs the
//! same commands: so a password file is written, replaced or deleted only inside the
//! config's own folder, as a plain file, never through a link. A change that would touch
//! one elsewhere is refused before anything is written, whoever runs it (`raumwart check`
//! and the daemon still read such a file).
//!
//! The running daemon is not told here: the caller reloads it after a change, and ends
//! the sessions of a school's rooms ([`room_nodes`]) before [`remove`].

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use toml_edit::{DocumentMut, InlineTable, Item, Value};

use crate::config::room_names;
use crate::config::{self, Credentials, Secret};

mod edit;
pub mod import;
pub mod letter;
mod lock;
mod report;

use edit::{new_password, validate, Edit};
pub use import::import;
pub use lock::{lock_file, ConfigLock, LOCK_WAIT};
pub use report::age_text;

/// The most rooms `--rooms N` makes.
pub const MAX_ROOMS: usize = 50;

/// Where the config file is, and where `$CREDENTIALS_DIRECTORY/` in it points.
pub struct Files {
    pub config: PathBuf,
    pub credentials: CredentialSource,
}

impl Files {
    /// A config whose password files are plain paths (relative to its folder or absolute;
    /// written only inside its folder).
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
    /// Another change of the config held its lock for all of `wait`; nothing was written.
    #[error(
        "{}: another change of the configuration held this lock for {} s; nothing was \
         written, try again",
        lock.display(),
        wait.as_secs()
    )]
    Busy { lock: PathBuf, wait: Duration },
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
    let lock = ConfigLock::exclusive(&files.config)?;
    let mut edit = Edit::open(files, &lock)?;
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
    let lock = ConfigLock::shared(&files.config)?;
    let edit = Edit::open(files, &lock)?;
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
    // Held until the files are deleted: a school added meanwhile may reuse their names.
    let lock = ConfigLock::exclusive(&files.config)?;
    let mut edit = Edit::open(files, &lock)?;
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
    // Checked and their folders opened before the config is written: a file outside the
    // config's folder, or a link, refuses the removal, and a folder swapped for a link
    // afterwards does not move a deletion.
    let mut places = vec![];
    for file in &doomed {
        let target = edit.target(file)?;
        match edit.place(&target, false) {
            Ok(place) => places.push((target.shown, place)),
            // Gone with its folder: nothing to delete.
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    edit.commit()?;
    let mut deleted_files = vec![];
    for (path, place) in places {
        match place.remove() {
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
    let lock = ConfigLock::exclusive(&files.config)?;
    let mut edit = Edit::open(files, &lock)?;
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
    let lock = ConfigLock::shared(&files.config)?;
    let edit = Edit::open(files, &lock)?;
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
