//! raumwart's benchmark harness: what raumwart costs Prosody, how fast it reacts, how it
//! scales, and whether any join slips through unprotected. A harness, not a timed test.
//!
//!   cargo bench --bench raumwart -- --full     the measurements; rewrites BENCHMARKS.md
//!   cargo bench --bench raumwart -- --cpu      only the Prosody CPU A/B (phase 1), printed
//!   cargo bench --bench raumwart               a few-second smoke run (also run by
//!                                              `cargo test`), no assertions on speed
//!
//! It runs the real Prosody (Debian's package) with and without the module, the real
//! daemon, and real c2s clients from the test harness.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use support::client::{self, Client};
use support::*;

/// Sizes of one run.
#[derive(Clone, Copy)]
struct Plan {
    rooms: usize,
    students: usize,
    cycles: usize,
    rounds: usize,
    latency_samples: usize,
    scales: &'static [usize],
    in_session: usize,
    window_attempts: usize,
}

const SMOKE: Plan = Plan {
    rooms: 4,
    students: 2,
    cycles: 3,
    rounds: 1,
    latency_samples: 3,
    scales: &[100],
    in_session: 10,
    window_attempts: 20,
};

const FULL: Plan = Plan {
    rooms: 200,
    students: 8,
    cycles: 4,
    rounds: 3,
    latency_samples: 200,
    scales: &[100, 1_000, 10_000],
    in_session: 1_000,
    window_attempts: 2_000,
};

fn main() {
    let full = std::env::args().any(|a| a == "--full");
    // `--scale N`: only phase 3 at N rooms (for working on memory and sync time).
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = args
        .iter()
        .position(|a| a == "--scale")
        .and_then(|i| args.get(i + 1))
    {
        let n: usize = n.parse().expect("--scale takes a number of rooms");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (sync_ms, rss, cpu) = runtime.block_on(scale(n));
        println!(
            "{n} rooms: in sync {sync_ms:.0} ms, RSS {rss:.1} MB, {cpu:.1} ms CPU per 1,000 events"
        );
        return;
    }
    // `--latency N`: only phase 2 with N samples, with the slowest samples shown.
    if let Some(n) = args
        .iter()
        .position(|a| a == "--latency")
        .and_then(|i| args.get(i + 1))
    {
        let plan = Plan {
            latency_samples: n.parse().expect("--latency takes a number of samples"),
            ..FULL
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (grant, reset, grace) = runtime.block_on(latencies(plan));
        for (name, mut v) in [("grant", grant), ("reset", reset), ("grace", grace)] {
            v.sort_by(f64::total_cmp);
            let top: Vec<String> = v.iter().rev().take(5).map(|x| format!("{x:.2}")).collect();
            println!(
                "{name}: p50 {:.2} ms, p99 {:.2} ms, slowest {}",
                percentile(&v, 0.5),
                percentile(&v, 0.99),
                top.join(" ")
            );
        }
        return;
    }
    // `--cpu`: only phase 1 at full size, printed as its BENCHMARKS.md section.
    if args.iter().any(|a| a == "--cpu") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut out = String::new();
        runtime.block_on(cpu_phase(FULL, &mut out));
        print!("{out}");
        return;
    }
    let plan = if full { FULL } else { SMOKE };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(run(plan));
    print!("{report}");
    if full {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
        std::fs::write(&path, report).unwrap();
        eprintln!("wrote {}", path.display());
    }
    println!("bench: 1 passed, 0 failed");
}

