//! The session in virtual time: every test takes one `Instant::now()` as its base and
//! moves a clock by adding durations; stanzas go in as Prosody (or a guest) would send
//! them, and what the session writes and hands the core is read back.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::*;
use crate::component::protocol::{element, NS};
use crate::core::{
    Core, EndReason, Event, MapEntry, Output, Policy, RoomMap, Secret, Unmanaged, MODULE_PROTOCOL,
};
use tokio_xmpp::parsers::message::Id as MessageId;

const MUC: &str = "conference.meet.jitsi";
const LOBBY: &str = "lobby.meet.jitsi";
const COMPONENT: &str = "raumwart.meet.jitsi";
const ME: &str = "raumwart.meet.jitsi/raumwart";
const ROOM: &str = "mathe-5a@conference.meet.jitsi";
const BREAKOUT: &str = "mathe-5a-b1@breakout.meet.jitsi";
const GUEST: &str = "carla@guest.meet.jitsi/c1";
const ANNA: &str = "anna@meet.jitsi";

fn jid(s: &str) -> Jid {
    Jid::from_str(s).unwrap()
}

fn config() -> Xmpp {
    Xmpp {
        server: "localhost:5347".into(),
        component: COMPONENT.into(),
        secret: Secret::new("component-secret"),
        muc: MUC.into(),
        lobby_muc: Some(LOBBY.into()),
    }
}

/// `n` distinct request ids, as the core hands them out.
fn request_ids(n: usize) -> Vec<RequestId> {
    let policy = Policy {
        service_jids: vec![],
        unmanaged_rooms: Unmanaged::Allow,
        grace_period: Duration::from_secs(60),
        end_message: String::new(),
    };
    let map = RoomMap::new(BTreeMap::new(), Unmanaged::Allow, Duration::from_secs(60));
    let mut core = Core::new(map, policy);
    let now = Instant::now();
    (0..n)
        .map(|_| {
            core.handle(now, Input::Connected);
            let id = std::iter::from_fn(|| core.poll_output())
                .find_map(|o| match o {
                    Output::Request { id, .. } => Some(id),
                    Output::Note(_) => None,
                })
                .expect("the core asks for a snapshot when connected");
            core.handle(now, Input::Disconnected);
            id
        })
        .collect()
}

/// A map whose push takes `chunks` chunks: each room name and its separator are 12 bytes.
fn rooms_in_chunks(chunks: usize) -> Arc<RoomMap> {
    rooms((chunks - 1) * (protocol::MAP_CHUNK_BYTES / 12) + 1)
}

fn rooms(n: usize) -> Arc<RoomMap> {
    let rooms = (0..n)
        .map(|i| {
            let entry = MapEntry {
                school: "gs-nord".into(),
                password: Secret::new("schulpasswort-1"),
            };
            (format!("raum-{i:06}"), entry)
        })
        .collect();
    Arc::new(RoomMap::new(
        rooms,
        Unmanaged::Allow,
        Duration::from_secs(60),
    ))
}

fn grant() -> Request {
    Request::GrantOwner {
        room: "mathe-5a".into(),
        jid: ANNA.into(),
    }
}

/// An IQ the session wrote: its id, addressee, and whether it asks to set.
#[derive(Debug, Clone, PartialEq)]
struct Sent {
    id: String,
    to: Jid,
    set: bool,
    payload: Element,
}

struct Harness {
    session: Session,
    base: Instant,
    now: Instant,
}

impl Harness {
    /// A session whose IQ ids count up: "iq-1", "iq-2", ...
    fn new() -> Harness {
        let mut n = 0;
        let ids: Ids = Box::new(move || {
            n += 1;
            Ok(format!("iq-{n}"))
        });
        let base = Instant::now();
        Harness {
            session: Session::with_ids(&config(), ids).unwrap(),
            base,
            now: base,
        }
    }

    /// Moves the virtual clock to `at` after the start.
    fn at(&mut self, at: Duration) {
        self.now = self.base + at;
    }

    fn transmitted(&mut self) -> Vec<Stanza> {
        std::iter::from_fn(|| self.session.poll_transmit()).collect()
    }

