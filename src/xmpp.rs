//! One component session with Prosody: stanza <-> input and action translation, IQ
//! tracking with timeouts. The loop that owns it, and reconnects, is in `daemon`.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use sasl::common::ChannelBinding;
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::connect::ServerConnector;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use tokio_xmpp::xmlstream::{initiate_stream, PendingFeaturesRecv, StreamHeader, Timeouts};
use tokio_xmpp::{Component, Stanza};
use tracing::{debug, error, info, warn};

use crate::config::Xmpp;
use crate::core::{Action, Input, Request};
use crate::protocol;

pub const IQ_TIMEOUT: Duration = Duration::from_secs(10);

/// Plain TCP to Prosody's component port, with Nagle off: events and requests are small
/// and latency matters more than packet count. Accepts host names ("localhost:5347").
#[derive(Debug, Clone)]
pub struct Connector(pub String);

impl ServerConnector for Connector {
    type Stream = BufStream<TcpStream>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<(PendingFeaturesRecv<Self::Stream>, ChannelBinding), tokio_xmpp::Error> {
        let tcp = TcpStream::connect(&self.0).await?;
        tcp.set_nodelay(true)?;
        let header = StreamHeader {
            to: Some(jid.domain().as_str().to_owned().into()),
            from: None,
            id: None,
        };
        let pending = initiate_stream(BufStream::new(tcp), ns, header, timeouts).await?;
        Ok((pending, ChannelBinding::None))
    }
}

pub type Link = Component<Connector>;

/// Connects and authenticates the component.
pub async fn connect(config: &Xmpp) -> Result<Link, tokio_xmpp::Error> {
    let connector = Connector(config.server.clone());
    Component::new_with_connector(
        &config.component,
        config.secret.expose(),
        connector,
        Timeouts::tight(),
    )
    .await
}

