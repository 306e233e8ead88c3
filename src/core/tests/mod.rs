//! Unit and property tests of the decision core, in virtual time.
//!
//! Time never passes by itself here: every test takes one `Instant::now()` as its base
//! and moves a virtual clock by adding durations.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;

use super::fixtures::*;
use super::*;

mod accounts;
mod breakouts;
mod checker;
mod connection;
mod ended_by_organizer;
mod forced_ends;
mod harness;
mod joining;
mod not_concerned;
mod organizers;
mod properties;
mod requests;
mod resets;
mod restarts;
mod session_end;
mod simulator;
mod snapshots;

use checker::*;
use harness::*;
use simulator::*;

// --- fixtures (the shared ones: super::fixtures) ---------------------------------------

/// Not in the map.
const ELSEWHERE: &str = "elsewhere";

/// Matches the service entry `focus@auth.meet.jitsi` exactly.
const FOCUS: &str = "focus@auth.meet.jitsi/focus";
/// Matches the service domain entry `internal.auth.meet.jitsi`.
const JVB: &str = "jvb@internal.auth.meet.jitsi/jvb-1";

const ANNA: &str = "anna@meet.jitsi/a1";
const ANNA_2: &str = "anna@meet.jitsi/a2";
const ANNA_BARE: &str = "anna@meet.jitsi";
const BEN: &str = "ben@meet.jitsi/b1";
const BEN_BARE: &str = "ben@meet.jitsi";
const CARLA: &str = "carla@guest.meet.jitsi/c1";
const DORA: &str = "dora@meet.jitsi/d1";
const DORA_BARE: &str = "dora@meet.jitsi";

const BREAKOUT_1: &str = "br-1@breakout.meet.jitsi";
const BREAKOUT_2: &str = "br-2@breakout.meet.jitsi";
const GRACE: Duration = Duration::from_secs(60);
const RETRY: Duration = Duration::from_secs(5);

/// An owned copy of a [`RoomStatus`].
#[derive(Debug, Clone, PartialEq)]
struct Status {
    phase: Phase,
    people: usize,
    organizer: bool,
    session_start: Option<Instant>,
}

fn status_of(core: &Core, room: &str) -> Status {
    let s = core
        .rooms()
        .find(|s| s.name == room)
        .unwrap_or_else(|| panic!("{room} is not managed"));
    Status {
        phase: s.phase,
        people: s.people,
        organizer: s.organizer_present,
        session_start: s.session_start,
    }
}

fn grant(room: &str, jid: &str) -> Request {
    Request::GrantOwner {
        room: room.into(),
        jid: jid.into(),
    }
}

fn reset(room: &str, reason: EndReason, message: bool) -> Request {
    Request::Reset {
        room: room.into(),
        reason,
        message: message.then(|| END.to_owned()),
        breakouts: vec![],
    }
}

fn occupant(jid: &str, keyed: bool, owner: bool) -> SnapshotOccupant {
    SnapshotOccupant {
        jid: jid.into(),
        keyed,
        owner,
        breakout: None,
    }
}

fn snapshot_room(name: &str, persistent: bool, occupants: Vec<SnapshotOccupant>) -> SnapshotRoom {
    SnapshotRoom {
        name: name.into(),
        persistent,
        members_only: false,
        occupants,
    }
}
