//! Phase 2: how fast raumwart reacts: owner granted, room reset, grace expired, and a
//! student focus promoted taken back.

use crate::*;

/// The targets, as the results table and the checks use them.
pub(crate) const GRANT_P99_MS: f64 = 2.0;

pub(crate) const RESET_P99_MS: f64 = 2.0;

pub(crate) const GRACE_P99_MS: f64 = 3.0;

/// Owner taken back as fast as owner given (issue 20, point 3).
pub(crate) const TAKE_BACK_P99_MS: f64 = 2.0;

/// The grace period of phase 2's grace samples.
pub(crate) const LATENCY_GRACE: &str = "1s";

/// Phase 2, as a section of BENCHMARKS.md.
pub(crate) async fn latency_phase(plan: Plan, out: &mut String, checks: &mut Checks) {
    writeln!(out, "## 2. Reaction latency\n").unwrap();
    writeln!(
        out,
        "From the presence echo that triggers it to what a client sees, {} samples each; \
         the grace expiry from the teacher's leave echo plus the grace period (1 s) to the \
         student's removal, signed (negative: the daemon acted before the client-side \
         deadline); the take-back from the student's presence with owner, which focus's \
         auto-owner (as jicofo's AutoOwnerRoleManager) granted when the teacher left, to \
         the student's presence without it, both as the student's client sees them (after \
         each sample the teacher comes back and the student leaves and re-enters, so that \
         focus elects again at the teacher's next leave).\n",
        plan.latency_samples
    )
    .unwrap();
    writeln!(
        out,
        "| reaction | p50 ms | p99 ms | min ms | max ms | target p99 |\n|---|---|---|---|---|---|"
    )
    .unwrap();
    let l = latencies(plan, false, false).await;
    for (name, samples, target) in [
        ("organizer join -> owner granted", &l.grant, GRANT_P99_MS),
        (
            "last organizer leaves -> room reset",
            &l.reset,
            RESET_P99_MS,
        ),
        ("grace deadline -> everyone out", &l.grace, GRACE_P99_MS),
        (
            "focus promotes a student -> owner taken back",
            &l.take_back,
            TAKE_BACK_P99_MS,
        ),
    ] {
        writeln!(
            out,
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | < {target} ms |",
            percentile(samples, 0.5),
            percentile(samples, 0.99),
            percentile(samples, 0.0),
            percentile(samples, 1.0)
        )
        .unwrap();
    }
    check_latencies(checks, &l);
}

pub(crate) fn check_latencies(checks: &mut Checks, l: &Latencies) {
    for (what, v, target) in [
        ("organizer join -> owner, p99", &l.grant, GRANT_P99_MS),
        (
            "last organizer leaves -> reset, p99",
            &l.reset,
            RESET_P99_MS,
        ),
        (
            "grace deadline -> everyone out, p99",
            &l.grace,
            GRACE_P99_MS,
        ),
        (
            "focus promotes a student -> taken back, p99",
            &l.take_back,
            TAKE_BACK_P99_MS,
        ),
    ] {
        let p99 = percentile(v, 0.99);
        checks.claim(
            what,
            format!("{p99:.2} ms ({} samples)", v.len()),
            &format!("< {target} ms"),
            p99 < target,
        );
    }
}

/// Focus opens `jid`, the teacher enters with the school password, is made owner and
/// leaves; the room is reset. Returns (ms to owner after the join echo, ms to the reset
/// after the leave echo).
pub(crate) async fn short_session(focus: &mut Client, t: &mut Client, jid: &str) -> (f64, f64) {
    focus.join(jid, "focus", None).await.unwrap();
    t.join(jid, "teacher", Some(SCHOOL_PASSWORD)).await.unwrap();
    t.wait_affiliation(jid, "teacher", "owner").await;
    let grant = ms(t.joined_at, t.arrived);
    t.leave(jid, "teacher").await;
    let left = t.arrived;
    focus.wait_removed(jid, "focus").await;
    (grant, ms(left, focus.arrived))
}

