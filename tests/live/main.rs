//! The tests that start a real Prosody each (the kit's `Env`) and the real raumwart
//! beside it. `.ci/run` runs them again against Prosody 13 in both config shapes.
//! `cargo test --test live`, or one file: `cargo test --test live lifecycle::`.

mod browser_kit;
mod campaign;
mod console;
mod console_browser;
mod demo;
mod doctor;
mod end_conference;
mod faults;
mod flood;
mod focus_roles;
mod hostile;
mod http_endpoint;
mod jitsi_client;
mod lifecycle;
mod lobby;
mod module;
mod module_skew;
mod operations;
mod prosody_versions;
mod restart;
mod room_names;
mod school_cli;
mod school_live;
mod session_rules;
mod setup;
mod shards;
mod standby;

/// This crate's folder and binary, for the kit.
const REPO: testkit::Repo = testkit::repo!();
