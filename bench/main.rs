//! raumwart's benchmark harness: what raumwart costs Prosody, how fast it reacts, how it
//! scales, and whether any join slips through unprotected. A harness, not a timed test.
//!
//!   cargo bench --bench raumwart -- --full       the measurements; rewrites BENCHMARKS.md
//!   cargo bench --bench raumwart -- --cpu        only the Prosody CPU A/B (phase 1);
//!                                   add --control for A/A (both sides plain Prosody)
//!   cargo bench --bench raumwart -- --latency N  only the reactions (phase 2), N samples;
//!                                   add --trace to split the grace expiry's and the
//!                                   take-back's time, --busy to keep one core busy,
//!                                   --rt to run Prosody, daemon and clients real-time
//!   cargo bench --bench raumwart -- --scale N    only the daemon at N rooms (phase 3); a
//!                                   list (--scale 1000,100000) checks the CPU per event too
//!   cargo bench --bench raumwart -- --resync N   only the re-sync after SIGKILL, N rooms in session
//!   cargo bench --bench raumwart -- --flood      only a guest's flood (phase 5), without and
//!                                   with Prosody's mod_limits
//!   cargo bench --bench raumwart -- --soak MINUTES  only the soak (phase 6): lessons back
//!                                   to back in 1,000 rooms; writes its section into
//!                                   BENCHMARKS.md and the memory curve (docs/bench/soak.svg)
//!   cargo bench --bench raumwart                 a smoke run (also run by `cargo test`):
//!                                                correctness checked, speed only shown
//!
//! BENCH_GC='{ mode = "incremental" }' (or "default") runs Prosody with that collector
//! instead of the generational one the README recommends.
//!
//! Every target a run claims is checked: a missed one is marked "missed" in the results
//! and the run exits non-zero, after writing what it measured.
//!
//! It runs the real Prosody (Debian's package) with and without the module, the real
//! daemon, and real c2s clients from the test kit (testkit/).
//!
//! Here the arguments, the plans and the report; `phases/` one file per phase, each
//! writing its section; `checks.rs` the results table; `setup.rs` the Prosodys and
//! daemons; `stats.rs` times and percentiles; `plot.rs` the soak's chart;
//! `what-was-done.md` the report's last section.

mod checks;
mod phases;
mod plot;
mod setup;
mod stats;

use std::fmt::Write as _;
use std::ops::Range;
use std::time::{Duration, Instant};

use clap::Parser;
use testkit::client::{self, Client};
use testkit::load::{self, cpu_ms, rss_mb, Flood};
use testkit::*;

use checks::*;
use phases::{cpu::*, flood::*, latency::*, scale::*, soak::*, window::*};
use setup::*;
use stats::*;

/// This crate's folder and binary, for the kit.
const REPO: Repo = testkit::repo!();

/// What to run: without a flag the smoke run (`cargo test` runs it too).
#[derive(Parser)]
#[command(
    name = "bench",
    about = "raumwart's benchmark harness (see bench/main.rs)"
)]
struct Args {
    /// The measurements; rewrites BENCHMARKS.md.
    #[arg(long)]
    full: bool,
    /// Only the Prosody CPU A/B (phase 1), printed as its section.
    #[arg(long, conflicts_with = "full")]
    cpu: bool,
    /// With --cpu: A/A, both sides plain Prosody (the method's own scatter).
    #[arg(long, requires = "cpu")]
    control: bool,
    /// Only the reactions (phase 2), N samples, with the slowest shown.
    #[arg(long, value_name = "N", conflicts_with_all = ["full", "cpu"])]
    latency: Option<usize>,
    /// With --latency: split the grace expiry's and the take-back's time.
    #[arg(long, requires = "latency")]
    trace: bool,
    /// With --latency: keep one core busy all along (a shell loop), as a videobridge
    /// would on a Jitsi server.
    #[arg(long, requires = "latency")]
    busy: bool,
    /// With --latency: Prosody, the daemon and the bench's clients at real-time priority
    /// (SCHED_FIFO 1, with chrt; --busy's loop stays plain): what the kernel's wait for
    /// its next tick costs the reactions. Not a setting to deploy (see what-was-done.md).
    #[arg(long, requires = "latency")]
    rt: bool,
    /// Only the daemon at N rooms (phase 3); a list, comma-separated, for several sizes
    /// (1000 and 100000 among them: the CPU per event compared too).
    #[arg(long, value_name = "N", value_delimiter = ',', conflicts_with_all = ["full", "cpu", "latency"])]
    scale: Option<Vec<usize>>,
    /// Only the re-sync after SIGKILL, N rooms in session (phase 3).
    #[arg(long, value_name = "N", conflicts_with_all = ["full", "cpu", "latency", "scale"])]
    resync: Option<usize>,
    /// Only a guest's flood (phase 5), without and with Prosody's mod_limits.
    #[arg(long, conflicts_with_all = ["full", "cpu", "latency", "scale", "resync"])]
    flood: bool,
    /// Only the soak (phase 6) for MINUTES; writes its section into BENCHMARKS.md and
    /// the plot.
    #[arg(long, value_name = "MINUTES", conflicts_with_all = ["full", "cpu", "latency", "scale", "resync", "flood"])]
    soak: Option<u32>,
    /// What cargo passes: `--bench` from `cargo bench`, a name filter or libtest's
    /// flags from `cargo test` (which runs the smoke run). Ignored.
    #[arg(long, hide = true)]
    bench: bool,
    #[arg(hide = true, allow_hyphen_values = true, trailing_var_arg = true)]
    cargo: Vec<String>,
}

