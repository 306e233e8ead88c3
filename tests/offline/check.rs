//! `raumwart check --config FILE` against the fixtures in tests/fixtures.
//!
//! The fixtures state what they expect in comments, so adding a case needs no code:
//!
//! - `valid/*.toml`: `# expect: ok (1 schools, 2 rooms)`, the text after "FILE: " on
//!   stdout's first line, then one `# expect-room: SCHOOL: "NAME" -> NODE...` per
//!   configured room name, the following lines of stdout in order (each indented by two
//!   spaces there); exit status 0.
//! - `invalid/*.toml`: one `# expect: LINE:COLUMN: MESSAGE` per problem; exit status 78,
//!   and stderr holds exactly one line per problem, `FILE:LINE:COLUMN: ...`, in any
//!   order. The column counts bytes from 1. MESSAGE is a part of the message; `*` in it
//!   stands for any text (for absolute paths and OS error texts).
//! - `# known-wrong: REASON` marks an invalid fixture whose expectation the code does not
//!   meet yet. The table skips it; it runs in its own `#[ignore]`d test below, listed in
//!   `KNOWN_WRONG`. When the code is fixed, drop the marker, the test and the entry.
//!
//! Relative paths in a config resolve against the config's folder, so every run happens
//! in a working directory that holds none of them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// sysexits' EX_CONFIG.
const EX_CONFIG: i32 = 78;

