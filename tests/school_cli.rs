//! `raumwart school …` as an admin types it, against the running daemon and a real
//! Prosody: the running daemon reloads, and the printed password opens the new rooms.

mod support;

use std::process::Command;

use support::*;

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

#[tokio::test]
async fn a_school_added_and_removed_on_the_command_line_is_in_force_at_once() {
    let env = Env::new(Options::default());
    let d = env.daemon().await;
    let (code, out) = raumwart(
        &env,
        &[
            "school",
            "add",
            "gs-neu",
            "--name",
            "Grundschule Neu",
            "--rooms",
            "1",
        ],
    );
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
