//! Phase 3: the daemon at scale: start to in sync, memory, CPU per event, re-sync after SIGKILL.

use crate::*;

/// Start to in sync, and RSS, up to [`SMALL_UP_TO`] rooms and above.
pub(crate) const SYNC_MAX_MS: f64 = 150.0;
pub(crate) const RSS_MAX_MB: f64 = 20.0;
pub(crate) const SMALL_UP_TO: usize = 10_000;
pub(crate) const LARGE_SYNC_MAX_MS: f64 = 1_000.0;
pub(crate) const LARGE_RSS_MAX_MB: f64 = 64.0;
/// What the module's map may hold in Prosody (its RSS with the map less without), and
/// how long `raumwart check` of the config may take, at every size.
pub(crate) const MAP_MAX_MB: f64 = 64.0;
pub(crate) const CHECK_MAX_MS: f64 = 1_000.0;
/// The daemon's `/status` (every room, as `raumwart status` and the console read it).
pub(crate) const STATUS_MAX_MS: f64 = 1_000.0;
/// Re-sync after SIGKILL.
pub(crate) const RESYNC_MAX_MS: f64 = 1_000.0;

/// The daemon's CPU per 1,000 events at [`PER_EVENT_LARGE`] rooms against the figure at
/// [`PER_EVENT_SMALL`]: at most this ratio (cost per event independent of the rooms).
pub(crate) const PER_EVENT_RATIO_MAX: f64 = 1.2;
pub(crate) const PER_EVENT_SMALL: usize = 1_000;
pub(crate) const PER_EVENT_LARGE: usize = 100_000;

/// What phase 3 measures at one size.
pub(crate) struct Scale {
    pub(crate) rooms: usize,
    pub(crate) sync_ms: f64,
    pub(crate) rss: f64,
    /// Prosody's RSS after the map was pushed less before, MB.
    pub(crate) map_mb: f64,
    /// `raumwart check` of the config, wall time.
    pub(crate) check_ms: f64,
    /// The daemon's `/status` answer, wall time (before the RSS is read).
    pub(crate) status_ms: f64,
    /// The daemon's CPU (all its threads, schedstat) per 1,000 events, ms: the median of
    /// the slices.
    pub(crate) daemon_cpu: f64,
    /// Prosody's CPU per 1,000 events, ms (MUC, module and all): the median of the slices.
    pub(crate) prosody_cpu: f64,
    pub(crate) events: usize,
    /// Each slice's figures, daemon and Prosody, in the order run.
    pub(crate) slices: Vec<(f64, f64)>,
}

/// Phase 3, as a section of BENCHMARKS.md.
pub(crate) async fn scale_phase(plan: Plan, out: &mut String, checks: &mut Checks) {
    writeln!(out, "\n## 3. The daemon at scale\n").unwrap();
    writeln!(
        out,
        "CPU per 1,000 events: {} short sessions in the first rooms (focus opens the \
         room, a teacher enters with the school password, is made owner, leaves, the room \
         is reset: 4 events each), in {SLICES} slices, the sizes taking turns slice by \
         slice (each its own Prosody and daemon, all started first); the median slice, CPU \
         time from schedstat in ns (the daemon's threads summed).\n",
        plan.scale_sessions
    )
    .unwrap();
    writeln!(
        out,
        "| managed rooms | start to in sync (config, map push, snapshot) ms | daemon RSS MB | the map in Prosody MB | `raumwart check` ms | `/status` ms | daemon CPU ms per 1,000 events | Prosody CPU ms per 1,000 events |\n|---|---|---|---|---|---|---|---|"
    )
    .unwrap();
    let sizes = scales(plan.scales, plan.scale_sessions).await;
    for m in &sizes {
        let n = m.rooms;
        writeln!(
            out,
            "| {n} | {:.0} | {:.1} | {:.1} | {:.0} | {:.0} | {:.1} | {:.0} |",
            m.sync_ms, m.rss, m.map_mb, m.check_ms, m.status_ms, m.daemon_cpu, m.prosody_cpu
        )
        .unwrap();
        check_scale(checks, m);
    }
    check_per_event(checks, &sizes);
    let resync = resync(plan.in_session).await;
    writeln!(
        out,
        "\nRe-sync after SIGKILL and restart with {} rooms in session: {resync:.0} ms \
         (targets: in sync < 150 ms and daemon RSS < 20 MB up to 10,000 rooms, < 1 s and \
         < 64 MB above, read after a `/status`; the map in Prosody < 64 MB, `raumwart check` \
         and `/status` < 1 s at every size; \
         re-sync < 1 s; daemon CPU per 1,000 events at 100,000 rooms within 1.2x of the \
         figure at 1,000). The rooms are in schools of {ROOMS_PER_SCHOOL}, each school with \
         its own password file, as in a state's register.\n",
        plan.in_session
    )
    .unwrap();
    check_resync(checks, plan.in_session, resync);
}

