//! A small real XMPP client (c2s, no TLS) for the tests: teachers, students, focus.
//!
//! It speaks raw elements in the `jabber:client` namespace. The daemon's build switches
//! xmpp-parsers to the component namespace, so typed client stanzas are not available
//! here (see FACTS.md); elements are all the tests need.
//!
//! Presences are Jitsi's: the nick a test names a person by ("teacher", "Lena Schulz") is
//! the display name, sent as XEP-0172 `<nick/>`, and the MUC nick (the occupant JID's
//! resource) is 8 lower-case hex characters, as lib-jitsi-meet makes it and as
//! docker-jitsi-meet's `muc_resource_validate` wants it (see `muc_nick`). Every method
//! that takes a nick maps it the same way, so a test reads in display names.

use std::collections::hash_map::{Entry, RandomState};
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::minidom::rxml::NcName;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::xmlstream::{self, ReadError, StreamHeader, Timeouts, XmlStream};

pub const CLIENT: &str = "jabber:client";
pub const MUC: &str = "http://jabber.org/protocol/muc";
pub const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
pub const MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
pub const MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
/// XEP-0172 User Nickname: where Jitsi carries the display name.
pub const NICK: &str = "http://jabber.org/protocol/nick";
const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// How long any single wait in a test may take before it fails, for what follows at once
/// from what the test did; a wait for what a timer causes takes `after(timer)`.
pub const WAIT: Duration = Duration::from_secs(10);

/// How long to wait for something `timer` causes (a grace period's end, a retry): the
/// timer plus a margin that grows with it, never a constant that may equal the timer.
pub fn after(timer: Duration) -> Duration {
    timer + WAIT.max(timer / 2)
}

type Stream = XmlStream<BufStream<TcpStream>, Element>;

pub fn el(name: &str, ns: &str, attrs: &[(&str, &str)]) -> Element {
    let mut b = Element::builder(name, ns);
    for (k, v) in attrs {
        b = b.attr(NcName::try_from(*k).unwrap(), *v);
    }
    b.build()
}

pub fn text_el(name: &str, ns: &str, text: &str) -> Element {
    let mut e = el(name, ns, &[]);
    e.append_text(text);
    e
}

pub fn base64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The defined condition of an `<error/>` inside `stanza`, e.g. "not-authorized".
pub fn error_condition(stanza: &Element) -> Option<String> {
    let error = stanza.get_child("error", CLIENT)?;
    error
        .children()
        .find(|c| c.ns() == STANZAS && c.name() != "text")
        .map(|c| c.name().to_owned())
}

/// The `<text/>` of an `<error/>` inside `stanza`, "" if it has none.
pub fn error_text(stanza: &Element) -> String {
    stanza
        .get_child("error", CLIENT)
        .and_then(|e| e.get_child("text", STANZAS))
        .map(|t| t.text())
        .unwrap_or_default()
}

/// jicofo's MUC nick. Focus joins as "focus" (Jitsi's Prosody plugins wait for that
/// occupant), so this nick alone is used as it is; the test Prosody lets only focus's
/// account take it (tests/prosody/mod_test_resource_validate.lua).
pub const FOCUS_NICK: &str = "focus";

/// What the test Prosody's stand-in for `muc_resource_validate` says when it refuses a
/// join or a nick change (tests/prosody/mod_test_resource_validate.lua): the first as
/// docker-jitsi-meet's module says it, the others its own. A join through the kit that
/// gets one of these is the kit's or the test's mistake, never raumwart's.
pub const NICK_REFUSALS: [&str; 3] = [
    "Invalid resource",
    "Not a MUC nick as lib-jitsi-meet makes it",
    "Nick changes are not allowed",
];

/// The MUC nicks handed out in this process, each with the display name it stands for.
fn handed_out() -> &'static Mutex<HashMap<String, String>> {
    static NICKS: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    NICKS.get_or_init(Mutex::default)
}

