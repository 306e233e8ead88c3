//! The daemon loop: owns the core, the metrics, the stream to Prosody and the component
//! session over it; feeds both state machines what arrives and the time, writes what
//! the session wants sent; reconnects with backoff; serves HTTP queries, reloads,
//! signals and the systemd watchdog.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::time::sleep_until;
use tracing::{debug, error, info, warn};

pub mod control;
pub mod http;
pub mod metrics;

use self::http::{Ask, Query, Response, Rooms};
use self::metrics::Metrics;
use crate::component::session::{self, DoctorFailed, Outcome, Session, DOCTOR_TIMEOUT};
use crate::component::stream::{self, Received};
use crate::config::{self, Config};
use crate::core::{describe_module_protocol, Core, Input, Note, Output, Phase, MODULE_PROTOCOL};
use crate::doctor::{self, Report};

/// With the request timeout (10 s), a Prosody that stopped answering is noticed within
/// 14 s; the README promises 15 s.
const PING_EVERY: Duration = Duration::from_secs(4);
/// tokio's timers have millisecond granularity and fire late, never early: wake this much
/// before a deadline and treat what falls due within it as due.
const TIMER_SLACK: Duration = Duration::from_millis(2);
/// The target of the timestamps the benchmark reads to split a reaction's latency into
/// timer, daemon and Prosody time (`RAUMWART_LOG=warn,raumwart::timing=debug`). Off
/// otherwise: tracing evaluates the fields only when the target is enabled.
const TIMING: &str = "raumwart::timing";
const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// The longest wait between two connection attempts (tests bound a reconnect by it).
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// While Prosody cannot be reached (restarting), retries stay this close, so that
/// raumwart is in sync within about this long of Prosody being back.
const BACKOFF_MAX_REFUSED: Duration = Duration::from_secs(1);
/// A standby (Prosody refused it: another raumwart holds the name) tries this often, so
/// that it takes over within about this long when the other one dies. Prosody logs each
/// refusal as an error: not much more often than this.
const STANDBY_RETRY: Duration = Duration::from_secs(1);

/// What reaches the loop from outside.
pub(crate) struct Inbox {
    /// The configuration file, read again on a reload.
    pub(crate) config_path: PathBuf,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// SIGHUP: read the configuration file again.
    pub(crate) reloads: mpsc::Receiver<()>,
    pub(crate) queries: mpsc::Receiver<Ask>,
}

type Connected = Result<Box<stream::Link>, tokio_xmpp::Error>;
type Connecting = Pin<Box<dyn Future<Output = Connected>>>;

/// A connection that is up: the stream, and the session over it.
struct Up {
    link: stream::Link,
    session: Session,
}

enum Conn {
    Waiting(Instant),
    Connecting(Connecting),
    Up(Box<Up>),
}

enum Happened {
    Connected(Connected),
    RetryDue,
    Received(Received),
}

impl Conn {
    /// The next thing the connection has to say; pending forever if nothing can happen.
    async fn next(&mut self) -> Happened {
        match self {
            Conn::Waiting(at) => {
                sleep_until((*at).into()).await;
                Happened::RetryDue
            }
            Conn::Connecting(fut) => Happened::Connected(fut.await),
            Conn::Up(up) => Happened::Received(up.link.next().await),
        }
    }

    fn session(&mut self) -> Option<&mut Session> {
        match self {
            Conn::Up(up) => Some(&mut up.session),
            _ => None,
        }
    }

    async fn close(&mut self) {
        if let Conn::Up(up) = self {
            up.link.close().await;
        }
    }
}

struct Daemon {
    config: Config,
    core: Core,
    metrics: Arc<Metrics>,
    config_path: PathBuf,
    conn: Conn,
    delay: Duration,
    connections: u64,
    ready: bool,
    /// The core's `synced()` at the last report, to log when it changes.
    synced: bool,
    wrong_passwords: WrongPasswords,
    /// Refused because another raumwart holds the component name.
    standby: bool,
    /// `raumwart doctor`s waiting for the module's report (one question answers all).
    doctor: Vec<tokio::sync::oneshot::Sender<Response>>,
}

