//! Unit and property tests of the decision core, in virtual time.
//!
//! Time never passes by itself here: every test takes one `Instant::now()` as its base
//! and moves a virtual clock by adding durations.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;

use super::*;

// --- fixtures ------------------------------------------------------------------------

const MATHE: &str = "mathe-5a";
const PHYSIK: &str = "physik-7b";
/// Not in the map.
const ELSEWHERE: &str = "elsewhere";

/// Matches the service entry `focus@auth.meet.jitsi` exactly.
const FOCUS: &str = "focus@auth.meet.jitsi/focus";
const FOCUS_BARE: &str = "focus@auth.meet.jitsi";
/// Matches the service domain entry `internal.auth.meet.jitsi`.
const JVB: &str = "jvb@internal.auth.meet.jitsi/jvb-1";

const ANNA: &str = "anna@meet.jitsi/a1";
const ANNA_2: &str = "anna@meet.jitsi/a2";
const ANNA_BARE: &str = "anna@meet.jitsi";
const BEN: &str = "ben@meet.jitsi/b1";
const BEN_BARE: &str = "ben@meet.jitsi";
const CARLA: &str = "carla@guest.meet.jitsi/c1";
const DORA: &str = "dora@meet.jitsi/d1";
const DORA_BARE: &str = "dora@meet.jitsi";

const END: &str = "Die Stunde ist beendet.";
const GRACE: Duration = Duration::from_secs(60);
const RETRY: Duration = Duration::from_secs(5);

fn room_map() -> RoomMap {
    let mut rooms = BTreeMap::new();
    rooms.insert(
        MATHE.to_owned(),
        MapEntry {
            school: "gs-nord".into(),
            password: Secret::new("schulpasswort-1"),
        },
    );
    rooms.insert(
        PHYSIK.to_owned(),
        MapEntry {
            school: "rs-sued".into(),
            password: Secret::new("schulpasswort-2"),
        },
    );
    RoomMap {
        gen: "test".into(),
        grace: Duration::from_secs(60),
        unmanaged: Unmanaged::Allow,
        rooms,
    }
}

fn policy(grace: Duration) -> Policy {
    Policy {
        service_jids: vec![FOCUS_BARE.into(), "internal.auth.meet.jitsi".into()],
        unmanaged_rooms: Unmanaged::Allow,
        grace_period: grace,
        end_message: END.into(),
    }
}

/// An owned copy of a [`RoomStatus`].
#[derive(Debug, Clone, PartialEq)]
struct Status {
    phase: Phase,
    people: usize,
    organizer: bool,
    session_start: Option<Instant>,
}

fn status_of(core: &Core, room: &str) -> Status {
    let s = core
        .rooms()
        .find(|s| s.name == room)
        .unwrap_or_else(|| panic!("{room} is not managed"));
    Status {
        phase: s.phase,
        people: s.people,
        organizer: s.organizer_present,
        session_start: s.session_start,
    }
}

fn grant(room: &str, jid: &str) -> Request {
    Request::GrantOwner {
        room: room.into(),
        jid: jid.into(),
    }
}

fn reset(room: &str, reason: EndReason, message: bool) -> Request {
    Request::Reset {
        room: room.into(),
        reason,
        message: message.then(|| END.to_owned()),
        breakouts: vec![],
    }
}

fn occupant(jid: &str, keyed: bool, owner: bool) -> SnapshotOccupant {
    SnapshotOccupant {
        jid: jid.into(),
        keyed,
        owner,
        breakout: None,
    }
}

fn snapshot_room(name: &str, persistent: bool, occupants: Vec<SnapshotOccupant>) -> SnapshotRoom {
    SnapshotRoom {
        name: name.into(),
        persistent,
        members_only: false,
        occupants,
    }
}

/// What a module of this protocol, with `room_map()` in force, answers.
fn snapshot(rooms: Vec<SnapshotRoom>) -> Snapshot {
    Snapshot {
        protocol: Some(MODULE_PROTOCOL),
        gen: room_map().gen,
        rooms,
        ..Snapshot::default()
    }
}

/// A core and a virtual clock.
struct Harness {
    core: Core,
    base: Instant,
    now: Instant,
    /// Every request the core issued, oldest first.
    issued: Vec<(RequestId, Request)>,
    notes: VecDeque<Note>,
}

/// An id the core never issued.
const UNKNOWN: RequestId = RequestId(u64::MAX);

/// Drains the core's output: the requests (in order) into `issued` and the result,
/// the notes into `notes`.
fn drain(
    core: &mut Core,
    issued: &mut Vec<(RequestId, Request)>,
    notes: &mut VecDeque<Note>,
) -> Vec<Request> {
    let mut out = vec![];
    while let Some(output) = core.poll_output() {
        match output {
            Output::Request { id, request } => {
                issued.push((id, request.clone()));
                out.push(request);
            }
            Output::Note(note) => notes.push_back(note),
        }
    }
    out
}

/// The latest request in `issued` that `which` picks, or [`UNKNOWN`].
fn latest(issued: &[(RequestId, Request)], which: impl Fn(&Request) -> bool) -> RequestId {
    issued
        .iter()
        .rev()
        .find(|(_, r)| which(r))
        .map_or(UNKNOWN, |(id, _)| *id)
}

impl Harness {
    /// A fresh core (as after a daemon start), not connected yet.
    fn unsynced(grace: Duration) -> Harness {
        let base = Instant::now();
        Harness {
            core: Core::new(room_map(), policy(grace)),
            base,
            now: base,
            issued: vec![],
            notes: VecDeque::new(),
        }
    }

    /// Connected and synced against a Prosody with no rooms.
    fn new(grace: Duration) -> Harness {
        let mut h = Harness::unsynced(grace);
        assert!(h.connect(snapshot(vec![])).is_empty());
        h
    }

    /// Feeds `Connected` and then `snapshot`; returns the requests the snapshot caused
    /// after the map push that every connection brings.
    fn connect(&mut self, snapshot: Snapshot) -> Vec<Request> {
        assert_eq!(self.input(Input::Connected), [Request::Snapshot]);
        let mut out = self.answer_snapshot(snapshot);
        assert!(
            matches!(out.first(), Some(Request::PushMap(m)) if Arc::ptr_eq(m, self.core.map())),
            "{out:?}"
        );
        out.remove(0);
        assert!(self.core.synced());
        out
    }

    /// Disconnects and connects again with `snapshot`.
    fn reconnect(&mut self, snapshot: Snapshot) -> Vec<Request> {
        assert!(self.input(Input::Disconnected).is_empty());
        self.connect(snapshot)
    }

    /// Moves the clock to `secs` after the base.
    fn at(&mut self, secs: u64) -> &mut Harness {
        self.now = self.t(secs);
        self
    }

    fn t(&self, secs: u64) -> Instant {
        self.base + Duration::from_secs(secs)
    }

    fn input(&mut self, input: Input) -> Vec<Request> {
        self.core.handle(self.now, input);
        drain(&mut self.core, &mut self.issued, &mut self.notes)
    }

    /// Answers the latest snapshot request (if any) with `snapshot`.
    fn answer_snapshot(&mut self, snapshot: Snapshot) -> Vec<Request> {
        let id = latest(&self.issued, |r| *r == Request::Snapshot);
        self.input(Input::Snapshot { id, snapshot })
    }

    fn event(&mut self, event: Event) -> Vec<Request> {
        self.input(Input::Event(event))
    }

    fn join(&mut self, room: &str, occupant: &str, keyed: bool) -> Vec<Request> {
        self.event(Event::Joined {
            room: room.into(),
            occupant: occupant.into(),
            keyed,
        })
    }

    fn leave(&mut self, room: &str, occupant: &str) -> Vec<Request> {
        self.event(Event::Left {
            room: room.into(),
            occupant: occupant.into(),
        })
    }

    fn destroyed(&mut self, room: &str) -> Vec<Request> {
        self.event(Event::Destroyed { room: room.into() })
    }

    /// `actor` gives `jid` `affiliation`; `jid` held none before, and the module does
    /// not say whether the room is members-only (see `affiliation_from`).
    fn affiliation(
        &mut self,
        room: &str,
        jid: &str,
        affiliation: &str,
        actor: &str,
    ) -> Vec<Request> {
        self.affiliation_from(room, jid, "none", affiliation, actor, None)
    }

    /// `actor` takes `jid` from `previous` to `affiliation`; `members_only` as the
    /// module reports the room then.
    fn affiliation_from(
        &mut self,
        room: &str,
        jid: &str,
        previous: &str,
        affiliation: &str,
        actor: &str,
        members_only: Option<bool>,
    ) -> Vec<Request> {
        self.event(Event::Affiliation {
            room: room.into(),
            jid: jid.into(),
            affiliation: affiliation.into(),
            actor: actor.into(),
            previous: Some(previous.into()),
            members_only,
        })
    }

