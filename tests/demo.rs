//! A lesson from start to end, narrated: what a media centre sees raumwart do, against a
//! real Prosody, with `raumwart status` after every step. Run it to watch:
//!
//! ```sh
//! cargo test --test demo -- --nocapture
//! ```
//!
//! It runs with every `cargo test` too, so the demo cannot rot.

mod support;

use std::process::Command;

use support::*;

fn status(env: &Env, step: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_raumwart"))
        .arg("status")
        .arg("--config")
        .arg(env.daemon_config_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    println!("\n== {step}\n$ raumwart status\n{table}");
    table
}

/// The state column of `room`'s row.
fn state(table: &str, room: &str) -> String {
    let row = table.lines().find(|l| l.contains(room)).unwrap();
    row.split_whitespace().nth(2).unwrap().to_owned()
}

#[tokio::test]
async fn a_lesson_from_start_to_end() {
    let env = Env::new(Options {
        grace_period: "2s",
        ..Options::default()
    });
    let mut d = env.daemon().await;
    let table = status(&env, "raumwart is in sync with Prosody; every room is idle");
    assert_eq!(state(&table, ROOM), "idle");

    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut teacher = env.anonymous().await;
    teacher
        .join(&jid, "Frau Müller", None)
        .await
        .expect_err("a managed room has the school password from its first moment");
    println!("A student who finds the link enters nothing: the room wants a password.");

    let mut teacher = teacher_with_class(&env, ROOM, "Frau Müller").await;
    println!(
        "The teacher enters with the school password, becomes moderator, sets a class password."
    );
    let mut student = env.anonymous().await;
    student
        .join(&jid, "Lena", Some(CLASS_PASSWORD))
        .await
        .unwrap();
    d.wait_log("event=Joined", 2).await;
    let table = status(&env, "a student entered with the class password");
    assert_eq!(state(&table, ROOM), "active");

    teacher.leave(&jid, "Frau Müller").await;
    d.wait_log("grace period started", 1).await;
    let table = status(
        &env,
        "the teacher left: the student may stay for the grace period (2 s here)",
    );
    assert_eq!(state(&table, ROOM), "grace");

    let message = student.wait_removed(&jid, "Lena").await;
    println!("\nNo organizer came back: the student is removed with {message:?}.");
    focus.gone().await;
    d.wait_log("session ended", 1).await;
    let table = status(
        &env,
        "the room is reset: school password, nothing from the lesson",
    );
    assert_eq!(state(&table, ROOM), "idle");
    assert_room_is_fresh(&env, ROOM, &teacher.bare()).await;
    println!("The next teacher finds the room as new: no chat, no subject, no old password.");
}
