//! Rejected input changes no state: a core fed real traffic and rejected input beside a twin fed only the real traffic.

use super::*;

const PEOPLE: &[&str] = &[
    "anna@meet.jitsi",
    "ben@meet.jitsi",
    "carla@guest.meet.jitsi",
    "dora@meet.jitsi",
    FOCUS_BARE,
];
/// Never joins anywhere.
const GHOSTS: &[&str] = &[
    "ghost@meet.jitsi",
    "anna@meet.jitsi.evil",
    "anna@meet.jitsi/",
];
const STRANGE_ROOMS: &[&str] = &["elsewhere", "MATHE-5A", "mathe-5a ", "mathe-5a@x", ""];

/// Real traffic: what Prosody and the daemon could say, in any order.
#[derive(Debug, Clone)]
enum Real {
    Join {
        room: usize,
        who: usize,
        res: u8,
        keyed: bool,
    },
    JoinBreakout {
        room: usize,
        who: usize,
        res: u8,
    },
    Leave {
        room: usize,
        who: usize,
        res: u8,
    },
    Affiliation {
        room: usize,
        who: usize,
        owner: bool,
        actor: usize,
    },
    Destroyed {
        room: usize,
    },
    /// Answers the oldest request in flight.
    Serve {
        ok: bool,
    },
    Wait {
        ms: u64,
    },
    Tick,
    TickAtDeadline,
    Force {
        room: usize,
    },
    Disconnect,
    Connect {
        occupants: Vec<(usize, usize, bool, bool)>,
    },
}

/// Input the core must ignore (checked for applicability when it comes).
#[derive(Debug, Clone)]
enum Rejected {
    /// Any event for a room that is not managed.
    Stranger {
        event: u8,
        room: usize,
        who: usize,
    },
    /// A leave of someone who never entered.
    GhostLeft {
        room: usize,
        ghost: usize,
        res: u8,
    },
    /// An answer again, to a request answered before.
    DoneRepeated {
        pick: usize,
        ok: bool,
    },
    /// An answer to a request sent before the connection was lost.
    DoneLost {
        pick: usize,
        ok: bool,
    },
    /// A revocation's answer: whatever it says, the next organizer change decides.
    DoneRevoke {
        ok: bool,
    },
    TickUnsynced,
    TickEarly,
    ForceStranger {
        room: usize,
    },
}

fn real() -> impl Strategy<Value = Real> {
    let room = 0..2usize;
    let who = 0..PEOPLE.len();
    let occupant = (0..2usize, 0..PEOPLE.len(), any::<bool>(), any::<bool>());
    prop_oneof![
        8 => (room.clone(), who.clone(), 0..2u8, any::<bool>())
            .prop_map(|(room, who, res, keyed)| Real::Join { room, who, res, keyed }),
        2 => (room.clone(), who.clone(), 0..2u8)
            .prop_map(|(room, who, res)| Real::JoinBreakout { room, who, res }),
        6 => (room.clone(), who.clone(), 0..2u8)
            .prop_map(|(room, who, res)| Real::Leave { room, who, res }),
        3 => (room.clone(), who.clone(), any::<bool>(), who)
            .prop_map(|(room, who, owner, actor)| Real::Affiliation { room, who, owner, actor }),
        1 => room.clone().prop_map(|room| Real::Destroyed { room }),
        6 => prop::bool::weighted(0.8).prop_map(|ok| Real::Serve { ok }),
        2 => (0..120_000u64).prop_map(|ms| Real::Wait { ms }),
        2 => Just(Real::Tick),
        2 => Just(Real::TickAtDeadline),
        1 => room.prop_map(|room| Real::Force { room }),
        1 => Just(Real::Disconnect),
        1 => prop::collection::vec(occupant, 0..4).prop_map(|occupants| Real::Connect { occupants }),
    ]
}

fn rejected() -> impl Strategy<Value = Rejected> {
    let strange = 0..STRANGE_ROOMS.len();
    prop_oneof![
        4 => (0..7u8, strange.clone(), 0..PEOPLE.len())
            .prop_map(|(event, room, who)| Rejected::Stranger { event, room, who }),
        3 => (0..2usize, 0..GHOSTS.len(), 0..3u8)
            .prop_map(|(room, ghost, res)| Rejected::GhostLeft { room, ghost, res }),
        4 => (any::<usize>(), any::<bool>())
            .prop_map(|(pick, ok)| Rejected::DoneRepeated { pick, ok }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, ok)| Rejected::DoneLost { pick, ok }),
        1 => any::<bool>().prop_map(|ok| Rejected::DoneRevoke { ok }),
        1 => Just(Rejected::TickUnsynced),
        2 => Just(Rejected::TickEarly),
        1 => strange.prop_map(|room| Rejected::ForceStranger { room }),
    ]
}

/// Two cores fed the same real traffic; one of them also gets every rejected input.
struct Twins {
    plain: Core,
    fed: Core,
    now: Instant,
    /// Requests in flight, oldest first (but the snapshot's).
    pending: VecDeque<(RequestId, Request)>,
    /// The snapshot request of the latest `Connected`.
    snapshot: Option<RequestId>,
    /// Requests answered, and requests that were in flight when the connection went.
    answered: Vec<RequestId>,
    lost: Vec<RequestId>,
}

