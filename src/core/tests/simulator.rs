//! A simulated Prosody that the core's view is checked against.

use super::*;

#[derive(Debug, Clone)]
pub(super) enum Op {
    Join {
        room: usize,
        who: usize,
        keyed: bool,
    },
    Leave {
        room: usize,
        who: usize,
    },
    /// Destroyed by someone else (admin, Prosody).
    Destroy {
        room: usize,
    },
    /// An organizer inside ends the meeting for everyone (the module lets nobody else).
    End {
        room: usize,
    },
    Persist {
        room: usize,
    },
    Affiliate {
        room: usize,
        target: usize,
        owner: bool,
        actor: usize,
    },
    /// Jitsi's lobby on or off, as lib-jitsi-meet does it: everyone inside without an
    /// affiliation is made member first, then members-only is submitted.
    Lobby {
        room: usize,
        on: bool,
    },
    /// Prosody answers the oldest request.
    Serve {
        fail: bool,
    },
    Wait {
        ms: u64,
    },
    Tick {
        ms: u64,
    },
    TickAtDeadline,
    Disconnect,
    Connect,
    Restart,
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    let room = prop_oneof![4 => Just(0usize), 3 => Just(1usize), 1 => Just(2usize)];
    // Half the picks are among those inside (see `Sim::pick`).
    let who = 0..2 * BARES.len();
    prop_oneof![
        8 => (room.clone(), 0..BARES.len(), any::<bool>())
            .prop_map(|(room, who, keyed)| Op::Join { room, who, keyed }),
        6 => (room.clone(), who.clone()).prop_map(|(room, who)| Op::Leave { room, who }),
        1 => room.clone().prop_map(|room| Op::Destroy { room }),
        1 => (0..2usize).prop_map(|room| Op::End { room }),
        1 => (0..2usize).prop_map(|room| Op::Persist { room }),
        3 => (room, who.clone(), any::<bool>(), who).prop_map(|(room, target, owner, actor)| {
            Op::Affiliate { room, target, owner, actor }
        }),
        1 => (0..2usize, any::<bool>()).prop_map(|(room, on)| Op::Lobby { room, on }),
        6 => prop::bool::weighted(0.25).prop_map(|fail| Op::Serve { fail }),
        2 => (0..120_000u64).prop_map(|ms| Op::Wait { ms }),
        3 => (0..120_000u64).prop_map(|ms| Op::Tick { ms }),
        3 => Just(Op::TickAtDeadline),
        1 => Just(Op::Disconnect),
        1 => Just(Op::Connect),
        1 => Just(Op::Restart),
    ]
}

#[derive(Debug, Clone)]
pub(super) struct Session {
    pub(super) keyed: bool,
    /// Organizer as far as the core can know.
    pub(super) organizer: bool,
}

#[derive(Debug, Clone, Default)]
pub(super) struct WorldRoom {
    pub(super) occupants: BTreeMap<String, Session>,
    pub(super) owners: BTreeSet<String>,
    pub(super) persistent: bool,
    /// Bare JIDs that are organizers in this session, as far as the core can know:
    /// every session of theirs is an organizer (main room and breakout rooms alike).
    pub(super) organizers: BTreeSet<String>,
    /// Members-only (the lobby), and the bare JIDs that held member (before any owner).
    pub(super) members_only: bool,
    pub(super) members: BTreeSet<String>,
}

impl WorldRoom {
    pub(super) fn exists(&self) -> bool {
        self.persistent || !self.occupants.is_empty()
    }
}

#[derive(Debug)]
pub(super) enum Pending {
    Grant { room: usize, jid: String },
    Reset { room: usize },
}

pub(super) struct Sim {
    pub(super) core: Core,
    pub(super) check: Checker,
    pub(super) grace: Duration,
    pub(super) now: Instant,
    pub(super) connected: bool,
    pub(super) world: [WorldRoom; 2],
    /// Requests Prosody has yet to answer, oldest first.
    pub(super) pending: VecDeque<(RequestId, Pending)>,
    pub(super) resource: u64,
}

impl Sim {
    pub(super) fn new(grace: Duration) -> Sim {
        Sim {
            core: Core::new(room_map(), policy(grace)),
            check: Checker::new(grace),
            grace,
            now: Instant::now(),
            connected: false,
            world: Default::default(),
            pending: VecDeque::new(),
            resource: 0,
        }
    }

