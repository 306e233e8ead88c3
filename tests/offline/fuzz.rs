//! Generated garbage for everything raumwart parses: the module's events and snapshots
//! (and the stanzas around them), the HTTP requests of local users, and the config.
//! Nothing may panic, only documented input may be accepted, and input the core must
//! ignore changes none of its state.
//!
//! `cargo test --test offline fuzz::` runs about 5,400 cases (each property sets its own count),
//! some 15 s in a debug build on 2 cores. The long run sets one count for each of the 12
//! properties, about a million cases in all; it took 5 min 30 s on 2 cores:
//!
//! ```sh
//! PROPTEST_CASES=85000 cargo test --release --test offline fuzz::
//! ```
//!
//! Failures are not persisted to files: a failing case prints its seed and minimal input;
//! keep such an input as a plain test.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use raumwart::config;
use raumwart::core::fixtures::{policy, room_map, snapshot, FOCUS_BARE, MATHE, PHYSIK};
use raumwart::core::{
    Core, Event, Input, Output, Phase, Request, RequestId, SnapshotOccupant, SnapshotRoom,
    MODULE_PROTOCOL,
};
use raumwart::http::{self, Query, Via};
use raumwart::protocol::{self, NS};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::rxml::{Namespace, NcName};
use tokio_xmpp::minidom::{Element, Node};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::Stanza;

/// `default` cases, or `PROPTEST_CASES` for the long run; never a regressions file.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// --- the core, with the fixtures of its specification (raumwart::core::fixtures) ------

const MANAGED: [&str; 2] = [MATHE, PHYSIK];

/// A core that is connected and in sync with a Prosody without rooms.
fn synced_core(now: Instant) -> Core {
    let mut core = Core::new(room_map(), policy(Duration::from_secs(60)));
    let id = asked_snapshot(&step(&mut core, now, Input::Connected));
    step(
        &mut core,
        now,
        Input::Snapshot {
            id,
            snapshot: snapshot(vec![]),
        },
    );
    assert!(core.synced());
    core
}

/// Hands `input` to the core and takes everything it has to say.
fn step(core: &mut Core, now: Instant, input: Input) -> Vec<Output> {
    core.handle(now, input);
    std::iter::from_fn(|| core.poll_output()).collect()
}

/// The snapshot request among `out`.
fn asked_snapshot(out: &[Output]) -> RequestId {
    out.iter()
        .find_map(|o| match o {
            Output::Request {
                id,
                request: Request::Snapshot,
            } => Some(*id),
            _ => None,
        })
        .expect("a snapshot request")
}

/// Everything the core shows of itself, owned.
#[derive(Debug, Clone, PartialEq)]
struct State {
    rooms: Vec<(String, String, Phase, usize, bool, Option<Instant>)>,
    synced: bool,
    deadline: Option<Instant>,
}

fn state(core: &Core) -> State {
    State {
        rooms: core
            .rooms()
            .map(|s| {
                let (name, school) = (s.name.to_owned(), s.school.to_owned());
                (
                    name,
                    school,
                    s.phase,
                    s.people,
                    s.organizer_present,
                    s.session_start,
                )
            })
            .collect(),
        synced: core.synced(),
        deadline: core.next_deadline(),
    }
}

fn request_room(request: &Request) -> Option<&str> {
    match request {
        Request::GrantOwner { room, .. }
        | Request::RevokeOwner { room, .. }
        | Request::Reset { room, .. } => Some(room),
        _ => None,
    }
}

fn event_room(event: &Event) -> Option<&str> {
    match event {
        Event::Joined { room, .. }
        | Event::Left { room, .. }
        | Event::JoinedBreakout { room, .. }
        | Event::BreakoutsActive { room }
        | Event::Destroyed { room }
        | Event::WrongPassword { room }
        | Event::Affiliation { room, .. }
        | Event::MembersOnly { room, .. } => Some(room),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Feeds `input` and checks that every request concerns a managed room; an event for a
/// room that is not managed must change nothing at all.
fn feed(core: &mut Core, now: Instant, input: Input) -> Result<Vec<Output>, TestCaseError> {
    let before = state(core);
    let stranger = match &input {
        Input::Event(e) => event_room(e).is_some_and(|r| !core.is_managed(r)),
        _ => false,
    };
    let ctx = format!("{input:?}");
    let out = step(core, now, input);
    for output in &out {
        let room = match output {
            Output::Request { request, .. } => request_room(request),
            Output::Note(_) => None,
        };
        if let Some(room) = room {
            prop_assert!(
                MANAGED.contains(&room),
                "request for an unmanaged room: {:?}\n{}",
                output,
                ctx
            );
        }
    }
    if stranger {
        prop_assert!(out.is_empty(), "an event for a stranger acted: {:?}", out);
        prop_assert_eq!(&state(core), &before, "{}", ctx);
    }
    Ok(out)
}

// --- wire elements -------------------------------------------------------------------

/// Odd text: control characters, combining marks, right-to-left, astral, XML specials.
fn odd_text() -> impl Strategy<Value = String> {
    let odd = prop::sample::select(vec![
        "",
        " ",
        "\u{0}",
        "\t",
        "\r\n",
        "\u{7f}",
        "\u{85}",
        "\u{200b}",
        "\u{202e}",
        "\u{feff}",
        "\u{fffd}",
        "\u{ffff}",
        "\u{1f600}",
        "\u{10ffff}",
        "e\u{301}",
        "ﬁ",
        "ß",
        "İ",
        "&amp;",
        "<",
        ">",
        "\"",
        "'",
        "]]>",
        "/",
        "@",
        "%00",
        "%2F",
        "..",
    ]);
    prop_oneof![
        3 => prop::collection::vec(odd, 0..6).prop_map(|v| v.concat()),
        3 => any::<String>(),
        1 => "[a-z0-9@./-]{0,24}",
    ]
}

/// Values the parsers look for, near misses and garbage; now and then very long.
fn value() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        "1",
        "0",
        "true",
        "owner",
        "admin",
        "member",
        "none",
        MATHE,
        PHYSIK,
        "elsewhere",
        "MATHE-5A",
        "mathe-5a ",
        "anna@meet.jitsi/a1",
        "anna@meet.jitsi",
        "ben@meet.jitsi/b1",
        FOCUS_BARE,
        "focus@auth.meet.jitsi/focus",
        "b1@breakout.meet.jitsi",
        "a/b/c",
        "@",
        "/",
    ])
    .prop_map(String::from);
    prop_oneof![
        8 => known,
        4 => odd_text(),
        1 => (any::<char>(), 1_000..70_000usize).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

const ATTRS: &[&str] = &[
    "r", "o", "k", "b", "ba", "j", "a", "by", "n", "p", "code", "gen",
];

fn attr_name() -> impl Strategy<Value = NcName> {
    prop_oneof![
        4 => prop::sample::select(ATTRS).prop_map(String::from),
        1 => "[a-zA-Z_\u{e9}\u{4e2d}][a-zA-Z0-9_.\u{b7}\u{e9}-]{0,10}",
        1 => "[\\p{L}_][\\p{L}\\p{N}\\p{M}_.-]{0,10}",
    ]
    .prop_map(xml_name)
}

/// `n` if it is an XML name, else a stand-in (filtering would reject too many).
fn xml_name(n: String) -> NcName {
    NcName::try_from(n).unwrap_or_else(|_| NcName::try_from("x").unwrap())
}

fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(NS.to_owned()),
        1 => Just(String::new()),
        1 => prop::sample::select(vec![
            "urn:raumwart:1",
            "URN:RAUMWART:0",
            "urn:raumwart:0 ",
            "jabber:component:accept",
            protocol::MUC_ADMIN,
        ])
        .prop_map(String::from),
        1 => odd_text(),
    ]
}