async fn run(plan: Plan) -> String {
    let mut out = String::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    writeln!(out, "# Benchmarks\n").unwrap();
    writeln!(
        out,
        "Reproduce: `cargo bench --bench raumwart -- --full` (rewrites this file). Machine: \
         {cores} cores, {cpu}. Prosody {} from Debian with its default (incremental) Lua GC, \
         `network_settings = {{ nagle = false }}`, logging at warn; the daemon and load \
         generator built in release mode on the same \
         machine, all on loopback.\n",
        prosody_version()
    )
    .unwrap();

    cpu_phase(plan, &mut out).await;

    writeln!(out, "## 2. Reaction latency\n").unwrap();
    writeln!(
        out,
        "From the presence echo that triggers it to what a client sees, {} samples each.\n",
        plan.latency_samples
    )
    .unwrap();
    writeln!(
        out,
        "| reaction | p50 ms | p99 ms | max ms | target p99 |\n|---|---|---|---|---|"
    )
    .unwrap();
    let (grant, reset, grace) = latencies(plan).await;
    for (name, samples, target) in [
        ("organizer join -> owner granted", grant, "< 3 ms"),
        ("last organizer leaves -> room reset", reset, "< 5 ms"),
        ("grace deadline -> everyone out", grace, "< 5 ms"),
    ] {
        writeln!(
            out,
            "| {name} | {:.2} | {:.2} | {:.2} | {target} |",
            percentile(&samples, 0.5),
            percentile(&samples, 0.99),
            percentile(&samples, 1.0)
        )
        .unwrap();
    }

    writeln!(out, "\n## 3. The daemon at scale\n").unwrap();
    writeln!(
        out,
        "| managed rooms | start to in sync (map push + snapshot) ms | RSS MB | daemon CPU ms per 1,000 events |\n|---|---|---|---|"
    )
    .unwrap();
    for &n in plan.scales {
        let (sync_ms, rss, cpu) = scale(n).await;
        writeln!(out, "| {n} | {sync_ms:.0} | {rss:.1} | {cpu:.1} |").unwrap();
    }
    let resync = resync(plan.in_session).await;
    writeln!(
        out,
        "\nRe-sync after SIGKILL and restart with {} rooms in session: {resync:.0} ms \
         (targets: < 1 s at 10,000 rooms, RSS < 20 MB).\n",
        plan.in_session
    )
    .unwrap();

    writeln!(out, "## 4. The unprotected window\n").unwrap();
    let (attempts, admitted) = window(plan.window_attempts).await;
    writeln!(
        out,
        "Rooms created while the daemon is down or restarting, each followed at once by a \
         join without password: {attempts} attempts, **{admitted} admitted** (must be 0).\n"
    )
    .unwrap();

    out.push_str(WHAT_WAS_DONE);
    out
}

/// Phase 1, as a section of BENCHMARKS.md.
async fn cpu_phase(plan: Plan, out: &mut String) {
    writeln!(out, "## 1. Prosody CPU per 1,000 joins+leaves\n").unwrap();
    writeln!(
        out,
        "{} rooms, each with focus, an organizer and {} students who leave and re-enter \
         with the class password {} times; A = module + daemon, B = plain Prosody, \
         alternating, {} rounds each. Target: A/B <= 1.05.\n",
        plan.rooms, plan.students, plan.cycles, plan.rounds
    )
    .unwrap();
    let (mut a, mut b, mut busy) = (vec![], vec![], vec![]);
    for _ in 0..plan.rounds {
        for module in [true, false] {
            let (per_k, load) = churn(plan, module).await;
            busy.push(load);
            if module { &mut a } else { &mut b }.push(per_k);
        }
    }
    let ratio: Vec<f64> = a.iter().zip(&b).map(|(a, b)| a / b).collect();
    writeln!(out, "| | median | min | max |\n|---|---|---|---|").unwrap();
    writeln!(out, "| A: ms Prosody CPU per 1,000 | {} |", stats(&a, 1.0)).unwrap();
    writeln!(out, "| B: ms Prosody CPU per 1,000 | {} |", stats(&b, 1.0)).unwrap();
    writeln!(out, "| A/B per round | {} |", stats(&ratio, 1.0)).unwrap();
    writeln!(
        out,
        "| Prosody busy during churn (share of one core) | {} |\n",
        stats(&busy, 1.0)
    )
    .unwrap();
}

const WHAT_WAS_DONE: &str = "\
## What was done to reach them

- **Few, small events.** The module sends one ~120-byte message per join and per leave
  of a managed room, nothing for presence updates, role changes, messages or unmanaged
  rooms, one `d` per destroy instead of one leave per occupant, and no echo of the owner
  grants raumwart makes itself. While the daemon is away events are dropped, not bounced
  (the snapshot on connect replaces them). Password checks stay synchronous in Prosody;
  every decision is made in the daemon, off Prosody's hot path.
- **No hashing on the students' path.** The module keeps only a salted HMAC-SHA256 of
  each school password and computes it only for a join whose password differs from the
  room's live one (organizers, wrong guesses; ~5 us each in Prosody's C hashes, against
  ~1-2 ms of Prosody CPU per join). Students entering with the class password, as in
  phase 1, cost no hash. No key stretching: every wrong guess would cost Prosody CPU.
