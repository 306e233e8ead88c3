//! Joining and owner rights.

use super::*;

#[test]
fn keyed_join_grants_owner_once_per_bare_jid() {
    let mut h = Harness::new(GRACE);
    h.at(5);
    assert_eq!(h.join(MATHE, ANNA, true), [grant(MATHE, ANNA_BARE)]);
    assert_eq!(
        h.status(MATHE),
        Status {
            phase: Phase::Active,
            people: 1,
            organizer: true,
            session_start: Some(h.t(5)),
        }
    );
    // Her second device: same bare JID, no second grant.
    assert_eq!(h.join(MATHE, ANNA_2, true), []);
    assert_eq!(h.status(MATHE).people, 2);
    // Owner rights are per room.
    assert_eq!(h.join(PHYSIK, ANNA, true), [grant(PHYSIK, ANNA_BARE)]);
}

#[test]
fn unkeyed_join_gets_no_grant() {
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    assert_eq!(h.join(MATHE, BEN, false), []);
    assert_eq!(h.join(MATHE, CARLA, false), []);
    let s = h.status(MATHE);
    assert_eq!((s.phase, s.people, s.organizer), (Phase::Active, 3, true));
}

#[test]
fn a_student_alone_in_an_idle_room_starts_a_session_in_grace() {
    // Nobody has left, yet a room without an organizer is treated like one whose
    // organizer left: the grace period runs from the first student's arrival.
    let mut h = Harness::new(GRACE);
    h.at(3);
    assert_eq!(h.join(MATHE, BEN, false), []);
    let s = h.status(MATHE);
    assert_eq!(s.phase, Phase::Grace { deadline: h.t(63) });
    assert_eq!(s.session_start, Some(h.t(3)));
    // The organizer arriving in time makes it an ordinary lesson.
    h.at(30);
    assert_eq!(h.join(MATHE, ANNA, true), [grant(MATHE, ANNA_BARE)]);
    assert_eq!(h.phase(MATHE), Phase::Active);
    assert_eq!(h.core.next_deadline(), None);
}

#[test]
fn service_jids_are_never_people_organizers_or_granted() {
    let mut h = Harness::new(GRACE);
    // Exact bare entry, domain entry, and a differently cased exact entry.
    for jid in [
        FOCUS,
        JVB,
        "Focus@Auth.Meet.Jitsi/other",
        "videobridge@internal.auth.meet.jitsi",
    ] {
        assert_eq!(h.join(MATHE, jid, true), [], "{jid}");
        assert_eq!(h.join(MATHE, jid, false), [], "{jid}");
    }
    assert!(is_idle(&h.status(MATHE)), "{:?}", h.status(MATHE));
    assert_eq!(h.leave(MATHE, FOCUS), []);
    // A different account on the service's domain is a person.
    assert_eq!(
        h.join(PHYSIK, "someone@auth.meet.jitsi/x", true),
        [grant(PHYSIK, "someone@auth.meet.jitsi")]
    );

    // With focus inside, the organizer leaving is still "nobody else inside".
    h.at(10);
    assert_eq!(h.join(MATHE, ANNA, true), [grant(MATHE, ANNA_BARE)]);
    assert_eq!(h.status(MATHE).people, 1);
    h.at(20);
    assert_eq!(
        h.leave(MATHE, ANNA),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
}

#[test]
fn service_occupants_in_a_snapshot_are_ignored() {
    let mut h = Harness::unsynced(GRACE);
    let out = h.connect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(FOCUS, true, true), occupant(JVB, true, false)],
    )]));
    assert_eq!(out, []);
    assert!(is_idle(&h.status(MATHE)));
}