const NAMES: &[&str] = &[
    "j", "l", "d", "a", "w", "snapshot", "room", "o", "problem", "map", "r", "iq", "query",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(NAMES).prop_map(String::from),
        1 => odd_text(),
    ]
}

/// Attributes: plain ones by name, and now and then one in a namespace (which the
/// parsers must not take for the plain one).
fn attrs() -> impl Strategy<Value = Vec<(Option<String>, NcName, String)>> {
    let plain = (attr_name(), value()).prop_map(|(n, v)| (None, n, v));
    let spaced = (namespace(), attr_name(), value()).prop_map(|(s, n, v)| (Some(s), n, v));
    prop::collection::vec(prop_oneof![6 => plain, 1 => spaced], 0..8)
}

fn build(
    name: String,
    ns: String,
    attrs: Vec<(Option<String>, NcName, String)>,
    children: Vec<Node>,
) -> Element {
    let mut b = Element::builder(name, ns);
    for (ns, n, v) in attrs {
        b = match ns {
            None => b.attr(n, v),
            Some(ns) => b.attr_ns(Namespace::from(ns), n, v),
        };
    }
    b.append_all(children).build()
}

/// An element tree: names and attributes mostly the real ones, deep and wide.
fn module_element() -> impl Strategy<Value = Element> {
    let leaf = (name(), namespace(), attrs()).prop_map(|(n, s, a)| build(n, s, a, vec![]));
    leaf.prop_recursive(6, 64, 12, |inner| {
        let child = prop_oneof![
            4 => inner.prop_map(Node::Element),
            1 => odd_text().prop_map(Node::Text),
        ];
        (
            name(),
            namespace(),
            attrs(),
            prop::collection::vec(child, 0..12),
        )
            .prop_map(|(n, s, a, c)| build(n, s, a, c))
    })
}

/// Anything at all: names, namespaces and attribute names that are no XML.
fn random_element() -> impl Strategy<Value = Element> {
    let attrs = || {
        prop::collection::vec(
            ("[\\p{L}_][\\p{L}\\p{N}\\p{M}_.-]{0,10}", any::<String>())
                .prop_map(|(n, v)| (None, xml_name(n), v)),
            0..4,
        )
    };
    let leaf =
        (any::<String>(), any::<String>(), attrs()).prop_map(|(n, s, a)| build(n, s, a, vec![]));
    leaf.prop_recursive(4, 32, 8, move |inner| {
        let child = prop_oneof![
            inner.prop_map(Node::Element),
            any::<String>().prop_map(Node::Text)
        ];
        (
            any::<String>(),
            any::<String>(),
            attrs(),
            prop::collection::vec(child, 0..8),
        )
            .prop_map(|(n, s, a, c)| build(n, s, a, c))
    })
}

/// An element wrapped in `depth` others (real names mostly), to go deeper than the
/// recursive strategies do.
fn deep_element() -> impl Strategy<Value = Element> {
    (module_element(), 0..600usize, name(), namespace()).prop_map(|(el, depth, n, s)| {
        (0..depth).fold(el, |inner, _| {
            build(n.clone(), s.clone(), vec![], vec![Node::Element(inner)])
        })
    })
}

/// A snapshot with the real structure and odd content.
fn snapshot_element() -> impl Strategy<Value = Element> {
    let room_name = prop_oneof![
        4 => prop::sample::select(vec![MATHE, PHYSIK]).prop_map(String::from),
        1 => value(),
    ];
    let occupant = (
        prop::option::weighted(0.95, value()),
        prop::option::of(prop::sample::select(vec!["1", "0", "yes"])),
        prop::option::of(prop::sample::select(vec![
            "owner", "admin", "none", "Owner",
        ])),
        prop::option::weighted(0.2, value()),
        attrs(),
    )
        .prop_map(|(o, k, a, b, mut extra)| {
            let mut set = |name: &str, v: Option<String>| {
                if let Some(v) = v {
                    extra.push((None, NcName::try_from(name).unwrap(), v));
                }
            };
            set("o", o);
            set("k", k.map(String::from));
            set("a", a.map(String::from));
            set("b", b);
            build("o".into(), NS.into(), extra, vec![])
        });
    let child = prop_oneof![
        6 => occupant.prop_map(Node::Element),
        1 => module_element().prop_map(Node::Element),
        1 => odd_text().prop_map(Node::Text),
    ];
    let room = (
        prop::option::weighted(0.95, room_name),
        any::<bool>(),
        prop::collection::vec(child, 0..8),
    )
        .prop_map(|(n, p, children)| {
            let mut a = vec![];
            if let Some(n) = n {
                a.push((None, NcName::try_from("n").unwrap(), n));
            }
            if p {
                a.push((None, NcName::try_from("p").unwrap(), "1".into()));
            }
            build("room".into(), NS.into(), a, children)
        });
    let problem = prop::option::weighted(0.9, value()).prop_map(|code| {
        let a = code
            .map(|c| (None, NcName::try_from("code").unwrap(), c))
            .into_iter()
            .collect();
        build("problem".into(), NS.into(), a, vec![])
    });
    let child = prop_oneof![
        8 => room.prop_map(Node::Element),
        1 => problem.prop_map(Node::Element),
        1 => module_element().prop_map(Node::Element),
        1 => odd_text().prop_map(Node::Text),
    ];
    (attrs(), prop::collection::vec(child, 0..6))
        .prop_map(|(a, c)| build("snapshot".into(), NS.into(), a, c))
}