    /// The IQ requests written since the last look; anything else fails the test.
    fn sent(&mut self) -> Vec<Sent> {
        self.transmitted()
            .into_iter()
            .map(|s| {
                let (set, from, to, id, payload) = match s {
                    Stanza::Iq(Iq::Get {
                        from,
                        to,
                        id,
                        payload,
                    }) => (false, from, to, id, payload),
                    Stanza::Iq(Iq::Set {
                        from,
                        to,
                        id,
                        payload,
                    }) => (true, from, to, id, payload),
                    other => panic!("not an IQ request: {other:?}"),
                };
                assert_eq!(from, Some(jid(ME)));
                let to = to.unwrap();
                Sent {
                    id,
                    to,
                    set,
                    payload,
                }
            })
            .collect()
    }

    fn outcomes(&mut self) -> Vec<Outcome> {
        std::iter::from_fn(|| self.session.poll_outcome()).collect()
    }

    fn request(&mut self, id: RequestId, request: Request) -> Vec<Sent> {
        self.session.send_request(self.now, id, request, self.now);
        self.sent()
    }

    fn result(&mut self, from: Option<&str>, id: &str, payload: Option<Element>) {
        let iq = Iq::Result {
            from: from.map(jid),
            to: Some(jid(ME)),
            id: id.into(),
            payload,
        };
        self.session.handle_stanza(self.now, Stanza::Iq(iq));
    }

    fn error(&mut self, from: Option<&str>, id: &str, condition: DefinedCondition) {
        let error = StanzaError::new(ErrorType::Cancel, condition, "en", "no");
        let iq = Iq::Error {
            from: from.map(jid),
            to: Some(jid(ME)),
            id: id.into(),
            error,
            payload: None,
        };
        self.session.handle_stanza(self.now, Stanza::Iq(iq));
    }

    /// The core's request `id` answered, and nothing else.
    #[track_caller]
    fn expect_done(&mut self, kind: RequestKind, id: RequestId, ok: bool, took: Duration) {
        assert_eq!(self.outcomes(), done(kind, id, ok, took));
    }

    /// Nothing written, nothing for the core.
    fn quiet(&mut self) {
        assert_eq!(self.transmitted(), vec![]);
        assert_eq!(self.outcomes(), vec![]);
    }
}

fn done(kind: RequestKind, id: RequestId, ok: bool, took: Duration) -> Vec<Outcome> {
    vec![
        Outcome::Answered { kind, ok, took },
        Outcome::Input(Input::Done { id, ok }),
    ]
}

// --- answers ---------------------------------------------------------------------------

#[test]
fn an_answer_counts_only_from_the_address_asked() {
    let muc = Jid::from_str("conference.meet.jitsi").unwrap();
    let room = Jid::from_str("r@conference.meet.jitsi").unwrap();
    let guest = Jid::from_str("g@meet.jitsi/x").unwrap();
    let now = Instant::now();
    let mut pending = HashMap::new();
    let flight = InFlight {
        purpose: Purpose::Ping,
        to: muc.clone(),
        cause: now,
        deadline: now,
    };
    pending.insert("a".to_owned(), flight);
    for forged in [Some(&guest), Some(&room), None] {
        assert!(take_answered(&mut pending, "a", forged).is_none());
    }
    assert!(take_answered(&mut pending, "b", Some(&muc)).is_none());
    assert!(take_answered(&mut pending, "a", Some(&muc)).is_some());
    assert!(pending.is_empty());
}

#[test]
fn a_request_goes_out_as_one_iq_from_the_component_to_the_room() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    let sent = h.request(id, grant());
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].id.as_str(), &sent[0].to), ("iq-1", &jid(ROOM)));
    assert!(sent[0].set);
    assert_eq!(sent[0].payload, protocol::grant_owner(ANNA));
    assert_eq!(h.session.next_timeout(), Some(h.base + IQ_TIMEOUT));
    h.quiet();
}

