//! The files `setup` writes: each computed whole before any is written, then every one
//! written to a temporary file beside it with its owner, group and mode, and only when
//! all of them are there renamed into place, so a failure leaves the old files as they
//! were.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{io, Error};
use crate::config::daemon_user::{group_name, running_as_root, user_name};

/// Owner, group and permission bits of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

impl Access {
    pub(super) fn of(meta: &fs::Metadata) -> Access {
        Access {
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode() & 0o7777,
        }
    }

    /// A file holding a secret: root's (this process's when it is not root), readable
    /// by `gid`, by no one else.
    pub(super) fn private(gid: u32) -> Access {
        let uid = fs::metadata("/proc/self").map_or(0, |m| m.uid());
        Access {
            uid,
            gid,
            mode: 0o640,
        }
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{} {:04o}",
            user_name(self.uid),
            group_name(self.gid),
            self.mode
        )
    }
}

/// One file as `setup` would leave it.
#[derive(Debug, Clone)]
pub struct FileWrite {
    /// As the admin knows it (a link in conf.d, say).
    pub path: PathBuf,
    /// The file replaced (the link's target).
    pub(super) target: PathBuf,
    /// Its content and access now; None when it does not exist.
    pub old: Option<(String, Access)>,
    pub new: String,
    pub access: Access,
    /// What changes in it, for the summary.
    pub what: Vec<String>,
}

impl FileWrite {
    /// Whether writing it changes anything.
    pub fn changes(&self) -> bool {
        self.old.as_ref() != Some(&(self.new.clone(), self.access))
    }
}

/// Writes every file that changes: all to temporary files first, then the renames.
pub(super) fn commit(writes: &[FileWrite]) -> Result<(), Error> {
    let changed: Vec<&FileWrite> = writes.iter().filter(|w| w.changes()).collect();
    let mut temps: Vec<(PathBuf, &FileWrite)> = vec![];
    for w in &changed {
        let temp = temp_beside(&w.target);
        // Listed before it is made: a failure halfway removes it too.
        temps.push((temp.clone(), w));
        if let Err(e) = write_temp(&temp, w) {
            for (t, _) in &temps {
                let _ = fs::remove_file(t);
            }
            return Err(e);
        }
    }
    for (i, (temp, w)) in temps.iter().enumerate() {
        if let Err(e) = fs::rename(temp, &w.target) {
            for (t, _) in &temps[i..] {
                let _ = fs::remove_file(t);
            }
            return Err(io(&w.path)(e));
        }
    }
    Ok(())
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.setup-{}", std::process::id()))
}

fn write_temp(temp: &Path, w: &FileWrite) -> Result<(), Error> {
    let _ = fs::remove_file(temp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)
        .map_err(io(temp))?;
    file.write_all(w.new.as_bytes()).map_err(io(temp))?;
    // Only root gives a file away; another user's files stay its own.
    if running_as_root() {
        std::os::unix::fs::fchown(&file, Some(w.access.uid), Some(w.access.gid))
            .map_err(io(temp))?;
    }
    // After chown, which clears set-id bits.
    file.set_permissions(fs::Permissions::from_mode(w.access.mode))
        .map_err(io(temp))?;
    file.sync_all().map_err(io(temp))
}