/// Wrong passwords are logged at warn, at most once a minute per room with a count:
/// a guessing student must not be able to flood the log.
#[derive(Default)]
struct WrongPasswords {
    /// room -> (last line, refusals since); a room's entry lives for one minute after
    /// its last line (`sweep`), so the map holds only rooms refused in the last minute.
    rooms: std::collections::HashMap<String, (Instant, u64)>,
}

const WRONG_PASSWORD_LOG_EVERY: Duration = Duration::from_secs(60);

impl WrongPasswords {
    /// Counts one refusal in `room`; returns how many to report now, if a line is due.
    fn record(&mut self, room: &str, now: Instant) -> Option<u64> {
        match self.rooms.get_mut(room) {
            Some((last, count)) if now.duration_since(*last) < WRONG_PASSWORD_LOG_EVERY => {
                *count += 1;
                None
            }
            Some((last, count)) => {
                let refused = *count + 1;
                (*last, *count) = (now, 0);
                Some(refused)
            }
            None => {
                self.rooms.insert(room.to_owned(), (now, 0));
                Some(1)
            }
        }
    }

    /// Forgets the rooms whose minute is over, returning those with refusals not yet
    /// reported, so that the last refusals of a guessing spree are logged too.
    fn sweep(&mut self, now: Instant) -> Vec<(String, u64)> {
        let mut due = vec![];
        self.rooms.retain(|room, (last, count)| {
            if now.duration_since(*last) < WRONG_PASSWORD_LOG_EVERY {
                return true;
            }
            if *count > 0 {
                due.push((room.clone(), *count));
            }
            false
        });
        due
    }
}

