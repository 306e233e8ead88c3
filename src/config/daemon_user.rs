//! The user the daemon runs as, and whether that user can read a file.
//!
//! Root reads every file, so `raumwart check` and the school commands run as root learn
//! nothing from their own reads about what the daemon (user `raumwart`, unit
//! `raumwart.service`) will be able to read at its next reload or start. This module
//! answers that without switching users: the user's ids from /etc/passwd and /etc/group
//! (the package's system user is a local one), and the permission bits of the file and
//! of every folder above it, compared as the kernel compares them. ACLs are not read.

use std::fmt;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::cli::DEFAULT_CONFIG;

/// The system user the package creates (debian/raumwart.sysusers) and the packaged unit
/// runs as (`User=`); tests/system/package.rs checks that all three agree.
pub const DAEMON_USER: &str = "raumwart";

/// Where systemd looks for raumwart.service and its drop-ins, highest precedence first.
const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// What the installed unit says about the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// `User=`.
    pub user: String,
    /// The `--config` of `ExecStart=`.
    pub config: PathBuf,
}

impl Unit {
    /// The unit systemd would run (its file, then its drop-ins; the last setting wins),
    /// or the package's defaults when none is installed.
    pub fn installed() -> Unit {
        Unit::from_text(&unit_text())
    }

    /// Reads `User=` and `ExecStart=`'s `--config` from unit text.
    pub fn from_text(text: &str) -> Unit {
        let mut unit = Unit {
            user: DAEMON_USER.to_owned(),
            config: PathBuf::from(DEFAULT_CONFIG),
        };
        for line in text.lines().map(str::trim) {
            if let Some(user) = line.strip_prefix("User=") {
                unit.user = user.trim().to_owned();
            } else if let Some(exec) = line.strip_prefix("ExecStart=") {
                let mut words = exec.split_whitespace();
                while let Some(word) = words.next() {
                    let value = match word {
                        "--config" | "-c" => words.next(),
                        _ => word.strip_prefix("--config="),
                    };
                    if let Some(value) = value {
                        unit.config = PathBuf::from(value);
                    }
                }
            }
        }
        unit
    }
}

/// The text of the installed raumwart.service followed by its drop-ins (`*.conf` in
/// `raumwart.service.d/`, by name), as systemd reads them; empty when none is installed.
pub fn unit_text() -> String {
    let mut text = UNIT_DIRS
        .iter()
        .find_map(|d| fs::read_to_string(Path::new(d).join("raumwart.service")).ok())
        .unwrap_or_default();
    let mut dropins: Vec<(std::ffi::OsString, PathBuf)> = vec![];
    for dir in UNIT_DIRS {
        let Ok(entries) = fs::read_dir(Path::new(dir).join("raumwart.service.d")) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            // A drop-in of a higher-precedence folder hides the one of the same name.
            if name.to_string_lossy().ends_with(".conf") && !dropins.iter().any(|(n, _)| *n == name)
            {
                dropins.push((name, entry.path()));
            }
        }
    }
    dropins.sort();
    for (_, path) in dropins {
        text.push('\n');
        text.push_str(&fs::read_to_string(path).unwrap_or_default());
    }
    text
}

/// A local user: its uid and every group it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (listed as a member in /etc/group).
    pub groups: Vec<u32>,
}

impl Identity {
    /// `name` from /etc/passwd and /etc/group; None when there is no such user.
    pub fn lookup(name: &str) -> Option<Identity> {
        let passwd = fs::read_to_string("/etc/passwd").ok()?;
        let group = fs::read_to_string("/etc/group").unwrap_or_default();
        Identity::lookup_in(&passwd, &group, name)
    }

