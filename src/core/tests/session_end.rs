//! The end of a session.

use super::*;

#[test]
fn last_organizer_leaving_an_empty_room_resets_it_without_message() {
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    h.at(600);
    assert_eq!(
        h.leave(MATHE, ANNA),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
    assert!(matches!(
        h.phase(MATHE),
        Phase::Ending {
            reason: EndReason::LastOrganizerLeft,
            retry: None,
            ..
        }
    ));
    assert_eq!(h.core.next_deadline(), None);
    h.at(601);
    assert_eq!(h.done_reset(MATHE, true), []);
    assert!(is_idle(&h.status(MATHE)));
}

#[test]
fn destroyed_event_completes_a_reset_and_a_late_done_is_ignored() {
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    h.at(600);
    h.leave(MATHE, ANNA);
    assert_eq!(h.destroyed(MATHE), []);
    assert!(is_idle(&h.status(MATHE)));
    // The reply to the destroy request comes after the module's event.
    assert_eq!(h.done_reset(MATHE, true), []);
    assert!(is_idle(&h.status(MATHE)));
    // Owner rights went with the room: the next lesson's organizer is granted again.
    assert_eq!(h.join(MATHE, ANNA, true), [grant(MATHE, ANNA_BARE)]);
}

#[test]
fn destroyed_during_a_lesson_ends_the_session_without_reset() {
    let mut h = Harness::lesson(GRACE);
    h.at(50);
    assert_eq!(h.destroyed(MATHE), []);
    assert!(is_idle(&h.status(MATHE)));
    assert_eq!(h.core.next_deadline(), None);
}

#[test]
fn organizer_leaving_students_starts_grace_and_expiry_ends_the_session() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    h.at(100);
    assert_eq!(h.leave(MATHE, ANNA), []);
    let deadline = h.t(100) + GRACE;
    assert_eq!(
        h.status(MATHE),
        Status {
            phase: Phase::Grace { deadline },
            people: 2,
            organizer: false,
            session_start: Some(h.t(0)),
        }
    );
    assert_eq!(h.core.next_deadline(), Some(deadline));
    // Early ticks (a timer that fired for another reason) change nothing.
    h.at(100);
    assert_eq!(h.tick(), []);
    h.now = deadline - Duration::from_millis(1);
    assert_eq!(h.tick(), []);
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline });
    h.now = deadline;
    assert_eq!(h.tick(), [reset(MATHE, EndReason::GraceExpired, true)]);
    assert_eq!(ending_reason(h.phase(MATHE)), Some(EndReason::GraceExpired));
    assert_eq!(h.core.next_deadline(), None);
    // No second reset on the next tick.
    h.at(200);
    assert_eq!(h.tick(), []);
    assert_eq!(h.done_reset(MATHE, true), []);
    assert!(is_idle(&h.status(MATHE)));
}

#[test]
fn a_late_tick_still_ends_the_grace() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(1000);
    assert_eq!(h.tick(), [reset(MATHE, EndReason::GraceExpired, true)]);
}

#[test]
fn students_coming_and_going_do_not_move_the_grace_deadline() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    let deadline = h.t(160);
    h.at(120);
    assert_eq!(h.join(MATHE, CARLA, false), []);
    h.at(130);
    assert_eq!(h.leave(MATHE, BEN), []);
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline });
    assert_eq!(h.core.next_deadline(), Some(deadline));
}

#[test]
fn last_student_leaving_during_grace_resets_at_once() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(110);
    assert_eq!(
        h.leave(MATHE, BEN),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
    assert_eq!(h.core.next_deadline(), None);
}

#[test]
fn organizer_returning_during_grace_keeps_the_session() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(130);
    // Back with a new session of the same account: she is still owner, no grant.
    assert_eq!(h.join(MATHE, ANNA_2, true), []);
    assert_eq!(
        h.status(MATHE),
        Status {
            phase: Phase::Active,
            people: 2,
            organizer: true,
            session_start: Some(h.t(0)),
        }
    );
    assert_eq!(h.core.next_deadline(), None);
    for secs in [160, 161, 1000] {
        h.at(secs);
        assert_eq!(h.tick(), [], "at {secs}s");
    }
    assert_eq!(h.phase(MATHE), Phase::Active);
}

#[test]
fn another_organizer_arriving_during_grace_is_granted_and_keeps_the_session() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(150);
    assert_eq!(h.join(MATHE, DORA, true), [grant(MATHE, DORA_BARE)]);
    assert_eq!(h.phase(MATHE), Phase::Active);
    h.at(160);
    assert_eq!(h.tick(), []);
}

#[test]
fn zero_grace_resets_immediately() {
    let mut h = Harness::lesson(Duration::ZERO);
    h.at(100);
    assert_eq!(
        h.leave(MATHE, ANNA),
        [reset(MATHE, EndReason::GraceExpired, true)]
    );
    assert_eq!(ending_reason(h.phase(MATHE)), Some(EndReason::GraceExpired));
    assert_eq!(h.core.next_deadline(), None);
}

#[test]
fn zero_grace_removes_a_student_who_is_alone() {
    let mut h = Harness::new(Duration::ZERO);
    assert_eq!(
        h.join(MATHE, BEN, false),
        [reset(MATHE, EndReason::GraceExpired, true)]
    );
}

#[test]
fn ticks_end_every_due_room_at_once() {
    let mut h = Harness::lesson(GRACE);
    h.join(PHYSIK, DORA, true);
    h.join(PHYSIK, CARLA, false);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(110);
    h.leave(PHYSIK, DORA);
    assert_eq!(h.core.next_deadline(), Some(h.t(160)));
    h.at(200);
    assert_eq!(
        h.tick(),
        [
            reset(MATHE, EndReason::GraceExpired, true),
            reset(PHYSIK, EndReason::GraceExpired, true)
        ]
    );
}