/// The checks for one element: events and snapshot parse without panic, only real
/// elements parse, and whatever parses goes through a core.
fn wire(el: &Element) -> Result<(), TestCaseError> {
    let now = Instant::now();
    match protocol::parse_events(el) {
        Ok(events) => {
            prop_assert_eq!(el.ns(), NS);
            prop_assert!(
                ["j", "l", "d", "a", "w"].contains(&el.name()),
                "{}",
                el.name()
            );
            prop_assert!(!events.is_empty());
            let mut core = synced_core(now);
            for event in events {
                prop_assert_eq!(event_room(&event), el.attr("r"));
                feed(&mut core, now, Input::Event(event))?;
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match protocol::parse_snapshot(el) {
        Ok(snapshot) => {
            prop_assert!(el.is("snapshot", NS));
            let rooms = el.children().filter(|c| c.is("room", NS)).count();
            prop_assert_eq!(snapshot.rooms.len(), rooms);
            let mut core = Core::new(room_map(), policy(Duration::from_secs(60)));
            let id = asked_snapshot(&step(&mut core, now, Input::Connected));
            // In sync only with a module of this protocol that has this map (otherwise
            // the map goes first and another snapshot is asked for behind it).
            let speaks =
                snapshot.protocol == Some(MODULE_PROTOCOL) && snapshot.gen == room_map().gen;
            feed(&mut core, now, Input::Snapshot { id, snapshot })?;
            prop_assert_eq!(core.synced(), speaks);
            feed(&mut core, now + Duration::from_secs(3600), Input::Tick)?;
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    Ok(())
}

/// XML 1.0's `Char`: what an XML stream can carry at all.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

fn xml_text(s: &str) -> bool {
    s.chars().all(xml_char)
}

/// Whether `el` can be written as XML at all (minidom panics on what cannot).
fn writable(el: &Element) -> bool {
    NcName::try_from(el.name()).is_ok()
        && xml_text(&el.ns())
        && el
            .attrs()
            .iter()
            .all(|((ns, _), v)| xml_text(ns) && xml_text(v))
        && el.nodes().all(|n| match n {
            Node::Element(e) => writable(e),
            Node::Text(t) => xml_text(t),
        })
}

/// Serializes `el` and reads it back the way the stream would; the text, not the tree,
/// is what arrives from Prosody.
fn through_text(el: &Element) -> Result<(), TestCaseError> {
    let mut xml = Vec::new();
    if writable(el) && el.write_to(&mut xml).is_ok() {
        if let Ok(again) = Element::from_reader(&xml[..]) {
            wire(&again)?;
        }
    }
    Ok(())
}

/// Known-good XML texts to mutate.
const SEEDS: &[&str] = &[
    r#"<j xmlns="urn:raumwart:0" r="mathe-5a" o="anna@meet.jitsi/a1" k="1"/>"#,
    r#"<j xmlns="urn:raumwart:0" r="mathe-5a" o="ben@meet.jitsi/b1" b="b1@breakout.meet.jitsi"/>"#,
    r#"<l xmlns="urn:raumwart:0" r="physik-7b" o="ben@meet.jitsi/b1" ba="1"/>"#,
    r#"<d xmlns="urn:raumwart:0" r="mathe-5a"/>"#,
    r#"<w xmlns="urn:raumwart:0" r="mathe-5a"/>"#,
    r#"<a xmlns="urn:raumwart:0" r="mathe-5a" j="ben@meet.jitsi" a="owner" by="anna@meet.jitsi"/>"#,
    r#"<snapshot xmlns="urn:raumwart:0" gen="g"><problem code="map-unreadable"/><room n="mathe-5a" p="1"><o o="anna@meet.jitsi/a1" k="1" a="owner"/><o o="ben@meet.jitsi/b1" b="b1@breakout.meet.jitsi"/></room><room n="physik-7b"/></snapshot>"#,
    r#"<rw:snapshot xmlns:rw="urn:raumwart:0"><rw:room n="mathe-5a"><rw:o o="x@y/z"/></rw:room></rw:snapshot>"#,
];

/// Byte-level edits of a seed text.
fn mutated_text() -> impl Strategy<Value = String> {
    let edit = (any::<prop::sample::Index>(), 0..8usize, odd_text(), 0..4u8);
    (
        prop::sample::select(SEEDS),
        prop::collection::vec(edit, 1..6),
    )
        .prop_map(|(seed, edits)| {
            let mut s: Vec<char> = seed.chars().collect();
            for (at, len, text, kind) in edits {
                let i = at.index(s.len() + 1);
                let end = (i + len).min(s.len());
                match kind {
                    0 => {
                        s.drain(i..end);
                    }
                    1 => {
                        s.splice(i..i, text.chars());
                    }
                    2 => {
                        s.splice(i..end, text.chars());
                    }
                    _ => {
                        let copy: Vec<char> = s[i..end].to_vec();
                        s.splice(i..i, copy);
                    }
                }
            }
            s.into_iter().collect()
        })
}

proptest! {
    #![proptest_config(config(200))]

    /// Structure-aware: the module's own element names and attributes, odd values.
    #[test]
    fn module_elements_never_panic_and_only_real_ones_parse(el in module_element()) {
        wire(&el)?;
        through_text(&el)?;
    }

    /// Real snapshot structure with odd rooms, occupants, problems and strangers in it.
    #[test]
    fn snapshots_never_panic_and_reach_the_core(el in snapshot_element()) {
        wire(&el)?;
        through_text(&el)?;
    }

    /// Names, namespaces, attributes and text that are anything at all.
    #[test]
    fn random_elements_never_panic(el in random_element()) {
        wire(&el)?;
        through_text(&el)?;
    }

    /// Nesting far deeper than the module ever sends.
    #[test]
    fn deep_elements_never_panic(el in deep_element()) {
        wire(&el)?;
        through_text(&el)?;
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Text as it comes off the stream: seeds with bytes cut, copied and replaced, and
    /// random strings and bytes.
    #[test]
    fn text_off_the_stream_never_panics(
        text in prop_oneof![4 => mutated_text(), 1 => any::<String>()],
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        if let Ok(el) = text.parse::<Element>() {
            wire(&el)?;
        }
        if let Ok(el) = Element::from_reader(&bytes[..]) {
            wire(&el)?;
        }
    }
}

// --- stanzas around the payloads -----------------------------------------------------

const COMPONENT_NS: &str = "jabber:component:accept";

/// An iq, message or presence from anyone, with module elements or snapshots inside.
fn stanza_element() -> impl Strategy<Value = Element> {
    let kind = prop::sample::select(vec!["iq", "message", "presence"]);
    let type_ = prop::option::weighted(
        0.9,
        prop::sample::select(vec![
            "get",
            "set",
            "result",
            "error",
            "chat",
            "groupchat",
            "normal",
            "headline",
            "unavailable",
            "bogus",
        ]),
    );
    let jid = prop_oneof![
        4 => prop::sample::select(vec![
            "conference.meet.jitsi",
            "mathe-5a@conference.meet.jitsi",
            "anna@meet.jitsi/a1",
            "raumwart.meet.jitsi",
        ])
        .prop_map(String::from),
        1 => odd_text(),
    ];
    let payload = prop_oneof![
        3 => module_element(),
        2 => snapshot_element(),
        1 => Just(protocol::grant_owner("anna@meet.jitsi")),
        1 => Just(protocol::destroy(Some("bye"))),
        1 => Just(
            Element::builder("error", COMPONENT_NS)
                .attr(NcName::try_from("type").unwrap(), "cancel")
                .append(Element::bare("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"))
                .build()
        ),
    ];
    (
        kind,
        type_,
        prop::option::weighted(0.9, jid.clone()),
        prop::option::weighted(0.9, jid),
        prop::option::weighted(0.9, value()),
        prop::collection::vec(payload, 0..3),
    )
        .prop_map(|(kind, type_, from, to, id, payloads)| {
            let mut b = Element::builder(kind, COMPONENT_NS);
            for (n, v) in [
                ("type", type_.map(String::from)),
                ("from", from),
                ("to", to),
                ("id", id),
            ] {
                if let Some(v) = v {
                    b = b.attr(NcName::try_from(n).unwrap(), v);
                }
            }
            b.append_all(payloads).build()
        })
}

proptest! {
    #![proptest_config(config(500))]

    /// What the session does with a stanza: an IQ result's payload is read as a
    /// snapshot, a message's payloads as events; addresses are parsed as JIDs.
    #[test]
    fn stanzas_and_their_payloads_never_panic(el in stanza_element()) {
        for attr in ["from", "to"] {
            if let Some(text) = el.attr(attr) {
                let _ = Jid::from_str(text);
            }
        }
        match Stanza::try_from(el.clone()) {
            Ok(Stanza::Iq(Iq::Result { payload: Some(payload), .. })) => wire(&payload)?,
            Ok(Stanza::Message(msg)) => {
                for payload in &msg.payloads {
                    wire(payload)?;
                }
            }
            Ok(_) | Err(_) => {}
        }
        if let Ok(Iq::Result { payload: Some(payload), .. }) = Iq::try_from(el) {
            wire(&payload)?;
        }
    }
}

// --- rejected input changes no state -------------------------------------------------

const PEOPLE: &[&str] = &[
    "anna@meet.jitsi",
    "ben@meet.jitsi",
    "carla@guest.meet.jitsi",
    "dora@meet.jitsi",
    FOCUS_BARE,
];
/// Never joins anywhere.
const GHOSTS: &[&str] = &[
    "ghost@meet.jitsi",
    "anna@meet.jitsi.evil",
    "anna@meet.jitsi/",
];
const STRANGE_ROOMS: &[&str] = &["elsewhere", "MATHE-5A", "mathe-5a ", "mathe-5a@x", ""];

/// Real traffic: what Prosody and the daemon could say, in any order.
#[derive(Debug, Clone)]
enum Real {
    Join {
        room: usize,
        who: usize,
        res: u8,
        keyed: bool,
    },
    JoinBreakout {
        room: usize,
        who: usize,
        res: u8,
    },
    Leave {
        room: usize,
        who: usize,
        res: u8,
    },
    Affiliation {
        room: usize,
        who: usize,
        owner: bool,
        actor: usize,
    },
    Destroyed {
        room: usize,
    },
    /// Answers the oldest request in flight.
    Serve {
        ok: bool,
    },
    Wait {
        ms: u64,
    },
    Tick,
    TickAtDeadline,
    Force {
        room: usize,
    },
    Disconnect,
    Connect {
        occupants: Vec<(usize, usize, bool, bool)>,
    },
}

/// Input the core must ignore (checked for applicability when it comes).
#[derive(Debug, Clone)]
enum Rejected {
    /// Any event for a room that is not managed.
    Stranger {
        event: u8,
        room: usize,
        who: usize,
    },
    /// A leave of someone who never entered.
    GhostLeft {
        room: usize,
        ghost: usize,
        res: u8,
    },
    /// An answer again, to a request answered before.
    DoneRepeated {
        pick: usize,
        ok: bool,
    },
    /// An answer to a request sent before the connection was lost.
    DoneLost {
        pick: usize,
        ok: bool,
    },
    /// A revocation's answer: whatever it says, the next organizer change decides.
    DoneRevoke {
        ok: bool,
    },
    TickUnsynced,
    TickEarly,
    ForceStranger {
        room: usize,
    },
}

fn real() -> impl Strategy<Value = Real> {
    let room = 0..2usize;
    let who = 0..PEOPLE.len();
    let occupant = (0..2usize, 0..PEOPLE.len(), any::<bool>(), any::<bool>());
    prop_oneof![
        8 => (room.clone(), who.clone(), 0..2u8, any::<bool>())
            .prop_map(|(room, who, res, keyed)| Real::Join { room, who, res, keyed }),
        2 => (room.clone(), who.clone(), 0..2u8)
            .prop_map(|(room, who, res)| Real::JoinBreakout { room, who, res }),
        6 => (room.clone(), who.clone(), 0..2u8)
            .prop_map(|(room, who, res)| Real::Leave { room, who, res }),
        3 => (room.clone(), who.clone(), any::<bool>(), who)
            .prop_map(|(room, who, owner, actor)| Real::Affiliation { room, who, owner, actor }),
        1 => room.clone().prop_map(|room| Real::Destroyed { room }),
        6 => prop::bool::weighted(0.8).prop_map(|ok| Real::Serve { ok }),
        2 => (0..120_000u64).prop_map(|ms| Real::Wait { ms }),
        2 => Just(Real::Tick),
        2 => Just(Real::TickAtDeadline),
        1 => room.prop_map(|room| Real::Force { room }),
        1 => Just(Real::Disconnect),
        1 => prop::collection::vec(occupant, 0..4).prop_map(|occupants| Real::Connect { occupants }),
    ]
}

fn rejected() -> impl Strategy<Value = Rejected> {
    let strange = 0..STRANGE_ROOMS.len();
    prop_oneof![
        4 => (0..7u8, strange.clone(), 0..PEOPLE.len())
            .prop_map(|(event, room, who)| Rejected::Stranger { event, room, who }),
        3 => (0..2usize, 0..GHOSTS.len(), 0..3u8)
            .prop_map(|(room, ghost, res)| Rejected::GhostLeft { room, ghost, res }),
        4 => (any::<usize>(), any::<bool>())
            .prop_map(|(pick, ok)| Rejected::DoneRepeated { pick, ok }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, ok)| Rejected::DoneLost { pick, ok }),
        1 => any::<bool>().prop_map(|ok| Rejected::DoneRevoke { ok }),
        1 => Just(Rejected::TickUnsynced),
        2 => Just(Rejected::TickEarly),
        1 => strange.prop_map(|room| Rejected::ForceStranger { room }),
    ]
}

/// Two cores fed the same real traffic; one of them also gets every rejected input.
struct Twins {
    plain: Core,
    fed: Core,
    now: Instant,
    /// Requests in flight, oldest first (but the snapshot's).
    pending: VecDeque<(RequestId, Request)>,
    /// The snapshot request of the latest `Connected`.
    snapshot: Option<RequestId>,
    /// Requests answered, and requests that were in flight when the connection went.
    answered: Vec<RequestId>,
    lost: Vec<RequestId>,
}

fn full(who: usize, res: u8) -> String {
    format!("{}/r{res}", PEOPLE[who])
}

impl Twins {
    fn new() -> Twins {
        let now = Instant::now();
        Twins {
            plain: synced_core(now),
            fed: synced_core(now),
            now,
            pending: VecDeque::new(),
            snapshot: None,
            answered: vec![],
            lost: vec![],
        }
    }

    /// Both cores take `input` and must answer and look alike.
    fn both(&mut self, input: Input) -> Result<(), TestCaseError> {
        let a = feed(&mut self.plain, self.now, input.clone())?;
        let b = feed(&mut self.fed, self.now, input.clone())?;
        // Requests and notes alike, ids included.
        prop_assert_eq!(&a, &b, "the cores parted on {:?}", input);
        prop_assert_eq!(state(&self.plain), state(&self.fed), "after {:?}", input);
        match input {
            Input::Disconnected => self.lost.extend(self.pending.drain(..).map(|(id, _)| id)),
            Input::Done { id, .. } | Input::Snapshot { id, .. } => self.answered.push(id),
            _ => {}
        }
        for output in a {
            match output {
                Output::Request {
                    id,
                    request: Request::Snapshot,
                } => self.snapshot = Some(id),
                Output::Request { id, request } => self.pending.push_back((id, request)),
                Output::Note(_) => {}
            }
        }
        Ok(())
    }

    fn real(&mut self, op: &Real) -> Result<(), TestCaseError> {
        let managed = |r: usize| MANAGED[r].to_owned();
        let input = match op {
            Real::Join {
                room,
                who,
                res,
                keyed,
            } => Input::Event(Event::Joined {
                room: managed(*room),
                occupant: full(*who, *res),
                keyed: *keyed,
            }),
            Real::JoinBreakout { room, who, res } => Input::Event(Event::JoinedBreakout {
                room: managed(*room),
                occupant: full(*who, *res),
                breakout: format!("{}-b@breakout.meet.jitsi", MANAGED[*room]),
            }),
            Real::Leave { room, who, res } => Input::Event(Event::Left {
                room: managed(*room),
                occupant: full(*who, *res),
            }),
            Real::Affiliation {
                room,
                who,
                owner,
                actor,
            } => Input::Event(Event::Affiliation {
                room: managed(*room),
                jid: PEOPLE[*who].into(),
                affiliation: if *owner { "owner" } else { "none" }.into(),
                actor: PEOPLE[*actor].into(),
                previous: Some(if *owner { "none" } else { "owner" }.into()),
                members_only: Some(false),
            }),
            Real::Destroyed { room } => Input::Event(Event::Destroyed {
                room: managed(*room),
            }),
            Real::Serve { ok } => match self.pending.pop_front() {
                Some((id, _)) => Input::Done { id, ok: *ok },
                None => return Ok(()),
            },
            Real::Wait { ms } => {
                self.now += Duration::from_millis(*ms);
                return Ok(());
            }
            Real::Tick => Input::Tick,
            Real::TickAtDeadline => {
                if let Some(t) = self.plain.next_deadline() {
                    self.now = self.now.max(t);
                }
                Input::Tick
            }
            Real::Force { room } => Input::EndSession {
                room: managed(*room),
            },
            Real::Disconnect => Input::Disconnected,
            Real::Connect { occupants } => {
                self.both(Input::Connected)?;
                let mut rooms: Vec<SnapshotRoom> = vec![];
                for (room, who, keyed, owner) in occupants {
                    let o = SnapshotOccupant {
                        jid: full(*who, 0),
                        keyed: *keyed,
                        owner: *owner,
                        breakout: None,
                    };
                    match rooms.iter_mut().find(|r| r.name == MANAGED[*room]) {
                        Some(r) => r.occupants.push(o),
                        None => rooms.push(SnapshotRoom {
                            name: managed(*room),
                            persistent: false,
                            members_only: false,
                            occupants: vec![o],
                        }),
                    }
                }
                let snapshot = snapshot(rooms);
                let id = self.snapshot.expect("asked for with Connected");
                Input::Snapshot { id, snapshot }
            }
        };
        self.both(input)
    }

    /// The input for `op`, or None where it would not be rejected now.
    fn rejected_input(&self, op: &Rejected) -> Option<Input> {
        let core = &self.fed;
        let strange = |r: usize| STRANGE_ROOMS[r].to_owned();
        Some(match op {
            Rejected::Stranger { event, room, who } => {
                let room = strange(*room);
                let occupant = full(*who, 0);
                let jid = PEOPLE[*who].to_owned();
                Input::Event(match event {
                    0 => Event::Joined {
                        room,
                        occupant,
                        keyed: true,
                    },
                    1 => Event::Left { room, occupant },
                    2 => Event::JoinedBreakout {
                        room,
                        occupant,
                        breakout: "b@x".into(),
                    },
                    3 => Event::BreakoutsActive { room },
                    4 => Event::Destroyed { room },
                    5 => Event::WrongPassword { room },
                    _ => Event::Affiliation {
                        room,
                        jid,
                        affiliation: "owner".into(),
                        actor: PEOPLE[0].into(),
                        previous: None,
                        members_only: None,
                    },
                })
            }
            Rejected::GhostLeft { room, ghost, res } => Input::Event(Event::Left {
                room: MANAGED[*room].into(),
                occupant: format!("{}/g{res}", GHOSTS[*ghost]),
            }),
            Rejected::DoneRepeated { pick, ok } => {
                let id = *self.answered.get(pick % self.answered.len().max(1))?;
                Input::Done { id, ok: *ok }
            }
            Rejected::DoneLost { pick, ok } => {
                let id = *self.lost.get(pick % self.lost.len().max(1))?;
                Input::Done { id, ok: *ok }
            }
            Rejected::DoneRevoke { ok } => {
                let (id, _) = self
                    .pending
                    .iter()
                    .find(|(_, r)| matches!(r, Request::RevokeOwner { .. }))?;
                Input::Done { id: *id, ok: *ok }
            }
            Rejected::TickUnsynced => {
                if core.synced() {
                    return None;
                }
                Input::Tick
            }
            Rejected::TickEarly => {
                if core.next_deadline().is_some_and(|t| t <= self.now) {
                    return None;
                }
                Input::Tick
            }
            Rejected::ForceStranger { room } => Input::EndSession {
                room: strange(*room),
            },
        })
    }

    fn rejected(&mut self, op: &Rejected) -> Result<(), TestCaseError> {
        let Some(input) = self.rejected_input(op) else {
            return Ok(());
        };
        let before = state(&self.fed);
        let out = step(&mut self.fed, self.now, input.clone());
        prop_assert!(out.is_empty(), "{:?} acted: {:?}", input, out);
        prop_assert_eq!(&state(&self.fed), &before, "{:?} changed the state", input);
        Ok(())
    }
}

/// Found by `rejected_input_changes_no_state`: `Core::join` counts the join before it
/// looks the room up, so a join for a room that is not managed moves the counter that
/// a later `Phase::Ending { issued }` shows.
#[test]
fn a_join_for_a_stranger_room_counts_no_join() {
    let now = Instant::now();
    let (mut plain, mut fed) = (synced_core(now), synced_core(now));
    let stranger = Event::Joined {
        room: "elsewhere".into(),
        occupant: "ben@meet.jitsi/b1".into(),
        keyed: false,
    };
    assert_eq!(step(&mut fed, now, Input::Event(stranger)), []);
    let force = || Input::EndSession { room: MATHE.into() };
    assert_eq!(step(&mut plain, now, force()), step(&mut fed, now, force()));
    assert_eq!(state(&plain), state(&fed));
}

/// Found by `rejected_input_changes_no_state`: a failed grant answer for a grant that is
/// not in flight still took the account out of the room's owners, so the next keyed
/// join of that account was granted again. Now an answer names its request, and a
/// second answer to it is no answer.
#[test]
fn a_failed_grant_answer_nobody_waits_for_changes_nothing() {
    let now = Instant::now();
    let (mut plain, mut fed) = (synced_core(now), synced_core(now));
    let join = |res: &str| {
        Input::Event(Event::Joined {
            room: MATHE.into(),
            occupant: format!("anna@meet.jitsi/{res}"),
            keyed: true,
        })
    };
    let mut grant = None;
    for core in [&mut plain, &mut fed] {
        let out = step(core, now, join("a1"));
        let id = out.iter().find_map(|o| match o {
            Output::Request { id, .. } => Some(*id),
            Output::Note(_) => None,
        });
        let id = id.expect("a grant");
        grant = Some(id);
        assert_eq!(step(core, now, Input::Done { id, ok: true }), []);
    }
    // Nothing is in flight now; only `fed` hears of a failure.
    let id = grant.expect("granted");
    assert_eq!(step(&mut fed, now, Input::Done { id, ok: false }), []);
    assert_eq!(
        step(&mut plain, now, join("a2")),
        step(&mut fed, now, join("a2"))
    );
}

/// A piece of traffic: real, or to be rejected.
fn traffic() -> impl Strategy<Value = Result<Real, Rejected>> {
    prop_oneof![3 => real().prop_map(Ok), 2 => rejected().prop_map(Err)]
}

proptest! {
    #![proptest_config(config(200))]

    /// Rejected input, interleaved with real traffic, yields no action, changes no
    /// status, and leaves no trace: a twin core that never saw it answers all later
    /// traffic exactly alike.
    #[test]
    fn rejected_input_changes_no_state(ops in prop::collection::vec(traffic(), 1..150)) {
        let mut twins = Twins::new();
        for op in &ops {
            match op {
                Ok(real) => twins.real(real)?,
                Err(rejected) => twins.rejected(rejected)?,
            }
        }
    }
}

// --- HTTP ----------------------------------------------------------------------------

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec!["GET", "POST", "HEAD", "PUT", "get", "post", "OPTIONS", ""])
            .prop_map(String::from),
        1 => odd_text(),
    ]
}

fn target() -> impl Strategy<Value = String> {
    let start = prop::sample::select(vec![
        "/metrics",
        "/healthz",
        "/status",
        "/rooms/",
        "/rooms",
        "/",
        "",
        "//",
        "/rooms//",
        "http://localhost/rooms/",
        "*",
        "/METRICS",
        "/metrics/",
        "/control",
        "/reload",
    ]);
    let segment = prop_oneof![
        4 => prop::sample::select(vec![
            MATHE, "grundschule-müllheim", "end", "/end", "..", ".", "%2e%2e", "%2F", "%00",
            "%", "%zz", "%C3%BC", "\u{0}", "?", "?x=1", "#frag", "/", ";", "%2fend",
        ])
        .prop_map(String::from),
        1 => odd_text(),
        1 => (any::<char>(), 1..20_000usize).prop_map(|(c, n)| c.to_string().repeat(n)),
    ];
    (start, prop::collection::vec(segment, 0..5), any::<bool>()).prop_map(|(s, segs, end)| {
        let mut t = s.to_owned() + &segs.concat();
        if end {
            t.push_str("/end");
        }
        t
    })
}

fn via() -> impl Strategy<Value = Via> {
    prop::sample::select(vec![Via::Network, Via::Control])
}

/// The documented routes, independently of `route`: what must be accepted, and how.
/// Reading is open to the network listener; changes come only through the control
/// socket.
fn documented(method: &str, target: &str, via: Via) -> Result<Query, u16> {
    let path = target.split('?').next().unwrap_or("");
    let query = match (method, path) {
        ("GET", "/metrics") => Query::Metrics,
        ("GET", "/healthz") => Query::Health,
        ("GET", "/status") => Query::Status,
        ("GET", "/control") => Query::ControlSocket,
        ("POST", "/reload") => Query::Reload,
        (_, "/metrics" | "/healthz" | "/status" | "/control" | "/reload") => return Err(405),
        ("POST", p) => match p
            .strip_prefix("/rooms/")
            .and_then(|r| r.strip_suffix("/end"))
        {
            Some(room) if !room.is_empty() && !room.contains('/') => {
                Query::EndSession(room.to_owned())
            }
            _ => return Err(404),
        },
        _ => return Err(404),
    };
    match (&query, via) {
        (Query::EndSession(_) | Query::Reload, Via::Network) => Err(403),
        _ => Ok(query),
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Any method, target and way in: no panic, and exactly the documented routes.
    #[test]
    fn only_documented_routes_are_accepted(m in method(), t in target(), v in via()) {
        let got = http::route(&m, &t, v).map_err(|r| r.status);
        prop_assert_eq!(got, documented(&m, &t, v), "{:?} {:?} via {:?}", m, t, v);
    }
}

/// Found by `only_documented_routes_are_accepted`: `POST /rooms/end` passes both the
/// prefix and the suffix test, which overlap, and slicing between them panicked.
#[test]
fn route_does_not_panic_on_rooms_end() {
    for via in [Via::Network, Via::Control] {
        assert_eq!(
            http::route("POST", "/rooms/end", via).map_err(|r| r.status),
            Err(404)
        );
    }
}

// --- the config ----------------------------------------------------------------------

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid")
}

/// The valid fixtures, by file name, read once.
fn seeds() -> &'static [(PathBuf, String)] {
    static SEEDS: std::sync::OnceLock<Vec<(PathBuf, String)>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        [
            "full.toml",
            "minimal.toml",
            "one-school.toml",
            "room-password.toml",
        ]
        .into_iter()
        .map(|f| {
            let path = fixtures().join(f);
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect()
    })
}

/// `s` as a TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out + "\""
}