/// Invalid fixtures marked `# known-wrong:`, each run by an `#[ignore]`d test below.
const KNOWN_WRONG: &[&str] = &["several-problems-with-unknown-key.toml"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A working directory unrelated to the fixtures: none of their relative paths exist here.
fn elsewhere() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit status {:?}\n--- stdout:\n{}--- stderr:\n{}---",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `raumwart check --config CONFIG` in `cwd`, with `$CREDENTIALS_DIRECTORY` set to
/// `credentials` or unset.
fn check(config: &Path, cwd: &Path, credentials: Option<&Path>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_raumwart"));
    command
        .arg("check")
        .arg("--config")
        .arg(config)
        .current_dir(cwd);
    match credentials {
        Some(dir) => command.env("CREDENTIALS_DIRECTORY", dir),
        None => command.env_remove("CREDENTIALS_DIRECTORY"),
    };
    let out = command.output().expect("raumwart runs");
    Run {
        status: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

// --- fixtures and their expectations -------------------------------------------------

#[derive(Debug)]
struct Expected {
    line: usize,
    column: usize,
    /// Parts of the message that must appear in this order.
    message: Vec<String>,
}

struct Fixture {
    path: PathBuf,
    /// The text after `# expect: `, one per line.
    expect: Vec<String>,
    /// The text after `# expect-room: `, one per line.
    rooms: Vec<String>,
    /// The text after `# expect-warning: `, one per line: what `check` warns of.
    warnings: Vec<String>,
    known_wrong: Option<String>,
}

impl Fixture {
    fn read(path: PathBuf) -> Fixture {
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let comment = |key: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| l.strip_prefix(key))
                .map(|rest| rest.trim().to_owned())
                .collect()
        };
        Fixture {
            expect: comment("# expect:"),
            rooms: comment("# expect-room:"),
            warnings: comment("# expect-warning:"),
            known_wrong: comment("# known-wrong:").into_iter().next(),
            path,
        }
    }

    fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    fn problems(&self) -> Vec<Expected> {
        self.expect
            .iter()
            .map(|e| {
                let parse = || -> Option<Expected> {
                    let (line, rest) = e.split_once(':')?;
                    let (column, message) = rest.split_once(':')?;
                    Some(Expected {
                        line: line.trim().parse().ok()?,
                        column: column.trim().parse().ok()?,
                        message: message.trim().split('*').map(str::to_owned).collect(),
                    })
                };
                parse().unwrap_or_else(|| {
                    panic!(
                        "{}: `# expect: {e}` is not LINE:COLUMN: MESSAGE",
                        self.path.display()
                    )
                })
            })
            .collect()
    }
}

/// The `*.toml` files in `tests/fixtures/<dir>`, sorted.
fn fixtures_in(dir: &str) -> Vec<Fixture> {
    let mut paths: Vec<PathBuf> = fs::read_dir(fixtures().join(dir))
        .expect("fixture folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths.into_iter().map(Fixture::read).collect()
}

/// Whether `text` holds the parts in this order.
fn contains_in_order(text: &str, parts: &[String]) -> bool {
    let mut rest = text;
    parts.iter().all(|part| match rest.find(part.as_str()) {
        Some(at) => {
            rest = &rest[at + part.len()..];
            true
        }
        None => false,
    })
}

/// Checks a valid fixture; `Err` says what is wrong.
fn verify_valid(fixture: &Fixture) -> Result<(), String> {
    let [expect] = fixture.expect.as_slice() else {
        return Err("needs exactly one `# expect: ok (...)`".into());
    };
    let run = check(&fixture.path, elsewhere(), None);
    let mut wanted = format!("{}: {expect}\n", fixture.path.display());
    for room in &fixture.rooms {
        wanted.push_str(&format!("  {room}\n"));
    }
    let warned: String = fixture
        .warnings
        .iter()
        .map(|w| format!("warning: {w}\n"))
        .collect();
    if run.status == Some(0) && run.stdout == wanted && run.stderr == warned {
        Ok(())
    } else {
        Err(format!(
            "wanted exit status 0, stdout {wanted:?} and stderr {warned:?}; got {run}"
        ))
    }
}

/// Checks an invalid fixture; `Err` says what is wrong.
fn verify_invalid(fixture: &Fixture) -> Result<(), String> {
    let expected = fixture.problems();
    if expected.is_empty() {
        return Err("needs at least one `# expect: LINE:COLUMN: MESSAGE`".into());
    }
    let run = check(&fixture.path, elsewhere(), None);
    let mut complaints = vec![];
    if run.status != Some(EX_CONFIG) {
        complaints.push(format!("exit status {:?}, not {EX_CONFIG}", run.status));
    }
    if !run.stdout.is_empty() {
        complaints.push("stdout is not empty".to_owned());
    }
    let mut lines: Vec<Option<&str>> = run.stderr.lines().map(Some).collect();
    for e in &expected {
        let prefix = format!("{}:{}:{}: ", fixture.path.display(), e.line, e.column);
        let found = lines.iter_mut().find(|l| {
            l.and_then(|l| l.strip_prefix(&prefix))
                .is_some_and(|message| contains_in_order(message, &e.message))
        });
        match found {
            Some(line) => *line = None,
            None => complaints.push(format!(
                "no line `{prefix}{}`",
                e.message.join("*").trim_end()
            )),
        }
    }
    for extra in lines.into_iter().flatten() {
        complaints.push(format!("unexpected line `{extra}`"));
    }
    if complaints.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{run}", complaints.join("\n")))
    }
}

fn assert_all(results: Vec<(String, Result<(), String>)>) {
    let failures: Vec<String> = results
        .into_iter()
        .filter_map(|(name, r)| r.err().map(|why| format!("== {name}:\n{why}")))
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// Runs one invalid fixture, known-wrong or not, and panics with what is wrong.
fn assert_invalid_fixture(name: &str) {
    let fixture = Fixture::read(fixtures().join("invalid").join(name));
    if let Err(why) = verify_invalid(&fixture) {
        panic!("== {name}:\n{why}");
    }
}

// --- the tables ----------------------------------------------------------------------

#[test]
fn valid_fixtures_pass() {
    let all = fixtures_in("valid");
    assert!(all.len() >= 3, "valid fixtures missing");
    assert_all(all.iter().map(|f| (f.name(), verify_valid(f))).collect());
}

#[test]
fn invalid_fixtures_report_every_problem_at_its_place() {
    let all = fixtures_in("invalid");
    assert!(all.len() >= 20, "invalid fixtures missing");
    let known_wrong: Vec<String> = all
        .iter()
        .filter(|f| f.known_wrong.is_some())
        .map(Fixture::name)
        .collect();
    assert_eq!(
        known_wrong, KNOWN_WRONG,
        "every `# known-wrong:` fixture needs its #[ignore]d test and an entry in KNOWN_WRONG"
    );
    assert_all(
        all.iter()
            .filter(|f| f.known_wrong.is_none())
            .map(|f| (f.name(), verify_invalid(f)))
            .collect(),
    );
}

/// Problems found after the TOML has been read are all reported, one line each.
#[test]
fn several_problems_are_all_reported() {
    let fixture = Fixture::read(fixtures().join("invalid/several-problems.toml"));
    assert!(fixture.problems().len() >= 10);
    let run = check(&fixture.path, elsewhere(), None);
    assert_eq!(run.stderr.lines().count(), 10, "{run}");
    assert_invalid_fixture("several-problems.toml");
}

// --- known wrong: the behaviour that would be right ----------------------------------

#[test]
#[ignore = "config: a file of the wrong shape (unknown key, wrong type) is reported at its \
            first such problem; the value checks after it do not run"]
fn known_wrong_several_problems_with_unknown_key() {
    assert_invalid_fixture("several-problems-with-unknown-key.toml");
}

// --- paths ---------------------------------------------------------------------------

/// A relative password_file means beside the config file, not in the working directory.
#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let fixtures = fixtures();

    // From an unrelated folder, with the config given by absolute path.
    let config = fixtures.join("valid/room-password.toml");
    let run = check(&config, elsewhere(), None);
    assert_eq!(run.status, Some(0), "{run}");

    // With the config given relative to the working directory; the "../schools/*.pw" in
    // it would not exist relative to the working directory.
    let run = check(Path::new("valid/room-password.toml"), &fixtures, None);
    assert_eq!(run.status, Some(0), "{run}");
    assert!(
        run.stdout
            .starts_with("valid/room-password.toml: ok (2 schools, 4 rooms)\n"),
        "{run}"
    );
    let run = check(
        Path::new("room-password.toml"),
        &fixtures.join("valid"),
        None,
    );
    assert_eq!(run.status, Some(0), "{run}");
    assert!(
        run.stdout
            .starts_with("room-password.toml: ok (2 schools, 4 rooms)\n"),
        "{run}"
    );

    // "schools/gs.pw" exists in the working directory, but not beside the config.
    assert!(fixtures.join("schools/gs.pw").is_file());
    assert!(!fixtures.join("invalid/schools/gs.pw").exists());
    let config = Path::new("invalid/password-file-not-beside-config.toml");
    let run = check(config, &fixtures, None);
    assert_eq!(run.status, Some(EX_CONFIG), "{run}");
    assert!(
        run.stderr.starts_with(
            "invalid/password-file-not-beside-config.toml:13:17: \
             cannot read invalid/schools/gs.pw: "
        ),
        "{run}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "{run}");
}

/// The room table's password_file overrides the school's: the password is the room's.
#[test]
fn room_password_file_overrides_the_school_password() {
    let config = raumwart::config::load(&fixtures().join("valid/room-password.toml"))
        .expect("room-password.toml is valid");
    let passwords: Vec<(&str, &str)> = config
        .schools
        .iter()
        .flat_map(|s| &s.rooms)
        .map(|r| (r.name.as_str(), r.password.expose()))
        .collect();
    assert_eq!(
        passwords,
        [
            ("gs-musterstadt-1a", "Sonnenblume-Kompass-Ufer-17"),
            ("gs-musterstadt-lehrerzimmer", "Raum-Nebel-Fahrrad-4b"),
            ("rs-beispiel-5c", "Wolke-Leuchtturm-Kastanie-8"),
            ("rs-beispiel-6a", "Raum-Nebel-Fahrrad-4b"),
        ]
    );
}

#[test]
fn a_config_file_that_does_not_exist() {
    let run = check(Path::new("nowhere.toml"), elsewhere(), None);
    assert_eq!(run.status, Some(EX_CONFIG), "{run}");
    assert!(
        run.stderr.starts_with("nowhere.toml: cannot read: "),
        "{run}"
    );
}

// --- the component secret ------------------------------------------------------------

/// Without secret_file the secret is `$CREDENTIALS_DIRECTORY/component-secret`; without
/// either the config is invalid, reported at the component.
#[test]
fn secret_falls_back_to_the_credentials_directory() {
    let fixtures = fixtures();
    let config = fixtures.join("credentials/raumwart.toml");
    let store = fixtures.join("credentials/store");
    let at = format!("{}:6:13: ", config.display());

    let run = check(&config, elsewhere(), Some(&store));
    assert_eq!(run.status, Some(0), "{run}");
    assert_eq!(
        run.stdout,
        format!(
            "{}: ok (1 schools, 1 rooms)\n  gs-musterstadt: \"gs-musterstadt-1a\" -> gs-musterstadt-1a\n",
            config.display()
        )
    );
    let text = fs::read_to_string(&config).unwrap();
    let loaded = raumwart::config::parse(&config, &text, Some(&store)).expect("valid");
    assert_eq!(loaded.xmpp.secret.expose(), "aus-dem-credentials-ordner");

    let run = check(&config, elsewhere(), None);
    assert_eq!(run.status, Some(EX_CONFIG), "{run}");
    assert_eq!(
        run.stderr,
        format!(
            "{at}no secret_file, and no $CREDENTIALS_DIRECTORY to find the component secret in\n"
        )
    );

    // A credentials directory without the secret in it.
    let empty_store = fixtures.join("schools");
    let run = check(&config, elsewhere(), Some(&empty_store));
    assert_eq!(run.status, Some(EX_CONFIG), "{run}");
    assert!(
        run.stderr.starts_with(&format!(
            "{at}cannot read {}: ",
            empty_store.join("component-secret").display()
        )),
        "{run}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "{run}");

    // secret_file, when given, wins over the credentials directory.
    let config = fixtures.join("valid/one-school.toml");
    let run = check(&config, elsewhere(), Some(&empty_store));
    assert_eq!(run.status, Some(0), "{run}");
}
