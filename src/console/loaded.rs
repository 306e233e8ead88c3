//! The config as the console's pages and the register watcher see it: loaded again only
//! when the config file or a file it read (a password, a token) changed. Loading a whole
//! state's register (5,000 schools, 100,000 rooms) costs about 0.4 s of CPU, checks
//! included; looking at its files costs a `stat` each.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::{self, Config};

/// A file as last seen: size, modification time (s, ns), inode. Edits through
/// `crate::schools` replace files (a new inode), so a change within one tick of the
/// clock is seen too.
type Seen = (u64, i64, i64, u64);

/// The files a load read, and how they looked.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Stamps {
    paths: Vec<PathBuf>,
    seen: Vec<Seen>,
}

impl Stamps {
    /// How `paths` look now; a missing file is all zeros.
    pub(crate) fn of(paths: Vec<PathBuf>) -> Stamps {
        let seen = paths
            .iter()
            .map(|p| {
                std::fs::metadata(p).map_or((0, 0, 0, 0), |m| {
                    (m.size(), m.mtime(), m.mtime_nsec(), m.ino())
                })
            })
            .collect();
        Stamps { paths, seen }
    }

    /// The config file and the files `config` read.
    fn files(path: &Path, config: &Config) -> Vec<PathBuf> {
        std::iter::once(path.to_owned())
            .chain(config.read_files.iter().cloned())
            .collect()
    }

    /// Whether none of the files changed since.
    pub(crate) fn unchanged(&self) -> bool {
        Stamps::of(self.paths.clone()).seen == self.seen
    }

    /// Loads the config at `path`. `files` are what the last load read (at first, the
    /// config file), and become what this one read. The stamps come back only if those
    /// files looked the same before and after the load: a file replaced while it was
    /// read is read again at the next look.
    pub(crate) fn load(
        path: &Path,
        files: &mut Vec<PathBuf>,
    ) -> (Result<Config, config::Error>, Option<Stamps>) {
        let before = Stamps::of(files.clone());
        let loaded = config::load(path);
        if let Ok(config) = &loaded {
            *files = Stamps::files(path, config);
        }
        let after = Stamps::of(files.clone());
        (loaded, (after == before).then_some(after))
    }
}

/// The last load of one config file, shared by the console's requests.
pub(crate) struct Cache {
    path: PathBuf,
    last: Mutex<Last>,
}

struct Last {
    /// What the last load read (at first, only the config file).
    files: Vec<PathBuf>,
    /// Its result, while its files stay as they were.
    kept: Option<(Stamps, Arc<Config>)>,
}

impl Cache {
    pub(crate) fn new(path: PathBuf) -> Cache {
        Cache {
            last: Mutex::new(Last {
                files: vec![path.clone()],
                kept: None,
            }),
            path,
        }
    }

    /// The config as it is now; a load is kept while its files stay as they were.
    pub(crate) fn get(&self) -> Result<Arc<Config>, config::Error> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((stamps, config)) = &last.kept {
            if stamps.unchanged() {
                return Ok(config.clone());
            }
        }
        last.kept = None;
        let (loaded, stamps) = Stamps::load(&self.path, &mut last.files);
        let config = Arc::new(loaded?);
        last.kept = stamps.map(|s| (s, config.clone()));
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        // As `crate::schools` writes: a new file put in place.
        let new = path.with_extension("new");
        std::fs::write(&new, text).unwrap();
        std::fs::rename(&new, path).unwrap();
    }

    #[test]
    fn loads_again_only_when_a_file_it_read_changed() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let dir = std::env::temp_dir().join(format!("raumwart-loaded-{}", std::process::id()));
        for sub in ["valid", "schools"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for file in [
            "valid/one-school.toml",
            "valid/component.secret",
            "schools/gs.pw",
        ] {
            std::fs::copy(fixtures.join(file), dir.join(file)).unwrap();
        }
        let cache = Cache::new(dir.join("valid/one-school.toml"));

        cache.get().expect("the fixture loads");
        // The first load knew only the config file beforehand: kept from the second on.
        let second = cache.get().unwrap();
        let third = cache.get().unwrap();
        assert!(
            Arc::ptr_eq(&second, &third),
            "an unchanged config was loaded again"
        );

        // The school's password file replaced: the next call has the new password.
        write(&dir.join("schools/gs.pw"), "Mondlicht-Fenster-Biber-42\n");
        let fourth = cache.get().unwrap();
        assert!(
            !Arc::ptr_eq(&third, &fourth),
            "a changed password file was not read"
        );
        assert_eq!(
            fourth.schools[0].rooms[0].password.expose(),
            "Mondlicht-Fenster-Biber-42"
        );
        // The config file replaced, as an edit of the register does.
        let text = std::fs::read_to_string(dir.join("valid/one-school.toml")).unwrap();
        write(
            &dir.join("valid/one-school.toml"),
            &text.replace("1a\"]", "1a\", \"gs-musterstadt-2b\"]"),
        );
        assert_eq!(cache.get().unwrap().schools[0].rooms.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