    /// The members-only setting (Jitsi's lobby) of `room` is submitted.
    fn members_only(&mut self, room: &str, on: bool) -> Vec<Request> {
        self.event(Event::MembersOnly {
            room: room.into(),
            on,
        })
    }

    /// Answers the latest reset of `room`.
    fn done_reset(&mut self, room: &str, ok: bool) -> Vec<Request> {
        let id = latest(
            &self.issued,
            |r| matches!(r, Request::Reset { room: x, .. } if x == room),
        );
        self.input(Input::Done { id, ok })
    }

    /// Answers the latest grant of owner to `jid` in `room`.
    fn done_grant(&mut self, room: &str, jid: &str, ok: bool) -> Vec<Request> {
        let id = latest(
            &self.issued,
            |r| matches!(r, Request::GrantOwner { room: x, jid: j } if x == room && j == jid),
        );
        self.input(Input::Done { id, ok })
    }

    fn tick(&mut self) -> Vec<Request> {
        self.input(Input::Tick)
    }

    fn status(&self, room: &str) -> Status {
        status_of(&self.core, room)
    }

    fn phase(&self, room: &str) -> Phase {
        self.status(room).phase
    }

    /// Anna (organizer) and Ben (student) in MATHE since second 0.
    fn lesson(grace: Duration) -> Harness {
        let mut h = Harness::new(grace);
        assert_eq!(h.join(MATHE, ANNA, true), [grant(MATHE, ANNA_BARE)]);
        assert_eq!(h.join(MATHE, BEN, false), []);
        h
    }
}

fn is_idle(s: &Status) -> bool {
    s.phase == Phase::Idle && s.people == 0 && s.session_start.is_none()
}

fn ending_reason(phase: Phase) -> Option<EndReason> {
    match phase {
        Phase::Ending { reason, .. } => Some(reason),
        _ => None,
    }
}

// --- connection and sync -------------------------------------------------------------

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

// --- joining and owner rights --------------------------------------------------------

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

// --- the end of a session ------------------------------------------------------------

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

// --- organizers made by organizers ---------------------------------------------------

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

#[test]
fn owner_by_focus_while_no_organizer_is_in_is_not_fought() {
    let mut h = Harness::lesson(GRACE);
    h.at(10);
    h.leave(MATHE, ANNA);
    // jicofo's auto-owner hands the moderator to a student.
    assert_eq!(h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE), []);
    assert_eq!(h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE), []);
    assert!(matches!(h.phase(MATHE), Phase::Grace { .. }));
}

#[test]
fn an_organizer_returning_takes_owner_back_from_students_once() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    h.at(10);
    h.leave(MATHE, ANNA);
    h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE);
    h.at(20);
    assert_eq!(h.join(MATHE, ANNA_2, true), [revoke(MATHE, BEN_BARE)]);
    assert_eq!(h.phase(MATHE), Phase::Active);
    // A second session of hers changes nothing: that was the once.
    assert_eq!(h.join(MATHE, "anna@meet.jitsi/a3", true), []);
    // An organizer promoted by her keeps owner when another organizer comes.
    h.affiliation(MATHE, "carla@guest.meet.jitsi", "owner", ANNA_BARE);
    h.leave(MATHE, ANNA_2);
    h.leave(MATHE, "anna@meet.jitsi/a3");
    assert_eq!(h.join(MATHE, DORA, true), [grant(MATHE, DORA_BARE)]);
}

/// The issue's case: the lobby is on (lib-jitsi-meet made everyone member, then
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
        []
    );
    h.at(20);
    assert_eq!(
        h.join(MATHE, "anne@meet.jitsi/reload", true),
        [
            grant(MATHE, "anne@meet.jitsi"),
            revoke_to(MATHE, BEN_BARE, RevokeTo::Member)
        ],
        "none would remove the student from the lesson (321)"
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
        let mut h = promoted_while_away(previous);
        assert_eq!(
            h.join(MATHE, ANNA_2, true),
            [revoke_to(MATHE, BEN_BARE, to)],
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
    let mut h = promoted_while_away("none");
    // The promoted student turns the lobby on: owners are not made member first.
    h.members_only(MATHE, true);
    assert_eq!(
        h.join(MATHE, ANNA_2, true),
        [revoke_to(MATHE, BEN_BARE, RevokeTo::Member)]
    );
    // Off again: the student who held nothing goes back to nothing.
    let mut h = Harness::lesson(GRACE);
    h.members_only(MATHE, true);
    h.members_only(MATHE, false);
    h.leave(MATHE, ANNA);
    h.affiliation_from(MATHE, BEN_BARE, "none", "owner", FOCUS_BARE, Some(false));
    assert_eq!(
        h.join(MATHE, ANNA_2, true),
        [revoke_to(MATHE, BEN_BARE, RevokeTo::None)]
    );
}

#[test]
fn what_nobody_said_is_taken_back_to_member() {
    // A module that does not report previous affiliations (an earlier release).
    let mut h = Harness::lesson(GRACE);
    h.leave(MATHE, ANNA);
    h.event(Event::Affiliation {
        room: MATHE.into(),
        jid: BEN_BARE.into(),
        affiliation: "owner".into(),
        actor: FOCUS_BARE.into(),
        previous: None,
        members_only: None,
    });
    assert_eq!(
        h.join(MATHE, ANNA_2, true),
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
    h.affiliation_from(
        MATHE,
        "carla@guest.meet.jitsi",
        "none",
        "owner",
        FOCUS_BARE,
        None,
    );
    assert_eq!(
        h.join(MATHE, DORA, true),
        [
            grant(MATHE, DORA_BARE),
            revoke_to(MATHE, "carla@guest.meet.jitsi", RevokeTo::None)
        ]
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

// --- failed and overtaken resets -----------------------------------------------------

#[test]
fn failed_reset_is_retried_after_five_seconds() {
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    h.at(100);
    assert_eq!(
        h.leave(MATHE, ANNA),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
    h.at(101);
    assert_eq!(h.done_reset(MATHE, false), []);
    assert!(matches!(
        h.phase(MATHE),
        Phase::Ending {
            reason: EndReason::LastOrganizerLeft,
            retry: Some(t),
            ..
        } if t == h.t(101) + RETRY
    ));
    assert_eq!(h.core.next_deadline(), Some(h.t(106)));
    h.at(105);
    assert_eq!(h.tick(), []);
    h.at(106);
    assert_eq!(
        h.tick(),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
    assert!(matches!(h.phase(MATHE), Phase::Ending { retry: None, .. }));
    assert_eq!(h.core.next_deadline(), None);
    // Fails again: retried again.
    h.at(107);
    h.done_reset(MATHE, false);
    assert_eq!(h.core.next_deadline(), Some(h.t(112)));
    h.at(112);
    assert_eq!(h.tick().len(), 1);
    h.at(113);
    assert_eq!(h.done_reset(MATHE, true), []);
    assert!(is_idle(&h.status(MATHE)));
}

#[test]
fn a_retried_grace_reset_still_carries_the_message() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(160);
    assert_eq!(h.tick(), [reset(MATHE, EndReason::GraceExpired, true)]);
    h.done_reset(MATHE, false);
    h.at(165);
    assert_eq!(h.tick(), [reset(MATHE, EndReason::GraceExpired, true)]);
}

#[test]
fn events_while_ending_do_not_issue_another_reset() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(160);
    assert_eq!(h.tick().len(), 1);
    assert_eq!(h.leave(MATHE, BEN), []);
    assert_eq!(h.join(MATHE, CARLA, false), []);
    assert_eq!(h.leave(MATHE, CARLA), []);
    assert_eq!(h.affiliation(MATHE, BEN_BARE, "owner", FOCUS_BARE), []);
    assert_eq!(ending_reason(h.phase(MATHE)), Some(EndReason::GraceExpired));
}

#[test]
fn a_join_after_the_reset_was_issued_survives_as_a_new_session() {
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    h.at(100);
    assert_eq!(h.leave(MATHE, ANNA).len(), 1);
    // The next teacher comes in before the reset is confirmed. She is granted at once
    // (that request goes to the old room) ...
    h.at(101);
    assert_eq!(h.join(MATHE, DORA, true), [grant(MATHE, DORA_BARE)]);
    assert_eq!(h.join(MATHE, BEN, false), []);
    assert!(matches!(h.phase(MATHE), Phase::Ending { .. }));
    // ... and again once the room is new, for the new room has no affiliations.
    h.at(102);
    assert_eq!(h.done_reset(MATHE, true), [grant(MATHE, DORA_BARE)]);
    assert_eq!(
        h.status(MATHE),
        Status {
            phase: Phase::Active,
            people: 2,
            organizer: true,
            session_start: Some(h.t(102)),
        }
    );
}

#[test]
fn students_who_join_after_the_reset_was_issued_start_a_session_in_grace() {
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(101);
    assert_eq!(h.join(MATHE, BEN, false), []);
    h.at(102);
    assert_eq!(h.done_reset(MATHE, true), []);
    let s = h.status(MATHE);
    assert_eq!(s.phase, Phase::Grace { deadline: h.t(162) });
    assert_eq!((s.people, s.session_start), (1, Some(h.t(102))));
}

#[test]
fn those_inside_when_the_reset_was_issued_go_with_it() {
    let mut h = Harness::lesson(GRACE);
    h.join(MATHE, CARLA, false);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(160);
    h.tick();
    // A failed attempt and its retry: those who came in between are removed too.
    h.done_reset(MATHE, false);
    h.at(162);
    h.join(MATHE, DORA, true);
    h.at(165);
    assert_eq!(h.tick().len(), 1);
    h.at(166);
    assert_eq!(h.done_reset(MATHE, true), []);
    assert!(is_idle(&h.status(MATHE)));
}

#[test]
fn the_destroyed_event_removes_everyone_it_follows() {
    // The module announces the destroy before it answers the request, on the same
    // stream: whoever the core saw join before the event was in the old room.
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.join(MATHE, DORA, true);
    assert_eq!(h.destroyed(MATHE), []);
    assert!(is_idle(&h.status(MATHE)));
    assert_eq!(h.done_reset(MATHE, true), []);
    assert!(is_idle(&h.status(MATHE)));
    // After the event, a join is the new room's.
    assert_eq!(h.join(MATHE, DORA, true), [grant(MATHE, DORA_BARE)]);
    assert_eq!(h.phase(MATHE), Phase::Active);
}

#[test]
fn done_for_a_reset_that_is_not_under_way_is_ignored() {
    let mut h = Harness::lesson(GRACE);
    assert_eq!(h.done_reset(MATHE, true), []);
    assert_eq!(h.done_reset(MATHE, false), []);
    assert_eq!(h.phase(MATHE), Phase::Active);
    assert_eq!(h.core.next_deadline(), None);
}

// --- snapshots -----------------------------------------------------------------------

#[test]
fn snapshot_after_restart_with_keyed_owner_and_student_is_active_without_actions() {
    let mut h = Harness::unsynced(GRACE);
    h.at(1000);
    let out = h.connect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![
            occupant(FOCUS, false, true),
            occupant(ANNA, true, true),
            occupant(BEN, false, false),
        ],
    )]));
    assert_eq!(out, []);
    assert_eq!(
        h.status(MATHE),
        Status {
            phase: Phase::Active,
            people: 2,
            organizer: true,
            session_start: Some(h.t(1000)),
        }
    );
    assert!(is_idle(&h.status(PHYSIK)));
    assert_eq!(h.core.next_deadline(), None);
}

