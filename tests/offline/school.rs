//! The media centre's workflow on the config file: `raumwart::schools` add, remove,
//! rotate, list and import, on a copy of config.example.toml.

use crate::example;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use raumwart::config;
use raumwart::schools::import::Columns;
use raumwart::schools::{self, CredentialSource, Files, Rooms, UnitCredentials};

/// A folder holding config.example.toml with its secret and password files.
struct Setup {
    dir: PathBuf,
    files: Files,
}

impl Setup {
    fn new(name: &str) -> Setup {
        let (dir, files) = example::setup(&format!("school-{name}"));
        Setup { dir, files }
    }

    fn config_text(&self) -> String {
        fs::read_to_string(&self.files.config).unwrap()
    }

    fn load(&self) -> config::Config {
        let text = self.config_text();
        config::parse(&self.files.config, &text, None).expect("the config stays valid")
    }

    /// Every file in the folder, with its content; not the lock file, which the first
    /// command makes and every later one uses.
    fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let lock = schools::lock_file(&self.files.config);
        let mut all = vec![];
        for dir in [self.dir.clone(), self.dir.join("schools")] {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() && path != lock {
                    all.push((path.clone(), fs::read(&path).unwrap()));
                }
            }
        }
        all.sort();
        all
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn add_appends_a_block_and_keeps_every_comment() {
    let s = Setup::new("add");
    let before = s.config_text();
    let added = schools::add(
        &s.files,
        "gs-neustadt",
        "Grundschule Neustadt",
        None,
        &Rooms::Count(3),
    )
    .expect("added");

    let after = s.config_text();
    assert!(
        after.starts_with(&before),
        "the file before the new block changed:\n{after}"
    );
    assert_eq!(
        &after[before.len()..],
        "\n[[school]]\nid = \"gs-neustadt\"\nname = \"Grundschule Neustadt\"\n\
         password_file = \"schools/gs-neustadt.pw\"\n\
         rooms = [\"gs-neustadt-1\", \"gs-neustadt-2\", \"gs-neustadt-3\"]\n"
    );

    let file = s.dir.join("schools/gs-neustadt.pw");
    assert_eq!(added.password_file, file);
    // The mode of the password files beside it.
    assert_eq!(mode(&file), 0o640);
    let password = fs::read_to_string(&file).unwrap();
    assert_eq!(password, format!("{}\n", added.password.expose()));
    assert!(raumwart::config::password::check(added.password.expose(), &["gs-neustadt"]).is_ok());

    let config = s.load();
    let new = config
        .schools
        .iter()
        .find(|x| x.id == "gs-neustadt")
        .unwrap();
    assert_eq!(new.rooms.len(), 3);
    assert!(new
        .rooms
        .iter()
        .all(|r| r.password.expose() == added.password.expose()));

    let printed = added.to_string();
    for wanted in [
        "added school gs-neustadt (Grundschule Neustadt) with 3 room(s)",
        "\"gs-neustadt-1\" -> https://meet.kmz-beispiel.de/gs-neustadt-1",
        "\"gs-neustadt-3\" -> https://meet.kmz-beispiel.de/gs-neustadt-3",
        added.password.expose(),
    ] {
        assert!(printed.contains(wanted), "{wanted:?} not in:\n{printed}");
    }
    // No temporary file is left behind.
    assert_eq!(s.snapshot().len(), 6, "{:?}", s.snapshot());
}

#[test]
fn add_with_named_rooms_as_people_type_them() {
    let s = Setup::new("add-named");
    let rooms = Rooms::Named(vec![
        "Grundschule Müllheim 1".into(),
        "gs-muellheim-lehrer".into(),
    ]);
    let added = schools::add(
        &s.files,
        "gs-muellheim",
        "Grundschule Müllheim",
        None,
        &rooms,
    )
    .unwrap();
    assert_eq!(added.rooms.len(), 2);
    assert_eq!(
        added.rooms[0].nodes,
        [
            "grundschulem%c3%bcllheim1",
            "grundschule%20m%c3%bcllheim%201"
        ]
    );
    assert_eq!(
        added.rooms[0].link.as_deref(),
        Some("https://meet.kmz-beispiel.de/grundschule%20m%c3%bcllheim%201")
    );
    assert!(s
        .config_text()
        .contains("rooms = [\"Grundschule Müllheim 1\", \"gs-muellheim-lehrer\"]\n"));
    s.load();
}

#[test]
fn a_refused_add_writes_nothing() {
    let s = Setup::new("add-refused");
    let before = s.snapshot();
    let cases: Vec<(&str, Rooms, &str)> = vec![
        ("gs-musterstadt", Rooms::Count(2), "exists already"),
        ("GS Neu", Rooms::Count(2), "may use only"),
        ("gs-neu", Rooms::Count(0), "1 to 50 rooms"),
        ("gs-neu", Rooms::Named(vec![]), "at least one room"),
        // Valid on its own, but the room belongs to another school: refused by the
        // same validation as `raumwart check`, after the password file was written.
        (
            "gs-neu",
            Rooms::Named(vec!["gs-musterstadt-1".into()]),
            "nothing was written",
        ),
        (
            "gs-neu",
            Rooms::Named(vec!["raum/1".into()]),
            "nothing was written",
        ),
    ];
    for (id, rooms, why) in cases {
        let err = schools::add(&s.files, id, "Neue Schule", None, &rooms).unwrap_err();
        assert!(err.to_string().contains(why), "{id} {rooms:?}: {err}");
        assert_eq!(s.snapshot(), before, "{id} {rooms:?} left something behind");
    }
    let err = schools::add(
        &s.files,
        "gs-neu",
        "Neue Schule",
        None,
        &Rooms::Named(vec!["gs-musterstadt-1".into()]),
    )
    .unwrap_err();
    assert!(matches!(err, schools::Error::Rejected(_)), "{err}");
    assert!(err.to_string().contains("listed twice"), "{err}");
}

#[test]
fn an_invalid_config_is_reported_like_check_and_left_alone() {
    let s = Setup::new("invalid");
    fs::write(s.dir.join("schools/gs-musterstadt.pw"), "kurz\n").unwrap();
    let before = s.snapshot();
    let err = schools::add(&s.files, "gs-neu", "Neue Schule", None, &Rooms::Count(1)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("config.toml:") && text.contains("easy to guess"),
        "{text}"
    );
    assert!(!text.contains("kurz"), "{text}");
    assert_eq!(s.snapshot(), before);
}

