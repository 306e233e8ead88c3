//! A focus that behaves like jicofo: it creates the room and enters first, and leaves
//! when the last member goes (jicofo stops the conference at zero members). It manages
//! roles like one of jicofo's `ChatRoomRoleManager`s (`Roles`), and answers
//! lib-jitsi-meet's conference request as jicofo does (`conference_answer`), so that the
//! real client joins its room (`jitsi_web`).

use std::collections::HashMap;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use tokio_xmpp::minidom::Element;

use crate::client::{self, el, text_el, Client, WAIT};
use crate::{room_jid, AUTH, FOCUS_PASSWORD};

/// The namespace of jicofo's conference request (lib-jitsi-meet's moderator.js).
pub const FOCUS_NS: &str = "http://jitsi.org/protocol/focus";
const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// Which of jicofo's role managers this focus plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    /// `enable-auto-owner = false`, no authentication: focus grants nothing.
    None,
    /// `AutoOwnerRoleManager` (jicofo's default): it tracks one owner. A member joining
    /// while it tracks none, or the tracked member leaving or being kicked, starts an
    /// election: a member who is owner already is adopted without an IQ, else *any*
    /// member (a hash map's order, not the earliest; jigasi and jibri skipped) is made
    /// owner. Nobody else's affiliation change moves it: once someone takes owner from
    /// the member it tracks, it keeps tracking that member and does nothing.
    AutoOwner,
    /// `AuthenticationRoleManager` (jicofo's authentication on, a secure domain): every
    /// authenticated member without owner is made owner when they join and again at each
    /// of focus's own presence changes. Authenticated here: a real JID on the auth host
    /// (the kit's logged-in clients), services (jigasi) aside.
    Authentication,
}

pub struct Focus {
    pub room: String,
    /// Focus's full JID: where lib-jitsi-meet sends its conference request
    /// (jitsi-meet's `hosts.focus`).
    pub jid: String,
    /// Why focus is out of the room: "left", "removed: <reason>" or "disconnected"
    /// (Prosody went away).
    out: watch::Receiver<Option<String>>,
    /// Asks focus to change its own presence (jicofo does when bridges, visitors or
    /// recording change).
    presence: mpsc::UnboundedSender<()>,
    task: JoinHandle<()>,
}

impl Focus {
    /// Logs in as focus and creates (or enters) `room`. With `leaves_when_alone` false it
    /// stays forever, to show that it never counts as a person.
    pub async fn create(port: u16, room: &str, leaves_when_alone: bool, auto_owner: bool) -> Focus {
        let roles = if auto_owner {
            Roles::AutoOwner
        } else {
            Roles::None
        };
        Focus::create_with(port, room, leaves_when_alone, roles).await
    }

    /// Like `create`, managing roles like `roles`.
    pub async fn create_with(
        port: u16,
        room: &str,
        leaves_when_alone: bool,
        roles: Roles,
    ) -> Focus {
        let mut c = Client::login(port, AUTH, "focus", FOCUS_PASSWORD).await;
        let jid = room_jid(room);
        c.join(&jid, "focus", None)
            .await
            .unwrap_or_else(|e| panic!("focus could not create {jid}: {e}"));
        let (tx, out) = watch::channel(None);
        let (presence, asked) = mpsc::unbounded_channel();
        let full = c.jid.clone();
        let task = tokio::spawn(run(c, jid, leaves_when_alone, roles, tx, asked));
        Focus {
            room: room.to_owned(),
            jid: full,
            out,
            presence,
            task,
        }
    }

