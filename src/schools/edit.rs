//! The transaction behind every school command: the config file edited with `toml_edit`
//! (comments and layout kept), validated as `check` would before anything is written,
//! new password files written first and removed again on failure, the config file
//! replaced by a rename, each file with the owner, group and mode the daemon needs. An
//! edit is opened under the config's lock ([`ConfigLock`]) and commits only under its
//! exclusive form.
//!
//! The console's user may write the config and the folders beside it, root runs the same
//! commands: a `password_file` the console's user wrote must not make root write, replace,
//! delete, chown or chmod a file elsewhere. A password file this process writes or deletes
//! is therefore a plain name in a folder inside the config's own folder ([`Target`],
//! checked when the change is planned, before anything is written), and it is reached
//! through folders opened one by one without following a link ([`Place`]), so a folder
//! swapped for a link after the check leads nowhere.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, Value};

use crate::config::daemon_user::Daemon;
use crate::config::password;
use crate::config::{self, Secret};

use super::lock::ConfigLock;
use super::{
    check_id, io, is_credential, refused, Error, Files, NewPassword, Planned, Rooms, MAX_ROOMS,
};

/// A school block as written.
#[derive(Debug, Clone)]
pub(super) struct SchoolBlock {
    pub(super) id: String,
    pub(super) name: Option<String>,
    pub(super) media_centre: Option<String>,
    pub(super) password_file: Option<String>,
    pub(super) rooms: Vec<BlockRoom>,
}

#[derive(Debug, Clone)]
pub(super) struct BlockRoom {
    pub(super) name: String,
    pub(super) password_file: Option<String>,
}

impl SchoolBlock {
    pub(super) fn files(&self) -> Vec<String> {
        self.password_file
            .iter()
            .chain(self.rooms.iter().filter_map(|r| r.password_file.as_ref()))
            .cloned()
            .collect()
    }
}

/// The config file being changed, and the password files that go with the change.
pub(super) struct Edit<'a> {
    files: &'a Files,
    /// Held by the caller for as long as the edit and what follows it.
    lock: &'a ConfigLock,
    text: String,
    pub(super) doc: DocumentMut,
    /// The config's folder, canonical: the only tree password files are written in.
    tree: PathBuf,
    /// New password files, written at commit.
    created: Vec<FileWrite>,
    /// Password files given new content at commit.
    replaced: Vec<FileWrite>,
}

/// A password file an edit writes at commit.
struct FileWrite {
    /// The config's `password_file` value.
    reference: String,
    target: Target,
    content: String,
}

impl FileWrite {
    /// Whether the daemon reads it by path itself (not through `$CREDENTIALS_DIRECTORY/`,
    /// which systemd reads as root).
    fn by_path(&self) -> bool {
        !is_credential(&self.reference)
    }
}