#[test]
fn remove_deletes_the_block_and_its_password_files() {
    let s = Setup::new("remove");
    let nodes = schools::room_nodes(&s.files, "rs-beispielheim").unwrap();
    assert_eq!(nodes, ["rs-beispielheim-1", "rs-beispielheim-konferenz"]);
    let removed = schools::remove(&s.files, "rs-beispielheim").unwrap();
    assert_eq!(removed.nodes, nodes);
    assert_eq!(removed.deleted_files.len(), 2);
    assert!(!s.dir.join("schools/rs-beispielheim.pw").exists());
    assert!(!s.dir.join("schools/rs-beispielheim-konferenz.pw").exists());
    assert!(s.dir.join("schools/gs-musterstadt.pw").exists());
    let text = s.config_text();
    assert!(!text.contains("rs-beispielheim"), "{text}");
    // The comment that was about this school went with it; the others stay.
    assert!(!text.contains("A room may have its own password"), "{text}");
    assert!(text.contains("# One block per school."), "{text}");
    assert_eq!(s.load().schools.len(), 1);
    assert!(removed.to_string().contains("rs-beispielheim-konferenz"));

    // The first block's comments introduce all schools: they stay when it goes.
    let removed = schools::remove(&s.files, "gs-musterstadt").unwrap();
    assert_eq!(
        removed.deleted_files,
        [s.dir.join("schools/gs-musterstadt.pw")]
    );
    let text = s.config_text();
    assert!(text.contains("# One block per school."), "{text}");
    // No block left; a comment may still name them.
    assert!(!text.lines().any(|l| l == "[[school]]"), "{text}");
    s.load();

    let err = schools::remove(&s.files, "gs-musterstadt").unwrap_err();
    assert!(err.to_string().contains("there is no school"), "{err}");
    // And a school can be added to a file without any.
    schools::add(&s.files, "gs-neu", "Neue Schule", None, &Rooms::Count(1)).unwrap();
    assert_eq!(s.load().schools.len(), 1);
}

#[test]
fn rotate_writes_a_new_password_and_nothing_else() {
    let s = Setup::new("rotate");
    let before = s.config_text();
    let old = fs::read_to_string(s.dir.join("schools/rs-beispielheim.pw")).unwrap();
    let rotated = schools::rotate(&s.files, "rs-beispielheim", None).unwrap();
    assert_eq!(s.config_text(), before, "the config is unchanged");
    let [new] = rotated.passwords.as_slice() else {
        panic!("{rotated:?}")
    };
    assert_eq!(new.rooms, ["rs-beispielheim-1"]);
    let file = s.dir.join("schools/rs-beispielheim.pw");
    assert_eq!(new.password_file, file);
    let now = fs::read_to_string(&file).unwrap();
    assert_ne!(now, old);
    assert_eq!(now, format!("{}\n", new.password.expose()));
    // The mode of the password files beside it.
    assert_eq!(mode(&file), 0o640);
    assert!(rotated.to_string().contains(new.password.expose()));
    assert_eq!(s.snapshot().len(), 5, "{:?}", s.snapshot());

    // A room of its own password keeps its file; one that shared the school's gets one.
    let rotated = schools::rotate(
        &s.files,
        "rs-beispielheim",
        Some("rs-beispielheim-konferenz"),
    )
    .unwrap();
    assert_eq!(
        rotated.passwords[0].password_file,
        s.dir.join("schools/rs-beispielheim-konferenz.pw")
    );
    assert_eq!(s.config_text(), before);
    let rotated = schools::rotate(&s.files, "gs-musterstadt", Some("gs-musterstadt-2")).unwrap();
    let file = s.dir.join("schools/gs-musterstadt-2.pw");
    assert_eq!(rotated.passwords[0].password_file, file);
    // The mode of the password files beside it.
    assert_eq!(mode(&file), 0o640);
    let text = s.config_text();
    assert!(
        text.contains(
            "rooms = [\"gs-musterstadt-1\", { name = \"gs-musterstadt-2\", password_file = \"schools/gs-musterstadt-2.pw\" }]"
        ),
        "{text}"
    );
    let config = s.load();
    let passwords: Vec<(&str, &str)> = config.schools[0]
        .rooms
        .iter()
        .map(|r| (r.name.as_str(), r.password.expose()))
        .collect();
    assert_eq!(
        passwords,
        [
            ("gs-musterstadt-1", "Tafel-Kreide-Pausenhof-47"),
            ("gs-musterstadt-2", rotated.passwords[0].password.expose()),
        ]
    );
    let err = schools::rotate(&s.files, "gs-musterstadt", Some("nowhere")).unwrap_err();
    assert!(err.to_string().contains("has no room"), "{err}");
}

#[test]
fn list_shows_rooms_and_ages_never_a_password() {
    let s = Setup::new("list");
    let listing = schools::list(&s.files, None).unwrap();
    let ids: Vec<&str> = listing.0.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["gs-musterstadt", "rs-beispielheim"]);
    assert_eq!(listing.0[1].passwords.len(), 2);
    assert!(listing
        .0
        .iter()
        .flat_map(|l| &l.passwords)
        .all(|p| p.age.is_some()));
    let printed = listing.to_string();
    let mut lines = printed.lines();
    assert_eq!(
        lines.next().unwrap(),
        "ID               NAME                     ROOMS                                         PASSWORD AGE"
    );
    assert!(
        printed.contains("gs-musterstadt-1, gs-musterstadt-2"),
        "{printed}"
    );
    assert!(
        printed.contains(" s (rs-beispielheim-konferenz)"),
        "{printed}"
    );
    for password in ["Tafel", "Zirkel", "Nebel"] {
        assert!(!printed.contains(password), "{printed}");
    }
    assert_eq!(
        schools::age_text(std::time::Duration::from_secs(90)),
        "90 s"
    );
    assert_eq!(
        schools::age_text(std::time::Duration::from_secs(3 * 86_400)),
        "3 d"
    );
}

