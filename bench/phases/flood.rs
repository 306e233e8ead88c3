//! Phase 5: a guest's flood, without and with Prosody's mod_limits.

use crate::*;

/// Phase 5: how slow a guest's flood may make an organizer's owner grant.
pub(crate) const FLOOD_GRANT_P99_MS: f64 = 250.0;

/// Rounds per flooding connection at most (the flood's time ends it first).
pub(crate) const FLOOD_MAX_ROUNDS: u64 = 100_000;

/// Prosody's c2s limit as docker-jitsi-meet's template sets it by default.
pub(crate) const C2S_LIMIT: &str = "10kb/s";

/// Phase 5: organizers open a room one after another this often while the flood goes on.
pub(crate) const FLOOD_SESSION_EVERY: Duration = Duration::from_millis(100);

/// Rooms of phase 5: the lesson under the flood and the organizers' rooms.
pub(crate) const FLOOD_ROOMS: usize = 1_000;

pub(crate) const EVENTS: &str = "raumwart_module_events_total";

/// One run of phase 5.
pub(crate) struct FloodRun {
    pub(crate) seconds: f64,
    pub(crate) count: load::FloodCount,
    /// Prosody's CPU time over the flood, as a share of one core.
    pub(crate) busy: f64,
    pub(crate) rss: [f64; 3],
    pub(crate) per_second: String,
    /// Organizer join -> owner and last organizer leaves -> reset, in ms.
    pub(crate) grants: Vec<f64>,
    pub(crate) resets: Vec<f64>,
    pub(crate) events_sent: u64,
    pub(crate) events_counted: u64,
    pub(crate) reconnects: f64,
    pub(crate) raumwart_cpu_s: f64,
}

/// Restarts the Prosody of `env` with mod_limits on client connections as
/// docker-jitsi-meet's template sets it, focus unlimited as Jitsi's configs list it.
pub(crate) fn with_c2s_limit(env: &mut Env) {
    let path = env.dir.join("prosody.cfg.lua");
    let cfg = std::fs::read_to_string(&path).unwrap();
    let limits = format!(
        "http_ports = {{}}\nlimits = {{ c2s = {{ rate = \"{C2S_LIMIT}\" }} }}\n\
         unlimited_jids = {{ \"focus@{AUTH}\" }}\n"
    );
    let limited = cfg
        .replacen("\"ping\"", "\"ping\", \"limits\"", 1)
        .replacen("http_ports = {}\n", &limits, 1);
    assert!(
        limited.contains("\"limits\"") && limited.contains("unlimited_jids"),
        "the harness's Prosody config changed shape:\n{cfg}"
    );
    std::fs::write(&path, limited).unwrap();
    env.restart_prosody();
}

