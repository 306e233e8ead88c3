//! Prosody restarts mid-lesson (Jitsi's `storage = "memory"`: every room is gone). The
//! lesson goes on: the teacher is organizer again with the school password, students get
//! in with the class password they had, within the grace period; after it, the room is
//! reset as usual.

use std::path::Path;

use testkit::*;

use crate::REPO;

/// The state raumwart's `/status` shows for `room`.
async fn state_of(env: &Env, room: &str) -> String {
    room_status(env, room).await["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every file under `dir`, as text (lossy).
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            out.push((path.display().to_string(), text));
        }
    }
    out
}

#[tokio::test]
async fn after_a_prosody_restart_the_lesson_goes_on_and_ends_with_a_reset() {
    let mut env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let (teacher, _student) = lesson(&env, ROOM).await;
    let old_owner = teacher.bare();
    for (path, text) in files_under(&env.dir.join("data")) {
        assert!(
            !text.contains(CLASS_PASSWORD),
            "class password in plain text in {path}"
        );
    }

    env.restart_prosody();
    d.wait_resynced(1).await;
    assert_eq!(
        state_of(&env, ROOM).await,
        "grace",
        "the session waits for its people"
    );

    // Jitsi's clients reload: focus re-creates the room, people ask for the password.
    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut stranger = env.anonymous().await;
    for wrong in [None, Some("Klasse-4b-Wandertah"), Some("")] {
        assert_eq!(
            stranger
                .join(&jid, "stranger", wrong)
                .await
                .err()
                .as_deref(),
            Some("not-authorized"),
            "a join with {wrong:?} was admitted after the restart"
        );
    }
    let mut student = env.anonymous().await;
    student
        .join(&jid, "student", Some(CLASS_PASSWORD))
        .await
        .expect("a student returns with the class password");
    let mut teacher = env.anonymous().await;
    teacher
        .join(&jid, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .expect("the teacher returns with the school password");
    teacher.wait_affiliation(&jid, "teacher", "owner").await;
    let mut late = env.anonymous().await;
    late.join(&jid, "late", Some(CLASS_PASSWORD))
        .await
        .expect("the class password is the room's again");
    assert_eq!(state_of(&env, ROOM).await, "active");
    let ended = d.metrics().await.value("raumwart_sessions_ended_total");
    assert_eq!(ended, 0.0, "the restart ended the session");

    // The lesson ends as usual, and takes its class password with it.
    for (c, nick) in [(&mut late, "late"), (&mut student, "student")] {
        c.leave(&jid, nick).await;
    }
    teacher.leave(&jid, "teacher").await;
    focus.gone().await;
    d.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}

#[tokio::test]
async fn after_the_grace_period_a_room_lost_in_a_restart_is_reset() {
    let mut env = Env::new(
        REPO,
        Options {
            grace_period: "2s",
            ..Options::default()
        },
    );
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let (_teacher, _student) = lesson(&env, ROOM).await;
    env.restart_prosody();
    d.wait_resynced(1).await;
    let after_grace = env.after_grace();
    d.wait_metric_within(after_grace, "raumwart_sessions_ended_total", 1.0)
        .await;
    assert_eq!(state_of(&env, ROOM).await, "idle");
    let _focus = env.focus(ROOM).await;
    let mut student = env.anonymous().await;
    assert_eq!(
        student
            .join(&room_jid(ROOM), "student", Some(CLASS_PASSWORD))
            .await
            .err()
            .as_deref(),
        Some("not-authorized"),
        "the old class password opened the room after the grace period"
    );
}

#[tokio::test]
async fn a_class_password_the_teacher_removed_does_not_come_back_after_a_restart() {
    let mut env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let mut teacher = teacher_with_class(&env, ROOM, "teacher").await;
    let jid = room_jid(ROOM);
    teacher
        .configure(&jid, &[("muc#roomconfig_roomsecret", "")])
        .await
        .expect("an organizer removes the class password");
    env.restart_prosody();
    d.wait_resynced(1).await;
    let _focus = env.focus(ROOM).await;
    let mut student = env.anonymous().await;
    assert_eq!(
        student
            .join(&jid, "student", Some(CLASS_PASSWORD))
            .await
            .err()
            .as_deref(),
        Some("not-authorized"),
        "a class password removed before the restart opened the room"
    );
}
