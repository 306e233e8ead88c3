//! The file as written: serde's view of the TOML, spans kept, before validation.

use std::fmt;

use serde::Deserialize;
use toml::Spanned;

use super::Unmanaged;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) xmpp: RawXmpp,
    #[serde(default)]
    pub(super) policy: RawPolicy,
    #[serde(default)]
    pub(super) http: RawHttp,
    pub(super) jitsi: Option<RawJitsi>,
    pub(super) media_centre: Option<RawMediaCentres>,
    #[serde(default)]
    pub(super) console: RawConsole,
    pub(super) register: Option<RawRegister>,
    #[serde(default, rename = "school")]
    pub(super) schools: Vec<Spanned<RawSchool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawXmpp {
    pub(super) server: Spanned<String>,
    pub(super) component: Spanned<String>,
    pub(super) secret_file: Option<Spanned<String>>,
    pub(super) muc: Spanned<String>,
    pub(super) lobby_muc: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    #[serde(default)]
    pub(super) service_jids: Vec<Spanned<String>>,
    pub(super) unmanaged_rooms: Option<Unmanaged>,
    pub(super) grace_period: Option<Spanned<String>>,
    pub(super) end_message: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) listen: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsole {
    pub(super) listen: Option<Spanned<String>>,
    pub(super) database: Option<Spanned<String>>,
    pub(super) idle_timeout: Option<Spanned<String>>,
    pub(super) audit_retention: Option<Spanned<String>>,
    /// The shards that follow this host's register (`[[console.shard]]`).
    #[serde(default, rename = "shard")]
    pub(super) shards: Vec<RawShard>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShard {
    pub(super) name: Spanned<String>,
    pub(super) token_file: Spanned<String>,
}

/// `[register]`: this raumwart follows the register of another host's console.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegister {
    pub(super) follow: Spanned<String>,
    pub(super) token_file: Spanned<String>,
    pub(super) cache: Option<Spanned<String>>,
}

/// The register as a follower caches it: media centres and schools, nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegisterFile {
    pub(super) media_centre: Option<RawMediaCentres>,
    #[serde(default, rename = "school")]
    pub(super) schools: Vec<Spanned<RawSchool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJitsi {
    pub(super) url: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMediaCentre {
    /// Required in a `[[media_centre]]` block, refused in the one `[media_centre]` table.
    pub(super) id: Option<Spanned<String>>,
    pub(super) name: Spanned<String>,
    pub(super) address: Option<Spanned<String>>,
    pub(super) phone: Option<Spanned<String>>,
    pub(super) mail: Option<Spanned<String>>,
}

/// `[media_centre]` (one table, the form from before there were several) or
/// `[[media_centre]]` (blocks with ids).
pub(super) enum RawMediaCentres {
    One(RawMediaCentre),
    Several(Vec<Spanned<RawMediaCentre>>),
}

// By hand rather than `untagged`, which would hide the error inside a table.
impl<'de> Deserialize<'de> for RawMediaCentres {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Centres;
        impl<'de> serde::de::Visitor<'de> for Centres {
            type Value = RawMediaCentres;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("one [media_centre] table, or [[media_centre]] blocks with an id each")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let d = serde::de::value::MapAccessDeserializer::new(map);
                RawMediaCentre::deserialize(d).map(RawMediaCentres::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut all = vec![];
                while let Some(centre) = seq.next_element()? {
                    all.push(centre);
                }
                Ok(RawMediaCentres::Several(all))
            }
        }
        d.deserialize_any(Centres)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchool {
    pub(super) id: Spanned<String>,
    pub(super) name: Option<String>,
    pub(super) media_centre: Option<Spanned<String>>,
    pub(super) password_file: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) rooms: Vec<Spanned<RawRoom>>,
}

pub(super) enum RawRoom {
    Name(String),
    Table(RoomTable),
}

// By hand rather than `untagged`, which would hide the error inside a room table.
impl<'de> Deserialize<'de> for RawRoom {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Room;
        impl<'de> serde::de::Visitor<'de> for Room {
            type Value = RawRoom;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a room name, or a table { name = \"...\", password_file = \"...\" }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawRoom, E> {
                Ok(RawRoom::Name(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawRoom, A::Error> {
                let d = serde::de::value::MapAccessDeserializer::new(map);
                RoomTable::deserialize(d).map(RawRoom::Table)
            }
        }
        d.deserialize_any(Room)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoomTable {
    pub(super) name: String,
    pub(super) password_file: Option<Spanned<String>>,
}