    pub(super) fn feed(
        &mut self,
        input: Input,
    ) -> Result<Vec<(RequestId, Request)>, TestCaseError> {
        let out = self.check.step(&mut self.core, self.now, input)?;
        for (id, action) in &out {
            match action {
                Request::GrantOwner { room, jid } => {
                    let r = managed(room).expect("checked");
                    let inside = self.world[r].occupants.keys().any(|o| bare(o) == jid);
                    prop_assert!(inside, "grant to {} who is not inside: {:?}", jid, out);
                    let grant = Pending::Grant {
                        room: r,
                        jid: jid.clone(),
                    };
                    self.pending.push_back((*id, grant));
                }
                Request::Reset { room, .. } => {
                    let r = managed(room).expect("checked");
                    self.pending.push_back((*id, Pending::Reset { room: r }));
                }
                // Taking owner back never removes anyone: in a members-only room, less
                // than member would (status 321); and whoever held member keeps it.
                Request::RevokeOwner {
                    room,
                    jid,
                    to: RevokeTo::None,
                } => {
                    let w = &self.world[managed(room).expect("checked")];
                    prop_assert!(
                        !w.members_only,
                        "owner taken back to none from {} in a members-only room: {:?}",
                        jid,
                        out
                    );
                    prop_assert!(
                        !w.members.contains(jid),
                        "{} held member, owner taken back to none: {:?}",
                        jid,
                        out
                    );
                }
                _ => {}
            }
        }
        if self.core.synced() {
            for (r, name) in [MATHE, PHYSIK].into_iter().enumerate() {
                let s = status_of(&self.core, name);
                let people: Vec<&Session> = self.world[r]
                    .occupants
                    .iter()
                    .filter(|(jid, _)| !is_service_jid(jid))
                    .map(|(_, s)| s)
                    .collect();
                prop_assert_eq!(
                    s.people,
                    people.len(),
                    "people in {}: {:?}",
                    name,
                    self.world[r]
                );
                prop_assert_eq!(
                    s.organizer,
                    people.iter().any(|p| p.organizer),
                    "organizer in {}: {:?}",
                    name,
                    self.world[r]
                );
                // A reset under way is either asked for or waits for its retry.
                if let Phase::Ending { retry: None, .. } = s.phase {
                    let asked = self
                        .pending
                        .iter()
                        .any(|(_, p)| matches!(p, Pending::Reset { room } if *room == r));
                    prop_assert!(asked, "{} is stuck ending: {:?}", name, s);
                }
            }
        }
        Ok(out)
    }

    pub(super) fn event(
        &mut self,
        event: Event,
    ) -> Result<Vec<(RequestId, Request)>, TestCaseError> {
        if self.connected {
            self.feed(Input::Event(event))
        } else {
            Ok(vec![])
        }
    }

    pub(super) fn sync(&mut self) -> Result<(), TestCaseError> {
        self.pending.clear();
        self.connected = true;
        // What the core learns from the snapshot: who entered keyed; and it still knows
        // whom it knew as organizer. Any session of an organizer is one.
        for w in &mut self.world {
            if !w.exists() {
                w.organizers.clear();
            }
            for (jid, s) in &w.occupants {
                if (s.keyed || s.organizer) && !is_service_jid(jid) {
                    w.organizers.insert(bare(jid).to_owned());
                }
            }
            for (jid, s) in w.occupants.iter_mut() {
                s.organizer = w.organizers.contains(bare(jid));
            }
        }
        let out = self.feed(Input::Connected)?;
        prop_assert_eq!(out.len(), 1);
        let id = out[0].0;
        let rooms = (0..2)
            .filter(|&r| self.world[r].exists())
            .map(|r| {
                let w = &self.world[r];
                SnapshotRoom {
                    name: ROOMS[r].into(),
                    persistent: w.persistent,
                    members_only: w.members_only,
                    occupants: w
                        .occupants
                        .iter()
                        .map(|(jid, s)| occupant(jid, s.keyed, w.owners.contains(bare(jid))))
                        .collect(),
                }
            })
            .collect();
        self.feed(Input::Snapshot {
            id,
            snapshot: snapshot(rooms),
        })?;
        // Every organizer inside is owner, or about to be.
        for r in 0..2 {
            for (jid, _) in self.world[r]
                .occupants
                .iter()
                .filter(|(jid, s)| s.organizer && !is_service_jid(jid))
            {
                prop_assert!(
                    self.owner_or_asked(r, bare(jid)),
                    "{} not owner after sync",
                    jid
                );
            }
        }
        Ok(())
    }

    /// A bare JID: `BARES[i]` for small `i`, else the bare JID of someone inside.
    pub(super) fn pick(&self, room: usize, i: usize) -> String {
        let inside = &self.world[room].occupants;
        match inside
            .keys()
            .nth(i.saturating_sub(BARES.len()) % inside.len().max(1))
        {
            Some(jid) if i >= BARES.len() => bare(jid).to_owned(),
            _ => BARES[i % BARES.len()].to_owned(),
        }
    }