/// Turns a connection error into a sentence an admin can act on.
pub fn explain(e: &tokio_xmpp::Error, config: &Xmpp) -> String {
    let (server, name) = (&config.server, &config.component);
    match e {
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

#[derive(Debug)]
enum Pending {
    MapChunk,
    Snapshot,
    Ping,
    Grant {
        room: String,
        jid: String,
    },
    Reset {
        room: String,
    },
    /// Emptying a breakout or lobby room along with its main room.
    Breakout,
}

/// What the daemon loop must do about a stanza or an answer.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Inputs for the core, in order.
    pub inputs: Vec<Input>,
    /// (action, seconds from cause to answer) for the latency histogram.
    pub latency: Option<(&'static str, f64)>,
    /// The connection is unusable and must be dropped.
    pub lost: Option<String>,
}

pub struct Session {
    component: Link,
    muc: Jid,
    lobby: Option<String>,
    me: Jid,
    /// id -> (what, when the cause arrived, deadline)
    pending: HashMap<String, (Pending, Instant, Instant)>,
    next_id: u64,
    nones: u32,
}

impl Session {
    pub fn new(component: Link, config: &Xmpp) -> anyhow::Result<Self> {
        Ok(Session {
            component,
            muc: Jid::from_str(&config.muc)?,
            lobby: config.lobby_muc.clone(),
            me: Jid::from_str(&format!("{}/raumwart", config.component))?,
            pending: HashMap::new(),
            next_id: 0,
            nones: 0,
        })
    }

    /// The next stanza; `None` after two empty reads in a row (a closed stream). One
    /// empty read may be a stanza tokio-xmpp could not parse, which is skipped.
    pub async fn next(&mut self) -> Option<Stanza> {
        loop {
            match self.component.next().await {
                Some(s) => {
                    self.nones = 0;
                    return Some(s);
                }
                None => {
                    self.nones += 1;
                    if self.nones >= 2 {
                        return None;
                    }
                    warn!("skipped a stanza that could not be parsed");
                }
            }
        }
    }

    pub async fn close(&mut self) {
        let _ = self.component.send_end().await;
    }

    /// The earliest deadline of a request in flight.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|(_, _, t)| *t).min()
    }

    pub fn ping_outstanding(&self) -> bool {
        self.pending
            .values()
            .any(|(p, _, _)| matches!(p, Pending::Ping))
    }

    pub async fn ping(&mut self) -> Result<(), String> {
        let to = self.muc.clone();
        self.send_iq(Pending::Ping, Instant::now(), to, false, protocol::ping())
            .await
    }

    /// Sends the requests for `actions`; `cause` is when the triggering input arrived.
    pub async fn execute(&mut self, actions: Vec<Action>, cause: Instant) -> Result<(), String> {
        for action in actions {
            let muc = self.muc.clone();
            match action {
                Action::PushMap(map) => {
                    for chunk in protocol::map_chunks(&map) {
                        self.send_iq(Pending::MapChunk, cause, muc.clone(), true, chunk)
                            .await?;
                    }
                }
                Action::RequestSnapshot => {
                    let el = protocol::snapshot_request();
                    self.send_iq(Pending::Snapshot, cause, muc, false, el)
                        .await?;
                }
                Action::GrantOwner { room, jid } => {
                    debug!(room, jid, "granting owner");
                    let to = self.room_jid(&room)?;
                    let el = protocol::grant_owner(&jid);
                    self.send_iq(Pending::Grant { room, jid }, cause, to, true, el)
                        .await?;
                }
                Action::Reset {
                    room,
                    reason,
                    message,
                    breakouts,
                } => {
                    info!(room, reason = reason.as_str(), "resetting room");
                    let lobby = self.lobby.as_ref().map(|l| format!("{room}@{l}"));
                    for breakout in breakouts.into_iter().chain(lobby) {
                        let to =
                            Jid::from_str(&breakout).map_err(|e| format!("{breakout}: {e}"))?;
                        let el = protocol::destroy(message.as_deref());
                        self.send_iq(Pending::Breakout, cause, to, true, el).await?;
                    }
                    let to = self.room_jid(&room)?;
                    let el = protocol::destroy(message.as_deref());
                    self.send_iq(Pending::Reset { room }, cause, to, true, el)
                        .await?;
                }
            }
        }
        Ok(())
    }

    fn room_jid(&self, room: &str) -> Result<Jid, String> {
        Jid::from_str(&format!("{room}@{}", self.muc)).map_err(|e| format!("room {room}: {e}"))
    }

    async fn send_iq(
        &mut self,
        what: Pending,
        cause: Instant,
        to: Jid,
        set: bool,
        payload: Element,
    ) -> Result<(), String> {
        self.next_id += 1;
        let id = format!("rw{}", self.next_id);
        let (from, to) = (Some(self.me.clone()), Some(to));
        let iq = if set {
            Iq::Set {
                from,
                to,
                id: id.clone(),
                payload,
            }
        } else {
            Iq::Get {
                from,
                to,
                id: id.clone(),
                payload,
            }
        };
        let deadline = Instant::now() + IQ_TIMEOUT;
        self.pending.insert(id, (what, cause, deadline));
        self.send(Stanza::Iq(iq)).await
    }

    async fn send(&mut self, stanza: Stanza) -> Result<(), String> {
        self.component
            .send_stanza(stanza)
            .await
            .map_err(|e| format!("send failed: {e}"))
    }

    /// Requests that got no answer in time count as failed.
    pub fn expire(&mut self, now: Instant) -> Outcome {
        let expired: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, (_, _, t))| *t <= now)
            .map(|(id, _)| id.clone())
            .collect();
        let mut outcome = Outcome::default();
        for id in expired {
            if let Some((what, cause, _)) = self.pending.remove(&id) {
                warn!(?what, "no answer from Prosody within {IQ_TIMEOUT:?}");
                self.answered(what, cause, Err(None), &mut outcome);
            }
        }
        outcome
    }

    pub async fn on_stanza(&mut self, stanza: Stanza) -> Outcome {
        let mut outcome = Outcome::default();
        let sent = match stanza {
            Stanza::Iq(Iq::Result { id, payload, .. }) => {
                if let Some((what, cause, _)) = self.pending.remove(&id) {
                    self.answered(what, cause, Ok(payload), &mut outcome);
                }
                Ok(())
            }
            Stanza::Iq(Iq::Error { id, error, .. }) => {
                if let Some((what, cause, _)) = self.pending.remove(&id) {
                    self.answered(what, cause, Err(Some(error)), &mut outcome);
                }
                Ok(())
            }
            Stanza::Iq(Iq::Get { from, id, .. } | Iq::Set { from, id, .. }) => {
                self.refuse_iq(from, id).await
            }
            Stanza::Message(msg) => self.on_message(msg, &mut outcome).await,
            Stanza::Presence(_) => Ok(()),
        };
        if let Err(e) = sent {
            outcome.lost = Some(e);
        }
        outcome
    }

    /// raumwart offers no service of its own to anyone.
    async fn refuse_iq(&mut self, from: Option<Jid>, id: String) -> Result<(), String> {
        let Some(from) = from else { return Ok(()) };
        let error = StanzaError::new(
            ErrorType::Cancel,
            DefinedCondition::ServiceUnavailable,
            "en",
            "raumwart answers no requests",
        );
        let reply = Iq::Error {
            from: Some(self.me.clone()),
            to: Some(from),
            id,
            error,
            payload: None,
        };
        self.send(Stanza::Iq(reply)).await
    }

    async fn on_message(&mut self, msg: Message, outcome: &mut Outcome) -> Result<(), String> {
        if msg.type_ == MessageType::Error {
            return Ok(());
        }
        if msg.from.as_ref() != Some(&self.muc) {
            debug!(from = ?msg.from, "refused a message from outside the MUC service");
            let Some(from) = msg.from else { return Ok(()) };
            let mut reply = Message::new_with_type(MessageType::Error, Some(from));
            reply.from = Some(self.me.clone());
            reply.id = msg.id;
            let error = StanzaError::new(
                ErrorType::Auth,
                DefinedCondition::Forbidden,
                "en",
                "only the MUC service may send events to raumwart",
            );
            reply.payloads.push(error.into());
            return self.send(Stanza::Message(reply)).await;
        }
        for el in &msg.payloads {
            match protocol::parse_events(el) {
                Ok(events) => {
                    for event in events {
                        debug!(?event, "event");
                        outcome.inputs.push(Input::Event(event));
                    }
                }
                Err(e) => warn!("skipped an event from the module: {e}"),
            }
        }
        Ok(())
    }

    /// `answer` is the result payload, or the error (None: no answer in time).
    fn answered(
        &self,
        what: Pending,
        cause: Instant,
        answer: Result<Option<Element>, Option<StanzaError>>,
        outcome: &mut Outcome,
    ) {
        let condition = match &answer {
            Err(Some(e)) => Some(e.defined_condition.clone()),
            _ => None,
        };
        let took = cause.elapsed().as_secs_f64();
        match what {
            Pending::Ping => {}
            Pending::Breakout => {
                if answer.is_err() && condition != Some(DefinedCondition::ItemNotFound) {
                    warn!("emptying a breakout or lobby room failed ({condition:?})");
                }
            }
            Pending::MapChunk => {
                if answer.is_err() {
                    error!(
                        muc = %self.muc,
                        "the MUC service did not take the room map ({condition:?}): is \
                         mod_raumwart loaded there with raumwart_component = \"{}\"?",
                        self.me.to_bare()
                    );
                }
            }
            Pending::Snapshot => match answer {
                Ok(Some(el)) => match protocol::parse_snapshot(&el) {
                    Ok(snapshot) => {
                        info!(rooms = snapshot.rooms.len(), "in sync with Prosody");
                        outcome.inputs.push(Input::Snapshot(snapshot));
                    }
                    Err(e) => outcome.lost = Some(format!("unreadable snapshot: {e}")),
                },
                Ok(None) => outcome.lost = Some("empty snapshot answer".into()),
                Err(_) => outcome.lost = Some(format!("snapshot refused ({condition:?})")),
            },
            Pending::Grant { room, jid } => {
                let ok = answer.is_ok();
                if !ok {
                    warn!(room, "granting owner failed ({condition:?})");
                }
                outcome.latency = Some(("grant_owner", took));
                outcome.inputs.push(Input::Done {
                    room,
                    request: Request::GrantOwner,
                    jid: Some(jid),
                    ok,
                });
            }
            Pending::Reset { room } => {
                // A room that no longer exists is as reset as it gets.
                let ok = answer.is_ok() || condition == Some(DefinedCondition::ItemNotFound);
                if !ok {
                    warn!(room, "reset failed ({condition:?})");
                }
                outcome.latency = Some(("reset", took));
                outcome.inputs.push(Input::Done {
                    room,
                    request: Request::Reset,
                    jid: None,
                    ok,
                });
            }
        }
    }
}