    /// `name` from the texts of a passwd and a group file.
    pub fn lookup_in(passwd: &str, group: &str, name: &str) -> Option<Identity> {
        let fields: Vec<&str> = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 4 && f[0] == name)?;
        let uid = fields[2].parse().ok()?;
        let gid = fields[3].parse().ok()?;
        let groups = group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4 && f[3].split(',').any(|m| m.trim() == name))
            .filter_map(|f| f[2].parse().ok())
            .collect();
        Some(Identity {
            name: name.to_owned(),
            uid,
            gid,
            groups,
        })
    }

    fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    /// Whether the permission bits let this user do `what` (4 read, 1 search): the
    /// owner's bits for the owner, else the group's for a member, else the others'.
    fn may(&self, meta: &fs::Metadata, what: u32) -> bool {
        self.may_with(meta.uid(), meta.gid(), meta.mode(), what)
    }

    fn may_with(&self, owner: u32, group: u32, mode: u32, what: u32) -> bool {
        let bits = if self.uid == 0 {
            return true;
        } else if owner == self.uid {
            mode >> 6
        } else if self.in_group(group) {
            mode >> 3
        } else {
            mode
        };
        bits & what == what
    }

    /// Why this user could not read `path`, or None when it could.
    pub fn cannot_read(&self, path: &Path) -> Option<Unreadable> {
        let unreadable = |at: &Path, meta: Option<&fs::Metadata>, reason: &str| Unreadable {
            user: self.name.clone(),
            path: path.to_owned(),
            at: at.to_owned(),
            owner: meta.map(|m| (m.uid(), m.gid(), m.mode() & 0o7777)),
            folder: meta.is_some_and(fs::Metadata::is_dir),
            reason: reason.to_owned(),
        };
        let real = match fs::canonicalize(path) {
            Ok(real) => real,
            Err(e) => return Some(unreadable(path, None, &e.to_string())),
        };
        // Every folder on the way needs search permission (x), the file read (r).
        let mut folders: Vec<&Path> = real.ancestors().skip(1).collect();
        folders.reverse();
        for folder in folders {
            match fs::metadata(folder) {
                Ok(meta) if self.may(&meta, 1) => {}
                Ok(meta) => return Some(unreadable(folder, Some(&meta), "no way into")),
                Err(e) => return Some(unreadable(folder, None, &e.to_string())),
            }
        }
        match fs::metadata(&real) {
            Ok(meta) if self.may(&meta, 4) => None,
            Ok(meta) => Some(unreadable(&real, Some(&meta), "may not read")),
            Err(e) => Some(unreadable(&real, None, &e.to_string())),
        }
    }
}

/// Why the daemon's user could not read a file: where on the way it is stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub user: String,
    pub path: PathBuf,
    /// The file itself, or the folder above it that stops the user.
    pub at: PathBuf,
    /// Owner, group and mode of `at`, when it could be read.
    pub owner: Option<(u32, u32, u32)>,
    /// `at` is a folder above the file.
    pub folder: bool,
    reason: String,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the daemon's user {} could not read {}: ",
            self.user,
            self.path.display()
        )?;
        match self.owner {
            Some((uid, gid, mode)) => {
                let at = match self.folder {
                    true => self.at.display().to_string(),
                    false => "it".to_owned(),
                };
                write!(
                    f,
                    "{} {at} ({}:{} {mode:04o}); as the package has them: files group {} \
                     and mode 0640, folders 0750",
                    self.reason,
                    user_name(uid),
                    group_name(gid),
                    self.user,
                )
            }
            None => write!(f, "{}: {}", self.at.display(), self.reason),
        }
    }
}

/// A uid's name from /etc/passwd, else the number.
pub fn user_name(uid: u32) -> String {
    name_of("/etc/passwd", uid)
}

/// A gid's name from /etc/group, else the number.
pub fn group_name(gid: u32) -> String {
    name_of("/etc/group", gid)
}

fn name_of(file: &str, id: u32) -> String {
    fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse() == Ok(id)).then(|| f[0].to_owned())
            })
        })
        .unwrap_or_else(|| id.to_string())
}

/// Whether this process runs as root (its files are root's).
pub fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// What to check `config`'s files against: the daemon's user, when this runs as root
/// and `config` is the file the installed unit (or the package's default) runs with.
/// Another user reads as itself, so its own reads already say what it can read.
pub enum Daemon {
    /// Not root, or not the daemon's configuration: nothing to check.
    NotApplicable,
    /// The unit's user does not exist here (systemd would make a dynamic one).
    NoSuchUser(String),
    User(Identity),
}

