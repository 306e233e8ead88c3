//! Prometheus metrics. Labels are bounded and impersonal: school and media centre ids
//! from the config, states, reasons, results; never room names, nicknames or JIDs.
//!
//! A series with a `school` label carries its `media_centre` too: the id of the school's
//! `[[media_centre]]` block, empty with the single `[media_centre]` table (or none).
//! Prometheus keeps an empty label as no label, so a service with one media centre keeps
//! the series it had before there could be several.

use std::collections::HashMap;
use std::sync::RwLock;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::config::Config;
use crate::core::{Core, RequestKind};

pub struct Metrics {
    registry: Registry,
    /// Every family registered, by full name (for checks of dashboards and docs).
    names: Vec<String>,
    pub connected: IntGauge,
    pub synced: IntGauge,
    managed_rooms: IntGauge,
    rooms: IntGaugeVec,
    people: IntGaugeVec,
    sessions_started: IntCounterVec,
    sessions_ended: IntCounterVec,
    grants: IntCounterVec,
    revocations: IntCounterVec,
    resets: IntCounterVec,
    latency: HistogramVec,
    pub reconnects: IntCounter,
    pub events: IntCounter,
    pub reload_successful: IntGauge,
    pub reload_timestamp: Gauge,
    pub reloads: IntCounterVec,
    wrong_passwords: IntCounterVec,
    focus_insisted: IntCounterVec,
    pub module_problems: IntGauge,
    /// school id -> its `media_centre` label, from the configuration.
    media_centres: RwLock<HashMap<String, String>>,
}

