//! raumwart keeps the Jitsi Meet conference rooms of schools in order.
//!
//! `core` decides, everything else carries: `config` reads the TOML file, `component`
//! talks to Prosody, `daemon` runs the loop that owns core and session, `schools` edits
//! the register for the media centre, `console` serves the media centres' web console
//! (a process of its own, reaching the daemon through its control socket), `register`
//! carries one register to the raumwart of every shard.

#![warn(unreachable_pub)]

pub mod cli;
pub mod config;
pub mod console;
pub mod core;
pub mod doctor;
pub mod register;
pub mod schools;
pub mod setup;

mod cmd;
mod component;
mod daemon;

pub use cmd::run;
pub use component::{protocol, stream};
pub use daemon::{control, http, metrics, BACKOFF_MAX};
