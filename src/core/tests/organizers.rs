//! Organizers made by organizers.

use super::*;

#[test]
fn owner_affiliation_by_an_organizer_makes_an_organizer() {
    let mut h = Harness::lesson(GRACE);
    assert_eq!(h.affiliation(MATHE, BEN_BARE, "owner", ANNA_BARE), []);
    assert!(h.status(MATHE).organizer);
    h.at(100);
    // Anna leaves: Ben is an organizer, so no grace.
    assert_eq!(h.leave(MATHE, ANNA), []);
    assert_eq!(
        h.status(MATHE),
        Status {
            phase: Phase::Active,
            people: 1,
            organizer: true,
            session_start: Some(h.t(0)),
        }
    );
    assert_eq!(h.core.next_deadline(), None);
    // Ben, an organizer now, leaving last resets at once.
    h.at(200);
    assert_eq!(
        h.leave(MATHE, BEN),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
}

#[test]
fn a_promoted_organizer_can_promote_in_turn() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    h.affiliation(MATHE, BEN_BARE, "owner", ANNA_BARE);
    h.affiliation(MATHE, "carla@guest.meet.jitsi", "owner", BEN_BARE);
    h.leave(MATHE, ANNA);
    h.leave(MATHE, BEN);
    assert_eq!(h.phase(MATHE), Phase::Active);
}

#[test]
fn promotion_during_grace_ends_the_grace() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, DORA, true);
    h.join(MATHE, CARLA, false);
    h.at(10);
    h.leave(MATHE, ANNA);
    assert_eq!(h.phase(MATHE), Phase::Active, "Dora is still inside");
    h.affiliation(MATHE, BEN_BARE, "owner", DORA_BARE);
    h.leave(MATHE, DORA);
    assert_eq!(h.phase(MATHE), Phase::Active, "Ben was promoted");
}

/// Owner taken back from someone who held none before, in an open room.
fn revoke(room: &str, jid: &str) -> Request {
    revoke_to(room, jid, RevokeTo::None)
}

fn revoke_to(room: &str, jid: &str, to: RevokeTo) -> Request {
    Request::RevokeOwner {
        room: room.into(),
        jid: jid.into(),
        to,
    }
}

#[test]
fn owner_by_focus_beside_an_organizer_is_taken_back_and_makes_no_organizer() {
    let mut h = Harness::lesson(GRACE);
    assert_eq!(
        h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE),
        [revoke(MATHE, BEN_BARE)]
    );
    h.at(100);
    assert_eq!(h.leave(MATHE, ANNA), []);
    let s = h.status(MATHE);
    assert_eq!(s.phase, Phase::Grace { deadline: h.t(160) });
    assert!(!s.organizer);
}

#[test]
fn owner_by_a_student_beside_an_organizer_is_taken_back() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    assert_eq!(
        h.affiliation(MATHE, BEN_BARE, "owner", "carla@guest.meet.jitsi"),
        [revoke(MATHE, BEN_BARE)]
    );
    h.leave(MATHE, ANNA);
    assert!(matches!(h.phase(MATHE), Phase::Grace { .. }));
}

/// Nobody but an organizer is moderator, the grace period included. jicofo's auto-owner
/// promotes a student when the teacher it tracks leaves; taking it back starts no fight
/// (jicofo elects again only when that student leaves, and raumwart takes that one back
/// too: one take-back per promotion).
#[test]
fn owner_by_focus_in_the_grace_period_is_taken_back_at_once() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    h.at(10);
    h.leave(MATHE, ANNA);
    assert_eq!(
        h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE),
        [revoke(MATHE, BEN_BARE)]
    );
    assert_eq!(
        h.affiliation(MATHE, BEN_BARE, "none", "raumwart.meet.jitsi"),
        []
    );
    assert!(matches!(h.phase(MATHE), Phase::Grace { .. }));
    // Ben leaves: focus promotes Carla, who loses it as well; the grace period runs on.
    h.leave(MATHE, BEN);
    assert_eq!(
        h.affiliation(MATHE, "carla@guest.meet.jitsi", "owner", FOCUS_BARE),
        [revoke(MATHE, "carla@guest.meet.jitsi")]
    );
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline: h.t(70) });
    // Anna is back: nothing left to take back.
    assert_eq!(h.join(MATHE, ANNA_2, true), []);
    assert_eq!(h.phase(MATHE), Phase::Active);
}