/// Phase 2's samples in ms, and with `--trace` where the grace expiry's time went.
pub(crate) struct Latencies {
    pub(crate) grant: Vec<f64>,
    pub(crate) reset: Vec<f64>,
    pub(crate) grace: Vec<f64>,
    pub(crate) take_back: Vec<f64>,
    pub(crate) trace: Option<String>,
}

/// The daemon's timing lines: (microseconds since the epoch, what, late_us of a timer or
/// the stanzas sent in answer to what was handled).
pub(crate) fn timing_lines(log: &str) -> Vec<(i128, String, i128)> {
    let field = |line: &str, name: &str| -> Option<i128> {
        let rest = line.split(&format!(" {name}=")).nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    };
    log.lines()
        .filter_map(|line| {
            let at = field(line, "at_us")?;
            let what = ["in", "timer", "sent", "handled"]
                .into_iter()
                .find(|w| line.contains(&format!(" {w} ")) || line.ends_with(&format!(" {w}")))?;
            let third = field(line, "late_us").or_else(|| field(line, "sent"));
            Some((at, what.to_owned(), third.unwrap_or(0)))
        })
        .collect()
}

/// Wall-clock microseconds of a moment measured with `Instant` (recent: no drift).
pub(crate) fn unix_us(at: Instant) -> i128 {
    let (now, wall) = (Instant::now(), std::time::SystemTime::now());
    let wall = wall
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i128;
    wall - now.saturating_duration_since(at).as_micros() as i128
}

/// Splits each grace sample (teacher's leave echo c1, student's removal c2, both wall
/// clock us) with the daemon's timing lines into: leave event seen by the daemon after
/// the client (skew), timer lateness against the daemon's own deadline, daemon work from
/// timer to destroy sent, and Prosody plus the client from destroy sent to the removal
/// seen; also Prosody's answer to the destroy.
pub(crate) fn grace_breakdown(samples: &[(i128, i128)], log: &str) -> String {
    let lines = timing_lines(log);
    let mut parts: Vec<[f64; 6]> = vec![];
    for &(c1, c2) in samples {
        let ms = |us: i128| us as f64 / 1000.0;
        let Some(sent) = lines
            .iter()
            .position(|(at, w, ..)| w == "sent" && *at > c1 + 500_000 && *at < c2 + 100_000)
        else {
            continue;
        };
        let Some(timer) = lines[..sent].iter().rposition(|(_, w, ..)| w == "timer") else {
            continue;
        };
        let event = lines[..timer]
            .iter()
            .filter(|(at, w, ..)| w == "in" && (at - c1).abs() < 100_000)
            .min_by_key(|(at, ..)| (at - c1).abs());
        let answer = lines[sent..].iter().find(|(_, w, ..)| w == "in");
        let (Some(event), Some(answer)) = (event, answer) else {
            continue;
        };
        let sent_at = lines[sent].0;
        parts.push([
            ms(c2 - c1 - 1_000_000),
            ms(event.0 - c1),
            ms(lines[timer].2),
            ms(sent_at - lines[timer].0),
            ms(c2 - sent_at),
            ms(answer.0 - sent_at),
        ]);
    }
    let names = [
        "total: leave echo + grace -> removal seen",
        "leave event at the daemon - leave echo at the client",
        "timer fired - daemon's deadline (negative: early by design)",
        "timer fired -> destroy sent (daemon)",
        "destroy sent -> removal seen (Prosody + client)",
        "destroy sent -> Prosody's answer at the daemon",
    ];
    split_report(
        "grace expiry",
        samples.len(),
        &names,
        parts,
        "total = skew, timer, daemon, Prosody+client; answer",
        5,
    )
}

