//! One component session with Prosody: stanza <-> input and request translation, IQ
//! tracking with timeouts. The loop that owns it, and reconnects, is in `daemon`.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use tokio_xmpp::Stanza;
use tracing::{debug, error, info, warn};

use crate::component::protocol;
use crate::component::stream::{Invalid, Link, Received};
use crate::config::Xmpp;
use crate::core::{Input, Request, RequestId, RequestKind};

pub(crate) const IQ_TIMEOUT: Duration = Duration::from_secs(10);

/// Turns a connection error into a sentence an admin can act on.
pub(crate) fn explain(e: &tokio_xmpp::Error, config: &Xmpp) -> String {
    let (server, name) = (&config.server, &config.component);
    match e {
        e if crate::component::stream::name_in_use(e) => format!(
            "another raumwart is already connected to Prosody at {server} as {name}: standing by"
        ),
        tokio_xmpp::Error::Auth(_) => format!(
            "Prosody at {server} refused the component handshake for {name}: the secret does not \
             match its component_secret, Component \"{name}\" is not configured there, or another \
             raumwart is already connected as {name}"
        ),
        tokio_xmpp::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => format!(
            "cannot reach Prosody's component port at {server} (connection refused): is Prosody \
             running with Component \"{name}\"?"
        ),
        other => format!("cannot connect to Prosody at {server}: {other}"),
    }
}

/// What an IQ is for.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    /// (One IQ of) a request of the core's: a map push goes out in chunks.
    Core(RequestId, RequestKind),
    Ping,
    /// Emptying a breakout or lobby room along with its main room.
    Breakout,
}

impl Purpose {
    /// What the IQ was for, without rooms or JIDs: fit for a log line at any level.
    fn what(self) -> &'static str {
        match self {
            Purpose::Core(_, kind) => kind.as_str(),
            Purpose::Ping => "ping",
            Purpose::Breakout => "emptying a breakout or lobby room",
        }
    }
}

/// What the daemon loop must do about a stanza or an answer.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Inputs for the core, in order.
    pub(crate) inputs: Vec<Input>,
    /// Answers to the core's requests: (kind, ok, seconds from cause to answer).
    pub(crate) answered: Vec<(RequestKind, bool, f64)>,
    /// The connection is unusable and must be dropped.
    pub(crate) lost: Option<String>,
}

/// An IQ in flight: what it is for, and the address whose answer counts.
#[derive(Debug)]
struct InFlight {
    purpose: Purpose,
    to: Jid,
    /// When the input that caused it arrived.
    cause: Instant,
    deadline: Instant,
}

/// A map push in flight: chunks not answered yet, and whether all answered so far
/// took theirs.
#[derive(Debug)]
struct Push {
    left: usize,
    ok: bool,
}

impl Push {
    /// Counts one chunk's answer; once every chunk is answered, the push's: taken if
    /// every chunk was.
    fn answer(&mut self, ok: bool) -> Option<bool> {
        self.left -= 1;
        self.ok &= ok;
        (self.left == 0).then_some(self.ok)
    }
}

pub(crate) struct Session {
    link: Link,
    muc: Jid,
    lobby: Option<String>,
    me: Jid,
    pending: HashMap<String, InFlight>,
    pushes: HashMap<RequestId, Push>,
}

impl Session {
    pub(crate) fn new(link: Link, config: &Xmpp) -> anyhow::Result<Self> {
        Ok(Session {
            link,
            muc: Jid::from_str(&config.muc)?,
            lobby: config.lobby_muc.clone(),
            me: Jid::from_str(&format!("{}/raumwart", config.component))?,
            pending: HashMap::new(),
            pushes: HashMap::new(),
        })
    }

    pub(crate) async fn next(&mut self) -> Received {
        self.link.next().await
    }

    pub(crate) async fn close(&mut self) {
        self.link.close().await;
    }