- **No Nagle delays.** raumwart's component connection sets TCP_NODELAY. Prosody's own
  sockets use Nagle by default (`network_settings = { nagle = false }` turns it off, as in
  these runs): with Nagle on, a small stanza can wait for the client's delayed ACK and an
  owner grant reaches the teacher after ~40 ms instead of under 1 ms (seen in a smoke run
  with `BENCH_NAGLE=1`). The README recommends the setting.
- **Memory at 10,000 rooms.** The room map is pushed in chunks of 1,000 rooms built one
  at a time; building all chunks first left the daemon at 24 MB RSS after the push, one
  chunk at a time at 13 MB.
- **Grace expiry.** tokio's timers have millisecond granularity and fire late, never
  early; the daemon now wakes 2 ms before a deadline and treats what falls due within
  that slack as due. That took the grace expiry from p50 4.3 ms to 0.5 ms (60-sample
  runs before and after). Its tail still misses the target: p99 7.7 ms with one outlier
  at 37 ms, while the grant and reset paths, which do the same IQ and destroy work without
  a timer, stay under 2.5 ms at p99. Not explained yet; the next step is timestamping the
  tick and Prosody's answer in the daemon to split timer, daemon and Prosody time.
";

fn prosody_version() -> String {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "prosody"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// utime + stime of a process, in milliseconds.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks * 10.0 // 100 Hz clock ticks
}

fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1000.0
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn stats(v: &[f64], scale: f64) -> String {
    let mut s: Vec<f64> = v.iter().map(|x| x * scale).collect();
    s.sort_by(f64::total_cmp);
    format!(
        "{:.3} | {:.3} | {:.3}",
        s[s.len() / 2],
        s[0],
        s[s.len() - 1]
    )
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    s[((s.len() - 1) as f64 * p).round() as usize]
}

fn bench_options(module: bool, grace: &'static str) -> Options {
    Options {
        module,
        grace_period: grace,
        log: "warn",
        prosody_log: "warn",
        nagle: std::env::var_os("BENCH_NAGLE").is_some(),
        ..Options::default()
    }
}

/// Writes a daemon config with `n` rooms of one school, named "r-<i>".
fn scaled_config(env: &Env, n: usize, grace: &str) {
    let rooms: Vec<String> = (0..n).map(|i| format!("\"r-{i}\"")).collect();
    let text = format!(
        "[xmpp]\nserver = \"127.0.0.1:{}\"\ncomponent = \"{COMPONENT}\"\nsecret_file = \"component.secret\"\n\
         muc = \"{muc}\"\n[policy]\nservice_jids = [\"focus@{AUTH}\"]\ngrace_period = \"{grace}\"\n\
         [http]\nlisten = \"127.0.0.1:{}\"\n[[school]]\nid = \"{SCHOOL}\"\npassword_file = \"schools/gs.pw\"\n\
         rooms = [{}]\n",
        env.component,
        env.http,
        rooms.join(", "),
        muc = muc(),
    );
    std::fs::write(env.daemon_config_path(), text).unwrap();
}

fn room(i: usize) -> String {
    room_jid(&format!("r-{i}"))
}

/// Phase 1: returns (Prosody CPU ms per 1,000 joins+leaves, share of a core busy).
async fn churn(plan: Plan, module: bool) -> (f64, f64) {
    let env = Env::new(bench_options(module, "60s"));
    scaled_config(&env, plan.rooms, "60s");
    let _daemon = if module {
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
            // Plain Prosody: focus sets the password, as jicofo's auto-owner teacher would.
            focus
                .configure(&room(i), &[("muc#roomconfig_roomsecret", CLASS_PASSWORD)])
                .await
                .unwrap();
            t.join(&room(i), "teacher", Some(CLASS_PASSWORD))
                .await
                .unwrap();
        }
        teachers.push(t);
    }
    // Per room, its students leave and re-enter one after the other: one join or leave
    // in flight per room, all rooms at once.
    let mut per_room = vec![];
    for i in 0..plan.rooms {
        let mut students = vec![];
        for k in 0..plan.students {
            let mut s = env.anonymous().await;
            s.discard = true;
            let nick = format!("s{k}");
            s.join(&room(i), &nick, Some(CLASS_PASSWORD)).await.unwrap();
            students.push((s, nick));
        }
        per_room.push((room(i), students));
    }
    // Everyone else keeps reading, as real clients do.
    let drains: Vec<_> = teachers
        .into_iter()
        .chain([focus])
        .map(|c| tokio::spawn(c.drain()))
        .collect();
    let pid = env.prosody_pid();
    let (cpu0, t0) = (cpu_ms(pid), Instant::now());
    let mut tasks = vec![];
    for (jid, mut students) in per_room {
        let cycles = plan.cycles;
        tasks.push(tokio::spawn(async move {
            for _ in 0..cycles {
                for (s, nick) in students.iter_mut() {
                    s.leave(&jid, nick).await;
                    s.join(&jid, nick, Some(CLASS_PASSWORD)).await.unwrap();
                }
            }
            students
        }));
    }
    let mut kept = vec![];
    for t in tasks {
        kept.push(t.await.unwrap());
    }
    let (cpu, wall) = (cpu_ms(pid) - cpu0, t0.elapsed().as_secs_f64());
    let ops = (plan.rooms * plan.students * plan.cycles * 2) as f64;
    drains.iter().for_each(|d| d.abort());
    drop(kept);
    (cpu / ops * 1000.0, cpu / 1000.0 / wall)
}

