//! Phase 1: what the module and the daemon cost Prosody's CPU, an A/B of two Prosodys side by side.

use crate::*;

pub(crate) const CPU_MIN_ROUNDS: usize = 5;

/// Slices of a round's cycle, taken in turn on A and B.
pub(crate) const SLICES: usize = 8;

pub(crate) const CPU_MEDIAN_MAX: f64 = 1.03;

pub(crate) const CPU_ROUND_MAX: f64 = 1.06;

/// Phase 1, as a section of BENCHMARKS.md.
pub(crate) async fn cpu_phase(plan: Plan, out: &mut String, checks: &mut Checks) {
    let load_start = load_average();
    let (a, b, busy, pinned) = churn_rounds(plan).await;
    writeln!(out, "## 1. Prosody CPU per 1,000 joins+leaves\n").unwrap();
    if plan.control {
        writeln!(
            out,
            "**Control run: side A is plain Prosody too (A/A); nothing is checked.**\n"
        )
        .unwrap();
    }
    writeln!(
        out,
        "{rooms} rooms, each with focus, an organizer and {students} students; in one \
         churn cycle every student leaves and re-enters with the class password, per room \
         one join or leave every {every} ms, the rooms evenly spread: a steady {rate:.0} \
         joins+leaves a second, a load Prosody keeps up with (saturated, its cost per \
         join depends on how much it batches, and the load generator sets that). A = module + daemon, B = plain \
         Prosody, both running side by side with the same settings and clients; {rounds} \
         rounds, each on a fresh pair of Prosodys (and daemon): a cycle on each to warm \
         up, then {cycles} cycles on each, each cycle in {SLICES} slices of a few students \
         per room, the sides alternating slice by slice (AB BA AB ...). Measured: Prosody's own CPU time (/proc/<pid>/schedstat, in ns), \
         so time other processes take from the machine is not counted; the \
         module's work, and what it costs Prosody to talk to the daemon, is. {pinned}\
         Load average {load_start} before, {} after. Targets: at least {CPU_MIN_ROUNDS} \
         rounds, median A/B <= {CPU_MEDIAN_MAX}, no round above {CPU_ROUND_MAX}.\n",
        load_average(),
        rooms = plan.rooms,
        students = plan.students,
        rounds = plan.rounds,
        every = plan.churn_every.as_millis(),
        cycles = plan.cycles,
        rate = plan.rooms as f64 / plan.churn_every.as_secs_f64(),
    )
    .unwrap();
    let ratio: Vec<f64> = a.iter().zip(&b).map(|(a, b)| a / b).collect();
    writeln!(out, "| | median | min | max |\n|---|---|---|---|").unwrap();
    writeln!(out, "| A: ms Prosody CPU per 1,000 | {} |", stats(&a)).unwrap();
    writeln!(out, "| B: ms Prosody CPU per 1,000 | {} |", stats(&b)).unwrap();
    writeln!(out, "| A/B per round | {} |", stats(&ratio)).unwrap();
    writeln!(
        out,
        "| Prosody busy during churn (share of one core) | {} |\n",
        stats(&busy)
    )
    .unwrap();
    let rounds: Vec<String> = ratio.iter().map(|r| format!("{r:.3}")).collect();
    writeln!(out, "A/B round by round: {}.\n", rounds.join(", ")).unwrap();
    if plan.control {
        return;
    }
    let median = percentile(&ratio, 0.5);
    let max = percentile(&ratio, 1.0);
    checks.claim(
        "Prosody CPU A/B, rounds",
        ratio.len().to_string(),
        &format!(">= {CPU_MIN_ROUNDS}"),
        ratio.len() >= CPU_MIN_ROUNDS,
    );
    checks.claim(
        "Prosody CPU A/B, median",
        format!("{median:.3}"),
        &format!("<= {CPU_MEDIAN_MAX}"),
        median <= CPU_MEDIAN_MAX,
    );
    checks.claim(
        "Prosody CPU A/B, highest round",
        format!("{max:.3}"),
        &format!("<= {CPU_ROUND_MAX}"),
        max <= CPU_ROUND_MAX,
    );
}

/// One side of the CPU A/B: a Prosody with its rooms, teachers and students in place.
pub(crate) struct Side {
    pub(crate) env: Env,
    pub(crate) daemon: Option<Daemon>,
    pub(crate) rooms: Vec<(String, Vec<(Client, String)>)>,
    pub(crate) drains: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Side {
    fn drop(&mut self) {
        self.drains.iter().for_each(|d| d.abort());
    }
}

pub(crate) async fn side(plan: Plan, module: bool) -> Side {
    let env = Env::new(REPO, bench_options(module, "60s"));
    scaled_config(&env, plan.rooms, "60s");
    let daemon = if module {
        Some(start_daemon(&env).await)
    } else {
        None
    };
    let mut focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    let mut teachers = vec![];
    for i in 0..plan.rooms {
        focus.join(&room(i), "focus", None).await.unwrap();
        let mut t = env.anonymous().await;
        if module {
            t.join(&room(i), "teacher", Some(SCHOOL_PASSWORD))
                .await
                .unwrap();
            t.wait_affiliation(&room(i), "teacher", "owner").await;
            t.configure(&room(i), &[("muc#roomconfig_roomsecret", CLASS_PASSWORD)])
                .await
                .unwrap();
        } else {
            // Plain Prosody: focus sets the password, as the teacher would, and makes the
            // teacher owner, as jicofo's auto-owner does: both sides have two moderators.
            focus
                .configure(&room(i), &[("muc#roomconfig_roomsecret", CLASS_PASSWORD)])
                .await
                .unwrap();
            t.join(&room(i), "teacher", Some(CLASS_PASSWORD))
                .await
                .unwrap();
            focus
                .set_affiliation(&room(i), &t.bare(), "owner")
                .await
                .unwrap();
            t.wait_affiliation(&room(i), "teacher", "owner").await;
        }
        teachers.push(t);
    }
    let mut rooms = vec![];
    for i in 0..plan.rooms {
        let mut students = vec![];
        for k in 0..plan.students {
            let mut s = env.anonymous().await;
            s.discard = true;
            let nick = format!("s{k}");
            s.join(&room(i), &nick, Some(CLASS_PASSWORD)).await.unwrap();
            students.push((s, nick));
        }
        rooms.push((room(i), students));
    }
    // Everyone else keeps reading, as real clients do.
    let drains = teachers
        .into_iter()
        .chain([focus])
        .map(|c| tokio::spawn(c.drain()))
        .collect();
    Side {
        env,
        daemon,
        rooms,
        drains,
    }
}

/// Nanoseconds `pid` has run on a CPU (schedstat), else utime + stime in 10 ms ticks.
pub(crate) fn cpu_ns(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| cpu_ms(pid) * 1e6)
}

