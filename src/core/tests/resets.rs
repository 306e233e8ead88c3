//! Failed and overtaken resets.

use super::*;

#[test]
fn failed_reset_is_retried_after_five_seconds() {
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    h.at(100);
    assert_eq!(
        h.leave(MATHE, ANNA),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
    h.at(101);
    assert_eq!(h.done_reset(MATHE, false), []);
    assert!(matches!(
        h.phase(MATHE),
        Phase::Ending {
            reason: EndReason::LastOrganizerLeft,
            retry: Some(t),
            ..
        } if t == h.t(101) + RETRY
    ));
    assert_eq!(h.core.next_deadline(), Some(h.t(106)));
    h.at(105);
    assert_eq!(h.tick(), []);
    h.at(106);
    assert_eq!(
        h.tick(),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
    assert!(matches!(h.phase(MATHE), Phase::Ending { retry: None, .. }));
    assert_eq!(h.core.next_deadline(), None);
    // Fails again: retried again.
    h.at(107);
    h.done_reset(MATHE, false);
    assert_eq!(h.core.next_deadline(), Some(h.t(112)));
    h.at(112);
    assert_eq!(h.tick().len(), 1);
    h.at(113);
    assert_eq!(h.done_reset(MATHE, true), []);
    assert!(is_idle(&h.status(MATHE)));
}

#[test]
fn a_retried_grace_reset_still_carries_the_message() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(160);
    assert_eq!(h.tick(), [reset(MATHE, EndReason::GraceExpired, true)]);
    h.done_reset(MATHE, false);
    h.at(165);
    assert_eq!(h.tick(), [reset(MATHE, EndReason::GraceExpired, true)]);
}

#[test]
fn events_while_ending_do_not_issue_another_reset() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(160);
    assert_eq!(h.tick().len(), 1);
    assert_eq!(h.leave(MATHE, BEN), []);
    assert_eq!(h.join(MATHE, CARLA, false), []);
    assert_eq!(h.leave(MATHE, CARLA), []);
    assert_eq!(h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE), []);
    assert_eq!(ending_reason(h.phase(MATHE)), Some(EndReason::GraceExpired));
}

#[test]
fn a_join_after_the_reset_was_issued_survives_as_a_new_session() {
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    h.at(100);
    assert_eq!(h.leave(MATHE, ANNA).len(), 1);
    // The next teacher comes in before the reset is confirmed. She is granted at once
    // (that request goes to the old room) ...
    h.at(101);
    assert_eq!(h.join(MATHE, DORA, true), [grant(MATHE, DORA_BARE)]);
    assert_eq!(h.join(MATHE, BEN, false), []);
    assert!(matches!(h.phase(MATHE), Phase::Ending { .. }));
    // ... and again once the room is new, for the new room has no affiliations.
    h.at(102);
    assert_eq!(h.done_reset(MATHE, true), [grant(MATHE, DORA_BARE)]);
    assert_eq!(
        h.status(MATHE),
        Status {
            phase: Phase::Active,
            people: 2,
            organizer: true,
            session_start: Some(h.t(102)),
        }
    );
}

#[test]
fn students_who_join_after_the_reset_was_issued_start_a_session_in_grace() {
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(101);
    assert_eq!(h.join(MATHE, BEN, false), []);
    h.at(102);
    assert_eq!(h.done_reset(MATHE, true), []);
    let s = h.status(MATHE);
    assert_eq!(s.phase, Phase::Grace { deadline: h.t(162) });
    assert_eq!((s.people, s.session_start), (1, Some(h.t(102))));
}

#[test]
fn those_inside_when_the_reset_was_issued_go_with_it() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(160);
    h.tick();
    // A failed attempt and its retry: those who came in between are removed too.
    h.done_reset(MATHE, false);
    h.at(162);
    h.join(MATHE, DORA, true);
    h.at(165);
    assert_eq!(h.tick().len(), 1);
    h.at(166);
    assert_eq!(h.done_reset(MATHE, true), []);
    assert!(is_idle(&h.status(MATHE)));
}

#[test]
fn the_destroyed_event_removes_everyone_it_follows() {
    // The module announces the destroy before it answers the request, on the same
    // stream: whoever the core saw join before the event was in the old room.
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.join(MATHE, DORA, true);
    assert_eq!(h.destroyed(MATHE), []);
    assert!(is_idle(&h.status(MATHE)));
    assert_eq!(h.done_reset(MATHE, true), []);
    assert!(is_idle(&h.status(MATHE)));
    // After the event, a join is the new room's.
    assert_eq!(h.join(MATHE, DORA, true), [grant(MATHE, DORA_BARE)]);
    assert_eq!(h.phase(MATHE), Phase::Active);
}

#[test]
fn done_for_a_reset_that_is_not_under_way_is_ignored() {
    let mut h = Harness::lesson(GRACE);
    assert_eq!(h.done_reset(MATHE, true), []);
    assert_eq!(h.done_reset(MATHE, false), []);
    assert_eq!(h.phase(MATHE), Phase::Active);
    assert_eq!(h.core.next_deadline(), None);
}
