//! The config file's lock: the console (user `raumwart`) and an admin's `raumwart school`
//! (usually root) change the same file, and two changes at the same moment must not lose
//! one of them. Every change holds the lock exclusively from reading the config to its
//! last rename (and the deletions after it); a read holds it shared, so it never sees
//! half of a change (the config renamed, the password files it names not yet).
//!
//! The lock is an advisory `flock` on a file beside the config, `.config.toml.lock` for
//! `config.toml`: not on the config itself, which a change replaces by a rename, so a
//! lock on its old inode would not keep out a writer that opened the new one. The file
//! stays when the lock is released: deleting it would let one writer lock the deleted
//! file while the next locks a new one. It is made with the config's group, mode 0660
//! when that group may read the config (else 0600), never for others, so root and the
//! console's user can both open it; a lock needs only a file opened for reading.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::edit::Access;
use super::{io, Error};
use crate::config;

/// How long a command waits for another change to finish before it gives up. A change
/// takes well under a second; 10 s is a change that hangs (a stopped process, a slow
/// disk), which the admin should hear about rather than wait for.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Between two tries while another holds the lock: from 1 ms, doubled to at most this,
/// so a short change is followed at once and a long one costs few wake-ups.
const POLL_MAX: Duration = Duration::from_millis(50);

/// The lock file of `config`: `.NAME.lock` in its folder.
pub fn lock_file(config: &Path) -> PathBuf {
    let name = config
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    config.with_file_name(format!(".{name}.lock"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exclusive,
    Shared,
}

/// A held lock on a config file; released when dropped (the file is closed). The
/// operations of [`crate::schools`] take it themselves: one called while the caller holds
/// it waits for the caller, and gives up after [`LOCK_WAIT`].
#[derive(Debug)]
pub struct ConfigLock {
    /// None: a read by a user who may not create the lock file (it reads without).
    file: Option<File>,
    kind: Kind,
}

impl ConfigLock {
    /// For a change: waits up to [`LOCK_WAIT`] for the changes and reads that hold it.
    pub fn exclusive(config: &Path) -> Result<ConfigLock, Error> {
        ConfigLock::take(config, Kind::Exclusive, LOCK_WAIT)
    }

    /// For a read: waits up to [`LOCK_WAIT`] for a change that holds it; reads share it. A
    /// user who may not create the lock file reads without it (every file is replaced
    /// by a rename, so each one read is whole).
    pub fn shared(config: &Path) -> Result<ConfigLock, Error> {
        ConfigLock::take(config, Kind::Shared, LOCK_WAIT)
    }

    pub(super) fn is_exclusive(&self) -> bool {
        self.kind == Kind::Exclusive && self.file.is_some()
    }

    fn take(config: &Path, kind: Kind, wait: Duration) -> Result<ConfigLock, Error> {
        // The config's own read error first: the same report as `check` for a missing file.
        let meta = fs::metadata(config).map_err(|source| {
            Error::Config(config::Error::Read {
                path: config.to_owned(),
                source,
            })
        })?;
        let path = lock_file(config);
        let file = match open(&path, &meta) {
            Ok(file) => file,
            Err(Error::Io { source, .. }) if kind == Kind::Shared && may_read_without(&source) => {
                return Ok(ConfigLock { file: None, kind })
            }
            Err(e) => return Err(e),
        };
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(1);
        loop {
            let tried = match kind {
                Kind::Exclusive => file.try_lock(),
                Kind::Shared => file.try_lock_shared(),
            };
            match tried {
                Ok(()) => {
                    return Ok(ConfigLock {
                        file: Some(file),
                        kind,
                    })
                }
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(source)) => return Err(Error::Io { path, source }),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Busy { lock: path, wait });
            }
            // No blocking lock with a timeout in std: try again after a pause.
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(POLL_MAX);
        }
    }
}

/// A reader that may not make the lock file, in a folder it cannot write.
fn may_read_without(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem
    )
}