#[test]
fn a_forged_answer_from_another_address_changes_nothing() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    let iq = h.request(id, grant())[0].id.clone();
    h.at(Duration::from_millis(10));
    // A guest who guessed the id, the MUC service instead of the room, no sender.
    for forged in [Some(GUEST), Some(MUC), Some(BREAKOUT), None] {
        h.result(forged, &iq, None);
        h.quiet();
        h.error(forged, &iq, DefinedCondition::Forbidden);
        h.quiet();
    }
    // Still in flight, with its deadline; the room's own answer counts.
    assert_eq!(h.session.next_timeout(), Some(h.base + IQ_TIMEOUT));
    h.at(Duration::from_millis(20));
    h.result(Some(ROOM), &iq, None);
    let took = Duration::from_millis(20);
    h.expect_done(RequestKind::GrantOwner, id, true, took);
    assert_eq!(h.session.next_timeout(), None);
}

#[test]
fn an_answer_with_an_unknown_id_changes_nothing() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    let iq = h.request(id, grant())[0].id.clone();
    h.result(Some(ROOM), "iq-99", None);
    h.error(Some(ROOM), "", DefinedCondition::ItemNotFound);
    h.quiet();
    h.result(Some(ROOM), &iq, None);
    h.expect_done(RequestKind::GrantOwner, id, true, Duration::ZERO);
}

#[test]
fn an_answer_counts_once() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    let iq = h.request(id, grant())[0].id.clone();
    h.error(Some(ROOM), &iq, DefinedCondition::Forbidden);
    h.expect_done(RequestKind::GrantOwner, id, false, Duration::ZERO);
    h.result(Some(ROOM), &iq, None);
    h.quiet();
}

#[test]
fn an_answer_reports_the_time_from_the_input_that_caused_it() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    let cause = h.now;
    h.at(Duration::from_millis(3));
    h.session.send_request(h.now, id, grant(), cause);
    let iq = h.sent()[0].id.clone();
    assert_eq!(h.session.next_timeout(), Some(h.now + IQ_TIMEOUT));
    h.at(Duration::from_millis(40));
    h.result(Some(ROOM), &iq, None);
    let took = Duration::from_millis(40);
    h.expect_done(RequestKind::GrantOwner, id, true, took);
}

// --- map pushes --------------------------------------------------------------------------

#[test]
fn a_map_push_is_answered_once_by_its_last_chunk_and_taken_only_whole() {
    let mut push = Push { left: 3, ok: true };
    assert_eq!(push.answer(true), None);
    assert_eq!(push.answer(false), None);
    assert_eq!(push.answer(true), Some(false));
    let mut push = Push { left: 1, ok: true };
    assert_eq!(push.answer(true), Some(true));
}

#[test]
fn a_chunked_map_push_is_answered_once_by_its_last_chunk() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    let sent = h.request(id, Request::PushMap(rooms_in_chunks(3)));
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|s| s.set && s.to == jid(MUC)));
    let last: Vec<bool> = sent
        .iter()
        .map(|s| s.payload.attr("last").is_some())
        .collect();
    assert_eq!(last, [false, false, true]);
    // Answered out of order: the push is done when every chunk is, not at "last".
    h.at(Duration::from_millis(5));
    h.result(Some(MUC), &sent[2].id, None);
    h.result(Some(MUC), &sent[0].id, None);
    h.quiet();
    h.at(Duration::from_millis(9));
    h.result(Some(MUC), &sent[1].id, None);
    let took = Duration::from_millis(9);
    h.expect_done(RequestKind::PushMap, id, true, took);
    assert_eq!(h.session.next_timeout(), None);
}

#[test]
fn a_failed_chunk_fails_the_map_push() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    let sent = h.request(id, Request::PushMap(rooms_in_chunks(2)));
    assert_eq!(sent.len(), 2);
    h.error(Some(MUC), &sent[0].id, DefinedCondition::NotAcceptable);
    h.quiet();
    h.result(Some(MUC), &sent[1].id, None);
    h.expect_done(RequestKind::PushMap, id, false, Duration::ZERO);
}

#[test]
fn an_unanswered_chunk_fails_the_map_push_at_its_timeout() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    let sent = h.request(id, Request::PushMap(rooms_in_chunks(2)));
    h.result(Some(MUC), &sent[1].id, None);
    h.quiet();
    h.at(IQ_TIMEOUT);
    h.session.handle_timeout(h.now);
    h.expect_done(RequestKind::PushMap, id, false, IQ_TIMEOUT);
}

// --- timeouts and pings -------------------------------------------------------------------