pub(crate) async fn run(
    config: Config,
    metrics: Arc<Metrics>,
    mut inbox: Inbox,
) -> anyhow::Result<()> {
    let core = Core::new(config.room_map(), config.policy.clone());
    let mut d = Daemon {
        config,
        core,
        metrics,
        config_path: inbox.config_path.clone(),
        conn: Conn::Waiting(Instant::now()),
        delay: BACKOFF_MIN,
        connections: 0,
        ready: false,
        synced: false,
        wrong_passwords: WrongPasswords::default(),
        standby: false,
        doctor: vec![],
    };
    let mut ping = tokio::time::interval(PING_EVERY);
    let watchdog_every = sd_notify::watchdog_enabled().map(|t| t / 2);
    let mut watchdog = tokio::time::interval(watchdog_every.unwrap_or(Duration::from_secs(3600)));
    loop {
        let far = Instant::now() + Duration::from_secs(3600);
        let session_timeout = match &d.conn {
            Conn::Up(up) => up.session.next_timeout(),
            _ => None,
        };
        let wake = [d.core.next_deadline(), session_timeout]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(far);
        tokio::select! {
            _ = inbox.shutdown.changed() => {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
                d.conn.close().await;
                return Ok(());
            }
            happened = d.conn.next() => d.on_connection(happened).await,
            Some((query, reply)) = inbox.queries.recv() => match query {
                Query::Doctor => d.ask_doctor(reply).await,
                query => {
                    let answer = d.answer(query).await;
                    let _ = reply.send(answer);
                }
            },
            Some(()) = inbox.reloads.recv() => {
                let _ = d.reload_file().await;
            }
            _ = ping.tick() => d.ping().await,
            _ = watchdog.tick(), if watchdog_every.is_some() => {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
            _ = sleep_until(wake.checked_sub(TIMER_SLACK).unwrap_or(wake).into()) => {
                d.on_timer().await
            }
        }
    }
}

impl Daemon {
    async fn on_connection(&mut self, happened: Happened) {
        match happened {
            Happened::RetryDue => {
                let xmpp = self.config.xmpp.clone();
                self.conn = Conn::Connecting(Box::pin(async move {
                    stream::connect(&xmpp).await.map(Box::new)
                }));
            }
            Happened::Connected(Ok(link)) => {
                let session = match Session::new(&self.config.xmpp) {
                    Ok(s) => s,
                    Err(e) => return self.lost(format!("{e}")),
                };
                info!(server = %self.config.xmpp.server, component = %self.config.xmpp.component, "connected to Prosody");
                self.connections += 1;
                if self.connections > 1 {
                    self.metrics.reconnects.inc();
                }
                self.metrics.connected.set(1);
                self.delay = BACKOFF_MIN;
                if std::mem::take(&mut self.standby) {
                    info!("taking over from the other raumwart");
                }
                let link = *link;
                self.conn = Conn::Up(Box::new(Up { link, session }));
                self.feed(Input::Connected, Instant::now()).await;
            }
            Happened::Connected(Err(e)) if stream::name_in_use(&e) => {
                if !self.standby {
                    self.standby = true;
                    self.metrics.connected.set(0);
                    info!("{}", session::explain(&e, &self.config.xmpp));
                }
                self.conn = Conn::Waiting(Instant::now() + STANDBY_RETRY);
            }
            Happened::Connected(Err(e)) => {
                self.standby = false;
                // The port closed, or the stream closed before the handshake: Prosody
                // (re)starting. Misconfiguration (a refused handshake) backs off further.
                let refused = matches!(
                    &e,
                    tokio_xmpp::Error::Io(_) | tokio_xmpp::Error::Disconnected
                );
                let cap = if refused {
                    BACKOFF_MAX_REFUSED
                } else {
                    BACKOFF_MAX
                };
                self.delay = self.delay.min(cap);
                error!(
                    "{}; retrying in {:?}",
                    session::explain(&e, &self.config.xmpp),
                    self.delay
                );
                self.wait_and_retry(cap);
            }
            Happened::Received(Received::Closed(why)) => self.lost(why),
            Happened::Received(Received::Stanza(stanza)) => {
                let cause = Instant::now();
                debug!(target: TIMING, at_us = unix_us(), "in");
                let Some(s) = self.conn.session() else { return };
                s.handle_stanza(cause, *stanza);
                let sent = self.pump(cause).await;
                debug!(target: TIMING, at_us = unix_us(), sent, "handled");
            }
            Happened::Received(Received::Invalid(bad)) => {
                let cause = Instant::now();
                let Some(s) = self.conn.session() else { return };
                s.handle_invalid(bad);
                self.pump(cause).await;
            }
        }
    }

    /// Waits the current delay, doubling it for next time up to `cap`.
    fn wait_and_retry(&mut self, cap: Duration) {
        self.conn = Conn::Waiting(Instant::now() + self.delay);
        self.delay = (self.delay * 2).min(cap);
    }

    fn lost(&mut self, why: String) {
        if matches!(self.conn, Conn::Up(_)) {
            warn!("connection to Prosody lost: {why}; reconnecting");
        }
        self.metrics.connected.set(0);
        self.metrics.synced.set(0);
        self.core.handle(Instant::now(), Input::Disconnected);
        self.wait_and_retry(BACKOFF_MAX);
        let lost = Response::text(503, format!("the connection to Prosody was lost: {why}\n"));
        self.answer_doctor(lost);
        // The core drops what it had not sent yet: only notes are left.
        while let Some(output) = self.core.poll_output() {
            if let Output::Note(note) = output {
                self.note(note);
            }
        }
    }

    /// Writes what the session wants sent, then hands on what it has to say: inputs to
    /// the core (whose requests go back into the session and out in the next round),
    /// answers to the metrics, and last a lost connection. `cause` is when the input
    /// that started it all arrived. Returns how many stanzas it wrote.
    async fn pump(&mut self, cause: Instant) -> usize {
        let mut sent = 0;
        loop {
            let Conn::Up(up) = &mut self.conn else {
                return sent;
            };
            while let Some(stanza) = up.session.poll_transmit() {
                if let Err(e) = up.link.send(stanza).await {
                    self.lost(e);
                    return sent;
                }
                sent += 1;
            }
            let Some(outcome) = up.session.poll_outcome() else {
                return sent;
            };
            match outcome {
                Outcome::Answered { kind, ok, took } => {
                    self.metrics.answered(kind, ok, took.as_secs_f64());
                }
                Outcome::Input(input) => {
                    if let Input::Event(_) = input {
                        self.metrics.events.inc();
                    }
                    self.core.handle(Instant::now(), input);
                    self.drain(cause);
                }
                Outcome::Doctor(report) => self.doctor_answered(report),
                Outcome::Lost(why) => {
                    self.lost(why);
                    return sent;
                }
            }
        }
    }

    /// Asks the module for its report, unless a question is out already; the answer goes
    /// to every doctor waiting.
    async fn ask_doctor(&mut self, reply: tokio::sync::oneshot::Sender<Response>) {
        let now = Instant::now();
        let Some(s) = self.conn.session() else {
            let down = Response::text(503, "not connected to Prosody: cannot ask it now\n");
            let _ = reply.send(down);
            return;
        };
        if self.doctor.is_empty() {
            s.ask_doctor(now);
        }
        self.doctor.push(reply);
        self.pump(now).await;
    }

    fn doctor_answered(&mut self, report: Result<Report, DoctorFailed>) {
        let muc = &self.config.xmpp.muc;
        let response = match report {
            Ok(report) => {
                let managed = self.core.rooms().count();
                let (xmpp, policy) = (&self.config.xmpp, &self.config.policy);
                let checks = doctor::check(&report, xmpp, policy, managed);
                let body = serde_json::json!({ "checks": checks, "prosody": report });
                Response::json(200, body.to_string())
            }
            Err(DoctorFailed::TooOld) => Response::text(
                501,
                format!(
                    "the raumwart module on {muc} is too old to answer raumwart doctor: install \
                     the module of this release and restart Prosody\n"
                ),
            ),
            Err(DoctorFailed::NoAnswer) => Response::text(
                504,
                format!("the raumwart module on {muc} did not answer within {DOCTOR_TIMEOUT:?}\n"),
            ),
            Err(DoctorFailed::Refused(why)) => Response::text(
                502,
                format!("the raumwart module on {muc} gave no report: {why}\n"),
            ),
        };
        self.answer_doctor(response);
    }

    fn answer_doctor(&mut self, response: Response) {
        for reply in self.doctor.drain(..) {
            let _ = reply.send(response.clone());
        }
    }

    /// Hands an input to the core, sends its requests, reports its notes.
    async fn feed(&mut self, input: Input, cause: Instant) {
        self.core.handle(Instant::now(), input);
        self.drain(cause);
        self.pump(cause).await;
    }

    /// Takes the core's outputs: notes are reported, requests go to the session (and
    /// are written by the next `pump`).
    fn drain(&mut self, cause: Instant) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Note(note) => self.note(note),
                Output::Request { id, request } => {
                    if let Some(s) = self.conn.session() {
                        s.send_request(Instant::now(), id, request, cause);
                    }
                }
            }
        }
        self.report();
    }

    fn note(&mut self, note: Note) {
        match note {
            Note::SessionStarted { room, school } => {
                info!(room, school, "session started");
                self.metrics.session_started(&school);
            }
            Note::WrongPassword { room, school } => {
                self.metrics.wrong_password(&school);
                // Never the password, never a JID: the room and a count.
                if let Some(refused) = self.wrong_passwords.record(&room, Instant::now()) {
                    warn!(room, refused, "joins refused for a wrong password");
                }
            }
            Note::GraceStarted { room, school } => {
                let grace = self.config.policy.grace_period;
                info!(
                    room,
                    school,
                    ?grace,
                    "no organizer inside: grace period started"
                );
            }
            Note::SessionEnded {
                room,
                school,
                reason,
                duration,
            } => {
                let minutes = duration.as_secs() / 60;
                info!(
                    room,
                    school,
                    reason = reason.as_str(),
                    minutes,
                    "session ended"
                );
                self.metrics.session_ended(&school, reason.as_str());
            }
            Note::FocusInsisted { room, school } => {
                // Never a JID: the room and the school.
                warn!(
                    room,
                    school,
                    "focus made someone owner again after raumwart took it back (jicofo's \
                     authentication on?): raumwart leaves them owner for this session \
                     instead of fighting focus; see README, jicofo's auto-owner"
                );
                self.metrics.focus_insisted(&school);
            }
            Note::ModuleIncompatible { module } => {
                error!(
                    module = describe_module_protocol(module),
                    raumwart = MODULE_PROTOCOL,
                    "Prosody runs a raumwart module of another release: restart Prosody \
                     (systemctl restart prosody) to load the installed one; no room map is \
                     pushed meanwhile, rooms stay protected by the module's last map"
                );
            }
            Note::ModuleProblems { problems } => {
                // A protocol mismatch has its own line (ModuleIncompatible).
                for problem in problems.iter().filter(|p| *p != "protocol-mismatch") {
                    error!(
                        problem,
                        "the Prosody module reports a problem; see Prosody's log"
                    );
                }
                if problems.is_empty() {
                    info!("the Prosody module reports no more problems");
                }
                self.metrics.module_problems.set(problems.len() as i64);
            }
        }
    }

    fn report(&mut self) {
        let synced = self.core.synced();
        self.metrics.synced.set(i64::from(synced));
        if synced && !self.synced {
            info!(rooms = self.core.rooms().count(), "in sync with Prosody");
        }
        self.synced = synced;
        if synced && !self.ready {
            self.ready = true;
            let _ = sd_notify::notify(&[
                sd_notify::NotifyState::Ready,
                sd_notify::NotifyState::Status("in sync with Prosody"),
            ]);
        }
    }

    async fn ping(&mut self) {
        let now = Instant::now();
        for (room, refused) in self.wrong_passwords.sweep(now) {
            warn!(room, refused, "joins refused for a wrong password");
        }
        let Some(s) = self.conn.session() else { return };
        // One at a time: an unanswered ping is noticed when its request times out.
        s.ping(now);
        self.pump(now).await;
    }

    async fn on_timer(&mut self) {
        let now = Instant::now();
        let due = now + TIMER_SLACK;
        if let Some(s) = self.conn.session() {
            s.handle_timeout(due);
            self.pump(now).await;
        }
        let deadline = self.core.next_deadline();
        debug!(
            target: TIMING,
            at_us = unix_us(),
            late_us = deadline.map_or(0, |d| signed_us(now, d)),
            "timer"
        );
        if deadline.is_some_and(|d| d <= due) {
            self.core.handle(due, Input::Tick);
            self.drain(now);
            self.pump(now).await;
            debug!(target: TIMING, at_us = unix_us(), "sent");
        }
    }

    /// Reads the configuration file again and applies it, or keeps the running one and
    /// returns the file's problems. Tells systemd while it is at it.
    async fn reload_file(&mut self) -> Result<usize, String> {
        let mut state = vec![sd_notify::NotifyState::Reloading];
        if let Ok(t) = sd_notify::NotifyState::monotonic_usec_now() {
            state.push(t);
        }
        let _ = sd_notify::notify(&state);
        let result = match config::load(&self.config_path) {
            Ok(c) => {
                self.metrics.config_loaded(true);
                let rooms = c.schools.iter().map(|s| s.rooms.len()).sum();
                self.reload(c).await;
                Ok(rooms)
            }
            Err(e) => {
                self.metrics.config_loaded(false);
                error!("reload refused, the running configuration stays:");
                for line in e.to_string().lines() {
                    error!("{line}");
                }
                Err(e.to_string())
            }
        };
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        result
    }

    async fn reload(&mut self, config: Config) {
        let reconnect = config.xmpp.server != self.config.xmpp.server
            || config.xmpp.component != self.config.xmpp.component
            || config.xmpp.secret != self.config.xmpp.secret
            || config.xmpp.muc != self.config.xmpp.muc
            || config.xmpp.lobby_muc != self.config.xmpp.lobby_muc;
        if config.http.listen != self.config.http.listen {
            warn!("http.listen changes take effect at the next start");
        }
        let map = config.room_map();
        let policy = config.policy.clone();
        self.metrics.use_config(&config);
        self.config = config;
        info!(rooms = map.rooms.len(), "configuration reloaded");
        self.feed(Input::Reload(map, policy), Instant::now()).await;
        if reconnect {
            info!("XMPP settings changed: reconnecting");
            self.conn.close().await;
            self.lost("reconnecting for new settings".into());
            self.delay = BACKOFF_MIN;
            self.conn = Conn::Waiting(Instant::now());
        }
    }

    async fn answer(&mut self, query: Query) -> Response {
        match query {
            Query::Metrics => Response {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: self.metrics.render(&self.core),
            },
            Query::Health => match (self.conn.session().is_some(), self.core.synced()) {
                (true, true) if !self.core.module_problems().is_empty() => Response::text(
                    503,
                    format!(
                        "connected and in sync, but the Prosody module reports: {}\n",
                        self.core.module_problems().join(", ")
                    ),
                ),
                (true, true) => {
                    let left: usize = self.core.rooms().map(|r| r.left_to_focus).sum();
                    let note = if left > 0 {
                        format!(
                            "note: focus keeps making {left} non-organizer(s) owner (jicofo's \
                             authentication on?); raumwart leaves them owner, see README\n"
                        )
                    } else {
                        String::new()
                    };
                    Response::text(200, format!("ok: connected to Prosody and in sync\n{note}"))
                }
                (true, false) if self.core.module_mismatch().is_some() => Response::text(
                    503,
                    format!(
                        "connected to Prosody, but its raumwart module speaks {} and this \
                         raumwart protocol {MODULE_PROTOCOL}: restart Prosody to load the \
                         installed module\n",
                        describe_module_protocol(self.core.module_mismatch().flatten()),
                    ),
                ),
                (true, false) => Response::text(503, "connected to Prosody, not yet in sync\n"),
                (false, _) => Response::text(503, "not connected to Prosody\n"),
            },
            Query::Status(rooms) => Response::json(200, self.status_json(&rooms)),
            // The HTTP server answers it, and the doctor is answered by ask_doctor.
            Query::ControlSocket | Query::Doctor => Response::text(404, "not found\n"),
            Query::Reload => match self.reload_file().await {
                Ok(rooms) => Response::text(200, format!("reloaded: {rooms} room nodes\n")),
                Err(problems) => Response::text(
                    422,
                    format!("{problems}\nrefused; the running configuration stays\n"),
                ),
            },
            Query::EndSession(room) => {
                if !self.core.is_managed(&room) {
                    return Response::text(404, format!("{room:?} is not a managed room\n"));
                }
                if !self.core.synced() {
                    return Response::text(503, "not connected to Prosody; try again shortly\n");
                }
                info!(room, "session ended by request");
                self.feed(Input::EndSession { room: room.clone() }, Instant::now())
                    .await;
                Response::text(200, format!("ending the session in {room}\n"))
            }
        }
    }

    /// Written straight from borrowed fields: at a state's 100,000 rooms a tree of
    /// `serde_json::Value`s per room cost hundreds of MB, and a search of the schools
    /// per room seconds.
    fn status_json(&self, listed: &Rooms) -> String {
        let now = Instant::now();
        let centres: std::collections::HashMap<&str, &str> = self
            .config
            .schools
            .iter()
            .filter_map(|s| Some((s.id.as_str(), s.media_centre.as_deref()?)))
            .collect();
        let rooms: Vec<RoomJson> = self
            .core
            .rooms()
            .map(|r| (centres.get(r.school).copied(), r))
            .filter(|(centre, _)| listed.lists(*centre))
            .map(|(media_centre, r)| RoomJson {
                room: r.name,
                school: r.school,
                media_centre,
                state: r.phase.as_str(),
                people: r.people,
                organizer_present: r.organizer_present,
                owners_left_to_focus: r.left_to_focus,
                session_age_seconds: r
                    .session_start
                    .map(|s| now.saturating_duration_since(s).as_secs()),
                grace_left_seconds: match r.phase {
                    Phase::Grace { deadline } => {
                        Some(deadline.saturating_duration_since(now).as_secs())
                    }
                    _ => None,
                },
            })
            .collect();
        let status = StatusJson {
            connected: matches!(self.conn, Conn::Up(_)),
            standby: self.standby,
            synced: self.core.synced(),
            module_problems: self.core.module_problems(),
            rooms,
        };
        serde_json::to_string(&status).unwrap_or_default()
    }
}