/// The report of a split: per part p50, p99, min and max, then the slowest samples, each
/// as `total = part, part, ...` with the parts from `summed` on after a `;`.
fn split_report<const N: usize>(
    what: &str,
    of: usize,
    names: &[&str; N],
    mut parts: Vec<[f64; N]>,
    slowest: &str,
    summed: usize,
) -> String {
    let mut out = format!("{what} split over {} of {of} samples (ms):\n", parts.len());
    for (i, name) in names.iter().enumerate() {
        let v: Vec<f64> = parts.iter().map(|p| p[i]).collect();
        writeln!(
            out,
            "  {name}: p50 {:.2}, p99 {:.2}, min {:.2}, max {:.2}",
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            percentile(&v, 0.0),
            percentile(&v, 1.0)
        )
        .unwrap();
    }
    parts.sort_by(|a, b| b[0].total_cmp(&a[0]));
    writeln!(out, "  slowest ({slowest}):").unwrap();
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for p in parts.iter().take(8) {
        let rest = if summed < N {
            format!("; {}", list(&p[summed..]))
        } else {
            String::new()
        };
        writeln!(out, "    {:.2} = {}{rest}", p[0], list(&p[1..summed])).unwrap();
    }
    out
}

/// Phase 2: grant, reset and grace latencies in ms. `trace` turns on the daemon's
/// timing lines and splits the grace samples with them; `realtime`, `--rt`.
pub(crate) async fn latencies(plan: Plan, trace: bool, realtime: bool) -> Latencies {
    let mut options = bench_options(true, LATENCY_GRACE);
    if trace {
        options.log = "warn,raumwart::timing=debug";
    }
    let mut env = Env::new(REPO, options);
    if trace {
        with_clock_module(&mut env);
    }
    let n = plan.latency_samples;
    scaled_config(&env, n * 2 + 1, LATENCY_GRACE);
    let grace_period = seconds(LATENCY_GRACE);
    let mut daemon = start_daemon(&env).await;
    if realtime {
        real_time(&[env.prosody_pid(), daemon.pid()]);
    }
    let mut focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    let (mut grant, mut reset, mut grace) = (vec![], vec![], vec![]);
    let mut t = env.anonymous().await;
    for i in 0..n {
        let (g, r) = short_session(&mut focus, &mut t, &room(i)).await;
        grant.push(g);
        reset.push(r);
    }
    let mut s = env.anonymous().await;
    let mut stamps = vec![];
    for i in n..2 * n {
        let jid = room(i);
        focus.join(&jid, "focus", None).await.unwrap();
        t.join(&jid, "teacher", Some(SCHOOL_PASSWORD))
            .await
            .unwrap();
        t.wait_affiliation(&jid, "teacher", "owner").await;
        t.configure(&jid, &[("muc#roomconfig_roomsecret", CLASS_PASSWORD)])
            .await
            .unwrap();
        s.join(&jid, "student", Some(CLASS_PASSWORD)).await.unwrap();
        t.leave(&jid, "teacher").await;
        let left = t.arrived;
        let c1 = unix_us(left);
        let limit = load::timer_plus_margin(grace_period);
        tokio::time::timeout(limit, s.wait_removed(&jid, "student"))
            .await
            .unwrap_or_else(|_| {
                panic!("the student still in {jid} {limit:?} after the teacher left")
            });
        let removed = s.arrived;
        stamps.push((c1, unix_us(removed)));
        // Signed: the daemon may act up to its timer slack before this deadline.
        grace.push(signed_ms(left + grace_period, removed));
        focus.wait_removed(&jid, "focus").await;
    }
    let (take_back, promotions) = taken_back(&env, &mut daemon, n, 2 * n).await;
    let trace = trace.then(|| {
        let log = daemon.log_text();
        grace_breakdown(&stamps, &log)
            + &prosody_breakdown(&stamps, &env.prosody_log(), &log)
            + &take_back_breakdown(&promotions, &log)
    });
    Latencies {
        grant,
        reset,
        grace,
        take_back,
        trace,
    }
}

