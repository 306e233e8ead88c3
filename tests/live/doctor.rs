//! `raumwart doctor` against a real Prosody: all ok where Prosody is set up as README
//! says, the wrong settings named where it is not, and a module of an earlier release
//! too old to be asked. The exit status says which, for scripts.

use std::fs;
use std::process::Command;

use testkit::client;
use testkit::*;

use crate::REPO;

struct Doctor {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `raumwart doctor` for `env`'s daemon.
fn doctor(env: &Env) -> Doctor {
    let out = Command::new(env!("CARGO_BIN_EXE_raumwart"))
        .arg("doctor")
        .arg("--config")
        .arg(env.daemon_config_path())
        .output()
        .unwrap();
    Doctor {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Doctor {
    /// The line of `check`, which must be there once.
    #[track_caller]
    fn line(&self, check: &str) -> &str {
        let found: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| l.split_once(": ").is_some_and(|(c, _)| c.ends_with(check)))
            .collect();
        assert_eq!(found.len(), 1, "one {check:?} line in\n{}", self.stdout);
        found[0]
    }
}

/// README's recommendations for Prosody: Nagle off, the generational collector, a room
/// cache for every managed room.
fn as_readme_says() -> Options {
    Options {
        nagle: false,
        prosody_gc: Some(RECOMMENDED_GC.into()),
        room_cache_size: Some(10_000),
        ..Options::default()
    }
}

#[tokio::test]
async fn a_prosody_set_up_as_readme_says_is_ok_in_every_line() {
    let env = Env::new(REPO, as_readme_says());
    let _d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let out = doctor(&env);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.lines().all(|l| l.starts_with("ok ")),
        "{}",
        out.stdout
    );
    let main = muc();
    assert!(out.line("module on the main MUC").contains(main));
    assert!(out.line("module on the breakout MUC").contains(BREAKOUT));
    for host in [main, BREAKOUT, LOBBY] {
        out.line(&format!("raumwart admin and owner on {host}"));
    }
    assert!(out
        .line("component port")
        .contains(&format!("127.0.0.1:{}", env.component)));
    assert!(out.line("service_jids").contains(&format!("focus@{AUTH}")));
    out.line("Prosody version");
    out.line("room cache");
    // Prosody's admins and ports are told to raumwart's component only.
    let mut guest = env.anonymous().await;
    let ask = client::el("doctor", "urn:raumwart:0", &[]);
    let answer = guest.iq(main, "get", ask).await;
    assert_eq!(answer.err().as_deref(), Some("forbidden"));
    // Asking costs Prosody no warning (Prosody 13: no legacy admin API).
    let log = env.prosody_log();
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| matches!(l.split('\t').nth(1).map(str::trim), Some("warn" | "error")))
        .collect();
    assert_eq!(complaints, Vec::<&str>::new());
}

/// Sets `component_admins_as_room_owners = false` on the lobby MUC, in whichever file
/// of the config shape says it for that MUC.
fn lobby_without_owners(env: &Env) {
    let lobby = format!("Component \"{LOBBY}\" \"muc\"");
    for file in [
        env.dir.join("prosody.cfg.lua"),
        env.dir.join("conf.d/raumwart.cfg.lua"),
    ] {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let Some((before, after)) = text.split_once(&lobby) else {
            continue;
        };
        let end = after.find("\nComponent ").unwrap_or(after.len());
        let (section, rest) = after.split_at(end);
        let section = section.replace(
            "component_admins_as_room_owners = true",
            "component_admins_as_room_owners = false",
        );
        fs::write(&file, format!("{before}{lobby}{section}{rest}")).unwrap();
    }
}

#[tokio::test]
async fn a_prosody_set_up_otherwise_is_told_what_to_change() {
    // Prosody's defaults: Nagle on, the incremental collector, a cache of 100 rooms (set:
    // docker-jitsi-meet's is 10,000), for 151 managed rooms; raumwart no owner on the lobby
    // MUC; focus not a service JID.
    let mut env = Env::new(
        REPO,
        Options {
            school_rooms: 150,
            room_cache_size: Some(100),
            ..Options::default()
        },
    );
    lobby_without_owners(&env);
    env.restart_prosody();
    let config = fs::read_to_string(env.daemon_config_path()).unwrap();
    let without_focus = config.replace(&format!("\"focus@{AUTH}\", "), "");
    assert_ne!(config, without_focus);
    fs::write(env.daemon_config_path(), without_focus).unwrap();
    let _d = env.daemon().await;

    let out = doctor(&env);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    for (check, change) in [
        ("Nagle", "set network_settings = { nagle = false }"),
        ("garbage collector", "set gc = { mode = \"generational\" }"),
        ("room cache", "at least the 151 managed rooms (now 100)"),
        (
            &format!("raumwart admin and owner on {LOBBY}"),
            &format!("set component_admins_as_room_owners = true on Component \"{LOBBY}\""),
        ),
        (
            "service_jids",
            &format!("add \"focus@{AUTH}\" to policy.service_jids"),
        ),
    ] {
        let line = out.line(check);
        assert!(
            line.starts_with("change ") && line.contains(change),
            "{line:?} does not say {change:?}"
        );
    }
    let changes = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("change "))
        .count();
    assert_eq!(changes, 5, "{}", out.stdout);
    assert!(out.line("module on the main MUC").starts_with("ok "));
}

#[tokio::test]
async fn a_module_of_an_earlier_release_is_too_old_to_be_asked() {
    let env = Env::new(
        REPO,
        Options {
            module_dir: "tests/fixtures/module-protocol-0",
            ..as_readme_says()
        },
    );
    let mut d = env.spawn_daemon();
    d.wait_status("connected to Prosody", |s| s["connected"] == true)
        .await;
    let out = doctor(&env);
    assert_eq!(out.code, Some(2), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("too old") && out.stderr.contains("restart Prosody"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");

    // No daemon to ask: try again later.
    d.kill9();
    let out = doctor(&env);
    assert_eq!(out.code, Some(75), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("is it running?"), "{}", out.stderr);
}
