//! The tests that need the machine's tools: the Debian package (cargo-deb; installing it
//! needs root and dpkg), the systemd units (systemd-analyze), the dashboard and alerts
//! (promtool), the docker-jitsi-meet files. `cargo test --test system`.
//!
//! `install` starts a Prosody too: `.ci/run` runs it against Prosody 13 as well.

mod dashboard;
mod docker_jitsi_meet;
mod install;
mod install_console;
mod package;
mod systemd;

/// This crate's folder and binary, for the kit.
const REPO: testkit::Repo = testkit::repo!();