/// One guest floods a lesson (room r-0) for `plan.flood` from several connections, as
/// tests/live/flood.rs does; meanwhile an organizer opens rooms r-1, r-2, ... one after the
/// other (owner granted, then reset as they leave). With `limits`, Prosody runs mod_limits.
pub(crate) async fn flood_run(plan: Plan, limits: bool) -> FloodRun {
    let mut env = Env::new(REPO, bench_options(true, "60s"));
    if limits {
        with_c2s_limit(&mut env);
    }
    scaled_config(&env, FLOOD_ROOMS, "60s");
    let mut d = start_daemon(&env).await;
    let lesson = room(0);
    let mut focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    focus.join(&lesson, "focus", None).await.unwrap();
    let mut teacher = env.anonymous().await;
    teacher
        .join(&lesson, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .unwrap();
    teacher.wait_affiliation(&lesson, "teacher", "owner").await;
    teacher
        .configure(&lesson, &[("muc#roomconfig_roomsecret", CLASS_PASSWORD)])
        .await
        .unwrap();
    let readers = [load::keep_reading(focus), load::keep_reading(teacher)];
    let mut organizer_focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    let mut organizer = env.anonymous().await;
    // Every event before a counted wrong password has reached the daemon.
    let wrong = format!("raumwart_wrong_passwords_total{{school=\"{SCHOOL}\"}}");
    load::refused_guess(env.c2s, &lesson).await;
    d.wait_metric(&wrong, 1.0).await;
    let events_before = d.metrics().await.value(EVENTS);

    let pid = env.prosody_pid();
    let (rss_before, cpu_before, daemon_before) = (rss_mb(pid), cpu_ns(pid), cpu_ms(d.pid()));
    let watch = load::RssWatch::start(pid, Duration::from_millis(100));
    let started = Instant::now();
    let mut flood = Flood::new(env.c2s);
    flood
        .guests(&lesson, CLASS_PASSWORD, load::GUESTS, FLOOD_MAX_ROUNDS)
        .await;
    flood
        .strangers(&lesson, load::STRANGERS, FLOOD_MAX_ROUNDS)
        .await;
    let (mut grants, mut resets) = (vec![], vec![]);
    let mut tick = tokio::time::interval(FLOOD_SESSION_EVERY);
    let mut sessions = 0;
    while started.elapsed() < plan.flood && sessions + 1 < FLOOD_ROOMS {
        tick.tick().await;
        sessions += 1;
        let jid = room(sessions);
        let (grant, reset) = short_session(&mut organizer_focus, &mut organizer, &jid).await;
        grants.push(grant);
        resets.push(reset);
    }
    let count = flood.stop().await;
    let seconds = started.elapsed().as_secs_f64();
    let busy = (cpu_ns(pid) - cpu_before) / 1e9 / seconds;
    let raumwart_cpu_s = (cpu_ms(d.pid()) - daemon_before) / 1000.0;
    let samples = watch.stop();
    let rss_peak = load::peak(&samples).max(load::peak_rss_mb(pid));
    load::refused_guess(env.c2s, &lesson).await;
    d.wait_metric(&wrong, (1 + count.refused + 1) as f64).await;
    let m = d.metrics().await;
    let rss_after = rss_mb(pid);
    for r in readers {
        r.stop().await;
    }
    FloodRun {
        seconds,
        count,
        busy,
        rss: [rss_before, rss_peak, rss_after],
        per_second: load::per_second(&samples),
        grants,
        resets,
        // An organizer's session: focus's join, the organizer's join and leave, the
        // reset's destroy; and the last guess.
        events_sent: count.events() + 4 * sessions as u64 + 1,
        events_counted: (m.value(EVENTS) - events_before) as u64,
        reconnects: m.value("raumwart_xmpp_reconnects_total"),
        raumwart_cpu_s,
    }
}

/// Phase 5, as a section of BENCHMARKS.md: a guest's flood, without and with mod_limits.
pub(crate) async fn flood_phase(plan: Plan, out: &mut String, checks: &mut Checks) {
    let runs = [flood_run(plan, false).await, flood_run(plan, true).await];
    writeln!(out, "## 5. A guest's flood\n").unwrap();
    writeln!(
        out,
        "One guest floods a lesson (focus, the teacher) for {secs:.0} s from {guests} \
         connections that enter with the class password and leave again, and \
         {strangers} that guess (a wrong password, none), each sending {ahead} rounds \
         ahead of Prosody's answers: as fast as Prosody answers. Meanwhile an organizer \
         opens another room every {every} ms (focus creates it, the organizer enters with \
         the school password, is made owner, leaves, the room is reset). Prosody's memory \
         (VmRSS every 100 ms and VmHWM) and CPU time from /proc; before: after the lesson \
         started, after: once the flood stopped and raumwart counted the last guess. Once \
         without and once with Prosody's mod_limits, `limits = {{ c2s = {{ rate = \
         \"{C2S_LIMIT}\" }} }}` as docker-jitsi-meet's template sets it by default \
         (focus in `unlimited_jids`). Targets: RSS growth < {growth} MB, every event the \
         module sent counted by raumwart, no reconnect, owner granted under the flood p99 \
         < {FLOOD_GRANT_P99_MS} ms.\n",
        secs = plan.flood.as_secs_f64(),
        guests = load::GUESTS,
        strangers = load::STRANGERS,
        ahead = load::AHEAD,
        every = FLOOD_SESSION_EVERY.as_millis(),
        growth = load::RSS_GROWTH_MAX_MB,
    )
    .unwrap();
    writeln!(
        out,
        "| | without mod_limits | with mod_limits |\n|---|---|---|"
    )
    .unwrap();
    let row = |out: &mut String, what: &str, f: &dyn Fn(&FloodRun) -> String| {
        writeln!(out, "| {what} | {} | {} |", f(&runs[0]), f(&runs[1])).unwrap();
    };
    row(out, "guests' joins+leaves a second", &|r| {
        format!("{:.0}", (r.count.joins + r.count.leaves) as f64 / r.seconds)
    });
    row(out, "strangers' refused guesses a second", &|r| {
        format!("{:.0}", r.count.refused as f64 / r.seconds)
    });
    row(out, "Prosody CPU (share of one core)", &|r| {
        format!("{:.2}", r.busy)
    });
    row(out, "Prosody RSS before / peak / after, MB", &|r| {
        format!("{:.1} / {:.1} / {:.1}", r.rss[0], r.rss[1], r.rss[2])
    });
    row(out, "organizer join -> owner, p50 / p99 / max ms", &|r| {
        format!(
            "{:.1} / {:.1} / {:.1} ({} samples)",
            percentile(&r.grants, 0.5),
            percentile(&r.grants, 0.99),
            percentile(&r.grants, 1.0),
            r.grants.len()
        )
    });
    row(out, "last organizer leaves -> reset, p50 / p99 ms", &|r| {
        format!(
            "{:.1} / {:.1}",
            percentile(&r.resets, 0.5),
            percentile(&r.resets, 0.99)
        )
    });
    row(out, "events raumwart counted / the module sent", &|r| {
        format!("{} / {}", r.events_counted, r.events_sent)
    });
    row(out, "raumwart CPU, s", &|r| {
        format!("{:.2}", r.raumwart_cpu_s)
    });
    row(out, "raumwart reconnects", &|r| format!("{}", r.reconnects));
    writeln!(out).unwrap();
    for (name, r) in [("without", &runs[0]), ("with", &runs[1])] {
        writeln!(
            out,
            "Prosody RSS once a second {name} mod_limits, MB: {}.\n",
            r.per_second
        )
        .unwrap();
    }
    for (suffix, r) in [("", &runs[0]), (", mod_limits", &runs[1])] {
        let growth = r.rss[1] - r.rss[0];
        checks.must(
            &format!("flood{suffix}: Prosody RSS growth"),
            format!("{growth:.1} MB"),
            &format!("< {} MB", load::RSS_GROWTH_MAX_MB),
            growth < load::RSS_GROWTH_MAX_MB,
        );
        checks.must(
            &format!("flood{suffix}: events counted / sent"),
            format!("{} / {}", r.events_counted, r.events_sent),
            "all",
            r.events_counted == r.events_sent,
        );
        checks.must(
            &format!("flood{suffix}: raumwart reconnects"),
            r.reconnects.to_string(),
            "0",
            r.reconnects == 0.0,
        );
        let p99 = percentile(&r.grants, 0.99);
        checks.claim(
            &format!("flood{suffix}: organizer join -> owner, p99"),
            format!("{p99:.1} ms ({} samples)", r.grants.len()),
            &format!("< {FLOOD_GRANT_P99_MS} ms"),
            p99 < FLOOD_GRANT_P99_MS,
        );
    }
}