#[test]
fn snapshot_grants_owner_to_a_keyed_occupant_who_is_not_owner() {
    let mut h = Harness::unsynced(GRACE);
    let out = h.connect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![
            occupant(ANNA, true, false),
            occupant(ANNA_2, true, false),
            occupant(BEN, false, false),
        ],
    )]));
    assert_eq!(out, [grant(MATHE, ANNA_BARE)]);
    assert_eq!(h.phase(MATHE), Phase::Active);
}

#[test]
fn snapshot_with_only_students_starts_grace() {
    let mut h = Harness::unsynced(GRACE);
    h.at(50);
    let out = h.connect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![
            occupant(FOCUS, false, true),
            occupant(BEN, false, true),
            occupant(CARLA, false, false),
        ],
    )]));
    assert_eq!(out, []);
    let s = h.status(MATHE);
    assert_eq!(s.phase, Phase::Grace { deadline: h.t(110) });
    assert!(!s.organizer);
    assert_eq!(h.core.next_deadline(), Some(h.t(110)));
    h.at(110);
    assert_eq!(h.tick(), [reset(MATHE, EndReason::GraceExpired, true)]);
}

#[test]
fn snapshot_with_an_empty_persistent_room_resets_it() {
    let mut h = Harness::unsynced(GRACE);
    let out = h.connect(snapshot(vec![
        snapshot_room(MATHE, true, vec![]),
        snapshot_room(PHYSIK, true, vec![occupant(FOCUS, false, true)]),
    ]));
    assert_eq!(
        out,
        [
            reset(MATHE, EndReason::LastOrganizerLeft, false),
            reset(PHYSIK, EndReason::LastOrganizerLeft, false)
        ]
    );
    assert!(h.status(MATHE).session_start.is_some());
    h.done_reset(MATHE, true);
    assert!(is_idle(&h.status(MATHE)));
}

#[test]
fn snapshot_leaves_a_fresh_room_with_only_focus_alone() {
    let mut h = Harness::unsynced(GRACE);
    let out = h.connect(snapshot(vec![
        snapshot_room(MATHE, false, vec![occupant(FOCUS, false, true)]),
        snapshot_room(PHYSIK, false, vec![]),
    ]));
    assert_eq!(out, []);
    assert!(is_idle(&h.status(MATHE)));
    assert!(is_idle(&h.status(PHYSIK)));
    assert_eq!(h.core.next_deadline(), None);
}

#[test]
fn snapshot_without_the_room_of_a_known_session_ends_it_silently() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    let out = h.reconnect(snapshot(vec![]));
    assert_eq!(out, []);
    assert!(is_idle(&h.status(MATHE)));
    // Also when its reset was under way.
    h.join(PHYSIK, DORA, true);
    h.leave(PHYSIK, DORA);
    assert_eq!(h.reconnect(snapshot(vec![])), []);
    assert!(is_idle(&h.status(PHYSIK)));
}

#[test]
fn snapshot_with_an_empty_room_of_a_known_session_resets_it() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    let out = h.reconnect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(FOCUS, false, true)],
    )]));
    assert_eq!(out, [reset(MATHE, EndReason::LastOrganizerLeft, false)]);
}

#[test]
fn snapshot_on_reconnect_keeps_organizers_made_by_organizers() {
    let mut h = Harness::lesson(GRACE);
    h.affiliation(MATHE, BEN_BARE, "owner", ANNA_BARE);
    h.at(100);
    let out = h.reconnect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(BEN, false, true)],
    )]));
    assert_eq!(out, []);
    assert_eq!(h.phase(MATHE), Phase::Active);
}

#[test]
fn snapshot_after_restart_forgets_organizers_made_by_organizers() {
    // A limitation: the snapshot carries "keyed" and "owner", and an owner may as well
    // be a student focus promoted, so a restarted daemon sees only students.
    let mut h = Harness::unsynced(GRACE);
    let out = h.connect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(BEN, false, true), occupant(CARLA, false, false)],
    )]));
    assert_eq!(out, []);
    assert!(matches!(h.phase(MATHE), Phase::Grace { .. }));
}

#[test]
fn snapshot_reissues_a_reset_that_was_in_flight() {
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    h.at(160);
    assert_eq!(h.tick().len(), 1);
    h.at(170);
    let out = h.reconnect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(FOCUS, false, true), occupant(BEN, false, false)],
    )]));
    assert_eq!(out, [reset(MATHE, EndReason::GraceExpired, true)]);
}

#[test]
fn snapshot_reissues_a_reset_even_when_the_room_was_renewed_meanwhile() {
    // Documents current behaviour (see the report): the reset went through while the
    // connection was down, a new teacher opened the room, and the core, which cannot
    // tell an old room from a new one, ends her lesson.
    let mut h = Harness::new(GRACE);
    h.join(MATHE, ANNA, true);
    h.at(100);
    assert_eq!(h.leave(MATHE, ANNA).len(), 1);
    h.at(200);
    let out = h.reconnect(snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(DORA, true, false)],
    )]));
    assert_eq!(
        out,
        [
            grant(MATHE, DORA_BARE),
            reset(MATHE, EndReason::LastOrganizerLeft, true)
        ]
    );
}

#[test]
fn grace_deadline_survives_a_reconnect() {
    // Anna leaves at 100 s: the lesson ends at 160 s unless an organizer returns. The
    // component connection drops and comes back with the same occupants inside.
    let mut h = Harness::lesson(GRACE);
    h.at(100);
    h.leave(MATHE, ANNA);
    let students = snapshot(vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(BEN, false, false)],
    )]);
    h.at(150);
    assert_eq!(h.reconnect(students.clone()), []);
    // Today: Grace { deadline: 210 s }.
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline: h.t(160) });
    // And a deadline that passed while away is due at once (as the comment at the end
    // of apply_snapshot says); today it is pushed to 300 s.
    h.at(240);
    assert_eq!(
        h.reconnect(students),
        [reset(MATHE, EndReason::GraceExpired, true)]
    );
}

