//! The Debian package on a real machine: `dpkg -i`, the installed example passes
//! `raumwart check` once the secrets are put where the README says, the installed units
//! (the daemon's and the console's) pass `systemd-analyze verify` and `security`, the
//! daemon runs as the package's user with those files and root's `status`, `end-session`
//! and `reload` reach it, a changed school password takes effect with `raumwart reload`,
//! the console's user keeps the register beside root (`install_console.rs`), and
//! `dpkg -P raumwart` removes /etc/raumwart with every password in it and the console's
//! state, and touches none of Prosody's files.
//!
//! An upgrade (`dpkg -i` of a newer package over an older one, with a lesson going on
//! against a real Prosody) keeps the configuration and the passwords as they were, and
//! the lesson goes on across the restart systemd does after it.
//!
//! It changes the machine while it runs, so it needs root and dpkg; it leaves the machine
//! as it found it (the package purged and the user removed also when it fails). Without
//! root it is skipped with a message, except under CI=true, where it must run.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use testkit::*;

use crate::REPO;

pub(super) fn run(c: &mut Command) -> Output {
    c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"))
}

pub(super) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(super) fn ok(c: &mut Command) -> String {
    let out = run(c);
    assert!(out.status.success(), "{c:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(super) fn raumwart(args: &[&str]) -> Output {
    run(Command::new("/usr/bin/raumwart")
        .args(args)
        .env_remove("RAUMWART_CONFIG")
        .env_remove("RAUMWART_SOCKET"))
}

/// Every file under Prosody's and Jitsi's folders with its size, mode and mtime.
fn prosody_files() -> BTreeMap<PathBuf, (u64, u32, i64)> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (u64, u32, i64)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            out.insert(e.path(), (m.len(), m.mode(), m.mtime()));
            if m.is_dir() {
                walk(&e.path(), out);
            }
        }
    }
    let mut out = BTreeMap::new();
    for dir in [
        "/etc/prosody",
        "/var/lib/prosody",
        "/usr/lib/prosody",
        "/usr/share/jitsi-meet",
    ] {
        walk(Path::new(dir), &mut out);
    }
    out
}

/// Purges the package, stops the daemon and removes the user the test brought, whatever
/// happens in the test.
pub(super) struct Installed {
    daemon: Option<Child>,
    user_was_there: bool,
    /// Released after the purge (fields drop after `drop`).
    _machine: MutexGuard<'static, ()>,
}

impl Installed {
    /// The machine for one test, with no raumwart installed, until the guard is dropped;
    /// None when the test may not run here.
    pub(super) fn take() -> Option<Installed> {
        if !may_run() {
            return None;
        }
        let machine = machine();
        let installed = run(Command::new("dpkg-query").args(["-W", "raumwart"]));
        assert!(
            !installed.status.success(),
            "raumwart is installed on this machine; this test would remove it"
        );
        Some(Installed {
            daemon: None,
            user_was_there: run(Command::new("getent").args(["passwd", "raumwart"]))
                .status
                .success(),
            _machine: machine,
        })
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = Command::new("dpkg").args(["--purge", "raumwart"]).output();
        let _ = std::fs::remove_dir_all("/run/raumwart");
        if !self.user_was_there {
            let _ = Command::new("userdel").arg("raumwart").output();
            let _ = Command::new("groupdel").arg("raumwart").output();
        }
    }
}

fn may_run() -> bool {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let dpkg = Command::new("dpkg").arg("--version").output().is_ok();
    if root && dpkg {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the install test must run in CI: it needs root and dpkg"
    );
    eprintln!(
        "SKIPPED tests/system/install.rs: installing the package needs root and dpkg (CI runs it)"
    );
    false
}

/// The tests here install, configure and purge the one package of this machine: one at
/// a time.
fn machine() -> MutexGuard<'static, ()> {
    static MACHINE: Mutex<()> = Mutex::new(());
    MACHINE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Packages this test build's binary (no release build) as `NAME.deb` in `dir`, with
