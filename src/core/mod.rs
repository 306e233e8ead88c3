//! The decision core: a pure state machine over the managed rooms.
//!
//! No sockets, no clock: every input comes with `now`, every effect leaves through
//! [`Core::poll_output`]: requests, each with its [`RequestId`], and notes. The shell
//! feeds it parsed events and the answers to its requests; tests feed it virtual time.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod fixtures;
mod policy;

pub use policy::{Policy, Secret, Unmanaged, DEFAULT_END_MESSAGE};

/// The rooms raumwart manages, as pushed to the Prosody module.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomMap {
    /// A digest of the content, so both sides can tell which map is in force.
    pub gen: String,
    pub unmanaged: Unmanaged,
    /// The grace period: how long the module keeps a class password after a Prosody
    /// restart.
    pub grace: Duration,
    pub rooms: BTreeMap<String, MapEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MapEntry {
    /// Shared by the school's rooms.
    pub school: Arc<str>,
    pub password: Secret,
}

impl RoomMap {
    /// The map of `rooms` under the policy's `unmanaged` and `grace`, with its digest.
    pub fn new(
        rooms: BTreeMap<String, MapEntry>,
        unmanaged: Unmanaged,
        grace: Duration,
    ) -> RoomMap {
        // FNV-1a: stable across builds, unlike std's hasher. The module stores `gen`, so
        // it covers names and policy only: an unsalted digest of passwords would be one
        // more thing to guess them from.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let grace_text = grace.as_secs().to_string();
        let parts = rooms
            .iter()
            .flat_map(|(n, e)| [n.as_str(), &*e.school])
            .chain([unmanaged.as_str(), grace_text.as_str()]);
        for part in parts {
            for b in part.bytes().chain([0]) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
        RoomMap {
            gen: format!("{hash:016x}"),
            unmanaged,
            grace,
            rooms,
        }
    }
}

/// What the module reports about a managed room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `occupant` is the real full JID of the session that entered; `keyed` says it
    /// entered with the school password.
    Joined {
        room: String,
        occupant: String,
        keyed: bool,
    },
    Left {
        room: String,
        occupant: String,
    },
    /// Someone entered one of the room's breakout rooms (a Jitsi `breakout` MUC room).
    JoinedBreakout {
        room: String,
        occupant: String,
        breakout: String,
    },
    /// The room has breakout rooms open: an empty main room may just mean everyone is
    /// on the way into them.
    BreakoutsActive {
        room: String,
    },
    /// The room is gone from Prosody, with everyone in it.
    Destroyed {
        room: String,
    },
    /// An organizer ended the meeting for everyone (Jitsi's "end meeting for all", or an
    /// organizer's own destroy): the room is gone, with everyone in it. The module lets
    /// nobody else end a managed room's meeting.
    EndedByOrganizer {
        room: String,
    },
    /// Someone tried to enter the room with a wrong password (or none).
    WrongPassword {
        room: String,
    },
    /// An affiliation was changed by someone other than raumwart.
    Affiliation {
        room: String,
        jid: String,
        affiliation: String,
        actor: String,
        /// What `jid` held before (None: the module does not say).
        previous: Option<String>,
        /// Whether the room is members-only now (None: the module does not say).
        members_only: Option<bool>,
    },
    /// The room's members-only setting (Jitsi's lobby) was submitted: `on` is what holds.
    MembersOnly {
        room: String,
        on: bool,
    },
}

impl Event {
    /// The managed room it is about (a breakout room's event names its main room).
    pub fn room(&self) -> &str {
        match self {
            Event::Joined { room, .. }
            | Event::Left { room, .. }
            | Event::JoinedBreakout { room, .. }
            | Event::BreakoutsActive { room }
            | Event::Destroyed { room }
            | Event::EndedByOrganizer { room }
            | Event::WrongPassword { room }
            | Event::Affiliation { room, .. }
            | Event::MembersOnly { room, .. } => room,
        }
    }
}

/// The version of the protocol between raumwart and its Prosody module that this core
/// speaks. A module that announces another (or none: a release from before versions) is
/// sent no map: it could misread it and leave rooms open. Its last map keeps protecting.
pub const MODULE_PROTOCOL: u32 = 2;

/// How often a module that speaks another protocol is asked again: a reload of the module
/// (without a Prosody restart, so without a new connection) may have replaced it.
pub const MODULE_RECHECK: Duration = Duration::from_secs(30);

/// The module's protocol as a person reads it.
pub fn describe_module_protocol(version: Option<u32>) -> String {
    match version {
        Some(v) => format!("protocol {v}"),
        None => "no protocol version (a release from before versions)".into(),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The protocol version the module announces (None: it announces none).
    pub protocol: Option<u32>,
    /// The `gen` of the room map the module has in force ("" for none).
    pub gen: String,
    pub rooms: Vec<SnapshotRoom>,
    /// Problems the module reports about itself (e.g. its stored map is unreadable).
    pub problems: Vec<String>,
    /// Changes when Prosody restarts (and with it, every room is gone).
    pub boot: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRoom {
    pub name: String,
    pub persistent: bool,
    pub members_only: bool,
    pub occupants: Vec<SnapshotOccupant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotOccupant {
    pub jid: String,
    pub keyed: bool,
    pub owner: bool,
    /// The breakout room this occupant is in, if not the main room.
    pub breakout: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// Nobody is left after the last organizer went.
    LastOrganizerLeft,
    /// No organizer came back within the grace period.
    GraceExpired,
    /// Ended by the media centre's hotline ([`Input::EndSession`]); "forced" in metrics.
    Forced,
    /// Prosody or someone else destroyed the room.
    RoomDestroyed,
    /// An organizer ended the meeting for everyone ([`Event::EndedByOrganizer`]).
    EndedByOrganizer,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::LastOrganizerLeft => "last_organizer_left",
            EndReason::GraceExpired => "grace_expired",
            EndReason::Forced => "forced",
            EndReason::RoomDestroyed => "room_destroyed",
            EndReason::EndedByOrganizer => "ended_by_organizer",
        }
    }
}

/// The handle of a request the core issued: its answer comes back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// What the core asks of Prosody.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    PushMap(Arc<RoomMap>),
    Snapshot,
    /// Give `jid` (bare) the owner affiliation in `room`.
    GrantOwner {
        room: String,
        jid: String,
    },
    /// Take the owner affiliation from `jid` (bare) in `room`, back `to` what they held
    /// before: nobody but an organizer holds owner while an organizer is in.
    RevokeOwner {
        room: String,
        jid: String,
        to: RevokeTo,
    },
    /// Destroy the room: everyone inside is removed with `message`, and Prosody forgets
    /// its password, history, subject and affiliations.
    Reset {
        room: String,
        reason: EndReason,
        message: Option<String>,
        /// Breakout rooms (full JIDs) with people in them, emptied with the room.
        breakouts: Vec<String>,
    },
}