fn full(who: usize, res: u8) -> String {
    format!("{}/r{res}", PEOPLE[who])
}

impl Twins {
    fn new() -> Twins {
        let now = Instant::now();
        Twins {
            plain: synced_core(now),
            fed: synced_core(now),
            now,
            pending: VecDeque::new(),
            snapshot: None,
            answered: vec![],
            lost: vec![],
        }
    }

    /// Both cores take `input` and must answer and look alike.
    fn both(&mut self, input: Input) -> Result<(), TestCaseError> {
        let a = feed(&mut self.plain, self.now, input.clone())?;
        let b = feed(&mut self.fed, self.now, input.clone())?;
        // Requests and notes alike, ids included.
        prop_assert_eq!(&a, &b, "the cores parted on {:?}", input);
        prop_assert_eq!(state(&self.plain), state(&self.fed), "after {:?}", input);
        match input {
            Input::Disconnected => self.lost.extend(self.pending.drain(..).map(|(id, _)| id)),
            Input::Done { id, .. } | Input::Snapshot { id, .. } => self.answered.push(id),
            _ => {}
        }
        for output in a {
            match output {
                Output::Request {
                    id,
                    request: Request::Snapshot,
                } => self.snapshot = Some(id),
                Output::Request { id, request } => self.pending.push_back((id, request)),
                Output::Note(_) => {}
            }
        }
        Ok(())
    }

    fn real(&mut self, op: &Real) -> Result<(), TestCaseError> {
        let managed = |r: usize| MANAGED[r].to_owned();
        let input = match op {
            Real::Join {
                room,
                who,
                res,
                keyed,
            } => Input::Event(Event::Joined {
                room: managed(*room),
                occupant: full(*who, *res),
                keyed: *keyed,
            }),
            Real::JoinBreakout { room, who, res } => Input::Event(Event::JoinedBreakout {
                room: managed(*room),
                occupant: full(*who, *res),
                breakout: format!("{}-b@breakout.meet.jitsi", MANAGED[*room]),
            }),
            Real::Leave { room, who, res } => Input::Event(Event::Left {
                room: managed(*room),
                occupant: full(*who, *res),
            }),
            Real::Affiliation {
                room,
                who,
                owner,
                actor,
            } => Input::Event(Event::Affiliation {
                room: managed(*room),
                jid: PEOPLE[*who].into(),
                affiliation: if *owner { "owner" } else { "none" }.into(),
                actor: PEOPLE[*actor].into(),
                previous: Some(if *owner { "none" } else { "owner" }.into()),
                members_only: Some(false),
            }),
            Real::Destroyed { room } => Input::Event(Event::Destroyed {
                room: managed(*room),
            }),
            Real::Serve { ok } => match self.pending.pop_front() {
                Some((id, _)) => Input::Done { id, ok: *ok },
                None => return Ok(()),
            },
            Real::Wait { ms } => {
                self.now += Duration::from_millis(*ms);
                return Ok(());
            }
            Real::Tick => Input::Tick,
            Real::TickAtDeadline => {
                if let Some(t) = self.plain.next_deadline() {
                    self.now = self.now.max(t);
                }
                Input::Tick
            }
            Real::Force { room } => Input::EndSession {
                room: managed(*room),
            },
            Real::Disconnect => Input::Disconnected,
            Real::Connect { occupants } => {
                self.both(Input::Connected)?;
                let mut rooms: Vec<SnapshotRoom> = vec![];
                for (room, who, keyed, owner) in occupants {
                    let o = SnapshotOccupant {
                        jid: full(*who, 0),
                        keyed: *keyed,
                        owner: *owner,
                        breakout: None,
                    };
                    match rooms.iter_mut().find(|r| r.name == MANAGED[*room]) {
                        Some(r) => r.occupants.push(o),
                        None => rooms.push(SnapshotRoom {
                            name: managed(*room),
                            persistent: false,
                            members_only: false,
                            occupants: vec![o],
                        }),
                    }
                }
                let snapshot = snapshot(rooms);
                let id = self.snapshot.expect("asked for with Connected");
                Input::Snapshot { id, snapshot }
            }
        };
        self.both(input)
    }

