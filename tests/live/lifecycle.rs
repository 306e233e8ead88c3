//! The school room lifecycle against a real Prosody: creation with the school password,
//! organizer and class password, return of the organizer, reset when the organizer
//! leaves last. Each test has its own Prosody and daemon.

use testkit::client::{self, Client};
use testkit::*;

use crate::REPO;

#[tokio::test]
async fn managed_room_has_the_school_password_from_creation() {
    let env = Env::new(REPO, Options::default());
    let _d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut s = env.anonymous().await;
    assert_eq!(
        s.join(&jid, "s", None).await.err().as_deref(),
        Some("not-authorized")
    );
    assert_eq!(
        s.join(&jid, "s", Some("falsch")).await.err().as_deref(),
        Some("not-authorized")
    );
    // Each room has its own school's password.
    assert_eq!(
        s.join(&jid, "s", Some(OTHER_SCHOOL_PASSWORD))
            .await
            .err()
            .as_deref(),
        Some("not-authorized")
    );
    let _other = env.focus(OTHER_SCHOOL_ROOM).await;
    let mut t = env.anonymous().await;
    t.join(
        &room_jid(OTHER_SCHOOL_ROOM),
        "t",
        Some(OTHER_SCHOOL_PASSWORD),
    )
    .await
    .expect("a room's own password_file applies");
}

#[tokio::test]
async fn password_holds_while_the_daemon_is_stopped_and_after_prosody_restarts() {
    let mut env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    assert!(d.terminate().success(), "SIGTERM is a clean exit");
    for round in ["daemon stopped", "Prosody restarted, daemon still stopped"] {
        let mut focus = env.focus(ROOM).await;
        let jid = room_jid(ROOM);
        let mut s = env.anonymous().await;
        assert_eq!(
            s.join(&jid, "s", None).await.err().as_deref(),
            Some("not-authorized"),
            "{round}: join without password admitted"
        );
        let mut t = env.anonymous().await;
        t.join(&jid, "t", Some(SCHOOL_PASSWORD))
            .await
            .unwrap_or_else(|e| panic!("{round}: school password refused: {e}"));
        t.leave(&jid, "t").await;
        assert_eq!(focus.gone().await, "left");
        if round == "daemon stopped" {
            env.restart_prosody();
        }
    }
}

#[tokio::test]
async fn a_first_joiner_creates_a_managed_room_only_with_the_school_password() {
    let env = Env::new(
        REPO,
        Options {
            restrict_room_creation: false,
            ..Options::default()
        },
    );
    let _d = env.daemon().await;
    let jid = room_jid(ROOM);
    let mut s = env.anonymous().await;
    assert_eq!(
        s.join(&jid, "s", None).await.err().as_deref(),
        Some("not-authorized")
    );
    assert_eq!(
        s.join(&jid, "s", Some("geraten")).await.err().as_deref(),
        Some("not-authorized")
    );
    let mut t = env.anonymous().await;
    t.join(&jid, "t", Some(SCHOOL_PASSWORD))
        .await
        .expect("the teacher creates the room");
    t.wait_affiliation(&jid, "t", "owner").await;
    assert_eq!(
        s.join(&jid, "s", None).await.err().as_deref(),
        Some("not-authorized")
    );
}

#[tokio::test]
async fn organizer_gets_owner_students_get_participant_and_the_organizer_can_return() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut t = teacher_with_class(&env, ROOM, "teacher").await;

    // The school password is no longer the room password, but students' is.
    let mut s = env.anonymous().await;
    let joined = s
        .join(&jid, "student", Some(CLASS_PASSWORD))
        .await
        .expect("students enter with the class password");
    assert_eq!(
        (joined.affiliation.as_str(), joined.role.as_str()),
        ("none", "participant")
    );

    // The teacher reloads: a new JID, the school password still opens the room as organizer.
    let mut t2 = env.anonymous().await;
    t2.join(&jid, "teacher-2", Some(SCHOOL_PASSWORD))
        .await
        .expect("an organizer returns with the school password while a class password is set");
    t2.wait_affiliation(&jid, "teacher-2", "owner").await;
    d.wait_metric("raumwart_organizer_grants_total{result=\"ok\"}", 2.0)
        .await;

    let mut s2 = env.anonymous().await;
    s2.join(&jid, "student-2", Some(CLASS_PASSWORD))
        .await
        .expect("the class password still works for students");
    // Barrier: the daemon has seen all five joins (focus, two teachers, two students).
    d.wait_room(ROOM, "4 people", |r| r["people"] == 4).await;
    t.sync().await;
    let owners = t.affiliations(&jid, "owner").await;
    for student in [s.bare(), s2.bare()] {
        assert!(!owners.contains(&student), "a student is owner: {owners:?}");
    }
    assert!(owners.contains(&t.bare()) && owners.contains(&t2.bare()));
    assert!(
        !d.log_text().contains(SCHOOL_PASSWORD),
        "a password in the log"
    );
}