pub(crate) fn check_scale(checks: &mut Checks, m: &Scale) {
    let (n, sync_ms, rss) = (m.rooms, m.sync_ms, m.rss);
    let (sync_max, rss_max) = match n <= SMALL_UP_TO {
        true => (SYNC_MAX_MS, RSS_MAX_MB),
        false => (LARGE_SYNC_MAX_MS, LARGE_RSS_MAX_MB),
    };
    checks.claim(
        &format!("start to in sync, {n} rooms"),
        format!("{sync_ms:.0} ms"),
        &format!("< {sync_max} ms"),
        sync_ms < sync_max,
    );
    checks.claim(
        &format!("daemon RSS, {n} rooms"),
        format!("{rss:.1} MB"),
        &format!("< {rss_max} MB"),
        rss < rss_max,
    );
    checks.claim(
        &format!("the map in Prosody, {n} rooms"),
        format!("{:.1} MB", m.map_mb),
        &format!("< {MAP_MAX_MB} MB"),
        m.map_mb < MAP_MAX_MB,
    );
    checks.claim(
        &format!("raumwart check, {n} rooms"),
        format!("{:.0} ms", m.check_ms),
        &format!("< {CHECK_MAX_MS} ms"),
        m.check_ms < CHECK_MAX_MS,
    );
    checks.claim(
        &format!("/status, {n} rooms"),
        format!("{:.0} ms", m.status_ms),
        &format!("< {STATUS_MAX_MS} ms"),
        m.status_ms < STATUS_MAX_MS,
    );
}

/// With both [`PER_EVENT_SMALL`] and [`PER_EVENT_LARGE`] measured: the ratio of the
/// daemon's CPU per event.
pub(crate) fn check_per_event(checks: &mut Checks, sizes: &[Scale]) {
    let at = |n| sizes.iter().find(|m| m.rooms == n);
    let (Some(small), Some(large)) = (at(PER_EVENT_SMALL), at(PER_EVENT_LARGE)) else {
        return;
    };
    let ratio = large.daemon_cpu / small.daemon_cpu;
    checks.claim(
        "daemon CPU per event, 100000 rooms / 1000 rooms",
        format!(
            "{ratio:.2} ({:.1} / {:.1} ms per 1,000)",
            large.daemon_cpu, small.daemon_cpu
        ),
        &format!("<= {PER_EVENT_RATIO_MAX}"),
        ratio <= PER_EVENT_RATIO_MAX,
    );
}

pub(crate) fn check_resync(checks: &mut Checks, n: usize, ms: f64) {
    checks.claim(
        &format!("re-sync after SIGKILL, {n} rooms in session"),
        format!("{ms:.0} ms"),
        &format!("< {RESYNC_MAX_MS} ms"),
        ms < RESYNC_MAX_MS,
    );
}

/// The slices the sessions of a size are measured in.
pub(crate) const SLICES: usize = 5;

/// Nanoseconds all threads of `pid` have run on a CPU (schedstat of each task).
pub(crate) fn threads_cpu_ns(pid: u32) -> f64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
    let ns: f64 = tasks
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .sum();
    if ns > 0.0 {
        ns
    } else {
        cpu_ms(pid) * 1e6
    }
}

/// One size of phase 3, running: its Prosody, its daemon in sync, focus and a teacher.
pub(crate) struct Sized {
    env: Env,
    daemon: Daemon,
    focus: Client,
    teacher: Client,
    rooms: usize,
    sync_ms: f64,
    map_mb: f64,
    check_ms: f64,
    status_ms: f64,
    next: usize,
    daemon_cpu: Vec<f64>,
    prosody_cpu: Vec<f64>,
}

impl Sized {
    /// Prosody and the daemon with `n` rooms, from the daemon's start to in sync.
    pub(crate) async fn start(n: usize) -> Sized {
        let env = Env::new(REPO, bench_options(true, "60s"));
        scaled_config(&env, n, "60s");
        let check_ms = check_config(&env);
        let without_map = rss_mb(env.prosody_pid());
        let started = Instant::now();
        let daemon = env.spawn_daemon();
        wait_healthy(&env).await;
        let sync_ms = started.elapsed().as_secs_f64() * 1000.0;
        let map_mb = rss_mb(env.prosody_pid()) - without_map;
        let focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
        let teacher = env.anonymous().await;
        Sized {
            env,
            daemon,
            focus,
            teacher,
            rooms: n,
            sync_ms,
            map_mb,
            check_ms,
            status_ms: 0.0,
            next: 0,
            daemon_cpu: vec![],
            prosody_cpu: vec![],
        }
    }

