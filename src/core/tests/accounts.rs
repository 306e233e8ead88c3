//! Organizers by account within a session.

use super::*;

#[test]
fn every_later_session_of_an_organizer_is_an_organizer() {
    let mut h = Harness::lesson(GRACE);
    h.at(10);
    // Anna comes back on another device without the school password.
    assert_eq!(h.join(MATHE, ANNA_2, false), []);
    h.leave(MATHE, ANNA);
    assert_eq!(h.phase(MATHE), Phase::Active);
    // Likewise for one an organizer made owner.
    h.affiliation(MATHE, BEN_BARE, "owner", ANNA_BARE);
    h.join(MATHE, "ben@meet.jitsi/b2", false);
    h.leave(MATHE, BEN);
    h.leave(MATHE, ANNA_2);
    assert_eq!(h.phase(MATHE), Phase::Active);
}

#[test]
fn organizers_are_forgotten_with_the_session() {
    let mut h = Harness::lesson(GRACE);
    h.at(10);
    h.leave(MATHE, ANNA);
    h.leave(MATHE, BEN);
    assert_eq!(h.destroyed(MATHE), []);
    // Next lesson: Anna, without the school password, is a student.
    h.at(20);
    assert_eq!(h.join(MATHE, ANNA_2, false), []);
    assert!(matches!(h.phase(MATHE), Phase::Grace { .. }));
}

#[test]
#[ignore = "known limitation: a keyed join makes later sessions of the account organizers, not earlier ones"]
fn an_accounts_sessions_are_organizers_alike_whatever_their_order() {
    // Ben is inside as a student, then enters a second time with the school password.
    let mut h = Harness::new(GRACE);
    h.join(MATHE, CARLA, false);
    h.join(MATHE, BEN, false);
    assert_eq!(
        h.join(MATHE, "ben@meet.jitsi/b2", true),
        [grant(MATHE, BEN_BARE)]
    );
    h.at(10);
    h.leave(MATHE, "ben@meet.jitsi/b2");
    // Today: Grace, since ben/b1 is not an organizer ...
    let before = h.phase(MATHE);
    // ... yet a third session of his, also without the password, is one.
    h.join(MATHE, "ben@meet.jitsi/b3", false);
    assert_eq!(h.phase(MATHE), before, "b1 and b3 should count alike");
}

#[test]
fn a_snapshot_means_the_same_in_any_order() {
    let b1 = occupant(BEN, false, false);
    let b2 = occupant("ben@meet.jitsi/b2", true, true);
    let c = occupant(CARLA, false, false);
    let mut phases = vec![];
    for occupants in [vec![b1.clone(), b2.clone(), c.clone()], vec![b2, b1, c]] {
        let mut h = Harness::unsynced(GRACE);
        h.connect(snapshot(vec![snapshot_room(MATHE, false, occupants)]));
        h.at(10);
        h.leave(MATHE, "ben@meet.jitsi/b2");
        phases.push(h.phase(MATHE));
    }
    // Today: [Grace, Active].
    assert_eq!(phases[0], phases[1]);
}

#[test]
#[ignore = "known limitation: the snapshot carries no room generation; organizers of an old session carry over into a room renewed while disconnected"]
fn organizers_of_a_room_renewed_while_away_are_forgotten() {
    // Ben teaches; the connection drops; meanwhile the room is reset and Dora's class
    // starts in it, Ben among her students (no school password).
    let mut h = Harness::new(GRACE);
    h.join(MATHE, BEN, true);
    h.at(100);
    let out = h.reconnect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![
            occupant(DORA, true, true),
            occupant("ben@meet.jitsi/b2", false, false),
        ],
    )]));
    // Today: [GrantOwner ben].
    assert_eq!(out, []);
    h.leave(MATHE, DORA);
    assert!(matches!(h.phase(MATHE), Phase::Grace { .. }));
}
