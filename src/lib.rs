//! raumwart keeps the Jitsi Meet conference rooms of schools in order.
//!
//! `core` decides, everything else carries: `config` reads the TOML file, `protocol`
//! translates between the Prosody module's stanzas and the core's inputs and actions,
//! `xmpp` runs the component connection.

pub mod config;
pub mod core;
pub mod protocol;
pub mod xmpp;
