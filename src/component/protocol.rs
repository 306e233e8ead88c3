//! The wire: the Prosody module's compact events and commands, and the XEP-0045
//! requests raumwart sends to rooms. Pure functions from and to XML elements.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_xmpp::minidom::rxml::NcName;
use tokio_xmpp::minidom::Element;

use crate::core::{
    Event, RevokeTo, RoomMap, Snapshot, SnapshotOccupant, SnapshotRoom, MODULE_PROTOCOL,
};
use crate::doctor::{Muc, Report};

/// The namespace shared with `prosody/mod_raumwart.lua`.
pub const NS: &str = "urn:raumwart:0";
pub const MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
pub const MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
pub const PING: &str = "urn:xmpp:ping";

/// Bytes of room nodes per map chunk: each stanza stays far below Prosody's 512 KiB
/// limit (a node has at most 1023 bytes, so every chunk holds at least one).
pub const MAP_CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("not a raumwart element: <{0}/>")]
    Unknown(String),
    #[error("<{element}/> lacks the {attr:?} attribute")]
    Missing {
        element: &'static str,
        attr: &'static str,
    },
}

/// Builds an element with attributes; names are static and known to be valid.
pub fn element(name: &str, ns: &str, attrs: &[(&str, &str)]) -> Element {
    let mut b = Element::builder(name, ns);
    for (k, v) in attrs {
        let k = NcName::try_from(*k).expect("attribute names here are valid");
        b = b.attr(k, *v);
    }
    b.build()
}

fn req<'a>(el: &'a Element, element: &'static str, attr: &'static str) -> Result<&'a str, Error> {
    el.attr(attr).ok_or(Error::Missing { element, attr })
}

/// Parses one event element sent by the module; a leave while breakout rooms are open
/// says so first.
pub fn parse_events(el: &Element) -> Result<Vec<Event>, Error> {
    let event = parse_event(el)?;
    Ok(match (&event, el.attr("ba")) {
        (Event::Left { room, .. }, Some("1")) => {
            let room = room.clone();
            vec![Event::BreakoutsActive { room }, event]
        }
        _ => vec![event],
    })
}

fn parse_event(el: &Element) -> Result<Event, Error> {
    if el.ns() != NS {
        return Err(Error::Unknown(el.name().into()));
    }
    let room = |n| req(el, n, "r").map(str::to_owned);
    Ok(match el.name() {
        "j" => match el.attr("b") {
            Some(breakout) => Event::JoinedBreakout {
                room: room("j")?,
                occupant: req(el, "j", "o")?.into(),
                breakout: breakout.into(),
            },
            None => Event::Joined {
                room: room("j")?,
                occupant: req(el, "j", "o")?.into(),
                keyed: el.attr("k") == Some("1"),
            },
        },
        "l" => Event::Left {
            room: room("l")?,
            occupant: req(el, "l", "o")?.into(),
        },
        // `by` came later: a module without it says nothing about who ended it.
        "d" => match el.attr("by") {
            Some("organizer") => Event::EndedByOrganizer { room: room("d")? },
            _ => Event::Destroyed { room: room("d")? },
        },
        "w" => Event::WrongPassword { room: room("w")? },
        // `pa` and `mo` came later: a module without them says nothing about either.
        "a" => Event::Affiliation {
            room: room("a")?,
            jid: req(el, "a", "j")?.into(),
            affiliation: req(el, "a", "a")?.into(),
            actor: req(el, "a", "by")?.into(),
            previous: el.attr("pa").map(str::to_owned),
            members_only: el.attr("mo").map(|v| v == "1"),
        },
        "m" => Event::MembersOnly {
            room: room("m")?,
            on: req(el, "m", "mo")? == "1",
        },
        other => return Err(Error::Unknown(other.into())),
    })
}

