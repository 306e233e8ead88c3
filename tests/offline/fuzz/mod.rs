//! Generated garbage for everything raumwart parses: the module's events and snapshots
//! (and the stanzas around them), the HTTP requests of local users, and the config.
//! Nothing may panic, only documented input may be accepted, and input the core must
//! ignore changes none of its state.
//!
//! `cargo test --test offline fuzz::` runs about 5,400 cases (each property sets its own count),
//! some 15 s in a debug build on 2 cores. The long run sets one count for each of the 12
//! properties, about a million cases in all; it took 5 min 30 s on 2 cores:
//!
//! ```sh
//! PROPTEST_CASES=85000 cargo test --release --test offline fuzz::
//! ```
//!
//! Failures are not persisted to files: a failing case prints its seed and minimal input;
//! keep such an input as a plain test.
//!
//! One module per target: `wire` (the module's elements), `stanzas` (what is around
//! them), `rejected` (the core), `http_requests`, `config_text`. Here: feeding the core.

mod config_text;
mod http_requests;
mod rejected;
mod stanzas;
mod wire;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use raumwart::config;
use raumwart::core::fixtures::{policy, room_map, snapshot, FOCUS_BARE, MATHE, PHYSIK};
use raumwart::core::{
    Core, Event, Input, Output, Phase, Request, RequestId, SnapshotOccupant, SnapshotRoom,
    MODULE_PROTOCOL,
};
use raumwart::http::{self, Query, Rooms, Via};
use raumwart::protocol::{self, NS};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::rxml::{Namespace, NcName};
use tokio_xmpp::minidom::{Element, Node};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::Stanza;

// The wire target's generators and checks, which the stanza and HTTP targets reuse.
use wire::{module_element, odd_text, snapshot_element, value, wire, writable, xml_text};

/// `default` cases, or `PROPTEST_CASES` for the long run; never a regressions file.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// --- the core, with the fixtures of its specification (raumwart::core::fixtures) ------

const MANAGED: [&str; 2] = [MATHE, PHYSIK];

/// A core that is connected and in sync with a Prosody without rooms.
fn synced_core(now: Instant) -> Core {
    let mut core = Core::new(room_map(), policy(Duration::from_secs(60)));
    let id = asked_snapshot(&step(&mut core, now, Input::Connected));
    step(
        &mut core,
        now,
        Input::Snapshot {
            id,
            snapshot: snapshot(vec![]),
        },
    );
    assert!(core.synced());
    core
}

/// Hands `input` to the core and takes everything it has to say.
fn step(core: &mut Core, now: Instant, input: Input) -> Vec<Output> {
    core.handle(now, input);
    std::iter::from_fn(|| core.poll_output()).collect()
}

/// The snapshot request among `out`.
fn asked_snapshot(out: &[Output]) -> RequestId {
    out.iter()
        .find_map(|o| match o {
            Output::Request {
                id,
                request: Request::Snapshot,
            } => Some(*id),
            _ => None,
        })
        .expect("a snapshot request")
}

/// Everything the core shows of itself, owned.
#[derive(Debug, Clone, PartialEq)]
struct State {
    rooms: Vec<(String, String, Phase, usize, bool, Option<Instant>)>,
    synced: bool,
    deadline: Option<Instant>,
}

fn state(core: &Core) -> State {
    State {
        rooms: core
            .rooms()
            .map(|s| {
                let (name, school) = (s.name.to_owned(), s.school.to_owned());
                (
                    name,
                    school,
                    s.phase,
                    s.people,
                    s.organizer_present,
                    s.session_start,
                )
            })
            .collect(),
        synced: core.synced(),
        deadline: core.next_deadline(),
    }
}

fn request_room(request: &Request) -> Option<&str> {
    match request {
        Request::GrantOwner { room, .. }
        | Request::RevokeOwner { room, .. }
        | Request::Reset { room, .. } => Some(room),
        _ => None,
    }
}

/// Feeds `input` and checks that every request concerns a managed room; an event for a
/// room that is not managed must change nothing at all.
fn feed(core: &mut Core, now: Instant, input: Input) -> Result<Vec<Output>, TestCaseError> {
    let before = state(core);
    let stranger = match &input {
        Input::Event(e) => !core.is_managed(e.room()),
        _ => false,
    };
    let ctx = format!("{input:?}");
    let out = step(core, now, input);
    for output in &out {
        let room = match output {
            Output::Request { request, .. } => request_room(request),
            Output::Note(_) => None,
        };
        if let Some(room) = room {
            prop_assert!(
                MANAGED.contains(&room),
                "request for an unmanaged room: {:?}\n{}",
                output,
                ctx
            );
        }
    }
    if stranger {
        prop_assert!(out.is_empty(), "an event for a stranger acted: {:?}", out);
        prop_assert_eq!(&state(core), &before, "{}", ctx);
    }
    Ok(out)
}