/// `n` times in room "r-<i>": the teacher leaves, focus's auto-owner makes the student
/// owner, raumwart takes it back (in the grace period); ms between the two presences the
/// student sees, and both as wall-clock us. Then the teacher is back, and the student
/// leaves and re-enters, so that focus (which elects again only when the member it tracks
/// leaves) adopts the teacher and promotes the student at her next leave.
pub(crate) async fn taken_back(
    env: &Env,
    d: &mut Daemon,
    n: usize,
    i: usize,
) -> (Vec<f64>, Vec<(i128, i128)>) {
    let name = format!("r-{i}");
    let jid = room(i);
    let _focus = env.auto_owner_focus(&name).await;
    let (mut t, mut s) = lesson(env, &name).await;
    let demoted = |st: &tokio_xmpp::minidom::Element| {
        st.name() == "presence"
            && st.attr("type").is_none()
            && st.attr("from").is_some_and(|f| f.starts_with(&jid))
            && client::is_self_presence(st)
            && client::item_of(st).0 != "owner"
    };
    let (mut samples, mut stamps) = (vec![], vec![]);
    for _ in 0..n {
        t.leave(&jid, "teacher").await;
        s.wait_affiliation(&jid, "student", "owner").await;
        let promoted = s.arrived;
        s.wait_for("the student's owner taken back", &demoted).await;
        samples.push(ms(promoted, s.arrived));
        stamps.push((unix_us(promoted), unix_us(s.arrived)));
        d.wait_state(&name, "grace").await;
        t = env.anonymous().await;
        let back = t
            .join(&jid, "teacher", Some(SCHOOL_PASSWORD))
            .await
            .unwrap();
        if back.affiliation != "owner" {
            t.wait_affiliation(&jid, "teacher", "owner").await;
        }
        s.leave(&jid, "student").await;
        s.join(&jid, "student", Some(CLASS_PASSWORD)).await.unwrap();
    }
    (samples, stamps)
}

/// Splits each take-back sample (the student's presence with owner c1, without it c2,
/// both wall-clock us) with the daemon's timing lines: the promotion's event at the
/// daemon after the client saw it (skew), the daemon's work from that event to the
/// revocation written, and Prosody plus the client from there to c2. The revocation is
/// the last handled stanza before c2 that the daemon answered by writing.
pub(crate) fn take_back_breakdown(samples: &[(i128, i128)], log: &str) -> String {
    let lines = timing_lines(log);
    let mut parts: Vec<[f64; 4]> = vec![];
    for &(c1, c2) in samples {
        let ms = |us: i128| us as f64 / 1000.0;
        let Some(handled) = lines.iter().rposition(|(at, w, sent)| {
            w == "handled" && *sent > 0 && *at > c1 - 100_000 && *at < c2
        }) else {
            continue;
        };
        let Some(event) = lines[..handled].iter().rposition(|(_, w, _)| w == "in") else {
            continue;
        };
        let (event, handled) = (lines[event].0, lines[handled].0);
        parts.push([
            ms(c2 - c1),
            ms(event - c1),
            ms(handled - event),
            ms(c2 - handled),
        ]);
    }
    let names = [
        "total: owner seen -> owner gone seen",
        "promotion at the daemon - at the client",
        "daemon: promotion in -> revocation written",
        "revocation written -> seen (Prosody + client)",
    ];
    split_report(
        "take-back",
        samples.len(),
        &names,
        parts,
        "total = skew, daemon, Prosody+client",
        4,
    )
}

/// Restarts the Prosody of `env` with bench/prosody/mod_bench_clock.lua on the main MUC.
pub(crate) fn with_clock_module(env: &mut Env) {
    with_bench_module(env, "bench_clock");
}

