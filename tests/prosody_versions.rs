//! The module on every Prosody raumwart supports (Debian's 0.12, and 13 as
//! docker-jitsi-meet and Jitsi's own servers run it; `RAUMWART_TEST_PROSODY` picks the
//! binary): a normal lesson leaves no warning or error of the module in Prosody's log,
//! and no deprecation notice from an API it calls.

mod support;

use support::*;

/// Prosody's log lines at warn or error from `source` (e.g. ":raumwart"), or about a
/// deprecated API (Prosody 13: "Usage of legacy is_admin() API, which will be disabled
/// in a future build"), whoever logs it.
fn complaints(log: &str, source: &str) -> Vec<String> {
    log.lines()
        .filter(|line| {
            let mut fields = line.split('\t');
            let head = fields.next().unwrap_or("");
            let level = fields.next().unwrap_or("").trim();
            let deprecated = ["legacy is_admin", "deprecat", "permissions API"]
                .iter()
                .any(|d| line.contains(d));
            (level == "warn" || level == "error") && (head.contains(source) || deprecated)
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_normal_lesson_leaves_no_warning_of_the_module_in_prosodys_log() {
    let env = Env::new(Options {
        grace_period: "1s",
        ..Options::default()
    });
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
    d.wait_log("JoinedBreakout", 1).await;
    s.leave(&group, "student").await;
    // The teacher leaves last: the room is reset.
    let old_owner = t.bare();
    t.leave(&jid, "teacher").await;
    focus.gone().await;
    d.wait_log("session ended", 1).await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;

    let log = env.prosody_log();
    assert!(
        log.contains("raumwart module active: "),
        "the module did not load:\n{log}"
    );
    let found = complaints(&log, ":raumwart");
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
