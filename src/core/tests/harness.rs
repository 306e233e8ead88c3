//! The harness: a core and a virtual clock, and what it shows of itself.

use super::*;

/// A core and a virtual clock.
pub(super) struct Harness {
    pub(super) core: Core,
    pub(super) base: Instant,
    pub(super) now: Instant,
    /// Every request the core issued, oldest first.
    pub(super) issued: Vec<(RequestId, Request)>,
    pub(super) notes: VecDeque<Note>,
}

/// An id the core never issued.
pub(super) const UNKNOWN: RequestId = RequestId(u64::MAX);

/// Drains the core's output: the requests (in order) into `issued` and the result,
/// the notes into `notes`.
pub(super) fn drain(
    core: &mut Core,
    issued: &mut Vec<(RequestId, Request)>,
    notes: &mut VecDeque<Note>,
) -> Vec<Request> {
    let mut out = vec![];
    while let Some(output) = core.poll_output() {
        match output {
            Output::Request { id, request } => {
                issued.push((id, request.clone()));
                out.push(request);
            }
            Output::Note(note) => notes.push_back(note),
        }
    }
    out
}

/// The latest request in `issued` that `which` picks, or [`UNKNOWN`].
pub(super) fn latest(
    issued: &[(RequestId, Request)],
    which: impl Fn(&Request) -> bool,
) -> RequestId {
    issued
        .iter()
        .rev()
        .find(|(_, r)| which(r))
        .map_or(UNKNOWN, |(id, _)| *id)
}

impl Harness {
    /// A fresh core (as after a daemon start), not connected yet.
    pub(super) fn unsynced(grace: Duration) -> Harness {
        let base = Instant::now();
        Harness {
            core: Core::new(room_map(), policy(grace)),
            base,
            now: base,
            issued: vec![],
            notes: VecDeque::new(),
        }
    }

    /// Connected and synced against a Prosody with no rooms.
    pub(super) fn new(grace: Duration) -> Harness {
        let mut h = Harness::unsynced(grace);
        assert!(h.connect(snapshot(vec![])).is_empty());
        h
    }

    /// Feeds `Connected` and then `snapshot`; returns the requests the snapshot caused
    /// after the map push that every connection brings.
    pub(super) fn connect(&mut self, snapshot: Snapshot) -> Vec<Request> {
        assert_eq!(self.input(Input::Connected), [Request::Snapshot]);
        let mut out = self.answer_snapshot(snapshot);
        assert!(
            matches!(out.first(), Some(Request::PushMap(m)) if Arc::ptr_eq(m, self.core.map())),
            "{out:?}"
        );
        out.remove(0);
        assert!(self.core.synced());
        out
    }

    /// Disconnects and connects again with `snapshot`.
    pub(super) fn reconnect(&mut self, snapshot: Snapshot) -> Vec<Request> {
        assert!(self.input(Input::Disconnected).is_empty());
        self.connect(snapshot)
    }

    /// Moves the clock to `secs` after the base.
    pub(super) fn at(&mut self, secs: u64) -> &mut Harness {
        self.now = self.t(secs);
        self
    }

    pub(super) fn t(&self, secs: u64) -> Instant {
        self.base + Duration::from_secs(secs)
    }

    pub(super) fn input(&mut self, input: Input) -> Vec<Request> {
        self.core.handle(self.now, input);
        drain(&mut self.core, &mut self.issued, &mut self.notes)
    }

    /// Answers the latest snapshot request (if any) with `snapshot`.
    pub(super) fn answer_snapshot(&mut self, snapshot: Snapshot) -> Vec<Request> {
        let id = latest(&self.issued, |r| *r == Request::Snapshot);
        self.input(Input::Snapshot { id, snapshot })
    }

    pub(super) fn event(&mut self, event: Event) -> Vec<Request> {
        self.input(Input::Event(event))
    }

    pub(super) fn join(&mut self, room: &str, occupant: &str, keyed: bool) -> Vec<Request> {
        self.event(Event::Joined {
            room: room.into(),
            occupant: occupant.into(),
            keyed,
        })
    }

    pub(super) fn leave(&mut self, room: &str, occupant: &str) -> Vec<Request> {
        self.event(Event::Left {
            room: room.into(),
            occupant: occupant.into(),
        })
    }

    pub(super) fn destroyed(&mut self, room: &str) -> Vec<Request> {
        self.event(Event::Destroyed { room: room.into() })
    }

    /// `actor` gives `jid` `affiliation`; `jid` held none before, and the module does
    /// not say whether the room is members-only (see `affiliation_from`).
    pub(super) fn affiliation(
        &mut self,
        room: &str,
        jid: &str,
        affiliation: &str,
        actor: &str,
    ) -> Vec<Request> {
        self.affiliation_from(room, jid, "none", affiliation, actor, None)
    }

    /// `actor` takes `jid` from `previous` to `affiliation`; `members_only` as the
    /// module reports the room then.
    pub(super) fn affiliation_from(
        &mut self,
        room: &str,
        jid: &str,
        previous: &str,
        affiliation: &str,
        actor: &str,
        members_only: Option<bool>,
    ) -> Vec<Request> {
        self.event(Event::Affiliation {
            room: room.into(),
            jid: jid.into(),
            affiliation: affiliation.into(),
            actor: actor.into(),
            previous: Some(previous.into()),
            members_only,
        })
    }

    /// The members-only setting (Jitsi's lobby) of `room` is submitted.
    pub(super) fn members_only(&mut self, room: &str, on: bool) -> Vec<Request> {
        self.event(Event::MembersOnly {
            room: room.into(),
            on,
        })
    }

    /// Answers the latest reset of `room`.
    pub(super) fn done_reset(&mut self, room: &str, ok: bool) -> Vec<Request> {
        let id = latest(
            &self.issued,
            |r| matches!(r, Request::Reset { room: x, .. } if x == room),
        );
        self.input(Input::Done { id, ok })
    }

    /// Answers the latest grant of owner to `jid` in `room`.
    pub(super) fn done_grant(&mut self, room: &str, jid: &str, ok: bool) -> Vec<Request> {
        let id = latest(
            &self.issued,
            |r| matches!(r, Request::GrantOwner { room: x, jid: j } if x == room && j == jid),
        );
        self.input(Input::Done { id, ok })
    }

    pub(super) fn tick(&mut self) -> Vec<Request> {
        self.input(Input::Tick)
    }

    pub(super) fn status(&self, room: &str) -> Status {
        status_of(&self.core, room)
    }

    pub(super) fn phase(&self, room: &str) -> Phase {
        self.status(room).phase
    }

    /// Anna (organizer) and Ben (student) in MATHE since second 0.
    pub(super) fn lesson(grace: Duration) -> Harness {
        let mut h = Harness::new(grace);
        assert_eq!(h.join(MATHE, ANNA, true), [grant(MATHE, ANNA_BARE)]);
        assert_eq!(h.join(MATHE, BEN, false), []);
        h
    }
}

/// The notes the core gave since the last call.
pub(super) fn notes(h: &mut Harness) -> Vec<Note> {
    h.notes.drain(..).collect()
}

pub(super) fn is_idle(s: &Status) -> bool {
    s.phase == Phase::Idle && s.people == 0 && s.session_start.is_none()
}

pub(super) fn ending_reason(phase: Phase) -> Option<EndReason> {
    match phase {
        Phase::Ending { reason, .. } => Some(reason),
        _ => None,
    }
}
