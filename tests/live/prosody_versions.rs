//! The module on every Prosody raumwart supports (Debian's 0.12, and 13 as
//! docker-jitsi-meet and Jitsi's own servers run it; `RAUMWART_TEST_PROSODY` picks the
//! binary) and in every config shape (`RAUMWART_TEST_SHAPE`): a normal lesson leaves no
//! warning or error in Prosody's log, from the module, a deprecated API it calls or its
//! config lines (with the global lines the README recommends).

use testkit::*;

use crate::REPO;

/// Prosody's log lines at warn or error: from the module, about a deprecated API it
/// calls (Prosody 13: "Usage of legacy is_admin() API, which will be disabled in a future
/// build"), or about the config (e.g. an option of deploy/docker-jitsi-meet/ in the wrong
/// section). A normal lesson has none at all.
fn complaints(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| {
            let level = line.split('\t').nth(1).unwrap_or("").trim();
            level == "warn" || level == "error"
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_normal_lesson_leaves_no_warning_in_prosodys_log() {
    // With the global lines the README recommends (Nagle off, generational collector).
    let env = Env::new(
        REPO,
        Options {
            grace_period: "1s",
            nagle: false,
            prosody_gc: Some(RECOMMENDED_GC.into()),
            ..Options::default()
        },
    );
    let mut d = env.daemon().await;
    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    // Organizer key, class password, students, a wrong password, breakout rooms, chat.
    let (mut t, mut s) = lesson(&env, ROOM).await;
    let mut guesser = env.anonymous().await;
    assert_eq!(
        guesser
            .join(&jid, "g", Some("geraten"))
            .await
            .err()
            .as_deref(),
        Some("not-authorized")
    );
    t.say(&jid, "Gruppenarbeit").await;
    let group = format!("{ROOM}--gruppe-1@{BREAKOUT}");
    s.leave(&jid, "student").await;
    s.join(&group, "student", None)
        .await
        .expect("breakout room");
    env.events_barrier(&mut d).await;
    assert_eq!(
        room_in(&d.status().await, ROOM).unwrap()["people"],
        2,
        "the student in the breakout room is one of the main room's people"
    );
    s.leave(&group, "student").await;
    // The teacher leaves last: the room is reset.
    let old_owner = t.bare();
    t.leave(&jid, "teacher").await;
    focus.gone().await;
    d.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;

    let log = env.prosody_log();
    assert!(
        log.contains("raumwart module active: "),
        "the module did not load:\n{log}"
    );
    let found = complaints(&log);
    assert!(
        found.is_empty(),
        "Prosody ({}) logged:\n{}",
        prosody_version(&log),
        found.join("\n")
    );
}

/// The version Prosody names at start ("Hello and welcome to Prosody version ...").
fn prosody_version(log: &str) -> &str {
    log.lines()
        .find_map(|l| l.split("Prosody version ").nth(1))
        .unwrap_or("unknown version")
}
