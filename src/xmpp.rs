//! The async shell around the core: the XEP-0114 component connection, stanza <-> input
//! and action translation, IQ tracking with timeouts, reconnects with backoff.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::watch;
use tokio::time::sleep_until;
use tokio_xmpp::connect::{DnsConfig, TcpServerConnector};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::{Component, Stanza};
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::core::{Action, Core, Input, Request, RoomMap};
use crate::protocol;

const IQ_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(20);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Why a component session ended.
enum End {
    Shutdown,
    Lost(String),
}

#[derive(Debug)]
enum Pending {
    MapChunk,
    Snapshot,
    Ping,
    Grant { room: String, jid: String },
    Reset { room: String },
}

/// Runs until `shutdown` turns true: connects, serves, reconnects.
pub async fn run(config: Config, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut core = Core::new(RoomMap::from_config(&config), config.policy.clone());
    let muc = Jid::from_str(&config.xmpp.muc)?;
    let me = Jid::from_str(&format!("{}/raumwart", config.xmpp.component))?;
    let mut delay = BACKOFF_MIN;
    loop {
        let connecting = Component::new_plaintext(
            &config.xmpp.component,
            config.xmpp.secret.expose(),
            DnsConfig::addr(&config.xmpp.server),
            Timeouts::tight(),
        );
        let attempt = tokio::select! {
            r = connecting => Some(r),
            _ = shutdown.changed() => None,
        };
        match attempt {
            None => return Ok(()),
            Some(Ok(component)) => {
                info!(server = %config.xmpp.server, component = %config.xmpp.component, "connected to Prosody");
                delay = BACKOFF_MIN;
                let mut session = Session {
                    component,
                    core: &mut core,
                    muc: muc.clone(),
                    me: me.clone(),
                    pending: HashMap::new(),
                    next_id: 0,
                };
                let end = session.serve(&mut shutdown).await;
                core.handle(Instant::now(), Input::Disconnected);
                match end {
                    End::Shutdown => return Ok(()),
                    End::Lost(why) => warn!("connection to Prosody lost: {why}; reconnecting"),
                }
            }
            Some(Err(e)) => error!("{}", explain(&e, &config)),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return Ok(()),
        }
        delay = (delay * 2).min(BACKOFF_MAX);
    }
}

/// Turns a connection error into a sentence an admin can act on.
fn explain(e: &tokio_xmpp::Error, config: &Config) -> String {
    let (server, name) = (&config.xmpp.server, &config.xmpp.component);
    match e {
        tokio_xmpp::Error::Auth(_) => format!(
            "Prosody at {server} refused the component handshake for {name}: the secret does not \
             match its component_secret, Component \"{name}\" is not configured there, or another \
             raumwart is already connected as {name}; retrying"
        ),
        tokio_xmpp::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => format!(
            "cannot reach Prosody's component port at {server} (connection refused): is Prosody \
             running with Component \"{name}\"? retrying"
        ),
        other => format!("cannot connect to Prosody at {server}: {other}; retrying"),
    }
}

struct Session<'a> {
    component: Component<TcpServerConnector>,
    core: &'a mut Core,
    muc: Jid,
    me: Jid,
    pending: HashMap<String, (Pending, Instant)>,
    next_id: u64,
}