/// The room map as a series of `<map/>` chunks; the module applies it with the last.
/// The rooms that share a school and password go together, as one `<s/>` per chunk
/// whose text is their nodes, space-separated (a node holds no whitespace): at 100,000
/// rooms the push is about a megabyte, not a hundred thousand elements. No password
/// leaves the daemon: each group carries a fresh random salt `s` and `h` =
/// HMAC-SHA256(key = salt, message = password), both in hex.
pub fn map_chunks(map: &RoomMap) -> impl Iterator<Item = Element> + '_ {
    // Groups in the order their first room comes, so the same map splits the same way.
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut groups: Vec<(&str, Vec<&str>)> = vec![];
    for (name, entry) in &map.rooms {
        let password = entry.password.expose();
        let i = *index.entry((&entry.school, password)).or_insert_with(|| {
            groups.push((password, vec![]));
            groups.len() - 1
        });
        groups[i].1.push(name);
    }
    // Each chunk: (group, its nodes in this chunk).
    let mut chunks: Vec<Vec<(usize, String)>> = vec![vec![]];
    let mut size = 0;
    for (i, (_, rooms)) in groups.iter().enumerate() {
        let mut text = String::new();
        for room in rooms {
            if size > 0 && size + room.len() + 1 > MAP_CHUNK_BYTES {
                if !text.is_empty() {
                    chunks
                        .last_mut()
                        .unwrap()
                        .push((i, std::mem::take(&mut text)));
                }
                chunks.push(vec![]);
                size = 0;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(room);
            size += room.len() + 1;
        }
        if !text.is_empty() {
            chunks.last_mut().unwrap().push((i, text));
        }
    }
    let salted: Vec<(String, String)> = groups
        .iter()
        .map(|(password, _)| {
            let mut salt = [0u8; SALT_LEN];
            getrandom::getrandom(&mut salt).expect("the system's random source");
            (hex(&salt), hex(&password_hash(&salt, password)))
        })
        .collect();
    let grace = map.grace.as_secs().to_string();
    let version = MODULE_PROTOCOL.to_string();
    let count = chunks.len();
    chunks.into_iter().enumerate().map(move |(n, pieces)| {
        // `v`: a module of another protocol refuses the map instead of misreading it.
        let mut attrs = vec![("v", version.as_str()), ("gen", map.gen.as_str())];
        if n == count - 1 {
            attrs.push(("last", "1"));
            attrs.push(("unmanaged", map.unmanaged.as_str()));
            attrs.push(("grace", grace.as_str()));
        }
        let mut el = element("map", NS, &attrs);
        for (group, nodes) in pieces {
            let (s, h) = &salted[group];
            let mut piece = element("s", NS, &[("s", s), ("h", h)]);
            piece.append_text_node(nodes);
            el.append_child(piece);
        }
        el
    })
}

/// Bytes of salt per group of rooms and push.
pub const SALT_LEN: usize = 16;