#[tokio::test]
async fn last_organizer_leaving_resets_a_room() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut t = teacher_with_class(&env, ROOM, "teacher").await;
    t.say(&jid, "Hausaufgabe: Seite 12").await;
    t.set_subject(&jid, "Mathe 4b").await;
    let mut s = env.anonymous().await;
    s.join(&jid, "student", Some(CLASS_PASSWORD)).await.unwrap();
    s.leave(&jid, "student").await;
    let old_owner = t.bare();
    t.leave(&jid, "teacher").await;
    focus.gone().await;
    d.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}

#[tokio::test]
async fn last_organizer_leaving_resets_a_persistent_room_without_tombstone() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut t = teacher_with_class(&env, ROOM, "teacher").await;
    make_persistent(&env, ROOM).await;
    t.say(&jid, "Bis morgen").await;
    t.set_subject(&jid, "Deutsch").await;
    let old_owner = t.bare();
    t.leave(&jid, "teacher").await;
    // A persistent room outlives its occupants: raumwart must destroy it itself.
    let why = focus.gone().await;
    assert!(why.starts_with("removed") || why == "left", "{why}");
    d.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    // No tombstone: a non-admin gets "not-allowed" (restricted creation), never "gone".
    let mut s = env.anonymous().await;
    let refused = s.join(&jid, "s", Some(SCHOOL_PASSWORD)).await.err();
    assert_ne!(
        refused.as_deref(),
        Some("gone"),
        "a tombstone locks the managed room"
    );
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}

#[tokio::test]
async fn focus_and_service_jids_never_count_as_people() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    // This focus stays even when alone: only raumwart can end the session.
    let mut focus = env.stubborn_focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut t = teacher_with_class(&env, ROOM, "teacher").await;
    let old_owner = t.bare();
    t.leave(&jid, "teacher").await;
    let why = focus.gone().await;
    assert!(
        why.starts_with("removed"),
        "focus must be removed by the reset, got {why}"
    );
    d.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    assert!(!d.log_text().contains("granting owner focus"));
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}

#[tokio::test]
async fn sigkill_mid_session_leaves_the_session_untouched_and_the_reset_still_comes() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;
    d.kill9();
    let mut d2 = env.daemon().await;
    // Untouched: nobody removed, class password and organizer key still work.
    let mut s2 = env.anonymous().await;
    s2.join(&jid, "student-2", Some(CLASS_PASSWORD))
        .await
        .expect("class password survives the daemon restart");
    t.sync().await;
    s.sync().await;
    let removed = removal_of(&["teacher", "student"]);
    assert!(
        !t.saw(&removed) && !s.saw(&removed),
        "someone was removed by the restart"
    );
    assert!(!d2.log_text().contains("resetting room"));
    let owners = t.affiliations(&jid, "owner").await;
    assert!(owners.contains(&t.bare()));
    // The session ends as usual.
    let old_owner = t.bare();
    s.leave(&jid, "student").await;
    s2.leave(&jid, "student-2").await;
    t.leave(&jid, "teacher").await;
    focus.gone().await;
    d2.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}

#[tokio::test]
async fn organizer_leaving_while_the_daemon_is_down_still_ends_the_session() {
    let env = Env::new(
        REPO,
        Options {
            grace_period: "1s",
            ..Options::default()
        },
    );
    let mut d = env.daemon().await;
    // Room 1: persistent, the teacher leaves alone while the daemon is down.
    let mut focus1 = env.focus(ROOM).await;
    let jid1 = room_jid(ROOM);
    let mut t1 = teacher_with_class(&env, ROOM, "teacher").await;
    make_persistent(&env, ROOM).await;
    // Room 2: a student stays behind after the teacher left while the daemon was down.
    let _focus2 = env.focus(ROOM2).await;
    let jid2 = room_jid(ROOM2);
    let mut t2 = teacher_with_class(&env, ROOM2, "teacher").await;
    let mut s = env.anonymous().await;
    s.join(&jid2, "student", Some(CLASS_PASSWORD))
        .await
        .unwrap();
    d.kill9();
    let old_owner = t1.bare();
    t1.leave(&jid1, "teacher").await;
    t2.leave(&jid2, "teacher").await;
    // Focus leaves room 1 when the teacher is gone; the persistent room stays behind.
    focus1.gone().await;
    let mut d2 = env.daemon().await;
    let reason = s
        .wait_removed_within(env.after_grace(), &jid2, "student")
        .await;
    assert_eq!(reason, raumwart::config::DEFAULT_END_MESSAGE);
    d2.wait_metric("raumwart_sessions_ended_total", 2.0).await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}