impl Daemon {
    pub fn for_config(config: &Path) -> Daemon {
        if !running_as_root() {
            return Daemon::NotApplicable;
        }
        let unit = Unit::installed();
        let same = match (fs::canonicalize(config), fs::canonicalize(&unit.config)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same {
            return Daemon::NotApplicable;
        }
        match Identity::lookup(&unit.user) {
            Some(id) => Daemon::User(id),
            None => Daemon::NoSuchUser(unit.user),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
                          raumwart:x:996:995:raumwart:/nonexistent:/usr/sbin/nologin\n";
    const GROUP: &str = "root:x:0:\nraumwart:x:995:\nssl-cert:x:110:prosody,raumwart\n";

    #[test]
    fn a_user_has_its_own_group_and_those_that_list_it() {
        let id = Identity::lookup_in(PASSWD, GROUP, "raumwart").unwrap();
        assert_eq!((id.uid, id.gid, id.groups), (996, 995, vec![110]));
        assert_eq!(Identity::lookup_in(PASSWD, GROUP, "raum"), None);
    }

    #[test]
    fn the_unit_names_user_and_config_and_a_later_setting_wins() {
        let unit = Unit::from_text(
            "[Service]\nExecStart=/usr/bin/raumwart run --config /etc/raumwart/config.toml\n\
             User=raumwart\n",
        );
        assert_eq!(unit.user, "raumwart");
        assert_eq!(unit.config, Path::new("/etc/raumwart/config.toml"));
        let unit = Unit::from_text(
            "User=raumwart\nExecStart=/usr/bin/raumwart run\n[Service]\nUser=kmz\n\
             ExecStart=\nExecStart=/usr/bin/raumwart run --config=/srv/rw.toml\n",
        );
        assert_eq!(unit.user, "kmz");
        assert_eq!(unit.config, Path::new("/srv/rw.toml"));
        assert_eq!(Unit::from_text("").user, DAEMON_USER);
    }

    #[test]
    fn permission_bits_are_read_as_the_kernel_does() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("raumwart-daemon-user-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("gs.pw");
        fs::write(&file, "x\n").unwrap();
        let meta = fs::metadata(&file).unwrap();
        let (uid, gid) = (meta.uid(), meta.gid());
        // A user who is neither owner nor in the group: the others' bits.
        let stranger = Identity {
            name: "stranger".into(),
            uid: uid.wrapping_add(1).max(1),
            gid: gid.wrapping_add(1),
            groups: vec![],
        };
        let member = Identity {
            groups: vec![gid],
            ..stranger.clone()
        };
        let set =
            |p: &Path, mode| fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
        set(&dir, 0o755);
        set(&file, 0o640);
        assert!(member.cannot_read(&file).is_none());
        let why = stranger.cannot_read(&file).unwrap();
        assert_eq!(why.at, fs::canonicalize(&file).unwrap());
        assert!(why.to_string().contains("may not read it"), "{why}");
        // A folder without search permission stops the user before the file.
        set(&file, 0o644);
        set(&dir, 0o750);
        let why = stranger.cannot_read(&file).unwrap();
        assert_eq!(why.at, fs::canonicalize(&dir).unwrap());
        assert!(why.to_string().contains("no way into"), "{why}");
        assert!(member.cannot_read(&file).is_none());
        set(&dir, 0o755);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_owner_class_decides_for_the_owner_the_group_class_for_a_member() {
        let user = Identity {
            name: "raumwart".into(),
            uid: 996,
            gid: 995,
            groups: vec![110],
        };
        // root:raumwart 0640, as the package has the password files.
        assert!(user.may_with(0, 995, 0o640, 4));
        // A supplementary group counts like the user's own.
        assert!(user.may_with(0, 110, 0o640, 4));
        // root:root 0600, as `school add` wrote them before.
        assert!(!user.may_with(0, 0, 0o600, 4));
        // The owner gets the owner's bits only, even when the group's would allow.
        assert!(!user.may_with(996, 995, 0o040, 4));
        assert!(user.may_with(5, 6, 0o004, 4));
        // Folders need search permission.
        assert!(user.may_with(0, 995, 0o750, 1));
        assert!(!user.may_with(0, 995, 0o700, 1));
        // root reads everything.
        let root = Identity { uid: 0, ..user };
        assert!(root.may_with(5, 6, 0o000, 4));
    }
}
