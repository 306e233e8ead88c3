//! An organizer ends the meeting for everyone (Jitsi's "end meeting for all").

use super::*;

impl Harness {
    fn ended_by_organizer(&mut self, room: &str) -> Vec<Request> {
        self.event(Event::EndedByOrganizer { room: room.into() })
    }
}

#[test]
fn an_organizer_ending_the_meeting_ends_the_session_with_its_own_reason_and_resets_the_room() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    notes(&mut h);
    h.at(40);
    // Everyone went with the room: nobody is left to tell why.
    assert_eq!(
        h.ended_by_organizer(MATHE),
        [reset(MATHE, EndReason::EndedByOrganizer, false)]
    );
    let s = h.status(MATHE);
    assert_eq!(ending_reason(s.phase), Some(EndReason::EndedByOrganizer));
    assert_eq!((s.people, s.organizer), (0, false));
    assert_eq!(notes(&mut h), [], "a reset issued is no end yet");
    // Prosody answers that the room is gone: as reset as it gets.
    h.at(41);
    assert_eq!(h.done_reset(MATHE, true), []);
    assert!(is_idle(&h.status(MATHE)));
    assert_eq!(
        notes(&mut h),
        [Note::SessionEnded {
            room: MATHE.into(),
            school: "gs-nord".into(),
            reason: EndReason::EndedByOrganizer,
            duration: Duration::from_secs(41),
        }]
    );
    assert_eq!(EndReason::EndedByOrganizer.as_str(), "ended_by_organizer");
    // A new lesson starts from nothing: its organizer is granted owner again.
    assert_eq!(h.join(MATHE, ANNA_2, true), [grant(MATHE, ANNA_BARE)]);
}

#[test]
fn the_breakout_rooms_of_a_meeting_an_organizer_ended_are_emptied_with_the_message() {
    let mut h = Harness::lesson(GRACE);
    h.event(Event::BreakoutsActive { room: MATHE.into() });
    h.leave(MATHE, BEN);
    h.event(Event::JoinedBreakout {
        room: MATHE.into(),
        occupant: BEN.into(),
        breakout: BREAKOUT_1.into(),
    });
    assert_eq!(
        h.ended_by_organizer(MATHE),
        [Request::Reset {
            room: MATHE.into(),
            reason: EndReason::EndedByOrganizer,
            message: Some(END.into()),
            breakouts: vec![BREAKOUT_1.into()],
        }]
    );
    assert_eq!(h.status(MATHE).people, 1, "Ben, until his room is emptied");
    h.done_reset(MATHE, true);
    assert!(is_idle(&h.status(MATHE)));
}

#[test]
fn a_reset_under_way_keeps_its_reason_when_an_organizer_ends_the_meeting_meanwhile() {
    let mut h = Harness::lesson(GRACE);
    h.input(Input::EndSession { room: MATHE.into() });
    assert_eq!(h.ended_by_organizer(MATHE), []);
    assert!(is_idle(&h.status(MATHE)));
    assert!(matches!(
        &notes(&mut h)[..],
        [
            ..,
            Note::SessionEnded {
                reason: EndReason::Forced,
                ..
            }
        ]
    ));
    // The hotline's reset answered late decides nothing more.
    assert_eq!(h.done_reset(MATHE, true), []);
}

#[test]
fn a_meeting_end_in_a_room_without_a_known_session_counts_no_session() {
    let mut h = Harness::new(GRACE);
    assert_eq!(h.ended_by_organizer(MATHE), []);
    assert!(is_idle(&h.status(MATHE)));
    assert_eq!(notes(&mut h), []);
    assert_eq!(h.ended_by_organizer(ELSEWHERE), []);
}
