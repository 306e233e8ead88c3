//! Property tests: random inputs (`raw_input`) and random worlds (`Sim`), checked by the `Checker` after every step.

use super::*;

fn grace() -> impl Strategy<Value = Duration> {
    prop_oneof![
        1 => Just(Duration::ZERO),
        1 => Just(Duration::from_secs(1)),
        3 => Just(GRACE),
    ]
}

/// Stands for the snapshot request awaited; one is made (`Connected`) if none is.
const LATEST_SNAPSHOT: RequestId = RequestId(u64::MAX - 1);

/// Inputs that need not make sense together: stale answers, strangers, odd snapshots.
fn raw_input() -> impl Strategy<Value = Input> {
    let room = prop_oneof![3 => Just(MATHE), 3 => Just(PHYSIK), 1 => Just(ELSEWHERE)]
        .prop_map(String::from);
    let full = (0..BARES.len(), 0..2u8).prop_map(|(b, r)| format!("{}/r{r}", BARES[b]));
    let bare_jid = (0..BARES.len()).prop_map(|b| BARES[b].to_owned());
    let breakout = prop_oneof![Just(BREAKOUT_1), Just(BREAKOUT_2)].prop_map(String::from);
    let snapshot_occupant = (
        full.clone(),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.2, breakout.clone()),
    )
        .prop_map(|(jid, keyed, owner, breakout)| SnapshotOccupant {
            breakout,
            ..occupant(&jid, keyed, owner)
        });
    let snapshot_room = (
        room.clone(),
        any::<bool>(),
        prop::collection::vec(snapshot_occupant, 0..4),
    )
        .prop_map(|(name, persistent, occupants)| SnapshotRoom {
            name,
            persistent,
            members_only: persistent && occupants.len() % 2 == 1,
            occupants,
        });
    prop_oneof![
        1 => Just(Input::Connected),
        1 => Just(Input::Disconnected),
        // Mostly a module of this protocol with this map; at times another map, or a
        // module of another release.
        1 => (prop::collection::vec(snapshot_room, 0..3), 0..10u8)
            .prop_map(|(rooms, kind)| Input::Snapshot {
                id: LATEST_SNAPSHOT,
                snapshot: Snapshot {
                    protocol: match kind {
                        0 => None,
                        1 => Some(MODULE_PROTOCOL + 1),
                        _ => Some(MODULE_PROTOCOL),
                    },
                    gen: if kind == 2 { "other".into() } else { room_map().gen },
                    ..snapshot(rooms)
                },
            }),
        8 => (room.clone(), full.clone(), any::<bool>()).prop_map(|(room, occupant, keyed)| {
            Input::Event(Event::Joined { room, occupant, keyed })
        }),
        6 => (room.clone(), full.clone()).prop_map(|(room, occupant)| {
            Input::Event(Event::Left { room, occupant })
        }),
        2 => (room.clone(), full, breakout).prop_map(|(room, occupant, breakout)| {
            Input::Event(Event::JoinedBreakout { room, occupant, breakout })
        }),
        1 => room.clone().prop_map(|room| Input::Event(Event::BreakoutsActive { room })),
        1 => room.clone().prop_map(|room| Input::Event(Event::Destroyed { room })),
        1 => room.clone().prop_map(|room| Input::Event(Event::EndedByOrganizer { room })),
        2 => (
            room.clone(),
            bare_jid.clone(),
            any::<bool>(),
            bare_jid.clone(),
            prop::option::of(prop_oneof![Just("none"), Just("member"), Just("owner")]),
            prop::option::of(any::<bool>()),
        )
            .prop_map(|(room, jid, owner, actor, previous, members_only)| {
                Input::Event(Event::Affiliation {
                    room,
                    jid,
                    affiliation: if owner { "owner" } else { "none" }.into(),
                    actor,
                    previous: previous.map(String::from),
                    members_only,
                })
            }),
        1 => (room.clone(), any::<bool>())
            .prop_map(|(room, on)| Input::Event(Event::MembersOnly { room, on })),
        // Answers to requests issued or not, awaited or not.
        5 => (0..32u64, any::<bool>()).prop_map(|(id, ok)| Input::Done { id: RequestId(id), ok }),
        4 => Just(Input::Tick),
    ]
}

fn delay() -> impl Strategy<Value = Duration> {
    prop_oneof![
        3 => Just(Duration::ZERO),
        3 => (0..10_000u64).prop_map(Duration::from_millis),
        2 => (0..120_000u64).prop_map(Duration::from_millis),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Against a simulated Prosody: the core's people and organizers match the rooms',
    /// and every invariant holds after every step.
    #[test]
    fn core_agrees_with_a_simulated_prosody(
        grace in grace(),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let mut sim = Sim::new(grace);
        sim.sync()?;
        for op in &ops {
            sim.run(op)?;
        }
    }

    /// Whatever arrives, in whatever order: the invariants still hold and nothing panics.
    #[test]
    fn invariants_hold_for_arbitrary_inputs(
        grace in grace(),
        inputs in prop::collection::vec((delay(), raw_input()), 1..100),
    ) {
        let mut core = Core::new(room_map(), policy(grace));
        let mut check = Checker::new(grace);
        let mut now = Instant::now();
        check.step(&mut core, now, Input::Connected)?;
        let id = check.awaited_snapshot().expect("asked for");
        check.step(&mut core, now, Input::Snapshot { id, snapshot: snapshot(vec![]) })?;
        for (delay, mut input) in inputs {
            now += delay;
            if let Input::Snapshot { id, .. } = &mut input {
                if *id == LATEST_SNAPSHOT {
                    if check.awaited_snapshot().is_none() {
                        check.step(&mut core, now, Input::Connected)?;
                    }
                    *id = check.awaited_snapshot().expect("asked for");
                }
            }
            check.step(&mut core, now, input)?;
        }
    }
}