/// Part of a churn cycle on `side`: per room, the students in `which` leave and re-enter
/// one after the other, one step every `every`, all rooms at once. Returns (Prosody CPU
/// ms, joins+leaves, wall seconds).
pub(crate) async fn churn(
    side: &mut Side,
    every: Duration,
    which: Range<usize>,
) -> (f64, usize, f64) {
    let pid = side.env.prosody_pid();
    let (cpu0, t0) = (cpu_ns(pid), Instant::now());
    let mut tasks = vec![];
    let mut ops = 0;
    let rooms = side.rooms.len() as u32;
    let start = tokio::time::Instant::now();
    for (i, (jid, mut students)) in std::mem::take(&mut side.rooms).into_iter().enumerate() {
        ops += which.len() * 2;
        // The rooms' ticks spread evenly over the interval: a steady stream, no bursts.
        let first = start + every * i as u32 / rooms;
        let mut tick = tokio::time::interval_at(first, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let which = which.clone();
        tasks.push(tokio::spawn(async move {
            for (s, nick) in &mut students[which] {
                tick.tick().await;
                s.leave(&jid, nick).await;
                tick.tick().await;
                s.join(&jid, nick, Some(CLASS_PASSWORD)).await.unwrap();
            }
            (jid, students)
        }));
    }
    for t in tasks {
        side.rooms.push(t.await.unwrap());
    }
    let cpu = (cpu_ns(pid) - cpu0) / 1e6;
    (cpu, ops, t0.elapsed().as_secs_f64())
}

/// Pins `pid` (all its threads) to the cores `cpus` ("1", "0-1"); false if that failed.
pub(crate) fn pin(pid: u32, cpus: &str) -> bool {
    std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Phase 1: per round, (A ms per 1,000, B ms per 1,000), the busy shares, and a sentence
/// on pinning.
pub(crate) async fn churn_rounds(plan: Plan) -> (Vec<f64>, Vec<f64>, Vec<f64>, String) {
    // Both Prosodys on one core, the load generator and the daemon on the other: they
    // do not compete with the Prosody being measured for its core or its caches.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let last = (cores - 1).to_string();
    let mut pinned = cores >= 2 && pin(std::process::id(), "0");
    let slice = plan.students.div_ceil(SLICES);
    let (mut a, mut b, mut busy) = (vec![], vec![], vec![]);
    for r in 0..plan.rounds {
        // Every round on a fresh pair of Prosodys (and daemon): one process runs a few
        // per cent faster than another for reasons of its own (memory layout, Lua's hash
        // seed), which alternating slices cannot cancel; across pairs it averages out.
        let mut sides = [side(plan, !plan.control).await, side(plan, false).await];
        for s in &sides {
            pinned &= pin(s.env.prosody_pid(), &last)
                && s.daemon.as_ref().is_none_or(|d| pin(d.pid(), "0"));
        }
        // Warm-up: one unmeasured cycle on each side.
        for s in &mut sides {
            churn(s, plan.churn_every, 0..plan.students).await;
        }
        // Then `cycles` cycles on each side, in slices of a few students per room taken
        // in turn (AB BA AB ...): a change in the machine's speed hits both sides alike.
        let (mut cpu, mut ops, mut wall) = ([0.0; 2], [0; 2], [0.0; 2]);
        let starts = (0..plan.cycles).flat_map(|_| (0..plan.students).step_by(slice));
        for (turn, first) in starts.enumerate() {
            let which = first..(first + slice).min(plan.students);
            let order = if turn % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let (c, o, w) = churn(&mut sides[k], plan.churn_every, which.clone()).await;
                cpu[k] += c;
                ops[k] += o;
                wall[k] += w;
            }
        }
        for k in 0..2 {
            busy.push(cpu[k] / 1000.0 / wall[k]);
            if k == 0 { &mut a } else { &mut b }.push(cpu[k] / ops[k] as f64 * 1000.0);
        }
        eprintln!(
            "cpu round {}: A {:.1} B {:.1} ms per 1,000, A/B {:.3} (load {})",
            r + 1,
            a[r],
            b[r],
            a[r] / b[r],
            load_average()
        );
    }
    // The later phases run unpinned.
    pin(std::process::id(), &format!("0-{}", cores - 1));
    let pinned = if pinned {
        format!(
            "Both Prosodys of a round were pinned to core {}, the load generator and the \
             daemon to core 0 (taskset). ",
            cores - 1
        )
    } else {
        "Nothing was pinned (taskset failed or one core). ".to_owned()
    };
    (a, b, busy, pinned)
}