/// Opens the lock file, making it when it is missing. Only a plain file is opened: the
/// folder is writable by the console's user, and root must not be made to open a fifo
/// (which would block) or follow a link in its place.
fn open(path: &Path, config: &fs::Metadata) -> Result<File, Error> {
    loop {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_file() => {
                let file = File::open(path).map_err(io(path))?;
                let opened = file.metadata().map_err(io(path))?;
                if (opened.dev(), opened.ino()) == (meta.dev(), meta.ino()) {
                    return Ok(file);
                }
                // Replaced between the look and the open: look again.
            }
            Ok(_) => {
                return Err(io(path)(std::io::Error::new(
                    ErrorKind::InvalidInput,
                    "not a plain file; remove it, it is made again",
                )))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // create_new neither follows a link nor opens what another made meanwhile.
                match fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                {
                    Ok(file) => {
                        Access::lock_file(config).apply(&file, path)?;
                        return Ok(file);
                    }
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io(path)(e)),
                }
            }
            Err(e) => return Err(io(path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fresh folder with a config file of `mode`.
    fn folder(name: &str, mode: u32) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("raumwart-test-lock-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.toml");
        fs::write(&config, "").unwrap();
        fs::set_permissions(&config, fs::Permissions::from_mode(mode)).unwrap();
        config
    }

    #[test]
    fn the_lock_file_is_beside_the_config_hidden() {
        assert_eq!(
            lock_file(Path::new("/etc/raumwart/config.toml")),
            Path::new("/etc/raumwart/.config.toml.lock")
        );
    }

    #[test]
    fn a_second_change_waits_and_then_says_which_file_is_held() {
        let config = folder("busy", 0o640);
        let held = ConfigLock::exclusive(&config).unwrap();
        assert!(held.is_exclusive());
        let wait = Duration::from_millis(30);
        for kind in [Kind::Exclusive, Kind::Shared] {
            let started = Instant::now();
            let err = ConfigLock::take(&config, kind, wait).unwrap_err();
            assert!(started.elapsed() >= wait, "{kind:?} gave up early");
            let text = err.to_string();
            assert!(
                matches!(err, Error::Busy { .. })
                    && text.contains(&lock_file(&config).display().to_string()),
                "{kind:?}: {text}"
            );
        }
        // Reads share it; a change waits for them.
        drop(held);
        let read = ConfigLock::shared(&config).unwrap();
        let second = ConfigLock::take(&config, Kind::Shared, wait).unwrap();
        assert!(!read.is_exclusive());
        let err = ConfigLock::take(&config, Kind::Exclusive, wait).unwrap_err();
        assert!(matches!(err, Error::Busy { .. }), "{err}");
        drop((read, second));
        ConfigLock::take(&config, Kind::Exclusive, wait).expect("free again");
        fs::remove_dir_all(config.parent().unwrap()).unwrap();
    }

    #[test]
    fn the_lock_file_has_the_config_s_group_and_is_never_for_others() {
        for (config_mode, lock_mode) in [(0o640, 0o660), (0o644, 0o660), (0o600, 0o600)] {
            let config = folder(&format!("{config_mode:o}"), config_mode);
            drop(ConfigLock::exclusive(&config).unwrap());
            let lock = fs::metadata(lock_file(&config)).unwrap();
            let gid = fs::metadata(&config).unwrap().gid();
            assert_eq!(
                (lock.mode() & 0o7777, lock.gid()),
                (lock_mode, gid),
                "config {config_mode:o}"
            );
            fs::remove_dir_all(config.parent().unwrap()).unwrap();
        }
    }

    #[test]
    fn only_a_plain_lock_file_is_opened() {
        let config = folder("link", 0o640);
        let target = config.with_file_name("elsewhere");
        fs::write(&target, "").unwrap();
        std::os::unix::fs::symlink(&target, lock_file(&config)).unwrap();
        let err = ConfigLock::exclusive(&config).unwrap_err();
        assert!(err.to_string().contains("not a plain file"), "{err}");
        fs::remove_dir_all(config.parent().unwrap()).unwrap();
    }
}
