//! Prometheus metrics. Labels are bounded and impersonal: school ids, states, reasons,
//! results; never room names, nicknames or JIDs.

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::core::{Core, Phase, RequestKind};

pub struct Metrics {
    registry: Registry,
    /// Every family registered, by full name (for checks of dashboards and docs).
    names: Vec<String>,
    pub connected: IntGauge,
    pub synced: IntGauge,
    managed_rooms: IntGauge,
    rooms: IntGaugeVec,
    people: IntGaugeVec,
    pub sessions_started: IntCounterVec,
    pub sessions_ended: IntCounterVec,
    grants: IntCounterVec,
    revocations: IntCounterVec,
    resets: IntCounterVec,
    latency: HistogramVec,
    pub reconnects: IntCounter,
    pub events: IntCounter,
    pub reload_successful: IntGauge,
    pub reload_timestamp: Gauge,
    pub reloads: IntCounterVec,
    pub wrong_passwords: IntCounterVec,
    pub module_problems: IntGauge,
}

const STATES: [&str; 4] = ["idle", "active", "grace", "ending"];

pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Idle => "idle",
        Phase::Active => "active",
        Phase::Grace { .. } => "grace",
        Phase::Ending { .. } => "ending",
    }
}

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
                &["school", "state"],
            )
            .expect("valid metric"),
            people: IntGaugeVec::new(
                Opts::new(
                    "people",
                    "People (not focus or other services) in managed rooms",
                ),
                &["school"],
            )
            .expect("valid metric"),
            sessions_started: counters("sessions_started_total", "Sessions started", &["school"]),
            sessions_ended: counters(
                "sessions_ended_total",
                "Sessions ended, by reason",
                &["school", "reason"],
            ),
            grants: counters(
                "organizer_grants_total",
                "Owner grants to organizers, by result",
                &["result"],
            ),
            revocations: counters(
                "owner_revocations_total",
                "Owner taken back from non-organizers while an organizer is in, by result",
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
                &["school"],
            ),
            module_problems: gauge(
                "module_problems",
                "Problems the Prosody module reports about itself (0 when healthy)",
            ),
            registry,
            names: vec![],
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
        reg(Box::new(m.module_problems.clone()));
        let mut m = m;
        m.names = names;
        m
    }

    /// The full name of every metric family raumwart exports.
    pub fn names(&self) -> &[String] {
        &self.names
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
        for r in core.rooms() {
            managed += 1;
            for state in STATES {
                self.rooms.with_label_values(&[r.school, state]).add(0);
            }
            self.rooms
                .with_label_values(&[r.school, phase_name(r.phase)])
                .inc();
            self.people
                .with_label_values(&[r.school])
                .add(r.people as i64);
        }
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
