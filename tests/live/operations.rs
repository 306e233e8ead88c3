//! Operations against the real process: metrics, health, status, reload, SIGTERM, logs.

use std::process::Command;

use testkit::*;

use crate::REPO;

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_are_promtool_clean_and_impersonal() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut t = teacher_with_class(&env, ROOM, "Frau Müller").await;
    let mut s = env.anonymous().await;
    s.join(&jid, "Lena", Some(CLASS_PASSWORD)).await.unwrap();
    d.wait_room(ROOM, "2 people", |r| r["people"] == 2).await;

    let (code, text) = http_get(&env, "/metrics").await;
    assert_eq!(code, 200);
    for (series, value) in [
        ("raumwart_xmpp_connected", 1.0),
        ("raumwart_xmpp_synced", 1.0),
        ("raumwart_managed_rooms", 3.0),
        (
            "raumwart_rooms{media_centre=\"\",school=\"gs-musterstadt\",state=\"active\"}",
            1.0,
        ),
        (
            "raumwart_rooms{media_centre=\"\",school=\"gs-musterstadt\",state=\"idle\"}",
            1.0,
        ),
        (
            "raumwart_people{media_centre=\"\",school=\"gs-musterstadt\"}",
            2.0,
        ),
        (
            "raumwart_sessions_started_total{media_centre=\"\",school=\"gs-musterstadt\"}",
            1.0,
        ),
        ("raumwart_organizer_grants_total{result=\"ok\"}", 1.0),
        ("raumwart_config_last_reload_successful", 1.0),
        (
            "raumwart_action_latency_seconds_count{action=\"grant_owner\"}",
            1.0,
        ),
    ] {
        assert_eq!(metric(&text, series), Some(value), "{series} in\n{text}");
    }
    assert!(text.contains("raumwart_build_info{version=\""));

    s.leave(&jid, "Lena").await;
    t.leave(&jid, "Frau Müller").await;
    focus.gone().await;
    d.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    // The reset's answer may come after the room is gone (and the session counted).
    d.wait_metric("raumwart_resets_total{result=\"ok\"}", 1.0)
        .await;
    let (_, text) = http_get(&env, "/metrics").await;
    let ended =
        "raumwart_sessions_ended_total{media_centre=\"\",reason=\"last_organizer_left\",school=\"gs-musterstadt\"}";
    assert_eq!(metric(&text, ended), Some(1.0), "{text}");
    assert_eq!(
        metric(&text, "raumwart_resets_total{result=\"ok\"}"),
        Some(1.0),
        "{text}"
    );

    for private in [ROOM, "Lena", "Müller", "@", SCHOOL_PASSWORD, CLASS_PASSWORD] {
        assert!(!text.contains(private), "{private:?} in the metrics");
    }
    let file = env.dir.join("metrics.txt");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .expect("promtool (Debian's prometheus package) is installed");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn healthz_follows_the_connection() {
    let mut env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    assert_eq!(http_get(&env, "/healthz").await.0, 200);
    env.stop_prosody();
    d.wait_metrics("the connection lost (raumwart_xmpp_connected 0)", |m| {
        m.value("raumwart_xmpp_connected") == 0.0
    })
    .await;
    let (code, body) = http_get(&env, "/healthz").await;
    assert_eq!((code, body.as_str()), (503, "not connected to Prosody\n"));
    env.start_prosody();
    d.wait_resynced(1).await;
    assert_eq!(http_get(&env, "/healthz").await.0, 200);
    let (_, text) = http_get(&env, "/metrics").await;
    assert_eq!(metric(&text, "raumwart_xmpp_reconnects_total"), Some(1.0));
}

