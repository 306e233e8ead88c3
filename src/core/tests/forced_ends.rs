//! Forced ends, reloads, notes.

use super::*;

#[test]
fn force_ends_a_running_lesson_with_the_message() {
    let mut h = Harness::lesson(GRACE);
    h.at(30);
    assert_eq!(
        h.input(Input::EndSession { room: MATHE.into() }),
        [reset(MATHE, EndReason::Forced, true)]
    );
    assert_eq!(ending_reason(h.phase(MATHE)), Some(EndReason::Forced));
    h.done_reset(MATHE, true);
    assert!(is_idle(&h.status(MATHE)));
}

#[test]
fn force_resets_an_idle_room_and_ignores_unmanaged_ones() {
    let mut h = Harness::new(GRACE);
    assert_eq!(
        h.input(Input::EndSession { room: MATHE.into() }),
        [reset(MATHE, EndReason::Forced, false)]
    );
    h.done_reset(MATHE, true);
    assert!(is_idle(&h.status(MATHE)));
    assert_eq!(
        h.input(Input::EndSession {
            room: ELSEWHERE.into()
        }),
        []
    );
}

#[test]
fn force_during_grace_takes_over_the_reset() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(110);
    assert_eq!(
        h.input(Input::EndSession { room: MATHE.into() }),
        [reset(MATHE, EndReason::Forced, true)]
    );
    assert_eq!(h.core.next_deadline(), None);
    h.at(160);
    assert_eq!(h.tick(), []);
}

#[test]
fn reload_pushes_a_changed_map_only_when_connected() {
    let mut h = Harness::new(GRACE);
    // The same map: nothing to push.
    assert_eq!(h.input(Input::Reload(room_map(), policy(GRACE))), []);
    let mut map = room_map();
    map.gen = "other".into();
    map.rooms.insert(
        "chemie-9c".into(),
        MapEntry {
            school: "gs-nord".into(),
            password: Secret::new("schulpasswort-3"),
        },
    );
    let out = h.input(Input::Reload(map.clone(), policy(GRACE)));
    assert!(
        matches!(&out[..], [Request::PushMap(m)] if **m == map),
        "{out:?}"
    );
    assert!(h.core.is_managed("chemie-9c"));
    assert_eq!(
        h.join("chemie-9c", ANNA, true),
        [grant("chemie-9c", ANNA_BARE)]
    );
    // While away, the map is pushed with the next Connected only.
    h.input(Input::Disconnected);
    assert_eq!(h.input(Input::Reload(room_map(), policy(GRACE))), []);
    assert_eq!(h.input(Input::Connected), [Request::Snapshot]);
    let out = h.answer_snapshot(snapshot(vec![]));
    assert!(matches!(&out[..], [Request::PushMap(m)] if **m == room_map()));
}

#[test]
fn reload_forgets_removed_rooms_without_reset() {
    let mut h = Harness::lesson(GRACE);
    h.join(PHYSIK, DORA, true);
    h.join(PHYSIK, CARLA, false);
    h.at(100);
    h.leave(PHYSIK, DORA);
    let mut map = room_map();
    map.gen = "smaller".into();
    map.rooms.remove(PHYSIK);
    assert!(matches!(
        &h.input(Input::Reload(map, policy(GRACE)))[..],
        [Request::PushMap(_)]
    ));
    assert!(!h.core.is_managed(PHYSIK));
    assert!(h.core.rooms().all(|s| s.name != PHYSIK));
    assert_eq!(h.core.next_deadline(), None, "its grace went with it");
    h.at(200);
    assert_eq!(h.tick(), []);
    assert_eq!(h.join(PHYSIK, DORA, true), []);
    // The lesson in the room that stayed goes on.
    assert_eq!(h.phase(MATHE), Phase::Active);
}

#[test]
fn reload_applies_a_new_grace_period_to_graces_that_start_later() {
    let mut h = Harness::lesson(GRACE);
    h.join(PHYSIK, DORA, true);
    h.join(PHYSIK, CARLA, false);
    h.at(100);
    h.leave(MATHE, ANNA);
    let short = Duration::from_secs(10);
    h.input(Input::Reload(room_map(), policy(short)));
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline: h.t(160) });
    h.at(120);
    h.leave(PHYSIK, DORA);
    assert_eq!(h.phase(PHYSIK), Phase::Grace { deadline: h.t(130) });
}

#[test]
fn notes_tell_when_sessions_start_enter_grace_and_end() {
    let mut h = Harness::new(GRACE);
    h.at(10);
    h.join(MATHE, ANNA, true);
    h.join(MATHE, BEN, false);
    let school = "gs-nord".to_owned();
    assert_eq!(
        notes(&mut h),
        [Note::SessionStarted {
            room: MATHE.into(),
            school: school.clone()
        }]
    );
    h.at(100);
    h.leave(MATHE, ANNA);
    assert_eq!(
        notes(&mut h),
        [Note::GraceStarted {
            room: MATHE.into(),
            school: school.clone()
        }]
    );
    h.at(160);
    h.tick();
    assert_eq!(notes(&mut h), [], "a reset issued is no end yet");
    h.at(161);
    h.destroyed(MATHE);
    assert_eq!(
        notes(&mut h),
        [Note::SessionEnded {
            room: MATHE.into(),
            school,
            reason: EndReason::GraceExpired,
            duration: Duration::from_secs(151),
        }]
    );
    // A session that was never known has no end to report.
    h.destroyed(PHYSIK);
    assert_eq!(notes(&mut h), []);
}