impl<'a> Edit<'a> {
    /// Reads the config under `lock` (taken for `files.config`); only an exclusive one
    /// lets the edit commit.
    pub(super) fn open(files: &'a Files, lock: &'a ConfigLock) -> Result<Edit<'a>, Error> {
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
        let folder = match files.config.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // The folder, not the file: a config.toml that is a link does not move the tree.
        let tree = fs::canonicalize(folder).map_err(io(folder))?;
        Ok(Edit {
            files,
            lock,
            text,
            doc,
            tree,
            created: vec![],
            replaced: vec![],
        })
    }

    /// The file as it is now, validated.
    pub(super) fn current(&self) -> Result<config::Config, Error> {
        self_check(self.files, &self.text).map_err(Error::Config)
    }

    pub(super) fn schools(&self) -> Result<Vec<SchoolBlock>, Error> {
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
            .map(|t| SchoolBlock {
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
                                Value::String(s) => Some(BlockRoom {
                                    name: s.value().clone(),
                                    password_file: None,
                                }),
                                Value::InlineTable(t) => Some(BlockRoom {
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
    pub(super) fn media_centre(&self, wanted: Option<&str>) -> Result<Option<String>, Error> {
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

    pub(super) fn school_tables(&mut self) -> Result<&mut ArrayOfTables, Error> {
        if self.doc.get("school").is_none() {
            self.doc
                .insert("school", Item::ArrayOfTables(ArrayOfTables::new()));
        }
        self.doc["school"]
            .as_array_of_tables_mut()
            .ok_or_else(|| refused("schools must be written as [[school]] blocks"))
    }

    /// Where a `password_file` value points, for an admin on this machine.
    pub(super) fn resolve(&self, file: &str) -> Result<PathBuf, Error> {
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

    /// Where a `password_file` value points, as a file this process may write, replace or
    /// delete: a plain file name in a folder inside the config's folder, reached without
    /// a link that leads out of it. Anything else is refused, naming the value and why.
    pub(super) fn target(&self, file: &str) -> Result<Target, Error> {
        Target::check(&self.tree, &self.files.config, file, self.resolve(file)?)
    }

    /// A `password_file` value for a new file named after `stem`, beside the password
    /// files the config uses: like the last school's (`schools/<id>.pw` by default).
    pub(super) fn file_reference(&self, stem: &str) -> Result<String, Error> {
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
            .flat_map(SchoolBlock::files)
            .any(|f| f == reference)
            || self
                .created
                .iter()
                .any(|c| self.resolve(&reference).is_ok_and(|r| r == c.target.shown));
        // A link there counts, even one that leads nowhere.
        if taken || fs::symlink_metadata(self.resolve(&reference)?).is_ok() {
            return Err(refused(format!(
                "{reference} exists already; remove it or choose another id"
            )));
        }
        Ok(reference)
    }

    /// Plans a new school: its block, and its password file for the commit.
    /// Plans a new school of `media_centre` (as [`Edit::media_centre`] chose it).
    pub(super) fn add(
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
    pub(super) fn create(&mut self, reference: &str, password: &Secret) -> Result<PathBuf, Error> {
        let target = self.target(reference)?;
        let path = target.shown.clone();
        self.created.push(FileWrite {
            reference: reference.to_owned(),
            target,
            content: format!("{}\n", password.expose()),
        });
        Ok(path)
    }

    /// Plans a new password in an existing password file.
    pub(super) fn replace(
        &mut self,
        school: &SchoolBlock,
        file: &str,
        rooms: Vec<String>,
    ) -> Result<NewPassword, Error> {
        let target = self.target(file)?;
        let path = target.shown.clone();
        let password = new_password()?;
        // The strength rule `check` applies, with this school's names.
        let mut context: Vec<&str> = vec![&school.id];
        context.extend(school.name.as_deref());
        context.extend(school.rooms.iter().map(|r| r.name.as_str()));
        if let Err(weak) = password::check(password.expose(), &context) {
            return Err(refused(format!("the new password is refused: {weak}")));
        }
        self.replaced.push(FileWrite {
            reference: file.to_owned(),
            target,
            content: format!("{}\n", password.expose()),
        });
        Ok(NewPassword {
            password_file: path,
            password,
            rooms,
            credential: is_credential(file),
        })
    }

    /// Validates the changed file without writing anything beside it: for `--dry-run`.
    /// The new password files are stood in for by files in a private temporary folder.
    pub(super) fn validate(self) -> Result<config::Config, Error> {
        if self.created.is_empty() {
            return self_check(self.files, &self.doc.to_string()).map_err(Error::Rejected);
        }
        // Dry runs share the config's lock: two in one process (the console) need folders
        // of their own.
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("raumwart-dry-run-{}-{run}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io(&dir))?;
        let mut doc = self.doc.clone();
        let result = (|| {
            for (n, created) in self.created.iter().enumerate() {
                let reference = &created.reference;
                let stand_in = dir.join(format!("{n}.pw"));
                write_new(
                    &stand_in,
                    &stand_in,
                    created.content.as_bytes(),
                    Access::private(),
                )?;
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
    pub(super) fn commit(self) -> Result<config::Config, Error> {
        assert!(
            self.lock.is_exclusive(),
            "a change of the config is committed under its exclusive lock"
        );
        // Password files written and temporary files, and the config's temporary file.
        let mut written = vec![];
        let mut config_temp = None;
        let result = self.commit_inner(&mut written, &mut config_temp);
        if result.is_err() {
            for place in &written {
                let _ = place.remove();
            }
            if let Some(temp) = config_temp {
                let _ = fs::remove_file(temp);
            }
        }
        result
    }

    fn commit_inner(
        &self,
        written: &mut Vec<Place>,
        config_temp: &mut Option<PathBuf>,
    ) -> Result<config::Config, Error> {
        let text = self.doc.to_string();
        self.write_created(written)?;
        let mut staged = vec![];
        // What the daemon will read at its next reload, where it is before the renames.
        let mut daemon_reads = vec![];
        for replaced in &self.replaced {
            let place = self.place(&replaced.target, false)?;
            // Looked at again in the folder now held: the plain file it was planned as.
            let meta = place.plain_file(&self.files.config, &replaced.reference)?;
            let temp = place.temp();
            written.push(temp.clone());
            // A new password keeps the file's owner, group and mode.
            temp.write_new(replaced.content.as_bytes(), Access::of(&meta))?;
            if replaced.by_path() {
                daemon_reads.push((temp.path(), replaced.target.shown.clone()));
            }
            staged.push((temp, place));
        }
        // `written` begins with the created files, in their order.
        for (created, place) in self.created.iter().zip(written.iter()) {
            if created.by_path() {
                daemon_reads.push((place.path(), created.target.shown.clone()));
            }
        }
        let config = self_check(self.files, &text).map_err(Error::Rejected)?;
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
            *config_temp = Some(temp.clone());
            write_new(&temp, &temp, text.as_bytes(), access)?;
            daemon_reads.push((temp, self.files.config.clone()));
        }
        self.daemon_can_read(&daemon_reads)?;
        if let Some(temp) = config_temp.take() {
            rename(&temp, &self.files.config)?;
        }
        for (temp, place) in staged {
            temp.rename_to(&place)?;
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

    fn write_created(&self, written: &mut Vec<Place>) -> Result<(), Error> {
        for created in &self.created {
            let place = self.place(&created.target, true)?;
            if place.lstat().is_ok() {
                return Err(refused(format!(
                    "{} exists already",
                    created.target.shown.display()
                )));
            }
            let access =
                Access::new_password(&place.folder, &self.password_files_beside(&created.target));
            let temp = place.temp();
            let done = temp
                .write_new(created.content.as_bytes(), access)
                .and_then(|()| temp.rename_to(&place));
            if let Err(e) = done {
                let _ = temp.remove();
                return Err(e);
            }
            written.push(place);
        }
        Ok(())
    }

    /// The folders of `target` opened from the config's folder down, made when missing
    /// with `create`.
    pub(super) fn place(&self, target: &Target, create: bool) -> Result<Place, Error> {
        let mut folder = Folder::tree(&self.tree)?;
        for name in &target.folders {
            folder = folder.child(name, create)?;
        }
        Ok(Place {
            folder: Arc::new(folder),
            name: target.name.clone(),
        })
    }

    /// The names of the password files the config names beside `new`, other than it.
    fn password_files_beside(&self, new: &Target) -> Vec<OsString> {
        let named = self.schools().unwrap_or_default();
        named
            .iter()
            .flat_map(SchoolBlock::files)
            .filter_map(|f| self.target(&f).ok())
            .filter(|t| t.folders == new.folders && t.name != new.name)
            .map(|t| t.name)
            .collect()
    }
}

/// Owner, group and mode for a file that is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Access {
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
    fn new_password(dir: &Folder, siblings: &[OsString]) -> Access {
        let beside = || {
            fs::read_dir(dir.at(OsStr::new(".")))
                .ok()?
                .flatten()
                .find_map(|e| {
                    let hidden = e.file_name().to_string_lossy().starts_with('.');
                    let meta = e.metadata().ok()?;
                    (!hidden && meta.is_file()).then_some(meta)
                })
        };
        let like = siblings
            .iter()
            .find_map(|s| {
                fs::symlink_metadata(dir.at(s))
                    .ok()
                    .filter(fs::Metadata::is_file)
            })
            .or_else(beside);
        match like {
            Some(meta) => Access {
                uid: Some(meta.uid()),
                gid: Some(meta.gid()),
                mode: (meta.mode() & 0o640) | 0o600,
            },
            None => Access {
                uid: None,
                gid: dir.dir.metadata().ok().map(|m| m.gid()),
                mode: 0o640,
            },
        }
    }

    /// A new folder in a folder of `parent`'s metadata: its owner and group, searchable
    /// by the group when the parent is.
    fn folder_in(parent: &fs::Metadata) -> Access {
        Access {
            uid: Some(parent.uid()),
            gid: Some(parent.gid()),
            mode: (parent.mode() & 0o750) | 0o700,
        }
    }

    /// The lock file beside a config with `config`'s metadata: its group, read and
    /// written by that group when it may read the config, never by others.
    pub(super) fn lock_file(config: &fs::Metadata) -> Access {
        Access {
            uid: None,
            gid: Some(config.gid()),
            mode: if config.mode() & 0o040 != 0 {
                0o660
            } else {
                0o600
            },
        }
    }

    /// The owner and group to give a file created as `created` (uid, gid); None keeps
    /// it. Root gives any. Another user (the console's) cannot give a file away: it keeps
    /// its own uid and gives the group, which chown allows when it is in that group.
    fn ids_to_give(&self, created: (u32, u32)) -> (Option<u32>, Option<u32>) {
        let root = created.0 == 0;
        let uid = self.uid.filter(|&u| root && u != created.0);
        let gid = self.gid.filter(|&g| g != created.1);
        (uid, gid)
    }

    /// The mode of a file whose group could not be given (the writer is not in it): it
    /// stays in the writer's own group, which gets no more than others, so a password
    /// the old group could read does not reach another one.
    fn mode_in_own_group(&self) -> u32 {
        (self.mode & !0o070) | ((self.mode & 0o007) << 3)
    }

    /// Gives `file` (just created by this process) this owner, group and mode, as
    /// [`Access::ids_to_give`] decides. A user other than root never fails for an
    /// owner or group it cannot give ([`Access::mode_in_own_group`]).
    pub(super) fn apply(&self, file: &fs::File, path: &Path) -> Result<(), Error> {
        let now = file.metadata().map_err(io(path))?;
        let root = now.uid() == 0;
        let (uid, gid) = self.ids_to_give((now.uid(), now.gid()));
        let mut mode = self.mode;
        if uid.is_some() || gid.is_some() {
            match std::os::unix::fs::fchown(file, uid, gid) {
                Ok(()) => {}
                Err(e) if !root && e.kind() == std::io::ErrorKind::PermissionDenied => {
                    mode = self.mode_in_own_group();
                }
                Err(e) => return Err(io(path)(e)),
            }
        }
        // After chown, which may clear set-id bits; also restores what the umask took.
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io(path))
    }
}

// --- where password files are written -------------------------------------------------

/// A password file a change writes, replaces or deletes, as checked when it is planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// Where the config's value points, as the admin is shown it.
    pub(super) shown: PathBuf,
    /// The folders from the config's folder down to the file's, each a plain name: those
    /// that exist (as they are, no link), then those a new file needs made.
    folders: Vec<OsString>,
    /// The file's own name in the last of them.
    name: OsString,
}

impl Target {
    /// `file`, the config's value, pointing at `shown`. Refused unless it ends in a plain
    /// name in a folder whose existing part, links followed, is inside `tree` (the
    /// config's folder, canonical), and an entry of that name, if there is one, is a plain
    /// file (not a link: it is not followed). Folders that do not exist yet must be plain
    /// names (a new file's folders are made).
    fn check(tree: &Path, config: &Path, file: &str, shown: PathBuf) -> Result<Target, Error> {
        let outside = |why: String| {
            refused(format!(
                "{}: password file outside the config's folder: {file:?} {why} — refused; \
                 move it into {}",
                config.display(),
                tree.display()
            ))
        };
        let Some(Component::Normal(name)) = shown.components().next_back() else {
            return Err(outside("names no file".into()));
        };
        let name = name.to_owned();
        let mut existing = match shown.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut missing = vec![];
        let real = loop {
            match fs::canonicalize(&existing) {
                Ok(real) => break real,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    if fs::symlink_metadata(&existing).is_ok() {
                        return Err(outside(format!(
                            "is in {}, a link that leads nowhere",
                            existing.display()
                        )));
                    }
                    let Some(Component::Normal(folder)) = existing.components().next_back() else {
                        return Err(outside(format!(
                            "is in {}, which does not exist",
                            existing.display()
                        )));
                    };
                    missing.push(folder.to_owned());
                    existing.pop();
                    if existing.as_os_str().is_empty() {
                        existing = PathBuf::from(".");
                    }
                }
                Err(e) => return Err(io(&existing)(e)),
            }
        };
        let mut at = real.clone();
        at.extend(missing.iter().rev());
        at.push(&name);
        let Ok(inside) = real.strip_prefix(tree) else {
            return Err(outside(format!("leads to {}", at.display())));
        };
        let mut folders: Vec<OsString> = inside.iter().map(OsStr::to_owned).collect();
        folders.extend(missing.into_iter().rev());
        match fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_file() => {}
            Ok(meta) => return Err(not_plain(config, file, &at, &meta)),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(&shown)(e)),
        }
        Ok(Target {
            shown,
            folders,
            name,
        })
    }
}

/// A password file that is a link or not a file at all: a link is never followed to
/// write, replace, chown or delete what it points at.
fn not_plain(config: &Path, file: &str, at: &Path, meta: &fs::Metadata) -> Error {
    let what = if meta.file_type().is_symlink() {
        match fs::read_link(at) {
            Ok(to) => format!("a link to {}", to.display()),
            Err(_) => "a link".to_owned(),
        }
    } else if meta.is_dir() {
        "a folder".to_owned()
    } else {
        "a special file".to_owned()
    };
    refused(format!(
        "{}: password file {file:?} is {what}, not a plain file — refused; put the password \
         file itself in its place",
        config.display()
    ))
}

/// A folder of the config's tree, held open. Files in it are reached by paths through
/// `/proc/self/fd/N/`, which the kernel resolves to the folder held, not to what its name
/// is now (std has no `openat`): a folder that the console's user swaps for a link after
/// it was checked does not move a write, a rename or a deletion out of the tree.
#[derive(Debug)]
pub(super) struct Folder {
    dir: fs::File,
    /// Where it was when opened, canonical: for messages.
    real: PathBuf,
}

impl Folder {
    /// The config's own folder (canonical), the top of the tree: its path is the admin's.
    fn tree(tree: &Path) -> Result<Folder, Error> {
        let folder = Folder {
            dir: fs::File::open(tree).map_err(io(tree))?,
            real: tree.to_owned(),
        };
        // Without /proc, a path through the folder held would be a path by name again.
        let held = folder.dir.metadata().map_err(io(tree))?;
        match fs::metadata(folder.at(OsStr::new("."))) {
            Ok(m) if (m.dev(), m.ino()) == (held.dev(), held.ino()) => Ok(folder),
            _ => Err(io(tree)(std::io::Error::other(
                "/proc/self/fd does not reach this folder; password files are written only \
                 with /proc mounted",
            ))),
        }
    }

    /// A path to `name` in this folder, whatever the folder's own path names now.
    fn at(&self, name: &OsStr) -> PathBuf {
        Path::new("/proc/self/fd")
            .join(self.dir.as_raw_fd().to_string())
            .join(name)
    }

    /// The folder `name` in this one, opened: a real folder, never a link to one. With
    /// `create`, a missing one is made with this folder's owner and group.
    fn child(&self, name: &OsStr, create: bool) -> Result<Folder, Error> {
        let real = self.real.join(name);
        let changed = || {
            refused(format!(
                "{}: not the folder it was when this command looked (a link or another file \
                 took its place); refused",
                real.display()
            ))
        };
        match fs::symlink_metadata(self.at(name)) {
            Ok(meta) if meta.is_dir() => {
                let dir = fs::File::open(self.at(name)).map_err(io(&real))?;
                let opened = dir.metadata().map_err(io(&real))?;
                // A link swapped in between the look and the open leads elsewhere.
                if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
                    return Err(changed());
                }
                Ok(Folder { dir, real })
            }
            Ok(_) => Err(changed()),
            Err(e) if e.kind() == ErrorKind::NotFound && create => {
                let parent = self.dir.metadata().map_err(io(&self.real))?;
                // mkdir follows no link: one put there meanwhile fails it.
                fs::DirBuilder::new()
                    .mode(0o700)
                    .create(self.at(name))
                    .map_err(io(&real))?;
                let child = self.child(name, false)?;
                Access::folder_in(&parent).apply(&child.dir, &real)?;
                Ok(child)
            }
            Err(e) => Err(io(&real)(e)),
        }
    }
}

/// A file by its name in a folder held open ([`Folder`]): where a password file is
/// written, replaced or deleted.
#[derive(Debug, Clone)]
pub(super) struct Place {
    folder: Arc<Folder>,
    name: OsString,
}

impl Place {
    /// A path the kernel resolves through the folder held.
    fn path(&self) -> PathBuf {
        self.folder.at(&self.name)
    }

    /// Where it is, for messages.
    fn real(&self) -> PathBuf {
        self.folder.real.join(&self.name)
    }

    fn lstat(&self) -> std::io::Result<fs::Metadata> {
        fs::symlink_metadata(self.path())
    }

    /// Its metadata, when it is still a plain file.
    fn plain_file(&self, config: &Path, file: &str) -> Result<fs::Metadata, Error> {
        let meta = self.lstat().map_err(io(&self.real()))?;
        if meta.is_file() {
            Ok(meta)
        } else {
            Err(not_plain(config, file, &self.path(), &meta))
        }
    }

    /// Its temporary file, hidden beside it.
    fn temp(&self) -> Place {
        let name = format!(
            ".{}.raumwart-{}",
            self.name.to_string_lossy(),
            std::process::id()
        );
        Place {
            folder: self.folder.clone(),
            name: name.into(),
        }
    }

    fn write_new(&self, content: &[u8], access: Access) -> Result<(), Error> {
        write_new(&self.path(), &self.real(), content, access)
    }

    /// Renames this file to `to` in the same folder: whatever `to` is, a link included,
    /// is replaced itself, never what it points at.
    fn rename_to(&self, to: &Place) -> Result<(), Error> {
        fs::rename(self.path(), to.path()).map_err(io(&to.real()))?;
        let _ = to.folder.dir.sync_all();
        Ok(())
    }

    /// Deletes it; a link is deleted itself, never what it points at.
    pub(super) fn remove(&self) -> std::io::Result<()> {
        fs::remove_file(self.path())
    }
}

fn str_of(item: Option<&Item>) -> Option<String> {
    item.and_then(Item::as_str).map(str::to_owned)
}

/// Validates config text read from `files.config` like `raumwart check`.
pub(super) fn validate(files: &Files, text: &str) -> Result<config::Config, Error> {
    self_check(files, text).map_err(Error::Config)
}

fn self_check(files: &Files, text: &str) -> Result<config::Config, config::Error> {
    config::parse_with(&files.config, text, files.credentials.get())
}

pub(super) fn new_password() -> Result<Secret, Error> {
    password::generate().map(Secret::new).map_err(Error::Random)
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.raumwart-{}", std::process::id()))
}

/// Writes a new file at `path` (`shown` in messages) with `access` and syncs it. It is
/// created 0600 (never through a link: create_new) and given its owner, group and mode
/// before anything is written or it is renamed into place.
fn write_new(path: &Path, shown: &Path, content: &[u8], access: Access) -> Result<(), Error> {
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(shown))?;
    access.apply(&file, shown)?;
    file.write_all(content).map_err(io(shown))?;
    file.sync_all().map_err(io(shown))
}

fn rename(from: &Path, to: &Path) -> Result<(), Error> {
    fs::rename(from, to).map_err(io(to))?;
    if let Some(dir) = to.parent().and_then(|d| fs::File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const ROOT: (u32, u32) = (0, 0);
    /// The console's user: uid and its own group.
    const CONSOLE: (u32, u32) = (996, 995);

    fn access(uid: u32, gid: u32, mode: u32) -> Access {
        Access {
            uid: Some(uid),
            gid: Some(gid),
            mode,
        }
    }

    #[test]
    fn root_gives_a_replaced_file_its_owner_and_group() {
        let config = access(0, 995, 0o640);
        assert_eq!(config.ids_to_give(ROOT), (None, Some(995)));
        // A config the console wrote last: root gives it back to the console's user.
        let written = access(996, 995, 0o640);
        assert_eq!(written.ids_to_give(ROOT), (Some(996), Some(995)));
    }

    #[test]
    fn another_user_keeps_its_own_uid_and_gives_only_the_group() {
        // root:raumwart, replaced by the console: raumwart is the console's own group.
        let config = access(0, 995, 0o640);
        assert_eq!(config.ids_to_give(CONSOLE), (None, None));
        // A group it may be in besides its own: given, the owner never.
        let other = access(0, 110, 0o640);
        assert_eq!(other.ids_to_give(CONSOLE), (None, Some(110)));
        assert_eq!(Access::private().ids_to_give(CONSOLE), (None, None));
    }

    #[test]
    fn a_group_not_given_gets_no_more_than_others() {
        assert_eq!(access(0, 110, 0o640).mode_in_own_group(), 0o600);
        assert_eq!(access(0, 110, 0o440).mode_in_own_group(), 0o400);
        assert_eq!(access(0, 110, 0o644).mode_in_own_group(), 0o644);
        assert_eq!(access(0, 110, 0o750).mode_in_own_group(), 0o700);
    }

    type Entry = (OsString, String, u32, u32, u32, u64);

    /// A config's folder `tree` (config.toml, schools/a.pw) and a folder `outside` beside
    /// it holding victim.pw, standing in for a system file.
    struct Trees {
        top: PathBuf,
        tree: PathBuf,
        outside: PathBuf,
    }

    impl Trees {
        fn new(name: &str) -> Trees {
            let top = std::env::temp_dir()
                .join(format!("raumwart-test-tree-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&top);
            let (tree, outside) = (top.join("tree"), top.join("outside"));
            fs::create_dir_all(tree.join("schools")).unwrap();
            fs::create_dir_all(&outside).unwrap();
            fs::write(tree.join("config.toml"), "").unwrap();
            fs::write(tree.join("schools/a.pw"), "a\n").unwrap();
            fs::write(outside.join("victim.pw"), "victim\n").unwrap();
            let tree = fs::canonicalize(tree).unwrap();
            let outside = fs::canonicalize(outside).unwrap();
            Trees { top, tree, outside }
        }

        /// The value as the config names it, checked as a school command would.
        fn check(&self, file: &str) -> Result<Target, Error> {
            let config = self.tree.join("config.toml");
            Target::check(&self.tree, &config, file, self.tree.join(file))
        }

        /// Every entry of the outside folder: name, content, owner, group, mode, inode.
        fn outside(&self) -> Vec<Entry> {
            let mut all: Vec<_> = fs::read_dir(&self.outside)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    let m = fs::symlink_metadata(e.path()).unwrap();
                    let content = fs::read_to_string(e.path()).unwrap_or_default();
                    (e.file_name(), content, m.uid(), m.gid(), m.mode(), m.ino())
                })
                .collect();
            all.sort();
            all
        }
    }

    impl Drop for Trees {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.top);
        }
    }

    #[test]
    fn a_password_file_outside_the_config_s_folder_is_refused() {
        let t = Trees::new("outside");
        // The folder of schools/ planted as a link out, and schools/ itself one.
        symlink(&t.outside, t.tree.join("schools/evil")).unwrap();
        symlink(&t.outside, t.tree.join("linked")).unwrap();
        symlink(t.outside.join("gone"), t.tree.join("schools/nowhere")).unwrap();
        let victim = t.outside.join("victim.pw").display().to_string();
        for file in [
            victim.as_str(),
            "../outside/victim.pw",
            "schools/../../outside/victim.pw",
            "schools/evil/victim.pw",
            "linked/victim.pw",
            // A new file in a folder that would be made outside.
            "../outside/new/x.pw",
            "schools/evil/new/x.pw",
            "schools/nowhere/x.pw",
            "schools/..",
            "/",
        ] {
            let err = t.check(file).expect_err(file).to_string();
            assert!(
                err.starts_with(&format!(
                    "{}: password file outside the config's folder: {file:?} ",
                    t.tree.join("config.toml").display()
                )) && err.ends_with(&format!("— refused; move it into {}", t.tree.display())),
                "{file}: {err}"
            );
        }
        let err = t.check("../outside/victim.pw").unwrap_err().to_string();
        assert!(err.contains(&format!("leads to {victim} ")), "{err}");
    }

    #[test]
    fn a_password_file_that_is_a_link_is_refused_even_inside() {
        let t = Trees::new("link");
        symlink(t.outside.join("victim.pw"), t.tree.join("schools/x.pw")).unwrap();
        symlink("a.pw", t.tree.join("schools/y.pw")).unwrap();
        for (file, what) in [
            (
                "schools/x.pw",
                format!("a link to {}", t.outside.join("victim.pw").display()),
            ),
            ("schools/y.pw", "a link to a.pw".to_owned()),
            ("schools", "a folder".to_owned()),
        ] {
            let err = t.check(file).expect_err(file).to_string();
            assert!(
                err.contains(&format!(
                    "password file {file:?} is {what}, not a plain file"
                )),
                "{file}: {err}"
            );
        }
    }

    #[test]
    fn a_password_file_inside_the_config_s_folder_is_a_target() {
        let t = Trees::new("inside");
        // A link inside the tree to a folder inside it is followed: the folder is held.
        fs::create_dir(t.tree.join("2026")).unwrap();
        symlink("2026", t.tree.join("current")).unwrap();
        let inside = t.tree.join("schools/a.pw").display().to_string();
        for (file, folders, name) in [
            ("schools/a.pw", vec!["schools"], "a.pw"),
            ("schools/new.pw", vec!["schools"], "new.pw"),
            (inside.as_str(), vec!["schools"], "a.pw"),
            ("./schools/../schools/a.pw", vec!["schools"], "a.pw"),
            ("top.pw", vec![], "top.pw"),
            ("current/x.pw", vec!["2026"], "x.pw"),
            ("new/sub/x.pw", vec!["new", "sub"], "x.pw"),
        ] {
            let target = t.check(file).unwrap_or_else(|e| panic!("{file}: {e}"));
            let folders: Vec<OsString> = folders.into_iter().map(OsString::from).collect();
            assert_eq!(
                (&target.folders, target.name.to_str()),
                (&folders, Some(name))
            );
            assert_eq!(target.shown, t.tree.join(file));
        }
    }

    /// The console's user swaps schools/ for a link out after the command looked: what
    /// the command writes, renames and deletes stays in the folder it opened.
    #[test]
    fn a_folder_swapped_for_a_link_after_it_was_opened_moves_nothing() {
        let t = Trees::new("swap");
        fs::write(t.outside.join("a.pw"), "outside\n").unwrap();
        fs::write(t.outside.join("b.pw"), "outside\n").unwrap();
        let before = t.outside();
        let root = Folder::tree(&t.tree).unwrap();
        let held = Arc::new(root.child(OsStr::new("schools"), false).unwrap());
        let place = |name: &str| Place {
            folder: held.clone(),
            name: name.into(),
        };
        fs::rename(t.tree.join("schools"), t.tree.join("moved")).unwrap();
        symlink(&t.outside, t.tree.join("schools")).unwrap();

        let temp = place("a.pw").temp();
        temp.write_new(b"new\n", Access::private()).unwrap();
        temp.rename_to(&place("a.pw")).unwrap();
        place("b.pw").remove().unwrap_err();
        assert_eq!(
            fs::read_to_string(t.tree.join("moved/a.pw")).unwrap(),
            "new\n"
        );
        assert_eq!(t.outside(), before);

        // Opened again now, the link is refused, and no folder is made through it.
        let err = root.child(OsStr::new("schools"), true).unwrap_err();
        assert!(err.to_string().contains("a link or another file"), "{err}");
        symlink(&t.outside, t.tree.join("made")).unwrap();
        root.child(OsStr::new("made"), true).unwrap_err();
        assert_eq!(t.outside(), before);
    }

    #[test]
    fn a_missing_folder_is_made_with_its_parent_s_owner_group_and_mode() {
        let t = Trees::new("made");
        fs::set_permissions(&t.tree, fs::Permissions::from_mode(0o750)).unwrap();
        let root = Folder::tree(&t.tree).unwrap();
        let new = root.child(OsStr::new("new"), true).unwrap();
        new.child(OsStr::new("sub"), true).unwrap();
        let parent = fs::metadata(&t.tree).unwrap();
        for folder in ["new", "new/sub"] {
            let made = fs::symlink_metadata(t.tree.join(folder)).unwrap();
            assert!(made.is_dir());
            assert_eq!(
                (made.uid(), made.gid(), made.mode() & 0o7777),
                (parent.uid(), parent.gid(), 0o750)
            );
        }
    }
}