/// The layout of systemd/raumwart.service: password files as `$CREDENTIALS_DIRECTORY/
/// schools_<file>`, loaded from a folder; an admin command finds them through the unit.
#[test]
fn password_files_behind_systemd_credentials() {
    let s = Setup::new("credentials");
    let text = s
        .config_text()
        .replace("\"schools/", "\"$CREDENTIALS_DIRECTORY/schools_")
        .replace("secret_file = \"component.secret\"\n", "");
    fs::write(&s.files.config, text).unwrap();
    let unit = format!(
        "[Service]\nLoadCredential=component-secret:{}\nLoadCredential=schools:{}\n",
        s.dir.join("component.secret").display(),
        s.dir.join("schools").display()
    );
    let files = Files {
        config: s.files.config.clone(),
        credentials: CredentialSource::Unit(UnitCredentials::from_unit(&unit)),
    };
    let added = schools::add(&files, "gs-neu", "Neue Schule", None, &Rooms::Count(1)).unwrap();
    assert_eq!(added.password_file, s.dir.join("schools/gs-neu.pw"));
    assert!(
        added.credential,
        "a credential: the daemon reads it at its start only"
    );
    assert!(s
        .config_text()
        .contains("password_file = \"$CREDENTIALS_DIRECTORY/schools_gs-neu.pw\""));
    let rotated = schools::rotate(&files, "gs-neu", None).unwrap();
    assert!(rotated.passwords[0].credential);
    let removed = schools::remove(&files, "gs-neu").unwrap();
    assert_eq!(removed.deleted_files, [s.dir.join("schools/gs-neu.pw")]);

    // Without the unit, the command says what it needs instead of guessing.
    let err = schools::add(&s.files, "gs-neu", "Neue Schule", None, &Rooms::Count(1)).unwrap_err();
    assert!(err.to_string().contains("$CREDENTIALS_DIRECTORY"), "{err}");
}

#[test]
fn credentials_are_in_use_when_a_value_names_them_not_when_a_comment_does() {
    let s = Setup::new("uses-credentials");
    let text = s.config_text();
    assert!(
        text.contains("$CREDENTIALS_DIRECTORY/"),
        "the example's comments mention the folder"
    );
    assert!(!schools::uses_credentials(&text));
    let added = schools::add(&s.files, "gs-neu", "Neue Schule", None, &Rooms::Count(1)).unwrap();
    assert!(!added.credential);
    // A room's own file, the school's file, or no secret_file (the component secret is
    // then the credential component-secret).
    let room = text.replace(
        "password_file = \"schools/rs-beispielheim-konferenz.pw\"",
        "password_file = \"$CREDENTIALS_DIRECTORY/konferenz.pw\"",
    );
    assert_ne!(room, text);
    assert!(schools::uses_credentials(&room));
    let school = text.replace(
        "password_file = \"schools/gs-musterstadt.pw\"",
        "password_file = \"$CREDENTIALS_DIRECTORY/gs.pw\"",
    );
    assert!(schools::uses_credentials(&school));
    let secret = text.replace("secret_file = \"component.secret\"\n", "");
    assert!(schools::uses_credentials(&secret));
}