#[tokio::test]
async fn status_lists_every_managed_room() {
    let env = Env::new(REPO, Options::default());
    let d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let _t = teacher_with_class(&env, ROOM, "teacher").await;
    let run = |json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_raumwart"));
        c.arg("status")
            .arg("--config")
            .arg(env.daemon_config_path());
        if json {
            c.arg("--json");
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let table = run(false);
    let row = table
        .lines()
        .find(|l| l.contains(ROOM))
        .unwrap_or_else(|| panic!("no row for {ROOM}:\n{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..5], [SCHOOL, ROOM, "active", "1", "yes"], "{table}");
    assert!(table
        .lines()
        .any(|l| l.contains(ROOM2) && l.contains("idle")));
    let json: serde_json::Value = serde_json::from_str(&run(true)).unwrap();
    assert_eq!(json["synced"], true);
    assert_eq!(json["rooms"].as_array().unwrap().len(), 3);
    drop(d);
}

#[tokio::test]
async fn sighup_reloads_rooms_and_passwords_and_refuses_a_bad_file() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;

    // New school password, one room more, the other school gone.
    let new_password = "Neues-Schuljahr-Kompass-Ufer";
    std::fs::write(env.dir.join("schools/gs.pw"), new_password).unwrap();
    let path = env.daemon_config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let cut = text.find("[[school]]\nid = \"rs-beispiel\"").unwrap();
    let text = text[..cut].replace(
        &format!("rooms = [\"{ROOM}\", \"{ROOM2}\"]"),
        &format!("rooms = [\"{ROOM}\", \"{ROOM2}\", \"gs-musterstadt-3\"]"),
    );
    std::fs::write(&path, &text).unwrap();
    d.hangup();
    d.wait_metric("raumwart_config_reloads_total{result=\"success\"}", 1.0)
        .await;
    // The start is not counted as a reload: this SIGHUP is the first.
    let (_, metrics) = http_get(&env, "/metrics").await;
    assert_eq!(
        metric(
            &metrics,
            "raumwart_config_reloads_total{result=\"success\"}"
        ),
        Some(1.0)
    );

    // Idle rooms: the new password at once; the new room is managed.
    for room in [ROOM2, "gs-musterstadt-3"] {
        let _f = env.focus(room).await;
        let mut x = env.anonymous().await;
        let rj = room_jid(room);
        assert_eq!(
            x.join(&rj, "x", Some(SCHOOL_PASSWORD))
                .await
                .err()
                .as_deref(),
            Some("not-authorized"),
            "{room}: the old school password still opens it"
        );
        x.join(&rj, "x", Some(new_password))
            .await
            .unwrap_or_else(|e| panic!("{room}: new password refused: {e}"));
        x.wait_affiliation(&rj, "x", "owner").await;
    }
    // The removed school's room is unmanaged now: no password set at creation.
    let _f = env.focus(OTHER_SCHOOL_ROOM).await;
    let mut x = env.anonymous().await;
    x.join(&room_jid(OTHER_SCHOOL_ROOM), "x", None)
        .await
        .expect("a room removed from the map is no longer managed");

    // The session in progress is untouched; the class password still works.
    let mut s2 = env.anonymous().await;
    s2.join(&jid, "student-2", Some(CLASS_PASSWORD))
        .await
        .unwrap();

    // A bad file is refused and counted; the running configuration stays.
    std::fs::write(&path, "[xmpp\nserver = ").unwrap();
    d.hangup();
    d.wait_metric("raumwart_config_reloads_total{result=\"failure\"}", 1.0)
        .await;
    let (_, metrics) = http_get(&env, "/metrics").await;
    assert_eq!(
        metric(&metrics, "raumwart_config_last_reload_successful"),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &metrics,
            "raumwart_config_reloads_total{result=\"failure\"}"
        ),
        Some(1.0)
    );
    let mut t2 = env.anonymous().await;
    t2.join(&jid, "teacher-2", Some(new_password))
        .await
        .expect("the organizer key follows the reloaded password");
    t2.wait_affiliation(&jid, "teacher-2", "owner").await;

    t.sync().await;
    s.sync().await;
    let removed = removal_of(&["teacher", "student"]);
    assert!(
        !t.saw(&removed) && !s.saw(&removed),
        "a reload disturbed the session"
    );
}

#[tokio::test]
async fn sigterm_exits_cleanly_and_touches_no_session() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut t = teacher_with_class(&env, ROOM, "teacher").await;
    let status = d.terminate();
    assert!(status.success(), "SIGTERM exit: {status}");
    assert!(d.log_text().contains("the Prosody module keeps enforcing"));
    let mut x = env.anonymous().await;
    assert_eq!(
        x.join(&jid, "x", None).await.err().as_deref(),
        Some("not-authorized")
    );
    x.join(&jid, "x", Some(CLASS_PASSWORD)).await.unwrap();
    t.sync().await;
    assert!(!t.saw(removal_of(&["teacher"])));
}

#[tokio::test]
async fn logs_name_rooms_and_schools_but_no_person_and_no_password() {
    let env = Env::new(
        REPO,
        Options {
            log: "info",
            ..Options::default()
        },
    );
    let mut d = env.daemon().await;
    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut t = teacher_with_class(&env, ROOM, "Herr Schmidt").await;
    let mut s = env.anonymous().await;
    s.join(&jid, "Paul", Some(CLASS_PASSWORD)).await.unwrap();
    s.leave(&jid, "Paul").await;
    t.leave(&jid, "Herr Schmidt").await;
    focus.gone().await;
    d.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    let log = d.log_text();
    let started = log.lines().find(|l| l.contains("session started")).unwrap();
    assert!(
        started.contains(ROOM) && started.contains(SCHOOL),
        "{started}"
    );
    for private in [
        "@",
        "Schmidt",
        "Paul",
        SCHOOL_PASSWORD,
        CLASS_PASSWORD,
        SECRET,
    ] {
        assert!(
            !log.contains(private),
            "{private:?} in the info log:\n{log}"
        );
    }
}