/// the package version `version` (cargo-deb's `--deb-version`) or the crate's.
pub(super) fn build_deb(dir: &Path, name: &str, version: Option<&str>) -> PathBuf {
    let release = dir.join("target/release");
    std::fs::create_dir_all(&release).unwrap();
    let binary = release.join("raumwart");
    if !binary.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_raumwart"), &binary).unwrap();
    }
    let deb = dir.join(format!("{name}.deb"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut c = Command::new(cargo);
    c.args(["deb", "--no-build", "--fast", "--quiet", "--output"])
        .arg(&deb)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if let Some(version) = version {
        c.args(["--deb-version", version]);
    }
    ok(&mut c);
    deb
}

/// The package version of a .deb (CARGO_PKG_VERSION-REVISION).
pub(super) fn deb_version(deb: &Path) -> String {
    let field = ok(Command::new("dpkg-deb")
        .arg("--field")
        .arg(deb)
        .arg("Version"));
    field.trim().to_owned()
}

/// The uid of the user `name` and the gid of its group.
pub(super) fn ids(name: &str) -> (u32, u32) {
    let field = |db: &str| -> u32 {
        let entry = ok(Command::new("getent").args([db, name]));
        entry.split(':').nth(2).unwrap().trim().parse().unwrap()
    };
    (field("passwd"), field("group"))
}

/// Owner, group and mode of `path`.
pub(super) fn owner(path: &str) -> (u32, u32, u32) {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// Runs `raumwart ARGS` as the daemon's user, as the unit's ExecStartPre runs `check`.
pub(super) fn as_daemon_user(args: &[&str]) -> Output {
    run(Command::new("setpriv")
        .args([
            "--reuid=raumwart",
            "--regid=raumwart",
            "--init-groups",
            "--",
        ])
        .arg("/usr/bin/raumwart")
        .args(args)
        .env_remove("RAUMWART_CONFIG")
        .env_remove("RAUMWART_SOCKET"))
}

/// Starts the daemon as the unit does: `check` as user raumwart (ExecStartPre), then
/// `run` as user raumwart in the runtime folder systemd makes (RuntimeDirectory=raumwart,
/// mode 0700); waits until root's `status` reaches it and returns what it says.
pub(super) fn start_daemon(guard: &mut Installed, log: &Path) -> String {
    let check = as_daemon_user(&["check", "--config", "/etc/raumwart/config.toml"]);
    assert!(
        check.status.success(),
        "ExecStartPre (check as user raumwart): {}",
        text(&check)
    );
    ok(Command::new("install").args([
        "-d",
        "-m",
        "0700",
        "-o",
        "raumwart",
        "-g",
        "raumwart",
        "/run/raumwart",
    ]));
    guard.daemon = Some(
        // setpriv execs the daemon itself (runuser would fork it and hide it from kill).
        Command::new("setpriv")
            .args([
                "--reuid=raumwart",
                "--regid=raumwart",
                "--init-groups",
                "--",
            ])
            .args(["/usr/bin/raumwart", "run"])
            .args([
                "--config",
                "/etc/raumwart/config.toml",
                "--socket",
                "/run/raumwart/control",
            ])
            .env("RAUMWART_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    );
    // Root's commands find the socket through the daemon, as the README has them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let out = raumwart(&["status"]);
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.status.success(),
        "raumwart status: {}\ndaemon log: {}",
        text(&status),
        std::fs::read_to_string(log).unwrap_or_default()
    );
    text(&status)
}

/// Stops the daemon as systemd does (SIGTERM) and waits for it.
pub(super) fn stop_daemon(guard: &mut Installed) {
    if let Some(mut d) = guard.daemon.take() {
        let _ = Command::new("kill").arg(d.id().to_string()).status();
        d.wait().unwrap();
    }
}

pub(super) fn write_secret(path: &str, content: &str) {
    // As the README says: install -m 0640 -g raumwart.
    let tmp = format!("{path}.new");
    std::fs::write(&tmp, content).unwrap();
    ok(Command::new("install").args(["-m", "0640", "-g", "raumwart", &tmp, path]));
    std::fs::remove_file(tmp).unwrap();
}

/// The schools of the installed example.
pub(super) const EXAMPLE_SCHOOLS: [&str; 3] = [
    "gs-musterstadt",
    "rs-beispielheim",
    "rs-beispielheim-konferenz",
];

/// The secrets the installed example names, new, where the README's install steps put
/// them: files of group raumwart, mode 0640.
pub(super) fn put_example_secrets() {
    write_secret("/etc/raumwart/component.secret", "a-component-secret\n");
    for school in EXAMPLE_SCHOOLS {
        let password = ok(Command::new("/usr/bin/raumwart").arg("password"));
        write_secret(&format!("/etc/raumwart/schools/{school}.pw"), &password);
    }
}

/// A school command that succeeded and had the running daemon reload what it wrote.
pub(super) fn assert_reloaded(out: &Output) {
    assert!(out.status.success(), "{}", text(out));
    assert!(
        text(out).contains("The running raumwart has reloaded the configuration"),
        "{}",
        text(out)
    );
}

#[test]
fn dpkg_installs_a_working_whole_and_purge_leaves_nothing_of_the_schools() {
    let Some(mut guard) = Installed::take() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("raumwart-install-{}", std::process::id()));
    let deb = build_deb(&dir, "raumwart", None);
    let prosody_before = prosody_files();

    ok(Command::new("dpkg").arg("-i").arg(&deb));
    for path in [
        "/usr/bin/raumwart",
        "/usr/share/raumwart/prosody/mod_raumwart.lua",
        "/usr/share/raumwart/prosody/mod_raumwart_breakout.lua",
        "/usr/share/raumwart/prosody/raumwart_store.lib.lua",
        "/usr/share/man/man1/raumwart.1.gz",
        "/usr/share/bash-completion/completions/raumwart",
        "/usr/lib/systemd/system/raumwart.service",
        "/usr/lib/systemd/system/raumwart-console.service",
        "/usr/share/raumwart/nginx/raumwart-console.conf",
    ] {
        assert!(Path::new(path).exists(), "{path} is not installed");
    }
    let (uid, gid) = ids("raumwart");
    // Writable for the console's user (debian/postinst says why), closed to others.
    for folder in ["/etc/raumwart", "/etc/raumwart/schools"] {
        assert_eq!(owner(folder), (0, gid, 0o770), "{folder}");
    }
    assert_eq!(owner("/etc/raumwart/config.toml"), (0, gid, 0o640));
    // The console's state folder, as its unit's StateDirectory= makes it.
    assert_eq!(owner("/var/lib/raumwart"), (uid, gid, 0o750));

    // The units as installed.
    for unit in crate::systemd::UNITS {
        let path = Path::new("/usr/lib/systemd/system").join(unit);
        crate::systemd::verify(&path, Path::new("/usr/share/man/man1"));
        crate::systemd::exposure(&path);
    }

    // The secrets where the README's install steps put them; then the installed
    // example passes check at the default path.
    put_example_secrets();
    let check = raumwart(&["check"]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).starts_with("/etc/raumwart/config.toml: ok ("));

    // The daemon as the unit runs it: user raumwart. It reads the 0640 files as group
    // raumwart.
    let log = dir.join("daemon.log");
    let status = start_daemon(&mut guard, &log);
    assert!(status.contains("gs-musterstadt-1"), "{status}");
    // No Prosody here: end-session reaches the daemon, which says why it cannot.
    let end = raumwart(&["end-session", "gs-musterstadt-1"]);
    assert!(
        text(&end).contains("not connected to Prosody"),
        "{}",
        text(&end)
    );
    // A changed school password: reload reads the files again.
    write_secret("/etc/raumwart/schools/gs-musterstadt.pw", "short\n");
    let reload = raumwart(&["reload"]);
    assert_eq!(reload.status.code(), Some(78), "{}", text(&reload));
    assert!(
        text(&reload).contains("gs-musterstadt.pw"),
        "{}",
        text(&reload)
    );
    let new = ok(Command::new("/usr/bin/raumwart").arg("password"));
    write_secret("/etc/raumwart/schools/gs-musterstadt.pw", &new);
    let reload = raumwart(&["reload"]);
    assert!(reload.status.success(), "{}", text(&reload));

    school_commands_leave_a_daemon_that_reloads_and_starts(&mut guard, &log, gid);
    crate::install_console::the_console_keeps_the_register_as_its_user(uid, gid);
    stop_daemon(&mut guard);

    ok(Command::new("dpkg").args(["--purge", "raumwart"]));
    for gone in [
        "/etc/raumwart",
        "/var/lib/raumwart",
        "/usr/bin/raumwart",
        "/usr/share/raumwart",
    ] {
        assert!(!Path::new(gone).exists(), "{gone} is left after purge");
    }
    assert_eq!(prosody_files(), prosody_before, "Prosody's files changed");
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The media centre's commands as the provider's admin runs them: as root, on the
/// installed package, with the daemon running as its user. Every file they write is one
/// the daemon reads at the reload they trigger and at its next start.
fn school_commands_leave_a_daemon_that_reloads_and_starts(
    guard: &mut Installed,
    log: &Path,
    gid: u32,
) {
    let config = "/etc/raumwart/config.toml";
    let config_owner = owner(config);
    let readable = (0, gid, 0o640);
    let add = raumwart(&[
        "school",
        "add",
        "gy-test",
        "--name",
        "Gymnasium Test",
        "--rooms",
        "2",
    ]);
    // The example's comments mention $CREDENTIALS_DIRECTORY/; its values do not.
    assert_reloaded(&add);
    assert!(!text(&add).contains("systemctl restart"), "{}", text(&add));
    assert_eq!(owner("/etc/raumwart/schools/gy-test.pw"), readable);
    assert_eq!(owner(config), config_owner, "the config file keeps its own");
    let status = raumwart(&["status"]);
    assert!(text(&status).contains("gy-test-2"), "{}", text(&status));

    let rotate = raumwart(&["school", "rotate", "gy-test"]);
    assert!(
        text(&rotate).contains("has reloaded the configuration"),
        "{}",
        text(&rotate)
    );
    assert_eq!(owner("/etc/raumwart/schools/gy-test.pw"), readable);
    let rotate = raumwart(&["school", "rotate", "gy-test", "--room", "gy-test-2"]);
    assert!(
        text(&rotate).contains("has reloaded the configuration"),
        "{}",
        text(&rotate)
    );
    assert_eq!(owner("/etc/raumwart/schools/gy-test-2.pw"), readable);
    assert_eq!(owner(config), config_owner);
    let check = raumwart(&["check"]);
    assert!(check.status.success(), "{}", text(&check));

    // `check` as root says what the daemon's user could not read.
    let file = "/etc/raumwart/schools/gy-test-2.pw";
    ok(Command::new("chmod").args(["0600", file]));
    let check = raumwart(&["check"]);
    assert_eq!(check.status.code(), Some(78), "{}", text(&check));
    assert!(
        text(&check).contains(&format!(
            "the daemon's user raumwart could not read {file}: may not read it (root:raumwart 0600)"
        )),
        "{}",
        text(&check)
    );
    ok(Command::new("chmod").args(["0640", file]));
    ok(Command::new("chmod").args(["0700", "/etc/raumwart/schools"]));
    let check = raumwart(&["check"]);
    assert_eq!(check.status.code(), Some(78), "{}", text(&check));
    assert!(
        text(&check).contains("no way into /etc/raumwart/schools (root:raumwart 0700)"),
        "{}",
        text(&check)
    );
    // A command refuses a change the daemon could not read, and writes nothing.
    let before = std::fs::read_to_string(config).unwrap();
    let refused = raumwart(&["school", "add", "gy-zwei", "--name", "Zwei", "--rooms", "1"]);
    assert_eq!(refused.status.code(), Some(78), "{}", text(&refused));
    assert!(
        text(&refused).contains("the daemon's user raumwart could not read"),
        "{}",
        text(&refused)
    );
    assert!(!Path::new("/etc/raumwart/schools/gy-zwei.pw").exists());
    assert_eq!(std::fs::read_to_string(config).unwrap(), before);
    ok(Command::new("chmod").args(["0770", "/etc/raumwart/schools"]));

    // A restart as the unit does it: the daemon starts with what the commands wrote.
    stop_daemon(guard);
    let status = start_daemon(guard, log);
    assert!(status.contains("gy-test-1"), "{status}");

    let remove = raumwart(&["school", "remove", "gy-test"]);
    assert!(remove.status.success(), "{}", text(&remove));
    assert!(
        text(&remove).contains("has reloaded the configuration"),
        "{}",
        text(&remove)
    );
    for gone in [
        "/etc/raumwart/schools/gy-test.pw",
        "/etc/raumwart/schools/gy-test-2.pw",
    ] {
        assert!(!Path::new(gone).exists(), "{gone} is left");
    }
    assert_eq!(owner(config), config_owner);
    stop_daemon(guard);
    let status = start_daemon(guard, log);
    assert!(!status.contains("gy-test"), "{status}");
}

/// Every file and folder under `dir`: content (files), owner, group and mode.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32, u32, u32)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let m = std::fs::symlink_metadata(&path).unwrap();
        let content = if m.is_file() {
            std::fs::read(&path).unwrap()
        } else {
            vec![]
        };
        out.insert(path.clone(), (content, m.uid(), m.gid(), m.mode()));
        if m.is_dir() {
            out.extend(tree(&path));
        }
    }
    out
}