/// The affiliation raumwart gives back when it takes owner from someone.
///
/// Never below member in a members-only room (Jitsi's lobby): there, an affiliation
/// below member removes its holder from the room (status 321), and taking owner back
/// must never remove anyone from the lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevokeTo {
    Member,
    None,
}

impl RevokeTo {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeTo::Member => "member",
            RevokeTo::None => "none",
        }
    }
}

/// What a request is, without rooms or JIDs: fit for metric labels and log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    PushMap,
    Snapshot,
    GrantOwner,
    RevokeOwner,
    Reset,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::PushMap => "room map",
            RequestKind::Snapshot => "snapshot",
            RequestKind::GrantOwner => "owner grant",
            RequestKind::RevokeOwner => "owner revocation",
            RequestKind::Reset => "reset",
        }
    }
}

impl Request {
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::PushMap(_) => RequestKind::PushMap,
            Request::Snapshot => RequestKind::Snapshot,
            Request::GrantOwner { .. } => RequestKind::GrantOwner,
            Request::RevokeOwner { .. } => RequestKind::RevokeOwner,
            Request::Reset { .. } => RequestKind::Reset,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The component session is up: the core asks for the map push and a snapshot.
    Connected,
    /// The session is gone, and with it every answer still to come.
    Disconnected,
    /// The answer to a [`Request::Snapshot`].
    Snapshot {
        id: RequestId,
        snapshot: Snapshot,
    },
    Event(Event),
    /// The answer to request `id`. `ok` includes "already so" answers.
    Done {
        id: RequestId,
        ok: bool,
    },
    /// A deadline from [`Core::next_deadline`] has come.
    Tick,
    /// A new configuration: rooms may come and go, passwords and policy change.
    Reload(RoomMap, Policy),
    /// End the session in `room` now (the hotline's `end-session`).
    EndSession {
        room: String,
    },
}

/// What leaves the core, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Request { id: RequestId, request: Request },
    Note(Note),
}

/// Something worth a log line or a metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    SessionStarted {
        room: String,
        school: String,
    },
    GraceStarted {
        room: String,
        school: String,
    },
    /// A join with a wrong password (or none) was refused.
    WrongPassword {
        room: String,
        school: String,
    },
    SessionEnded {
        room: String,
        school: String,
        reason: EndReason,
        duration: Duration,
    },
    /// What the module reports about itself changed: these are its problems now (see
    /// [`Core::module_problems`]).
    ModuleProblems {
        problems: Vec<String>,
    },
    /// Focus made someone owner again after raumwart had taken owner back from its
    /// grant (jicofo with authentication on: `AuthenticationRoleManager`); raumwart
    /// leaves that person owner for the rest of the session instead of fighting focus.
    FocusInsisted {
        room: String,
        school: String,
    },
    /// The module speaks `module`, not [`MODULE_PROTOCOL`]: no map goes to it, and the
    /// core is not in sync until a module that speaks it answers.
    ModuleIncompatible {
        module: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// No session: the room is absent, or holds no person.
    Idle,
    /// A session with an organizer inside.
    Active,
    /// People inside, no organizer: the session ends at `deadline`.
    Grace { deadline: Instant },
    /// A reset is under way; `retry` is set when the last attempt failed.
    Ending {
        reason: EndReason,
        issued: u64,
        /// The reset under way: only its answer counts.
        request: RequestId,
        retry: Option<Instant>,
    },
}

impl Phase {
    /// The phase's name in status, metrics labels and the status table.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Active => "active",
            Phase::Grace { .. } => "grace",
            Phase::Ending { .. } => "ending",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Person {
    bare: String,
    organizer: bool,
    seq: u64,
    breakout: Option<String>,
}

/// A managed room with something to remember. A room in its fresh state is not kept (see
/// `Core::rooms`).
#[derive(Debug, Clone, PartialEq)]
struct Room {
    school: String,
    phase: Phase,
    people: HashMap<String, Person>,
    owners: HashSet<String>,
    session_start: Option<Instant>,
    persistent: bool,
    /// Bare JIDs that were organizers in this session: they stay organizers when they
    /// move between the main room and its breakout rooms.
    organizers: HashSet<String>,
    breakouts_active: bool,
    /// The grace deadline is only the switch window (the room was empty).
    switching: bool,
    /// Members-only (Jitsi's lobby is on): whoever holds less than member is removed.
    members_only: bool,
    /// What people made owner by someone else held before (bare JID → affiliation, as
    /// the module reported it), to give it back when raumwart takes owner back.
    before_owner: HashMap<String, String>,
    /// Bare JIDs raumwart took owner back from after focus made them owner, while they
    /// stay in the room (one who leaves is forgotten: jicofo elects anew).
    taken_from_focus: HashSet<String>,
    /// Bare JIDs focus made owner again after that: raumwart leaves their owner to focus
    /// (one take-back each, never a fight; see [`Note::FocusInsisted`]).
    left_to_focus: HashSet<String>,
}

impl Room {
    fn new(school: String) -> Room {
        Room {
            school,
            phase: Phase::Idle,
            people: HashMap::new(),
            owners: HashSet::new(),
            session_start: None,
            persistent: false,
            organizers: HashSet::new(),
            breakouts_active: false,
            switching: false,
            members_only: false,
            before_owner: HashMap::new(),
            taken_from_focus: HashSet::new(),
            left_to_focus: HashSet::new(),
        }
    }