/// Whether this test runs as root (CI does), who can give files to any group.
fn root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn owner(path: &Path) -> (u32, u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(path).unwrap();
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

fn give(path: &Path, gid: u32, mode: u32) {
    if root() {
        std::os::unix::fs::chown(path, Some(0), Some(gid)).unwrap();
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn written_files_keep_the_owner_group_and_mode_the_daemon_reads_them_with() {
    use std::os::unix::fs::MetadataExt;
    let s = Setup::new("access");
    // As root, a group nobody else has (the package's is raumwart); else the user's own.
    let gid = if root() {
        4242
    } else {
        fs::metadata(&s.dir).unwrap().gid()
    };
    let uid = fs::metadata(&s.dir).unwrap().uid();
    let schools = s.dir.join("schools");
    give(&s.dir, gid, 0o750);
    give(&schools, gid, 0o750);
    give(&s.files.config, gid, 0o640);
    for (file, _) in example::PASSWORDS {
        give(&schools.join(file), gid, 0o640);
    }
    // One file of its own kind: a rotation keeps it.
    give(&schools.join("rs-beispielheim.pw"), gid, 0o440);

    let added = schools::add(&s.files, "gs-neu", "Neue Schule", None, &Rooms::Count(1)).unwrap();
    assert_eq!(
        owner(&added.password_file),
        (uid, gid, 0o640),
        "new: like its siblings"
    );
    assert_eq!(
        owner(&s.files.config),
        (uid, gid, 0o640),
        "the config file keeps its own"
    );
    schools::rotate(&s.files, "rs-beispielheim", None).unwrap();
    assert_eq!(
        owner(&schools.join("rs-beispielheim.pw")),
        (uid, gid, 0o440)
    );
    let rotated = schools::rotate(&s.files, "gs-musterstadt", Some("gs-musterstadt-2")).unwrap();
    assert_eq!(
        owner(&rotated.passwords[0].password_file),
        (uid, gid, 0o640)
    );
    assert_eq!(owner(&s.files.config), (uid, gid, 0o640));

    // No password file left, no folder: the folder is made with its parent's group,
    // the file gets the folder's group, mode 0640.
    for id in ["gs-musterstadt", "rs-beispielheim", "gs-neu"] {
        schools::remove(&s.files, id).unwrap();
    }
    fs::remove_dir(&schools).unwrap();
    let added = schools::add(&s.files, "gs-neu", "Neue Schule", None, &Rooms::Count(1)).unwrap();
    assert_eq!(added.password_file, schools.join("gs-neu.pw"));
    assert_eq!(owner(&schools), (uid, gid, 0o750));
    assert_eq!(owner(&added.password_file), (uid, gid, 0o640));
    assert_eq!(owner(&s.files.config), (uid, gid, 0o640));
}

// --- changes at the same moment ----------------------------------------------------------

/// `raumwart --config CONFIG school ARGS` as a process of its own, told of no running
/// daemon (a socket that is not there).
fn school_command(s: &Setup, args: &[&str]) -> Command {
    school_command_of(Path::new(env!("CARGO_BIN_EXE_raumwart")), s, args)
}

/// `school_command` with another copy of the binary.
fn school_command_of(binary: &Path, s: &Setup, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("--config")
        .arg(&s.files.config)
        .arg("--socket")
        .arg(s.dir.join("no-daemon"))
        .arg("school")
        .args(args)
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("RAUMWART_CONFIG")
        .env_remove("RAUMWART_SOCKET");
    command
}

/// What a finished process said, for a failure message.
fn said(out: &Output) -> String {
    format!(
        "{}\n--- stdout:\n{}--- stderr:\n{}---",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The console (threads of one process, the library) and admins (`raumwart school add`
/// processes) add schools to one config at the same moment: each waits for the config's
/// lock, so every school is in the file afterwards, with its password file, and the file
/// passes `check`. Without the lock, changes read the same file and the last rename
/// wins (or the check before it refuses them).
#[test]
fn adds_at_the_same_moment_from_threads_and_processes_all_stay() {
    const EACH: usize = 12;
    // Far above the lock's own wait (10 s): an adder that stops must not hang the test.
    const DEADLINE: Duration = Duration::from_secs(60);
    let s = Setup::new("race");
    let start = Arc::new(Barrier::new(2 * EACH));
    let (done, results) = mpsc::channel();
    for i in 0..EACH {
        let (start, done) = (start.clone(), done.clone());
        let config = s.files.config.clone();
        std::thread::spawn(move || {
            let id = format!("gs-thread-{i}");
            start.wait();
            let added = schools::add(
                &Files::new(config),
                &id,
                &format!("Schule {i}"),
                None,
                &Rooms::Count(1),
            );
            let added = added.map(|a| a.password.expose().to_owned());
            let _ = done.send((id, added.map_err(|e| e.to_string())));
        });
    }
    for i in 0..EACH {
        let (start, done) = (start.clone(), done.clone());
        let id = format!("gs-process-{i}");
        let name = format!("Schule {i}");
        let mut command = school_command(&s, &["add", &id, "--name", &name, "--rooms", "1"]);
        std::thread::spawn(move || {
            start.wait();
            let result = match command.output() {
                Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into()),
                Ok(out) => Err(said(&out)),
                Err(e) => Err(format!("not started: {e}")),
            };
            let _ = done.send((id, result));
        });
    }
    drop(done);

    // Each adder: the password it was told (threads) or what it printed (processes).
    let deadline = Instant::now() + DEADLINE;
    let mut told = vec![];
    let mut failed = vec![];
    while told.len() + failed.len() < 2 * EACH {
        let left = deadline.saturating_duration_since(Instant::now());
        match results.recv_timeout(left) {
            Ok((id, Ok(text))) => told.push((id, text)),
            Ok((id, Err(e))) => failed.push(format!("{id}: {e}")),
            Err(_) => panic!(
                "{} of {} adders did not finish within {DEADLINE:?}",
                2 * EACH - told.len() - failed.len(),
                2 * EACH
            ),
        }
    }
    let config = s.load();
    let lost: Vec<&String> = told
        .iter()
        .map(|(id, _)| id)
        .filter(|id| !config.schools.iter().any(|x| &x.id == *id))
        .collect();
    assert!(
        lost.is_empty() && failed.is_empty(),
        "of {} adds, {} said they added a school that is not in the file: {lost:?}; \
         {} failed:\n{}",
        2 * EACH,
        lost.len(),
        failed.len(),
        failed.join("\n")
    );
    assert_eq!(config.schools.len(), 2 + 2 * EACH);
    for (id, text) in &told {
        let file = s.dir.join(format!("schools/{id}.pw"));
        let password = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{id}: {e}"));
        // The password written is the one its adder was told.
        assert!(text.contains(password.trim_end()), "{id}: {text}");
    }
    let check = Command::new(env!("CARGO_BIN_EXE_raumwart"))
        .arg("check")
        .arg("--config")
        .arg(&s.files.config)
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", said(&check));
    // No temporary file is left: the config, its secret, 3 + 2 × EACH password files.
    assert_eq!(s.snapshot().len(), 5 + 2 * EACH, "{:?}", s.snapshot());
}

/// The console runs as the daemon's user, not as root, on the files the package keeps
/// root:raumwart (folders writable by the group for the console). That user cannot keep
/// root as a file's owner, and need not: a file it writes keeps its group and mode, and
/// root's next change keeps the owner the console gave it. A user not in a file's group
/// cannot give it that group: its own then gets no more than others. Only root can run a
/// command as another user, so this runs as root (as CI does).
#[test]
fn the_console_s_user_changes_root_s_files_keeping_group_and_mode() {
    use std::os::unix::process::CommandExt;
    if !root() {
        eprintln!("skipped: only root can run a command as the console's user");
        return;
    }
    // nobody, and groups no one else has (the package's is raumwart).
    const CONSOLE: u32 = 65534;
    const GROUP: u32 = 4242;
    const NOT_GROUP: u32 = 4343;
    // The build folder may be closed to other users (a clone in a private temp folder):
    // the console's user works in a folder it may enter, with a copy of the binary.
    let open = std::env::temp_dir().join(format!("raumwart-console-user-{}", std::process::id()));
    fs::create_dir_all(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
    let binary = open.join("raumwart");
    fs::copy(env!("CARGO_BIN_EXE_raumwart"), &binary).unwrap();
    let (dir, files) = example::setup_in(&open, "school-console-user");
    let s = Setup { dir, files };
    let schools = s.dir.join("schools");
    give(&s.dir, GROUP, 0o770);
    give(&schools, GROUP, 0o770);
    give(&s.files.config, GROUP, 0o640);
    give(&s.dir.join("component.secret"), GROUP, 0o640);
    for (file, _) in example::PASSWORDS {
        give(&schools.join(file), GROUP, 0o640);
    }
    let console = |gid: u32, args: &[&str]| {
        let out = school_command_of(&binary, &s, args)
            .uid(CONSOLE)
            .gid(gid)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?} as {CONSOLE}:{gid}: {}",
            said(&out)
        );
    };

    console(
        GROUP,
        &["add", "gs-konsole", "--name", "Konsole", "--rooms", "2"],
    );
    let new = schools.join("gs-konsole.pw");
    assert_eq!(owner(&s.files.config), (CONSOLE, GROUP, 0o640));
    assert_eq!(owner(&new), (CONSOLE, GROUP, 0o640));
    // Made by the console's user, opened by root and the group alike.
    let lock = schools::lock_file(&s.files.config);
    assert_eq!(owner(&lock), (CONSOLE, GROUP, 0o660));
    console(GROUP, &["rotate", "gs-musterstadt"]);
    let rotated = schools.join("gs-musterstadt.pw");
    assert_eq!(owner(&rotated), (CONSOLE, GROUP, 0o640));
    console(GROUP, &["remove", "rs-beispielheim"]);
    assert!(!schools.join("rs-beispielheim.pw").exists());

    // Root after the console: every file keeps the owner, group and mode it has.
    schools::rotate(&s.files, "gs-konsole", None).unwrap();
    schools::add(&s.files, "gs-root", "Root", None, &Rooms::Count(1)).unwrap();
    assert_eq!(owner(&s.files.config), (CONSOLE, GROUP, 0o640));
    assert_eq!(owner(&new), (CONSOLE, GROUP, 0o640));
    assert_eq!(owner(&lock), (CONSOLE, GROUP, 0o660));
    s.load();

    // In a folder of its own, the user changes a file of a group it is not in.
    for path in [&s.dir, &schools, &s.dir.join("component.secret")] {
        std::os::unix::fs::chown(path, Some(CONSOLE), None).unwrap();
    }
    console(NOT_GROUP, &["rotate", "gs-konsole"]);
    assert_eq!(owner(&new), (CONSOLE, NOT_GROUP, 0o600));
    s.load();
    fs::remove_dir_all(&open).unwrap();
}

// --- password files outside the config's folder ---------------------------------------

/// A folder beside the test's config folder, standing in for /etc: files there are what
/// the console's user must not make root's `school rotate` replace (and chown, chmod),
/// or `school remove` delete. victim.pw holds a valid password, so the config passes
/// `check` and only the guard refuses.
fn outside(s: &Setup) -> PathBuf {
    let name = format!("{}-outside", s.dir.file_name().unwrap().to_string_lossy());
    let dir = s.dir.with_file_name(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let victim = dir.join("victim.pw");
    fs::write(&victim, "Zirkel-Atlas-Turnhalle-83\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
    dir
}

/// An entry of a folder: name, content, owner, group, mode and inode (a file replaced by
/// a rename has another).
type Entry = (String, Vec<u8>, u32, u32, u32, u64);

fn entries(dir: &Path) -> Vec<Entry> {
    use std::os::unix::fs::MetadataExt;
    let mut all: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let m = fs::symlink_metadata(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                fs::read(&path).unwrap(),
                m.uid(),
                m.gid(),
                m.mode(),
                m.ino(),
            )
        })
        .collect();
    all.sort();
    all
}

/// The configs a compromised console's user could write or plant so that root's next
/// school command writes outside the config's folder: rs-beispielheim's (the last
/// school's) password file elsewhere. Each: a name, the `password_file` value, what the
/// refusal says, and whether `add` (whose new file goes beside the last school's) is
/// refused too.
type Attack = (&'static str, String, &'static str, bool);

fn attacks(s: &Setup, outside: &Path) -> Vec<Attack> {
    let out_name = outside.file_name().unwrap().to_string_lossy().into_owned();
    let schools = s.dir.join("schools");
    let beyond = "password file outside the config's folder";
    let mut cases = vec![
        (
            "absolute",
            outside.join("victim.pw").display().to_string(),
            beyond,
            true,
        ),
        ("relative", format!("../{out_name}/victim.pw"), beyond, true),
        (
            "through schools/",
            format!("schools/../../{out_name}/victim.pw"),
            beyond,
            true,
        ),
    ];
    // A folder link planted in schools/.
    std::os::unix::fs::symlink(outside, schools.join("evil")).unwrap();
    cases.push((
        "folder link in schools/",
        "schools/evil/victim.pw".into(),
        beyond,
        true,
    ));
    // A file link planted in schools/: a new school's file beside it is fine.
    std::os::unix::fs::symlink(outside.join("victim.pw"), schools.join("linked.pw")).unwrap();
    cases.push((
        "file link in schools/",
        "schools/linked.pw".into(),
        "is a link to",
        false,
    ));
    cases
}

/// Runs every school command that would write, replace or delete the attacked file, as
/// the library and as the binary: each is refused, says why, and changes nothing inside
/// the config's folder or outside it.
fn assert_refused(s: &Setup, files: &Files, outside: &Path, case: &str, why: &str, add: bool) {
    let inside = s.snapshot();
    let out = entries(outside);
    let config = s.files.config.display().to_string();
    let check = |result: Result<String, schools::Error>, what: &str| {
        let err = result.expect_err(&format!("{case}: {what} was not refused"));
        let text = err.to_string();
        assert!(
            matches!(err, schools::Error::Refused(_))
                && text.starts_with(&format!("{config}: "))
                && text.contains(why)
                && text.contains("— refused"),
            "{case}: {what}: {text}"
        );
        assert_eq!(
            s.snapshot(),
            inside,
            "{case}: {what} changed the config's folder"
        );
        assert_eq!(entries(outside), out, "{case}: {what} changed the outside");
    };
    check(
        schools::rotate(files, "rs-beispielheim", None).map(|r| r.to_string()),
        "rotate",
    );
    check(
        schools::remove(files, "rs-beispielheim").map(|r| r.to_string()),
        "remove",
    );
    let added = schools::add(files, "gs-neu", "Neue Schule", None, &Rooms::Count(1));
    if add {
        check(added.map(|a| a.to_string()), "add");
    } else {
        schools::remove(files, &added.expect(case).school).unwrap();
    }
    // The binary as root runs it: the same refusal, exit 65.
    let inside = s.snapshot();
    for args in [["rotate", "rs-beispielheim"], ["remove", "rs-beispielheim"]] {
        let mut command = school_command(s, &args);
        if let CredentialSource::Folder(dir) = &files.credentials {
            command.env("CREDENTIALS_DIRECTORY", dir);
        }
        let done = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert!(
            done.status.code() == Some(65) && stderr.contains(why),
            "{case}: school {args:?}: {}",
            said(&done)
        );
        assert_eq!(s.snapshot(), inside, "{case}: {args:?} changed the folder");
        assert_eq!(
            entries(outside),
            out,
            "{case}: {args:?} changed the outside"
        );
    }
}

#[test]
fn a_password_file_outside_the_config_s_folder_is_never_written_or_deleted() {
    let s = Setup::new("outside");
    let outside = outside(&s);
    let original = s.config_text();
    for (case, file, why, add) in attacks(&s, &outside) {
        let text = original.replacen(
            "password_file = \"schools/rs-beispielheim.pw\"",
            &format!("password_file = {file:?}"),
            1,
        );
        assert_ne!(text, original);
        fs::write(&s.files.config, text).unwrap();
        // `check` and the daemon still read it: the config is valid as it is.
        s.load();
        assert_refused(&s, &s.files, &outside, case, why, add);
    }

    // schools/ itself made a link to a folder elsewhere, with the files moved there.
    fs::write(&s.files.config, &original).unwrap();
    let schools = s.dir.join("schools");
    for (file, _) in example::PASSWORDS {
        fs::rename(schools.join(file), outside.join(file)).unwrap();
    }
    fs::remove_dir_all(&schools).unwrap();
    std::os::unix::fs::symlink(&outside, &schools).unwrap();
    s.load();
    let beyond = "password file outside the config's folder";
    assert_refused(&s, &s.files, &outside, "schools/ a link", beyond, true);
}

/// A `$CREDENTIALS_DIRECTORY/` value resolves through the credentials' source: written
/// only when that leads into the config's folder too.
#[test]
fn a_credential_outside_the_config_s_folder_is_never_written_or_deleted() {
    let s = Setup::new("outside-credentials");
    let outside = outside(&s);
    let out_name = outside.file_name().unwrap().to_string_lossy().into_owned();
    let original = s.config_text();
    let attack = |file: &str| {
        let text = original.replacen(
            "password_file = \"schools/rs-beispielheim.pw\"",
            &format!("password_file = \"$CREDENTIALS_DIRECTORY/{file}\""),
            1,
        );
        fs::write(&s.files.config, text).unwrap();
    };
    let beyond = "password file outside the config's folder";

    // The credentials folder elsewhere (the variable set, as inside a unit).
    attack("victim.pw");
    let folder = Files {
        config: s.files.config.clone(),
        credentials: CredentialSource::Folder(outside.clone()),
    };
    assert_refused(&s, &folder, &outside, "credentials folder", beyond, true);

    // The unit's folder is the config's schools/, but the name climbs out of it.
    attack(&format!("schools_../../{out_name}/victim.pw"));
    let unit = format!(
        "[Service]\nLoadCredential=schools:{}\n",
        s.dir.join("schools").display()
    );
    let unit = Files {
        config: s.files.config.clone(),
        credentials: CredentialSource::Unit(UnitCredentials::from_unit(&unit)),
    };
    let err = schools::rotate(&unit, "rs-beispielheim", None).unwrap_err();
    assert!(err.to_string().contains(beyond), "{err}");
    let err = schools::remove(&unit, "rs-beispielheim").unwrap_err();
    assert!(err.to_string().contains(beyond), "{err}");
    assert_eq!(
        fs::read_to_string(outside.join("victim.pw")).unwrap(),
        "Zirkel-Atlas-Turnhalle-83\n"
    );
}

/// Inside the config's folder, any spelling works: absolute, or through a link to a
/// folder inside it.
#[test]
fn a_password_file_inside_the_config_s_folder_by_any_path_is_written() {
    let s = Setup::new("inside-paths");
    let absolute = s.dir.join("schools/rs-beispielheim.pw");
    let text = s.config_text().replacen(
        "password_file = \"schools/rs-beispielheim.pw\"",
        &format!("password_file = {:?}", absolute.display().to_string()),
        1,
    );
    fs::write(&s.files.config, text).unwrap();
    let rotated = schools::rotate(&s.files, "rs-beispielheim", None).unwrap();
    assert_eq!(
        fs::read_to_string(&absolute).unwrap(),
        format!("{}\n", rotated.passwords[0].password.expose())
    );
    let added = schools::add(&s.files, "gs-neu", "Neue Schule", None, &Rooms::Count(1)).unwrap();
    assert_eq!(added.password_file, s.dir.join("schools/gs-neu.pw"));

    std::os::unix::fs::symlink("schools", s.dir.join("current")).unwrap();
    let text = s.config_text().replacen(
        "password_file = \"schools/gs-musterstadt.pw\"",
        "password_file = \"current/gs-musterstadt.pw\"",
        1,
    );
    fs::write(&s.files.config, text).unwrap();
    let rotated = schools::rotate(&s.files, "gs-musterstadt", None).unwrap();
    let file = s.dir.join("schools/gs-musterstadt.pw");
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        format!("{}\n", rotated.passwords[0].password.expose())
    );
    let removed = schools::remove(&s.files, "gs-musterstadt").unwrap();
    assert_eq!(
        removed.deleted_files,
        [s.dir.join("current/gs-musterstadt.pw")]
    );
    assert!(!file.exists());
    assert!(s.dir.join("current").is_dir(), "the link itself stays");
    s.load();
}

// --- import --------------------------------------------------------------------------

fn register(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/register")
        .join(name)
}

fn columns() -> Columns {
    Columns {
        id: "Kürzel".into(),
        name: "Schule".into(),
    }
}

/// What the registers hold besides id and name: none of it may reach raumwart.
const CONTACT_DATA: &[&str] = &[
    "Sabine",
    "Brandt",
    "Schulleiterin",
    "0761 4455",
    "s.brandt@",
    "Jonas",
    "Keller",
    "Konrektor",
    "0170 998877",
    "keller@",
    "Lindenweg",
    "Marktplatz",
    "Hinterhaus",
    "Petra",
    "Sommer",
    "Sekretariat",
    "Hauptstraße",
    "Uwe",
    "Tanne",
    "Hausmeister",
    "Feldweg",
    "ohne Kürzel",
];

#[test]
fn import_adds_the_new_schools_of_each_register_kind() {
    for name in [
        "schulen.csv",
        "schulen.xlsx",
        "schulen.ods",
        "schulen-cp1252.csv",
    ] {
        let s = Setup::new(&format!("import-{name}"));
        let before = s.snapshot();
        let dry = schools::import(&s.files, &register(name), &columns(), None, 2, true)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.snapshot(), before, "{name}: --dry-run wrote something");
        let printed_dry = dry.to_string();
        assert!(
            printed_dry
                .contains("would add school gs-lindenhof (Grundschule Lindenhof) with 2 room(s)"),
            "{name}:\n{printed_dry}"
        );

        let imported =
            schools::import(&s.files, &register(name), &columns(), None, 2, false).unwrap();
        let ids: Vec<&str> = imported.added.iter().map(|a| a.school.as_str()).collect();
        assert_eq!(ids, ["gs-lindenhof", "rs-am-markt"], "{name}");
        assert_eq!(imported.unchanged, ["gs-musterstadt"], "{name}");
        let skipped: Vec<String> = imported.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(skipped, ["row 5: no school id"], "{name}");
        let config = s.load();
        let names: Vec<Option<&str>> = config.schools.iter().map(|x| x.name.as_deref()).collect();
        assert_eq!(
            names,
            [
                Some("Grundschule Musterstadt"),
                Some("Realschule Beispielheim"),
                Some("Grundschule Lindenhof"),
                Some("Realschule Am Markt (Außenstelle)"),
            ],
            "{name}"
        );
        let printed = imported.to_string();
        assert!(
            printed.contains("configured already, left alone: gs-musterstadt"),
            "{printed}"
        );

        // Nothing from the other columns in any file, in what is printed, in the result.
        let mut everything = printed_dry + &printed + &format!("{imported:?}");
        for (_, content) in s.snapshot() {
            everything.push_str(&String::from_utf8_lossy(&content));
        }
        for private in CONTACT_DATA {
            assert!(
                !everything.contains(private),
                "{name}: {private:?} reached raumwart:\n{everything}"
            );
        }

        // Again: everything is configured now.
        let again = schools::import(&s.files, &register(name), &columns(), None, 2, false).unwrap();
        assert!(again.added.is_empty());
        assert!(again.to_string().contains("no new schools"));
    }
}

#[test]
fn import_errors_name_no_cell_but_the_id() {
    let s = Setup::new("import-errors");
    let wrong = Columns {
        id: "Kennung".into(),
        name: "Schule".into(),
    };
    let err =
        schools::import(&s.files, &register("schulen.xlsx"), &wrong, None, 2, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no column \"kennung\" in the first row (the header row)",
            register("schulen.xlsx").display()
        )
    );
    let broken = s.dir.join("kaputt.xlsx");
    fs::write(&broken, "Sabine Brandt, 0761 4455").unwrap();
    let err = schools::import(&s.files, &broken, &columns(), None, 2, false).unwrap_err();
    assert!(
        err.to_string().contains("cannot read this spreadsheet"),
        "{err}"
    );
    assert!(!err.to_string().contains("Sabine"), "{err}");
}

// --- several media centres -----------------------------------------------------------

/// The example with its one [media_centre] table split into two [[media_centre]]
/// blocks; gs-musterstadt is Beispielkreis's, rs-beispielheim Nachbarkreis's.
fn two_media_centres(s: &Setup) {
    let text = s
        .config_text()
        .replace(
            "[media_centre]\n",
            "[[media_centre]]\nid = \"kmz-beispielkreis\"\n",
        )
        .replace(
            "id = \"gs-musterstadt\"\n",
            "id = \"gs-musterstadt\"\nmedia_centre = \"kmz-beispielkreis\"\n",
        )
        .replace(
            "id = \"rs-beispielheim\"\n",
            "id = \"rs-beispielheim\"\nmedia_centre = \"kmz-nachbarkreis\"\n",
        );
    let text = format!(
        "{text}\n[[media_centre]]\nid = \"kmz-nachbarkreis\"\nname = \"Kreismedienzentrum Nachbarkreis\"\n"
    );
    fs::write(&s.files.config, text).unwrap();
    s.load();
}

#[test]
fn with_several_media_centres_add_names_the_school_s_own() {
    let s = Setup::new("add-media-centre");
    two_media_centres(&s);
    let before = s.snapshot();
    for (centre, why) in [
        (None, "several media centres (\"kmz-beispielkreis\", \"kmz-nachbarkreis\"): say which with --media-centre ID"),
        (Some("kmz-nirgendwo"), "there is no media centre \"kmz-nirgendwo\"; the media centres are \"kmz-beispielkreis\", \"kmz-nachbarkreis\""),
    ] {
        let err = schools::add(&s.files, "gs-neu", "Neue Schule", centre, &Rooms::Count(1))
            .unwrap_err();
        assert!(matches!(err, schools::Error::Refused(_)), "{err}");
        assert!(err.to_string().contains(why), "{err}");
        assert_eq!(s.snapshot(), before, "{centre:?} left something behind");
    }

    let text = s.config_text();
    let added = schools::add(
        &s.files,
        "gs-neu",
        "Neue Schule",
        Some("kmz-nachbarkreis"),
        &Rooms::Count(1),
    )
    .unwrap();
    assert_eq!(added.media_centre.as_deref(), Some("kmz-nachbarkreis"));
    assert!(
        added.to_string().starts_with(
            "added school gs-neu (Neue Schule), media centre kmz-nachbarkreis, with 1 room(s)"
        ),
        "{added}"
    );
    // After the last school's block, everything else as it was.
    let block = "\n[[school]]\nid = \"gs-neu\"\nname = \"Neue Schule\"\n\
                 media_centre = \"kmz-nachbarkreis\"\npassword_file = \"schools/gs-neu.pw\"\n\
                 rooms = [\"gs-neu-1\"]\n";
    let after = s.config_text();
    assert!(after.contains(block), "{after}");
    assert_eq!(after.replacen(block, "", 1), text);
    let config = s.load();
    assert_eq!(config.media_centre_id("gs-neu"), Some("kmz-nachbarkreis"));
    assert_eq!(
        config.media_centre_of("gs-neu").unwrap().name,
        "Kreismedienzentrum Nachbarkreis"
    );
}

#[test]
fn with_one_media_centre_block_add_names_it_and_the_one_table_needs_no_name() {
    let s = Setup::new("add-one-media-centre");
    // The one [media_centre] table: no id to give, none to write.
    let err = schools::add(
        &s.files,
        "gs-neu",
        "Neue Schule",
        Some("kmz-beispielkreis"),
        &Rooms::Count(1),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("declares no [[media_centre]] blocks"),
        "{err}"
    );
    schools::add(&s.files, "gs-neu", "Neue Schule", None, &Rooms::Count(1)).unwrap();
    assert!(!s
        .config_text()
        .contains("name = \"Neue Schule\"\nmedia_centre"));

    // One block: the new school is its, and says so in its block.
    let text = s.config_text().replace(
        "[media_centre]\n",
        "[[media_centre]]\nid = \"kmz-beispielkreis\"\n",
    );
    fs::write(&s.files.config, text).unwrap();
    let added = schools::add(&s.files, "gs-zwei", "Zweite Schule", None, &Rooms::Count(1)).unwrap();
    assert_eq!(added.media_centre.as_deref(), Some("kmz-beispielkreis"));
    assert!(s.config_text().contains(
        "id = \"gs-zwei\"\nname = \"Zweite Schule\"\nmedia_centre = \"kmz-beispielkreis\"\n"
    ));
    assert_eq!(
        s.load().media_centre_id("gs-zwei"),
        Some("kmz-beispielkreis")
    );
}

#[test]
fn list_shows_each_school_s_media_centre_and_filters_by_it() {
    let s = Setup::new("list-media-centres");
    two_media_centres(&s);
    let listing = schools::list(&s.files, None).unwrap();
    let centres: Vec<(&str, Option<&str>)> = listing
        .0
        .iter()
        .map(|l| (l.id.as_str(), l.media_centre.as_deref()))
        .collect();
    assert_eq!(
        centres,
        [
            ("gs-musterstadt", Some("kmz-beispielkreis")),
            ("rs-beispielheim", Some("kmz-nachbarkreis")),
        ]
    );
    let printed = listing.to_string();
    let lines: Vec<&str> = printed.lines().collect();
    assert!(
        lines[0].starts_with("ID               MEDIA CENTRE       NAME"),
        "{printed}"
    );
    assert!(
        lines[2].starts_with("rs-beispielheim  kmz-nachbarkreis   Realschule Beispielheim"),
        "{printed}"
    );

    let only = schools::list(&s.files, Some("kmz-nachbarkreis")).unwrap();
    let ids: Vec<&str> = only.0.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["rs-beispielheim"]);
    let err = schools::list(&s.files, Some("kmz-nirgendwo")).unwrap_err();
    assert!(err.to_string().contains("no media centre"), "{err}");

    // The one [media_centre] table: no column (the test above checks the header).
    let s = Setup::new("list-one-media-centre");
    let listing = schools::list(&s.files, None).unwrap();
    assert!(listing.0.iter().all(|l| l.media_centre.is_none()));
    assert!(!listing.to_string().contains("MEDIA CENTRE"));
}

