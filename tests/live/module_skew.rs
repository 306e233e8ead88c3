//! Daemon and module from different releases, as after a package upgrade before Prosody
//! restarted (or a daemon rolled back): neither side may misread the other, and the rooms
//! stay protected by the map the module has. The modules of earlier releases are kept in
//! `tests/fixtures/module-protocol-N/` (0: before versions; 1: one element per room in the
//! map), their daemons' map pushes below.

use std::fs;
use std::str::FromStr;

use testkit::client::Client;
use testkit::*;

use crate::REPO;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::Stanza;

use raumwart::core::MODULE_PROTOCOL;

/// Restarts Prosody with the module in `dir` (the data folder, and the stored map, stay).
fn prosody_with_module(env: &mut Env, dir: &'static str) {
    env.options.module_dir = dir;
    env.write_prosody_config();
    env.restart_prosody();
}

#[tokio::test]
async fn a_module_from_before_versions_gets_no_map_and_keeps_the_rooms_protected() {
    old_module_keeps_the_rooms("tests/fixtures/module-protocol-0", "no protocol version").await;
}

#[tokio::test]
async fn a_module_of_protocol_1_gets_no_map_and_keeps_the_rooms_protected() {
    old_module_keeps_the_rooms("tests/fixtures/module-protocol-1", "protocol 1").await;
}