const STATES: [&str; 4] = ["idle", "active", "grace", "ending"];

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("raumwart".into()), None).expect("registry");
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric");
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        let counters = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
        };

        let build_info = IntGaugeVec::new(
            Opts::new("build_info", "raumwart's version; always 1"),
            &["version"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry
            .register(Box::new(build_info))
            .expect("metric names are unique");

        let m = Metrics {
            connected: gauge(
                "xmpp_connected",
                "1 while the component connection to Prosody is up",
            ),
            synced: gauge(
                "xmpp_synced",
                "1 once the room map is pushed and a snapshot applied",
            ),
            managed_rooms: gauge("managed_rooms", "Rooms in the room map"),
            rooms: IntGaugeVec::new(
                Opts::new("rooms", "Managed rooms by school and state"),
                &["media_centre", "school", "state"],
            )
            .expect("valid metric"),
            people: IntGaugeVec::new(
                Opts::new(
                    "people",
                    "People (not focus or other services) in managed rooms",
                ),
                &["media_centre", "school"],
            )
            .expect("valid metric"),
            sessions_started: counters(
                "sessions_started_total",
                "Sessions started",
                &["media_centre", "school"],
            ),
            sessions_ended: counters(
                "sessions_ended_total",
                "Sessions ended, by reason",
                &["media_centre", "school", "reason"],
            ),
            grants: counters(
                "organizer_grants_total",
                "Owner grants to organizers, by result",
                &["result"],
            ),
            revocations: counters(
                "owner_revocations_total",
                "Owner taken back from non-organizers while an organizer is in or the grace period \
                 runs, by result",
                &["result"],
            ),
            resets: counters("resets_total", "Room resets, by result", &["result"]),
            latency: HistogramVec::new(
                HistogramOpts::new(
                    "action_latency_seconds",
                    "From the event that caused an action to Prosody's answer",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
                ]),
                &["action"],
            )
            .expect("valid metric"),
            reconnects: counter(
                "xmpp_reconnects_total",
                "Connections to Prosody after the first",
            ),
            events: counter(
                "module_events_total",
                "Events received from the Prosody module",
            ),
            reload_successful: gauge(
                "config_last_reload_successful",
                "1 if the last configuration load succeeded",
            ),
            reload_timestamp: Gauge::new(
                "config_last_reload_success_timestamp_seconds",
                "Unix time of the last successful configuration load",
            )
            .expect("valid metric"),
            reloads: counters(
                "config_reloads_total",
                "Configuration reloads, by result",
                &["result"],
            ),
            wrong_passwords: counters(
                "wrong_passwords_total",
                "Joins to managed rooms refused for a wrong or missing password",
                &["media_centre", "school"],
            ),
            focus_insisted: counters(
                "owners_left_to_focus_total",
                "People focus made owner again after raumwart took it back (jicofo's \
                 authentication on): raumwart leaves them owner instead of fighting focus",
                &["media_centre", "school"],
            ),
            module_problems: gauge(
                "module_problems",
                "Problems the Prosody module reports about itself (0 when healthy)",
            ),
            registry,
            names: vec![],
            media_centres: RwLock::default(),
        };
        let mut names = vec!["raumwart_build_info".to_owned()];
        let mut reg = |c: Box<dyn prometheus::core::Collector>| {
            // The registry adds the prefix when it gathers.
            names.extend(c.desc().iter().map(|d| format!("raumwart_{}", d.fq_name)));
            m.registry.register(c).expect("metric names are unique");
        };
        reg(Box::new(m.connected.clone()));
        reg(Box::new(m.synced.clone()));
        reg(Box::new(m.managed_rooms.clone()));
        reg(Box::new(m.rooms.clone()));
        reg(Box::new(m.people.clone()));
        reg(Box::new(m.sessions_started.clone()));
        reg(Box::new(m.sessions_ended.clone()));
        reg(Box::new(m.grants.clone()));
        reg(Box::new(m.revocations.clone()));
        reg(Box::new(m.resets.clone()));
        reg(Box::new(m.latency.clone()));
        reg(Box::new(m.reconnects.clone()));
        reg(Box::new(m.events.clone()));
        reg(Box::new(m.reload_successful.clone()));
        reg(Box::new(m.reload_timestamp.clone()));
        reg(Box::new(m.reloads.clone()));
        reg(Box::new(m.wrong_passwords.clone()));
        reg(Box::new(m.focus_insisted.clone()));
        reg(Box::new(m.module_problems.clone()));
        let mut m = m;
        m.names = names;
        m
    }

    /// The full name of every metric family raumwart exports.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Takes the media centre of each school from a configuration just loaded. A school
    /// no longer configured keeps its last one, for a late note about its room; a
    /// counter keeps what it counted under the media centre it was counted for (history),
    /// and counts under the new one from now on.
    pub fn use_config(&self, config: &Config) {
        let mut map = self
            .media_centres
            .write()
            .unwrap_or_else(|e| e.into_inner());
        for school in &config.schools {
            let label = school.media_centre.clone().unwrap_or_default();
            map.insert(school.id.clone(), label);
        }
    }

    /// The `media_centre` label of `school`'s series.
    fn media_centre(&self, school: &str) -> String {
        let map = self.media_centres.read().unwrap_or_else(|e| e.into_inner());
        map.get(school).cloned().unwrap_or_default()
    }

    pub fn session_started(&self, school: &str) {
        let centre = self.media_centre(school);
        self.sessions_started
            .with_label_values(&[&centre, school])
            .inc();
    }

    pub fn session_ended(&self, school: &str, reason: &str) {
        let centre = self.media_centre(school);
        self.sessions_ended
            .with_label_values(&[&centre, school, reason])
            .inc();
    }

    pub fn wrong_password(&self, school: &str) {
        let centre = self.media_centre(school);
        self.wrong_passwords
            .with_label_values(&[&centre, school])
            .inc();
    }

    pub fn focus_insisted(&self, school: &str) {
        let centre = self.media_centre(school);
        self.focus_insisted
            .with_label_values(&[&centre, school])
            .inc();
    }

    /// Records the configuration read at start: successful, with its time, but no reload
    /// (`raumwart_config_reloads_total` counts reloads only).
    pub fn config_loaded_at_start(&self) {
        self.reload_successful.set(1);
        self.stamp_success();
    }

    /// Records a reload of the configuration, successful or refused.
    pub fn config_loaded(&self, ok: bool) {
        self.reload_successful.set(i64::from(ok));
        self.reloads
            .with_label_values(&[if ok { "success" } else { "failure" }])
            .inc();
        if ok {
            self.stamp_success();
        }
    }

    fn stamp_success(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        self.reload_timestamp.set(now.as_secs_f64());
    }

    /// Counts Prosody's answer to a request of `kind`, `seconds` after its cause: the
    /// one place that names the metrics of answers.
    pub fn answered(&self, kind: RequestKind, ok: bool, seconds: f64) {
        let (counter, latency) = match kind {
            RequestKind::GrantOwner => (&self.grants, Some("grant_owner")),
            RequestKind::RevokeOwner => (&self.revocations, None),
            RequestKind::Reset => (&self.resets, Some("reset")),
            RequestKind::PushMap | RequestKind::Snapshot => return,
        };
        let result = if ok { "ok" } else { "failed" };
        counter.with_label_values(&[result]).inc();
        if let Some(action) = latency {
            self.latency.with_label_values(&[action]).observe(seconds);
        }
    }

    /// Renders the text format, with the room gauges read from the core now.
    pub fn render(&self, core: &Core) -> String {
        self.rooms.reset();
        self.people.reset();
        let mut managed = 0;
        let map = self.media_centres.read().unwrap_or_else(|e| e.into_inner());
        for r in core.rooms() {
            managed += 1;
            let centre = map.get(r.school).map_or("", String::as_str);
            for state in STATES {
                self.rooms
                    .with_label_values(&[centre, r.school, state])
                    .add(0);
            }
            self.rooms
                .with_label_values(&[centre, r.school, r.phase.as_str()])
                .inc();
            self.people
                .with_label_values(&[centre, r.school])
                .add(r.people as i64);
        }
        drop(map);
        self.managed_rooms.set(managed);
        let mut out = vec![];
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into memory");
        String::from_utf8(out).expect("text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config;

    fn fixture(name: &str) -> Config {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/valid")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        config::parse(&path, &text, None).unwrap()
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn series_of_a_school_carry_its_media_centre() {
        let c = fixture("media-centres.toml");
        let m = Metrics::new();
        m.use_config(&c);
        m.session_started("gs-nachbarort");
        m.session_ended("gs-musterstadt", "forced");
        m.wrong_password("rs-beispiel");
        let core = Core::new(c.room_map(), c.policy.clone());
        let text = m.render(&core);
        let lines = samples(&text);
        for wanted in [
            "raumwart_rooms{media_centre=\"kmz_nachbarkreis.2\",school=\"gs-nachbarort\",state=\"idle\"} 1",
            "raumwart_rooms{media_centre=\"kmz-beispielkreis\",school=\"rs-beispiel\",state=\"active\"} 0",
            "raumwart_people{media_centre=\"kmz-beispielkreis\",school=\"gs-musterstadt\"} 0",
            "raumwart_sessions_started_total{media_centre=\"kmz_nachbarkreis.2\",school=\"gs-nachbarort\"} 1",
            "raumwart_sessions_ended_total{media_centre=\"kmz-beispielkreis\",reason=\"forced\",school=\"gs-musterstadt\"} 1",
            "raumwart_wrong_passwords_total{media_centre=\"kmz-beispielkreis\",school=\"rs-beispiel\"} 1",
        ] {
            assert!(lines.contains(&wanted), "{wanted} not in:\n{text}");
        }
        // Bounded: the labels are the config's ids, nothing else.
        let values: std::collections::BTreeSet<&str> = text
            .split("media_centre=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(
            values.into_iter().collect::<Vec<_>>(),
            ["kmz-beispielkreis", "kmz_nachbarkreis.2"]
        );
        promtool_clean(&text);
    }

    #[test]
    fn a_reload_moves_a_school_to_its_new_media_centre() {
        let c = fixture("media-centres.toml");
        let m = Metrics::new();
        m.use_config(&c);
        m.session_started("gs-nachbarort");
        let mut moved = c.clone();
        for s in &mut moved.schools {
            if s.id == "gs-nachbarort" {
                s.media_centre = Some("kmz-beispielkreis".into());
            }
        }
        m.use_config(&moved);
        m.session_started("gs-nachbarort");
        let text = m.render(&Core::new(moved.room_map(), moved.policy.clone()));
        let lines = samples(&text);
        // Gauges follow at once; a counter keeps what it counted before under the old one.
        assert!(lines.contains(&"raumwart_rooms{media_centre=\"kmz-beispielkreis\",school=\"gs-nachbarort\",state=\"idle\"} 1"), "{text}");
        assert!(
            !text.contains("raumwart_rooms{media_centre=\"kmz_nachbarkreis.2\""),
            "{text}"
        );
        assert!(lines.contains(&"raumwart_sessions_started_total{media_centre=\"kmz-beispielkreis\",school=\"gs-nachbarort\"} 1"), "{text}");
        assert!(lines.contains(&"raumwart_sessions_started_total{media_centre=\"kmz_nachbarkreis.2\",school=\"gs-nachbarort\"} 1"), "{text}");
    }

    #[test]
    fn the_one_media_centre_table_gives_an_empty_label() {
        let c = fixture("full.toml");
        let m = Metrics::new();
        m.use_config(&c);
        m.session_started("rs_beispiel");
        let text = m.render(&Core::new(c.room_map(), c.policy.clone()));
        let lines = samples(&text);
        assert!(
            lines.contains(
                &"raumwart_sessions_started_total{media_centre=\"\",school=\"rs_beispiel\"} 1"
            ),
            "{text}"
        );
        assert!(
            lines.contains(&"raumwart_people{media_centre=\"\",school=\"gs-muellheim\"} 0"),
            "{text}"
        );
        promtool_clean(&text);
    }

    /// `promtool check metrics`, where Prometheus's tools are installed (CI has them).
    fn promtool_clean(text: &str) {
        use std::io::Write;
        let child = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "promtool is missing"
            );
            eprintln!("SKIPPED: promtool check metrics (no promtool)");
            return;
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