    /// Nothing to remember: a room like this is one `Room::new` makes again when needed.
    fn is_fresh(&self) -> bool {
        *self == Room::new(self.school.clone())
    }

    /// What taking owner from `jid` leaves them: what they held before it, but at least
    /// member in a members-only room. Unknown (the module did not say, or raumwart
    /// restarted since) is member: harmless in an open room (a Jitsi guest's JID lives
    /// one visit, and a reset clears affiliations), and it removes nobody.
    fn revoke_to(&self, jid: &str) -> RevokeTo {
        match self.before_owner.get(jid).map(String::as_str) {
            Some("none") if !self.members_only => RevokeTo::None,
            _ => RevokeTo::Member,
        }
    }

    /// Takes owner back from `jid`.
    fn revoke(&mut self, room: &str, jid: String, out: &mut Outbox) {
        self.owners.remove(&jid);
        let to = self.revoke_to(&jid);
        out.request(Request::RevokeOwner {
            room: room.to_owned(),
            jid,
            to,
        });
    }

    /// Prosody destroyed the room and forgot its affiliations and settings with it; the
    /// session's organizers are no more (the answers to owner grants stop counting).
    fn gone(&mut self) {
        self.owners.clear();
        self.organizers.clear();
        self.persistent = false;
        self.members_only = false;
        self.before_owner.clear();
        self.taken_from_focus.clear();
        self.left_to_focus.clear();
    }

    fn has_organizer(&self) -> bool {
        self.people.values().any(|p| p.organizer)
    }

    /// Grants owner to `jid` unless it holds it already (or a grant is on its way).
    fn grant(&mut self, room: &str, jid: &str, out: &mut Outbox) {
        if self.owners.insert(jid.to_owned()) {
            out.request(Request::GrantOwner {
                room: room.to_owned(),
                jid: jid.to_owned(),
            });
        }
    }
}

/// A read-only view of one room, for status and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomStatus<'a> {
    pub name: &'a str,
    pub school: &'a str,
    pub phase: Phase,
    pub people: usize,
    pub organizer_present: bool,
    pub session_start: Option<Instant>,
    /// People focus keeps making owner, whom raumwart leaves owner (see
    /// [`Note::FocusInsisted`]).
    pub left_to_focus: usize,
}

const RESET_RETRY: Duration = Duration::from_secs(5);
/// How long an empty main room with breakout rooms open waits for people to show up in
/// the breakout rooms (clients leave the main room first, then join the breakout room).
pub const SWITCH_WINDOW: Duration = Duration::from_secs(3);

/// The moment a room in `phase` wants a tick: the end of its grace period, or its reset's
/// retry.
fn deadline(phase: Phase) -> Option<Instant> {
    match phase {
        Phase::Grace { deadline } => Some(deadline),
        Phase::Ending { retry, .. } => retry,
        _ => None,
    }
}

/// Which rooms an input may move into or out of a phase with a deadline.
enum Touched {
    None,
    Room(String),
    Timed,
    All,
}

/// What the core keeps of a request until its answer.
#[derive(Debug)]
enum Asked {
    PushMap,
    /// `after_push`: asked behind a map push, so it shows that map in force.
    Snapshot {
        after_push: bool,
    },
    Grant {
        room: String,
        jid: String,
    },
    Revoke,
    Reset {
        room: String,
    },
}

/// Requests and notes on their way out, and the requests still waiting for an answer.
#[derive(Debug, Default)]
struct Outbox {
    queue: VecDeque<Output>,
    next_id: u64,
    in_flight: HashMap<RequestId, Asked>,
}

impl Outbox {
    fn request(&mut self, request: Request) -> RequestId {
        // A snapshot asked right behind a map push shows the module with that map.
        let after_push = matches!(
            self.queue.back(),
            Some(Output::Request {
                request: Request::PushMap(_),
                ..
            })
        );
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let asked = match &request {
            Request::PushMap(_) => Asked::PushMap,
            Request::Snapshot => Asked::Snapshot { after_push },
            Request::GrantOwner { room, jid } => {
                // Only the latest grant's answer counts.
                self.in_flight.retain(
                    |_, a| !matches!(a, Asked::Grant { room: r, jid: j } if r == room && j == jid),
                );
                Asked::Grant {
                    room: room.clone(),
                    jid: jid.clone(),
                }
            }
            Request::RevokeOwner { .. } => Asked::Revoke,
            Request::Reset { room, .. } => Asked::Reset { room: room.clone() },
        };
        self.in_flight.insert(id, asked);
        self.queue.push_back(Output::Request { id, request });
        id
    }

    fn note(&mut self, note: Note) {
        self.queue.push_back(Output::Note(note));
    }

    /// The answers to grants in `room` stop counting: the room was reset, or re-read.
    fn forget_grants(&mut self, room: &str) {
        self.in_flight
            .retain(|_, a| !matches!(a, Asked::Grant { room: r, .. } if r == room));
    }
}

