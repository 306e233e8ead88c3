//! The invariant checker of the property tests: what must hold after every step, whatever the input.

use super::*;

pub(super) const ROOMS: [&str; 3] = [MATHE, PHYSIK, ELSEWHERE];
pub(super) const BARES: [&str; 7] = [
    ANNA_BARE,
    BEN_BARE,
    "carla@guest.meet.jitsi",
    DORA_BARE,
    "Ben@Meet.Jitsi",
    FOCUS_BARE,
    "jvb@internal.auth.meet.jitsi",
];

pub(super) fn managed(room: &str) -> Option<usize> {
    [MATHE, PHYSIK].iter().position(|r| *r == room)
}

/// The test's own idea of a service JID, independent of the core's.
pub(super) fn is_service_jid(jid: &str) -> bool {
    let b = bare(jid).to_lowercase();
    b == FOCUS_BARE || b.ends_with("@internal.auth.meet.jitsi")
}

/// Checks every step of a core against invariants that hold whatever comes in.
pub(super) struct Checker {
    pub(super) grace: Duration,
    /// Bare JIDs that entered keyed, or were made owner by such a one.
    pub(super) eligible: [BTreeSet<String>; 2],
    /// Bare JIDs granted since the room last went (or the core last re-read it).
    pub(super) granted: [BTreeSet<String>; 2],
    /// Breakout rooms may be open in this session (an over-estimate): an empty main
    /// room then waits for the switch window, and grace lasts at least that long.
    pub(super) breakouts: [bool; 2],
    /// Every request issued, oldest first, and those whose answers the core awaits.
    pub(super) issued: Vec<(RequestId, Request)>,
    pub(super) in_flight: BTreeSet<RequestId>,
    /// Snapshots asked right behind a map push, in the same step.
    pub(super) behind_push: BTreeSet<RequestId>,
    /// A snapshot of this protocol was taken on this connection: the next ones apply.
    pub(super) module_ok: bool,
}

impl Checker {
    pub(super) fn new(grace: Duration) -> Checker {
        Checker {
            grace,
            eligible: Default::default(),
            granted: Default::default(),
            breakouts: [false; 2],
            issued: vec![],
            in_flight: BTreeSet::new(),
            behind_push: BTreeSet::new(),
            module_ok: false,
        }
    }

    /// The request `id` stands for, if it is awaited.
    pub(super) fn awaited(&self, id: RequestId) -> Option<&Request> {
        if !self.in_flight.contains(&id) {
            return None;
        }
        self.issued.iter().find(|(i, _)| *i == id).map(|(_, r)| r)
    }

    pub(super) fn is_awaited_reset(&self, id: RequestId) -> bool {
        matches!(self.awaited(id), Some(Request::Reset { .. }))
    }

    /// The snapshot request awaited, if any.
    pub(super) fn awaited_snapshot(&self) -> Option<RequestId> {
        let snapshot = |id: &RequestId| self.awaited(*id) == Some(&Request::Snapshot);
        self.in_flight.iter().copied().find(snapshot)
    }

    /// A new core: nothing was granted by it.
    pub(super) fn restarted(&mut self) {
        self.granted = Default::default();
        // Its ids start again.
        self.issued.clear();
        self.in_flight.clear();
        self.behind_push.clear();
    }