/// Sizes of one run.
#[derive(Clone, Copy)]
struct Plan {
    rooms: usize,
    students: usize,
    /// Measured A/B rounds; each runs one churn cycle on each side.
    rounds: usize,
    /// Per room, one join or leave this often: a steady load Prosody keeps up with.
    churn_every: Duration,
    /// Churn cycles per side in one A/B round.
    cycles: usize,
    latency_samples: usize,
    scales: &'static [usize],
    /// Short sessions per size in phase 3, for the CPU per event.
    scale_sessions: usize,
    in_session: usize,
    window_attempts: usize,
    /// Whether missing a speed target fails the run (not in the smoke run).
    speed_targets: bool,
    /// `--cpu --control`: side A is plain Prosody too (A/A), the method's own scatter.
    control: bool,
    /// How long a guest's flood lasts (phase 5), each run.
    flood: Duration,
}

const SMOKE: Plan = Plan {
    rooms: 4,
    students: 2,
    rounds: 1,
    churn_every: Duration::from_millis(20),
    cycles: 1,
    latency_samples: 3,
    scales: &[100],
    scale_sessions: 10,
    in_session: 10,
    window_attempts: 20,
    speed_targets: false,
    control: false,
    flood: Duration::from_secs(2),
};

const FULL: Plan = Plan {
    rooms: 100,
    students: 8,
    rounds: 6,
    churn_every: Duration::from_millis(600),
    cycles: 2,
    latency_samples: 200,
    scales: &[100, 1_000, 10_000, 100_000],
    scale_sessions: 500,
    in_session: 10_000,
    window_attempts: 2_000,
    speed_targets: true,
    control: false,
    flood: Duration::from_secs(20),
};