#[test]
fn a_request_without_an_answer_times_out_at_iq_timeout_and_not_before() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    let iq = h.request(id, grant())[0].id.clone();
    assert_eq!(h.session.next_timeout(), Some(h.base + IQ_TIMEOUT));
    h.at(IQ_TIMEOUT - Duration::from_millis(1));
    h.session.handle_timeout(h.now);
    h.quiet();
    h.at(IQ_TIMEOUT);
    h.session.handle_timeout(h.now);
    h.expect_done(RequestKind::GrantOwner, id, false, IQ_TIMEOUT);
    assert_eq!(h.session.next_timeout(), None);
    // The answer that comes too late counts for nothing.
    h.result(Some(ROOM), &iq, None);
    h.quiet();
}

#[test]
fn an_unanswered_ping_loses_the_connection() {
    let mut h = Harness::new();
    h.session.ping(h.now);
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!((&sent[0].to, sent[0].set), (&jid(MUC), false));
    assert_eq!(sent[0].payload, protocol::ping());
    // One at a time: the next ping waits for this one's answer or timeout.
    h.at(IQ_TIMEOUT / 2);
    h.session.ping(h.now);
    h.quiet();
    h.at(IQ_TIMEOUT - Duration::from_millis(1));
    h.session.handle_timeout(h.now);
    h.quiet();
    h.at(IQ_TIMEOUT);
    h.session.handle_timeout(h.now);
    let lost = format!("Prosody did not answer a ping within {IQ_TIMEOUT:?}");
    assert_eq!(h.outcomes(), vec![Outcome::Lost(lost)]);
}

#[test]
fn any_answer_to_a_ping_even_an_error_shows_prosody_alive() {
    let mut h = Harness::new();
    h.session.ping(h.now);
    let iq = h.sent()[0].id.clone();
    // A guest cannot keep a dead connection alive either.
    h.result(Some(GUEST), &iq, None);
    h.error(Some(MUC), &iq, DefinedCondition::FeatureNotImplemented);
    h.quiet();
    assert_eq!(h.session.next_timeout(), None);
    h.at(IQ_TIMEOUT);
    h.session.handle_timeout(h.now);
    h.quiet();
    h.session.ping(h.now);
    assert_eq!(h.sent().len(), 1);
}

#[test]
fn the_connection_lost_comes_after_the_inputs_before_it() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    h.session.ping(h.now);
    h.request(id, grant());
    h.sent();
    h.at(IQ_TIMEOUT);
    h.session.handle_timeout(h.now);
    let mut expected = done(RequestKind::GrantOwner, id, false, IQ_TIMEOUT);
    let lost = format!("Prosody did not answer a ping within {IQ_TIMEOUT:?}");
    expected.push(Outcome::Lost(lost));
    assert_eq!(h.outcomes(), expected);
    // Once.
    h.quiet();
}

// --- snapshots and events -------------------------------------------------------------------

fn snapshot() -> Element {
    let v = MODULE_PROTOCOL.to_string();
    let mut el = element("snapshot", NS, &[("v", &v), ("gen", "g1"), ("boot", "b1")]);
    let mut room = element("room", NS, &[("n", "mathe-5a"), ("p", "1")]);
    room.append_child(element(
        "o",
        NS,
        &[("o", "anna@meet.jitsi/a1"), ("a", "owner")],
    ));
    el.append_child(room);
    el
}

#[test]
fn a_snapshot_answer_becomes_the_cores_snapshot_input() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    let sent = h.request(id, Request::Snapshot);
    assert_eq!((&sent[0].to, sent[0].set), (&jid(MUC), false));
    assert_eq!(sent[0].payload, protocol::snapshot_request());
    h.result(Some(MUC), &sent[0].id, Some(snapshot()));
    let snapshot = protocol::parse_snapshot(&snapshot()).unwrap();
    assert_eq!(snapshot.rooms.len(), 1);
    let input = Input::Snapshot { id, snapshot };
    assert_eq!(h.outcomes(), vec![Outcome::Input(input)]);
}

