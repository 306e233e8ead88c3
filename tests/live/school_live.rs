//! `raumwart::schools` against the running daemon and a real Prosody: a school added,
//! rotated and removed through the library is in force after a reload, and the privacy
//! sweep finds no nickname, JID or password where raumwart shows or writes data.

use raumwart::schools::{self, Files, Rooms};
use testkit::privacy::Private;
use testkit::*;

use crate::REPO;

const RELOADED: &str = "raumwart_config_reloads_total{result=\"success\"}";

#[tokio::test]
async fn an_added_school_opens_with_its_generated_password_and_nothing_private_leaks() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let files = Files::new(env.daemon_config_path());
    let added = schools::add(&files, "gs-neu", "Grundschule Neu", None, &Rooms::Count(2)).unwrap();
    d.hangup();
    d.wait_metric(RELOADED, 1.0).await;

    let room = "gs-neu-1";
    let jid = room_jid(room);
    let mut focus = env.focus(room).await;
    let mut teacher = teacher_with(&env, room, "Frau Schmidt", added.password.expose()).await;
    let mut student = env.anonymous().await;
    student
        .join(&jid, "Lena Schulz", Some(CLASS_PASSWORD))
        .await
        .expect("the class password opens the room");
    d.wait_room(room, "2 people", |r| r["people"] == 2).await;

    let mut private = Private::new();
    private
        .add(added.password.expose())
        .add(CLASS_PASSWORD)
        .add(SCHOOL_PASSWORD)
        .add(OTHER_SCHOOL_PASSWORD)
        .add("Frau Schmidt")
        .add("Lena Schulz")
        .add(teacher.jid.clone())
        .add(student.jid.clone());
    private.sweep(&env, &d).await;

    // A new password: the teacher inside stays, the next one needs the new password.
    let rotated = schools::rotate(&files, "gs-neu", None).unwrap();
    private.add(rotated.passwords[0].password.expose());
    d.hangup();
    d.wait_metric(RELOADED, 2.0).await;
    student.leave(&jid, "Lena Schulz").await;
    teacher.leave(&jid, "Frau Schmidt").await;
    focus.gone().await;
    d.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    let mut late = env.anonymous().await;
    let _ = env.focus(room).await;
    assert_eq!(
        late.join(&jid, "Herr Weber", Some(added.password.expose()))
            .await
            .err()
            .as_deref(),
        Some("not-authorized"),
        "the old password must not open the room after the reset"
    );
    private.add("Herr Weber").add(late.jid.clone());
    private.sweep(&env, &d).await;

    // Removed: the rooms are no longer managed.
    let removed = schools::remove(&files, "gs-neu").unwrap();
    assert_eq!(removed.nodes, ["gs-neu-1", "gs-neu-2"]);
    d.hangup();
    d.wait_metric(RELOADED, 3.0).await;
    private.sweep(&env, &d).await;
}