/// TOML values of every type, and strings that are not what the key wants.
fn toml_value() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        3 => prop::sample::select(vec![
            "\"60s\"", "\"0s\"", "\"18446744073709551615s\"", "\"99999999999999999999h\"",
            "\"1m30\"", "\"deny\"", "\"Allow\"", "\"127.0.0.1:99999\"", "\"[::1]:5347\"",
            "\"localhost:5347\"", "\"a..b\"", "\"./component.secret\"", "\"../schools/gs.pw\"",
            "\"../schools/empty.pw\"", "\"../schools/two-lines.pw\"", "\"$CREDENTIALS_DIRECTORY/x\"",
            "\"\"", "''", "'''\nx'''", "\"\"\"\n\"\"\"", "0", "-1", "9223372036854775807",
            "99999999999999999999999", "1e999", "nan", "-inf", "0x10", "true", "1979-05-27T07:32:00Z",
            "[]", "[[]]", "[1, \"a\"]", "{}", "{ name = \"r\" }", "{ name = \"r\", x = 1 }",
            "{ name = 1 }", "\"\\u0000\"", "\"\\uD800\"", "\"\\U0010FFFF\"",
        ])
        .prop_map(String::from),
        1 => "[a-z\u{e4}\u{fb01}\u{301} @/:._-]{0,16}".prop_map(|s| toml_str(&s)),
        2 => odd_text().prop_map(|s| toml_str(&s)),
    ];
    scalar.prop_recursive(2, 8, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(|v| format!("[{}]", v.join(", ")))
    })
}

