//! A focus that behaves like jicofo: it creates the room and enters first, and leaves
//! when it is the last occupant (jicofo stops the conference at zero members). With
//! `auto_owner` it also does what jicofo's `enable-auto-owner` does: when the last owner
//! among the members leaves, it makes the next member owner. It answers lib-jitsi-meet's
//! conference request as jicofo does (`conference_answer`), so that the real client
//! joins its room (`jitsi_web`).

use std::collections::BTreeMap;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use tokio_xmpp::minidom::Element;

use crate::client::{self, el, text_el, Client, WAIT};
use crate::{room_jid, AUTH, FOCUS_PASSWORD};

/// The namespace of jicofo's conference request (lib-jitsi-meet's moderator.js).
pub const FOCUS_NS: &str = "http://jitsi.org/protocol/focus";
const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

pub struct Focus {
    pub room: String,
    /// Focus's full JID: where lib-jitsi-meet sends its conference request
    /// (jitsi-meet's `hosts.focus`).
    pub jid: String,
    /// Why focus is out of the room: "left", "removed: <reason>" or "disconnected"
    /// (Prosody went away).
    out: watch::Receiver<Option<String>>,
    task: JoinHandle<()>,
}

impl Focus {
    /// Logs in as focus and creates (or enters) `room`. With `leaves_when_alone` false it
    /// stays forever, to show that it never counts as a person.
    pub async fn create(port: u16, room: &str, leaves_when_alone: bool, auto_owner: bool) -> Focus {
        let mut c = Client::login(port, AUTH, "focus", FOCUS_PASSWORD).await;
        let jid = room_jid(room);
        c.join(&jid, "focus", None)
            .await
            .unwrap_or_else(|e| panic!("focus could not create {jid}: {e}"));
        let (tx, out) = watch::channel(None);
        let full = c.jid.clone();
        let task = tokio::spawn(run(c, jid, leaves_when_alone, auto_owner, tx));
        Focus {
            room: room.to_owned(),
            jid: full,
            out,
            task,
        }
    }

    /// Waits until focus is out of the room and says why.
    pub async fn gone(&mut self) -> String {
        let out = tokio::time::timeout(WAIT, self.out.wait_for(Option::is_some))
            .await
            .unwrap_or_else(|_| panic!("focus still in {} after {WAIT:?}", self.room))
            .expect("focus task alive");
        out.clone().unwrap()
    }

    pub fn is_gone(&self) -> bool {
        self.out.borrow().is_some()
    }
}

impl Drop for Focus {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A member as focus sees it: join order, bare JID, affiliation.
struct Member {
    order: u64,
    bare: String,
    affiliation: String,
}

async fn run(
    mut c: Client,
    room: String,
    leaves_when_alone: bool,
    auto_owner: bool,
    out: watch::Sender<Option<String>>,
) {
    let me = format!("{room}/focus");
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    let (mut joined, mut leaving) = (0, false);
    loop {
        let Some(s) = c.try_next().await else {
            let _ = out.send(Some("disconnected".into()));
            return;
        };
        if s.name() == "iq" {
            if let Some(answer) = conference_answer(&s, &room) {
                c.send(answer).await;
            }
            continue;
        }
        if s.name() != "presence" {
            continue;
        }
        let Some(from) = s.attr("from").map(str::to_owned) else {
            continue;
        };
        if !from.starts_with(&format!("{room}/")) {
            continue;
        }
        let unavailable = s.attr("type") == Some("unavailable");
        if from == me {
            if unavailable && leaving {
                let _ = out.send(Some("left".into()));
                return;
            }
            if unavailable {
                let x = s.get_child("x", client::MUC_USER);
                let reason = x
                    .and_then(|x| x.get_child("destroy", client::MUC_USER))
                    .map(|d| {
                        d.get_child("reason", client::MUC_USER)
                            .map(|r| r.text())
                            .unwrap_or_default()
                    });
                let why = match reason {
                    Some(r) => format!("removed: {r}"),
                    None => "removed".into(),
                };
                let _ = out.send(Some(why));
                return;
            }
            continue;
        }
        if unavailable {
            let gone = members.remove(&from);
            if members.is_empty() && leaves_when_alone && !leaving {
                // Its own unavailable presence says "left"; Prosody may go away first.
                leaving = true;
                c.send_leave(&room, "focus").await;
                continue;
            }
            let owner_left = gone.is_some_and(|m| m.affiliation == "owner");
            if auto_owner && owner_left && !members.values().any(|m| m.affiliation == "owner") {
                if let Some(next) = members.values().min_by_key(|m| m.order) {
                    let _ = c.set_affiliation(&room, &next.bare, "owner").await;
                }
            }
        } else if s.attr("type").is_none() {
            let item = s
                .get_child("x", client::MUC_USER)
                .and_then(|x| x.get_child("item", client::MUC_USER));
            let bare = item
                .and_then(|i| i.attr("jid"))
                .map(|j| j.split('/').next().unwrap_or(j).to_owned())
                .unwrap_or_default();
            let affiliation = client::item_of(&s).0;
            joined += 1;
            let m = members.entry(from).or_insert(Member {
                order: joined,
                bare,
                affiliation: String::new(),
            });
            m.affiliation = affiliation;
        }
    }
}

/// jicofo's answer to a conference request (ConferenceIqHandler) for `room`, the room
/// this focus is in already: ready, focus is `focus@auth`, no authentication. A request
/// for another room gets `item-not-found` (jicofo would start that conference; here it
/// would be a test that asked the wrong focus). None for any other stanza.
pub fn conference_answer(iq: &Element, room: &str) -> Option<Element> {
    let request = iq.get_child("conference", FOCUS_NS)?;
    if iq.attr("type") != Some("set") {
        return None;
    }
    let (id, from) = (iq.attr("id")?, iq.attr("from")?);
    let asked = request.attr("room").unwrap_or_default();
    if asked != room {
        let mut answer = el(
            "iq",
            client::CLIENT,
            &[("type", "error"), ("id", id), ("to", from)],
        );
        let mut error = el("error", client::CLIENT, &[("type", "cancel")]);
        error.append_child(el("item-not-found", STANZAS, &[]));
        error.append_child(text_el(
            "text",
            STANZAS,
            &format!("this focus is in {room}, not {asked}"),
        ));
        answer.append_child(error);
        return Some(answer);
    }
    let mut conference = el(
        "conference",
        FOCUS_NS,
        &[
            ("room", room),
            ("ready", "true"),
            ("focusjid", &format!("focus@{AUTH}")),
        ],
    );
    conference.append_child(el(
        "property",
        FOCUS_NS,
        &[("name", "authentication"), ("value", "false")],
    ));
    let mut answer = el(
        "iq",
        client::CLIENT,
        &[("type", "result"), ("id", id), ("to", from)],
    );
    answer.append_child(conference);
    Some(answer)
}
