//! Two managed rooms, their policy and the snapshot a module with them in force answers:
//! the fixtures the core's specification (`core/tests/`) and the fuzz targets share. Not
//! used by the daemon.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{
    MapEntry, Policy, RoomMap, Secret, Snapshot, SnapshotRoom, Unmanaged, MODULE_PROTOCOL,
};

/// A managed room of the school `gs-nord`.
pub const MATHE: &str = "mathe-5a";
/// A managed room of the school `rs-sued`.
pub const PHYSIK: &str = "physik-7b";
/// The service entry (jicofo) in `policy()`, matched exactly.
pub const FOCUS_BARE: &str = "focus@auth.meet.jitsi";
/// The end message in `policy()`.
pub const END: &str = "Die Stunde ist beendet.";

/// MATHE and PHYSIK with their school passwords, generation `test`.
pub fn room_map() -> RoomMap {
    let entry = |school: &str, password: &str| MapEntry {
        school: school.into(),
        password: Secret::new(password),
    };
    let mut rooms = BTreeMap::new();
    rooms.insert(MATHE.to_owned(), entry("gs-nord", "schulpasswort-1"));
    rooms.insert(PHYSIK.to_owned(), entry("rs-sued", "schulpasswort-2"));
    RoomMap {
        gen: "test".into(),
        grace: Duration::from_secs(60),
        unmanaged: Unmanaged::Allow,
        rooms,
    }
}

/// FOCUS_BARE and the JVB's domain as services, unmanaged rooms allowed, END.
pub fn policy(grace: Duration) -> Policy {
    Policy {
        service_jids: vec![FOCUS_BARE.into(), "internal.auth.meet.jitsi".into()],
        unmanaged_rooms: Unmanaged::Allow,
        grace_period: grace,
        end_message: END.into(),
    }
}

/// What a module of this protocol, with `room_map()` in force, answers.
pub fn snapshot(rooms: Vec<SnapshotRoom>) -> Snapshot {
    Snapshot {
        protocol: Some(MODULE_PROTOCOL),
        gen: room_map().gen,
        rooms,
        ..Snapshot::default()
    }
}