/// `/status`, as `raumwart status` and the console read it.
#[derive(serde::Serialize)]
struct StatusJson<'a> {
    connected: bool,
    standby: bool,
    synced: bool,
    module_problems: Vec<&'a str>,
    rooms: Vec<RoomJson<'a>>,
}

#[derive(serde::Serialize)]
struct RoomJson<'a> {
    room: &'a str,
    school: &'a str,
    media_centre: Option<&'a str>,
    state: &'static str,
    people: usize,
    organizer_present: bool,
    owners_left_to_focus: usize,
    session_age_seconds: Option<u64>,
    grace_left_seconds: Option<u64>,
}

/// Wall-clock microseconds, comparable across the processes of one machine.
fn unix_us() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// `now - deadline` in microseconds, negative when early.
fn signed_us(now: Instant, deadline: Instant) -> i128 {
    match now.checked_duration_since(deadline) {
        Some(late) => late.as_micros() as i128,
        None => -(deadline.duration_since(now).as_micros() as i128),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_passwords_are_reported_at_most_once_a_minute_per_room() {
        let mut w = WrongPasswords::default();
        let t = Instant::now();
        assert_eq!(w.record("a", t), Some(1));
        assert_eq!(w.record("b", t), Some(1));
        for i in 1..=500 {
            assert_eq!(w.record("a", t + Duration::from_millis(i * 100)), None);
        }
        // 500 more within the minute, and this one: 501 since the last line.
        assert_eq!(w.record("a", t + Duration::from_secs(60)), Some(501));
        assert_eq!(w.record("a", t + Duration::from_secs(61)), None);
        assert_eq!(w.record("b", t + Duration::from_secs(61)), Some(1));
    }

    #[test]
    fn a_rooms_entry_is_forgotten_a_minute_after_its_line_with_its_last_refusals_reported() {
        let mut w = WrongPasswords::default();
        let t = Instant::now();
        assert_eq!(w.record("a", t), Some(1));
        assert_eq!(w.record("a", t + Duration::from_secs(1)), None);
        assert_eq!(w.record("a", t + Duration::from_secs(2)), None);
        assert_eq!(w.record("b", t + Duration::from_secs(30)), Some(1));
        assert!(w.sweep(t + Duration::from_secs(59)).is_empty());
        assert_eq!(w.rooms.len(), 2);
        // a's minute is over: its two unreported refusals are due; b's entry stays.
        assert_eq!(w.sweep(t + Duration::from_secs(60)), [("a".to_owned(), 2)]);
        assert_eq!(w.rooms.len(), 1);
        // b had nothing unreported: forgotten without a line.
        assert!(w.sweep(t + Duration::from_secs(90)).is_empty());
        assert!(w.rooms.is_empty());
        // A new refusal in a forgotten room is reported at once.
        assert_eq!(w.record("a", t + Duration::from_secs(91)), Some(1));
    }
}
