//! A focus that behaves like jicofo: it creates the room and enters first, and leaves
//! when it is the last occupant (jicofo stops the conference at zero members). With
//! `auto_owner` it also does what jicofo's `enable-auto-owner` does: when the last owner
//! among the members leaves, it makes the next member owner.

use std::collections::BTreeMap;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{self, Client, WAIT};
use crate::{room_jid, AUTH, FOCUS_PASSWORD};

pub struct Focus {
    pub room: String,
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
        let task = tokio::spawn(run(c, jid, leaves_when_alone, auto_owner, tx));
        Focus {
            room: room.to_owned(),
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
