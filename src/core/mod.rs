//! The decision core: a pure state machine over the managed rooms.
//!
//! No sockets, no clock: every input comes with `now`, every effect leaves as an
//! [`Action`]. The shell feeds it parsed events and runs its actions; tests feed it
//! virtual time.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    pub school: String,
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
            .flat_map(|(n, e)| [n.as_str(), e.school.as_str()])
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
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
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
    /// Ended by the media centre's hotline.
    Forced,
    /// Prosody or someone else destroyed the room.
    RoomDestroyed,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::LastOrganizerLeft => "last_organizer_left",
            EndReason::GraceExpired => "grace_expired",
            EndReason::Forced => "forced",
            EndReason::RoomDestroyed => "room_destroyed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    GrantOwner,
    RevokeOwner,
    Reset,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The component session is up: the core asks for the map push and a snapshot.
    Connected,
    Disconnected,
    Snapshot(Snapshot),
    Event(Event),
    /// The outcome of an action's request. `ok` includes "already so" answers.
    Done {
        room: String,
        request: Request,
        jid: Option<String>,
        ok: bool,
    },
    /// A deadline from [`Core::next_deadline`] has come.
    Tick,
    /// A new configuration: rooms may come and go, passwords and policy change.
    Reload(RoomMap, Policy),
    /// End the session in `room` now (the hotline's `end-session`).
    Force {
        room: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    PushMap(Arc<RoomMap>),
    RequestSnapshot,
    /// Give `jid` (bare) the owner affiliation in `room`.
    GrantOwner {
        room: String,
        jid: String,
    },
    /// Take the owner affiliation from `jid` (bare) in `room`: nobody but an organizer
    /// holds owner while an organizer is in.
    RevokeOwner {
        room: String,
        jid: String,
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

/// Something worth a log line or a metric; drained with [`Core::poll_note`].
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
        retry: Option<Instant>,
    },
}

#[derive(Debug, Clone)]
struct Person {
    bare: String,
    organizer: bool,
    seq: u64,
    breakout: Option<String>,
}

#[derive(Debug, Clone)]
struct Room {
    school: String,
    phase: Phase,
    people: HashMap<String, Person>,
    owners: HashSet<String>,
    /// Owner grants in flight: only their answers count.
    granting: HashSet<String>,
    session_start: Option<Instant>,
    persistent: bool,
    /// Bare JIDs that were organizers in this session: they stay organizers when they
    /// move between the main room and its breakout rooms.
    organizers: HashSet<String>,
    breakouts_active: bool,
    /// The grace deadline is only the switch window (the room was empty).
    switching: bool,
}

impl Room {
    fn new(school: String) -> Room {
        Room {
            school,
            phase: Phase::Idle,
            people: HashMap::new(),
            owners: HashSet::new(),
            granting: HashSet::new(),
            session_start: None,
            persistent: false,
            organizers: HashSet::new(),
            breakouts_active: false,
            switching: false,
        }
    }

    fn has_organizer(&self) -> bool {
        self.people.values().any(|p| p.organizer)
    }