/// A new MUC nick for a person shown as `display`: 8 random lower-case hex characters, as
/// lib-jitsi-meet makes them, and none handed out before in this process, so that a MUC
/// nick tells the display name it was made for (`display_name_of`): a kicked or removed
/// occupant's unavailable presence carries no `<nick/>`, only the MUC nick, and tests
/// look for the removal of "student" in rooms where several clients entered under that
/// name.
pub fn new_muc_nick(display: &str) -> String {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static DRAWN: AtomicU64 = AtomicU64::new(0);
    let keys = KEYS.get_or_init(RandomState::new);
    loop {
        let n = keys.hash_one(DRAWN.fetch_add(1, Ordering::Relaxed)) as u32;
        let nick = format!("{n:08x}");
        let mut nicks = handed_out().lock().unwrap();
        if let Entry::Vacant(free) = nicks.entry(nick.clone()) {
            free.insert(display.to_owned());
            return nick;
        }
    }
}

/// The display name MUC nick `nick` was made for, if the kit made it.
pub fn display_name_of(nick: &str) -> Option<String> {
    handed_out().lock().unwrap().get(nick).cloned()
}

/// Every MUC nick handed out in this process so far, with its display name.
pub fn muc_nicks() -> Vec<(String, String)> {
    let nicks = handed_out().lock().unwrap();
    nicks.iter().map(|(n, d)| (n.clone(), d.clone())).collect()
}

/// True if `stanza` comes from an occupant (of any room) that a test knows as `display`:
/// its resource is a MUC nick made for `display`, or `display` is focus's nick.
pub fn is_from(stanza: &Element, display: &str) -> bool {
    let Some((_, nick)) = stanza.attr("from").and_then(|f| f.split_once('/')) else {
        return false;
    };
    if display == FOCUS_NICK {
        return nick == FOCUS_NICK;
    }
    display_name_of(nick).as_deref() == Some(display)
}

/// What a join produced.
#[derive(Debug)]
pub struct Joined {
    /// The MUC nick the client entered with (see `Client::muc_nick`).
    pub nick: String,
    pub affiliation: String,
    pub role: String,
    /// Groupchat messages with a body replayed as history.
    pub history: Vec<String>,
    pub subject: String,
}

pub struct Client {
    stream: Stream,
    /// Our full JID as bound by the server.
    pub jid: String,
    /// Stanzas read but not consumed yet, with their arrival time.
    backlog: VecDeque<(Element, Instant)>,
    next_id: u64,
    /// When the stanza last returned by a wait arrived (for latency measurements).
    pub arrived: Instant,
    /// When our own presence echo of the last successful join arrived.
    pub joined_at: Instant,
    /// Drop stanzas no wait asked for instead of keeping them (load generators).
    pub discard: bool,
    /// The MUC nick used for each display name (see `muc_nick`).
    nicks: HashMap<String, String>,
}

/// How a client authenticates, and the resource it asks for (None: the server's choice).
struct Login<'a> {
    mechanism: &'static str,
    initial: Option<String>,
    resource: Option<&'a str>,
}

impl<'a> Login<'a> {
    fn anonymous(resource: Option<&'a str>) -> Login<'a> {
        Login {
            mechanism: "ANONYMOUS",
            initial: None,
            resource,
        }
    }
}

impl Client {
    /// Logs in anonymously, as Jitsi's guests do: every login is a new JID.
    pub async fn anonymous(port: u16, domain: &str) -> Client {
        Self::connect(port, domain, Login::anonymous(None)).await
    }

    /// An anonymous guest that binds the resource it likes (any text is allowed there).
    pub async fn anonymous_as(port: u16, domain: &str, resource: &str) -> Client {
        Self::connect(port, domain, Login::anonymous(Some(resource))).await
    }

    pub async fn login(port: u16, domain: &str, user: &str, password: &str) -> Client {
        let creds = base64(format!("\0{user}\0{password}").as_bytes());
        let login = Login {
            mechanism: "PLAIN",
            initial: Some(creds),
            resource: None,
        };
        Self::connect(port, domain, login).await
    }