#[tokio::test]
async fn systemd_hears_ready_after_sync_watchdog_pings_and_reloads() {
    use std::os::unix::net::UnixDatagram;
    let env = Env::new(REPO, Options::default());
    let path = env.dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let mut d = env.spawn_daemon_env(
        &env.daemon_config_path(),
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let mut heard = String::new();
    let wait_for = |what: &str, heard: &mut String| loop {
        let mut buf = [0u8; 512];
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {what} from raumwart ({e}); heard: {heard}"));
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        heard.push_str(&msg);
        heard.push('|');
        if msg.lines().any(|l| l == what) {
            return;
        }
    };
    wait_for("READY=1", &mut heard);
    assert!(
        d.log_text().contains("in sync with Prosody"),
        "READY before the first sync; log:\n{}",
        d.log_text()
    );
    wait_for("WATCHDOG=1", &mut heard);
    d.hangup();
    wait_for("RELOADING=1", &mut heard);
    wait_for("READY=1", &mut heard);
    d.wait_metric("raumwart_config_reloads_total{result=\"success\"}", 1.0)
        .await;
}

#[test]
fn run_refuses_a_bad_config_with_exit_78() {
    let dir = std::env::temp_dir().join(format!("raumwart-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("raumwart.toml");
    std::fs::write(&file, "[xmpp]\nserver = \"nowhere\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_raumwart"))
        .arg("run")
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        out.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("raumwart.toml:"));
}

/// `raumwart` run as another command, with its output.
fn raumwart(args: &[&str], config: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_raumwart"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

#[tokio::test]
async fn changes_are_taken_only_through_the_control_socket() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let (mut t, _s) = lesson(&env, ROOM).await;

    // The network listener, loopback included, takes no changes.
    let addr = format!("127.0.0.1:{}", env.http).parse().unwrap();
    for target in [format!("/rooms/{ROOM}/end"), "/reload".to_owned()] {
        let (code, _) = raumwart::http::request(addr, "POST", &target)
            .await
            .unwrap();
        assert_eq!(code, 403, "POST {target} on http.listen");
    }

    // The control socket is the daemon's alone: 0600 in a folder 0700.
    let (_, socket) = http_get(&env, "/control").await;
    let socket = std::path::PathBuf::from(socket.trim_end());
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600, "{}", socket.display());
    assert_eq!(mode(socket.parent().unwrap()), 0o700);

    // Another local user is refused; root (the operator) is not.
    let config = env.daemon_config_path();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_raumwart"))
        .args(["end-session", ROOM, "--config"])
        .arg(&config)
        .output()
        .expect("setpriv (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "nobody ended a session: {stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
    t.sync().await;
    assert!(
        !t.saw(removal_of(&["teacher"])),
        "a refused request ended the session"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_raumwart"))
        .args(["end-session", ROOM, "--socket"])
        .arg(&socket)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.wait_removed(&room_jid(ROOM), "teacher").await;
    d.wait_metric("raumwart_sessions_ended_total{reason=\"forced\"}", 1.0)
        .await;
}

#[tokio::test]
async fn reload_command_applies_the_file_or_lists_its_problems() {
    let env = Env::new(REPO, Options::default());
    let d = env.daemon().await;
    let path = env.daemon_config_path();
    let good = std::fs::read_to_string(&path).unwrap();

    let text = good.replace(
        &format!("rooms = [\"{ROOM}\", \"{ROOM2}\"]"),
        &format!("rooms = [\"{ROOM}\", \"{ROOM2}\", \"gs-musterstadt-3\"]"),
    );
    std::fs::write(&path, &text).unwrap();
    let out = raumwart(&["reload"], &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "reloaded: 4 room nodes\n"
    );
    let reloads = "raumwart_config_reloads_total{result=\"success\"}";
    assert_eq!(d.metrics().await.value(reloads), 1.0);

    // A bad file: exit 78 with every problem located, and nothing changes.
    let bad = text.replace("grace_period = \"60s\"", "grace_period = \"soon\"");
    std::fs::write(&path, bad).unwrap();
    let out = raumwart(&["reload"], &path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("raumwart.toml:") && stderr.contains("\"soon\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("the running configuration stays"),
        "{stderr}"
    );
    let (_, metrics) = http_get(&env, "/metrics").await;
    assert_eq!(
        metric(&metrics, "raumwart_config_last_reload_successful"),
        Some(0.0)
    );
    let (_, status) = http_get(&env, "/status").await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["rooms"].as_array().unwrap().len(), 4);
}

#[test]
fn commands_without_a_daemon_say_so_and_usage_errors_exit_2() {
    let dir = std::env::temp_dir().join(format!("raumwart-nodaemon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("raumwart.toml");
    // Only http.listen is read: no secrets needed for the operator's commands.
    std::fs::write(&file, "[xmpp]\n[http]\nlisten = \"127.0.0.1:9\"\n").unwrap();
    let out = raumwart(&["status"], &file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is it running?"), "{stderr}");
    let out = raumwart(&["end-session"], &file);
    assert_eq!(out.status.code(), Some(2));
    let out = raumwart(&["frobnicate"], &file);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