    /// Grants owner to `jid` unless it holds it already (or a grant is on its way).
    fn grant(&mut self, room: &str, jid: &str, out: &mut Vec<Action>) {
        if self.owners.insert(jid.to_owned()) {
            self.granting.insert(jid.to_owned());
            out.push(Action::GrantOwner {
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
}

const RESET_RETRY: Duration = Duration::from_secs(5);
/// How long an empty main room with breakout rooms open waits for people to show up in
/// the breakout rooms (clients leave the main room first, then join the breakout room).
pub const SWITCH_WINDOW: Duration = Duration::from_secs(3);

pub struct Core {
    map: Arc<RoomMap>,
    policy: Policy,
    rooms: BTreeMap<String, Room>,
    connected: bool,
    synced: bool,
    seq: u64,
    notes: VecDeque<Note>,
    /// The Prosody run of the last snapshot, and when the connection to it was lost.
    boot: Option<String>,
    lost_at: Option<Instant>,
}

impl Core {
    pub fn new(map: RoomMap, policy: Policy) -> Core {
        let rooms = map
            .rooms
            .iter()
            .map(|(name, e)| (name.clone(), Room::new(e.school.clone())))
            .collect();
        Core {
            map: Arc::new(map),
            policy,
            rooms,
            connected: false,
            synced: false,
            seq: 0,
            notes: VecDeque::new(),
            boot: None,
            lost_at: None,
        }
    }

    /// True once the map is pushed and a snapshot has been applied on this connection.
    pub fn synced(&self) -> bool {
        self.synced
    }

    pub fn map(&self) -> &Arc<RoomMap> {
        &self.map
    }

    pub fn is_managed(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    /// The next note about what happened, oldest first.
    pub fn poll_note(&mut self) -> Option<Note> {
        self.notes.pop_front()
    }

    pub fn rooms(&self) -> impl Iterator<Item = RoomStatus<'_>> {
        self.rooms.iter().map(|(name, r)| RoomStatus {
            name,
            school: &r.school,
            phase: r.phase,
            people: r.people.len(),
            organizer_present: r.has_organizer(),
            session_start: r.session_start,
        })
    }

    /// The earliest moment the core wants an [`Input::Tick`].
    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.synced {
            return None;
        }
        self.rooms
            .values()
            .filter_map(|r| match r.phase {
                Phase::Grace { deadline } => Some(deadline),
                Phase::Ending { retry, .. } => retry,
                _ => None,
            })
            .min()
    }

    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = vec![];
        match input {
            Input::Connected => {
                self.connected = true;
                self.synced = false;
                out.push(Action::PushMap(self.map.clone()));
                out.push(Action::RequestSnapshot);
            }
            Input::Disconnected => {
                if self.connected {
                    self.lost_at = Some(now);
                }
                self.connected = false;
                self.synced = false;
            }
            Input::Snapshot(snapshot) => self.apply_snapshot(now, snapshot, &mut out),
            Input::Event(event) => self.apply_event(now, event, &mut out),
            Input::Done {
                room,
                request,
                jid,
                ok,
            } => self.apply_done(now, &room, request, jid, ok, &mut out),
            Input::Tick => self.tick(now, &mut out),
            Input::Reload(map, policy) => self.reload(map, policy, &mut out),
            Input::Force { room } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    if !r.people.is_empty() {
                        r.session_start.get_or_insert(now);
                    }
                    self.end(&room, EndReason::Forced, &mut out);
                }
            }
        }
        out
    }

    fn reload(&mut self, map: RoomMap, policy: Policy, out: &mut Vec<Action>) {
        // Rooms that left the map are forgotten: the module stops managing them, and
        // their session, if any, runs out under Prosody's own rules.
        self.rooms.retain(|name, _| map.rooms.contains_key(name));
        for (name, entry) in &map.rooms {
            let room = self
                .rooms
                .entry(name.clone())
                .or_insert_with(|| Room::new(entry.school.clone()));
            room.school = entry.school.clone();
        }
        self.policy = policy;
        if *self.map != map {
            self.map = Arc::new(map);
            if self.connected {
                out.push(Action::PushMap(self.map.clone()));
            }
        }
    }