    /// The earliest deadline of a request in flight.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    pub(crate) fn ping_outstanding(&self) -> bool {
        self.pending
            .values()
            .any(|p| matches!(p.purpose, Purpose::Ping))
    }

    pub(crate) async fn ping(&mut self) -> Result<(), String> {
        let to = self.muc.clone();
        self.send_iq(Purpose::Ping, Instant::now(), to, false, protocol::ping())
            .await
    }

    /// Sends the IQs for the core's request `id`; `cause` is when the triggering input
    /// arrived.
    pub(crate) async fn send(
        &mut self,
        id: RequestId,
        request: Request,
        cause: Instant,
    ) -> Result<(), String> {
        let purpose = Purpose::Core(id, request.kind());
        let muc = self.muc.clone();
        match request {
            Request::PushMap(map) => {
                // Counted as they go: no answer is read before all are sent.
                for chunk in protocol::map_chunks(&map) {
                    let push = self.pushes.entry(id).or_insert(Push { left: 0, ok: true });
                    push.left += 1;
                    self.send_iq(purpose, cause, muc.clone(), true, chunk)
                        .await?;
                }
            }
            Request::Snapshot => {
                let el = protocol::snapshot_request();
                self.send_iq(purpose, cause, muc, false, el).await?;
            }
            Request::GrantOwner { room, jid } => {
                debug!(room, jid, "granting owner");
                let to = self.room_jid(&room)?;
                let el = protocol::grant_owner(&jid);
                self.send_iq(purpose, cause, to, true, el).await?;
            }
            Request::RevokeOwner { room, jid, to } => {
                debug!(room, jid, to = to.as_str(), "taking owner back");
                let el = protocol::revoke_owner(&jid, to);
                let to = self.room_jid(&room)?;
                self.send_iq(purpose, cause, to, true, el).await?;
            }
            Request::Reset {
                room,
                reason,
                message,
                breakouts,
            } => {
                info!(room, reason = reason.as_str(), "resetting room");
                let lobby = self.lobby.as_ref().map(|l| format!("{room}@{l}"));
                for breakout in breakouts.into_iter().chain(lobby) {
                    let to = Jid::from_str(&breakout).map_err(|e| format!("{breakout}: {e}"))?;
                    let el = protocol::destroy(message.as_deref());
                    self.send_iq(Purpose::Breakout, cause, to, true, el).await?;
                }
                let to = self.room_jid(&room)?;
                let el = protocol::destroy(message.as_deref());
                self.send_iq(purpose, cause, to, true, el).await?;
            }
        }
        Ok(())
    }

    fn room_jid(&self, room: &str) -> Result<Jid, String> {
        Jid::from_str(&format!("{room}@{}", self.muc)).map_err(|e| format!("room {room}: {e}"))
    }

    async fn send_iq(
        &mut self,
        purpose: Purpose,
        cause: Instant,
        to: Jid,
        set: bool,
        payload: Element,
    ) -> Result<(), String> {
        let id = request_id()?;
        let iq = if set {
            Iq::Set {
                from: Some(self.me.clone()),
                to: Some(to.clone()),
                id: id.clone(),
                payload,
            }
        } else {
            Iq::Get {
                from: Some(self.me.clone()),
                to: Some(to.clone()),
                id: id.clone(),
                payload,
            }
        };
        let deadline = Instant::now() + IQ_TIMEOUT;
        let flight = InFlight {
            purpose,
            to,
            cause,
            deadline,
        };
        self.pending.insert(id, flight);
        self.link.send(Stanza::Iq(iq)).await
    }

    /// Requests that got no answer in time count as failed.
    pub(crate) fn expire(&mut self, now: Instant) -> Outcome {
        let expired: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        let mut outcome = Outcome::default();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                warn!(
                    what = p.purpose.what(),
                    "no answer from Prosody within {IQ_TIMEOUT:?}"
                );
                self.answered(p, Err(None), &mut outcome);
            }
        }
        outcome
    }

    fn take_answered(&mut self, id: &str, from: Option<&Jid>) -> Option<InFlight> {
        take_answered(&mut self.pending, id, from)
    }

    pub(crate) async fn on_stanza(&mut self, stanza: Stanza) -> Outcome {
        let mut outcome = Outcome::default();
        let sent = match stanza {
            Stanza::Iq(Iq::Result {
                from, id, payload, ..
            }) => {
                if let Some(p) = self.take_answered(&id, from.as_ref()) {
                    self.answered(p, Ok(payload), &mut outcome);
                }
                Ok(())
            }
            Stanza::Iq(Iq::Error {
                from, id, error, ..
            }) => {
                if let Some(p) = self.take_answered(&id, from.as_ref()) {
                    self.answered(p, Err(Some(error)), &mut outcome);
                }
                Ok(())
            }
            Stanza::Iq(Iq::Get { from, to, id, .. } | Iq::Set { from, to, id, .. }) => {
                self.refuse_iq(from, to, id, DefinedCondition::ServiceUnavailable)
                    .await
            }
            Stanza::Message(msg) => self.on_message(msg, &mut outcome).await,
            Stanza::Presence(_) => Ok(()),
        };
        if let Err(e) = sent {
            outcome.lost = Some(e);
        }
        outcome
    }

    /// A stanza the parser refused is skipped; a request among them still gets its
    /// error, so the sender is not left waiting.
    pub(crate) async fn on_invalid(&mut self, bad: Invalid) -> Outcome {
        debug!(
            stanza = bad.name,
            error = bad.error,
            "skipped a stanza that could not be parsed"
        );
        let mut outcome = Outcome::default();
        let request = matches!(bad.type_.as_deref(), Some("get" | "set"));
        if let (true, "iq", Some(id)) = (request, bad.name, bad.id) {
            let jid = |j: Option<String>| j.and_then(|j| Jid::from_str(&j).ok());
            let (from, to) = (jid(bad.from), jid(bad.to));
            let condition = DefinedCondition::BadRequest;
            if let Err(e) = self.refuse_iq(from, to, id, condition).await {
                outcome.lost = Some(e);
            }
        }
        outcome
    }

    /// raumwart offers no service of its own to anyone. The error comes from exactly
    /// the address the request was sent to (RFC 6120 §8.2.3): clients match an answer
    /// by sender and id.
    async fn refuse_iq(
        &mut self,
        from: Option<Jid>,
        to: Option<Jid>,
        id: String,
        condition: DefinedCondition,
    ) -> Result<(), String> {
        let Some(requester) = from else {
            return Ok(());
        };
        let me = to.unwrap_or_else(|| self.me.to_bare().into());
        let error = StanzaError::new(
            ErrorType::Cancel,
            condition,
            "en",
            "raumwart answers no requests",
        );
        let reply = Iq::Error {
            from: Some(me),
            to: Some(requester),
            id,
            error,
            payload: None,
        };
        self.link.send(Stanza::Iq(reply)).await
    }

    async fn on_message(&mut self, msg: Message, outcome: &mut Outcome) -> Result<(), String> {
        if msg.type_ == MessageType::Error {
            return Ok(());
        }
        if msg.from.as_ref() != Some(&self.muc) {
            debug!(from = ?msg.from, "refused a message from outside the MUC service");
            let Some(from) = msg.from else { return Ok(()) };
            let mut reply = Message::new_with_type(MessageType::Error, Some(from));
            reply.from = Some(msg.to.unwrap_or_else(|| self.me.to_bare().into()));
            reply.id = msg.id;
            let error = StanzaError::new(
                ErrorType::Auth,
                DefinedCondition::Forbidden,
                "en",
                "only the MUC service may send events to raumwart",
            );
            reply.payloads.push(error.into());
            return self.link.send(Stanza::Message(reply)).await;
        }
        for el in &msg.payloads {
            match protocol::parse_events(el) {
                Ok(events) => {
                    for event in events {
                        debug!(?event, "event");
                        outcome.inputs.push(Input::Event(event));
                    }
                }
                Err(e) => debug!("skipped an event from the module: {e}"),
            }
        }
        Ok(())
    }

    /// `answer` is the result payload, or the error (None: no answer in time).
    fn answered(
        &mut self,
        iq: InFlight,
        answer: Result<Option<Element>, Option<StanzaError>>,
        outcome: &mut Outcome,
    ) {
        let condition = match &answer {
            Err(Some(e)) => Some(e.defined_condition.clone()),
            _ => None,
        };
        let (id, kind) = match iq.purpose {
            // Any answer, even an error, shows Prosody is alive; none means it is not.
            Purpose::Ping => {
                if let Err(None) = answer {
                    outcome.lost = Some(format!(
                        "Prosody did not answer a ping within {IQ_TIMEOUT:?}"
                    ));
                }
                return;
            }
            Purpose::Breakout => {
                if answer.is_err() && condition != Some(DefinedCondition::ItemNotFound) {
                    warn!("emptying a breakout or lobby room failed ({condition:?})");
                }
                return;
            }
            Purpose::Core(id, kind) => (id, kind),
        };
        let ok = match kind {
            RequestKind::Snapshot => {
                match answer {
                    Ok(Some(el)) => match protocol::parse_snapshot(&el) {
                        Ok(snapshot) => {
                            debug!(rooms = snapshot.rooms.len(), "snapshot received");
                            outcome.inputs.push(Input::Snapshot { id, snapshot });
                        }
                        Err(e) => outcome.lost = Some(format!("unreadable snapshot: {e}")),
                    },
                    Ok(None) => outcome.lost = Some("empty snapshot answer".into()),
                    Err(_) => outcome.lost = Some(format!("snapshot refused ({condition:?})")),
                }
                return;
            }
            RequestKind::PushMap => {
                if answer.is_err() {
                    error!(
                        muc = %self.muc,
                        "the MUC service did not take the room map ({condition:?}): is \
                         mod_raumwart loaded there with raumwart_component = \"{}\"?",
                        self.me.to_bare()
                    );
                }
                let Some(push) = self.pushes.get_mut(&id) else {
                    return;
                };
                let Some(ok) = push.answer(answer.is_ok()) else {
                    return;
                };
                self.pushes.remove(&id);
                ok
            }
            // A room that no longer exists is as reset as it gets.
            RequestKind::Reset => {
                answer.is_ok() || condition == Some(DefinedCondition::ItemNotFound)
            }
            RequestKind::GrantOwner | RequestKind::RevokeOwner => answer.is_ok(),
        };
        if !ok && kind != RequestKind::PushMap {
            warn!(room = %iq.to, "{} failed ({condition:?})", kind.as_str());
        }
        let took = iq.cause.elapsed().as_secs_f64();
        outcome.answered.push((kind, ok, took));
        outcome.inputs.push(Input::Done { id, ok });
    }
}

/// The request `id` answered by `from`: only the address it went to may answer it.
/// Anyone can send an IQ result to raumwart; a forged one is dropped and the request
/// stays in flight for the real answer.
fn take_answered(
    pending: &mut HashMap<String, InFlight>,
    id: &str,
    from: Option<&Jid>,
) -> Option<InFlight> {
    match pending.get(id) {
        Some(p) if from == Some(&p.to) => pending.remove(id),
        Some(_) => {
            debug!("dropped an answer from an address the request did not go to");
            None
        }
        None => None,
    }
}

/// 128 random bits: nobody can answer a request they cannot name.
fn request_id() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no random id: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_map_push_is_answered_once_by_its_last_chunk_and_taken_only_whole() {
        let mut push = Push { left: 3, ok: true };
        assert_eq!(push.answer(true), None);
        assert_eq!(push.answer(false), None);
        assert_eq!(push.answer(true), Some(false));
        let mut push = Push { left: 1, ok: true };
        assert_eq!(push.answer(true), Some(true));
    }

    #[test]
    fn request_ids_are_random_and_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| request_id().unwrap()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 32));
    }
}
