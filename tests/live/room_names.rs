//! Room names as people type them, against a real Prosody: raumwart protects the rooms
//! Jitsi actually opens for a configured name, typed into Jitsi and opened as a link.

use testkit::*;

use crate::REPO;

/// The configured name and the two room nodes Jitsi opens for it.
const NAME: &str = "Grundschule Müllheim 1";
const TYPED: &str = "grundschulem%c3%bcllheim1";
const LINK: &str = "grundschule%20m%c3%bcllheim%201";

/// A daemon config like the harness's, with a school whose room is named as typed.
fn write_config(env: &Env) -> std::path::PathBuf {
    let path = env.dir.join("raumwart-room-names.toml");
    let text = format!(
        r#"[xmpp]
server = "127.0.0.1:{comp}"
component = "{COMPONENT}"
secret_file = "component.secret"
muc = "{muc}"

[policy]
service_jids = ["focus@{AUTH}"]

[http]
listen = "127.0.0.1:{http}"

[[school]]
id = "gs-muellheim"
name = "Grundschule Müllheim"
password_file = "schools/gs.pw"
rooms = ["{NAME}"]
"#,
        comp = env.component,
        muc = muc(),
        http = env.http,
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_room_named_as_typed_is_protected_typed_and_as_a_link() {
    let env = Env::new(REPO, Options::default());
    let path = write_config(&env);
    let mut daemon = env.spawn_daemon_with(&path);
    daemon.wait_synced().await;
    for node in [TYPED, LINK] {
        let jid = room_jid(node);
        let _focus = env.focus(node).await;
        let mut guest = env.anonymous().await;
        assert_eq!(
            guest.join(&jid, "guest", None).await.err().as_deref(),
            Some("not-authorized"),
            "{node}: a join without password must be refused"
        );
        let mut teacher = env.anonymous().await;
        let joined = teacher
            .join(&jid, "teacher", Some(SCHOOL_PASSWORD))
            .await
            .unwrap_or_else(|e| panic!("{node}: the school password is refused: {e}"));
        if joined.affiliation != "owner" {
            teacher.wait_affiliation(&jid, "teacher", "owner").await;
        }
    }
}

/// What `raumwart check` shows for such a name: both nodes.
#[test]
fn check_prints_both_nodes() {
    let env = Env::new(REPO, Options::default());
    let path = write_config(&env);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_raumwart"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.ends_with(&format!(
            "  gs-muellheim: \"{NAME}\" -> {TYPED} (typed), {LINK} (link)\n"
        )),
        "{stdout}"
    );
}