/// A unified diff of `old` and `new` (3 lines of context), headed by `path`.
pub fn unified(path: &Path, old: Option<&str>, new: &str) -> String {
    let a: Vec<&str> = old.map_or(vec![], |o| o.split_inclusive('\n').collect());
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = lines_diff(&a, &b);
    if ops.iter().all(|op| matches!(op, Op::Same(..))) {
        return String::new();
    }
    let mut out = match old {
        Some(_) => format!("--- {p}\n+++ {p}\n", p = path.display()),
        None => format!("--- /dev/null\n+++ {}\n", path.display()),
    };
    const CONTEXT: usize = 3;
    // The changed ops, grouped into hunks that share context.
    let changed: Vec<usize> = (0..ops.len())
        .filter(|&i| !matches!(ops[i], Op::Same(..)))
        .collect();
    let mut i = 0;
    while i < changed.len() {
        let first = changed[i];
        let mut last = first;
        while i + 1 < changed.len() && changed[i + 1] <= last + 2 * CONTEXT + 1 {
            i += 1;
            last = changed[i];
        }
        i += 1;
        let from = first.saturating_sub(CONTEXT);
        let to = (last + CONTEXT + 1).min(ops.len());
        let (mut a_start, mut b_start) = (None, None);
        let (mut a_len, mut b_len) = (0, 0);
        let mut body = String::new();
        for op in &ops[from..to] {
            let (sign, line, ai, bi) = match *op {
                Op::Same(ai, bi) => (' ', a[ai], Some(ai), Some(bi)),
                Op::Del(ai) => ('-', a[ai], Some(ai), None),
                Op::Add(bi) => ('+', b[bi], None, Some(bi)),
            };
            if let Some(ai) = ai {
                a_start.get_or_insert(ai);
                a_len += 1;
            }
            if let Some(bi) = bi {
                b_start.get_or_insert(bi);
                b_len += 1;
            }
            body.push(sign);
            body.push_str(line);
            if !line.ends_with('\n') {
                body.push_str("\n\\ No newline at end of file\n");
            }
        }
        // An empty side starts at the line before (0 for a new file), as diff -u counts.
        let start = |s: Option<usize>, len: usize, before: usize| match s {
            Some(s) if len > 0 => s + 1,
            _ => before,
        };
        let a_before = ops[..from]
            .iter()
            .filter(|o| !matches!(o, Op::Add(_)))
            .count();
        let b_before = ops[..from]
            .iter()
            .filter(|o| !matches!(o, Op::Del(_)))
            .count();
        out += &format!(
            "@@ -{},{a_len} +{},{b_len} @@\n{body}",
            start(a_start, a_len, a_before),
            start(b_start, b_len, b_before)
        );
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Same(usize, usize),
    Del(usize),
    Add(usize),
}

/// The longest common subsequence of lines, as operations in order. Config files are
/// a few hundred lines: the quadratic table is small.
fn lines_diff(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = match a[i] == b[j] {
                true => lcs[i + 1][j + 1] + 1,
                false => lcs[i + 1][j].max(lcs[i][j + 1]),
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = vec![];
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(Op::Same(i, j));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Deletions first, as diff -u shows a changed line.
            ops.push(Op::Del(i));
            i += 1;
        } else {
            ops.push(Op::Add(j));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_reads_like_diff_u() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n";
        assert_eq!(
            unified(Path::new("x"), Some(old), new),
            "--- x\n+++ x\n@@ -2,9 +2,10 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n i\n j\n+k\n"
        );
        assert_eq!(
            unified(Path::new("x"), None, "one\ntwo"),
            "--- /dev/null\n+++ x\n@@ -0,0 +1,2 @@\n+one\n+two\n\\ No newline at end of file\n"
        );
        assert_eq!(unified(Path::new("x"), Some(old), old), "");
        // Far apart: two hunks.
        let old: String = (0..20).map(|i| format!("{i}\n")).collect();
        let new: String = (0..20)
            .map(|i| match i {
                2 => "two\n".to_owned(),
                17 => "seventeen\n".to_owned(),
                i => format!("{i}\n"),
            })
            .collect();
        let diff = unified(Path::new("x"), Some(&old), &new);
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        assert!(
            diff.contains("@@ -15,6 +15,6 @@\n 14\n 15\n 16\n-17\n+seventeen\n 18\n 19\n"),
            "{diff}"
        );
    }

    #[test]
    fn nothing_is_renamed_until_every_file_is_written() {
        let dir = std::env::temp_dir().join(format!("raumwart-setup-write-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a");
        fs::write(&a, "old").unwrap();
        let access = Access::of(&fs::metadata(&a).unwrap());
        let write = |path: PathBuf, new: &str| FileWrite {
            path: path.clone(),
            target: path,
            old: None,
            new: new.into(),
            access: Access {
                mode: 0o640,
                ..access
            },
            what: vec![],
        };
        // The second file's folder does not exist: the first stays as it was.
        let writes = [write(a.clone(), "new"), write(dir.join("missing/b"), "b")];
        assert!(commit(&writes).is_err());
        assert_eq!(fs::read_to_string(&a).unwrap(), "old");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "a temporary file was left"
        );
        commit(&writes[..1]).unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "new");
        assert_eq!(fs::metadata(&a).unwrap().mode() & 0o7777, 0o640);
        fs::remove_dir_all(&dir).unwrap();
    }
}
