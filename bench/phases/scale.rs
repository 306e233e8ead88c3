//! Phase 3: the daemon at scale: start to in sync, memory, CPU per event, re-sync after SIGKILL.

use crate::*;

pub(crate) const SYNC_MAX_MS: f64 = 1_000.0;

pub(crate) const RSS_MAX_MB: f64 = 20.0;

/// Phase 3, as a section of BENCHMARKS.md.
pub(crate) async fn scale_phase(plan: Plan, out: &mut String, checks: &mut Checks) {
    writeln!(out, "\n## 3. The daemon at scale\n").unwrap();
    writeln!(
        out,
        "| managed rooms | start to in sync (map push + snapshot) ms | RSS MB | daemon CPU ms per 1,000 events |\n|---|---|---|---|"
    )
    .unwrap();
    for &n in plan.scales {
        let (sync_ms, rss, cpu) = scale(n).await;
        writeln!(out, "| {n} | {sync_ms:.0} | {rss:.1} | {cpu:.1} |").unwrap();
        check_scale(checks, n, sync_ms, rss);
    }
    let resync = resync(plan.in_session).await;
    writeln!(
        out,
        "\nRe-sync after SIGKILL and restart with {} rooms in session: {resync:.0} ms \
         (targets: in sync < 1 s, RSS < 20 MB at every size up to 10,000 rooms; re-sync < 1 s).\n",
        plan.in_session
    )
    .unwrap();
    check_resync(checks, plan.in_session, resync);
}

pub(crate) fn check_scale(checks: &mut Checks, n: usize, sync_ms: f64, rss: f64) {
    checks.claim(
        &format!("start to in sync, {n} rooms"),
        format!("{sync_ms:.0} ms"),
        "< 1000 ms",
        sync_ms < SYNC_MAX_MS,
    );
    checks.claim(
        &format!("daemon RSS, {n} rooms"),
        format!("{rss:.1} MB"),
        "< 20 MB",
        rss < RSS_MAX_MB,
    );
}

pub(crate) fn check_resync(checks: &mut Checks, n: usize, ms: f64) {
    checks.claim(
        &format!("re-sync after SIGKILL, {n} rooms in session"),
        format!("{ms:.0} ms"),
        "< 1000 ms",
        ms < SYNC_MAX_MS,
    );
}

/// Phase 3: (ms from start to in sync, RSS MB, CPU ms per 1,000 events) at `n` rooms.
pub(crate) async fn scale(n: usize) -> (f64, f64, f64) {
    let env = Env::new(REPO, bench_options(true, "60s"));
    scaled_config(&env, n, "60s");
    let started = Instant::now();
    let mut d = env.spawn_daemon();
    wait_healthy(&env).await;
    let sync_ms = started.elapsed().as_secs_f64() * 1000.0;
    let pid = d.pid();
    let cpu0 = cpu_ms(pid);
    // Events: a teacher enters and leaves rooms (join, grant, leave, reset, destroy).
    let mut focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    let mut t = env.anonymous().await;
    let rounds = n.min(200);
    for i in 0..rounds {
        short_session(&mut focus, &mut t, &room(i)).await;
    }
    let events = (rounds * 4) as f64; // focus join, teacher join, teacher leave, destroy
    let cpu = (cpu_ms(pid) - cpu0) / events * 1000.0;
    let rss = rss_mb(pid);
    d.kill9();
    (sync_ms, rss, cpu)
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