    /// The input for `op`, or None where it would not be rejected now.
    fn rejected_input(&self, op: &Rejected) -> Option<Input> {
        let core = &self.fed;
        let strange = |r: usize| STRANGE_ROOMS[r].to_owned();
        Some(match op {
            Rejected::Stranger { event, room, who } => {
                let room = strange(*room);
                let occupant = full(*who, 0);
                let jid = PEOPLE[*who].to_owned();
                Input::Event(match event {
                    0 => Event::Joined {
                        room,
                        occupant,
                        keyed: true,
                    },
                    1 => Event::Left { room, occupant },
                    2 => Event::JoinedBreakout {
                        room,
                        occupant,
                        breakout: "b@x".into(),
                    },
                    3 => Event::BreakoutsActive { room },
                    4 => Event::Destroyed { room },
                    5 => Event::WrongPassword { room },
                    _ => Event::Affiliation {
                        room,
                        jid,
                        affiliation: "owner".into(),
                        actor: PEOPLE[0].into(),
                        previous: None,
                        members_only: None,
                    },
                })
            }
            Rejected::GhostLeft { room, ghost, res } => Input::Event(Event::Left {
                room: MANAGED[*room].into(),
                occupant: format!("{}/g{res}", GHOSTS[*ghost]),
            }),
            Rejected::DoneRepeated { pick, ok } => {
                let id = *self.answered.get(pick % self.answered.len().max(1))?;
                Input::Done { id, ok: *ok }
            }
            Rejected::DoneLost { pick, ok } => {
                let id = *self.lost.get(pick % self.lost.len().max(1))?;
                Input::Done { id, ok: *ok }
            }
            Rejected::DoneRevoke { ok } => {
                let (id, _) = self
                    .pending
                    .iter()
                    .find(|(_, r)| matches!(r, Request::RevokeOwner { .. }))?;
                Input::Done { id: *id, ok: *ok }
            }
            Rejected::TickUnsynced => {
                if core.synced() {
                    return None;
                }
                Input::Tick
            }
            Rejected::TickEarly => {
                if core.next_deadline().is_some_and(|t| t <= self.now) {
                    return None;
                }
                Input::Tick
            }
            Rejected::ForceStranger { room } => Input::EndSession {
                room: strange(*room),
            },
        })
    }

    fn rejected(&mut self, op: &Rejected) -> Result<(), TestCaseError> {
        let Some(input) = self.rejected_input(op) else {
            return Ok(());
        };
        let before = state(&self.fed);
        let out = step(&mut self.fed, self.now, input.clone());
        prop_assert!(out.is_empty(), "{:?} acted: {:?}", input, out);
        prop_assert_eq!(&state(&self.fed), &before, "{:?} changed the state", input);
        Ok(())
    }
}

/// Found by `rejected_input_changes_no_state`: `Core::join` counts the join before it
/// looks the room up, so a join for a room that is not managed moves the counter that
/// a later `Phase::Ending { issued }` shows.
#[test]
fn a_join_for_a_stranger_room_counts_no_join() {
    let now = Instant::now();
    let (mut plain, mut fed) = (synced_core(now), synced_core(now));
    let stranger = Event::Joined {
        room: "elsewhere".into(),
        occupant: "ben@meet.jitsi/b1".into(),
        keyed: false,
    };
    assert_eq!(step(&mut fed, now, Input::Event(stranger)), []);
    let force = || Input::EndSession { room: MATHE.into() };
    assert_eq!(step(&mut plain, now, force()), step(&mut fed, now, force()));
    assert_eq!(state(&plain), state(&fed));
}

/// Found by `rejected_input_changes_no_state`: a failed grant answer for a grant that is
/// not in flight still took the account out of the room's owners, so the next keyed
/// join of that account was granted again. Now an answer names its request, and a
/// second answer to it is no answer.
#[test]
fn a_failed_grant_answer_nobody_waits_for_changes_nothing() {
    let now = Instant::now();
    let (mut plain, mut fed) = (synced_core(now), synced_core(now));
    let join = |res: &str| {
        Input::Event(Event::Joined {
            room: MATHE.into(),
            occupant: format!("anna@meet.jitsi/{res}"),
            keyed: true,
        })
    };
    let mut grant = None;
    for core in [&mut plain, &mut fed] {
        let out = step(core, now, join("a1"));
        let id = out.iter().find_map(|o| match o {
            Output::Request { id, .. } => Some(*id),
            Output::Note(_) => None,
        });
        let id = id.expect("a grant");
        grant = Some(id);
        assert_eq!(step(core, now, Input::Done { id, ok: true }), []);
    }
    // Nothing is in flight now; only `fed` hears of a failure.
    let id = grant.expect("granted");
    assert_eq!(step(&mut fed, now, Input::Done { id, ok: false }), []);
    assert_eq!(
        step(&mut plain, now, join("a2")),
        step(&mut fed, now, join("a2"))
    );
}

/// A piece of traffic: real, or to be rejected.
fn traffic() -> impl Strategy<Value = Result<Real, Rejected>> {
    prop_oneof![3 => real().prop_map(Ok), 2 => rejected().prop_map(Err)]
}

proptest! {
    #![proptest_config(config(200))]

    /// Rejected input, interleaved with real traffic, yields no action, changes no
    /// status, and leaves no trace: a twin core that never saw it answers all later
    /// traffic exactly alike.
    #[test]
    fn rejected_input_changes_no_state(ops in prop::collection::vec(traffic(), 1..150)) {
        let mut twins = Twins::new();
        for op in &ops {
            match op {
                Ok(real) => twins.real(real)?,
                Err(rejected) => twins.rejected(rejected)?,
            }
        }
    }
}
