//! A Prosody restart (every room gone, `boot` changed) within and after the grace period.

use super::*;

fn after_restart(rooms: Vec<SnapshotRoom>) -> Snapshot {
    Snapshot {
        boot: "second-run".into(),
        ..snapshot(rooms)
    }
}

#[test]
fn a_session_prosody_lost_in_a_restart_waits_for_its_people_within_the_grace_period() {
    let mut h = Harness::lesson(Duration::from_secs(60));
    h.at(10);
    assert!(h.input(Input::Disconnected).is_empty());
    h.at(12);
    // Focus re-created the room already, or not yet: the same either way.
    let focus_only = vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(FOCUS, false, true)],
    )];
    assert_eq!(h.connect(after_restart(focus_only)), []);
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline: h.t(70) });
    assert_eq!(h.join(MATHE, CARLA, false), []);
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline: h.t(70) });
    assert_eq!(h.join(MATHE, ANNA_2, true), [grant(MATHE, ANNA_BARE)]);
    assert_eq!(h.phase(MATHE), Phase::Active);
    assert!(h
        .notes
        .pop_front()
        .is_some_and(|n| matches!(n, Note::SessionStarted { .. })));
    assert_eq!(h.notes.pop_front(), None, "the session never ended");
}

#[test]
fn a_session_prosody_lost_in_a_restart_is_reset_when_nobody_returns_in_time() {
    let mut h = Harness::lesson(Duration::from_secs(60));
    h.at(10);
    h.input(Input::Disconnected);
    h.at(12);
    assert_eq!(h.connect(after_restart(vec![])), []);
    h.at(70);
    assert_eq!(
        h.tick(),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
    // A restart noticed only after the grace period: reset at once.
    let mut h = Harness::lesson(Duration::from_secs(60));
    h.at(10);
    h.input(Input::Disconnected);
    h.at(80);
    assert_eq!(
        h.connect(after_restart(vec![])),
        [reset(MATHE, EndReason::GraceExpired, false)]
    );
}

#[test]
fn a_room_gone_without_a_prosody_restart_ends_its_session_at_once() {
    let mut h = Harness::lesson(Duration::from_secs(60));
    h.at(10);
    assert_eq!(h.reconnect(snapshot(vec![])), []);
    assert!(is_idle(&h.status(MATHE)));
}