    fn apply_event(&mut self, now: Instant, event: Event, out: &mut Vec<Action>) {
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
                    self.notes.push_back(Note::WrongPassword {
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
                if r.people.remove(&occupant).is_some() {
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
            Event::Affiliation {
                room,
                jid,
                affiliation,
                actor,
            } => self.affiliation(now, room, jid, affiliation == "owner", actor, out),
        }
    }

    /// Owner follows organizer: an organizer's choice makes or unmakes an organizer;
    /// anyone else's choice is undone while it would let a non-organizer hold owner
    /// beside an organizer, or take owner from an organizer. Focus's automatic choice
    /// of a student while no organizer is in is left alone (never fight focus).
    fn affiliation(
        &mut self,
        now: Instant,
        room: String,
        jid: String,
        owner: bool,
        actor: String,
        out: &mut Vec<Action>,
    ) {
        let services = &self.policy.service_jids;
        let Some(r) = self.rooms.get_mut(&room) else {
            return;
        };
        let by_organizer = r.people.values().any(|p| p.organizer && p.bare == actor);
        let organizer = r.organizers.contains(&jid);
        match (owner, by_organizer, organizer) {
            (true, true, _) => {
                r.owners.insert(jid.clone());
                r.organizers.insert(jid.clone());
                for p in r.people.values_mut().filter(|p| p.bare == jid) {
                    p.organizer = true;
                }
            }
            (true, false, false) if r.has_organizer() && !is_service(services, &jid) => {
                r.owners.remove(&jid);
                out.push(Action::RevokeOwner {
                    room: room.clone(),
                    jid,
                });
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
        out: &mut Vec<Action>,
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
            let others: Vec<String> = r
                .owners
                .iter()
                .filter(|o| !r.organizers.contains(*o) && !is_service(services, o))
                .cloned()
                .collect();
            for jid in others {
                r.owners.remove(&jid);
                out.push(Action::RevokeOwner {
                    room: room.clone(),
                    jid,
                });
            }
        }
        self.settle(now, &room, out);
    }

    /// Brings a room's phase in line with who is inside.
    fn settle(&mut self, now: Instant, name: &str, out: &mut Vec<Action>) {
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
            self.notes.push_back(Note::SessionStarted {
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
                self.notes.push_back(Note::GraceStarted {
                    room: name.to_owned(),
                    school: r.school.clone(),
                });
                r.phase = Phase::Grace {
                    deadline: now + grace,
                };
            }
        }
    }

    fn end(&mut self, name: &str, reason: EndReason, out: &mut Vec<Action>) {
        let Some(r) = self.rooms.get_mut(name) else {
            return;
        };
        r.phase = Phase::Ending {
            reason,
            issued: self.seq,
            retry: None,
        };
        let message = (!r.people.is_empty()).then(|| self.policy.end_message.clone());
        let breakouts: BTreeSet<String> = r
            .people
            .values()
            .filter_map(|p| p.breakout.clone())
            .collect();
        out.push(Action::Reset {
            room: name.to_owned(),
            reason,
            message,
            breakouts: breakouts.into_iter().collect(),
        });
    }

    /// The room is reset (or gone). People who entered after the reset was issued
    /// (`issued`) are a new session in a new room and stay.
    fn finish(
        &mut self,
        now: Instant,
        name: &str,
        reason: EndReason,
        issued: u64,
        out: &mut Vec<Action>,
    ) {
        let Some(r) = self.rooms.get_mut(name) else {
            return;
        };
        if let Some(start) = r.session_start.take() {
            self.notes.push_back(Note::SessionEnded {
                room: name.to_owned(),
                school: r.school.clone(),
                reason,
                duration: now.saturating_duration_since(start),
            });
        }
        r.people.retain(|_, p| p.seq > issued);
        r.owners.clear();
        r.granting.clear();
        r.organizers.clear();
        r.breakouts_active = false;
        r.persistent = false;
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
        name: &str,
        request: Request,
        jid: Option<String>,
        ok: bool,
        out: &mut Vec<Action>,
    ) {
        let Some(r) = self.rooms.get_mut(name) else {
            return;
        };
        match request {
            Request::GrantOwner => {
                let Some(jid) = jid else { return };
                // Only an answer to a grant in flight counts (a late one, for a room
                // reset since, does not).
                if r.granting.remove(&jid) && !ok {
                    r.owners.remove(&jid);
                }
            }
            // A failed revocation is not retried: the next organizer change decides again.
            Request::RevokeOwner => {}
            Request::Reset => {
                let Phase::Ending { reason, issued, .. } = r.phase else {
                    return; // already finished by the module's destroy event
                };
                if ok {
                    self.finish(now, name, reason, issued, out);
                } else {
                    r.phase = Phase::Ending {
                        reason,
                        issued,
                        retry: Some(now + RESET_RETRY),
                    };
                }
            }
        }
    }

    fn tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.synced {
            return;
        }
        let due: Vec<(String, Phase)> = self
            .rooms
            .iter()
            .filter(|(_, r)| match r.phase {
                Phase::Grace { deadline } => deadline <= now,
                Phase::Ending { retry, .. } => retry.is_some_and(|t| t <= now),
                _ => false,
            })
            .map(|(n, r)| (n.clone(), r.phase))
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

    fn apply_snapshot(&mut self, now: Instant, snapshot: Snapshot, out: &mut Vec<Action>) {
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
                r.granting.clear();
                r.breakouts_active = false;
                r.persistent = false;
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
            r.owners.clear();
            r.granting.clear();
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
            let missing: Vec<String> = r
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