#[test]
fn import_gives_the_new_schools_the_register_s_media_centre() {
    let s = Setup::new("import-media-centre");
    two_media_centres(&s);
    let before = s.snapshot();
    let err = schools::import(
        &s.files,
        &register("schulen.csv"),
        &columns(),
        None,
        1,
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("--media-centre ID"), "{err}");
    assert_eq!(s.snapshot(), before);

    let imported = schools::import(
        &s.files,
        &register("schulen.csv"),
        &columns(),
        Some("kmz-nachbarkreis"),
        1,
        false,
    )
    .unwrap();
    assert!(imported
        .added
        .iter()
        .all(|a| a.media_centre.as_deref() == Some("kmz-nachbarkreis")));
    // gs-musterstadt is in this register but Beispielkreis's: left alone, and said so.
    assert_eq!(
        imported.elsewhere,
        [("gs-musterstadt".to_owned(), "kmz-beispielkreis".to_owned())]
    );
    let printed = imported.to_string();
    assert!(
        printed.contains("added school gs-lindenhof (Grundschule Lindenhof), media centre kmz-nachbarkreis, with 1 room(s)"),
        "{printed}"
    );
    assert!(
        printed.contains("school gs-musterstadt is configured for media centre kmz-beispielkreis"),
        "{printed}"
    );
    let config = s.load();
    assert_eq!(
        config.media_centre_id("gs-lindenhof"),
        Some("kmz-nachbarkreis")
    );
    assert_eq!(
        config.media_centre_id("rs-am-markt"),
        Some("kmz-nachbarkreis")
    );
    assert_eq!(
        config.media_centre_id("gs-musterstadt"),
        Some("kmz-beispielkreis")
    );
}