#[test]
fn a_snapshot_that_is_empty_unreadable_refused_or_late_loses_the_connection() {
    let unreadable = element("room", NS, &[]);
    let answers: [(Option<Element>, Option<DefinedCondition>); 3] = [
        (None, None),
        (Some(unreadable), None),
        (None, Some(DefinedCondition::ServiceUnavailable)),
    ];
    for (payload, condition) in answers {
        let mut h = Harness::new();
        let [id] = request_ids(1)[..] else { panic!() };
        let iq = h.request(id, Request::Snapshot)[0].id.clone();
        match condition {
            Some(c) => h.error(Some(MUC), &iq, c),
            None => h.result(Some(MUC), &iq, payload),
        }
        let outcomes = h.outcomes();
        assert!(matches!(&outcomes[..], [Outcome::Lost(_)]), "{outcomes:?}");
    }
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    h.request(id, Request::Snapshot);
    h.at(IQ_TIMEOUT);
    h.session.handle_timeout(h.now);
    let outcomes = h.outcomes();
    assert!(matches!(&outcomes[..], [Outcome::Lost(_)]), "{outcomes:?}");
}

fn message(from: &str, payloads: Vec<Element>) -> Stanza {
    let mut msg = Message::new(Some(jid(COMPONENT)));
    msg.from = Some(jid(from));
    msg.id = Some(MessageId("m1".into()));
    msg.payloads = payloads;
    Stanza::Message(msg)
}

#[test]
fn module_events_become_the_cores_event_inputs_in_order() {
    let mut h = Harness::new();
    let joined = element("j", NS, &[("r", "mathe-5a"), ("o", "anna@meet.jitsi/a1")]);
    let unknown = element("x", NS, &[("r", "mathe-5a")]);
    let left = element(
        "l",
        NS,
        &[("r", "mathe-5a"), ("o", "anna@meet.jitsi/a1"), ("ba", "1")],
    );
    let stanza = message(MUC, vec![joined, unknown, left]);
    h.session.handle_stanza(h.now, stanza);
    let room = || "mathe-5a".to_owned();
    let occupant = || "anna@meet.jitsi/a1".to_owned();
    let events = [
        Event::Joined {
            room: room(),
            occupant: occupant(),
            keyed: false,
        },
        Event::BreakoutsActive { room: room() },
        Event::Left {
            room: room(),
            occupant: occupant(),
        },
    ];
    let expected: Vec<Outcome> = events
        .into_iter()
        .map(|e| Outcome::Input(Input::Event(e)))
        .collect();
    assert_eq!(h.outcomes(), expected);
    assert_eq!(h.transmitted(), vec![]);
}

#[test]
fn events_from_anyone_but_the_muc_service_are_refused() {
    let mut h = Harness::new();
    let destroyed = element("d", NS, &[("r", "mathe-5a")]);
    for from in [GUEST, ROOM] {
        h.session
            .handle_stanza(h.now, message(from, vec![destroyed.clone()]));
        assert_eq!(h.outcomes(), vec![]);
        let sent = h.transmitted();
        let [Stanza::Message(reply)] = &sent[..] else {
            panic!("{sent:?}")
        };
        assert_eq!(reply.type_, MessageType::Error);
        assert_eq!(reply.to, Some(jid(from)));
        assert_eq!(reply.from, Some(jid(COMPONENT)));
        assert_eq!(reply.id, Some(MessageId("m1".into())));
        let error = StanzaError::try_from(reply.payloads[0].clone()).unwrap();
        assert_eq!(error.defined_condition, DefinedCondition::Forbidden);
    }
    // An error message is never answered (no loops), and a presence means nothing.
    let mut err = Message::new_with_type(MessageType::Error, Some(jid(COMPONENT)));
    err.from = Some(jid(GUEST));
    h.session.handle_stanza(h.now, Stanza::Message(err));
    h.quiet();
}

// --- requests to raumwart -------------------------------------------------------------------