    async fn connect(port: u16, domain: &str, login: Login<'_>) -> Client {
        tokio::time::timeout(WAIT, Self::connect_inner(port, domain, login))
            .await
            .unwrap_or_else(|_| panic!("login to {domain} on port {port} timed out"))
    }

    async fn connect_inner(port: u16, domain: &str, login: Login<'_>) -> Client {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to Prosody's c2s port");
        let header = || StreamHeader {
            to: Some(domain.to_owned().into()),
            ..Default::default()
        };
        let timeouts = Timeouts {
            read_timeout: Duration::from_secs(600),
            response_timeout: Duration::from_secs(600),
        };
        let pending = xmlstream::initiate_stream(BufStream::new(tcp), CLIENT, header(), timeouts)
            .await
            .expect("stream header");
        let (_features, mut stream) = pending
            .recv_features::<Element>()
            .await
            .expect("stream features");
        let mut auth = el("auth", SASL, &[("mechanism", login.mechanism)]);
        if let Some(initial) = login.initial {
            auth.append_text(initial);
        }
        stream.send(&auth).await.expect("send auth");
        let answer = next_element(&mut stream).await;
        assert!(answer.is("success", SASL), "SASL failed: {answer:?}");
        let pending = stream
            .initiate_reset()
            .send_header(header())
            .await
            .expect("stream restart");
        let (_features, mut stream) = pending
            .recv_features::<Element>()
            .await
            .expect("features after auth");
        let mut iq = el("iq", CLIENT, &[("type", "set"), ("id", "bind")]);
        let mut bind = el("bind", BIND, &[]);
        if let Some(resource) = login.resource {
            let mut r = el("resource", BIND, &[]);
            r.append_text(resource);
            bind.append_child(r);
        }
        iq.append_child(bind);
        stream.send(&iq).await.expect("send bind");
        let bound = next_element(&mut stream).await;
        let jid = bound
            .get_child("bind", BIND)
            .and_then(|b| b.get_child("jid", BIND))
            .map(|j| j.text())
            .unwrap_or_else(|| panic!("bind failed: {bound:?}"));
        let mut client = Client {
            stream,
            jid,
            backlog: VecDeque::new(),
            next_id: 0,
            arrived: Instant::now(),
            joined_at: Instant::now(),
            discard: false,
            nicks: HashMap::new(),
        };
        // Some servers want a session and initial presence; Prosody needs neither for MUC.
        client.send(el("presence", CLIENT, &[])).await;
        client
    }

    /// Reads and drops everything, forever (a client that must not stall the server).
    pub async fn drain(mut self) {
        loop {
            next_element(&mut self.stream).await;
        }
    }

    pub fn bare(&self) -> String {
        self.jid.split('/').next().unwrap().to_owned()
    }

    pub async fn send(&mut self, stanza: Element) {
        self.stream.send(&stanza).await.expect("send stanza");
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("c{}", self.next_id)
    }

    /// Waits for the first stanza matching `pred`; others are kept for later waits.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Element) -> bool) -> Element {
        self.wait_for_within(WAIT, what, pred).await
    }

    /// `wait_for` for up to `limit`.
    pub async fn wait_for_within(
        &mut self,
        limit: Duration,
        what: &str,
        pred: impl Fn(&Element) -> bool,
    ) -> Element {
        if let Some(i) = self.backlog.iter().position(|(s, _)| pred(s)) {
            let (stanza, at) = self.backlog.remove(i).unwrap();
            self.arrived = at;
            return stanza;
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let next = tokio::time::timeout_at(deadline, next_element(&mut self.stream)).await;
            let now = Instant::now();
            match next {
                Ok(stanza) if pred(&stanza) => {
                    self.arrived = now;
                    return stanza;
                }
                Ok(_) if self.discard => {}
                Ok(stanza) => self.backlog.push_back((stanza, now)),
                Err(_) => panic!(
                    "{}: timed out after {limit:?} waiting for {what}; unmatched stanzas: {:#?}",
                    self.jid, self.backlog
                ),
            }
        }
    }