#[test]
fn an_organizer_returning_takes_owner_back_from_students_once() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    h.at(10);
    h.leave(MATHE, ANNA);
    // Focus's grant in the grace period is taken back at once, so her return has
    // nothing left to take (the return's own take-back, for owners a restarted raumwart
    // found, is in `what_nobody_said_is_taken_back_to_member`).
    assert_eq!(
        h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE),
        [revoke(MATHE, BEN_BARE)]
    );
    h.at(20);
    assert_eq!(h.join(MATHE, ANNA_2, true), []);
    assert_eq!(h.phase(MATHE), Phase::Active);
    // A second session of hers changes nothing: that was the once.
    assert_eq!(h.join(MATHE, "anna@meet.jitsi/a3", true), []);
    // An organizer promoted by her keeps owner when another organizer comes.
    h.affiliation(MATHE, "carla@guest.meet.jitsi", "owner", ANNA_BARE);
    h.leave(MATHE, ANNA_2);
    h.leave(MATHE, "anna@meet.jitsi/a3");
    assert_eq!(h.join(MATHE, DORA, true), [grant(MATHE, DORA_BARE)]);
}

/// The case: the lobby is on (lib-jitsi-meet made everyone member, then
/// members-only), the teacher reloads, focus's auto-owner promotes a student, the teacher
/// comes back with a new JID and the school password.
#[test]
fn an_organizer_returning_to_a_lobby_lesson_gives_the_student_member_back_not_none() {
    let mut h = Harness::lesson(GRACE);
    let lobby = Some(false);
    h.affiliation_from(MATHE, BEN_BARE, "none", "member", ANNA_BARE, lobby);
    assert_eq!(h.members_only(MATHE, true), []);
    h.at(10);
    h.leave(MATHE, ANNA);
    let promoted = Some(true);
    assert_eq!(
        h.affiliation_from(MATHE, BEN_BARE, "member", "owner", FOCUS_BARE, promoted),
        [revoke_to(MATHE, BEN_BARE, RevokeTo::Member)],
        "none would remove the student from the lesson (321)"
    );
    h.at(20);
    assert_eq!(
        h.join(MATHE, "anne@meet.jitsi/reload", true),
        [grant(MATHE, "anne@meet.jitsi")]
    );
    assert_eq!(h.phase(MATHE), Phase::Active);
}

/// A lesson in an open room whose organizer left, and focus made Ben, who held
/// `previous`, owner.
fn promoted_while_away(previous: &str) -> Harness {
    let mut h = Harness::lesson(GRACE);
    h.leave(MATHE, ANNA);
    h.affiliation_from(MATHE, BEN_BARE, previous, "owner", FOCUS_BARE, Some(false));
    h
}

#[test]
fn owner_is_taken_back_to_what_the_person_held_before() {
    // An open room: a student who held nothing goes back to nothing, one who was member
    // (admitted from the lobby, say) back to member.
    for (previous, to) in [("none", RevokeTo::None), ("member", RevokeTo::Member)] {
        let h = promoted_while_away(previous);
        assert_eq!(
            h.issued.last().map(|(_, r)| r.clone()),
            Some(revoke_to(MATHE, BEN_BARE, to)),
            "{previous}"
        );
    }
    // An admin gets no moderator rights from raumwart's hand either: member.
    let mut h = Harness::lesson(GRACE);
    h.affiliation_from(MATHE, BEN_BARE, "admin", "owner", FOCUS_BARE, Some(false));
    assert_eq!(
        h.issued.last().map(|(_, r)| r.clone()),
        Some(revoke_to(MATHE, BEN_BARE, RevokeTo::Member))
    );
}

#[test]
fn owner_beside_an_organizer_in_a_members_only_room_is_taken_back_to_member() {
    let mut h = Harness::lesson(GRACE);
    // The room is members-only as the module reports the change; what Ben held before
    // is member at least, or he would not be inside.
    assert_eq!(
        h.affiliation_from(MATHE, BEN_BARE, "none", "owner", FOCUS_BARE, Some(true)),
        [revoke_to(MATHE, BEN_BARE, RevokeTo::Member)]
    );
}