#[test]
fn an_iq_from_a_guest_is_refused_with_an_error_from_the_address_asked() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    h.request(id, grant());
    for (to, from) in [
        (Some(ME), ME),
        (Some(COMPONENT), COMPONENT),
        (None, COMPONENT),
    ] {
        let iq = Iq::Get {
            from: Some(jid(GUEST)),
            to: to.map(jid),
            id: "iq-1".into(),
            payload: protocol::ping(),
        };
        h.session.handle_stanza(h.now, Stanza::Iq(iq));
        let sent = h.transmitted();
        let [Stanza::Iq(Iq::Error {
            from: Some(f),
            to: Some(t),
            id,
            error,
            ..
        })] = &sent[..]
        else {
            panic!("{sent:?}")
        };
        assert_eq!((f, t, id.as_str()), (&jid(from), &jid(GUEST), "iq-1"));
        assert_eq!(
            error.defined_condition,
            DefinedCondition::ServiceUnavailable
        );
        assert_eq!(h.outcomes(), vec![]);
    }
    // A set is refused alike; without a sender there is nobody to answer.
    let set = Iq::Set {
        from: None,
        to: Some(jid(COMPONENT)),
        id: "s".into(),
        payload: protocol::grant_owner(GUEST),
    };
    h.session.handle_stanza(h.now, Stanza::Iq(set));
    h.quiet();
    // The request of the same id is still waiting for the room.
    h.result(Some(ROOM), "iq-1", None);
    h.expect_done(RequestKind::GrantOwner, id, true, Duration::ZERO);
}

fn invalid(name: &'static str, type_: Option<&str>, id: Option<&str>) -> Invalid {
    Invalid {
        name,
        from: Some(GUEST.into()),
        to: Some(COMPONENT.into()),
        type_: type_.map(str::to_owned),
        id: id.map(str::to_owned),
        error: "bad".into(),
    }
}

#[test]
fn an_invalid_stanza_is_skipped_and_an_invalid_request_refused() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    h.request(id, grant());
    for skipped in [
        invalid("message", Some("chat"), Some("m")),
        invalid("presence", None, None),
        invalid("iq", Some("result"), Some("iq-1")),
        invalid("iq", Some("error"), Some("iq-1")),
        invalid("iq", Some("get"), None),
        invalid("nonza", None, None),
    ] {
        h.session.handle_invalid(skipped);
        h.quiet();
    }
    h.session
        .handle_invalid(invalid("iq", Some("set"), Some("x1")));
    let sent = h.transmitted();
    let [Stanza::Iq(Iq::Error {
        from,
        to,
        id: x,
        error,
        ..
    })] = &sent[..]
    else {
        panic!("{sent:?}")
    };
    assert_eq!(
        (from, to, x.as_str()),
        (&Some(jid(COMPONENT)), &Some(jid(GUEST)), "x1")
    );
    assert_eq!(error.defined_condition, DefinedCondition::BadRequest);
    h.quiet();
    // The grant is still in flight.
    h.result(Some(ROOM), "iq-1", None);
    h.expect_done(RequestKind::GrantOwner, id, true, Duration::ZERO);
}

// --- the doctor's report -----------------------------------------------------------------

#[test]
fn the_doctor_asks_the_muc_service_and_takes_only_its_answer() {
    let mut h = Harness::new();
    h.session.ask_doctor(h.now);
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!((&sent[0].to, sent[0].set), (&jid(MUC), false));
    assert_eq!(sent[0].payload, protocol::doctor_request());
    assert_eq!(h.session.next_timeout(), Some(h.base + DOCTOR_TIMEOUT));
    let report: Element = format!(
        r#"<doctor xmlns="{NS}" v="{MODULE_PROTOCOL}" prosody="0.12.3"><muc host="{MUC}" r="1"/></doctor>"#
    )
    .parse()
    .unwrap();
    // A guest or a room answering for the MUC service is not heard.
    for forged in [Some(GUEST), Some(ROOM), None] {
        h.result(forged, &sent[0].id, Some(report.clone()));
        h.error(forged, &sent[0].id, DefinedCondition::ServiceUnavailable);
        h.quiet();
    }
    h.result(Some(MUC), &sent[0].id, Some(report.clone()));
    let expected = protocol::parse_doctor(&report).unwrap();
    assert_eq!(h.outcomes(), vec![Outcome::Doctor(Ok(expected))]);
    assert_eq!(h.session.next_timeout(), None);
}

