//! What does not concern the core.

use super::*;

#[test]
fn events_and_answers_for_unmanaged_rooms_do_nothing() {
    let mut h = Harness::lesson(GRACE);
    let before: Vec<_> = [MATHE, PHYSIK].map(|r| h.status(r)).into();
    assert_eq!(h.join(ELSEWHERE, DORA, true), []);
    assert_eq!(h.join(ELSEWHERE, CARLA, false), []);
    assert_eq!(h.affiliation(ELSEWHERE, CARLA, "owner", DORA_BARE), []);
    assert_eq!(h.leave(ELSEWHERE, DORA), []);
    assert_eq!(h.destroyed(ELSEWHERE), []);
    assert_eq!(h.done_reset(ELSEWHERE, true), []);
    assert_eq!(h.done_reset(ELSEWHERE, false), []);
    assert_eq!(h.done_grant(ELSEWHERE, DORA_BARE, false), []);
    let out = h.reconnect(snapshot(vec![
        snapshot_room(ELSEWHERE, true, vec![occupant(BEN, false, false)]),
        snapshot_room(
            MATHE,
            false,
            vec![occupant(ANNA, true, true), occupant(BEN, false, false)],
        ),
    ]));
    assert_eq!(out, []);
    let after: Vec<_> = [MATHE, PHYSIK].map(|r| h.status(r)).into();
    assert_eq!(before, after);
    assert!(h.core.rooms().all(|s| s.name != ELSEWHERE));
}

#[test]
fn left_for_an_unknown_occupant_does_nothing() {
    let mut h = Harness::new(GRACE);
    assert_eq!(h.leave(MATHE, BEN), []);
    assert!(is_idle(&h.status(MATHE)));
    h.join(MATHE, ANNA, true);
    assert_eq!(h.leave(MATHE, BEN), []);
    assert_eq!(h.leave(MATHE, ANNA_2), [], "same bare JID, other session");
    assert_eq!(h.leave(PHYSIK, ANNA), [], "inside, but in the other room");
    assert_eq!(h.leave(MATHE, FOCUS), []);
    let s = h.status(MATHE);
    assert_eq!((s.phase, s.people), (Phase::Active, 1));
}

#[test]
fn destroyed_for_an_idle_room_does_nothing() {
    let mut h = Harness::new(GRACE);
    assert_eq!(h.destroyed(MATHE), []);
    assert!(is_idle(&h.status(MATHE)));
}
