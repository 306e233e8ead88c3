//! The wire: generated elements, as the module would send them or worse, parsed and written back.

use super::*;

/// Odd text: control characters, combining marks, right-to-left, astral, XML specials.
pub(super) fn odd_text() -> impl Strategy<Value = String> {
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
pub(super) fn value() -> impl Strategy<Value = String> {
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
pub(super) fn module_element() -> impl Strategy<Value = Element> {
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
pub(super) fn snapshot_element() -> impl Strategy<Value = Element> {
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
pub(super) fn wire(el: &Element) -> Result<(), TestCaseError> {
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
                prop_assert_eq!(Some(event.room()), el.attr("r"));
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

pub(super) fn xml_text(s: &str) -> bool {
    s.chars().all(xml_char)
}

/// Whether `el` can be written as XML at all (minidom panics on what cannot).
pub(super) fn writable(el: &Element) -> bool {
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
