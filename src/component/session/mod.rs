//! One component session with Prosody: stanza <-> input and request translation, IQ
//! tracking with timeouts. Sans-IO like the core: no clock, no socket, nothing awaited.
//!
//! Stanzas and time go in (`handle_stanza`, `handle_invalid`, `handle_timeout`), and so
//! do the core's requests (`send_request`) and pings (`ping`); what comes out is drained
//! after each call: `poll_transmit` (stanzas for the stream, in order) and `poll_outcome`
//! (inputs for the core, answers for the metrics, and last the connection lost).
//! `next_timeout` is the earliest deadline of an IQ in flight. The loop that owns the
//! stream and this session, and reconnects, is in `daemon`; the tests in `tests.rs` drive
//! it in virtual time.

use std::collections::{HashMap, VecDeque};
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
use crate::component::stream::Invalid;
use crate::config::Xmpp;
use crate::core::{Input, Request, RequestId, RequestKind};
use crate::doctor::Report;

/// How long an IQ may go unanswered before it counts as failed (a ping: as lost).
pub(crate) const IQ_TIMEOUT: Duration = Duration::from_secs(10);
/// `raumwart doctor` waits for the module's report this long: well within the control
/// socket's request deadline (10 s), so the operator reads why instead of a cut connection.
pub(crate) const DOCTOR_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// `raumwart doctor`'s question to the module.
    Doctor,
}

impl Purpose {
    /// What the IQ was for, without rooms or JIDs: fit for a log line at any level.
    fn what(self) -> &'static str {
        match self {
            Purpose::Core(_, kind) => kind.as_str(),
            Purpose::Ping => "ping",
            Purpose::Breakout => "emptying a breakout or lobby room",
            Purpose::Doctor => "the doctor's report",
        }
    }

    fn timeout(self) -> Duration {
        match self {
            Purpose::Doctor => DOCTOR_TIMEOUT,
            _ => IQ_TIMEOUT,
        }
    }
}

/// What the session has for the daemon's loop besides stanzas to send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// An input for the core.
    Input(Input),
    /// The answer to a core request (or its timeout), for the metrics: `took` is from
    /// the input that caused the request to its answer.
    Answered {
        kind: RequestKind,
        ok: bool,
        took: Duration,
    },
    /// The module's answer to `raumwart doctor`'s question.
    Doctor(Result<Report, DoctorFailed>),
    /// The connection is unusable and must be dropped. Always the last outcome: the
    /// inputs that came before it are handed out first.
    Lost(String),
}

/// Why the module gave no report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DoctorFailed {
    /// The MUC service does not know the question: a module from before `doctor`.
    TooOld,
    /// No answer within DOCTOR_TIMEOUT.
    NoAnswer,
    /// Refused otherwise, or an answer that does not read as a report.
    Refused(String),
}

/// Where IQ ids come from. They must be unguessable (see `request_id`); tests may count.
pub(crate) type Ids = Box<dyn FnMut() -> Result<String, String>>;

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
    muc: Jid,
    lobby: Option<String>,
    me: Jid,
    ids: Ids,
    pending: HashMap<String, InFlight>,
    pushes: HashMap<RequestId, Push>,
    transmit: VecDeque<Stanza>,
    outcomes: VecDeque<Outcome>,
    lost: Option<String>,
}

impl Session {
    /// A session whose IQ ids are 128 random bits each.
    pub(crate) fn new(config: &Xmpp) -> anyhow::Result<Self> {
        Self::with_ids(config, Box::new(request_id))
    }

    pub(crate) fn with_ids(config: &Xmpp, ids: Ids) -> anyhow::Result<Self> {
        Ok(Session {
            muc: Jid::from_str(&config.muc)?,
            lobby: config.lobby_muc.clone(),
            me: Jid::from_str(&format!("{}/raumwart", config.component))?,
            ids,
            pending: HashMap::new(),
            pushes: HashMap::new(),
            transmit: VecDeque::new(),
            outcomes: VecDeque::new(),
            lost: None,
        })
    }

    /// The next stanza to write to the stream.
    pub(crate) fn poll_transmit(&mut self) -> Option<Stanza> {
        self.transmit.pop_front()
    }

    /// The next outcome; `Outcome::Lost` comes once, after all others.
    pub(crate) fn poll_outcome(&mut self) -> Option<Outcome> {
        self.outcomes
            .pop_front()
            .or_else(|| self.lost.take().map(Outcome::Lost))
    }

