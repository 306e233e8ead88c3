//! When the organizer leaves early, and the rest of real Jitsi: grace period, jicofo's
//! auto-owner, lobby (members-only), spoofing, the hotline's forced end.

use std::process::Command;

use testkit::client::{self, Client};
use testkit::*;

use crate::REPO;

#[tokio::test]
async fn grace_period_ends_the_session_and_removes_everyone_with_the_end_message() {
    let env = Env::new(REPO, grace("1s"));
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;
    let old_owner = t.bare();
    t.leave(&jid, "teacher").await;
    d.wait_state(ROOM, "grace").await;
    let reason = s
        .wait_removed_within(env.after_grace(), &jid, "student")
        .await;
    assert_eq!(reason, raumwart::config::DEFAULT_END_MESSAGE);
    d.wait_metric(
        "raumwart_sessions_ended_total{reason=\"grace_expired\"}",
        1.0,
    )
    .await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}

#[tokio::test]
async fn an_organizer_returning_within_the_grace_period_continues_the_session() {
    let env = Env::new(REPO, grace("30s"));
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;
    t.leave(&jid, "teacher").await;
    d.wait_state(ROOM, "grace").await;
    // The teacher's browser reloads: a new JID, the school password.
    let mut t2 = env.anonymous().await;
    t2.join(&jid, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .unwrap();
    t2.wait_affiliation(&jid, "teacher", "owner").await;
    let st = room_status(&env, ROOM).await;
    assert_eq!(
        (st["state"].as_str(), st["organizer_present"].as_bool()),
        (Some("active"), Some(true))
    );
    assert!(st["grace_left_seconds"].is_null());
    s.sync().await;
    assert!(!s.saw(removal_of(&["student"])), "the student was removed");
}

#[tokio::test]
async fn grace_period_zero_ends_at_once() {
    let env = Env::new(REPO, grace("0s"));
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;
    t.leave(&jid, "teacher").await;
    let reason = s
        .wait_removed_within(env.after_grace(), &jid, "student")
        .await;
    assert_eq!(reason, raumwart::config::DEFAULT_END_MESSAGE);
    d.wait_metric(
        "raumwart_sessions_ended_total{reason=\"grace_expired\"}",
        1.0,
    )
    .await;
    assert!(!d.log_text().contains("grace period started"));
}

/// Nobody but an organizer is moderator, the grace period included: the student jicofo's
/// auto-owner promotes when the teacher leaves loses owner at once, and focus, which
/// elects again only when the member it promoted leaves, does not fight it.
#[tokio::test]
async fn a_student_made_owner_by_jicofo_auto_owner_loses_it_at_once_and_is_no_organizer() {
    let env = Env::new(REPO, grace("3s"));
    let mut d = env.daemon().await;
    let _focus = env.auto_owner_focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;
    let mut s2 = env.anonymous().await;
    s2.join(&jid, "student2", Some(CLASS_PASSWORD))
        .await
        .expect("a second student enters");
    t.leave(&jid, "teacher").await;
    // Focus promotes one of the students (any, as jicofo does) ...
    let students = [s.occupant(&jid, "student"), s2.occupant(&jid, "student2")];
    let owner = |p: &tokio_xmpp::minidom::Element| {
        p.name() == "presence"
            && p.attr("type").is_none()
            && students.iter().any(|o| p.attr("from") == Some(o.as_str()))
            && client::item_of(p).0 == "owner"
    };
    let promoted = s.wait_for("a student promoted by focus", owner).await;
    let promoted = promoted.attr("from").unwrap_or_default().to_owned();
    // ... who loses owner at once, while the grace period runs.
    s.wait_for("the promoted student's owner taken back", |p| {
        p.name() == "presence"
            && p.attr("from") == Some(promoted.as_str())
            && p.attr("type").is_none()
            && client::item_of(p).0 == "none"
    })
    .await;
    d.wait_state(ROOM, "grace").await;
    // No fight: focus promotes nobody again while that student stays.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    s.sync().await;
    assert!(!s.saw(owner), "focus promoted someone again");
    // The session still ends.
    let reason = s
        .wait_removed_within(env.after_grace(), &jid, "student")
        .await;
    assert_eq!(reason, raumwart::config::DEFAULT_END_MESSAGE);
    d.wait_metric(
        "raumwart_sessions_ended_total{reason=\"grace_expired\"}",
        1.0,
    )
    .await;
    let log = d.log_text();
    assert_eq!(log.matches("granting owner").count(), 1, "{log}");
    assert_eq!(log.matches("taking owner back").count(), 1, "{log}");
}

#[tokio::test]
async fn an_organizer_who_makes_a_colleague_moderator_makes_an_organizer() {
    let env = Env::new(REPO, grace("1s"));
    let mut d = env.daemon().await;
    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut t = teacher_with_class(&env, ROOM, "teacher").await;
    let mut colleague = env.anonymous().await;
    colleague
        .join(&jid, "colleague", Some(CLASS_PASSWORD))
        .await
        .unwrap();
    t.set_affiliation(&jid, &colleague.bare(), "owner")
        .await
        .expect("the teacher grants moderator");
    colleague.wait_affiliation(&jid, "colleague", "owner").await;
    t.leave(&jid, "teacher").await;
    // The daemon has seen the teacher leave (and the affiliation change before it).
    env.events_barrier(&mut d).await;
    let st = room_status(&env, ROOM).await;
    assert_eq!(st["state"], "active", "{st}");
    assert_eq!(st["organizer_present"], true);
    colleague.leave(&jid, "colleague").await;
    focus.gone().await;
    d.wait_metric(
        "raumwart_sessions_ended_total{reason=\"last_organizer_left\"}",
        1.0,
    )
    .await;
    assert!(!d.log_text().contains("grace period started"));
}

#[tokio::test]
async fn a_lobby_session_is_reset_to_no_lobby_and_no_members() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;
    // What Jitsi's lobby does: members-only on, admitted people become members.
    let mut q = client::el("query", client::MUC_ADMIN, &[]);
    q.append_child(client::el(
        "item",
        client::MUC_ADMIN,
        &[("affiliation", "member"), ("jid", &s.bare())],
    ));
    t.iq(&jid, "set", q).await.unwrap();
    t.configure(&jid, &[("muc#roomconfig_membersonly", "1")])
        .await
        .unwrap();
    let member = s.bare();
    s.leave(&jid, "student").await;
    t.leave(&jid, "teacher").await;
    focus.gone().await;
    d.wait_metric("raumwart_sessions_ended_total", 1.0).await;

    let _focus = env.focus(ROOM).await;
    let mut t2 = env.anonymous().await;
    t2.join(&jid, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .unwrap();
    t2.wait_affiliation(&jid, "teacher", "owner").await;
    let form = t2
        .iq(&jid, "get", client::el("query", client::MUC_OWNER, &[]))
        .await
        .unwrap();
    let members_only = form
        .get_child("query", client::MUC_OWNER)
        .and_then(|q| q.get_child("x", "jabber:x:data"))
        .and_then(|x| {
            x.children()
                .find(|f| f.attr("var") == Some("muc#roomconfig_membersonly"))
        })
        .and_then(|f| f.get_child("value", "jabber:x:data"))
        .map(|v| v.text());
    assert!(
        matches!(members_only.as_deref(), Some("0") | Some("false") | None),
        "members-only survived the reset: {members_only:?}"
    );
    let members = t2.affiliations(&jid, "member").await;
    assert!(
        !members.contains(&member),
        "a member from before: {members:?}"
    );
}

#[tokio::test]
async fn spoofing_focus_an_organizers_name_or_muc_payloads_gains_nothing() {
    let env = Env::new(REPO, grace("1s"));
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut t = teacher_with_class(&env, ROOM, "Frau Lehrerin").await;
    // Focus's nick as a display name (with a space: the nick "focus" is focus's), and the
    // teacher's display name; their MUC nicks are hex like everyone's.
    let mut s1 = env.anonymous().await;
    s1.join(&jid, "focus ", Some(CLASS_PASSWORD)).await.ok();
    let mut s2 = env.anonymous().await;
    s2.join(&jid, "Frau Lehrerin (2)", Some(CLASS_PASSWORD))
        .await
        .unwrap();
    // Forged MUC payloads: an owner item and a status 110 in the join presence.
    let mut s3 = env.anonymous().await;
    let mut x = client::el("x", client::MUC, &[]);
    x.append_child(client::text_el("password", client::MUC, CLASS_PASSWORD));
    let mut fake = client::el("x", client::MUC_USER, &[]);
    fake.append_child(client::el(
        "item",
        client::MUC_USER,
        &[("affiliation", "owner"), ("role", "moderator")],
    ));
    let mut p = s3.presence(&jid, "forger");
    let forger = p.attr("to").unwrap().to_owned();
    p.append_child(x);
    p.append_child(fake);
    s3.send(p).await;
    let own = s3
        .wait_for("forger's own presence", |st| {
            st.attr("from") == Some(forger.as_str()) && client::is_self_presence(st)
        })
        .await;
    assert_eq!(client::item_of(&own).0, "none");
    // The daemon has seen every join.
    env.events_barrier(&mut d).await;
    let owners = t.affiliations(&jid, "owner").await;
    for s in [&s1, &s2, &s3] {
        assert!(
            !owners.contains(&s.bare()),
            "a spoofer became owner: {owners:?}"
        );
    }
    // When the real teacher leaves, the session still ends for all of them.
    t.leave(&jid, "Frau Lehrerin").await;
    s2.wait_removed_within(env.after_grace(), &jid, "Frau Lehrerin (2)")
        .await;
    s3.wait_removed_within(env.after_grace(), &jid, "forger")
        .await;
}

#[tokio::test]
async fn end_session_is_the_hotlines_forced_end() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;
    let run = |room: &str| {
        Command::new(env!("CARGO_BIN_EXE_raumwart"))
            .args(["end-session", room, "--config"])
            .arg(env.daemon_config_path())
            .output()
            .unwrap()
    };
    let unknown = run("kein-raum");
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("\"kein-raum\" is not a managed room")
    );
    let old_owner = t.bare();
    let out = run(ROOM);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        t.wait_removed(&jid, "teacher").await,
        raumwart::config::DEFAULT_END_MESSAGE
    );
    s.wait_removed(&jid, "student").await;
    d.wait_metric("raumwart_sessions_ended_total{reason=\"forced\"}", 1.0)
        .await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}

