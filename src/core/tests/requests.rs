//! Requests and their answers.

use super::*;

#[test]
fn answers_to_unknown_repeated_or_lost_requests_change_nothing() {
    let mut h = Harness::lesson(GRACE);
    notes(&mut h);
    let grant = latest(&h.issued, |r| matches!(r, Request::GrantOwner { .. }));
    let before = h.status(MATHE);
    for ok in [true, false] {
        assert_eq!(h.input(Input::Done { id: UNKNOWN, ok }), []);
    }
    assert_eq!(
        h.input(Input::Done {
            id: grant,
            ok: true
        }),
        []
    );
    // The same answer again, now a failure: it would take owner away, and the next
    // keyed join of the account would be granted again.
    assert_eq!(
        h.input(Input::Done {
            id: grant,
            ok: false
        }),
        []
    );
    assert_eq!(h.join(MATHE, ANNA_2, true), []);
    assert_eq!(
        h.status(MATHE),
        Status {
            people: 3,
            ..before
        }
    );

    // A reset in flight when the connection goes: its answer died with it.
    h.at(100);
    h.leave(MATHE, ANNA);
    h.leave(MATHE, ANNA_2);
    let out = h.leave(MATHE, BEN);
    assert_eq!(out, [reset(MATHE, EndReason::LastOrganizerLeft, false)]);
    let id = latest(&h.issued, |r| matches!(r, Request::Reset { .. }));
    let ending = h.phase(MATHE);
    notes(&mut h);
    assert_eq!(h.input(Input::Disconnected), []);
    assert_eq!(h.input(Input::Done { id, ok: true }), []);
    assert_eq!(h.phase(MATHE), ending);
    assert_eq!(notes(&mut h), [], "the session did not end");
    // And requests not taken yet go with the connection.
    h.core.handle(h.now, Input::Connected);
    h.core.handle(h.now, Input::Disconnected);
    assert_eq!(h.core.poll_output(), None);
}

#[test]
fn a_refused_map_is_a_module_problem_until_a_map_is_taken() {
    let mut h = Harness::new(GRACE);
    assert!(h.core.module_problems().is_empty());
    let push = latest(&h.issued, |r| matches!(r, Request::PushMap(_)));
    assert_eq!(
        h.input(Input::Done {
            id: push,
            ok: false
        }),
        []
    );
    assert_eq!(h.core.module_problems(), ["map-refused"]);
    let problems = |p: &[&str]| Note::ModuleProblems {
        problems: p.iter().map(|p| p.to_string()).collect(),
    };
    assert_eq!(notes(&mut h), [problems(&["map-refused"])]);
    // The module's own problems come with the snapshot.
    h.input(Input::Disconnected);
    h.input(Input::Connected);
    h.answer_snapshot(Snapshot {
        problems: vec!["stored-map-unreadable".into()],
        ..snapshot(vec![])
    });
    let push = latest(&h.issued, |r| matches!(r, Request::PushMap(_)));
    let both = ["stored-map-unreadable", "map-refused"];
    assert_eq!(h.core.module_problems(), both);
    assert_eq!(notes(&mut h), [problems(&both)]);
    assert_eq!(h.input(Input::Done { id: push, ok: true }), []);
    assert_eq!(h.core.module_problems(), ["stored-map-unreadable"]);
    assert_eq!(notes(&mut h), [problems(&["stored-map-unreadable"])]);
    // No change, no note.
    h.input(Input::Disconnected);
    h.input(Input::Connected);
    h.answer_snapshot(Snapshot {
        problems: vec!["stored-map-unreadable".into()],
        ..snapshot(vec![])
    });
    let push = latest(&h.issued, |r| matches!(r, Request::PushMap(_)));
    h.input(Input::Done { id: push, ok: true });
    assert_eq!(notes(&mut h), []);
}

#[test]
fn notes_and_requests_leave_through_one_output_in_order() {
    let mut h = Harness::lesson(GRACE);
    notes(&mut h);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.leave(MATHE, BEN);
    // Anna is back before the reset is through: a new session, hers.
    h.join(MATHE, ANNA_2, true);
    let id = latest(&h.issued, |r| matches!(r, Request::Reset { .. }));
    h.core.handle(h.now, Input::Done { id, ok: true });
    let out: Vec<Output> = std::iter::from_fn(|| h.core.poll_output()).collect();
    assert!(
        matches!(
            &out[..],
            [
                Output::Note(Note::SessionEnded { .. }),
                Output::Request {
                    request: Request::GrantOwner { .. },
                    ..
                },
                Output::Note(Note::SessionStarted { .. }),
            ]
        ),
        "{out:#?}"
    );
}

#[test]
fn the_map_digest_covers_names_schools_and_policy_only() {
    // The module stores `gen`: the digest must not change from one build to the next.
    const PINNED: &str = "e5e863d54d73c03d";
    let rooms = room_map().rooms;
    assert_eq!(
        RoomMap::new(rooms.clone(), Unmanaged::Allow, GRACE).gen,
        PINNED
    );
    let mut other_passwords = rooms.clone();
    for entry in other_passwords.values_mut() {
        entry.password = Secret::new("anders");
    }
    assert_eq!(
        RoomMap::new(other_passwords, Unmanaged::Allow, GRACE).gen,
        PINNED
    );
    assert_ne!(
        RoomMap::new(rooms.clone(), Unmanaged::Deny, GRACE).gen,
        PINNED
    );
    assert_ne!(RoomMap::new(rooms, Unmanaged::Allow, GRACE * 2).gen, PINNED);
}
