//! Connection and sync.

use super::*;

#[test]
fn events_before_the_snapshot_are_left_to_it() {
    // The core knows the teacher alone; while it was away a student came. The teacher's
    // leave arrives before the snapshot: acted on, it would reset a room with a student
    // in it. The snapshot tells the truth: a student, no organizer, grace.
    let mut h = Harness::new(GRACE);
    assert_eq!(h.join(MATHE, ANNA, true), [grant(MATHE, ANNA_BARE)]);
    assert!(h.input(Input::Disconnected).is_empty());
    assert_eq!(h.input(Input::Connected), [Request::Snapshot]);
    assert_eq!(h.leave(MATHE, ANNA), []);
    assert_eq!(
        h.status(MATHE).people,
        1,
        "the leave was applied before the snapshot"
    );
    let out = h.answer_snapshot(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(BEN, false, false)],
    )]));
    assert!(matches!(&out[..], [Request::PushMap(_)]), "{out:?}");
    assert!(matches!(h.phase(MATHE), Phase::Grace { .. }));
}

#[test]
fn connected_asks_the_module_first_and_pushes_the_map_once_it_speaks_our_protocol() {
    let mut h = Harness::unsynced(GRACE);
    assert_eq!(h.input(Input::Connected), [Request::Snapshot]);
    assert!(!h.core.synced(), "synced only once the snapshot is in");
    let out = h.answer_snapshot(snapshot(vec![]));
    match &out[..] {
        [Request::PushMap(map)] => {
            assert_eq!(**map, room_map());
            assert!(Arc::ptr_eq(map, h.core.map()));
        }
        other => panic!("expected the map push, got {other:?}"),
    }
    assert!(h.core.synced());
}

#[test]
fn a_module_with_another_map_is_read_again_behind_the_push() {
    // The module has the map of another config (rooms added while raumwart was away):
    // its snapshot does not show the new rooms. The one behind the push does.
    let mut h = Harness::unsynced(GRACE);
    h.input(Input::Connected);
    let old = Snapshot {
        gen: "older".into(),
        ..snapshot(vec![])
    };
    let out = h.answer_snapshot(old);
    assert!(
        matches!(&out[..], [Request::PushMap(_), Request::Snapshot]),
        "{out:?}"
    );
    assert!(!h.core.synced(), "the old map's snapshot is not the truth");
    let students = snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(BEN, false, false)],
    )]);
    // Even if the module refused the map (its gen stays old), the second one counts.
    let refused = Snapshot {
        gen: "older".into(),
        ..students
    };
    assert_eq!(h.answer_snapshot(refused), []);
    assert!(h.core.synced());
    assert!(matches!(h.phase(MATHE), Phase::Grace { .. }));
    // A module that could not store its map says so before the push, not after it: the
    // snapshot behind the push is the one that counts.
    h.input(Input::Disconnected);
    h.input(Input::Connected);
    let unstored = Snapshot {
        problems: vec!["map-not-stored".into()],
        ..snapshot(vec![])
    };
    let out = h.answer_snapshot(unstored);
    assert!(
        matches!(&out[..], [Request::PushMap(_), Request::Snapshot]),
        "{out:?}"
    );
    h.answer_snapshot(snapshot(vec![]));
    assert!(h.core.synced());
    assert!(h.core.module_problems().is_empty());
}

#[test]
fn a_module_of_another_protocol_gets_no_map_and_is_asked_again() {
    let mut h = Harness::unsynced(GRACE);
    h.input(Input::Connected);
    for protocol in [None, Some(MODULE_PROTOCOL + 1)] {
        let other = Snapshot {
            protocol,
            ..snapshot(vec![snapshot_room(
                MATHE,
                false,
                vec![occupant(BEN, false, false)],
            )])
        };
        assert_eq!(h.answer_snapshot(other), [], "a map went to {protocol:?}");
        assert!(!h.core.synced());
        assert_eq!(h.core.module_mismatch(), Some(protocol));
        assert_eq!(h.core.module_problems(), ["protocol-mismatch"]);
        let told = notes(&mut h);
        assert!(
            told.contains(&Note::ModuleIncompatible { module: protocol }),
            "{told:?}"
        );
        assert_eq!(h.status(MATHE).people, 0, "its snapshot was applied");
        // Asked again after a while (a reload may bring the right module), not before.
        let recheck = h.core.next_deadline().expect("a recheck");
        assert_eq!(recheck, h.now + MODULE_RECHECK);
        assert_eq!(h.tick(), []);
        h.now = recheck;
        assert_eq!(h.tick(), [Request::Snapshot]);
        assert_eq!(h.tick(), [], "one question at a time");
    }
    // The same mismatch again is no news; a reload pushes nothing to such a module.
    let again = Snapshot {
        protocol: Some(MODULE_PROTOCOL + 1),
        ..snapshot(vec![])
    };
    h.answer_snapshot(again);
    assert_eq!(notes(&mut h), []);
    let mut map = room_map();
    map.gen = "reloaded".into();
    assert_eq!(h.input(Input::Reload(map, policy(GRACE))), []);
    // The module of this release is back (reloaded in Prosody): map, sync, no problem.
    h.now += MODULE_RECHECK;
    assert_eq!(h.tick(), [Request::Snapshot]);
    let out = h.answer_snapshot(snapshot(vec![]));
    assert!(
        matches!(&out[..], [Request::PushMap(m), Request::Snapshot] if m.gen == "reloaded"),
        "{out:?}"
    );
    assert_eq!(h.core.module_mismatch(), None);
    assert!(h.core.module_problems().is_empty());
    assert_eq!(notes(&mut h), [Note::ModuleProblems { problems: vec![] }]);
}

#[test]
fn not_synced_until_the_snapshot_no_deadline_and_ticks_ignored() {
    let mut h = Harness::unsynced(GRACE);
    assert!(!h.core.synced());
    assert_eq!(h.core.next_deadline(), None);
    assert_eq!(h.tick(), []);
    assert_eq!(h.input(Input::Connected), [Request::Snapshot]);
    assert_eq!(h.core.next_deadline(), None);
    // A snapshot without a connection does not make the core synced.
    let mut lone = Harness::unsynced(GRACE);
    let students = snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(BEN, false, false)],
    )]);
    lone.answer_snapshot(students.clone());
    assert!(!lone.core.synced());
    assert_eq!(lone.core.next_deadline(), None);
    // With the connection it does, and the grace deadline shows.
    h.at(10);
    assert!(matches!(
        &h.answer_snapshot(students)[..],
        [Request::PushMap(_)]
    ));
    assert!(h.core.synced());
    assert_eq!(h.core.next_deadline(), Some(h.t(10) + GRACE));
}

#[test]
fn while_disconnected_there_is_no_deadline_and_ticks_do_nothing() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    assert_eq!(h.leave(MATHE, ANNA), []);
    assert_eq!(h.core.next_deadline(), Some(h.t(160)));
    assert_eq!(h.input(Input::Disconnected), []);
    assert!(!h.core.synced());
    assert_eq!(h.core.next_deadline(), None);
    h.at(500);
    assert_eq!(h.tick(), []);
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline: h.t(160) });
}