    /// The earliest deadline of an IQ in flight: call `handle_timeout` then.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    fn lose(&mut self, why: String) {
        self.lost.get_or_insert(why);
    }

    /// Pings the MUC service, one ping at a time: an unanswered ping is noticed when it
    /// times out, and loses the connection.
    pub(crate) fn ping(&mut self, now: Instant) {
        let outstanding = self
            .pending
            .values()
            .any(|p| matches!(p.purpose, Purpose::Ping));
        if outstanding {
            return;
        }
        let to = self.muc.clone();
        if let Err(e) = self.send_iq(now, Purpose::Ping, now, to, false, protocol::ping()) {
            self.lose(e);
        }
    }

    /// Asks the module on the MUC service for `raumwart doctor`'s report; the answer comes
    /// out as `Outcome::Doctor`.
    pub(crate) fn ask_doctor(&mut self, now: Instant) {
        let to = self.muc.clone();
        let el = protocol::doctor_request();
        if let Err(e) = self.send_iq(now, Purpose::Doctor, now, to, false, el) {
            self.lose(e);
        }
    }

    /// Sends the IQs for the core's request `id`; `cause` is when the triggering input
    /// arrived.
    pub(crate) fn send_request(
        &mut self,
        now: Instant,
        id: RequestId,
        request: Request,
        cause: Instant,
    ) {
        if let Err(e) = self.request(now, id, request, cause) {
            self.lose(e);
        }
    }

    fn request(
        &mut self,
        now: Instant,
        id: RequestId,
        request: Request,
        cause: Instant,
    ) -> Result<(), String> {
        let purpose = Purpose::Core(id, request.kind());
        let muc = self.muc.clone();
        match request {
            Request::PushMap(map) => {
                for chunk in protocol::map_chunks(&map) {
                    let push = self.pushes.entry(id).or_insert(Push { left: 0, ok: true });
                    push.left += 1;
                    self.send_iq(now, purpose, cause, muc.clone(), true, chunk)?;
                }
            }
            Request::Snapshot => {
                let el = protocol::snapshot_request();
                self.send_iq(now, purpose, cause, muc, false, el)?;
            }
            Request::GrantOwner { room, jid } => {
                debug!(room, jid, "granting owner");
                let to = self.room_jid(&room)?;
                let el = protocol::grant_owner(&jid);
                self.send_iq(now, purpose, cause, to, true, el)?;
            }
            Request::RevokeOwner { room, jid, to } => {
                debug!(room, jid, to = to.as_str(), "taking owner back");
                let el = protocol::revoke_owner(&jid, to);
                let to = self.room_jid(&room)?;
                self.send_iq(now, purpose, cause, to, true, el)?;
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
                    self.send_iq(now, Purpose::Breakout, cause, to, true, el)?;
                }
                let to = self.room_jid(&room)?;
                let el = protocol::destroy(message.as_deref());
                self.send_iq(now, purpose, cause, to, true, el)?;
            }
        }
        Ok(())
    }

    fn room_jid(&self, room: &str) -> Result<Jid, String> {
        Jid::from_str(&format!("{room}@{}", self.muc)).map_err(|e| format!("room {room}: {e}"))
    }

    fn send_iq(
        &mut self,
        now: Instant,
        purpose: Purpose,
        cause: Instant,
        to: Jid,
        set: bool,
        payload: Element,
    ) -> Result<(), String> {
        let id = (self.ids)()?;
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
        let flight = InFlight {
            purpose,
            to,
            cause,
            deadline: now + purpose.timeout(),
        };
        self.pending.insert(id, flight);
        self.transmit.push_back(Stanza::Iq(iq));
        Ok(())
    }

    /// IQs that got no answer by `now` count as failed.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let mut expired: Vec<(Instant, String)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, p)| (p.deadline, id.clone()))
            .collect();
        expired.sort();
        for (_, id) in expired {
            if let Some(p) = self.pending.remove(&id) {
                warn!(
                    what = p.purpose.what(),
                    "no answer from Prosody within {:?}",
                    p.purpose.timeout()
                );
                self.answered(now, p, Err(None));
            }
        }
    }

    fn take_answered(&mut self, id: &str, from: Option<&Jid>) -> Option<InFlight> {
        take_answered(&mut self.pending, id, from)
    }

    pub(crate) fn handle_stanza(&mut self, now: Instant, stanza: Stanza) {
        match stanza {
            Stanza::Iq(Iq::Result {
                from, id, payload, ..
            }) => {
                if let Some(p) = self.take_answered(&id, from.as_ref()) {
                    self.answered(now, p, Ok(payload));
                }
            }
            Stanza::Iq(Iq::Error {
                from, id, error, ..
            }) => {
                if let Some(p) = self.take_answered(&id, from.as_ref()) {
                    self.answered(now, p, Err(Some(error)));
                }
            }
            Stanza::Iq(Iq::Get { from, to, id, .. } | Iq::Set { from, to, id, .. }) => {
                self.refuse_iq(from, to, id, DefinedCondition::ServiceUnavailable)
            }
            Stanza::Message(msg) => self.on_message(msg),
            Stanza::Presence(_) => {}
        }
    }

    /// A stanza the parser refused is skipped; a request among them still gets its
    /// error, so the sender is not left waiting.
    pub(crate) fn handle_invalid(&mut self, bad: Invalid) {
        debug!(
            stanza = bad.name,
            error = bad.error,
            "skipped a stanza that could not be parsed"
        );
        let request = matches!(bad.type_.as_deref(), Some("get" | "set"));
        if let (true, "iq", Some(id)) = (request, bad.name, bad.id) {
            let jid = |j: Option<String>| j.and_then(|j| Jid::from_str(&j).ok());
            let (from, to) = (jid(bad.from), jid(bad.to));
            self.refuse_iq(from, to, id, DefinedCondition::BadRequest);
        }
    }

    /// raumwart offers no service of its own to anyone. The error comes from exactly
    /// the address the request was sent to (RFC 6120 §8.2.3): clients match an answer
    /// by sender and id.
    fn refuse_iq(
        &mut self,
        from: Option<Jid>,
        to: Option<Jid>,
        id: String,
        condition: DefinedCondition,
    ) {
        let Some(requester) = from else {
            return;
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
        self.transmit.push_back(Stanza::Iq(reply));
    }

    fn on_message(&mut self, msg: Message) {
        if msg.type_ == MessageType::Error {
            return;
        }
        if msg.from.as_ref() != Some(&self.muc) {
            debug!(from = ?msg.from, "refused a message from outside the MUC service");
            let Some(from) = msg.from else { return };
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
            self.transmit.push_back(Stanza::Message(reply));
            return;
        }
        for el in &msg.payloads {
            match protocol::parse_events(el) {
                Ok(events) => {
                    for event in events {
                        debug!(?event, "event");
                        self.outcomes.push_back(Outcome::Input(Input::Event(event)));
                    }
                }
                Err(e) => debug!("skipped an event from the module: {e}"),
            }
        }
    }

    /// `answer` is the result payload, or the error (None: no answer in time).
    fn answered(
        &mut self,
        now: Instant,
        iq: InFlight,
        answer: Result<Option<Element>, Option<StanzaError>>,
    ) {
        let condition = match &answer {
            Err(Some(e)) => Some(e.defined_condition.clone()),
            _ => None,
        };
        let (id, kind) = match iq.purpose {
            // Any answer, even an error, shows Prosody is alive; none means it is not.
            Purpose::Ping => {
                if let Err(None) = answer {
                    self.lose(format!(
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
            Purpose::Doctor => {
                let report = match answer {
                    Ok(Some(el)) => protocol::parse_doctor(&el)
                        .map_err(|e| DoctorFailed::Refused(format!("unreadable report: {e}"))),
                    Ok(None) => Err(DoctorFailed::Refused("an empty answer".into())),
                    Err(None) => Err(DoctorFailed::NoAnswer),
                    Err(Some(_))
                        if matches!(
                            condition,
                            Some(
                                DefinedCondition::ServiceUnavailable
                                    | DefinedCondition::FeatureNotImplemented
                            )
                        ) =>
                    {
                        Err(DoctorFailed::TooOld)
                    }
                    Err(Some(_)) => Err(DoctorFailed::Refused(format!("refused ({condition:?})"))),
                };
                self.outcomes.push_back(Outcome::Doctor(report));
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
                            let input = Input::Snapshot { id, snapshot };
                            self.outcomes.push_back(Outcome::Input(input));
                        }
                        Err(e) => self.lose(format!("unreadable snapshot: {e}")),
                    },
                    Ok(None) => self.lose("empty snapshot answer".into()),
                    Err(_) => self.lose(format!("snapshot refused ({condition:?})")),
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
        let took = now.saturating_duration_since(iq.cause);
        self.outcomes
            .push_back(Outcome::Answered { kind, ok, took });
        self.outcomes
            .push_back(Outcome::Input(Input::Done { id, ok }));
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
mod tests;