    /// The next stanza, without a time limit (for long-lived actors like focus).
    pub async fn next(&mut self) -> Element {
        match self.backlog.pop_front() {
            Some((s, _)) => s,
            None => next_element(&mut self.stream).await,
        }
    }

    /// The next stanza, or None once the stream has ended (Prosody stopped or restarted).
    pub async fn try_next(&mut self) -> Option<Element> {
        match self.backlog.pop_front() {
            Some((s, _)) => Some(s),
            None => read_element(&mut self.stream).await.ok(),
        }
    }

    /// True if a matching stanza has arrived and not been consumed; call after `sync`.
    pub fn saw(&self, pred: impl Fn(&Element) -> bool) -> bool {
        self.backlog.iter().any(|(s, _)| pred(s))
    }

    /// Reads everything that has arrived until a ping round trip completes: afterwards
    /// every stanza the server sent before the ping is in the backlog.
    pub async fn sync(&mut self) {
        let id = self.id();
        let mut iq = el("iq", CLIENT, &[("type", "get"), ("id", &id)]);
        iq.append_child(el("ping", "urn:xmpp:ping", &[]));
        self.send(iq).await;
        self.wait_for("ping answer", |s| s.attr("id") == Some(id.as_str()))
            .await;
    }

    pub async fn iq(&mut self, to: &str, kind: &str, payload: Element) -> Result<Element, String> {
        let id = self.id();
        let mut iq = el("iq", CLIENT, &[("type", kind), ("id", &id), ("to", to)]);
        iq.append_child(payload);
        self.send(iq).await;
        let answer = self
            .wait_for(&format!("answer to iq {id} to {to}"), |s| {
                s.name() == "iq" && s.attr("id") == Some(id.as_str())
            })
            .await;
        match answer.attr("type") {
            Some("result") => Ok(answer),
            _ => Err(error_condition(&answer).unwrap_or_else(|| format!("{answer:?}"))),
        }
    }

    /// The MUC nick this client uses for the display name `display`: made on first use
    /// (`new_muc_nick`) and kept for the client's life, as lib-jitsi-meet keeps one for a
    /// connection, so a rejoin or a move to a breakout room keeps it. Two clients shown
    /// under one name get two nicks, as two browsers do. Focus's nick stays as it is.
    ///
    /// Random rather than the first 8 characters of the JID's node (lib-jitsi-meet's
    /// choice for anonymous users): logged-in clients have no random node, one client may
    /// stand for several people in a test, and only a nick made for one display name
    /// tells whose removal a presence announces.
    pub fn muc_nick(&mut self, display: &str) -> String {
        if display == FOCUS_NICK {
            return display.to_owned();
        }
        self.nicks
            .entry(display.to_owned())
            .or_insert_with(|| new_muc_nick(display))
            .clone()
    }

    /// The occupant JID `room_jid/<MUC nick>` of this client shown as `display`.
    pub fn occupant(&mut self, room_jid: &str, display: &str) -> String {
        format!("{room_jid}/{}", self.muc_nick(display))
    }

    /// A presence to `room_jid` as `display`, as lib-jitsi-meet sends every presence in
    /// a room: to the MUC nick, the display name in `<nick/>` (focus sends none).
    pub fn presence(&mut self, room_jid: &str, display: &str) -> Element {
        let to = self.occupant(room_jid, display);
        let mut presence = el("presence", CLIENT, &[("to", &to)]);
        if display != FOCUS_NICK {
            presence.append_child(text_el("nick", NICK, display));
        }
        presence
    }