/// HMAC-SHA256 with the salt as key: what the module recomputes from a join's password.
/// Deliberately cheap (no key stretching): the module computes it for every join that
/// does not carry the room's current password, and a guessing student must not be able
/// to burn Prosody's CPU with it.
pub fn password_hash(salt: &[u8], password: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(salt).expect("HMAC takes keys of any length");
    mac.update(password.as_bytes());
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

pub fn snapshot_request() -> Element {
    element("snapshot", NS, &[])
}

pub fn parse_snapshot(el: &Element) -> Result<Snapshot, Error> {
    if !el.is("snapshot", NS) {
        return Err(Error::Unknown(el.name().into()));
    }
    let problems = el
        .children()
        .filter(|c| c.is("problem", NS))
        .map(|p| req(p, "problem", "code").map(str::to_owned))
        .collect::<Result<_, _>>()?;
    let mut rooms = vec![];
    for r in el.children().filter(|c| c.is("room", NS)) {
        let mut occupants = vec![];
        for o in r.children().filter(|c| c.is("o", NS)) {
            occupants.push(SnapshotOccupant {
                jid: req(o, "o", "o")?.into(),
                keyed: o.attr("k") == Some("1"),
                owner: o.attr("a") == Some("owner"),
                breakout: o.attr("b").map(str::to_owned),
            });
        }
        rooms.push(SnapshotRoom {
            name: req(r, "room", "n")?.into(),
            persistent: r.attr("p") == Some("1"),
            members_only: r.attr("mo") == Some("1"),
            occupants,
        });
    }
    let boot = el.attr("boot").unwrap_or_default().to_owned();
    Ok(Snapshot {
        // A version that is no number is no protocol this core speaks either.
        protocol: el.attr("v").and_then(|v| v.parse().ok()),
        gen: el.attr("gen").unwrap_or_default().to_owned(),
        rooms,
        problems,
        boot,
    })
}

/// `raumwart doctor`'s question to the module: what Prosody runs with.
pub fn doctor_request() -> Element {
    element("doctor", NS, &[])
}

/// The module's answer to [`doctor_request`]; what it leaves out counts as not set.
pub fn parse_doctor(el: &Element) -> Result<Report, Error> {
    if !el.is("doctor", NS) {
        return Err(Error::Unknown(el.name().into()));
    }
    let attr = |name| el.attr(name).map(str::to_owned);
    let children = |name| el.children().filter(move |c| c.is(name, NS));
    let mut mucs = vec![];
    for m in children("muc") {
        mucs.push(Muc {
            host: req(m, "muc", "host")?.into(),
            raumwart: m.attr("r") == Some("1"),
            breakout: m.attr("b") == Some("1"),
            main_muc: m.attr("main").map(str::to_owned),
            admin: m.attr("admin") == Some("1"),
            owner: m.attr("owner") == Some("1"),
        });
    }
    let mut component_listeners = vec![];
    for p in children("port") {
        let port = req(p, "port", "p")?.parse().unwrap_or(0);
        component_listeners.push((req(p, "port", "i")?.to_owned(), port));
    }
    let focus = children("focus")
        .map(|f| req(f, "focus", "j").map(str::to_owned))
        .collect::<Result<_, _>>()?;
    Ok(Report {
        protocol: el.attr("v").and_then(|v| v.parse().ok()),
        prosody: attr("prosody").unwrap_or_default(),
        lua: attr("lua").unwrap_or_default(),
        gc: attr("gc"),
        nagle: el.attr("nagle").map(|n| n != "false"),
        room_cache: el.attr("cache").and_then(|c| c.parse().ok()),
        mucs,
        component_listeners,
        focus,
    })
}

/// XEP-0045 §10.6: grant the owner affiliation (needs no presence in the room).
pub fn grant_owner(bare_jid: &str) -> Element {
    affiliation(bare_jid, "owner")
}

/// XEP-0045 §10.7: take the owner affiliation back, `to` what the person held before.
pub fn revoke_owner(bare_jid: &str, to: RevokeTo) -> Element {
    affiliation(bare_jid, to.as_str())
}

fn affiliation(bare_jid: &str, affiliation: &str) -> Element {
    let mut q = element("query", MUC_ADMIN, &[]);
    q.append_child(element(
        "item",
        MUC_ADMIN,
        &[("affiliation", affiliation), ("jid", bare_jid)],
    ));
    q
}

/// XEP-0045 §10.9: destroy the room, removing everyone with `reason`.
pub fn destroy(reason: Option<&str>) -> Element {
    let mut d = element("destroy", MUC_OWNER, &[]);
    if let Some(reason) = reason {
        let mut r = element("reason", MUC_OWNER, &[]);
        r.append_text(reason);
        d.append_child(r);
    }
    let mut q = element("query", MUC_OWNER, &[]);
    q.append_child(d);
    q
}

pub fn ping() -> Element {
    element("ping", PING, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{MapEntry, Secret, Unmanaged};

    #[test]
    fn events_parse() {
        let el: Element = r#"<j xmlns="urn:raumwart:0" r="gs-1" o="a@guest/x" k="1"/>"#
            .parse()
            .unwrap();
        assert_eq!(
            parse_event(&el),
            Ok(Event::Joined {
                room: "gs-1".into(),
                occupant: "a@guest/x".into(),
                keyed: true
            })
        );
        let el: Element = r#"<l xmlns="urn:raumwart:0" r="gs-1"/>"#.parse().unwrap();
        assert_eq!(
            parse_event(&el),
            Err(Error::Missing {
                element: "l",
                attr: "o"
            })
        );
        let el: Element = r#"<j xmlns="urn:other" r="x" o="y"/>"#.parse().unwrap();
        assert!(parse_event(&el).is_err());
        let el: Element = r#"<w xmlns="urn:raumwart:0" r="gs-1"/>"#.parse().unwrap();
        assert_eq!(
            parse_event(&el),
            Ok(Event::WrongPassword {
                room: "gs-1".into()
            })
        );
    }

    #[test]
    fn affiliation_events_say_what_was_held_before_and_whether_the_room_is_members_only() {
        let el: Element =
            r#"<a xmlns="urn:raumwart:0" r="gs-1" j="s@g" a="owner" by="focus@auth" pa="member" mo="1"/>"#
                .parse()
                .unwrap();
        assert_eq!(
            parse_event(&el),
            Ok(Event::Affiliation {
                room: "gs-1".into(),
                jid: "s@g".into(),
                affiliation: "owner".into(),
                actor: "focus@auth".into(),
                previous: Some("member".into()),
                members_only: Some(true),
            })
        );
        // A module of an earlier release says neither.
        let el: Element = r#"<a xmlns="urn:raumwart:0" r="gs-1" j="s@g" a="owner" by="t@g"/>"#
            .parse()
            .unwrap();
        assert!(matches!(
            parse_event(&el),
            Ok(Event::Affiliation {
                previous: None,
                members_only: None,
                ..
            })
        ));
        let el: Element = r#"<m xmlns="urn:raumwart:0" r="gs-1" mo="0"/>"#.parse().unwrap();
        assert_eq!(
            parse_event(&el),
            Ok(Event::MembersOnly {
                room: "gs-1".into(),
                on: false
            })
        );
    }

    #[test]
    fn a_destroy_says_whether_an_organizer_ended_the_meeting() {
        let parse = |xml: &str| parse_event(&xml.parse::<Element>().unwrap());
        assert_eq!(
            parse(r#"<d xmlns="urn:raumwart:0" r="gs-1" by="organizer"/>"#),
            Ok(Event::EndedByOrganizer {
                room: "gs-1".into()
            })
        );
        // A module of an earlier release does not say; nor does anyone else's destroy.
        for xml in [
            r#"<d xmlns="urn:raumwart:0" r="gs-1"/>"#,
            r#"<d xmlns="urn:raumwart:0" r="gs-1" by="someone"/>"#,
        ] {
            assert_eq!(
                parse(xml),
                Ok(Event::Destroyed {
                    room: "gs-1".into()
                })
            );
        }
        assert!(parse(r#"<d xmlns="urn:raumwart:0" by="organizer"/>"#).is_err());
    }

    #[test]
    fn owner_is_taken_back_to_the_affiliation_asked_for() {
        for to in [RevokeTo::Member, RevokeTo::None] {
            let q = revoke_owner("s@g", to);
            let item = q.get_child("item", MUC_ADMIN).unwrap();
            assert_eq!(
                (item.attr("jid"), item.attr("affiliation")),
                (Some("s@g"), Some(to.as_str()))
            );
        }
    }

    #[test]
    fn password_hash_is_hmac_sha256_keyed_with_the_salt() {
        // Known answer, as `openssl dgst -sha256 -hmac key` and Prosody's
        // util.hashes.hmac_sha256("key", "msg", true) give it.
        assert_eq!(
            hex(&password_hash(b"key", "msg")),
            "2d93cbc1be167bcb1637a4a23cbff01a7878f0c50ee833954ea5221bb1b8c628"
        );
    }

    fn map_of(rooms: &[(&str, &str, &str)], unmanaged: Unmanaged) -> RoomMap {
        let rooms = rooms
            .iter()
            .map(|&(name, school, password)| {
                let e = MapEntry {
                    school: school.into(),
                    password: Secret::new(password),
                };
                (name.to_owned(), e)
            })
            .collect();
        RoomMap::new(rooms, unmanaged, std::time::Duration::from_secs(60))
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn map_carries_salted_hashes_never_passwords() {
        let (a, b) = ("Tafel-Kreide-Pausenhof-47", "Heft-Lineal-Zirkel-Atlas-9");
        let map = map_of(
            &[
                ("r1", "s", a),
                ("r2", "s", a),
                ("r3", "t", b),
                ("r4", "s", a),
            ],
            Unmanaged::Allow,
        );
        let push = || -> Vec<Element> {
            map_chunks(&map)
                .flat_map(|c| c.children().cloned().collect::<Vec<_>>())
                .collect()
        };
        let (first, second) = (push(), push());
        let mut salts = std::collections::HashSet::new();
        for g in first.iter().chain(&second) {
            let mut xml = Vec::new();
            g.write_to(&mut xml).unwrap();
            let xml = String::from_utf8(xml).unwrap();
            assert!(!xml.contains(a) && !xml.contains(b), "{xml}");
            let (s, h) = (g.attr("s").unwrap(), g.attr("h").unwrap());
            assert_eq!(s.len(), 2 * SALT_LEN);
            let password = if g.text() == "r3" { b } else { a };
            assert_eq!(h, hex(&password_hash(&unhex(s), password)));
            assert!(salts.insert(s.to_owned()), "a salt was used twice");
        }
        // One group per school and password, in the order of their first room.
        let texts: Vec<String> = first.iter().map(Element::text).collect();
        assert_eq!(texts, ["r1 r2 r4", "r3"]);
        assert_eq!(salts.len(), 4);
    }

    #[test]
    fn map_is_chunked_by_size_and_last_carries_policy() {
        let names: Vec<String> = (0..20_000).map(|i| format!("raum-{i:05}")).collect();
        let rooms: Vec<(&str, &str, &str)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), if i % 3 == 0 { "a" } else { "b" }, "pw"))
            .collect();
        let map = map_of(&rooms, Unmanaged::Deny);
        let chunks: Vec<_> = map_chunks(&map).collect();
        assert_eq!(chunks.len(), 20_000 * 11 / MAP_CHUNK_BYTES + 1);
        for c in &chunks {
            assert_eq!(c.attr("v"), Some("2"), "every chunk names its protocol");
            let nodes: usize = c.children().map(|g| g.text().len() + 1).sum();
            assert!(nodes <= MAP_CHUNK_BYTES, "{nodes}");
        }
        let last: Vec<_> = chunks.iter().map(|c| c.attr("last")).collect();
        assert!(last[..last.len() - 1].iter().all(Option::is_none));
        assert_eq!(chunks.last().unwrap().attr("last"), Some("1"));
        assert_eq!(chunks.last().unwrap().attr("unmanaged"), Some("deny"));
        let mut all: Vec<String> = chunks
            .iter()
            .flat_map(|c| c.children())
            .flat_map(|g| g.text().split(' ').map(str::to_owned).collect::<Vec<_>>())
            .collect();
        all.sort();
        assert_eq!(all, names);
        let empty = RoomMap {
            rooms: Default::default(),
            ..map
        };
        let chunks: Vec<_> = map_chunks(&empty).collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].children().count(), 0);
    }

    #[test]
    fn the_doctor_report_parses_and_what_is_left_out_is_not_set() {
        let el: Element = r#"<doctor xmlns="urn:raumwart:0" v="1" prosody="13.0.1" lua="Lua 5.4"
            gc="generational" nagle="false" cache="10000">
            <muc host="muc.meet.jitsi" r="1" admin="1" owner="1"/>
            <muc host="breakout.meet.jitsi" b="1" main="muc.meet.jitsi" admin="1"/>
            <port i="127.0.0.1" p="5347"/><port i="::1" p="5347"/>
            <focus j="focus@auth.meet.jitsi"/></doctor>"#
            .parse()
            .unwrap();
        let r = parse_doctor(&el).unwrap();
        assert_eq!(r.protocol, Some(1));
        assert_eq!((r.prosody.as_str(), r.lua.as_str()), ("13.0.1", "Lua 5.4"));
        assert_eq!(
            (r.gc.as_deref(), r.nagle, r.room_cache),
            (Some("generational"), Some(false), Some(10_000))
        );
        assert_eq!(r.mucs.len(), 2);
        assert!(r.mucs[0].raumwart && r.mucs[0].admin && r.mucs[0].owner && !r.mucs[0].breakout);
        assert!(r.mucs[1].breakout && r.mucs[1].admin && !r.mucs[1].owner);
        assert_eq!(r.mucs[1].main_muc.as_deref(), Some("muc.meet.jitsi"));
        assert_eq!(
            r.component_listeners,
            [("127.0.0.1".into(), 5347), ("::1".into(), 5347)]
        );
        assert_eq!(r.focus, ["focus@auth.meet.jitsi"]);

        let el: Element = r#"<doctor xmlns="urn:raumwart:0" nagle="true"/>"#.parse().unwrap();
        let r = parse_doctor(&el).unwrap();
        assert_eq!(
            (r.protocol, r.gc, r.nagle, r.room_cache),
            (None, None, Some(true), None)
        );
        let el: Element = r#"<doctor xmlns="urn:raumwart:0"><muc admin="1"/></doctor>"#
            .parse()
            .unwrap();
        assert!(parse_doctor(&el).is_err());
        let el: Element = r#"<snapshot xmlns="urn:raumwart:0"/>"#.parse().unwrap();
        assert!(parse_doctor(&el).is_err());
    }

    #[test]
    fn snapshot_parses() {
        let el: Element = r#"<snapshot xmlns="urn:raumwart:0" v="1" gen="g">
            <room n="r1" p="1" mo="1"><o o="t@g/1" k="1" a="owner"/><o o="s@g/2"/></room>
            <room n="r2"/></snapshot>"#
            .parse()
            .unwrap();
        let s = parse_snapshot(&el).unwrap();
        assert_eq!((s.protocol, s.gen.as_str()), (Some(1), "g"));
        assert_eq!(s.rooms.len(), 2);
        assert!(s.rooms[0].persistent && s.rooms[0].members_only);
        assert!(!s.rooms[1].members_only);
        assert!(s.rooms[0].occupants[0].keyed && s.rooms[0].occupants[0].owner);
        assert!(!s.rooms[0].occupants[1].keyed);
        assert!(s.rooms[1].occupants.is_empty());
        assert!(s.problems.is_empty());
        let el: Element = r#"<snapshot xmlns="urn:raumwart:0" gen="">
            <problem code="map-unreadable"/></snapshot>"#
            .parse()
            .unwrap();
        let s = parse_snapshot(&el).unwrap();
        assert_eq!(s.problems, ["map-unreadable"]);
        assert!(s.rooms.is_empty());
        assert_eq!(
            s.protocol, None,
            "a module from before versions announces none"
        );
        for v in ["x", "-1", ""] {
            let el: Element = format!(r#"<snapshot xmlns="urn:raumwart:0" v="{v}"/>"#)
                .parse()
                .unwrap();
            assert_eq!(parse_snapshot(&el).unwrap().protocol, None, "{v:?}");
        }
    }
}