/// Jitsi clients leave the main room, then join the breakout room.
async fn move_to_breakout(c: &mut Client, nick: &str, breakout: &str) {
    c.leave(&room_jid(ROOM), nick).await;
    c.join(breakout, nick, None)
        .await
        .unwrap_or_else(|e| panic!("{nick} cannot enter {breakout}: {e}"));
}

#[tokio::test]
async fn breakout_rooms_belong_to_their_main_rooms_session() {
    let env = Env::new(REPO, grace("1s"));
    let mut d = env.daemon().await;
    let _focus = env.stubborn_focus(ROOM).await;
    let group = format!("{ROOM}--gruppe-1@{BREAKOUT}");
    let (mut t, mut s) = lesson(&env, ROOM).await;

    // Everyone goes to the breakout room: the empty main room does not end the session.
    move_to_breakout(&mut s, "student", &group).await;
    move_to_breakout(&mut t, "teacher", &group).await;
    env.events_barrier(&mut d).await;
    let st = room_status(&env, ROOM).await;
    assert_eq!(
        (st["state"].as_str(), st["people"].as_u64()),
        (Some("active"), Some(2)),
        "{st}"
    );
    assert_eq!(
        st["organizer_present"], true,
        "the teacher stays organizer in the breakout room"
    );

    // The teacher leaves for good: grace, then the breakout room is emptied too.
    t.leave(&group, "teacher").await;
    let reason = s
        .wait_removed_within(env.after_grace(), &group, "student")
        .await;
    assert_eq!(reason, raumwart::config::DEFAULT_END_MESSAGE);
    d.wait_metric(
        "raumwart_sessions_ended_total{reason=\"grace_expired\"}",
        1.0,
    )
    .await;
}