    /// Joins `room_jid` as `nick` (the display name, see `muc_nick`); Err carries the
    /// error condition. Panics if the test Prosody refuses the nick itself.
    pub async fn join(
        &mut self,
        room_jid: &str,
        nick: &str,
        password: Option<&str>,
    ) -> Result<Joined, String> {
        let mut x = el("x", MUC, &[]);
        if let Some(p) = password {
            x.append_child(text_el("password", MUC, p));
        }
        let mut presence = self.presence(room_jid, nick);
        let to = presence.attr("to").unwrap_or_default().to_owned();
        presence.append_child(x);
        self.send(presence).await;
        let answer = self
            .wait_for(&format!("own presence in {to} ({nick})"), |s| {
                s.name() == "presence"
                    && s.attr("from") == Some(to.as_str())
                    && (s.attr("type") == Some("error") || is_self_presence(s))
            })
            .await;
        if answer.attr("type") == Some("error") {
            let text = error_text(&answer);
            assert!(
                !NICK_REFUSALS.iter().any(|r| text.starts_with(r)),
                "{}: the nick of {nick:?} was refused entering {to}: {text}",
                self.jid
            );
            return Err(error_condition(&answer).unwrap_or_default());
        }
        self.joined_at = self.arrived;
        let (affiliation, role) = item_of(&answer);
        // Prosody sends history, then the subject (possibly empty) to every joiner.
        let mut history = vec![];
        let room = room_jid.to_owned();
        let subject = loop {
            let m = self
                .wait_for("history or subject", |s| {
                    s.name() == "message"
                        && s.attr("type") == Some("groupchat")
                        && s.attr("from").is_some_and(|f| f.starts_with(&room))
                })
                .await;
            if let Some(subject) = m.get_child("subject", CLIENT) {
                break subject.text();
            }
            if let Some(body) = m.get_child("body", CLIENT) {
                history.push(body.text());
            }
        };
        Ok(Joined {
            nick: to.rsplit('/').next().unwrap_or_default().to_owned(),
            affiliation,
            role,
            history,
            subject,
        })
    }

    /// Sends the presence that leaves `room_jid`, without waiting; returns the occupant JID.
    pub async fn send_leave(&mut self, room_jid: &str, nick: &str) -> String {
        let to = self.occupant(room_jid, nick);
        self.send(el(
            "presence",
            CLIENT,
            &[("to", &to), ("type", "unavailable")],
        ))
        .await;
        to
    }

    /// Leaves `room_jid` and waits for the own unavailable presence.
    pub async fn leave(&mut self, room_jid: &str, nick: &str) {
        let to = self.send_leave(room_jid, nick).await;
        self.wait_for(&format!("own unavailable presence from {to}"), |s| {
            s.name() == "presence"
                && s.attr("type") == Some("unavailable")
                && s.attr("from") == Some(to.as_str())
        })
        .await;
    }

    /// Waits until our own affiliation in the room becomes `affiliation`.
    pub async fn wait_affiliation(&mut self, room_jid: &str, nick: &str, affiliation: &str) {
        let from = self.occupant(room_jid, nick);
        self.wait_for(
            &format!("own affiliation {affiliation} in {from} ({nick})"),
            |s| {
                s.name() == "presence"
                    && s.attr("from") == Some(from.as_str())
                    && s.attr("type").is_none()
                    && item_of(s).0 == affiliation
            },
        )
        .await;
    }

    /// Waits for the room to throw us out (destroy or kick) as a direct consequence of
    /// what the test did; returns the reason text.
    pub async fn wait_removed(&mut self, room_jid: &str, nick: &str) -> String {
        self.wait_removed_within(WAIT, room_jid, nick).await
    }

    /// `wait_removed` for up to `limit`: `after(grace)` for a removal at a grace period's end.
    pub async fn wait_removed_within(
        &mut self,
        limit: Duration,
        room_jid: &str,
        nick: &str,
    ) -> String {
        let from = self.occupant(room_jid, nick);
        let s = self
            .wait_for_within(limit, &format!("removal from {from} ({nick})"), |s| {
                s.name() == "presence"
                    && s.attr("type") == Some("unavailable")
                    && s.attr("from") == Some(from.as_str())
            })
            .await;
        let x = s.get_child("x", MUC_USER);
        x.and_then(|x| x.get_child("destroy", MUC_USER))
            .and_then(|d| d.get_child("reason", MUC_USER))
            .map(|r| r.text())
            .unwrap_or_default()
    }