/// Waits until root's `raumwart status --json` says the daemon is in sync with Prosody.
fn wait_synced(log: &Path) {
    let deadline = Instant::now() + WAIT;
    loop {
        let out = raumwart(&["status", "--json"]);
        let json: Option<serde_json::Value> = serde_json::from_slice(&out.stdout).ok();
        if json.is_some_and(|j| j["synced"] == true) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not in sync within {WAIT:?}: {}\ndaemon log: {}",
            text(&out),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `/status` shows `room` as `expected` (state, people, organizer present):
/// the daemon learns of joins from Prosody a moment after the joiner does.
async fn wait_room(env: &Env, room: &str, expected: (&str, u64, bool), what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let st = room_status(env, room).await;
        let seen = (
            st["state"].as_str().unwrap_or_default(),
            st["people"].as_u64().unwrap_or_default(),
            st["organizer_present"] == true,
        );
        if seen == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {room} is {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn an_upgrade_keeps_config_and_passwords_and_the_lesson_goes_on() {
    let Some(mut guard) = Installed::take() else {
        return;
    };
    let env = Env::new(REPO, Options::default());
    // Two versions of the package from this tree: as installed, and one newer.
    let debs = env.dir.join("debs");
    let older = build_deb(&debs, "older", None);
    let newer_version = format!("{}+1", deb_version(&older));
    let newer = build_deb(&debs, "newer", Some(&newer_version));
    ok(Command::new("dpkg").arg("-i").arg(&older));

    // Configured as the README's install steps do, against this test's Prosody: the
    // harness's daemon config, its secret and passwords in files of group raumwart.
    let config = std::fs::read_to_string(env.daemon_config_path()).unwrap();
    std::fs::write("/etc/raumwart/config.toml", config).unwrap();
    write_secret("/etc/raumwart/component.secret", &format!("{SECRET}\n"));
    write_secret(
        "/etc/raumwart/schools/gs.pw",
        &format!("{SCHOOL_PASSWORD}\n"),
    );
    write_secret("/etc/raumwart/schools/rs.pw", OTHER_SCHOOL_PASSWORD);
    let log = env.dir.join("installed-daemon.log");
    start_daemon(&mut guard, &log);
    wait_synced(&log);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let jid = room_jid(ROOM);
        let mut focus = env.focus(ROOM).await;
        let (mut teacher, mut student) = lesson(&env, ROOM).await;
        let old_owner = teacher.bare();
        wait_room(
            &env,
            ROOM,
            ("active", 2, true),
            "the lesson before the upgrade",
        )
        .await;

        let etc = (owner("/etc/raumwart"), tree(Path::new("/etc/raumwart")));
        ok(Command::new("dpkg").arg("-i").arg(&newer));
        let version = ok(Command::new("dpkg-query").args(["-W", "-f=${Version}", "raumwart"]));
        assert_eq!(version, newer_version);
        // Configuration, secrets and passwords: the same content, owner, group and mode.
        assert_eq!(
            (owner("/etc/raumwart"), tree(Path::new("/etc/raumwart"))),
            etc,
            "/etc/raumwart changed"
        );
        let check = raumwart(&["check"]);
        assert!(check.status.success(), "{}", text(&check));
        // The upgrade itself stops nothing (prerm stops the unit on remove only) ...
        let daemon = guard.daemon.as_mut().unwrap();
        assert!(daemon.try_wait().unwrap().is_none(), "the daemon stopped");
        let prerm = std::fs::read_to_string("/var/lib/dpkg/info/raumwart.prerm").unwrap();
        assert!(
            prerm.contains("[ \"$1\" = remove ]; then\n\tdeb-systemd-invoke stop"),
            "{prerm}"
        );
        // ... and restarts a running unit at its end: with systemd as PID 1 (not here),
        // `try-restart` after an upgrade ($2 is the old version).
        let postinst = std::fs::read_to_string("/var/lib/dpkg/info/raumwart.postinst").unwrap();
        assert!(
            postinst.contains(
                "if [ -n \"$2\" ]; then\n\t\t\tdeb-systemd-invoke try-restart raumwart.service"
            ),
            "{postinst}"
        );
        // That restart, as the unit does it: stop, check as raumwart, start.
        stop_daemon(&mut guard);
        start_daemon(&mut guard, &log);
        wait_synced(&log);

        // The lesson goes on: nobody was removed, the teacher is still organizer, the
        // class password still opens the room (no reset).
        wait_room(
            &env,
            ROOM,
            ("active", 2, true),
            "the lesson after the upgrade",
        )
        .await;
        teacher.sync().await;
        student.sync().await;
        let removed = removal_of(&["teacher", "student"]);
        assert!(
            !teacher.saw(&removed) && !student.saw(&removed),
            "the upgrade disturbed the lesson"
        );
        // Owners: the teacher and focus (an admin of the MUC), no student.
        let owners = teacher.affiliations(&jid, "owner").await;
        assert!(
            owners.contains(&old_owner) && !owners.contains(&student.bare()),
            "{owners:?}"
        );
        let mut late = env.anonymous().await;
        late.join(&jid, "late", Some(CLASS_PASSWORD))
            .await
            .expect("the class password still opens the room");
        late.leave(&jid, "late").await;

        // A normal end resets the room.
        student.leave(&jid, "student").await;
        teacher.leave(&jid, "teacher").await;
        focus.gone().await;
        wait_room(&env, ROOM, ("idle", 0, false), "the reset after the lesson").await;
        assert_room_is_fresh(&env, ROOM, &old_owner).await;
    });
    stop_daemon(&mut guard);
    drop(guard);
}