#[tokio::test]
async fn a_restarted_daemon_counts_the_people_in_breakout_rooms() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    // Focus stays in the main room while breakout rooms are open, as jicofo does.
    let _focus = env.stubborn_focus(ROOM).await;
    let jid = room_jid(ROOM);
    let group = format!("{ROOM}--gruppe-1@{BREAKOUT}");
    let (mut t, mut s) = lesson(&env, ROOM).await;
    let mut s2 = env.anonymous().await;
    s2.join(&jid, "student-2", Some(CLASS_PASSWORD))
        .await
        .expect("a second student enters with the class password");
    move_to_breakout(&mut s, "student", &group).await;
    move_to_breakout(&mut s2, "student-2", &group).await;
    d.wait_room(ROOM, "3 people, 2 of them in the breakout room", |r| {
        r["people"] == 3
    })
    .await;

    // A new daemon learns who is where from the module's snapshot alone.
    d.kill9();
    let mut d = env.daemon().await;
    // In sync: the snapshot is applied.
    assert_room_now(
        &env,
        ROOM,
        ("active", 3, true),
        "the restarted daemon does not count the students in the breakout room",
    )
    .await;

    // The teacher follows: the main room is empty, the session goes on.
    move_to_breakout(&mut t, "teacher", &group).await;
    env.events_barrier(&mut d).await;
    assert_room_now(
        &env,
        ROOM,
        ("active", 3, true),
        "everyone in the breakout room after a daemon restart",
    )
    .await;

    // Restarted again with nobody but focus in the (persistent) main room: the people in
    // the breakout room keep the session, and the teacher there is still its organizer
    // (no grace period that would end the lesson under them).
    d.kill9();
    let mut d = env.daemon().await;
    assert_room_now(
        &env,
        ROOM,
        ("active", 3, true),
        "a restarted daemon does not see the organizer in the breakout room",
    )
    .await;
    env.events_barrier(&mut d).await;
    let ended = d.metrics().await.value("raumwart_sessions_ended_total");
    assert_eq!(ended, 0.0, "a daemon restart ended the session");
    for (c, nick) in [
        (&mut s, "student"),
        (&mut s2, "student-2"),
        (&mut t, "teacher"),
    ] {
        c.sync().await;
        assert!(
            !c.saw(removal_of(&[nick])),
            "{nick} was removed from the breakout room"
        );
    }
}

