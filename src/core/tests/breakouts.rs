//! Breakout rooms.

use super::*;

impl Harness {
    fn join_breakout(&mut self, room: &str, occupant: &str, breakout: &str) -> Vec<Request> {
        self.event(Event::JoinedBreakout {
            room: room.into(),
            occupant: occupant.into(),
            breakout: breakout.into(),
        })
    }

    /// A move from the main room into a breakout room, as the module reports it.
    fn move_out(&mut self, room: &str, occupant: &str) -> Vec<Request> {
        let mut out = self.event(Event::BreakoutsActive { room: room.into() });
        out.extend(self.leave(room, occupant));
        out
    }
}

fn reset_with_breakouts(room: &str, reason: EndReason, breakouts: &[&str]) -> Request {
    Request::Reset {
        room: room.into(),
        reason,
        message: Some(END.into()),
        breakouts: breakouts.iter().map(|b| b.to_string()).collect(),
    }
}

#[test]
fn breakout_occupants_belong_to_the_main_rooms_session() {
    let mut h = Harness::lesson(GRACE);
    assert_eq!(h.join_breakout(MATHE, FOCUS, BREAKOUT_1), []);
    assert_eq!(h.move_out(MATHE, BEN), []);
    assert_eq!(h.join_breakout(MATHE, BEN, BREAKOUT_1), []);
    assert_eq!(h.status(MATHE).people, 2);
    // Anna visits the breakout room: still the organizer there.
    assert_eq!(h.move_out(MATHE, ANNA), []);
    assert_eq!(h.join_breakout(MATHE, ANNA, BREAKOUT_1), []);
    let s = h.status(MATHE);
    assert_eq!((s.phase, s.people, s.organizer), (Phase::Active, 2, true));
    // She ends it by leaving last from there, once the switch window is over (the
    // session used breakout rooms: an empty main room may mean people are moving).
    h.at(50);
    h.leave(MATHE, BEN);
    assert_eq!(h.leave(MATHE, ANNA), []);
    assert_eq!(
        h.phase(MATHE),
        Phase::Grace {
            deadline: h.t(50) + SWITCH_WINDOW
        }
    );
    h.now = h.t(50) + SWITCH_WINDOW;
    assert_eq!(
        h.tick(),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
}

#[test]
fn everyone_moving_into_breakout_rooms_is_no_end() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    assert_eq!(h.move_out(MATHE, BEN), []);
    assert_eq!(h.move_out(MATHE, ANNA), []);
    // The main room is empty for a moment: the switch window, not a reset.
    assert_eq!(
        h.phase(MATHE),
        Phase::Grace {
            deadline: h.t(100) + SWITCH_WINDOW
        }
    );
    h.at(101);
    assert_eq!(h.join_breakout(MATHE, BEN, BREAKOUT_1), []);
    assert_eq!(h.join_breakout(MATHE, ANNA, BREAKOUT_2), []);
    assert_eq!(h.phase(MATHE), Phase::Active);
    h.at(200);
    assert_eq!(h.tick(), []);
}

#[test]
fn an_empty_main_room_with_breakouts_resets_after_the_switch_window() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.move_out(MATHE, BEN);
    h.move_out(MATHE, ANNA);
    h.now = h.t(100) + SWITCH_WINDOW - Duration::from_millis(1);
    assert_eq!(h.tick(), []);
    h.now = h.t(100) + SWITCH_WINDOW;
    assert_eq!(
        h.tick(),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
    h.destroyed(MATHE);
    assert!(is_idle(&h.status(MATHE)));
    assert!(
        !h.core.rooms.contains_key(MATHE),
        "a reset room is kept as if it had something to remember"
    );
    // The next session starts without breakout rooms: an empty room resets at once.
    h.join(MATHE, ANNA, true);
    assert_eq!(
        h.leave(MATHE, ANNA),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
}

#[test]
fn a_reset_names_the_breakout_rooms_with_people_in_them() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    h.join(MATHE, DORA, false);
    h.move_out(MATHE, BEN);
    h.join_breakout(MATHE, BEN, BREAKOUT_2);
    h.move_out(MATHE, CARLA);
    h.join_breakout(MATHE, CARLA, BREAKOUT_1);
    h.join_breakout(MATHE, "eva@meet.jitsi/e1", BREAKOUT_1);
    h.at(100);
    assert_eq!(h.leave(MATHE, ANNA), []);
    h.at(160);
    assert_eq!(
        h.tick(),
        [reset_with_breakouts(
            MATHE,
            EndReason::GraceExpired,
            &[BREAKOUT_1, BREAKOUT_2]
        )]
    );
}

#[test]
fn with_breakouts_open_even_zero_grace_waits_for_the_switch() {
    let mut h = Harness::lesson(Duration::ZERO);
    h.at(100);
    assert_eq!(h.move_out(MATHE, ANNA), []);
    assert_eq!(
        h.phase(MATHE),
        Phase::Grace {
            deadline: h.t(100) + SWITCH_WINDOW
        }
    );
    h.at(101);
    h.join_breakout(MATHE, ANNA, BREAKOUT_1);
    assert_eq!(h.phase(MATHE), Phase::Active);
}

#[test]
fn the_last_organizer_leaving_while_students_are_in_breakout_rooms_starts_the_full_grace() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    // Ben moves into a breakout room; the main room is empty while he switches, and
    // Anna, last in the main room, goes home.
    h.move_out(MATHE, BEN);
    h.move_out(MATHE, ANNA);
    h.at(101);
    h.join_breakout(MATHE, BEN, BREAKOUT_1);
    // DESIGN: the last organizer left, students remain: the grace period.
    // Today: Grace { deadline: 103 s } and a GraceExpired reset at 103 s.
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline: h.t(160) });
    h.at(103);
    assert_eq!(h.tick(), []);
}

#[test]
fn snapshot_counts_breakout_occupants_and_keeps_known_organizers() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    let out = h.reconnect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![
            SnapshotOccupant {
                breakout: Some(BREAKOUT_1.into()),
                ..occupant(ANNA, false, false)
            },
            SnapshotOccupant {
                breakout: Some(BREAKOUT_1.into()),
                ..occupant(BEN, false, false)
            },
        ],
    )]));
    // Breakout occupants carry no affiliation in the snapshot: the main room's owner
    // right is asked for again (harmless, "already so" counts as done).
    assert_eq!(out, [grant(MATHE, ANNA_BARE)]);
    let s = h.status(MATHE);
    assert_eq!((s.phase, s.people, s.organizer), (Phase::Active, 2, true));
}

#[test]
fn snapshot_after_restart_sees_an_organizer_in_a_breakout_room() {
    // The module keeps a session's keyed flags when the teacher moves to a breakout
    // room: a new daemon finds the organizer there, and the lesson goes on.
    let mut h = Harness::unsynced(GRACE);
    let out = h.connect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![
            SnapshotOccupant {
                breakout: Some(BREAKOUT_1.into()),
                ..occupant(ANNA, true, true)
            },
            occupant(BEN, false, false),
        ],
    )]));
    assert_eq!(out, []);
    assert_eq!(h.phase(MATHE), Phase::Active);
}