#[test]
fn a_lobby_switched_on_after_the_promotion_still_keeps_the_student_in() {
    // A student owner a restarted raumwart found (no organizer in) turns the lobby on:
    // owners are not made member first.
    let mut h = Harness::unsynced(GRACE);
    h.connect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(BEN, false, true)],
    )]));
    h.members_only(MATHE, true);
    assert_eq!(
        h.join(MATHE, ANNA, true),
        [
            grant(MATHE, ANNA_BARE),
            revoke_to(MATHE, BEN_BARE, RevokeTo::Member)
        ]
    );
    // On and off again before the promotion: the student who held nothing goes back to
    // nothing.
    let mut h = Harness::lesson(GRACE);
    h.members_only(MATHE, true);
    h.members_only(MATHE, false);
    h.leave(MATHE, ANNA);
    assert_eq!(
        h.affiliation_from(MATHE, BEN_BARE, "none", "owner", FOCUS_BARE, Some(false)),
        [revoke_to(MATHE, BEN_BARE, RevokeTo::None)]
    );
}

#[test]
fn what_nobody_said_is_taken_back_to_member() {
    // A module that does not report previous affiliations (an earlier release).
    let mut h = Harness::lesson(GRACE);
    h.leave(MATHE, ANNA);
    assert_eq!(
        h.event(Event::Affiliation {
            room: MATHE.into(),
            jid: BEN_BARE.into(),
            affiliation: "owner".into(),
            actor: FOCUS_BARE.into(),
            previous: None,
            members_only: None,
        }),
        [revoke_to(MATHE, BEN_BARE, RevokeTo::Member)]
    );
    // A restarted daemon learns the owner from the snapshot, not what came before it;
    // the snapshot says the room is members-only.
    let mut h = Harness::unsynced(GRACE);
    let mut room = snapshot_room(MATHE, false, vec![occupant(BEN, false, true)]);
    room.members_only = true;
    h.connect(snapshot(vec![room]));
    assert_eq!(
        h.join(MATHE, ANNA, true),
        [
            grant(MATHE, ANNA_BARE),
            revoke_to(MATHE, BEN_BARE, RevokeTo::Member)
        ]
    );
}

#[test]
fn a_reset_forgets_the_lobby_and_what_people_held() {
    let mut h = Harness::lesson(GRACE);
    h.affiliation_from(MATHE, BEN_BARE, "none", "member", ANNA_BARE, Some(false));
    h.members_only(MATHE, true);
    h.leave(MATHE, BEN);
    h.leave(MATHE, ANNA);
    h.done_reset(MATHE, true);
    assert!(is_idle(&h.status(MATHE)));
    // The next lesson's room is open again (Prosody destroyed the old one).
    h.join(MATHE, ANNA_2, true);
    h.join(MATHE, CARLA, false);
    h.leave(MATHE, ANNA_2);
    assert_eq!(
        h.affiliation_from(
            MATHE,
            "carla@guest.meet.jitsi",
            "none",
            "owner",
            FOCUS_BARE,
            None,
        ),
        [revoke_to(MATHE, "carla@guest.meet.jitsi", RevokeTo::None)]
    );
}

#[test]
fn an_organizer_taking_owner_from_a_colleague_takes_organizer_back() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    h.affiliation(MATHE, BEN_BARE, "owner", ANNA_BARE);
    assert!(h.status(MATHE).organizer);
    // Anna takes Ben's moderator rights back, as the Jitsi UI does.
    assert_eq!(h.affiliation(MATHE, BEN_BARE, "member", ANNA_BARE), []);
    h.at(100);
    assert_eq!(h.leave(MATHE, ANNA), []);
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline: h.t(160) });
    assert!(!h.status(MATHE).organizer);
}