/// Focus opens `jid`, the teacher enters with the school password, is made owner and
/// leaves; the room is reset. Returns (ms to owner after the join echo, ms to the reset
/// after the leave echo).
async fn short_session(focus: &mut Client, t: &mut Client, jid: &str) -> (f64, f64) {
    focus.join(jid, "focus", None).await.unwrap();
    t.join(jid, "teacher", Some(SCHOOL_PASSWORD)).await.unwrap();
    t.wait_affiliation(jid, "teacher", "owner").await;
    let grant = ms(t.joined_at, t.arrived);
    t.leave(jid, "teacher").await;
    let left = t.arrived;
    focus.wait_removed(jid, "focus").await;
    (grant, ms(left, focus.arrived))
}

/// Phase 2: (grant, reset, grace) latencies in ms.
async fn latencies(plan: Plan) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let env = Env::new(bench_options(true, "1s"));
    let n = plan.latency_samples;
    scaled_config(&env, n * 2, "1s");
    let _d = start_daemon(&env).await;
    let mut focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    let (mut grant, mut reset, mut grace) = (vec![], vec![], vec![]);
    let mut t = env.anonymous().await;
    for i in 0..n {
        let (g, r) = short_session(&mut focus, &mut t, &room(i)).await;
        grant.push(g);
        reset.push(r);
    }
    let mut s = env.anonymous().await;
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
        let deadline = t.arrived + Duration::from_secs(1);
        s.wait_removed(&jid, "student").await;
        grace.push(ms(deadline, s.arrived));
        focus.wait_removed(&jid, "focus").await;
    }
    (grant, reset, grace)
}

/// Phase 3: (ms from start to in sync, RSS MB, CPU ms per 1,000 events) at `n` rooms.
async fn scale(n: usize) -> (f64, f64, f64) {
    let env = Env::new(bench_options(true, "60s"));
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

/// The daemon logs at warn here, so readiness comes from /healthz.
async fn start_daemon(env: &Env) -> Daemon {
    let d = env.spawn_daemon();
    wait_healthy(env).await;
    d
}

async fn wait_healthy(env: &Env) {
    let addr = format!("127.0.0.1:{}", env.http).parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, _)) = raumwart::http::request(addr, "GET", "/healthz").await {
            return;
        }
        assert!(Instant::now() < deadline, "daemon not healthy within 60 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Phase 3b: ms from restart to in sync with `n` rooms in session.
async fn resync(n: usize) -> f64 {
    let env = Env::new(bench_options(true, "60s"));
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

/// Phase 4: (attempts, admitted) joins without password into rooms created while the
/// daemon is down or restarting.
async fn window(attempts: usize) -> (usize, usize) {
    let env = Env::new(bench_options(true, "60s"));
    scaled_config(&env, attempts, "60s");
    let mut d = start_daemon(&env).await;
    d.kill9();
    let mut focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    let mut attacker = env.anonymous().await;
    let mut admitted = 0;
    let mut restarting = None;
    for i in 0..attempts {
        // Half of the time the daemon is (re)starting meanwhile.
        if i % 100 == 50 {
            restarting = Some(env.spawn_daemon());
        } else if i % 100 == 0 {
            if let Some(mut r) = restarting.take() {
                r.kill9();
            }
        }
        let jid = room(i);
        let mut p = client::el(
            "presence",
            client::CLIENT,
            &[("to", &format!("{jid}/focus"))],
        );
        p.append_child(client::el("x", client::MUC, &[]));
        focus.send(p).await;
        if attacker.join(&jid, "x", None).await.is_ok() {
            admitted += 1;
        }
    }
    (attempts, admitted)
}