    /// `sessions` short sessions in the next rooms (cycling through them), with the
    /// daemon's and Prosody's CPU per 1,000 events they cost.
    pub(crate) async fn slice(&mut self, sessions: usize) {
        let (pid, prosody) = (self.daemon.pid(), self.env.prosody_pid());
        let (d0, p0) = (threads_cpu_ns(pid), cpu_ns(prosody));
        for _ in 0..sessions {
            let jid = room(self.next % self.rooms);
            short_session(&mut self.focus, &mut self.teacher, &jid).await;
            self.next += 1;
        }
        // focus join, teacher join, teacher leave, destroy
        let per_1000 = |ns: f64| ns / 1e6 / (sessions * 4) as f64 * 1000.0;
        self.daemon_cpu.push(per_1000(threads_cpu_ns(pid) - d0));
        self.prosody_cpu.push(per_1000(cpu_ns(prosody) - p0));
    }

    /// Times the daemon's `/status`, which lists every room.
    pub(crate) async fn time_status(&mut self) {
        let started = Instant::now();
        let (code, body) = self.daemon.get("/status").await.expect("GET /status");
        self.status_ms = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(code, 200, "/status answered {code}");
        let rooms = body.matches("\"room\":").count();
        assert_eq!(
            rooms, self.rooms,
            "/status listed {rooms} of {} rooms",
            self.rooms
        );
    }

    pub(crate) fn finish(mut self) -> Scale {
        let rss = rss_mb(self.daemon.pid());
        self.daemon.kill9();
        Scale {
            rooms: self.rooms,
            sync_ms: self.sync_ms,
            rss,
            map_mb: self.map_mb,
            check_ms: self.check_ms,
            status_ms: self.status_ms,
            daemon_cpu: percentile(&self.daemon_cpu, 0.5),
            prosody_cpu: percentile(&self.prosody_cpu, 0.5),
            events: self.next * 4,
            slices: self.daemon_cpu.into_iter().zip(self.prosody_cpu).collect(),
        }
    }
}

/// Phase 3 at each of `sizes`: all started one after the other (each its own Prosody
/// and daemon), then `sessions` short sessions each in [`SLICES`] slices, the sizes
/// taking turns slice by slice (the order rotated each slice), so that every size meets
/// the same spells of a shared machine.
pub(crate) async fn scales(sizes: &[usize], sessions: usize) -> Vec<Scale> {
    let mut running = vec![];
    for &n in sizes {
        running.push(Sized::start(n).await);
    }
    let per_slice = sessions.div_ceil(SLICES).max(1);
    for slice in 0..SLICES {
        let k = running.len();
        for i in 0..k {
            running[(i + slice) % k].slice(per_slice).await;
        }
    }
    for size in &mut running {
        size.time_status().await;
    }
    running.into_iter().map(Sized::finish).collect()
}

/// `raumwart check` of `env`'s daemon config, ms of wall time; it must pass.
fn check_config(env: &Env) -> f64 {
    let started = Instant::now();
    let out = std::process::Command::new(REPO.binary)
        .arg("check")
        .arg("--config")
        .arg(env.daemon_config_path())
        .output()
        .unwrap();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    assert!(
        out.status.success(),
        "raumwart check refused the bench's config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ms
}

/// Phase 3b: ms from restart to in sync with `n` rooms in session.
pub(crate) async fn resync(n: usize) -> f64 {
    let env = Env::new(REPO, bench_options(true, "60s"));
    scaled_config(&env, n, "60s");
    let mut d = start_daemon(&env).await;
    let mut focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    let mut t = env.anonymous().await;
    for i in 0..n {
        focus.join(&room(i), "focus", None).await.unwrap();
        t.join(&room(i), "teacher", Some(SCHOOL_PASSWORD))
            .await
            .unwrap();
    }
    t.wait_affiliation(&room(n - 1), "teacher", "owner").await;
    d.kill9();
    let started = Instant::now();
    let _d2 = env.spawn_daemon();
    wait_healthy(&env).await;
    started.elapsed().as_secs_f64() * 1000.0
}