fn main() {
    let args = Args::parse();
    let current = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let mut checks = Checks::default();
    println!("load average at start: {}", load_average());
    // `--scale N[,M...]`: only phase 3 at these sizes (for working on memory, sync time
    // and the cost per event).
    if let Some(sizes) = args.scale {
        let measured = current().block_on(scales(&sizes, FULL.scale_sessions));
        for m in &measured {
            println!(
                "{} rooms: in sync {:.0} ms, RSS {:.1} MB, per 1,000 events ({} events): \
                 daemon {:.1} ms CPU, Prosody {:.0} ms CPU",
                m.rooms, m.sync_ms, m.rss, m.events, m.daemon_cpu, m.prosody_cpu
            );
            let slices: Vec<String> = m
                .slices
                .iter()
                .map(|(d, p)| format!("{d:.0}/{p:.0}"))
                .collect();
            println!("  slices, daemon/Prosody: {}", slices.join(" "));
            check_scale(&mut checks, m);
        }
        check_per_event(&mut checks, &measured);
    } else if let Some(n) = args.resync {
        // `--resync N`: only phase 3's re-sync after SIGKILL with N rooms in session.
        let ms = current().block_on(resync(n));
        println!("{n} rooms in session: re-sync {ms:.0} ms");
        check_resync(&mut checks, n, ms);
    } else if let Some(n) = args.latency {
        // `--latency N`: only phase 2 with N samples, with the slowest samples shown.
        let plan = Plan {
            latency_samples: n,
            ..FULL
        };
        let trace = args.trace;
        let _busy = args.busy.then(Busy::start);
        let l = current().block_on(latencies(plan, trace, args.rt));
        for (name, v) in [
            ("grant", &l.grant),
            ("reset", &l.reset),
            ("grace", &l.grace),
            ("take-back", &l.take_back),
        ] {
            let mut v = v.clone();
            v.sort_by(f64::total_cmp);
            let top: Vec<String> = v.iter().rev().take(5).map(|x| format!("{x:.2}")).collect();
            println!(
                "{name}: p50 {:.2} ms, p99 {:.2} ms, min {:.2} ms, slowest {}",
                percentile(&v, 0.5),
                percentile(&v, 0.99),
                percentile(&v, 0.0),
                top.join(" ")
            );
        }
        if let Some(t) = &l.trace {
            print!("{t}");
        }
        check_latencies(&mut checks, &l);
    } else if let Some(minutes) = args.soak {
        // `--soak MINUTES`: only phase 6, printed as its section and written into
        // BENCHMARKS.md, with the plot.
        let mut out = String::new();
        multi().block_on(soak_phase(
            SoakPlan::minutes(minutes),
            &mut out,
            &mut checks,
        ));
        print!("{out}");
    } else if args.flood {
        // `--flood`: only phase 5 at full length, printed as its BENCHMARKS.md section.
        let mut out = String::new();
        multi().block_on(flood_phase(FULL, &mut out, &mut checks));
        print!("{out}");
    } else if args.cpu {
        // `--cpu`: only phase 1 at full size, printed as its BENCHMARKS.md section;
        // with `--control` both sides are plain Prosody.
        let control = args.control;
        let mut out = String::new();
        multi().block_on(cpu_phase(Plan { control, ..FULL }, &mut out, &mut checks));
        print!("{out}");
    } else {
        let plan = if args.full { FULL } else { SMOKE };
        checks.speed_unchecked = !plan.speed_targets;
        let report = multi().block_on(run(plan, &mut checks));
        print!("{report}");
        if args.full {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
            std::fs::write(&path, report).unwrap();
            eprintln!("wrote {}", path.display());
        }
    }
    println!("load average at the end: {}", load_average());
    print!("{}", checks.table());
    checks.finish();
}

/// A shell loop that keeps one core busy until dropped.
struct Busy(std::process::Child);

impl Busy {
    fn start() -> Busy {
        let child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("start sh for --busy");
        println!("one core kept busy by a shell loop (pid {})", child.id());
        Busy(child)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--rt`: SCHED_FIFO 1 for `pids` and for the bench itself, each with all its threads.
/// The bench's own resets on fork: what it spawns afterwards runs plain.
fn real_time(pids: &[u32]) {
    let own = std::process::id();
    let others = pids.iter().map(|pid| (*pid, &["-f", "-a"][..]));
    for (pid, flags) in others.chain([(own, &["-f", "-a", "-R"][..])]) {
        let status = std::process::Command::new("chrt")
            .args(flags)
            .args(["-p", "1", &pid.to_string()])
            .status()
            .expect("run chrt for --rt");
        assert!(status.success(), "chrt -f -p 1 {pid}: {status}");
    }
    println!("real-time (SCHED_FIFO 1): Prosody, the daemon and the bench's clients");
}

fn multi() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

async fn run(plan: Plan, checks: &mut Checks) -> String {
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
    let started = Instant::now();
    let load_start = load_average();
    let mut body = String::new();
    cpu_phase(plan, &mut body, checks).await;

    latency_phase(plan, &mut body, checks).await;

    scale_phase(plan, &mut body, checks).await;
    window_phase(plan, &mut body, checks).await;
    flood_phase(plan, &mut body, checks).await;
    soak_in_run(plan, &mut body, checks).await;

    let minutes = started.elapsed().as_secs_f64() / 60.0;
    writeln!(out, "# Benchmarks\n").unwrap();
    writeln!(
        out,
        "Reproduce: `cargo bench --bench raumwart -- --full` (rewrites this file; exits \
         non-zero if a target is missed). Machine: {cores} cores, {cpu}; load average \
         (1/5/15 min) {load_start} at the start, {} at the end; the run took {minutes:.0} \
         min. Prosody {} from Debian with {}, \
         `network_settings = {{ nagle = false }}`, logging at warn; the daemon and load \
         generator built in release mode on the same machine, all on loopback.\n",
        load_average(),
        prosody_version(),
        match prosody_gc() {
            Some(gc) => format!("`gc = {gc}`"),
            None => "its default (incremental) Lua GC".to_owned(),
        }
    )
    .unwrap();
    writeln!(out, "## Results\n").unwrap();
    out.push_str(&checks.table());
    out.push('\n');
    out.push_str(&body);
    out.push_str(include_str!("what-was-done.md"));
    out
}