// --- what does not concern the core --------------------------------------------------

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

// --- organizers by account within a session -----------------------------------------

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

// --- breakout rooms ------------------------------------------------------------------

const BREAKOUT_1: &str = "br-1@breakout.meet.jitsi";
const BREAKOUT_2: &str = "br-2@breakout.meet.jitsi";

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

// --- forced ends, reloads, notes ----------------------------------------------------

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

fn notes(h: &mut Harness) -> Vec<Note> {
    h.notes.drain(..).collect()
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

// --- property tests ------------------------------------------------------------------

const ROOMS: [&str; 3] = [MATHE, PHYSIK, ELSEWHERE];
const BARES: [&str; 7] = [
    ANNA_BARE,
    BEN_BARE,
    "carla@guest.meet.jitsi",
    DORA_BARE,
    "Ben@Meet.Jitsi",
    FOCUS_BARE,
    "jvb@internal.auth.meet.jitsi",
];

fn managed(room: &str) -> Option<usize> {
    [MATHE, PHYSIK].iter().position(|r| *r == room)
}

/// The test's own idea of a service JID, independent of the core's.
fn is_service_jid(jid: &str) -> bool {
    let b = bare(jid).to_lowercase();
    b == FOCUS_BARE || b.ends_with("@internal.auth.meet.jitsi")
}

/// Checks every step of a core against invariants that hold whatever comes in.
struct Checker {
    grace: Duration,
    /// Bare JIDs that entered keyed, or were made owner by such a one.
    eligible: [BTreeSet<String>; 2],
    /// Bare JIDs granted since the room last went (or the core last re-read it).
    granted: [BTreeSet<String>; 2],
    /// Breakout rooms may be open in this session (an over-estimate): an empty main
    /// room then waits for the switch window, and grace lasts at least that long.
    breakouts: [bool; 2],
    /// Every request issued, oldest first, and those whose answers the core awaits.
    issued: Vec<(RequestId, Request)>,
    in_flight: BTreeSet<RequestId>,
    /// Snapshots asked right behind a map push, in the same step.
    behind_push: BTreeSet<RequestId>,
    /// A snapshot of this protocol was taken on this connection: the next ones apply.
    module_ok: bool,
}

impl Checker {
    fn new(grace: Duration) -> Checker {
        Checker {
            grace,
            eligible: Default::default(),
            granted: Default::default(),
            breakouts: [false; 2],
            issued: vec![],
            in_flight: BTreeSet::new(),
            behind_push: BTreeSet::new(),
            module_ok: false,
        }
    }

    /// The request `id` stands for, if it is awaited.
    fn awaited(&self, id: RequestId) -> Option<&Request> {
        if !self.in_flight.contains(&id) {
            return None;
        }
        self.issued.iter().find(|(i, _)| *i == id).map(|(_, r)| r)
    }

    fn is_awaited_reset(&self, id: RequestId) -> bool {
        matches!(self.awaited(id), Some(Request::Reset { .. }))
    }

    /// The snapshot request awaited, if any.
    fn awaited_snapshot(&self) -> Option<RequestId> {
        let snapshot = |id: &RequestId| self.awaited(*id) == Some(&Request::Snapshot);
        self.in_flight.iter().copied().find(snapshot)
    }

    /// A new core: nothing was granted by it.
    fn restarted(&mut self) {
        self.granted = Default::default();
        // Its ids start again.
        self.issued.clear();
        self.in_flight.clear();
        self.behind_push.clear();
    }

    /// Feeds `input` at `now` and checks everything around it.
    fn step(
        &mut self,
        core: &mut Core,
        now: Instant,
        input: Input,
    ) -> Result<Vec<(RequestId, Request)>, TestCaseError> {
        let synced = core.synced();
        let before = [status_of(core, MATHE), status_of(core, PHYSIK)];
        self.note_input(&input, &before, synced);
        match &input {
            Input::Connected | Input::Disconnected => self.module_ok = false,
            Input::Snapshot { id, snapshot: s }
                if self.in_flight.contains(id) && s.protocol == Some(MODULE_PROTOCOL) =>
            {
                self.module_ok = true
            }
            _ => {}
        }
        let reset_answered =
            matches!(input, Input::Done { id, ok: true } if self.is_awaited_reset(id));
        core.handle(now, input.clone());
        let first = self.issued.len();
        drain(core, &mut self.issued, &mut VecDeque::new());
        let out = self.issued[first..].to_vec();
        match &input {
            Input::Done { id, .. } | Input::Snapshot { id, .. } => {
                self.in_flight.remove(id);
            }
            Input::Disconnected => self.in_flight.clear(),
            _ => {}
        }
        self.in_flight.extend(out.iter().map(|(id, _)| *id));
        for pair in out.windows(2) {
            if let [(_, Request::PushMap(_)), (id, Request::Snapshot)] = pair {
                self.behind_push.insert(*id);
            }
        }
        let after = [status_of(core, MATHE), status_of(core, PHYSIK)];
        let ctx = format!("input {input:?}\nout {out:?}\nbefore {before:?}\nafter {after:?}");

        if !synced && matches!(input, Input::Tick) {
            prop_assert!(
                out.iter().all(|(_, r)| *r == Request::Snapshot),
                "tick before sync acted\n{}",
                ctx
            );
        }
        let mut resets = [0; 2];
        for (_, action) in &out {
            match action {
                // Asked on connecting, re-asked of a module of another protocol, the
                // map pushed once a snapshot shows the protocol.
                Request::Snapshot => {
                    prop_assert!(
                        matches!(
                            input,
                            Input::Connected | Input::Tick | Input::Snapshot { .. }
                        ),
                        "{}",
                        ctx
                    );
                }
                Request::PushMap(_) => {
                    prop_assert!(matches!(input, Input::Snapshot { .. }), "{}", ctx);
                }
                Request::GrantOwner { room, jid } => {
                    let r = managed(room);
                    prop_assert!(r.is_some(), "grant for an unmanaged room\n{}", ctx);
                    let r = r.unwrap();
                    prop_assert!(!is_service_jid(jid), "grant to a service\n{}", ctx);
                    prop_assert!(!jid.contains('/'), "grant to a full JID\n{}", ctx);
                    prop_assert!(
                        self.eligible[r].contains(jid),
                        "grant to {} who never entered keyed nor was made owner by an organizer\n{}",
                        jid,
                        ctx
                    );
                    prop_assert!(
                        self.granted[r].insert(jid.clone()),
                        "second grant to {}\n{}",
                        jid,
                        ctx
                    );
                }
                Request::RevokeOwner { room, jid, .. } => {
                    let r = managed(room);
                    prop_assert!(r.is_some(), "revoke in an unmanaged room\n{}", ctx);
                    let r = r.unwrap();
                    prop_assert!(!is_service_jid(jid), "revoke from a service\n{}", ctx);
                    prop_assert!(!jid.contains('/'), "revoke from a full JID\n{}", ctx);
                    // DESIGN: raumwart never fights focus while no organizer is in.
                    prop_assert!(after[r].organizer, "revoke with no organizer in\n{}", ctx);
                }
                Request::Reset {
                    room,
                    reason,
                    message,
                    ..
                } => {
                    let r = managed(room);
                    prop_assert!(r.is_some(), "reset of an unmanaged room\n{}", ctx);
                    let r = r.unwrap();
                    resets[r] += 1;
                    self.check_reset(
                        room,
                        &input,
                        reset_answered,
                        now,
                        *reason,
                        message,
                        &before[r],
                        &after[r],
                        &ctx,
                    )?;
                }
            }
        }
        prop_assert!(resets.iter().all(|&n| n <= 1), "two resets\n{}", ctx);

        for (r, (b, a)) in before.iter().zip(&after).enumerate() {
            self.check_status(a, now, self.breakouts[r], &ctx)?;
            let reset_here = resets[r] == 1;
            // DESIGN: the last person leaving ends the session at once.
            if synced && matches!(input, Input::Event(Event::Left { .. })) {
                let left_here = matches!(&input, Input::Event(Event::Left { room, .. }) if managed(room) == Some(r));
                if left_here && ending_reason(b.phase).is_none() && !self.breakouts[r] {
                    if b.people > 0 && a.people == 0 {
                        prop_assert!(reset_here, "last one out, no reset\n{}", ctx);
                    }
                    // DESIGN: students remain without organizer: grace (or the end).
                    if b.organizer && a.people > 0 && !a.organizer {
                        if self.grace.is_zero() {
                            prop_assert!(reset_here, "{}", ctx);
                        } else {
                            prop_assert_eq!(
                                a.phase,
                                Phase::Grace {
                                    deadline: now + self.grace
                                },
                                "{}",
                                ctx
                            );
                        }
                    }
                }
            }
            // A grace period, once started, keeps its deadline; only the switch window of
            // an empty main room with breakout rooms gives way to the real grace period.
            if let (Phase::Grace { deadline: was }, Phase::Grace { deadline: is }) =
                (b.phase, a.phase)
            {
                if !matches!(input, Input::Snapshot { .. }) && b.people > 0 {
                    prop_assert_eq!(was, is, "grace deadline moved\n{}", ctx);
                }
            }
            // Ticks end what is due, and only that.
            if synced && matches!(input, Input::Tick) {
                let due = match b.phase {
                    Phase::Grace { deadline } => deadline <= now,
                    Phase::Ending { retry, .. } => retry.is_some_and(|t| t <= now),
                    _ => false,
                };
                prop_assert_eq!(due, reset_here, "tick\n{}", ctx);
            }
        }

        let expected = if core.synced() {
            after
                .iter()
                .filter_map(|s| match s.phase {
                    Phase::Grace { deadline } => Some(deadline),
                    Phase::Ending { retry, .. } => retry,
                    _ => None,
                })
                .min()
        } else if core.module_mismatch().is_some() {
            // A module of another protocol is asked again at its own time (checked
            // below: never in the past after a tick).
            core.next_deadline()
        } else {
            None
        };
        prop_assert_eq!(core.next_deadline(), expected, "{}", ctx);
        if matches!(input, Input::Tick) {
            if let Some(d) = core.next_deadline() {
                prop_assert!(d > now, "deadline in the past after a tick\n{}", ctx);
            }
        }
        Ok(out)
    }

    /// Whether the core applies snapshot `s`, the answer to `id`: it is awaited, from a
    /// module of this protocol, and shows this map without problems (or was asked behind
    /// its push, or the map went out on this connection already).
    fn applies(&self, id: RequestId, s: &Snapshot) -> bool {
        self.in_flight.contains(&id)
            && s.protocol == Some(MODULE_PROTOCOL)
            && (self.module_ok
                || (s.gen == room_map().gen && s.problems.is_empty())
                || self.behind_push.contains(&id))
    }

    fn note_input(&mut self, input: &Input, before: &[Status; 2], synced: bool) {
        // The core waits for the snapshot, which holds whatever came before it.
        if !synced && matches!(input, Input::Event(e) if !matches!(e, Event::WrongPassword { .. }))
        {
            return;
        }
        match input {
            Input::Event(Event::JoinedBreakout { room, .. })
            | Input::Event(Event::BreakoutsActive { room }) => {
                if let Some(r) = managed(room) {
                    self.breakouts[r] = true;
                }
            }
            Input::Done { id, ok: true } if self.is_awaited_reset(*id) => {
                let Some(Request::Reset { room, .. }) = self.awaited(*id).cloned() else {
                    unreachable!("a reset")
                };
                if let Some(r) = managed(&room) {
                    self.granted[r].clear();
                    if ending_reason(before[r].phase).is_some() {
                        self.breakouts[r] = false;
                    }
                }
            }
            Input::Event(Event::Destroyed { room }) => {
                if let Some(r) = managed(room) {
                    self.granted[r].clear();
                    self.breakouts[r] = false;
                }
            }
            Input::Event(Event::Joined {
                room,
                occupant,
                keyed: true,
            }) => {
                if let Some(r) = managed(room) {
                    if !is_service_jid(occupant) {
                        self.eligible[r].insert(bare(occupant).to_owned());
                    }
                }
            }
            Input::Event(Event::Affiliation {
                room,
                jid,
                affiliation,
                actor,
                ..
            }) => {
                if let Some(r) = managed(room) {
                    if affiliation == "owner" {
                        if self.eligible[r].contains(actor) {
                            self.eligible[r].insert(jid.clone());
                        }
                    } else {
                        self.granted[r].remove(jid);
                    }
                }
            }
            Input::Done { id, ok: false } => {
                if let Some(Request::GrantOwner { room, jid }) = self.awaited(*id).cloned() {
                    if let Some(r) = managed(&room) {
                        self.granted[r].remove(&jid);
                    }
                }
            }
            Input::Snapshot { id, snapshot: s } if self.applies(*id, s) => {
                self.granted = Default::default();
                for (r, name) in [MATHE, PHYSIK].into_iter().enumerate() {
                    match s.rooms.iter().rev().find(|x| x.name == name) {
                        Some(x) => {
                            self.breakouts[r] = x.occupants.iter().any(|o| o.breakout.is_some())
                        }
                        None if before[r].session_start.is_some() => self.breakouts[r] = false,
                        None => {}
                    }
                }
                for room in &s.rooms {
                    if let Some(r) = managed(&room.name) {
                        for o in room.occupants.iter().filter(|o| o.keyed) {
                            if !is_service_jid(&o.jid) {
                                self.eligible[r].insert(bare(&o.jid).to_owned());
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_reset(
        &self,
        room: &str,
        input: &Input,
        reset_answered: bool,
        now: Instant,
        reason: EndReason,
        message: &Option<String>,
        b: &Status,
        a: &Status,
        ctx: &str,
    ) -> Result<(), TestCaseError> {
        let is_snapshot = matches!(input, Input::Snapshot { .. });
        prop_assert_eq!(ending_reason(a.phase), Some(reason), "{}", ctx);
        prop_assert!(
            matches!(a.phase, Phase::Ending { retry: None, .. }),
            "{}",
            ctx
        );
        // Removed people are told why; an empty room needs no message.
        prop_assert_eq!(message.is_some(), a.people > 0, "{}", ctx);
        if let Some(m) = message {
            prop_assert_eq!(m.as_str(), END);
        }
        // Only a room that had a session is reset.
        let joined = matches!(input, Input::Event(Event::Joined { .. }));
        prop_assert!(
            b.session_start.is_some() || is_snapshot || (joined && self.grace.is_zero()),
            "reset without a session\n{}",
            ctx
        );
        if let Input::Snapshot { snapshot: s, .. } = input {
            // A room missing from the snapshot is gone already; an empty one that is
            // not persistent was just created (by focus) unless a session was known.
            let seen = s.rooms.iter().rev().find(|x| x.name == room);
            prop_assert!(seen.is_some(), "reset of a room that is gone\n{}", ctx);
            let seen = seen.unwrap();
            prop_assert!(
                seen.persistent || b.session_start.is_some() || a.people > 0,
                "reset of a fresh room\n{}",
                ctx
            );
        }
        match b.phase {
            Phase::Ending { retry, .. } => {
                // A reset under way is re-issued only by its retry timer or a re-sync,
                // or a new session (joined meanwhile) ends at once with zero grace.
                let ok = match input {
                    Input::Tick => retry.is_some_and(|t| t <= now),
                    Input::Snapshot { .. } => true,
                    Input::Done { .. } if reset_answered => {
                        self.grace.is_zero() && a.people > 0 && !a.organizer
                    }
                    _ => false,
                };
                prop_assert!(ok, "reset re-issued\n{}", ctx);
            }
            _ => {
                // An organizer inside is never removed by a session's own end.
                prop_assert!(!a.organizer, "reset with an organizer inside\n{}", ctx);
            }
        }
        Ok(())
    }

    fn check_status(
        &self,
        s: &Status,
        now: Instant,
        breakouts: bool,
        ctx: &str,
    ) -> Result<(), TestCaseError> {
        if let Some(start) = s.session_start {
            prop_assert!(start <= now, "{}", ctx);
        }
        match s.phase {
            Phase::Idle => {
                prop_assert_eq!(s.people, 0, "idle with people\n{}", ctx);
                prop_assert!(s.session_start.is_none(), "idle with a session\n{}", ctx);
            }
            Phase::Active => {
                prop_assert!(s.people > 0 && s.organizer, "{}", ctx);
                prop_assert!(s.session_start.is_some(), "{}", ctx);
            }
            Phase::Grace { deadline } if breakouts => {
                prop_assert!(!s.organizer, "{}", ctx);
                let longest = self.grace.max(SWITCH_WINDOW);
                prop_assert!(deadline <= now + longest, "grace too long\n{}", ctx);
                let shortest = self.grace.min(SWITCH_WINDOW);
                let start = s.session_start;
                prop_assert!(start.is_some_and(|t| t + shortest <= deadline), "{}", ctx);
            }
            Phase::Grace { deadline } => {
                prop_assert!(s.people > 0 && !s.organizer, "{}", ctx);
                prop_assert!(
                    !self.grace.is_zero(),
                    "grace with zero grace period\n{}",
                    ctx
                );
                prop_assert!(deadline <= now + self.grace, "grace too long\n{}", ctx);
                let start = s.session_start;
                prop_assert!(start.is_some_and(|t| t + self.grace <= deadline), "{}", ctx);
            }
            Phase::Ending { retry, .. } => {
                prop_assert!(s.session_start.is_some(), "{}", ctx);
                if let Some(t) = retry {
                    prop_assert!(t <= now + RETRY, "{}", ctx);
                }
            }
        }
        Ok(())
    }
}

// A simulated Prosody that the core's view is checked against.

#[derive(Debug, Clone)]
enum Op {
    Join {
        room: usize,
        who: usize,
        keyed: bool,
    },
    Leave {
        room: usize,
        who: usize,
    },
    /// Destroyed by someone else (admin, Prosody).
    Destroy {
        room: usize,
    },
    Persist {
        room: usize,
    },
    Affiliate {
        room: usize,
        target: usize,
        owner: bool,
        actor: usize,
    },
    /// Jitsi's lobby on or off, as lib-jitsi-meet does it: everyone inside without an
    /// affiliation is made member first, then members-only is submitted.
    Lobby {
        room: usize,
        on: bool,
    },
    /// Prosody answers the oldest request.
    Serve {
        fail: bool,
    },
    Wait {
        ms: u64,
    },
    Tick {
        ms: u64,
    },
    TickAtDeadline,
    Disconnect,
    Connect,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let room = prop_oneof![4 => Just(0usize), 3 => Just(1usize), 1 => Just(2usize)];
    // Half the picks are among those inside (see `Sim::pick`).
    let who = 0..2 * BARES.len();
    prop_oneof![
        8 => (room.clone(), 0..BARES.len(), any::<bool>())
            .prop_map(|(room, who, keyed)| Op::Join { room, who, keyed }),
        6 => (room.clone(), who.clone()).prop_map(|(room, who)| Op::Leave { room, who }),
        1 => room.clone().prop_map(|room| Op::Destroy { room }),
        1 => (0..2usize).prop_map(|room| Op::Persist { room }),
        3 => (room, who.clone(), any::<bool>(), who).prop_map(|(room, target, owner, actor)| {
            Op::Affiliate { room, target, owner, actor }
        }),
        1 => (0..2usize, any::<bool>()).prop_map(|(room, on)| Op::Lobby { room, on }),
        6 => prop::bool::weighted(0.25).prop_map(|fail| Op::Serve { fail }),
        2 => (0..120_000u64).prop_map(|ms| Op::Wait { ms }),
        3 => (0..120_000u64).prop_map(|ms| Op::Tick { ms }),
        3 => Just(Op::TickAtDeadline),
        1 => Just(Op::Disconnect),
        1 => Just(Op::Connect),
        1 => Just(Op::Restart),
    ]
}

#[derive(Debug, Clone)]
struct Session {
    keyed: bool,
    /// Organizer as far as the core can know.
    organizer: bool,
}

#[derive(Debug, Clone, Default)]
struct WorldRoom {
    occupants: BTreeMap<String, Session>,
    owners: BTreeSet<String>,
    persistent: bool,
    /// Bare JIDs that are organizers in this session, as far as the core can know:
    /// every session of theirs is an organizer (main room and breakout rooms alike).
    organizers: BTreeSet<String>,
    /// Members-only (the lobby), and the bare JIDs that held member (before any owner).
    members_only: bool,
    members: BTreeSet<String>,
}

impl WorldRoom {
    fn exists(&self) -> bool {
        self.persistent || !self.occupants.is_empty()
    }
}

#[derive(Debug)]
enum Pending {
    Grant { room: usize, jid: String },
    Reset { room: usize },
}

struct Sim {
    core: Core,
    check: Checker,
    grace: Duration,
    now: Instant,
    connected: bool,
    world: [WorldRoom; 2],
    /// Requests Prosody has yet to answer, oldest first.
    pending: VecDeque<(RequestId, Pending)>,
    resource: u64,
}

impl Sim {
    fn new(grace: Duration) -> Sim {
        Sim {
            core: Core::new(room_map(), policy(grace)),
            check: Checker::new(grace),
            grace,
            now: Instant::now(),
            connected: false,
            world: Default::default(),
            pending: VecDeque::new(),
            resource: 0,
        }
    }

    fn feed(&mut self, input: Input) -> Result<Vec<(RequestId, Request)>, TestCaseError> {
        let out = self.check.step(&mut self.core, self.now, input)?;
        for (id, action) in &out {
            match action {
                Request::GrantOwner { room, jid } => {
                    let r = managed(room).expect("checked");
                    let inside = self.world[r].occupants.keys().any(|o| bare(o) == jid);
                    prop_assert!(inside, "grant to {} who is not inside: {:?}", jid, out);
                    let grant = Pending::Grant {
                        room: r,
                        jid: jid.clone(),
                    };
                    self.pending.push_back((*id, grant));
                }
                Request::Reset { room, .. } => {
                    let r = managed(room).expect("checked");
                    self.pending.push_back((*id, Pending::Reset { room: r }));
                }
                // Taking owner back never removes anyone: in a members-only room, less
                // than member would (status 321); and whoever held member keeps it.
                Request::RevokeOwner {
                    room,
                    jid,
                    to: RevokeTo::None,
                } => {
                    let w = &self.world[managed(room).expect("checked")];
                    prop_assert!(
                        !w.members_only,
                        "owner taken back to none from {} in a members-only room: {:?}",
                        jid,
                        out
                    );
                    prop_assert!(
                        !w.members.contains(jid),
                        "{} held member, owner taken back to none: {:?}",
                        jid,
                        out
                    );
                }
                _ => {}
            }
        }
        if self.core.synced() {
            for (r, name) in [MATHE, PHYSIK].into_iter().enumerate() {
                let s = status_of(&self.core, name);
                let people: Vec<&Session> = self.world[r]
                    .occupants
                    .iter()
                    .filter(|(jid, _)| !is_service_jid(jid))
                    .map(|(_, s)| s)
                    .collect();
                prop_assert_eq!(
                    s.people,
                    people.len(),
                    "people in {}: {:?}",
                    name,
                    self.world[r]
                );
                prop_assert_eq!(
                    s.organizer,
                    people.iter().any(|p| p.organizer),
                    "organizer in {}: {:?}",
                    name,
                    self.world[r]
                );
                // A reset under way is either asked for or waits for its retry.
                if let Phase::Ending { retry: None, .. } = s.phase {
                    let asked = self
                        .pending
                        .iter()
                        .any(|(_, p)| matches!(p, Pending::Reset { room } if *room == r));
                    prop_assert!(asked, "{} is stuck ending: {:?}", name, s);
                }
            }
        }
        Ok(out)
    }

    fn event(&mut self, event: Event) -> Result<Vec<(RequestId, Request)>, TestCaseError> {
        if self.connected {
            self.feed(Input::Event(event))
        } else {
            Ok(vec![])
        }
    }

    fn sync(&mut self) -> Result<(), TestCaseError> {
        self.pending.clear();
        self.connected = true;
        // What the core learns from the snapshot: who entered keyed; and it still knows
        // whom it knew as organizer. Any session of an organizer is one.
        for w in &mut self.world {
            if !w.exists() {
                w.organizers.clear();
            }
            for (jid, s) in &w.occupants {
                if (s.keyed || s.organizer) && !is_service_jid(jid) {
                    w.organizers.insert(bare(jid).to_owned());
                }
            }
            for (jid, s) in w.occupants.iter_mut() {
                s.organizer = w.organizers.contains(bare(jid));
            }
        }
        let out = self.feed(Input::Connected)?;
        prop_assert_eq!(out.len(), 1);
        let id = out[0].0;
        let rooms = (0..2)
            .filter(|&r| self.world[r].exists())
            .map(|r| {
                let w = &self.world[r];
                SnapshotRoom {
                    name: ROOMS[r].into(),
                    persistent: w.persistent,
                    members_only: w.members_only,
                    occupants: w
                        .occupants
                        .iter()
                        .map(|(jid, s)| occupant(jid, s.keyed, w.owners.contains(bare(jid))))
                        .collect(),
                }
            })
            .collect();
        self.feed(Input::Snapshot {
            id,
            snapshot: snapshot(rooms),
        })?;
        // Every organizer inside is owner, or about to be.
        for r in 0..2 {
            for (jid, _) in self.world[r]
                .occupants
                .iter()
                .filter(|(jid, s)| s.organizer && !is_service_jid(jid))
            {
                prop_assert!(
                    self.owner_or_asked(r, bare(jid)),
                    "{} not owner after sync",
                    jid
                );
            }
        }
        Ok(())
    }

    /// A bare JID: `BARES[i]` for small `i`, else the bare JID of someone inside.
    fn pick(&self, room: usize, i: usize) -> String {
        let inside = &self.world[room].occupants;
        match inside
            .keys()
            .nth(i.saturating_sub(BARES.len()) % inside.len().max(1))
        {
            Some(jid) if i >= BARES.len() => bare(jid).to_owned(),
            _ => BARES[i % BARES.len()].to_owned(),
        }
    }

    fn owner_or_asked(&self, r: usize, jid: &str) -> bool {
        self.world[r].owners.contains(jid)
            || self.pending.iter().any(
                |(_, p)| matches!(p, Pending::Grant { room, jid: j } if *room == r && j == jid),
            )
    }

    /// Prosody drops an empty room that is not persistent.
    fn gone(&mut self, r: usize) -> Result<(), TestCaseError> {
        // The core forgets the session's organizers when it hears of the destroy; one
        // it misses (disconnected) leaves them in place if the room is back by the
        // re-sync (see the ignored `organizers_of_a_room_renewed_while_away_are_forgotten`).
        let organizers = std::mem::take(&mut self.world[r].organizers);
        self.world[r] = WorldRoom::default();
        if !self.connected {
            self.world[r].organizers = organizers;
        }
        self.event(Event::Destroyed {
            room: ROOMS[r].into(),
        })?;
        Ok(())
    }

    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Join {
                room: 2,
                who,
                keyed,
            } => {
                let out = self.event(Event::Joined {
                    room: ELSEWHERE.into(),
                    occupant: format!("{}/x", BARES[who]),
                    keyed,
                })?;
                prop_assert!(out.is_empty());
            }
            Op::Leave { room: 2, who } => {
                let out = self.event(Event::Left {
                    room: ELSEWHERE.into(),
                    occupant: format!("{}/x", BARES[who % BARES.len()]),
                })?;
                prop_assert!(out.is_empty());
            }
            Op::Destroy { room: 2 } => {
                let out = self.event(Event::Destroyed {
                    room: ELSEWHERE.into(),
                })?;
                prop_assert!(out.is_empty());
            }
            Op::Affiliate {
                room: 2,
                target,
                actor,
                ..
            } => {
                let out = self.event(Event::Affiliation {
                    room: ELSEWHERE.into(),
                    jid: BARES[target % BARES.len()].into(),
                    affiliation: "owner".into(),
                    actor: BARES[actor % BARES.len()].into(),
                    previous: Some("member".into()),
                    members_only: Some(true),
                })?;
                prop_assert!(out.is_empty());
            }
            Op::Join { room, who, keyed } => {
                // Every connection has its own resource, as in Jitsi.
                self.resource += 1;
                let jid = format!("{}/r{}", BARES[who], self.resource);
                let w = &mut self.world[room];
                if keyed && self.connected && !is_service_jid(&jid) {
                    w.organizers.insert(BARES[who].into());
                }
                let organizer = keyed || (self.connected && w.organizers.contains(BARES[who]));
                // In a members-only room only members enter: the lobby's password, or the
                // module's organizer key, makes them one (no event).
                if w.members_only && !w.owners.contains(BARES[who]) && !is_service_jid(&jid) {
                    w.members.insert(BARES[who].into());
                }
                w.occupants
                    .insert(jid.clone(), Session { keyed, organizer });
                self.event(Event::Joined {
                    room: ROOMS[room].into(),
                    occupant: jid.clone(),
                    keyed,
                })?;
                if keyed && self.connected && !is_service_jid(&jid) {
                    let asked = self.owner_or_asked(room, BARES[who]);
                    prop_assert!(asked, "{} entered keyed, is not owner nor asked for", jid);
                }
            }
            Op::Leave { room, who } => {
                let who = self.pick(room, who);
                let found = self.world[room]
                    .occupants
                    .keys()
                    .find(|o| bare(o) == who)
                    .cloned();
                let Some(jid) = found else {
                    let out = self.event(Event::Left {
                        room: ROOMS[room].into(),
                        occupant: format!("{who}/nobody"),
                    })?;
                    prop_assert!(out.is_empty(), "left for an unknown occupant: {:?}", out);
                    return Ok(());
                };
                self.world[room].occupants.remove(&jid);
                self.event(Event::Left {
                    room: ROOMS[room].into(),
                    occupant: jid,
                })?;
                if !self.world[room].exists() {
                    self.gone(room)?;
                }
            }
            Op::Destroy { room } => {
                if self.world[room].exists() {
                    self.gone(room)?;
                }
            }
            Op::Persist { room } => {
                if self.world[room].exists() {
                    self.world[room].persistent = true;
                }
            }
            Op::Affiliate {
                room,
                target,
                owner,
                actor,
            } => {
                if !self.world[room].exists() {
                    return Ok(());
                }
                let (jid, actor) = (self.pick(room, target), self.pick(room, actor));
                let (jid, actor) = (jid.as_str(), actor.as_str());
                let w = &mut self.world[room];
                let previous = if w.owners.contains(jid) {
                    "owner"
                } else if w.members.contains(jid) {
                    "member"
                } else {
                    "none"
                };
                if owner {
                    w.owners.insert(jid.into());
                } else {
                    w.owners.remove(jid);
                    w.members.insert(jid.into());
                }
                // Only the core's view counts: a promotion it does not hear of is none.
                let by_organizer = w
                    .occupants
                    .iter()
                    .any(|(o, s)| s.organizer && bare(o) == actor && !is_service_jid(o));
                // An organizer's choice makes or unmakes an organizer (owner follows
                // organizer).
                if by_organizer && self.connected && !is_service_jid(jid) {
                    if owner {
                        w.organizers.insert(jid.into());
                    } else {
                        w.organizers.remove(jid);
                    }
                    for (_, s) in w.occupants.iter_mut().filter(|(o, _)| bare(o) == jid) {
                        s.organizer = owner;
                    }
                }
                let members_only = Some(w.members_only);
                self.event(Event::Affiliation {
                    room: ROOMS[room].into(),
                    jid: jid.into(),
                    affiliation: if owner { "owner" } else { "member" }.into(),
                    actor: actor.into(),
                    previous: Some(previous.into()),
                    members_only,
                })?;
            }
            Op::Lobby { room, on } => {
                if !self.world[room].exists() {
                    return Ok(());
                }
                let w = &mut self.world[room];
                // Sent by an owner inside (the teacher's client), else by nobody the
                // core counts.
                let actor = w
                    .occupants
                    .keys()
                    .map(|o| bare(o).to_owned())
                    .find(|o| w.owners.contains(o))
                    .unwrap_or_else(|| FOCUS_BARE.into());
                // Organizers are owners (or about to be: their grant is not asked of
                // this Sim's client, which sees the grant first).
                let newcomers: BTreeSet<String> = w
                    .occupants
                    .keys()
                    .filter(|o| !is_service_jid(o))
                    .map(|o| bare(o).to_owned())
                    .filter(|o| {
                        !w.owners.contains(o) && !w.members.contains(o) && !w.organizers.contains(o)
                    })
                    .collect();
                if on {
                    for jid in newcomers {
                        self.world[room].members.insert(jid.clone());
                        self.event(Event::Affiliation {
                            room: ROOMS[room].into(),
                            jid,
                            affiliation: "member".into(),
                            actor: actor.clone(),
                            previous: Some("none".into()),
                            members_only: Some(false),
                        })?;
                    }
                }
                self.world[room].members_only = on;
                self.event(Event::MembersOnly {
                    room: ROOMS[room].into(),
                    on,
                })?;
            }
            Op::Serve { fail } => match self.pending.pop_front() {
                None => {}
                Some((id, Pending::Grant { room, jid })) => {
                    let ok = !fail && self.world[room].exists();
                    if ok {
                        self.world[room].owners.insert(jid.clone());
                    }
                    self.feed(Input::Done { id, ok })?;
                }
                Some((id, Pending::Reset { room })) => {
                    // Prosody announces the destroy before it answers.
                    if !fail && self.world[room].exists() {
                        self.gone(room)?;
                    }
                    self.feed(Input::Done { id, ok: !fail })?;
                }
            },
            Op::Wait { ms } => self.now += Duration::from_millis(ms),
            Op::Tick { ms } => {
                self.now += Duration::from_millis(ms);
                self.feed(Input::Tick)?;
            }
            Op::TickAtDeadline => {
                if let Some(d) = self.core.next_deadline() {
                    self.now = self.now.max(d);
                }
                self.feed(Input::Tick)?;
            }
            Op::Disconnect => {
                self.connected = false;
                self.pending.clear();
                self.feed(Input::Disconnected)?;
            }
            Op::Connect => self.sync()?,
            Op::Restart => {
                self.core = Core::new(room_map(), policy(self.grace));
                self.check.restarted();
                self.pending.clear();
                // A new daemon knows only who entered keyed.
                for w in &mut self.world {
                    w.organizers.clear();
                    for s in w.occupants.values_mut() {
                        s.organizer = s.keyed;
                    }
                }
                if self.connected {
                    self.sync()?;
                }
            }
        }
        Ok(())
    }
}

fn grace() -> impl Strategy<Value = Duration> {
    prop_oneof![
        1 => Just(Duration::ZERO),
        1 => Just(Duration::from_secs(1)),
        3 => Just(GRACE),
    ]
}

/// Stands for the snapshot request awaited; one is made (`Connected`) if none is.
const LATEST_SNAPSHOT: RequestId = RequestId(u64::MAX - 1);

/// Inputs that need not make sense together: stale answers, strangers, odd snapshots.
fn raw_input() -> impl Strategy<Value = Input> {
    let room = prop_oneof![3 => Just(MATHE), 3 => Just(PHYSIK), 1 => Just(ELSEWHERE)]
        .prop_map(String::from);
    let full = (0..BARES.len(), 0..2u8).prop_map(|(b, r)| format!("{}/r{r}", BARES[b]));
    let bare_jid = (0..BARES.len()).prop_map(|b| BARES[b].to_owned());
    let breakout = prop_oneof![Just(BREAKOUT_1), Just(BREAKOUT_2)].prop_map(String::from);
    let snapshot_occupant = (
        full.clone(),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.2, breakout.clone()),
    )
        .prop_map(|(jid, keyed, owner, breakout)| SnapshotOccupant {
            breakout,
            ..occupant(&jid, keyed, owner)
        });
    let snapshot_room = (
        room.clone(),
        any::<bool>(),
        prop::collection::vec(snapshot_occupant, 0..4),
    )
        .prop_map(|(name, persistent, occupants)| SnapshotRoom {
            name,
            persistent,
            members_only: persistent && occupants.len() % 2 == 1,
            occupants,
        });
    prop_oneof![
        1 => Just(Input::Connected),
        1 => Just(Input::Disconnected),
        // Mostly a module of this protocol with this map; at times another map, or a
        // module of another release.
        1 => (prop::collection::vec(snapshot_room, 0..3), 0..10u8)
            .prop_map(|(rooms, kind)| Input::Snapshot {
                id: LATEST_SNAPSHOT,
                snapshot: Snapshot {
                    protocol: match kind {
                        0 => None,
                        1 => Some(MODULE_PROTOCOL + 1),
                        _ => Some(MODULE_PROTOCOL),
                    },
                    gen: if kind == 2 { "other".into() } else { room_map().gen },
                    ..snapshot(rooms)
                },
            }),
        8 => (room.clone(), full.clone(), any::<bool>()).prop_map(|(room, occupant, keyed)| {
            Input::Event(Event::Joined { room, occupant, keyed })
        }),
        6 => (room.clone(), full.clone()).prop_map(|(room, occupant)| {
            Input::Event(Event::Left { room, occupant })
        }),
        2 => (room.clone(), full, breakout).prop_map(|(room, occupant, breakout)| {
            Input::Event(Event::JoinedBreakout { room, occupant, breakout })
        }),
        1 => room.clone().prop_map(|room| Input::Event(Event::BreakoutsActive { room })),
        1 => room.clone().prop_map(|room| Input::Event(Event::Destroyed { room })),
        2 => (
            room.clone(),
            bare_jid.clone(),
            any::<bool>(),
            bare_jid.clone(),
            prop::option::of(prop_oneof![Just("none"), Just("member"), Just("owner")]),
            prop::option::of(any::<bool>()),
        )
            .prop_map(|(room, jid, owner, actor, previous, members_only)| {
                Input::Event(Event::Affiliation {
                    room,
                    jid,
                    affiliation: if owner { "owner" } else { "none" }.into(),
                    actor,
                    previous: previous.map(String::from),
                    members_only,
                })
            }),
        1 => (room.clone(), any::<bool>())
            .prop_map(|(room, on)| Input::Event(Event::MembersOnly { room, on })),
        // Answers to requests issued or not, awaited or not.
        5 => (0..32u64, any::<bool>()).prop_map(|(id, ok)| Input::Done { id: RequestId(id), ok }),
        4 => Just(Input::Tick),
    ]
}

fn delay() -> impl Strategy<Value = Duration> {
    prop_oneof![
        3 => Just(Duration::ZERO),
        3 => (0..10_000u64).prop_map(Duration::from_millis),
        2 => (0..120_000u64).prop_map(Duration::from_millis),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Against a simulated Prosody: the core's people and organizers match the rooms',
    /// and every invariant holds after every step.
    #[test]
    fn core_agrees_with_a_simulated_prosody(
        grace in grace(),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let mut sim = Sim::new(grace);
        sim.sync()?;
        for op in &ops {
            sim.run(op)?;
        }
    }

    /// Whatever arrives, in whatever order: the invariants still hold and nothing panics.
    #[test]
    fn invariants_hold_for_arbitrary_inputs(
        grace in grace(),
        inputs in prop::collection::vec((delay(), raw_input()), 1..100),
    ) {
        let mut core = Core::new(room_map(), policy(grace));
        let mut check = Checker::new(grace);
        let mut now = Instant::now();
        check.step(&mut core, now, Input::Connected)?;
        let id = check.awaited_snapshot().expect("asked for");
        check.step(&mut core, now, Input::Snapshot { id, snapshot: snapshot(vec![]) })?;
        for (delay, mut input) in inputs {
            now += delay;
            if let Input::Snapshot { id, .. } = &mut input {
                if *id == LATEST_SNAPSHOT {
                    if check.awaited_snapshot().is_none() {
                        check.step(&mut core, now, Input::Connected)?;
                    }
                    *id = check.awaited_snapshot().expect("asked for");
                }
            }
            check.step(&mut core, now, input)?;
        }
    }
}

fn after_restart(rooms: Vec<SnapshotRoom>) -> Snapshot {
    Snapshot {
        boot: "second-run".into(),
        ..snapshot(rooms)
    }
}

#[test]
fn a_session_prosody_lost_in_a_restart_waits_for_its_people_within_the_grace_period() {
    let mut h = Harness::lesson(Duration::from_secs(60));
    h.at(10);
    assert!(h.input(Input::Disconnected).is_empty());
    h.at(12);
    // Focus re-created the room already, or not yet: the same either way.
    let focus_only = vec![snapshot_room(
        MATHE,
        false,
        vec![occupant(FOCUS, false, true)],
    )];
    assert_eq!(h.connect(after_restart(focus_only)), []);
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline: h.t(70) });
    assert_eq!(h.join(MATHE, CARLA, false), []);
    assert_eq!(h.phase(MATHE), Phase::Grace { deadline: h.t(70) });
    assert_eq!(h.join(MATHE, ANNA_2, true), [grant(MATHE, ANNA_BARE)]);
    assert_eq!(h.phase(MATHE), Phase::Active);
    assert!(h
        .notes
        .pop_front()
        .is_some_and(|n| matches!(n, Note::SessionStarted { .. })));
    assert_eq!(h.notes.pop_front(), None, "the session never ended");
}

#[test]
fn a_session_prosody_lost_in_a_restart_is_reset_when_nobody_returns_in_time() {
    let mut h = Harness::lesson(Duration::from_secs(60));
    h.at(10);
    h.input(Input::Disconnected);
    h.at(12);
    assert_eq!(h.connect(after_restart(vec![])), []);
    h.at(70);
    assert_eq!(
        h.tick(),
        [reset(MATHE, EndReason::LastOrganizerLeft, false)]
    );
    // A restart noticed only after the grace period: reset at once.
    let mut h = Harness::lesson(Duration::from_secs(60));
    h.at(10);
    h.input(Input::Disconnected);
    h.at(80);
    assert_eq!(
        h.connect(after_restart(vec![])),
        [reset(MATHE, EndReason::GraceExpired, false)]
    );
}

#[test]
fn a_room_gone_without_a_prosody_restart_ends_its_session_at_once() {
    let mut h = Harness::lesson(Duration::from_secs(60));
    h.at(10);
    assert_eq!(h.reconnect(snapshot(vec![])), []);
    assert!(is_idle(&h.status(MATHE)));
}

// --- requests and their answers ------------------------------------------------------

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