    /// Feeds `input` at `now` and checks everything around it.
    pub(super) fn step(
        &mut self,
        core: &mut Core,
        now: Instant,
        input: Input,
    ) -> Result<Vec<(RequestId, Request)>, TestCaseError> {
        let synced = core.synced();
        let before = [status_of(core, MATHE), status_of(core, PHYSIK)];
        self.note_input(&input, &before, synced);
        match &input {
            Input::Connected | Input::Disconnected => self.module_ok = false,
            Input::Snapshot { id, snapshot: s }
                if self.in_flight.contains(id) && s.protocol == Some(MODULE_PROTOCOL) =>
            {
                self.module_ok = true
            }
            _ => {}
        }
        let reset_answered =
            matches!(input, Input::Done { id, ok: true } if self.is_awaited_reset(id));
        core.handle(now, input.clone());
        let first = self.issued.len();
        drain(core, &mut self.issued, &mut VecDeque::new());
        let out = self.issued[first..].to_vec();
        match &input {
            Input::Done { id, .. } | Input::Snapshot { id, .. } => {
                self.in_flight.remove(id);
            }
            Input::Disconnected => self.in_flight.clear(),
            _ => {}
        }
        self.in_flight.extend(out.iter().map(|(id, _)| *id));
        for pair in out.windows(2) {
            if let [(_, Request::PushMap(_)), (id, Request::Snapshot)] = pair {
                self.behind_push.insert(*id);
            }
        }
        let after = [status_of(core, MATHE), status_of(core, PHYSIK)];
        let ctx = format!("input {input:?}\nout {out:?}\nbefore {before:?}\nafter {after:?}");

        if !synced && matches!(input, Input::Tick) {
            prop_assert!(
                out.iter().all(|(_, r)| *r == Request::Snapshot),
                "tick before sync acted\n{}",
                ctx
            );
        }
        let mut resets = [0; 2];
        for (_, action) in &out {
            match action {
                // Asked on connecting, re-asked of a module of another protocol, the
                // map pushed once a snapshot shows the protocol.
                Request::Snapshot => {
                    prop_assert!(
                        matches!(
                            input,
                            Input::Connected | Input::Tick | Input::Snapshot { .. }
                        ),
                        "{}",
                        ctx
                    );
                }
                Request::PushMap(_) => {
                    prop_assert!(matches!(input, Input::Snapshot { .. }), "{}", ctx);
                }
                Request::GrantOwner { room, jid } => {
                    let r = managed(room);
                    prop_assert!(r.is_some(), "grant for an unmanaged room\n{}", ctx);
                    let r = r.unwrap();
                    prop_assert!(!is_service_jid(jid), "grant to a service\n{}", ctx);
                    prop_assert!(!jid.contains('/'), "grant to a full JID\n{}", ctx);
                    prop_assert!(
                        self.eligible[r].contains(jid),
                        "grant to {} who never entered keyed nor was made owner by an organizer\n{}",
                        jid,
                        ctx
                    );
                    prop_assert!(
                        self.granted[r].insert(jid.clone()),
                        "second grant to {}\n{}",
                        jid,
                        ctx
                    );
                }
                Request::RevokeOwner { room, jid, .. } => {
                    let r = managed(room);
                    prop_assert!(r.is_some(), "revoke in an unmanaged room\n{}", ctx);
                    let r = r.unwrap();
                    prop_assert!(!is_service_jid(jid), "revoke from a service\n{}", ctx);
                    prop_assert!(!jid.contains('/'), "revoke from a full JID\n{}", ctx);
                    // DESIGN: nobody but an organizer is owner while one is in or the
                    // grace period runs; otherwise raumwart takes nothing back.
                    let grace = matches!(after[r].phase, Phase::Grace { .. });
                    prop_assert!(
                        after[r].organizer || grace,
                        "revoke with no organizer in, outside the grace period\n{}",
                        ctx
                    );
                }
                Request::Reset {
                    room,
                    reason,
                    message,
                    ..
                } => {
                    let r = managed(room);
                    prop_assert!(r.is_some(), "reset of an unmanaged room\n{}", ctx);
                    let r = r.unwrap();
                    resets[r] += 1;
                    self.check_reset(
                        room,
                        &input,
                        reset_answered,
                        now,
                        *reason,
                        message,
                        &before[r],
                        &after[r],
                        &ctx,
                    )?;
                }
            }
        }
        prop_assert!(resets.iter().all(|&n| n <= 1), "two resets\n{}", ctx);

        for (r, (b, a)) in before.iter().zip(&after).enumerate() {
            self.check_status(a, now, self.breakouts[r], &ctx)?;
            let reset_here = resets[r] == 1;
            // DESIGN: the last person leaving ends the session at once.
            if synced && matches!(input, Input::Event(Event::Left { .. })) {
                let left_here = matches!(&input, Input::Event(Event::Left { room, .. }) if managed(room) == Some(r));
                if left_here && ending_reason(b.phase).is_none() && !self.breakouts[r] {
                    if b.people > 0 && a.people == 0 {
                        prop_assert!(reset_here, "last one out, no reset\n{}", ctx);
                    }
                    // DESIGN: students remain without organizer: grace (or the end).
                    if b.organizer && a.people > 0 && !a.organizer {
                        if self.grace.is_zero() {
                            prop_assert!(reset_here, "{}", ctx);
                        } else {
                            prop_assert_eq!(
                                a.phase,
                                Phase::Grace {
                                    deadline: now + self.grace
                                },
                                "{}",
                                ctx
                            );
                        }
                    }
                }
            }
            // A grace period, once started, keeps its deadline; only the switch window of
            // an empty main room with breakout rooms gives way to the real grace period.
            if let (Phase::Grace { deadline: was }, Phase::Grace { deadline: is }) =
                (b.phase, a.phase)
            {
                if !matches!(input, Input::Snapshot { .. }) && b.people > 0 {
                    prop_assert_eq!(was, is, "grace deadline moved\n{}", ctx);
                }
            }
            // Ticks end what is due, and only that.
            if synced && matches!(input, Input::Tick) {
                let due = match b.phase {
                    Phase::Grace { deadline } => deadline <= now,
                    Phase::Ending { retry, .. } => retry.is_some_and(|t| t <= now),
                    _ => false,
                };
                prop_assert_eq!(due, reset_here, "tick\n{}", ctx);
            }
        }

        let expected = if core.synced() {
            after
                .iter()
                .filter_map(|s| match s.phase {
                    Phase::Grace { deadline } => Some(deadline),
                    Phase::Ending { retry, .. } => retry,
                    _ => None,
                })
                .min()
        } else if core.module_mismatch().is_some() {
            // A module of another protocol is asked again at its own time (checked
            // below: never in the past after a tick).
            core.next_deadline()
        } else {
            None
        };
        prop_assert_eq!(core.next_deadline(), expected, "{}", ctx);
        if matches!(input, Input::Tick) {
            if let Some(d) = core.next_deadline() {
                prop_assert!(d > now, "deadline in the past after a tick\n{}", ctx);
            }
        }
        Ok(out)
    }