/// Prosody's steps of each grace destroy (from bench_clock lines), in ms after the
/// daemon sent the destroy: their p50 and max, and the slowest samples, each with
/// Prosody's CPU time from the destroy's IQ to the end of its destroyed hooks against
/// the wall time between them (less CPU than wall: Prosody waited for a core) and its
/// Lua heap's change (a drop: the collector ran).
pub(crate) fn prosody_breakdown(
    samples: &[(i128, i128)],
    prosody_log: &str,
    daemon_log: &str,
) -> String {
    // (step, wall us, Prosody's CPU us, Lua heap KB)
    let clock: Vec<(String, i128, f64, f64)> = prosody_log
        .lines()
        .filter_map(|l| {
            let rest = l.split("bench_clock ").nth(1)?;
            let mut f = rest.split_whitespace();
            let what = f.next()?.to_owned();
            let mut num = || f.next()?.parse::<f64>().ok();
            let (at, cpu, heap) = (num()?, num().unwrap_or(0.0), num().unwrap_or(0.0));
            Some((what, (at * 1e6) as i128, cpu * 1e6, heap))
        })
        .collect();
    let daemon = timing_lines(daemon_log);
    let steps = [
        "iq",
        "pre-destroy",
        "left",
        "destroyed",
        "destroyed-end",
        "loop-idle",
    ];
    let mut rows: Vec<(f64, Vec<String>)> = vec![];
    let mut by_step: Vec<Vec<f64>> = vec![vec![]; steps.len() + 3];
    // Prosody's CPU in the destroy, without and with a collection inside it.
    let mut cpu_by_gc: [Vec<f64>; 2] = [vec![], vec![]];
    for &(c1, c2) in samples {
        let Some(sent) = daemon
            .iter()
            .find(|(at, w, ..)| w == "sent" && *at > c1 + 500_000 && *at < c2 + 100_000)
            .map(|l| l.0)
        else {
            continue;
        };
        let mut line = vec![];
        // The destroy's own span: its IQ to the end of its destroyed hooks.
        let step = |what: &str| {
            clock
                .iter()
                .find(|(w, at, ..)| w == what && *at >= sent - 1_000 && *at < c2 + 50_000)
        };
        if let (Some(first), Some(last)) = (step("iq"), step("destroyed-end")) {
            let (wall, cpu) = (
                (last.1 - first.1) as f64 / 1000.0,
                (last.2 - first.2) / 1000.0,
            );
            let collections = clock
                .iter()
                .filter(|(w, at, ..)| w == "gc" && *at >= first.1 && *at <= last.1)
                .count();
            by_step[steps.len() + 1].push(cpu);
            by_step[steps.len() + 2].push(wall);
            let with = usize::from(collections > 0);
            cpu_by_gc[with].push(cpu);
            line.push(format!(
                "CPU {cpu:.2} of {wall:.2}, heap {:+.0} KB, collections {collections}",
                last.3 - first.3
            ));
        }
        for (i, step) in steps.iter().enumerate() {
            let ats: Vec<f64> = clock
                .iter()
                .filter(|(w, at, ..)| w == step && *at >= sent - 1_000 && *at < c2 + 50_000)
                .map(|(_, at, ..)| (at - sent) as f64 / 1000.0)
                .collect();
            if let Some(first) = ats.first() {
                by_step[i].push(*first);
            }
            line.push(format!(
                "{step} {}",
                ats.iter()
                    .map(|a| format!("{a:.2}"))
                    .collect::<Vec<_>>()
                    .join("/")
            ));
        }
        let seen = (c2 - sent) as f64 / 1000.0;
        by_step[steps.len()].push(seen);
        line.push(format!("removal seen {seen:.2}"));
        rows.push((seen, line));
    }
    let mut out = String::from("Prosody's steps, ms after the destroy was sent (p50 / max):\n");
    let spans = [
        "removal seen",
        "Prosody's CPU, iq -> destroyed-end",
        "wall time, iq -> destroyed-end",
    ];
    for (i, step) in steps.iter().chain(&spans).enumerate() {
        writeln!(
            out,
            "  {step}: {:.2} / {:.2}",
            percentile(&by_step[i], 0.5),
            percentile(&by_step[i], 1.0)
        )
        .unwrap();
    }
    for (with, cpu) in ["without", "with"].iter().zip(&cpu_by_gc) {
        writeln!(
            out,
            "  destroys {with} a collection of Lua's collector inside: {}, Prosody's CPU p50 {:.2} / max {:.2}",
            cpu.len(),
            percentile(cpu, 0.5),
            percentile(cpu, 1.0)
        )
        .unwrap();
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    out += "  slowest:\n";
    for (_, line) in rows.iter().take(6) {
        writeln!(out, "    {}", line.join(", ")).unwrap();
    }
    out
}