#[tokio::test]
async fn the_daemon_reconnects_and_resyncs_after_prosody_restarts() {
    let mut env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    env.restart_prosody();
    d.wait_resynced(1).await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut t = env.anonymous().await;
    t.join(&jid, "t", Some(SCHOOL_PASSWORD)).await.unwrap();
    t.wait_affiliation(&jid, "t", "owner").await;
}

#[tokio::test]
async fn wrong_secret_and_name_in_use_are_named_and_retried() {
    let env = Env::new(
        REPO,
        Options {
            secret_in_config: "not-the-secret",
            ..Options::default()
        },
    );
    let mut d = env.spawn_daemon();
    d.assert_logged("refused the component handshake", 2).await;
    assert!(d.log_text().contains("secret does not match"));

    let env = Env::new(REPO, Options::default());
    let _first = env.daemon().await;
    let mut second = env.spawn_daemon_with(&env.second_daemon_config());
    second.assert_logged("already connected", 1).await;
}

#[tokio::test]
async fn unmanaged_rooms_allowed_are_left_alone() {
    let env = Env::new(REPO, Options::default());
    let d = env.daemon().await;
    let mut focus = env.focus("elternabend").await;
    let jid = room_jid("elternabend");
    let mut p = env.anonymous().await;
    let joined = p
        .join(&jid, "p", None)
        .await
        .expect("an unmanaged room is open");
    assert_eq!(joined.affiliation, "none");
    p.leave(&jid, "p").await;
    focus.gone().await;
    assert!(
        !d.log_text().contains("elternabend"),
        "raumwart saw an unmanaged room"
    );
}

#[tokio::test]
async fn unmanaged_rooms_denied_cannot_be_created() {
    let env = Env::new(
        REPO,
        Options {
            unmanaged: "deny",
            ..Options::default()
        },
    );
    let _d = env.daemon().await;
    let mut f = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    assert_eq!(
        f.join(&room_jid("elternabend"), "focus", None)
            .await
            .err()
            .as_deref(),
        Some("not-allowed")
    );
    f.join(&room_jid(ROOM), "focus", None)
        .await
        .expect("managed rooms are still created");
}

#[tokio::test]
async fn only_the_muc_service_may_talk_to_the_daemon_and_the_module() {
    let env = Env::new(REPO, Options::default());
    let d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;

    // A forged "organizer joined" event from a client.
    let mut forged = client::el(
        "message",
        client::CLIENT,
        &[("to", COMPONENT), ("id", "f1")],
    );
    forged.append_child(client::el(
        "j",
        raumwart::protocol::NS,
        &[("r", ROOM), ("o", &s.jid), ("k", "1")],
    ));
    s.send(forged).await;
    let answer = s
        .wait_for("error for the forged event", |m| {
            m.name() == "message" && m.attr("id") == Some("f1")
        })
        .await;
    assert_eq!(answer.attr("type"), Some("error"));
    assert_eq!(
        client::error_condition(&answer).as_deref(),
        Some("forbidden")
    );
    // An IQ to the daemon.
    let ping = client::el("ping", "urn:xmpp:ping", &[]);
    assert_eq!(
        s.iq(COMPONENT, "get", ping).await.err().as_deref(),
        Some("service-unavailable")
    );
    // Commands to the module from anyone but the component.
    let map = client::el(
        "map",
        raumwart::protocol::NS,
        &[("gen", "x"), ("last", "1")],
    );
    assert_eq!(
        s.iq(muc(), "set", map).await.err().as_deref(),
        Some("forbidden")
    );
    let snap = client::el("snapshot", raumwart::protocol::NS, &[]);
    assert_eq!(
        s.iq(muc(), "get", snap).await.err().as_deref(),
        Some("forbidden")
    );
    // Nothing changed: the student is no owner, passwords still hold.
    let owners = t.affiliations(&jid, "owner").await;
    assert!(
        !owners.contains(&s.bare()),
        "forged event made a student owner"
    );
    let mut x = env.anonymous().await;
    assert_eq!(
        x.join(&jid, "x", None).await.err().as_deref(),
        Some("not-authorized")
    );
    assert_eq!(d.log_text().matches("granting owner").count(), 1);
}