pub struct Core {
    map: Arc<RoomMap>,
    policy: Policy,
    /// The managed rooms (those of the map) that are not fresh: with people, a session,
    /// a deadline. A state's 100,000 rooms are mostly empty: they cost nothing here, and
    /// a room is made fresh as an input touches it (`handle`) and dropped once fresh again.
    rooms: BTreeMap<String, Room>,
    connected: bool,
    synced: bool,
    seq: u64,
    outbox: Outbox,
    /// What the module reported about itself in the last snapshot, and whether it
    /// refused the last map pushed.
    problems: Vec<String>,
    map_refused: bool,
    /// The module answered a snapshot in the protocol this core speaks, on this
    /// connection: only then does a map go to it.
    module_ok: bool,
    /// The module's protocol when it is not [`MODULE_PROTOCOL`], and when to ask again.
    mismatch: Option<(Option<u32>, Instant)>,
    /// The rooms whose phase has a deadline (a grace period, a reset to retry): all that
    /// `next_deadline` and a tick look at, so that an event costs the same with ten
    /// managed rooms or 100,000. Kept by `handle` for the rooms an input touches.
    timed: BTreeSet<String>,
    /// The Prosody run of the last snapshot, and when the connection to it was lost.
    boot: Option<String>,
    lost_at: Option<Instant>,
}

impl Core {
    pub fn new(map: RoomMap, policy: Policy) -> Core {
        Core {
            map: Arc::new(map),
            policy,
            rooms: BTreeMap::new(),
            connected: false,
            synced: false,
            seq: 0,
            outbox: Outbox::default(),
            problems: vec![],
            map_refused: false,
            module_ok: false,
            mismatch: None,
            timed: BTreeSet::new(),
            boot: None,
            lost_at: None,
        }
    }

    /// True once the module's protocol is known good, the map is pushed and a snapshot
    /// has been applied on this connection.
    pub fn synced(&self) -> bool {
        self.synced
    }

    pub fn map(&self) -> &Arc<RoomMap> {
        &self.map
    }

    pub fn is_managed(&self, room: &str) -> bool {
        self.map.rooms.contains_key(room)
    }