/// A working installation's map stored, then the module in `dir` (announced in /healthz
/// as `described`) with this daemon: no map goes to it, the stored one protects.
async fn old_module_keeps_the_rooms(dir: &'static str, described: &str) {
    let mut env = Env::new(REPO, Options::default());
    // Prosody runs the old module with the map it stored (as before the upgrade; with
    // plain passwords, which every earlier module reads and keeps hashed), and the new
    // daemon starts.
    const LOADED: &str = "raumwart module active: ";
    let deadline = std::time::Instant::now() + WAIT;
    // This release's module has logged its start before it is counted.
    while !env.prosody_log().contains(LOADED) {
        assert!(
            std::time::Instant::now() < deadline,
            "the module did not load"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let loaded = env.prosody_log().matches(LOADED).count();
    env.stop_prosody();
    let path = env.stored_map_path();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let map = format!(
        "return {{\n\t[\"gen\"] = \"old\";\n\t[\"unmanaged\"] = \"allow\";\n\t[\"rooms\"] = \
         {{\n\t\t[\"{ROOM}\"] = \"{SCHOOL_PASSWORD}\";\n\t}};\n}};\n"
    );
    fs::write(&path, map).unwrap();
    env.options.module_dir = dir;
    env.write_prosody_config();
    env.start_prosody();
    let deadline = std::time::Instant::now() + WAIT;
    while env.prosody_log().matches(LOADED).count() == loaded {
        assert!(
            std::time::Instant::now() < deadline,
            "the old module did not load"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let stored = fs::read(&path).expect("a stored map");

    let mut d = env.spawn_daemon();
    let st = d
        .wait_status("the module's protocol reported", |s| {
            s["module_problems"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p == "protocol-mismatch"))
        })
        .await;
    assert_eq!(st["synced"], false, "{st}");
    let (code, body) = http_get(&env, "/healthz").await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains(described) && body.contains("restart Prosody"),
        "{body}"
    );
    assert_eq!(d.metrics().await.value("raumwart_module_problems"), 1.0);
    let table = std::process::Command::new(env!("CARGO_BIN_EXE_raumwart"))
        .arg("status")
        .arg("--config")
        .arg(env.daemon_config_path())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("restart Prosody"), "{table}");
    assert_eq!(d.metrics().await.value("raumwart_xmpp_synced"), 0.0);
    let log = d.log_text();
    assert!(
        log.contains("another release") && log.contains(&format!("raumwart={MODULE_PROTOCOL}")),
        "the admin is not told both versions and the fix:\n{log}"
    );

    // The old module's map protects the rooms; nothing was pushed over it.
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut stranger = env.anonymous().await;
    assert_eq!(
        stranger.join(&jid, "stranger", None).await.err().as_deref(),
        Some("not-authorized"),
        "a guest without a password entered a managed room"
    );
    let mut teacher = env.anonymous().await;
    teacher
        .join(&jid, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .expect("the school password opens the room");
    assert_eq!(
        fs::read(env.stored_map_path()).unwrap(),
        stored,
        "a map was pushed to a module of another protocol"
    );
    teacher.leave(&jid, "teacher").await;

    // Prosody restarts with the installed module: in sync, no problem left.
    prosody_with_module(&mut env, "prosody");
    d.wait_resynced(1).await;
    let st = d.status().await;
    assert_eq!(st["module_problems"], serde_json::json!([]), "{st}");
    assert_eq!(http_get(&env, "/healthz").await.0, 200);
}

#[tokio::test]
async fn a_module_refuses_the_map_of_a_daemon_of_an_earlier_release() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    d.kill9();
    // Daemons of earlier releases push their maps as they did: without `v` (before
    // versions), and one element per room (protocol 1).
    let config = raumwart::config::load(&env.daemon_config_path()).unwrap();
    let mut link = raumwart::stream::connect(&config.xmpp)
        .await
        .expect("the component connects");
    let salt = [7u8; 16];
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let hash = raumwart::protocol::password_hash(&salt, "Altes-Passwort-Ohne-Version-1");
    for (v, said) in [("", "(none)"), (" v='1'", "1")] {
        let push: Element = format!(
            "<map xmlns='urn:raumwart:0'{v} gen='old' last='1' unmanaged='allow' grace='60'>\
             <r n='{ROOM}' s='{}' h='{}'/></map>",
            hex(&salt),
            hex(&hash)
        )
        .parse()
        .unwrap();
        let iq = Iq::Set {
            from: Some(Jid::from_str(COMPONENT).unwrap()),
            to: Some(Jid::from_str(muc()).unwrap()),
            id: "old-push".into(),
            payload: push,
        };
        link.send(Stanza::Iq(iq)).await.unwrap();
        let answer = loop {
            match tokio::time::timeout(WAIT, link.next()).await {
                Ok(raumwart::stream::Received::Stanza(s)) => match *s {
                    Stanza::Iq(iq) if iq.id() == "old-push" => break iq,
                    _ => continue,
                },
                other => panic!("no answer to the map push: {other:?}"),
            }
        };
        let Iq::Error { error, .. } = answer else {
            panic!("the module took a map of protocol {said}: {answer:?}");
        };
        assert_eq!(
            error.defined_condition,
            tokio_xmpp::parsers::stanza_error::DefinedCondition::FeatureNotImplemented
        );
        let why = format!(
            "raumwart speaks protocol {said}, this module {MODULE_PROTOCOL}: room map refused"
        );
        assert!(
            env.prosody_log().contains(&why),
            "Prosody's log does not say {why:?}"
        );
    }
    link.close().await;

    // The map in force stays: the old daemon's password opens nothing, the school's does.
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut guest = env.anonymous().await;
    assert_eq!(
        guest
            .join(&jid, "guest", Some("Altes-Passwort-Ohne-Version-1"))
            .await
            .err()
            .as_deref(),
        Some("not-authorized")
    );
    let mut teacher = env.anonymous().await;
    teacher
        .join(&jid, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .expect("the school password of the map in force opens the room");
}

#[tokio::test]
async fn a_module_rolled_back_under_a_newer_stored_map_refuses_every_room() {
    let mut env = Env::new(REPO, Options::default());
    // This release's map stored; then Prosody runs protocol 1's module, and no daemon.
    let mut d = env.daemon().await;
    d.kill9();
    prosody_with_module(&mut env, "tests/fixtures/module-protocol-1");
    let mut focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    let mut teacher = env.anonymous().await;
    for (who, password) in [(&mut focus, None), (&mut teacher, Some(SCHOOL_PASSWORD))] {
        assert_eq!(
            who.join(&room_jid(ROOM), "x", password)
                .await
                .err()
                .as_deref(),
            Some("service-unavailable"),
            "a module that cannot read the stored map let a room be created"
        );
    }
    assert!(
        env.prosody_log()
            .contains("Cannot read the stored room map"),
        "Prosody's log does not say why"
    );
}