#[test]
fn a_module_that_does_not_know_the_question_is_too_old_and_silence_is_no_answer() {
    for (condition, failed) in [
        (DefinedCondition::ServiceUnavailable, DoctorFailed::TooOld),
        (
            DefinedCondition::FeatureNotImplemented,
            DoctorFailed::TooOld,
        ),
        (
            DefinedCondition::Forbidden,
            DoctorFailed::Refused("refused (Some(Forbidden))".into()),
        ),
    ] {
        let mut h = Harness::new();
        h.session.ask_doctor(h.now);
        let iq = h.sent()[0].id.clone();
        h.error(Some(MUC), &iq, condition);
        assert_eq!(h.outcomes(), vec![Outcome::Doctor(Err(failed))]);
    }
    let mut h = Harness::new();
    h.session.ask_doctor(h.now);
    h.sent();
    h.at(DOCTOR_TIMEOUT - Duration::from_millis(1));
    h.session.handle_timeout(h.now);
    h.quiet();
    h.at(DOCTOR_TIMEOUT);
    h.session.handle_timeout(h.now);
    // No answer to the doctor is no lost connection: pings decide that.
    assert_eq!(
        h.outcomes(),
        vec![Outcome::Doctor(Err(DoctorFailed::NoAnswer))]
    );
}

// --- resets ------------------------------------------------------------------------------

#[test]
fn a_reset_empties_breakouts_and_lobby_and_is_done_by_the_rooms_answer() {
    let mut h = Harness::new();
    let [id] = request_ids(1)[..] else { panic!() };
    let reset = Request::Reset {
        room: "mathe-5a".into(),
        reason: EndReason::GraceExpired,
        message: Some("Die Stunde ist beendet.".into()),
        breakouts: vec![BREAKOUT.into()],
    };
    let sent = h.request(id, reset);
    let to: Vec<Jid> = sent.iter().map(|s| s.to.clone()).collect();
    let lobby = jid(&format!("mathe-5a@{LOBBY}"));
    assert_eq!(to, [jid(BREAKOUT), lobby.clone(), jid(ROOM)]);
    assert!(sent.iter().all(|s| s.set));
    // The breakout and lobby answers, failed or not, are not the core's business.
    h.error(Some(BREAKOUT), &sent[0].id, DefinedCondition::Forbidden);
    h.result(Some(lobby.to_string().as_str()), &sent[1].id, None);
    h.quiet();
    // A room that no longer exists is reset.
    h.error(Some(ROOM), &sent[2].id, DefinedCondition::ItemNotFound);
    h.expect_done(RequestKind::Reset, id, true, Duration::ZERO);
}

#[test]
fn a_refused_reset_or_grant_is_done_and_failed() {
    let mut h = Harness::new();
    let [a, b] = request_ids(2)[..] else { panic!() };
    let reset = Request::Reset {
        room: "mathe-5a".into(),
        reason: EndReason::Forced,
        message: None,
        breakouts: vec![],
    };
    let reset = h.request(a, reset);
    assert_eq!(reset.len(), 2);
    h.error(Some(ROOM), &reset[1].id, DefinedCondition::Forbidden);
    h.expect_done(RequestKind::Reset, a, false, Duration::ZERO);
    let grant = h.request(b, grant());
    h.error(Some(ROOM), &grant[0].id, DefinedCondition::ItemNotFound);
    h.expect_done(RequestKind::GrantOwner, b, false, Duration::ZERO);
}

// --- ids ---------------------------------------------------------------------------------

#[test]
fn request_ids_are_random_and_distinct() {
    let ids: HashSet<String> = (0..1000).map(|_| request_id().unwrap()).collect();
    assert_eq!(ids.len(), 1000);
    assert!(ids.iter().all(|id| id.len() == 32));
}

#[test]
fn a_session_asks_with_random_ids_and_loses_the_connection_without_them() {
    let mut session = Session::new(&config()).unwrap();
    let now = Instant::now();
    session.ping(now);
    let Some(Stanza::Iq(Iq::Get { id, .. })) = session.poll_transmit() else {
        panic!()
    };
    assert_eq!(id.len(), 32);
    let ids: Ids = Box::new(|| Err("no random id: test".into()));
    let mut session = Session::with_ids(&config(), ids).unwrap();
    let [id] = request_ids(1)[..] else { panic!() };
    session.send_request(now, id, grant(), now);
    assert!(session.poll_transmit().is_none());
    let lost = Outcome::Lost("no random id: test".into());
    assert_eq!(session.poll_outcome(), Some(lost));
    assert_eq!(session.poll_outcome(), None);
}
