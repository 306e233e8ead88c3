//! The rules the core applies, and the secrets it hands on: plain values, filled in by
//! whoever reads the configuration.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

/// A string that must never reach a log or a debug print. Shared, not copied: a school's
/// password stands in every one of its rooms.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What the module does with rooms that are not in the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmanaged {
    Allow,
    Deny,
}

impl Unmanaged {
    pub fn as_str(self) -> &'static str {
        match self {
            Unmanaged::Allow => "allow",
            Unmanaged::Deny => "deny",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Bare JIDs (`focus@auth.example`) or domains (`auth.example`) that are never people.
    pub service_jids: Vec<String>,
    pub unmanaged_rooms: Unmanaged,
    pub grace_period: Duration,
    /// Shown to the occupants removed when a session is ended for them.
    pub end_message: String,
}

pub const DEFAULT_END_MESSAGE: &str =
    "Die Stunde ist beendet: die Lehrkraft hat den Raum verlassen.";

impl Default for Policy {
    fn default() -> Self {
        Policy {
            service_jids: vec![],
            unmanaged_rooms: Unmanaged::Allow,
            grace_period: Duration::from_secs(60),
            end_message: DEFAULT_END_MESSAGE.into(),
        }
    }
}