    pub async fn say(&mut self, room_jid: &str, body: &str) {
        let mut m = el(
            "message",
            CLIENT,
            &[("to", room_jid), ("type", "groupchat")],
        );
        m.append_child(text_el("body", CLIENT, body));
        self.send(m).await;
        let room = room_jid.to_owned();
        let body = body.to_owned();
        self.wait_for("echo of own message", move |s| {
            s.name() == "message"
                && s.attr("from").is_some_and(|f| f.starts_with(&room))
                && s.get_child("body", CLIENT)
                    .is_some_and(|b| b.text() == body)
        })
        .await;
    }

    pub async fn set_subject(&mut self, room_jid: &str, subject: &str) {
        let mut m = el(
            "message",
            CLIENT,
            &[("to", room_jid), ("type", "groupchat")],
        );
        m.append_child(text_el("subject", CLIENT, subject));
        self.send(m).await;
        let room = room_jid.to_owned();
        let subject = subject.to_owned();
        self.wait_for("subject change echo", move |s| {
            s.name() == "message"
                && s.attr("from").is_some_and(|f| f.starts_with(&room))
                && s.get_child("subject", CLIENT)
                    .is_some_and(|b| b.text() == subject)
        })
        .await;
    }

    /// Submits the owner config form, as Jitsi's lockRoom() does.
    pub async fn configure(
        &mut self,
        room_jid: &str,
        fields: &[(&str, &str)],
    ) -> Result<(), String> {
        let mut x = el("x", "jabber:x:data", &[("type", "submit")]);
        let mut all = vec![("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig")];
        all.extend_from_slice(fields);
        for (var, value) in all {
            let mut f = el("field", "jabber:x:data", &[("var", var)]);
            f.append_child(text_el("value", "jabber:x:data", value));
            x.append_child(f);
        }
        let mut q = el("query", MUC_OWNER, &[]);
        q.append_child(x);
        self.iq(room_jid, "set", q).await.map(|_| ())
    }

    /// Sets `target`'s affiliation in `room_jid` as the Jitsi UI (or jicofo) does.
    pub async fn set_affiliation(
        &mut self,
        room_jid: &str,
        target: &str,
        affiliation: &str,
    ) -> Result<(), String> {
        let mut q = el("query", MUC_ADMIN, &[]);
        q.append_child(el(
            "item",
            MUC_ADMIN,
            &[("affiliation", affiliation), ("jid", target)],
        ));
        self.iq(room_jid, "set", q).await.map(|_| ())
    }

    /// The bare JIDs holding `affiliation` in the room (needs owner or admin rights).
    pub async fn affiliations(&mut self, room_jid: &str, affiliation: &str) -> Vec<String> {
        let mut q = el("query", MUC_ADMIN, &[]);
        q.append_child(el("item", MUC_ADMIN, &[("affiliation", affiliation)]));
        let answer = self
            .iq(room_jid, "get", q)
            .await
            .unwrap_or_else(|e| panic!("affiliation list of {room_jid}: {e}"));
        let q = answer.get_child("query", MUC_ADMIN).expect("query");
        q.children()
            .filter_map(|i| i.attr("jid").map(str::to_owned))
            .collect()
    }
}

pub fn is_self_presence(s: &Element) -> bool {
    s.get_child("x", MUC_USER).is_some_and(|x| {
        x.children()
            .any(|c| c.name() == "status" && c.attr("code") == Some("110"))
    })
}

/// (affiliation, role) of the first `<item/>` in a MUC presence.
pub fn item_of(s: &Element) -> (String, String) {
    let item = s
        .get_child("x", MUC_USER)
        .and_then(|x| x.get_child("item", MUC_USER));
    let get = |a| item.and_then(|i| i.attr(a)).unwrap_or("none").to_owned();
    (get("affiliation"), get("role"))
}

async fn next_element(stream: &mut Stream) -> Element {
    read_element(stream).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn read_element(stream: &mut Stream) -> Result<Element, String> {
    loop {
        match stream.next().await {
            Some(Ok(el)) => return Ok(el),
            Some(Err(ReadError::SoftTimeout)) => continue,
            Some(Err(e)) => return Err(format!("client stream error: {e:?}")),
            None => return Err("client stream closed".into()),
        }
    }
}