impl Session<'_> {
    async fn serve(&mut self, shutdown: &mut watch::Receiver<bool>) -> End {
        let actions = self.core.handle(Instant::now(), Input::Connected);
        if let Err(e) = self.execute(actions).await {
            return End::Lost(e.to_string());
        }
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let mut nones = 0;
        loop {
            let far = Instant::now() + Duration::from_secs(3600);
            let wake = [
                self.core.next_deadline(),
                self.pending.values().map(|(_, t)| *t).min(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(far);
            let result = tokio::select! {
                _ = shutdown.changed() => {
                    let _ = self.component.send_end().await;
                    return End::Shutdown;
                }
                stanza = self.component.next() => match stanza {
                    Some(stanza) => {
                        nones = 0;
                        self.on_stanza(stanza).await
                    }
                    // One None may be a skipped unparsable stanza; two in a row is a closed stream.
                    None => {
                        nones += 1;
                        if nones >= 2 {
                            return End::Lost("stream closed by Prosody".into());
                        }
                        warn!("skipped a stanza that could not be parsed");
                        Ok(())
                    }
                },
                _ = ping.tick() => {
                    if self.pending.values().any(|(p, _)| matches!(p, Pending::Ping)) {
                        return End::Lost("Prosody did not answer a ping".into());
                    }
                    self.send_iq(Pending::Ping, self.muc.clone(), false, protocol::ping()).await
                }
                _ = sleep_until(wake.into()) => self.on_timer().await,
            };
            if let Err(e) = result {
                return End::Lost(e);
            }
        }
    }

    async fn execute(&mut self, actions: Vec<Action>) -> Result<(), String> {
        for action in actions {
            match action {
                Action::PushMap(map) => {
                    for chunk in protocol::map_chunks(&map) {
                        self.send_iq(Pending::MapChunk, self.muc.clone(), true, chunk)
                            .await?;
                    }
                }
                Action::RequestSnapshot => {
                    let el = protocol::snapshot_request();
                    self.send_iq(Pending::Snapshot, self.muc.clone(), false, el)
                        .await?;
                }
                Action::GrantOwner { room, jid } => {
                    debug!(room, jid, "granting owner");
                    let to = self.room_jid(&room)?;
                    let el = protocol::grant_owner(&jid);
                    self.send_iq(Pending::Grant { room, jid }, to, true, el)
                        .await?;
                }
                Action::Reset {
                    room,
                    reason,
                    message,
                } => {
                    info!(room, reason = reason.as_str(), "resetting room");
                    let to = self.room_jid(&room)?;
                    let el = protocol::destroy(message.as_deref());
                    self.send_iq(Pending::Reset { room }, to, true, el).await?;
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
        to: Jid,
        set: bool,
        payload: Element,
    ) -> Result<(), String> {
        self.next_id += 1;
        let id = format!("rw{}", self.next_id);
        let iq = if set {
            Iq::Set {
                from: Some(self.me.clone()),
                to: Some(to),
                id: id.clone(),
                payload,
            }
        } else {
            Iq::Get {
                from: Some(self.me.clone()),
                to: Some(to),
                id: id.clone(),
                payload,
            }
        };
        self.pending.insert(id, (what, Instant::now() + IQ_TIMEOUT));
        self.send(Stanza::Iq(iq)).await
    }

    async fn send(&mut self, stanza: Stanza) -> Result<(), String> {
        self.component
            .send_stanza(stanza)
            .await
            .map_err(|e| format!("send failed: {e}"))
    }

    async fn feed(&mut self, input: Input) -> Result<(), String> {
        let actions = self.core.handle(Instant::now(), input);
        self.execute(actions).await
    }

    async fn on_timer(&mut self) -> Result<(), String> {
        let now = Instant::now();
        let expired: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, (_, t))| *t <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some((what, _)) = self.pending.remove(&id) {
                warn!(?what, "no answer from Prosody within {IQ_TIMEOUT:?}");
                self.on_answer(what, Err(None)).await?;
            }
        }
        if self.core.next_deadline().is_some_and(|d| d <= now) {
            self.feed(Input::Tick).await?;
        }
        Ok(())
    }

    async fn on_stanza(&mut self, stanza: Stanza) -> Result<(), String> {
        match stanza {
            Stanza::Iq(Iq::Result { id, payload, .. }) => match self.pending.remove(&id) {
                Some((what, _)) => self.on_answer(what, Ok(payload)).await,
                None => {
                    debug!(id, "answer to no request of ours");
                    Ok(())
                }
            },
            Stanza::Iq(Iq::Error { id, error, .. }) => match self.pending.remove(&id) {
                Some((what, _)) => self.on_answer(what, Err(Some(error))).await,
                None => {
                    debug!(id, "error answer to no request of ours");
                    Ok(())
                }
            },
            Stanza::Iq(Iq::Get { from, id, .. } | Iq::Set { from, id, .. }) => {
                // raumwart offers no service of its own to anyone.
                let Some(from) = from else { return Ok(()) };
                let err = StanzaError::new(
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    "en",
                    "raumwart answers no requests",
                );
                let reply = Iq::Error {
                    from: Some(self.me.clone()),
                    to: Some(from),
                    id,
                    error: err,
                    payload: None,
                };
                self.send(Stanza::Iq(reply)).await
            }
            Stanza::Message(msg) => self.on_message(msg).await,
            Stanza::Presence(_) => Ok(()),
        }
    }

    async fn on_message(&mut self, msg: Message) -> Result<(), String> {
        if msg.type_ == MessageType::Error {
            return Ok(());
        }
        let from_muc = msg.from.as_ref() == Some(&self.muc);
        if !from_muc {
            debug!(from = ?msg.from, "refused a message from outside the MUC service");
            let Some(from) = msg.from.clone() else {
                return Ok(());
            };
            let mut reply = Message::new_with_type(MessageType::Error, Some(from));
            reply.from = Some(self.me.clone());
            reply.id = msg.id.clone();
            reply.payloads.push(
                StanzaError::new(
                    ErrorType::Auth,
                    DefinedCondition::Forbidden,
                    "en",
                    "only the MUC service may send events to raumwart",
                )
                .into(),
            );
            return self.send(Stanza::Message(reply)).await;
        }
        for el in &msg.payloads {
            match protocol::parse_event(el) {
                Ok(event) => {
                    debug!(?event, "event");
                    self.feed(Input::Event(event)).await?;
                }
                Err(e) => warn!("skipped an event from the module: {e}"),
            }
        }
        Ok(())
    }

    /// `answer` is the result payload, or the error (None: no answer in time).
    async fn on_answer(
        &mut self,
        what: Pending,
        answer: Result<Option<Element>, Option<StanzaError>>,
    ) -> Result<(), String> {
        let condition = match &answer {
            Err(Some(e)) => Some(e.defined_condition.clone()),
            _ => None,
        };
        match what {
            Pending::Ping => Ok(()),
            Pending::MapChunk => match answer {
                Ok(_) => Ok(()),
                Err(_) => {
                    error!(
                        muc = %self.muc,
                        "the MUC service did not take the room map ({condition:?}): is mod_raumwart \
                         loaded there with raumwart_component = \"{}\"?",
                        self.me.to_bare()
                    );
                    Ok(())
                }
            },
            Pending::Snapshot => match answer {
                Ok(Some(el)) => match protocol::parse_snapshot(&el) {
                    Ok(snapshot) => {
                        info!(rooms = snapshot.rooms.len(), "in sync with Prosody");
                        self.feed(Input::Snapshot(snapshot)).await
                    }
                    Err(e) => Err(format!("unreadable snapshot: {e}")),
                },
                Ok(None) => Err("empty snapshot answer".into()),
                Err(_) => Err(format!("snapshot refused ({condition:?})")),
            },
            Pending::Grant { room, jid } => {
                let ok = answer.is_ok();
                if !ok {
                    warn!(room, "granting owner failed ({condition:?})");
                }
                let input = Input::Done {
                    room,
                    request: Request::GrantOwner,
                    jid: Some(jid),
                    ok,
                };
                self.feed(input).await
            }
            Pending::Reset { room } => {
                // A room that no longer exists is as reset as it gets.
                let ok = answer.is_ok() || condition == Some(DefinedCondition::ItemNotFound);
                if !ok {
                    warn!(room, "reset failed ({condition:?})");
                }
                let input = Input::Done {
                    room,
                    request: Request::Reset,
                    jid: None,
                    ok,
                };
                self.feed(input).await
            }
        }
    }
}