/// The example's commented form for several media centres, taken instead of its one
/// table, is valid: the documentation cannot drift from what `check` accepts.
#[test]
fn the_example_s_form_for_several_media_centres_is_valid() {
    let s = Setup::new("example-media-centres");
    let text = s.config_text();
    // From the table to the end of the commented blocks, the blocks uncommented.
    let table = text.find("[media_centre]\n").unwrap();
    let blocks = text.find("# [[media_centre]]\n").unwrap();
    let blocks_end = blocks + text[blocks..].find("\n\n").unwrap() + 2;
    let uncommented: String = text[blocks..blocks_end]
        .lines()
        .map(|l| format!("{}\n", l.trim_start_matches('#').trim_start()))
        .collect();
    let text = format!("{}{}{}", &text[..table], uncommented, &text[blocks_end..])
        .replace(
            "# media_centre = \"kmz-beispielkreis\"",
            "media_centre = \"kmz-beispielkreis\"",
        )
        .replace(
            "id = \"rs-beispielheim\"\n",
            "id = \"rs-beispielheim\"\nmedia_centre = \"kmz-nachbarkreis\"\n",
        );
    assert!(!text.contains("\n[media_centre]"), "{text}");
    fs::write(&s.files.config, &text).unwrap();
    let config = s.load();
    let ids: Vec<Option<&str>> = config
        .media_centres
        .iter()
        .map(|m| m.id.as_deref())
        .collect();
    assert_eq!(ids, [Some("kmz-beispielkreis"), Some("kmz-nachbarkreis")]);
    assert_eq!(
        config.media_centre_id("gs-musterstadt"),
        Some("kmz-beispielkreis")
    );
}
