//! `raumwart school …` as an admin types it, against the running daemon and a real
//! Prosody: the running daemon reloads, and the printed password opens the new rooms.

use std::process::Command;

use testkit::*;

use crate::REPO;

fn raumwart(env: &Env, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_raumwart"))
        .arg("--config")
        .arg(env.daemon_config_path())
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// `raumwart school add` of a new school with one room.
const ADD: [&str; 7] = [
    "school",
    "add",
    "gs-neu",
    "--name",
    "Grundschule Neu",
    "--rooms",
    "1",
];

#[tokio::test]
async fn a_school_added_and_removed_on_the_command_line_is_in_force_at_once() {
    let env = Env::new(REPO, Options::default());
    let d = env.daemon().await;
    let (code, out) = raumwart(&env, &ADD);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("reloaded the configuration"), "{out}");
    let reloads = "raumwart_config_reloads_total{result=\"success\"}";
    assert_eq!(d.metrics().await.value(reloads), 1.0);
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("organizer password for the school: "))
        .unwrap_or_else(|| panic!("no password printed: {out}"))
        .trim()
        .to_owned();
    let room = "gs-neu-1";
    let _focus = env.focus(room).await;
    let mut teacher = env.anonymous().await;
    teacher
        .join(&room_jid(room), "teacher", Some(&password))
        .await
        .expect("the printed password opens the new room");
    teacher
        .wait_affiliation(&room_jid(room), "teacher", "owner")
        .await;

    let (code, out) = raumwart(&env, &["school", "list"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("gs-neu") && !out.contains(&password), "{out}");

    // Removing it ends the running session first.
    let (code, out) = raumwart(&env, &["school", "remove", "gs-neu"]);
    assert_eq!(code, 0, "{out}");
    teacher.wait_removed(&room_jid(room), "teacher").await;
    assert_eq!(d.metrics().await.value(reloads), 2.0);
    let (code, out) = raumwart(&env, &["school", "remove", "gs-neu"]);
    assert_eq!(code, 65, "{out}");
}

/// The file's schools split between two media centres, gs-musterstadt's named `gs`.
fn with_media_centres(env: &Env, gs: &str) {
    let path = env.daemon_config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    // Written anew each time: what an earlier call added goes first.
    let mut text = match text.find("\n[[media_centre]]") {
        Some(at) => text[..at].to_owned(),
        None => text,
    };
    for id in [SCHOOL, "rs-beispiel"] {
        for centre in ["kmz-a", "kmz-b"] {
            text = text.replace(
                &format!("id = \"{id}\"\nmedia_centre = \"{centre}\"\n"),
                &format!("id = \"{id}\"\n"),
            );
        }
    }
    let text = text
        .replace(
            &format!("id = \"{SCHOOL}\"\n"),
            &format!("id = \"{SCHOOL}\"\nmedia_centre = \"{gs}\"\n"),
        )
        .replace(
            "id = \"rs-beispiel\"\n",
            "id = \"rs-beispiel\"\nmedia_centre = \"kmz-b\"\n",
        );
    let blocks = "\n[[media_centre]]\nid = \"kmz-a\"\nname = \"Kreismedienzentrum A\"\n\
                  \n[[media_centre]]\nid = \"kmz-b\"\nname = \"Kreismedienzentrum B\"\n";
    std::fs::write(&path, format!("{text}{blocks}")).unwrap();
}