fn toml_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "server", "component", "secret_file", "muc", "lobby_muc", "service_jids",
            "unmanaged_rooms", "grace_period", "end_message", "listen", "id", "name",
            "password_file", "rooms", "xmpp.muc", "policy.grace_period", "\"quoted key\"",
            "a.b.c", "school", "xmpp", "",
        ])
        .prop_map(String::from),
        1 => odd_text(),
    ]
}

/// A line to insert: a key, a table header, or garbage.
fn toml_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (toml_key(), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => prop::sample::select(vec![
            "[xmpp]", "[policy]", "[http]", "[[school]]", "[[school.rooms]]", "[xmpp.extra]",
            "[school]", "[[xmpp]]", "[policy.service_jids]", "[a.b.c.d]", "[", "]", "[[]]",
            "#", "=", "\"", "'''",
        ])
        .prop_map(String::from),
        1 => odd_text(),
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    DeleteLine(prop::sample::Index),
    DuplicateLine(prop::sample::Index, prop::sample::Index),
    InsertLine(prop::sample::Index, String),
    /// Replaces what follows the first `=` on a line.
    Retype(prop::sample::Index, String),
    InsertText(prop::sample::Index, String),
    Truncate(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let i = || any::<prop::sample::Index>();
    prop_oneof![
        2 => i().prop_map(Edit::DeleteLine),
        2 => (i(), i()).prop_map(|(a, b)| Edit::DuplicateLine(a, b)),
        3 => (i(), toml_line()).prop_map(|(a, l)| Edit::InsertLine(a, l)),
        4 => (i(), toml_value()).prop_map(|(a, v)| Edit::Retype(a, v)),
        1 => (i(), odd_text()).prop_map(|(a, t)| Edit::InsertText(a, t)),
        1 => i().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for e in edits {
        let n = lines.len();
        match e {
            Edit::DeleteLine(i) if n > 0 => {
                lines.remove(i.index(n));
            }
            Edit::DuplicateLine(a, b) if n > 0 => {
                let line = lines[a.index(n)].clone();
                lines.insert(b.index(n + 1), line);
            }
            Edit::InsertLine(i, line) => lines.insert(i.index(n + 1), line.clone()),
            Edit::Retype(i, v) if n > 0 => {
                let line = &mut lines[i.index(n)];
                if let Some(eq) = line.find('=') {
                    line.truncate(eq + 1);
                    line.push(' ');
                    line.push_str(v);
                }
            }
            Edit::InsertText(i, t) => {
                let mut all = lines.join("\n");
                let at = i.index(all.chars().count() + 1);
                let byte = all.char_indices().nth(at).map_or(all.len(), |(b, _)| b);
                all.insert_str(byte, t);
                lines = all.split('\n').map(String::from).collect();
            }
            Edit::Truncate(i) => {
                let all = lines.join("\n");
                let at = i.index(all.chars().count() + 1);
                lines = all
                    .chars()
                    .take(at)
                    .collect::<String>()
                    .split('\n')
                    .map(String::from)
                    .collect();
            }
            _ => {}
        }
    }
    lines.join("\n")
}

/// Every problem is located inside the text.
fn check_config(path: &Path, text: &str) -> Result<(), TestCaseError> {
    match config::parse(path, text, None) {
        Ok(config) => {
            // What raumwart sends from it must be text an XML stream can carry. Known
            // not to hold yet (see `config_text_that_xml_cannot_carry_is_refused`), and
            // skipped so that the property goes on looking for others.
            let rooms = config.schools.iter().flat_map(|s| &s.rooms);
            if !xml_text(&config.policy.end_message) || !rooms.clone().all(|r| xml_text(&r.name)) {
                return Ok(());
            }
            for chunk in protocol::map_chunks(&config.room_map()) {
                prop_assert!(writable(&chunk));
            }
        }
        Err(config::Error::Invalid { problems }) => {
            prop_assert!(!problems.is_empty(), "refused without a problem");
            let lines: Vec<&str> = text.split('\n').collect();
            for p in &problems {
                prop_assert!(p.line >= 1 && p.column >= 1, "{}", p);
                prop_assert!(p.line <= lines.len() + 1, "{} past the end", p);
                let width = lines.get(p.line - 1).map_or(0, |l| l.len());
                prop_assert!(
                    p.column <= width + 1,
                    "{} past its line ({} bytes)",
                    p,
                    width
                );
                prop_assert!(!p.message.is_empty(), "{}", p);
            }
        }
        Err(other) => prop_assert!(false, "parse read a file as the config: {}", other),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(300))]

    /// A valid config with lines deleted, duplicated, inserted and retyped, and text
    /// inserted or cut: never a panic, and every refusal is located in the text.
    #[test]
    fn mutated_configs_are_refused_with_located_problems(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let (path, text) = &seeds()[seed.index(seeds().len())];
        check_config(path, &apply(text, &edits))?;
    }

    /// The right shape with odd strings: what it accepts can be sent.
    #[test]
    fn shaped_configs_are_refused_with_located_problems(text in shaped_config()) {
        check_config(&fixtures().join("fuzz.toml"), &text)?;
    }

    /// Text that is barely TOML, or not at all.
    #[test]
    fn random_text_configs_are_refused_with_located_problems(
        lines in prop::collection::vec(toml_line(), 0..12),
        junk in any::<String>(),
    ) {
        let path = fixtures().join("fuzz.toml");
        check_config(&path, &lines.join("\n"))?;
        check_config(&path, &junk)?;
    }
}

/// A config of the right shape whose strings are mostly sound and now and then odd.
fn shaped_config() -> impl Strategy<Value = String> {
    let string = || {
        prop_oneof![
            3 => "[a-z0-9][a-z0-9-]{0,6}(\\.[a-z0-9]{1,4})?".prop_map(|s| toml_str(&s)),
            1 => odd_text().prop_map(|s| toml_str(&s)),
        ]
    };
    let room = prop_oneof![
        4 => string(),
        1 => (string(), prop::sample::select(vec!["../schools/room.pw", "../schools/empty.pw"]))
            .prop_map(|(n, f)| format!("{{ name = {n}, password_file = \"{f}\" }}")),
    ];
    let school = (
        string(),
        prop::option::of(string()),
        prop::collection::vec(room, 0..4),
    )
        .prop_map(|(id, name, rooms)| {
            let name = name.map(|n| format!("name = {n}\n")).unwrap_or_default();
            format!(
                "[[school]]\nid = {id}\n{name}password_file = \"../schools/gs.pw\"\nrooms = [{}]\n",
                rooms.join(", ")
            )
        });
    (
        string(),
        string(),
        prop::collection::vec(string(), 0..3),
        prop_oneof![
            4 => prop::sample::select(vec!["\"60s\"", "\"0s\"", "\"1m30s\""]).prop_map(String::from),
            1 => string(),
        ],
        string(),
        prop::collection::vec(school, 0..3),
    )
        .prop_map(|(component, muc, jids, grace, end, schools)| {
            format!(
                "[xmpp]\nserver = \"127.0.0.1:5347\"\ncomponent = {component}\nsecret_file = \"component.secret\"\n\
                 muc = {muc}\n[policy]\nservice_jids = [{}]\ngrace_period = {grace}\nend_message = {end}\n{}",
                jids.join(", "),
                schools.concat()
            )
        })
}

/// Found by `shaped_configs_are_refused_with_located_problems`: the config takes an
/// end message or a room name with characters XML cannot carry (controls, U+FFFE,
/// U+FFFF). The stream's encoder refuses the stanza, the daemon drops the connection,
/// reconnects and sends the same again: with such a room name the map push never goes
/// through, with such an end message every reset with a message fails.
#[test]
fn config_text_that_xml_cannot_carry_is_refused() {
    let path = fixtures().join("fuzz.toml");
    let xmpp = "[xmpp]\nserver = \"127.0.0.1:5347\"\ncomponent = \"a\"\n\
                secret_file = \"component.secret\"\nmuc = \"a\"\n";
    let end = format!("{xmpp}[policy]\nend_message = \"\\u0000\"\n");
    let room = format!(
        "{xmpp}[[school]]\nid = \"a\"\npassword_file = \"../schools/gs.pw\"\nrooms = [\"\u{ffff}\"]\n"
    );
    assert!(config::parse(&path, &end, None).is_err(), "{end}");
    // A room name is percent-encoded into its node, which XML carries.
    if let Ok(config) = config::parse(&path, &room, None) {
        let nodes: Vec<&str> = config.schools[0]
            .rooms
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert!(nodes.iter().all(|n| n.is_ascii()), "{nodes:?}");
    }
}

#[test]
fn the_config_seeds_are_valid() {
    for (path, text) in seeds() {
        assert!(
            config::parse(path, text, None).is_ok(),
            "{}",
            path.display()
        );
    }
}
