//! The console's own data in one SQLite file: staff accounts, their sessions, the audit
//! log and failed logins. Never a password in clear, never a session token in clear
//! (only its SHA-256), nothing of pupils.
//!
//! The file is written by the console (user raumwart) and by `raumwart console user …`
//! (often root): a file root creates is handed to the owner of its folder, and the
//! rollback journal (not WAL, whose side files would stay root's) keeps no second file.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

/// Bumped with every change to the schema below; older files are migrated by `open`.
const SCHEMA: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: made by a newer raumwart (schema {found}, this one knows {SCHEMA})", path.display())]
    Newer { path: PathBuf, found: i64 },
}

/// Whose schools an account sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The provider's admins: every media centre.
    Provider,
    /// One media centre's staff: its `[[media_centre]]` id, or None for the one
    /// `[media_centre]` table.
    MediaCentre(Option<String>),
}

impl Scope {
    /// Whether a school of `centre` (`Config::media_centre_id`) is this account's.
    pub fn covers(&self, centre: Option<&str>) -> bool {
        match self {
            Scope::Provider => true,
            Scope::MediaCentre(own) => own.as_deref() == centre,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub login: String,
    pub scope: Scope,
}

/// A logged-in session as its request finds it.
#[derive(Debug, Clone)]
pub struct Session {
    pub staff: Staff,
    pub csrf: String,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: i64,
    pub login: String,
    pub media_centre: Option<String>,
    pub action: String,
    pub target: String,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Seconds since the epoch: what the tables keep.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A duration in the tables' seconds.
fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Store {
    /// Opens (creating, migrating) the database file.
    pub fn open(path: &Path) -> Result<Store, Error> {
        let sql = |source| Error::Sqlite {
            path: path.to_owned(),
            source,
        };
        let new = !path.exists();
        let conn = Connection::open(path).map_err(sql)?;
        if new {
            hand_to_folder_owner(path)?;
        }
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
            .map_err(sql)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        if found > SCHEMA {
            return Err(Error::Newer {
                path: path.to_owned(),
                found,
            });
        }
        if found < 1 {
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE staff (
                     login TEXT PRIMARY KEY,
                     hash TEXT NOT NULL,
                     provider INTEGER NOT NULL,
                     media_centre TEXT,
                     created INTEGER NOT NULL);
                 CREATE TABLE sessions (
                     token_sha256 TEXT PRIMARY KEY,
                     login TEXT NOT NULL REFERENCES staff(login) ON DELETE CASCADE,
                     csrf TEXT NOT NULL,
                     created INTEGER NOT NULL,
                     seen INTEGER NOT NULL);
                 CREATE TABLE audit (
                     id INTEGER PRIMARY KEY,
                     at INTEGER NOT NULL,
                     login TEXT NOT NULL,
                     media_centre TEXT,
                     action TEXT NOT NULL,
                     target TEXT NOT NULL);
                 CREATE INDEX audit_at ON audit(at);
                 CREATE TABLE login_failures (
                     key TEXT PRIMARY KEY,
                     failures INTEGER NOT NULL,
                     last INTEGER NOT NULL);
                 PRAGMA user_version = 1;
                 COMMIT;",
            )
            .map_err(sql)?;
        }
        Ok(Store {
            conn,
            path: path.to_owned(),
        })
    }

    fn sql(&self, source: rusqlite::Error) -> Error {
        Error::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    // --- accounts ----------------------------------------------------------------

    /// Adds an account; false when the login is taken.
    pub fn add_staff(&self, staff: &Staff, hash: &str) -> Result<bool, Error> {
        let (provider, centre) = match &staff.scope {
            Scope::Provider => (true, None),
            Scope::MediaCentre(c) => (false, c.clone()),
        };
        let added = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO staff (login, hash, provider, media_centre, created)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![staff.login, hash, provider, centre, now()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(added == 1)
    }

    /// Removes an account and its sessions; false when there was none.
    pub fn remove_staff(&self, login: &str) -> Result<bool, Error> {
        let n = self
            .conn
            .execute("DELETE FROM staff WHERE login = ?1", [login])
            .map_err(|e| self.sql(e))?;
        Ok(n == 1)
    }

    /// Sets a new password hash and ends the account's sessions; false for no account.
    pub fn set_hash(&self, login: &str, hash: &str) -> Result<bool, Error> {
        let n = self
            .conn
            .execute("UPDATE staff SET hash = ?2 WHERE login = ?1", [login, hash])
            .map_err(|e| self.sql(e))?;
        self.conn
            .execute("DELETE FROM sessions WHERE login = ?1", [login])
            .map_err(|e| self.sql(e))?;
        Ok(n == 1)
    }

    /// The account and its password hash.
    pub fn staff(&self, login: &str) -> Result<Option<(Staff, String)>, Error> {
        self.conn
            .query_row(
                "SELECT login, provider, media_centre, hash FROM staff WHERE login = ?1",
                [login],
                |r| Ok((staff_row(r)?, r.get(3)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Every account, by login.
    pub fn all_staff(&self) -> Result<Vec<Staff>, Error> {
        let mut q = self
            .conn
            .prepare("SELECT login, provider, media_centre FROM staff ORDER BY login")
            .map_err(|e| self.sql(e))?;
        let rows = q.query_map([], staff_row).map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    // --- sessions ----------------------------------------------------------------

    pub fn create_session(&self, token_sha256: &str, login: &str, csrf: &str) -> Result<(), Error> {
        let t = now();
        self.conn
            .execute(
                "INSERT INTO sessions (token_sha256, login, csrf, created, seen)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![token_sha256, login, csrf, t],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The live session of a token, marked as seen now. A session idle longer than
    /// `idle`, or older than `longest`, is deleted and not returned.
    pub fn session(
        &self,
        token_sha256: &str,
        idle: Duration,
        longest: Duration,
    ) -> Result<Option<Session>, Error> {
        let t = now();
        self.conn
            .execute(
                "DELETE FROM sessions WHERE seen < ?1 OR created < ?2",
                params![
                    t.saturating_sub(secs(idle)),
                    t.saturating_sub(secs(longest))
                ],
            )
            .map_err(|e| self.sql(e))?;
        let found = self
            .conn
            .query_row(
                "SELECT staff.login, staff.provider, staff.media_centre, sessions.csrf
                 FROM sessions JOIN staff ON staff.login = sessions.login
                 WHERE sessions.token_sha256 = ?1",
                [token_sha256],
                |r| {
                    Ok(Session {
                        staff: staff_row(r)?,
                        csrf: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        if found.is_some() {
            self.conn
                .execute(
                    "UPDATE sessions SET seen = ?2 WHERE token_sha256 = ?1",
                    params![token_sha256, t],
                )
                .map_err(|e| self.sql(e))?;
        }
        Ok(found)
    }

    pub fn end_session(&self, token_sha256: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "DELETE FROM sessions WHERE token_sha256 = ?1",
                [token_sha256],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Moves a session's last request back by `by` (the tests' clock for idle timeouts).
    pub fn age_sessions(&self, by: Duration) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE sessions SET seen = seen - ?1, created = created - ?1",
                [secs(by)],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    // --- failed logins -----------------------------------------------------------

    /// Failures counted for `key` and when the last was; a count older than `forget`
    /// is forgotten.
    pub fn failures(&self, key: &str, forget: Duration) -> Result<(u32, i64), Error> {
        let found: Option<(u32, i64)> = self
            .conn
            .query_row(
                "SELECT failures, last FROM login_failures WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(match found {
            Some((n, last)) if now().saturating_sub(last) < secs(forget) => (n, last),
            _ => (0, 0),
        })
    }

    pub fn count_failure(&self, key: &str, forget: Duration) -> Result<(), Error> {
        let (n, _) = self.failures(key, forget)?;
        self.conn
            .execute(
                "INSERT INTO login_failures (key, failures, last) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET failures = ?2, last = ?3",
                params![key, n + 1, now()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Deletes counts older than `forget` (they no longer count); returns how many.
    pub fn expire_failures(&self, forget: Duration) -> Result<usize, Error> {
        self.conn
            .execute(
                "DELETE FROM login_failures WHERE last < ?1",
                [now().saturating_sub(secs(forget))],
            )
            .map_err(|e| self.sql(e))
    }

    pub fn clear_failures(&self, key: &str) -> Result<(), Error> {
        self.conn
            .execute("DELETE FROM login_failures WHERE key = ?1", [key])
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    // --- audit log ---------------------------------------------------------------

    pub fn audit(
        &self,
        login: &str,
        media_centre: Option<&str>,
        action: &str,
        target: &str,
    ) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO audit (at, login, media_centre, action, target)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now(), login, media_centre, action, target],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The newest `limit` entries an account may read, newest first.
    pub fn audit_log(&self, scope: &Scope, limit: usize) -> Result<Vec<Entry>, Error> {
        let mut q = self
            .conn
            .prepare(
                "SELECT at, login, media_centre, action, target FROM audit
                 ORDER BY at DESC, id DESC",
            )
            .map_err(|e| self.sql(e))?;
        let rows = q
            .query_map([], |r| {
                Ok(Entry {
                    at: r.get(0)?,
                    login: r.get(1)?,
                    media_centre: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        let mut out = vec![];
        for row in rows {
            let entry = row.map_err(|e| self.sql(e))?;
            if scope.covers(entry.media_centre.as_deref()) {
                out.push(entry);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Deletes audit entries older than `retention`; returns how many.
    pub fn expire_audit(&self, retention: Duration) -> Result<usize, Error> {
        self.conn
            .execute(
                "DELETE FROM audit WHERE at < ?1",
                [now().saturating_sub(secs(retention))],
            )
            .map_err(|e| self.sql(e))
    }
}

fn staff_row(r: &rusqlite::Row) -> rusqlite::Result<Staff> {
    let provider: bool = r.get(1)?;
    Ok(Staff {
        login: r.get(0)?,
        scope: match provider {
            true => Scope::Provider,
            false => Scope::MediaCentre(r.get(2)?),
        },
    })
}

/// A new database file: mode 0600, owned like its folder (root's command leaves it to
/// the console's user, who owns the state folder).
fn hand_to_folder_owner(path: &Path) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
    let folder = std::fs::metadata(folder.unwrap_or(Path::new("."))).map_err(io)?;
    let file = std::fs::metadata(path).map_err(io)?;
    if (file.uid(), file.gid()) != (folder.uid(), folder.gid()) {
        std::os::unix::fs::chown(path, Some(folder.uid()), Some(folder.gid())).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Store, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "raumwart-store-{}-{}",
            std::process::id(),
            crate::console::auth::token()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        (Store::open(&dir.join("c.sqlite")).unwrap(), dir)
    }

    fn staff(login: &str, centre: &str) -> Staff {
        Staff {
            login: login.into(),
            scope: Scope::MediaCentre(Some(centre.into())),
        }
    }

    #[test]
    fn sessions_end_when_idle_and_with_their_account() {
        let (s, dir) = store();
        assert!(s.add_staff(&staff("anna", "kmz-a"), "h").unwrap());
        assert!(!s.add_staff(&staff("anna", "kmz-b"), "h").unwrap());
        s.create_session("t1", "anna", "c1").unwrap();
        let idle = Duration::from_secs(600);
        let long = Duration::from_secs(3600);
        assert_eq!(s.session("t1", idle, long).unwrap().unwrap().csrf, "c1");
        assert!(s.session("t2", idle, long).unwrap().is_none());
        s.age_sessions(Duration::from_secs(601)).unwrap();
        assert!(s.session("t1", idle, long).unwrap().is_none());
        s.create_session("t3", "anna", "c3").unwrap();
        assert!(s.set_hash("anna", "h2").unwrap());
        assert!(s.session("t3", idle, long).unwrap().is_none());
        s.create_session("t4", "anna", "c4").unwrap();
        assert!(s.remove_staff("anna").unwrap());
        assert!(s.session("t4", idle, long).unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_audit_log_shows_each_account_its_own_media_centre() {
        let (s, dir) = store();
        s.audit("anna", Some("kmz-a"), "school-added", "gs-a")
            .unwrap();
        s.audit("bert", Some("kmz-b"), "school-added", "gs-b")
            .unwrap();
        let a = s
            .audit_log(&Scope::MediaCentre(Some("kmz-a".into())), 10)
            .unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].target, "gs-a");
        assert_eq!(s.audit_log(&Scope::Provider, 10).unwrap().len(), 2);
        assert_eq!(s.expire_audit(Duration::from_secs(3600)).unwrap(), 0);
        assert_eq!(s.expire_audit(Duration::ZERO).unwrap(), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn failures_are_counted_and_forgotten() {
        let (s, dir) = store();
        let forget = Duration::from_secs(3600);
        s.count_failure("login:anna", forget).unwrap();
        s.count_failure("login:anna", forget).unwrap();
        assert_eq!(s.failures("login:anna", forget).unwrap().0, 2);
        assert_eq!(s.failures("login:anna", Duration::ZERO).unwrap().0, 0);
        s.clear_failures("login:anna").unwrap();
        assert_eq!(s.failures("login:anna", forget).unwrap().0, 0);
        s.count_failure("addr:203.0.113.9", forget).unwrap();
        assert_eq!(s.expire_failures(forget).unwrap(), 0);
        assert_eq!(s.expire_failures(Duration::from_secs(0)).unwrap(), 0);
        s.conn
            .execute("UPDATE login_failures SET last = last - 3601", [])
            .unwrap();
        assert_eq!(s.expire_failures(forget).unwrap(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