#[tokio::test]
async fn a_service_entering_with_the_school_password_is_no_organizer_and_keeps_no_session() {
    // lib-jitsi-meet hands jigasi, for dial-out, the room password the teacher typed:
    // the school password. jigasi is in `service_jids`.
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut teacher = teacher_with_class(&env, ROOM, "teacher").await;
    let mut jigasi = Client::login(env.c2s, AUTH, "jigasi", JIGASI_PASSWORD).await;
    jigasi
        .join(&jid, "jigasi", Some(SCHOOL_PASSWORD))
        .await
        .expect("dial-out enters with the password the teacher typed");
    env.events_barrier(&mut d).await;
    let st = room_status(&env, ROOM).await;
    assert_eq!(st["people"], 1, "jigasi counted as a person: {st}");
    let owners = teacher.affiliations(&jid, "owner").await;
    assert!(
        !owners.contains(&jigasi.bare()),
        "a service was made organizer: {owners:?}"
    );
    // The teacher leaves: only services are in, so the session ends at once (with the
    // default grace period of 60 s, a service kept as a person would keep it for that).
    let old_owner = teacher.bare();
    teacher.leave(&jid, "teacher").await;
    d.wait_metric(
        "raumwart_sessions_ended_total{reason=\"last_organizer_left\"}",
        1.0,
    )
    .await;
    jigasi.wait_removed(&jid, "jigasi").await;
    focus.gone().await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}