    /// Focus changes its own presence in the room, as jicofo does when a bridge, a
    /// visitor node or a recording comes or goes.
    pub fn change_presence(&self) {
        let _ = self.presence.send(());
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

/// A member as focus sees it: real JID and affiliation.
struct Member {
    bare: String,
    affiliation: String,
}

impl Member {
    /// jicofo's `isRobot`: jigasi and jibri are never elected.
    fn is_robot(&self) -> bool {
        self.bare.starts_with("jigasi@") || self.bare.contains("@recorder.")
    }

    fn authenticated(&self) -> bool {
        !self.is_robot() && self.bare.split_once('@').map(|(_, host)| host) == Some(AUTH)
    }

    /// jicofo's `hasOwnerRights`: owner or admin.
    fn has_owner_rights(&self) -> bool {
        matches!(self.affiliation.as_str(), "owner" | "admin")
    }
}

/// The state of jicofo's role manager.
struct Manager {
    roles: Roles,
    /// The occupant `AutoOwner` tracks as owner.
    owner: Option<String>,
}

impl Manager {
    /// `AutoOwnerRoleManager.electNewOwner`: adopt an owner, else make any member owner.
    async fn elect(&mut self, c: &mut Client, room: &str, members: &HashMap<String, Member>) {
        if self.roles != Roles::AutoOwner || self.owner.is_some() {
            return;
        }
        let candidates = || members.iter().filter(|(_, m)| !m.is_robot());
        if let Some((occupant, _)) = candidates().find(|(_, m)| m.has_owner_rights()) {
            self.owner = Some(occupant.clone());
            return;
        }
        // A HashMap's order: any member, as jicofo's map of members gives.
        if let Some((occupant, m)) = candidates().next() {
            let _ = c.set_affiliation(room, &m.bare, "owner").await;
            self.owner = Some(occupant.clone());
        }
    }

    /// A member joined: `memberJoined` of either manager.
    async fn joined(
        &mut self,
        c: &mut Client,
        room: &str,
        occupant: &str,
        members: &HashMap<String, Member>,
    ) {
        match self.roles {
            Roles::None => {}
            Roles::AutoOwner => self.elect(c, room, members).await,
            Roles::Authentication => {
                let m = &members[occupant];
                if m.affiliation != "owner" && m.authenticated() {
                    let _ = c.set_affiliation(room, &m.bare, "owner").await;
                }
            }
        }
    }

    /// A member left or was kicked: `memberLeftOrKicked`.
    async fn left(
        &mut self,
        c: &mut Client,
        room: &str,
        occupant: &str,
        members: &HashMap<String, Member>,
    ) {
        if self.owner.as_deref() == Some(occupant) {
            self.owner = None;
            self.elect(c, room, members).await;
        }
    }

    /// Focus's own presence changed (`localRoleChanged` with owner rights).
    async fn own_presence(
        &mut self,
        c: &mut Client,
        room: &str,
        members: &HashMap<String, Member>,
    ) {
        match self.roles {
            Roles::None => {}
            Roles::AutoOwner => self.elect(c, room, members).await,
            Roles::Authentication => {
                let lacking: Vec<String> = members
                    .values()
                    .filter(|m| !m.has_owner_rights() && m.authenticated())
                    .map(|m| m.bare.clone())
                    .collect();
                for bare in lacking {
                    let _ = c.set_affiliation(room, &bare, "owner").await;
                }
            }
        }
    }
}

async fn run(
    mut c: Client,
    room: String,
    leaves_when_alone: bool,
    roles: Roles,
    out: watch::Sender<Option<String>>,
    mut asked: mpsc::UnboundedReceiver<()>,
) {
    let me = format!("{room}/focus");
    let mut members: HashMap<String, Member> = HashMap::new();
    let mut manager = Manager { roles, owner: None };
    let (mut leaving, mut changes) = (false, 0u64);
    loop {
        let s = tokio::select! {
            s = c.try_next() => s,
            Some(()) = asked.recv() => {
                changes += 1;
                let mut presence = el("presence", client::CLIENT, &[("to", &me)]);
                presence.append_child(text_el("status", client::CLIENT, &format!("change {changes}")));
                c.send(presence).await;
                continue;
            }
        };
        let Some(s) = s else {
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
            if !unavailable {
                if s.attr("type").is_none() && !leaving {
                    manager.own_presence(&mut c, &room, &members).await;
                }
                continue;
            }
            if leaving {
                let _ = out.send(Some("left".into()));
                return;
            }
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
        if unavailable {
            if members.remove(&from).is_none() {
                continue;
            }
            if members.is_empty() && leaves_when_alone && !leaving {
                // Its own unavailable presence says "left"; Prosody may go away first.
                leaving = true;
                c.send_leave(&room, "focus").await;
                continue;
            }
            if !leaving {
                manager.left(&mut c, &room, &from, &members).await;
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
            let new = !members.contains_key(&from);
            members.insert(from.clone(), Member { bare, affiliation });
            if new && !leaving {
                manager.joined(&mut c, &room, &from, &members).await;
            }
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