    /// Whether the core applies snapshot `s`, the answer to `id`: it is awaited, from a
    /// module of this protocol, and shows this map without problems (or was asked behind
    /// its push, or the map went out on this connection already).
    pub(super) fn applies(&self, id: RequestId, s: &Snapshot) -> bool {
        self.in_flight.contains(&id)
            && s.protocol == Some(MODULE_PROTOCOL)
            && (self.module_ok
                || (s.gen == room_map().gen && s.problems.is_empty())
                || self.behind_push.contains(&id))
    }

    pub(super) fn note_input(&mut self, input: &Input, before: &[Status; 2], synced: bool) {
        // The core waits for the snapshot, which holds whatever came before it.
        if !synced && matches!(input, Input::Event(e) if !matches!(e, Event::WrongPassword { .. }))
        {
            return;
        }
        match input {
            Input::Event(Event::JoinedBreakout { room, .. })
            | Input::Event(Event::BreakoutsActive { room }) => {
                if let Some(r) = managed(room) {
                    self.breakouts[r] = true;
                }
            }
            Input::Done { id, ok: true } if self.is_awaited_reset(*id) => {
                let Some(Request::Reset { room, .. }) = self.awaited(*id).cloned() else {
                    unreachable!("a reset")
                };
                if let Some(r) = managed(&room) {
                    self.granted[r].clear();
                    if ending_reason(before[r].phase).is_some() {
                        self.breakouts[r] = false;
                    }
                }
            }
            Input::Event(Event::Destroyed { room } | Event::EndedByOrganizer { room }) => {
                if let Some(r) = managed(room) {
                    self.granted[r].clear();
                    self.breakouts[r] = false;
                }
            }
            Input::Event(Event::Joined {
                room,
                occupant,
                keyed: true,
            }) => {
                if let Some(r) = managed(room) {
                    if !is_service_jid(occupant) {
                        self.eligible[r].insert(bare(occupant).to_owned());
                    }
                }
            }
            Input::Event(Event::Affiliation {
                room,
                jid,
                affiliation,
                actor,
                ..
            }) => {
                if let Some(r) = managed(room) {
                    if affiliation == "owner" {
                        if self.eligible[r].contains(actor) {
                            self.eligible[r].insert(jid.clone());
                        }
                    } else {
                        self.granted[r].remove(jid);
                    }
                }
            }
            Input::Done { id, ok: false } => {
                if let Some(Request::GrantOwner { room, jid }) = self.awaited(*id).cloned() {
                    if let Some(r) = managed(&room) {
                        self.granted[r].remove(&jid);
                    }
                }
            }
            Input::Snapshot { id, snapshot: s } if self.applies(*id, s) => {
                self.granted = Default::default();
                for (r, name) in [MATHE, PHYSIK].into_iter().enumerate() {
                    match s.rooms.iter().rev().find(|x| x.name == name) {
                        Some(x) => {
                            self.breakouts[r] = x.occupants.iter().any(|o| o.breakout.is_some())
                        }
                        None if before[r].session_start.is_some() => self.breakouts[r] = false,
                        None => {}
                    }
                }
                for room in &s.rooms {
                    if let Some(r) = managed(&room.name) {
                        for o in room.occupants.iter().filter(|o| o.keyed) {
                            if !is_service_jid(&o.jid) {
                                self.eligible[r].insert(bare(&o.jid).to_owned());
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_reset(
        &self,
        room: &str,
        input: &Input,
        reset_answered: bool,
        now: Instant,
        reason: EndReason,
        message: &Option<String>,
        b: &Status,
        a: &Status,
        ctx: &str,
    ) -> Result<(), TestCaseError> {
        let is_snapshot = matches!(input, Input::Snapshot { .. });
        prop_assert_eq!(ending_reason(a.phase), Some(reason), "{}", ctx);
        prop_assert!(
            matches!(a.phase, Phase::Ending { retry: None, .. }),
            "{}",
            ctx
        );
        // Removed people are told why; an empty room needs no message.
        prop_assert_eq!(message.is_some(), a.people > 0, "{}", ctx);
        if let Some(m) = message {
            prop_assert_eq!(m.as_str(), END);
        }
        // Only a room that had a session is reset.
        let joined = matches!(input, Input::Event(Event::Joined { .. }));
        prop_assert!(
            b.session_start.is_some() || is_snapshot || (joined && self.grace.is_zero()),
            "reset without a session\n{}",
            ctx
        );
        if let Input::Snapshot { snapshot: s, .. } = input {
            // A room missing from the snapshot is gone already; an empty one that is
            // not persistent was just created (by focus) unless a session was known.
            let seen = s.rooms.iter().rev().find(|x| x.name == room);
            prop_assert!(seen.is_some(), "reset of a room that is gone\n{}", ctx);
            let seen = seen.unwrap();
            prop_assert!(
                seen.persistent || b.session_start.is_some() || a.people > 0,
                "reset of a fresh room\n{}",
                ctx
            );
        }
        match b.phase {
            Phase::Ending { retry, .. } => {
                // A reset under way is re-issued only by its retry timer or a re-sync,
                // or a new session (joined meanwhile) ends at once with zero grace.
                let ok = match input {
                    Input::Tick => retry.is_some_and(|t| t <= now),
                    Input::Snapshot { .. } => true,
                    Input::Done { .. } if reset_answered => {
                        self.grace.is_zero() && a.people > 0 && !a.organizer
                    }
                    _ => false,
                };
                prop_assert!(ok, "reset re-issued\n{}", ctx);
            }
            // An organizer's own end of the meeting takes the breakout rooms with it,
            // organizers in them included.
            _ if matches!(input, Input::Event(Event::EndedByOrganizer { .. })) => {}
            _ => {
                // An organizer inside is never removed by a session's own end.
                prop_assert!(!a.organizer, "reset with an organizer inside\n{}", ctx);
            }
        }
        Ok(())
    }

    pub(super) fn check_status(
        &self,
        s: &Status,
        now: Instant,
        breakouts: bool,
        ctx: &str,
    ) -> Result<(), TestCaseError> {
        if let Some(start) = s.session_start {
            prop_assert!(start <= now, "{}", ctx);
        }
        match s.phase {
            Phase::Idle => {
                prop_assert_eq!(s.people, 0, "idle with people\n{}", ctx);
                prop_assert!(s.session_start.is_none(), "idle with a session\n{}", ctx);
            }
            Phase::Active => {
                prop_assert!(s.people > 0 && s.organizer, "{}", ctx);
                prop_assert!(s.session_start.is_some(), "{}", ctx);
            }
            Phase::Grace { deadline } if breakouts => {
                prop_assert!(!s.organizer, "{}", ctx);
                let longest = self.grace.max(SWITCH_WINDOW);
                prop_assert!(deadline <= now + longest, "grace too long\n{}", ctx);
                let shortest = self.grace.min(SWITCH_WINDOW);
                let start = s.session_start;
                prop_assert!(start.is_some_and(|t| t + shortest <= deadline), "{}", ctx);
            }
            Phase::Grace { deadline } => {
                prop_assert!(s.people > 0 && !s.organizer, "{}", ctx);
                prop_assert!(
                    !self.grace.is_zero(),
                    "grace with zero grace period\n{}",
                    ctx
                );
                prop_assert!(deadline <= now + self.grace, "grace too long\n{}", ctx);
                let start = s.session_start;
                prop_assert!(start.is_some_and(|t| t + self.grace <= deadline), "{}", ctx);
            }
            Phase::Ending { retry, .. } => {
                prop_assert!(s.session_start.is_some(), "{}", ctx);
                if let Some(t) = retry {
                    prop_assert!(t <= now + RETRY, "{}", ctx);
                }
            }
        }
        Ok(())
    }
}