#[tokio::test]
async fn status_list_and_metrics_follow_each_school_s_media_centre() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    with_media_centres(&env, "kmz-a");
    let (code, out) = raumwart(&env, &["reload"]);
    assert_eq!(code, 0, "{out}");

    let status = d.status().await;
    let centre = |status: &serde_json::Value, room: &str| {
        room_in(status, room).unwrap()["media_centre"].clone()
    };
    assert_eq!(centre(&status, ROOM), "kmz-a");
    assert_eq!(centre(&status, OTHER_SCHOOL_ROOM), "kmz-b");
    // Asked for one media centre's rooms, the daemon lists only those.
    let (code, body) = d.get("/status?media_centre=kmz-b").await.unwrap();
    assert_eq!(code, 200, "{body}");
    let kmz_b: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(room_in(&kmz_b, OTHER_SCHOOL_ROOM).is_some(), "{body}");
    assert!(room_in(&kmz_b, ROOM).is_none(), "{body}");
    let (code, body) = d.get("/status?media_centre=").await.unwrap();
    assert_eq!(
        (code, kmz_b["synced"].clone()),
        (200, true.into()),
        "{body}"
    );
    let none: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        none["rooms"],
        serde_json::json!([]),
        "every school has a media centre"
    );
    let (code, _) = d.get("/status?media_centre=kmz-b&school=x").await.unwrap();
    assert_eq!(code, 400);
    let (code, table) = raumwart(&env, &["status"]);
    assert_eq!(code, 0, "{table}");
    assert!(table.contains("MEDIA CENTRE  SCHOOL"), "{table}");
    let row = table.lines().find(|l| l.contains(ROOM)).unwrap();
    assert!(row.starts_with("kmz-a "), "{table}");

    // A lesson is counted for its school's media centre.
    let _focus = env.focus(ROOM).await;
    let _t = teacher_with_class(&env, ROOM, "teacher").await;
    let started =
        format!("raumwart_sessions_started_total{{media_centre=\"kmz-a\",school=\"{SCHOOL}\"}}");
    d.wait_metric(&started, 1.0).await;
    let rooms =
        format!("raumwart_rooms{{media_centre=\"kmz-a\",school=\"{SCHOOL}\",state=\"active\"}}");
    assert_eq!(d.metrics().await.value(&rooms), 1.0);

    // A new school needs its media centre, which the list then shows.
    let (code, out) = raumwart(&env, &ADD);
    assert_eq!(code, 65, "{out}");
    assert!(out.contains("--media-centre ID"), "{out}");
    let (code, out) = raumwart(&env, &[&ADD[..], &["--media-centre", "kmz-b"]].concat());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("reloaded the configuration"), "{out}");
    assert_eq!(centre(&d.status().await, "gs-neu-1"), "kmz-b");
    let (code, out) = raumwart(&env, &["school", "list", "--media-centre", "kmz-b"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ID           MEDIA CENTRE  NAME"), "{out}");
    assert!(out.contains("gs-neu") && !out.contains(SCHOOL), "{out}");

    // Moved to the other media centre: its rooms' series follow at the reload, the
    // session counted before stays where it was counted.
    with_media_centres(&env, "kmz-b");
    let (code, out) = raumwart(&env, &["reload"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(centre(&d.status().await, ROOM), "kmz-b");
    let scrape = d.metrics().await;
    let moved =
        format!("raumwart_rooms{{media_centre=\"kmz-b\",school=\"{SCHOOL}\",state=\"active\"}}");
    assert_eq!(scrape.value(&moved), 1.0, "{}", scrape.shown());
    assert!(
        !scrape.0.contains(&format!(
            "raumwart_rooms{{media_centre=\"kmz-a\",school=\"{SCHOOL}\""
        )),
        "{}",
        scrape.shown()
    );
    assert_eq!(scrape.value(&started), 1.0);

    // A school of an unknown media centre is refused, and the running configuration stays.
    let path = env.daemon_config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let bad = text.replace("media_centre = \"kmz-b\"\n", "media_centre = \"kmz-c\"\n");
    std::fs::write(&path, bad).unwrap();
    let (code, out) = raumwart(&env, &["check"]);
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("there is no media centre \"kmz-c\""), "{out}");
    let (code, out) = raumwart(&env, &["reload"]);
    assert_eq!(code, 78, "{out}");
    assert_eq!(centre(&d.status().await, ROOM), "kmz-b");
}
