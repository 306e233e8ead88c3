//! The transaction behind every school command: the config file edited with `toml_edit`
//! (comments and layout kept), validated as `check` would before anything is written,
//! new password files written first and removed again on failure, the config file
//! replaced by a rename, each file with the owner, group and mode the daemon needs. An
//! edit is opened under the config's lock ([`ConfigLock`]) and commits only under its
//! exclusive form.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
        Ok(Edit {
            files,
            lock,
            text,
            doc,
            created: vec![],
            references: vec![],
            replaced: vec![],
            by_path: vec![],
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
    pub(super) fn replace(
        &mut self,
        school: &SchoolBlock,
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
    pub(super) fn commit(self) -> Result<config::Config, Error> {
        assert!(
            self.lock.is_exclusive(),
            "a change of the config is committed under its exclusive lock"
        );
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
            .flat_map(SchoolBlock::files)
            .filter_map(|f| self.resolve(&f).ok())
            .filter(|p| p != new && p.parent() == Some(dir) && p.is_file())
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