    pub(super) fn owner_or_asked(&self, r: usize, jid: &str) -> bool {
        self.world[r].owners.contains(jid)
            || self.pending.iter().any(
                |(_, p)| matches!(p, Pending::Grant { room, jid: j } if *room == r && j == jid),
            )
    }

    /// Prosody drops an empty room that is not persistent.
    pub(super) fn gone(&mut self, r: usize) -> Result<(), TestCaseError> {
        self.vanish(
            r,
            Event::Destroyed {
                room: ROOMS[r].into(),
            },
        )
    }

    /// The room is destroyed, and the module reports it with `event`.
    pub(super) fn vanish(&mut self, r: usize, event: Event) -> Result<(), TestCaseError> {
        // The core forgets the session's organizers when it hears of the destroy; one
        // it misses (disconnected) leaves them in place if the room is back by the
        // re-sync (see the ignored `organizers_of_a_room_renewed_while_away_are_forgotten`).
        let organizers = std::mem::take(&mut self.world[r].organizers);
        self.world[r] = WorldRoom::default();
        if !self.connected {
            self.world[r].organizers = organizers;
        }
        self.event(event)?;
        Ok(())
    }

    pub(super) fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Join {
                room: 2,
                who,
                keyed,
            } => {
                let out = self.event(Event::Joined {
                    room: ELSEWHERE.into(),
                    occupant: format!("{}/x", BARES[who]),
                    keyed,
                })?;
                prop_assert!(out.is_empty());
            }
            Op::Leave { room: 2, who } => {
                let out = self.event(Event::Left {
                    room: ELSEWHERE.into(),
                    occupant: format!("{}/x", BARES[who % BARES.len()]),
                })?;
                prop_assert!(out.is_empty());
            }
            Op::Destroy { room: 2 } => {
                let out = self.event(Event::Destroyed {
                    room: ELSEWHERE.into(),
                })?;
                prop_assert!(out.is_empty());
            }
            Op::Affiliate {
                room: 2,
                target,
                actor,
                ..
            } => {
                let out = self.event(Event::Affiliation {
                    room: ELSEWHERE.into(),
                    jid: BARES[target % BARES.len()].into(),
                    affiliation: "owner".into(),
                    actor: BARES[actor % BARES.len()].into(),
                    previous: Some("member".into()),
                    members_only: Some(true),
                })?;
                prop_assert!(out.is_empty());
            }
            Op::Join { room, who, keyed } => {
                // Every connection has its own resource, as in Jitsi.
                self.resource += 1;
                let jid = format!("{}/r{}", BARES[who], self.resource);
                let w = &mut self.world[room];
                if keyed && self.connected && !is_service_jid(&jid) {
                    w.organizers.insert(BARES[who].into());
                }
                let organizer = keyed || (self.connected && w.organizers.contains(BARES[who]));
                // In a members-only room only members enter: the lobby's password, or the
                // module's organizer key, makes them one (no event).
                if w.members_only && !w.owners.contains(BARES[who]) && !is_service_jid(&jid) {
                    w.members.insert(BARES[who].into());
                }
                w.occupants
                    .insert(jid.clone(), Session { keyed, organizer });
                self.event(Event::Joined {
                    room: ROOMS[room].into(),
                    occupant: jid.clone(),
                    keyed,
                })?;
                if keyed && self.connected && !is_service_jid(&jid) {
                    let asked = self.owner_or_asked(room, BARES[who]);
                    prop_assert!(asked, "{} entered keyed, is not owner nor asked for", jid);
                }
            }
            Op::Leave { room, who } => {
                let who = self.pick(room, who);
                let found = self.world[room]
                    .occupants
                    .keys()
                    .find(|o| bare(o) == who)
                    .cloned();
                let Some(jid) = found else {
                    let out = self.event(Event::Left {
                        room: ROOMS[room].into(),
                        occupant: format!("{who}/nobody"),
                    })?;
                    prop_assert!(out.is_empty(), "left for an unknown occupant: {:?}", out);
                    return Ok(());
                };
                self.world[room].occupants.remove(&jid);
                self.event(Event::Left {
                    room: ROOMS[room].into(),
                    occupant: jid,
                })?;
                if !self.world[room].exists() {
                    self.gone(room)?;
                }
            }
            Op::Destroy { room } => {
                if self.world[room].exists() {
                    self.gone(room)?;
                }
            }
            Op::End { room } => {
                let w = &self.world[room];
                let organizer = w
                    .occupants
                    .iter()
                    .any(|(o, s)| s.organizer && !is_service_jid(o));
                if !organizer {
                    return Ok(());
                }
                let room_name = ROOMS[room].into();
                self.vanish(room, Event::EndedByOrganizer { room: room_name })?;
            }
            Op::Persist { room } => {
                if self.world[room].exists() {
                    self.world[room].persistent = true;
                }
            }
            Op::Affiliate {
                room,
                target,
                owner,
                actor,
            } => {
                if !self.world[room].exists() {
                    return Ok(());
                }
                let (jid, actor) = (self.pick(room, target), self.pick(room, actor));
                let (jid, actor) = (jid.as_str(), actor.as_str());
                let w = &mut self.world[room];
                let previous = if w.owners.contains(jid) {
                    "owner"
                } else if w.members.contains(jid) {
                    "member"
                } else {
                    "none"
                };
                if owner {
                    w.owners.insert(jid.into());
                } else {
                    w.owners.remove(jid);
                    w.members.insert(jid.into());
                }
                // Only the core's view counts: a promotion it does not hear of is none.
                let by_organizer = w
                    .occupants
                    .iter()
                    .any(|(o, s)| s.organizer && bare(o) == actor && !is_service_jid(o));
                // An organizer's choice makes or unmakes an organizer (owner follows
                // organizer).
                if by_organizer && self.connected && !is_service_jid(jid) {
                    if owner {
                        w.organizers.insert(jid.into());
                    } else {
                        w.organizers.remove(jid);
                    }
                    for (_, s) in w.occupants.iter_mut().filter(|(o, _)| bare(o) == jid) {
                        s.organizer = owner;
                    }
                }
                let members_only = Some(w.members_only);
                self.event(Event::Affiliation {
                    room: ROOMS[room].into(),
                    jid: jid.into(),
                    affiliation: if owner { "owner" } else { "member" }.into(),
                    actor: actor.into(),
                    previous: Some(previous.into()),
                    members_only,
                })?;
            }
            Op::Lobby { room, on } => {
                if !self.world[room].exists() {
                    return Ok(());
                }
                let w = &mut self.world[room];
                // Sent by an owner inside (the teacher's client), else by nobody the
                // core counts.
                let actor = w
                    .occupants
                    .keys()
                    .map(|o| bare(o).to_owned())
                    .find(|o| w.owners.contains(o))
                    .unwrap_or_else(|| FOCUS_BARE.into());
                // Organizers are owners (or about to be: their grant is not asked of
                // this Sim's client, which sees the grant first).
                let newcomers: BTreeSet<String> = w
                    .occupants
                    .keys()
                    .filter(|o| !is_service_jid(o))
                    .map(|o| bare(o).to_owned())
                    .filter(|o| {
                        !w.owners.contains(o) && !w.members.contains(o) && !w.organizers.contains(o)
                    })
                    .collect();
                if on {
                    for jid in newcomers {
                        self.world[room].members.insert(jid.clone());
                        self.event(Event::Affiliation {
                            room: ROOMS[room].into(),
                            jid,
                            affiliation: "member".into(),
                            actor: actor.clone(),
                            previous: Some("none".into()),
                            members_only: Some(false),
                        })?;
                    }
                }
                self.world[room].members_only = on;
                self.event(Event::MembersOnly {
                    room: ROOMS[room].into(),
                    on,
                })?;
            }
            Op::Serve { fail } => match self.pending.pop_front() {
                None => {}
                Some((id, Pending::Grant { room, jid })) => {
                    let ok = !fail && self.world[room].exists();
                    if ok {
                        self.world[room].owners.insert(jid.clone());
                    }
                    self.feed(Input::Done { id, ok })?;
                }
                Some((id, Pending::Reset { room })) => {
                    // Prosody announces the destroy before it answers.
                    if !fail && self.world[room].exists() {
                        self.gone(room)?;
                    }
                    self.feed(Input::Done { id, ok: !fail })?;
                }
            },
            Op::Wait { ms } => self.now += Duration::from_millis(ms),
            Op::Tick { ms } => {
                self.now += Duration::from_millis(ms);
                self.feed(Input::Tick)?;
            }
            Op::TickAtDeadline => {
                if let Some(d) = self.core.next_deadline() {
                    self.now = self.now.max(d);
                }
                self.feed(Input::Tick)?;
            }
            Op::Disconnect => {
                self.connected = false;
                self.pending.clear();
                self.feed(Input::Disconnected)?;
            }
            Op::Connect => self.sync()?,
            Op::Restart => {
                self.core = Core::new(room_map(), policy(self.grace));
                self.check.restarted();
                self.pending.clear();
                // A new daemon knows only who entered keyed.
                for w in &mut self.world {
                    w.organizers.clear();
                    for s in w.occupants.values_mut() {
                        s.organizer = s.keyed;
                    }
                }
                if self.connected {
                    self.sync()?;
                }
            }
        }
        Ok(())
    }
}
