//! The privacy sweep: nothing a test's people are known by (display name, MUC nick, JID)
//! and no password may appear in raumwart's log lines at info or above, in `/metrics`, in
//! the status (JSON and table), or in a file raumwart or its module wrote (Prosody's data
//! folder) other than the password files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{client, http_get, Daemon, Env};

/// The private values one test uses.
#[derive(Default)]
pub struct Private {
    values: Vec<String>,
}

impl Private {
    pub fn new() -> Private {
        Private::default()
    }

    /// A display name (the MUC nicks the kit made for it count too, see
    /// `client::muc_nick`), JID (full: its bare form and node are added too) or password.
    pub fn add(&mut self, value: impl Into<String>) -> &mut Private {
        let value = value.into();
        if let Some((bare, _)) = value.split_once('/') {
            self.values.push(bare.to_owned());
        }
        if let Some((node, _)) = value.split_once('@') {
            // Anonymous nodes are random and long; short ones would match anything.
            if node.len() >= 8 {
                self.values.push(node.to_owned());
            }
        }
        self.values.push(value);
        self
    }

    /// Fails naming `place` and the value when any private value is in `text`.
    pub fn assert_absent(&self, place: &str, text: &str) {
        for value in &self.values {
            assert!(
                !text.contains(value.as_str()),
                "privacy: {value:?} appears in {place}:\n{text}"
            );
        }
        // Looked up now: a nick made after `add` counts as well.
        for (nick, display) in client::muc_nicks() {
            assert!(
                !(self.values.contains(&display) && has_word(text, &nick)),
                "privacy: {nick:?}, the MUC nick of {display:?}, appears in {place}:\n{text}"
            );
        }
    }

    /// Checks every place raumwart shows or writes data.
    pub async fn sweep(&self, env: &Env, daemon: &Daemon) {
        self.assert_absent(
            "raumwart's log at info and above",
            &info_lines(&daemon.log_text()),
        );
        let (_, metrics) = http_get(env, "/metrics").await;
        self.assert_absent("/metrics", &metrics);
        let (_, status) = http_get(env, "/status").await;
        self.assert_absent("/status", &status);
        for json in [false, true] {
            let mut command = Command::new(env.repo.binary);
            command
                .arg("status")
                .arg("--config")
                .arg(env.daemon_config_path());
            if json {
                command.arg("--json");
            }
            let out = command.output().expect("raumwart status runs");
            self.assert_absent("`raumwart status`", &String::from_utf8_lossy(&out.stdout));
            self.assert_absent("`raumwart status`", &String::from_utf8_lossy(&out.stderr));
        }
        // What the module stores: Prosody's data folder (the room map).
        for file in files_under(&env.dir.join("data")) {
            let text = String::from_utf8_lossy(&fs::read(&file).unwrap_or_default()).into_owned();
            self.assert_absent(&file.display().to_string(), &text);
        }
        // The config the daemon reads (password files are the only place a password is).
        let config = fs::read_to_string(env.daemon_config_path()).unwrap_or_default();
        self.assert_absent("the config file", &config);
    }
}

/// raumwart's log lines at INFO, WARN and ERROR (tracing's format, colours off).
pub fn info_lines(log: &str) -> String {
    log.lines()
        .filter(|l| {
            [" INFO ", " WARN ", " ERROR "]
                .iter()
                .any(|level| l.contains(level))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![];
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// What no test may find where raumwart shows or writes data, whatever the test: a
/// guest's JID, the display names the tests use most and every full name (one with a
/// space), every MUC nick the kit made in this process, the test passwords.
pub fn assert_impersonal(place: &str, text: &str) {
    let guest_jid = format!("@{}", crate::DOMAIN);
    let fixed = [
        guest_jid.as_str(),
        crate::SCHOOL_PASSWORD,
        crate::OTHER_SCHOOL_PASSWORD,
        crate::CLASS_PASSWORD,
        "teacher",
        "student",
        "colleague",
    ]
    .map(str::to_owned);
    for private in fixed {
        assert!(
            !text.contains(&private),
            "privacy: {private:?} in {place}:\n{text}"
        );
    }
    for (nick, display) in client::muc_nicks() {
        // The nicks of every test in this process: 8 hex characters are found as a word,
        // or digits in a metric's value would match one now and then.
        assert!(
            !has_word(text, &nick),
            "privacy: the MUC nick {nick:?} of {display:?} in {place}:\n{text}"
        );
        let full_name = display.trim().contains(' ');
        assert!(
            !(full_name && text.contains(&display)),
            "privacy: {display:?} in {place}:\n{text}"
        );
    }
}

/// True if `word` is in `text` with no letter or digit right before or after it.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        ![before, after]
            .into_iter()
            .flatten()
            .any(|c| c.is_ascii_alphanumeric())
    })
}

/// GET `path` from the daemon's HTTP port without a runtime (for `Drop`); None when
/// it does not answer.
pub fn get_blocking(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_secs(2);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}
