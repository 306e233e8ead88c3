//! Daemon and module from different releases, as after a package upgrade before Prosody
//! restarted (or a daemon rolled back): neither side may misread the other, and the rooms
//! stay protected by the map the module has. The module of the last release without a
//! protocol version is kept in `tests/fixtures/module-protocol-0/`, its map push below.

use std::fs;
use std::str::FromStr;

use testkit::*;

use crate::REPO;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::Stanza;

const OLD_MODULE: &str = "tests/fixtures/module-protocol-0";

/// Restarts Prosody with the module in `dir` (the data folder, and the stored map, stay).
fn prosody_with_module(env: &mut Env, dir: &'static str) {
    env.options.module_dir = dir;
    env.write_prosody_config();
    env.restart_prosody();
}

#[tokio::test]
async fn a_module_of_an_earlier_release_gets_no_map_and_keeps_the_rooms_protected() {
    let mut env = Env::new(REPO, Options::default());
    // The map of a working installation is stored; then Prosody runs the old module (as
    // before the upgrade) and the new daemon starts.
    let mut d = env.daemon().await;
    d.kill9();
    prosody_with_module(&mut env, OLD_MODULE);
    let stored = fs::read(env.stored_map_path()).expect("a stored map");

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
        body.contains("no protocol version") && body.contains("restart Prosody"),
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
        log.contains("another release") && log.contains("raumwart=1"),
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
    // A daemon of the last release without versions pushes its map as it did: no `v`.
    let config = raumwart::config::load(&env.daemon_config_path()).unwrap();
    let mut link = raumwart::stream::connect(&config.xmpp)
        .await
        .expect("the component connects");
    let salt = [7u8; 16];
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let hash = raumwart::protocol::password_hash(&salt, "Altes-Passwort-Ohne-Version-1");
    let push: Element = format!(
        "<map xmlns='urn:raumwart:0' gen='old' last='1' unmanaged='allow' grace='60'>\
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
        panic!("the module took a map without a protocol version: {answer:?}");
    };
    assert_eq!(
        error.defined_condition,
        tokio_xmpp::parsers::stanza_error::DefinedCondition::FeatureNotImplemented
    );
    link.close().await;
    assert!(
        env.prosody_log()
            .contains("this module 1: room map refused"),
        "Prosody's log does not say why"
    );

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
