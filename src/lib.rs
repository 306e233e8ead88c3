//! raumwart keeps the Jitsi Meet conference rooms of schools in order.
//!
//! `core` decides, everything else carries: `config` reads the TOML file, `protocol`
//! translates between the Prosody module's stanzas and the core's inputs and requests,
//! `xmpp` runs one component session, `daemon` the loop that owns
//! core and session, `http` and `metrics` the operator's view.

pub mod cli;
pub mod config;
pub mod control;
pub mod core;
pub mod daemon;
pub mod daemon_user;
pub mod http;
pub mod letter;
pub mod link;
pub mod metrics;
pub mod password;
pub mod protocol;
pub mod register;
pub mod room_names;
pub mod school;
pub mod xmpp;