    /// The next request or note, oldest first. The shell drains it after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.queue.pop_front()
    }

    /// The module's problems, as health checks and metrics show them.
    pub fn module_problems(&self) -> Vec<&str> {
        let refused = self.map_refused.then_some("map-refused");
        let mismatch = self.mismatch.is_some().then_some("protocol-mismatch");
        self.problems
            .iter()
            .map(String::as_str)
            .chain(refused)
            .chain(mismatch)
            .collect()
    }

    /// The protocol the module announced, when this core does not speak it.
    pub fn module_mismatch(&self) -> Option<Option<u32>> {
        self.mismatch.map(|(module, _)| module)
    }

    /// Every managed room, in the order of their names.
    pub fn rooms(&self) -> impl Iterator<Item = RoomStatus<'_>> {
        self.map
            .rooms
            .iter()
            .map(|(name, entry)| match self.rooms.get(name) {
                Some(r) => RoomStatus {
                    name,
                    school: &r.school,
                    phase: r.phase,
                    people: r.people.len(),
                    organizer_present: r.has_organizer(),
                    session_start: r.session_start,
                    left_to_focus: r.left_to_focus.len(),
                },
                None => RoomStatus {
                    name,
                    school: &entry.school,
                    phase: Phase::Idle,
                    people: 0,
                    organizer_present: false,
                    session_start: None,
                    left_to_focus: 0,
                },
            })
    }

    /// The earliest moment the core wants an [`Input::Tick`].
    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.synced {
            return self
                .mismatch
                .filter(|_| self.connected)
                .map(|(_, recheck)| recheck);
        }
        self.timed
            .iter()
            .filter_map(|name| deadline(self.rooms.get(name)?.phase))
            .min()
    }

    /// Takes one input; what it causes waits in [`Core::poll_output`].
    pub fn handle(&mut self, now: Instant, input: Input) {
        // Taken out while the input is handled, so that room borrows do not bar it.
        let mut out = std::mem::take(&mut self.outbox);
        // What the input may move to or from a phase with a deadline: one room, the
        // rooms with deadlines (a tick), or every room (a snapshot, a reload).
        let touched = match &input {
            Input::Event(e) => Touched::Room(e.room().to_owned()),
            Input::EndSession { room } => Touched::Room(room.clone()),
            Input::Done { id, .. } => match out.in_flight.get(id) {
                Some(Asked::Grant { room, .. } | Asked::Reset { room }) => {
                    Touched::Room(room.clone())
                }
                _ => Touched::None,
            },
            Input::Tick => Touched::Timed,
            Input::Snapshot { .. } | Input::Reload(..) => Touched::All,
            Input::Connected | Input::Disconnected => Touched::None,
        };
        let timed = match touched {
            Touched::Timed => self.timed.iter().cloned().collect(),
            _ => vec![],
        };
        if let Touched::Room(name) = &touched {
            self.keep(name);
        }
        match input {
            Input::Connected => {
                // The snapshot first: it says which protocol the module speaks, and no
                // map goes to a module that may misread it.
                self.connected = true;
                self.synced = false;
                self.module_ok = false;
                out.request(Request::Snapshot);
            }
            Input::Disconnected => {
                if self.connected {
                    self.lost_at = Some(now);
                }
                self.connected = false;
                self.synced = false;
                self.module_ok = false;
                // Answers die with the connection, and requests not sent yet with them.
                out.in_flight.clear();
                out.queue.retain(|o| matches!(o, Output::Note(_)));
            }
            Input::Snapshot { id, snapshot } => {
                if let Some(&Asked::Snapshot { after_push }) = out.in_flight.get(&id) {
                    out.in_flight.remove(&id);
                    self.snapshot_answered(now, snapshot, after_push, &mut out);
                }
            }
            Input::Event(event) => self.apply_event(now, event, &mut out),
            Input::Done { id, ok } => {
                if let Some(asked) = out.in_flight.remove(&id) {
                    self.apply_done(now, id, asked, ok, &mut out);
                }
            }
            Input::Tick => self.tick(now, &mut out),
            Input::Reload(map, policy) => self.reload(map, policy, &mut out),
            Input::EndSession { room } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    if !r.people.is_empty() {
                        r.session_start.get_or_insert(now);
                    }
                    self.end(&room, EndReason::Forced, &mut out);
                }
            }
        }
        match touched {
            Touched::None => {}
            Touched::Room(name) => self.retime(name),
            Touched::Timed => timed.into_iter().for_each(|name| self.retime(name)),
            Touched::All => {
                self.rooms.retain(|_, r| !r.is_fresh());
                let rooms = self.rooms.iter();
                self.timed = rooms
                    .filter(|(_, r)| deadline(r.phase).is_some())
                    .map(|(name, _)| name.clone())
                    .collect();
            }
        }
        self.outbox = out;
    }

    /// A managed room an input is about to touch, kept (fresh) if it was not.
    fn keep(&mut self, name: &str) {
        if let (false, Some(entry)) = (self.rooms.contains_key(name), self.map.rooms.get(name)) {
            self.rooms
                .insert(name.to_owned(), Room::new(entry.school.to_string()));
        }
    }

    /// Keeps `timed` right for `name` after its phase may have changed, and drops the
    /// room if it is fresh again.
    fn retime(&mut self, name: String) {
        if self.rooms.get(&name).is_some_and(Room::is_fresh) {
            self.rooms.remove(&name);
        }
        if self
            .rooms
            .get(&name)
            .is_some_and(|r| deadline(r.phase).is_some())
        {
            self.timed.insert(name);
        } else {
            self.timed.remove(&name);
        }
    }

    /// A snapshot: from a module of another protocol it is only a report; the first of
    /// a connection brings the map push (and, if the module had another map or problems
    /// with it, a second snapshot behind it that shows the module with this one); then it
    /// is applied.
    fn snapshot_answered(
        &mut self,
        now: Instant,
        mut snapshot: Snapshot,
        after_push: bool,
        out: &mut Outbox,
    ) {
        let problems = std::mem::take(&mut snapshot.problems);
        // Another map in force, or problems with it, are what the push may change.
        let stale = snapshot.gen != self.map.gen || !problems.is_empty();
        if snapshot.protocol != Some(MODULE_PROTOCOL) {
            let known = self.module_mismatch() == Some(snapshot.protocol);
            self.synced = false;
            self.module_ok = false;
            self.module_report(out, |core| {
                core.problems = problems;
                core.mismatch = Some((snapshot.protocol, now + MODULE_RECHECK));
            });
            if !known {
                out.note(Note::ModuleIncompatible {
                    module: snapshot.protocol,
                });
            }
            return;
        }
        self.module_report(out, |core| {
            core.problems = problems;
            core.mismatch = None;
        });
        if !self.module_ok {
            self.module_ok = true;
            out.request(Request::PushMap(self.map.clone()));
            if stale && !after_push {
                out.request(Request::Snapshot);
                return;
            }
        }
        self.apply_snapshot(now, snapshot, out);
    }

    /// Records what the module reports about itself (`change`), with a note when its
    /// problems changed.
    fn module_report(&mut self, out: &mut Outbox, change: impl FnOnce(&mut Core)) {
        let problems = |core: &Core| -> Vec<String> {
            core.module_problems()
                .into_iter()
                .map(String::from)
                .collect()
        };
        let before = problems(self);
        change(self);
        let after = problems(self);
        if after != before {
            out.note(Note::ModuleProblems { problems: after });
        }
    }

    fn reload(&mut self, map: RoomMap, policy: Policy, out: &mut Outbox) {
        // Rooms that left the map are forgotten: the module stops managing them, and
        // their session, if any, runs out under Prosody's own rules.
        self.rooms.retain(|name, _| map.rooms.contains_key(name));
        for (name, room) in &mut self.rooms {
            room.school = map.rooms[name].school.to_string();
        }
        self.policy = policy;
        if *self.map != map {
            self.map = Arc::new(map);
            if self.module_ok {
                out.request(Request::PushMap(self.map.clone()));
            }
        }
    }

    fn apply_event(&mut self, now: Instant, event: Event, out: &mut Outbox) {
        // Until the snapshot is in, it tells the whole truth: the module sends what it
        // reported before it on the same stream, so the snapshot holds it already. Acted
        // on alone, such an event could end a session whose people the core has yet to
        // learn of.
        if !self.synced && !matches!(event, Event::WrongPassword { .. }) {
            return;
        }
        match event {
            Event::Joined {
                room,
                occupant,
                keyed,
            } => self.join(now, room, occupant, keyed, None, out),
            Event::JoinedBreakout {
                room,
                occupant,
                breakout,
            } => self.join(now, room, occupant, false, Some(breakout), out),
            Event::WrongPassword { room } => {
                if let Some(r) = self.rooms.get(&room) {
                    out.note(Note::WrongPassword {
                        room,
                        school: r.school.clone(),
                    });
                }
            }
            Event::BreakoutsActive { room } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.breakouts_active = true;
                }
            }
            Event::Left { room, occupant } => {
                let Some(r) = self.rooms.get_mut(&room) else {
                    return;
                };
                if let Some(gone) = r.people.remove(&occupant) {
                    // Whoever has left is a new member to jicofo's auto-owner: its next
                    // promotion of them is an election, not authentication's re-grant.
                    if !r.people.values().any(|p| p.bare == gone.bare) {
                        r.taken_from_focus.remove(&gone.bare);
                    }
                    self.settle(now, &room, out);
                }
            }
            Event::Destroyed { room } => {
                let Some(r) = self.rooms.get(&room) else {
                    return;
                };
                let reason = match r.phase {
                    Phase::Ending { reason, .. } => reason,
                    _ => EndReason::RoomDestroyed,
                };
                self.finish(now, &room, reason, u64::MAX, out);
            }
            Event::EndedByOrganizer { room } => self.ended_by_organizer(now, room, out),
            Event::Affiliation {
                room,
                jid,
                affiliation,
                actor,
                previous,
                members_only,
            } => {
                let Some(r) = self.rooms.get_mut(&room) else {
                    return;
                };
                if let Some(on) = members_only {
                    r.members_only = on;
                }
                let owner = affiliation == "owner";
                match previous {
                    Some(p) if owner && p != "owner" => {
                        r.before_owner.insert(jid.clone(), p);
                    }
                    Some(_) if owner => {}
                    _ => {
                        r.before_owner.remove(&jid);
                    }
                }
                self.affiliation(now, room, jid, owner, actor, out)
            }
            Event::MembersOnly { room, on } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.members_only = on;
                }
            }
        }
    }

    /// An organizer ended the meeting: the room is gone with everyone in it, and the rest
    /// of the session (breakout rooms, the lobby) goes with a reset like any other end's.
    /// A reset already under way keeps its reason; with no session known, nothing ended.
    fn ended_by_organizer(&mut self, now: Instant, room: String, out: &mut Outbox) {
        let Some(r) = self.rooms.get_mut(&room) else {
            return;
        };
        match r.phase {
            Phase::Ending { reason, .. } => self.finish(now, &room, reason, u64::MAX, out),
            _ if r.session_start.is_none() => {
                self.finish(now, &room, EndReason::EndedByOrganizer, u64::MAX, out);
            }
            _ => {
                r.people.retain(|_, p| p.breakout.is_some());
                r.gone();
                out.forget_grants(&room);
                self.end(&room, EndReason::EndedByOrganizer, out);
            }
        }
    }

    /// Owner follows organizer: an organizer's choice makes or unmakes an organizer;
    /// anyone else's choice is undone while it would let a non-organizer hold owner
    /// beside an organizer or in the grace period, or take owner from an organizer.
    fn affiliation(
        &mut self,
        now: Instant,
        room: String,
        jid: String,
        owner: bool,
        actor: String,
        out: &mut Outbox,
    ) {
        let services = &self.policy.service_jids;
        let Some(r) = self.rooms.get_mut(&room) else {
            return;
        };
        let by_organizer = r.people.values().any(|p| p.organizer && p.bare == actor);
        let by_focus = is_service(services, &actor);
        let organizer = r.organizers.contains(&jid);
        match (owner, by_organizer, organizer) {
            (true, true, _) => {
                r.owners.insert(jid.clone());
                r.organizers.insert(jid.clone());
                for p in r.people.values_mut().filter(|p| p.bare == jid) {
                    p.organizer = true;
                }
            }
            // Focus makes owner again whom raumwart took owner from: jicofo's
            // AuthenticationRoleManager, which grants at every presence change of its
            // own. Taking it again would be a fight without end: it stays.
            (true, false, false) if by_focus && r.taken_from_focus.contains(&jid) => {
                if r.left_to_focus.insert(jid.clone()) {
                    out.note(Note::FocusInsisted {
                        room: room.clone(),
                        school: r.school.clone(),
                    });
                }
                r.owners.insert(jid);
            }
            // Nobody but an organizer is moderator, the grace period included: jicofo's
            // auto-owner elects again only when the member it promoted leaves, so taking
            // owner back from that member starts no fight.
            (true, false, false)
                if (r.has_organizer() || matches!(r.phase, Phase::Grace { .. }))
                    && !is_service(services, &jid)
                    && !r.left_to_focus.contains(&jid) =>
            {
                if by_focus {
                    r.taken_from_focus.insert(jid.clone());
                }
                r.revoke(&room, jid, out);
            }
            (true, false, _) => {
                r.owners.insert(jid);
            }
            (false, true, true) => {
                r.owners.remove(&jid);
                r.organizers.remove(&jid);
                for p in r.people.values_mut().filter(|p| p.bare == jid) {
                    p.organizer = false;
                }
            }
            (false, false, true) if r.people.values().any(|p| p.bare == jid) => {
                r.owners.remove(&jid);
                r.grant(&room, &jid, out);
            }
            (false, _, _) => {
                r.owners.remove(&jid);
            }
        }
        self.settle(now, &room, out);
    }

    /// Someone entered the room, or (`breakout`) one of its breakout rooms.
    fn join(
        &mut self,
        now: Instant,
        room: String,
        occupant: String,
        keyed: bool,
        breakout: Option<String>,
        out: &mut Outbox,
    ) {
        if is_service(&self.policy.service_jids, &occupant) || !self.rooms.contains_key(&room) {
            return;
        }
        self.seq += 1;
        let seq = self.seq;
        let Some(r) = self.rooms.get_mut(&room) else {
            return;
        };
        r.breakouts_active |= breakout.is_some();
        let bare = bare(&occupant).to_owned();
        if keyed {
            r.organizers.insert(bare.clone());
            r.grant(&room, &bare, out);
        }
        let returning = !r.has_organizer() && r.organizers.contains(&bare);
        let person = Person {
            organizer: r.organizers.contains(&bare),
            bare,
            seq,
            breakout,
        };
        r.people.insert(occupant, person);
        if returning {
            // Owners focus made while no organizer was in give way, once.
            let services = &self.policy.service_jids;
            // Sorted: the same inputs issue the same requests under the same ids.
            let others: BTreeSet<String> = r
                .owners
                .iter()
                .filter(|o| !r.organizers.contains(*o) && !is_service(services, o))
                .filter(|o| !r.left_to_focus.contains(*o))
                .cloned()
                .collect();
            for jid in others {
                r.revoke(&room, jid, out);
            }
        }
        self.settle(now, &room, out);
    }

    /// Brings a room's phase in line with who is inside.
    fn settle(&mut self, now: Instant, name: &str, out: &mut Outbox) {
        let grace = self.policy.grace_period;
        let Some(r) = self.rooms.get_mut(name) else {
            return;
        };
        if matches!(r.phase, Phase::Ending { .. }) {
            return;
        }
        if r.people.is_empty() {
            if r.session_start.is_none() {
                return;
            }
            if r.breakouts_active {
                if !matches!(r.phase, Phase::Grace { .. }) {
                    r.phase = Phase::Grace {
                        deadline: now + SWITCH_WINDOW,
                    };
                    r.switching = true;
                }
            } else {
                self.end(name, EndReason::LastOrganizerLeft, out);
            }
            return;
        }
        if r.session_start.is_none() {
            r.session_start = Some(now);
            out.note(Note::SessionStarted {
                room: name.to_owned(),
                school: r.school.clone(),
            });
        }
        if r.switching {
            // People showed up again (in breakout rooms): the real grace period, counted
            // from when the main room emptied.
            r.switching = false;
            if let Phase::Grace { deadline } = r.phase {
                let emptied = deadline - SWITCH_WINDOW;
                r.phase = Phase::Grace {
                    deadline: emptied + grace.max(SWITCH_WINDOW),
                };
            }
        }
        if r.has_organizer() {
            r.phase = Phase::Active;
        } else if !matches!(r.phase, Phase::Grace { .. }) {
            // Moving into a breakout room looks like leaving for a moment.
            let grace = if r.breakouts_active {
                grace.max(SWITCH_WINDOW)
            } else {
                grace
            };
            if grace.is_zero() {
                self.end(name, EndReason::GraceExpired, out);
            } else {
                out.note(Note::GraceStarted {
                    room: name.to_owned(),
                    school: r.school.clone(),
                });
                r.phase = Phase::Grace {
                    deadline: now + grace,
                };
            }
        }
    }

    fn end(&mut self, name: &str, reason: EndReason, out: &mut Outbox) {
        let Some(r) = self.rooms.get_mut(name) else {
            return;
        };
        let message = (!r.people.is_empty()).then(|| self.policy.end_message.clone());
        let breakouts: BTreeSet<String> = r
            .people
            .values()
            .filter_map(|p| p.breakout.clone())
            .collect();
        let request = out.request(Request::Reset {
            room: name.to_owned(),
            reason,
            message,
            breakouts: breakouts.into_iter().collect(),
        });
        r.phase = Phase::Ending {
            reason,
            issued: self.seq,
            request,
            retry: None,
        };
    }

    /// The room is reset (or gone). People who entered after the reset was issued
    /// (`issued`) are a new session in a new room and stay.
    fn finish(
        &mut self,
        now: Instant,
        name: &str,
        reason: EndReason,
        issued: u64,
        out: &mut Outbox,
    ) {
        let Some(r) = self.rooms.get_mut(name) else {
            return;
        };
        if let Some(start) = r.session_start.take() {
            out.note(Note::SessionEnded {
                room: name.to_owned(),
                school: r.school.clone(),
                reason,
                duration: now.saturating_duration_since(start),
            });
        }
        r.people.retain(|_, p| p.seq > issued);
        r.gone();
        out.forget_grants(name);
        r.breakouts_active = false;
        r.switching = false;
        r.phase = Phase::Idle;
        if !r.people.is_empty() {
            let organizers: BTreeSet<String> = r
                .people
                .values()
                .filter(|p| p.organizer)
                .map(|p| p.bare.clone())
                .collect();
            for jid in organizers {
                r.grant(name, &jid, out);
                r.organizers.insert(jid);
            }
            self.settle(now, name, out);
        }
    }

    fn apply_done(
        &mut self,
        now: Instant,
        id: RequestId,
        asked: Asked,
        ok: bool,
        out: &mut Outbox,
    ) {
        match asked {
            Asked::PushMap => self.module_report(out, |core| core.map_refused = !ok),
            // A failed revocation is not retried: the next organizer change decides again.
            Asked::Snapshot { .. } | Asked::Revoke => {}
            Asked::Grant { room, jid } => {
                if let (false, Some(r)) = (ok, self.rooms.get_mut(&room)) {
                    r.owners.remove(&jid);
                }
            }
            Asked::Reset { room } => {
                let Some(r) = self.rooms.get_mut(&room) else {
                    return;
                };
                // A reset finished meanwhile (by the module's destroy event), or issued
                // again, leaves this answer nothing to decide.
                let Phase::Ending {
                    reason,
                    issued,
                    request,
                    ..
                } = r.phase
                else {
                    return;
                };
                if request != id {
                    return;
                }
                if ok {
                    self.finish(now, &room, reason, issued, out);
                } else {
                    r.phase = Phase::Ending {
                        reason,
                        issued,
                        request,
                        retry: Some(now + RESET_RETRY),
                    };
                }
            }
        }
    }

    fn tick(&mut self, now: Instant, out: &mut Outbox) {
        if let Some((module, recheck)) = self.mismatch {
            let asking = out
                .in_flight
                .values()
                .any(|a| matches!(a, Asked::Snapshot { .. }));
            if self.connected && recheck <= now {
                // The next question at its own time, even while an answer is awaited.
                self.mismatch = Some((module, now + MODULE_RECHECK));
                if !asking {
                    out.request(Request::Snapshot);
                }
            }
        }
        if !self.synced {
            return;
        }
        let due: Vec<(String, Phase)> = self
            .timed
            .iter()
            .filter_map(|name| Some((name, self.rooms.get(name)?.phase)))
            .filter(|(_, phase)| deadline(*phase).is_some_and(|d| d <= now))
            .map(|(name, phase)| (name.clone(), phase))
            .collect();
        for (name, phase) in due {
            let empty = self.rooms.get(&name).is_some_and(|r| r.people.is_empty());
            match phase {
                Phase::Grace { .. } if empty => self.end(&name, EndReason::LastOrganizerLeft, out),
                Phase::Grace { .. } => self.end(&name, EndReason::GraceExpired, out),
                Phase::Ending { reason, .. } => self.end(&name, reason, out),
                _ => {}
            }
        }
    }

    fn apply_snapshot(&mut self, now: Instant, snapshot: Snapshot, out: &mut Outbox) {
        // Prosody restarted: its rooms are gone, and the people come back (Jitsi's
        // clients reload). A session goes on for its grace period, counted from when
        // the link was lost; the module lets its class password in meanwhile.
        let restarted = self.boot.as_ref().is_some_and(|b| *b != snapshot.boot);
        self.boot = Some(snapshot.boot);
        let resume_until = self.lost_at.take().unwrap_or(now) + self.policy.grace_period;
        let mut present: HashMap<String, SnapshotRoom> = snapshot
            .rooms
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        // The rooms remembered and the managed ones Prosody has.
        for name in present.keys() {
            self.keep(name);
        }
        let names: Vec<String> = self.rooms.keys().cloned().collect();
        for name in names {
            let seen = present.remove(&name);
            let r = self.rooms.get_mut(&name).expect("listed above");
            let had_session = r.session_start.is_some();
            // Requests in flight died with the old connection: decide afresh.
            let ending = match r.phase {
                Phase::Ending { reason, .. } => Some(reason),
                _ => None,
            };
            let grace = match r.phase {
                Phase::Grace { deadline } if !r.switching => Some(deadline),
                _ => None,
            };
            r.phase = Phase::Idle;
            r.switching = false;
            let empty = !seen.as_ref().is_some_and(|s| {
                s.occupants
                    .iter()
                    .any(|o| !is_service(&self.policy.service_jids, &o.jid))
            });
            if restarted && had_session && ending.is_none() && empty {
                let deadline = grace.unwrap_or(resume_until).min(resume_until);
                r.people.clear();
                r.owners.clear();
                out.forget_grants(&name);
                r.breakouts_active = false;
                r.persistent = false;
                r.members_only = false;
                r.before_owner.clear();
                if deadline > now {
                    r.phase = Phase::Grace { deadline };
                } else {
                    self.end(&name, EndReason::GraceExpired, out);
                }
                continue;
            }
            let Some(seen) = seen else {
                if had_session {
                    let reason = ending.unwrap_or(EndReason::RoomDestroyed);
                    self.finish(now, &name, reason, u64::MAX, out);
                }
                continue;
            };
            let old = std::mem::take(&mut r.people);
            r.persistent = seen.persistent;
            r.members_only = seen.members_only;
            // Affiliations may have changed unseen: unknown is member, which removes nobody.
            r.before_owner.clear();
            r.owners.clear();
            out.forget_grants(&name);
            r.breakouts_active = seen.occupants.iter().any(|o| o.breakout.is_some());
            // Organizers first, so that the occupants' order does not matter.
            for o in seen.occupants.iter().filter(|o| o.keyed) {
                r.organizers.insert(bare(&o.jid).to_owned());
            }
            for o in seen.occupants {
                if is_service(&self.policy.service_jids, &o.jid) {
                    continue;
                }
                let bare = bare(&o.jid).to_owned();
                if o.owner {
                    r.owners.insert(bare.clone());
                }
                let organizer = o.keyed
                    || r.organizers.contains(&bare)
                    || old.get(&o.jid).is_some_and(|p| p.organizer);
                if organizer {
                    r.organizers.insert(bare.clone());
                }
                self.seq += 1;
                let person = Person {
                    bare,
                    organizer,
                    seq: self.seq,
                    breakout: o.breakout,
                };
                r.people.insert(o.jid, person);
            }
            if r.people.is_empty() {
                // A room that outlived its session (it is persistent, or we knew of a
                // session) is reset; a fresh room that focus just created is left be.
                if r.persistent || had_session {
                    r.session_start.get_or_insert(now);
                    let reason = ending.unwrap_or(EndReason::LastOrganizerLeft);
                    self.end(&name, reason, out);
                }
                continue;
            }
            let missing: BTreeSet<String> = r
                .people
                .values()
                .filter(|p| p.organizer && !r.owners.contains(&p.bare))
                .map(|p| p.bare.clone())
                .collect();
            for jid in missing {
                r.grant(&name, &jid, out);
            }
            let longest = if r.breakouts_active {
                self.policy.grace_period.max(SWITCH_WINDOW)
            } else {
                self.policy.grace_period
            };
            if let (Some(deadline), false) = (grace, r.has_organizer() || longest.is_zero()) {
                // The grace period keeps its deadline across a reconnect.
                r.phase = Phase::Grace {
                    deadline: deadline.min(now + longest),
                };
            }
            match ending {
                Some(reason) => self.end(&name, reason, out),
                None => self.settle(now, &name, out),
            }
        }
        self.synced = self.connected;
        if self.synced {
            // Deadlines that passed while away are due now.
            self.tick(now, out);
        }
    }
}

fn is_service(services: &[String], jid: &str) -> bool {
    let bare = bare(jid).to_lowercase();
    let domain = bare.rsplit('@').next().unwrap_or(&bare);
    services.iter().any(|s| *s == bare || *s == domain)
}

/// The bare part of a JID given as text.
pub fn bare(jid: &str) -> &str {
    jid.split_once('/').map_or(jid, |(b, _)| b)
}

#[cfg(test)]
mod tests;