#[test]
fn owner_taken_from_an_organizer_by_a_non_organizer_is_given_back() {
    let mut h = Harness::lesson(GRACE);
    assert_eq!(
        h.affiliation(MATHE, ANNA_BARE, "member", FOCUS_BARE),
        [grant(MATHE, ANNA_BARE)]
    );
    assert_eq!(
        h.affiliation(MATHE, ANNA_BARE, "none", "carla@guest.meet.jitsi"),
        [grant(MATHE, ANNA_BARE)]
    );
    assert!(h.status(MATHE).organizer);
    // An organizer who is gone is given owner back when she returns with the key.
    h.join(MATHE, DORA, true);
    h.leave(MATHE, ANNA);
    assert_eq!(h.affiliation(MATHE, ANNA_BARE, "none", BEN_BARE), []);
    assert_eq!(h.join(MATHE, ANNA_2, true), [grant(MATHE, ANNA_BARE)]);
}

#[test]
fn a_failed_owner_grant_is_granted_again_on_the_next_keyed_join() {
    let mut h = Harness::lesson(GRACE);
    assert_eq!(h.join(PHYSIK, DORA, true), [grant(PHYSIK, DORA_BARE)]);
    assert_eq!(h.done_grant(PHYSIK, DORA_BARE, false), []);
    assert_eq!(
        h.join(PHYSIK, "dora@meet.jitsi/d2", true),
        [grant(PHYSIK, DORA_BARE)]
    );
    // A successful grant changes nothing.
    assert_eq!(h.done_grant(PHYSIK, DORA_BARE, true), []);
    assert_eq!(h.join(PHYSIK, "dora@meet.jitsi/d3", true), []);
}

/// jicofo with authentication on (a secure domain): focus makes every authenticated
/// member owner, and again at each presence change of its own. raumwart takes owner back
/// once; when focus makes the same person owner again, raumwart leaves it and says so,
/// and nothing it does later takes it again (a fight without end otherwise).
#[test]
fn owner_focus_makes_again_after_a_take_back_is_left_to_focus() {
    let mut h = Harness::lesson(GRACE);
    notes(&mut h);
    assert_eq!(
        h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE),
        [revoke(MATHE, BEN_BARE)]
    );
    h.affiliation(MATHE, BEN_BARE, "none", "raumwart.meet.jitsi");
    assert_eq!(notes(&mut h), []);
    assert_eq!(h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE), []);
    assert_eq!(
        notes(&mut h),
        [Note::FocusInsisted {
            room: MATHE.into(),
            school: "gs-nord".into(),
        }]
    );
    assert_eq!(
        h.core
            .rooms()
            .find(|r| r.name == MATHE)
            .unwrap()
            .left_to_focus,
        1
    );
    // Focus's next presence change grants nothing new; were it to, still no fight.
    assert_eq!(h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE), []);
    assert_eq!(notes(&mut h), []);
    // Ben is no organizer: the grace period runs without Anna; her return takes
    // nothing from Ben.
    h.leave(MATHE, ANNA);
    assert!(matches!(h.phase(MATHE), Phase::Grace { .. }));
    assert_eq!(h.join(MATHE, ANNA_2, true), []);
}

/// Only focus insisting counts: a student who makes someone owner again after raumwart
/// took it back is taken back every time.
#[test]
fn owner_a_student_makes_again_is_taken_back_again() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    notes(&mut h);
    for _ in 0..3 {
        assert_eq!(
            h.affiliation(MATHE, BEN_BARE, "owner", "carla@guest.meet.jitsi"),
            [revoke(MATHE, BEN_BARE)]
        );
    }
    assert_eq!(notes(&mut h), []);
}

/// jicofo's auto-owner elects the same student again after that student left and came
/// back (a reload): a new election, not authentication's re-grant. The take-back of the
/// first promotion is forgotten when the student leaves, so the second is taken back too.
#[test]
fn a_student_focus_promotes_again_after_a_reload_is_taken_back_again() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    h.leave(MATHE, ANNA);
    assert_eq!(
        h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE),
        [revoke(MATHE, BEN_BARE)]
    );
    h.affiliation(MATHE, BEN_BARE, "none", "raumwart.meet.jitsi");
    h.leave(MATHE, BEN);
    h.join(MATHE, BEN, false);
    assert!(matches!(h.phase(MATHE), Phase::Grace { .. }));
    assert_eq!(
        h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE),
        [revoke(MATHE, BEN_BARE)]
    );
}
