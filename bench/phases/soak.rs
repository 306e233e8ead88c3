//! Phase 6: a school day without leaks (issue 20, point 4). Lessons back to back in 1,000
//! managed rooms: joins, leaves, class passwords, breakout rooms, a teacher back within the
//! grace period, early leaves, resets. Checked: the daemon's and Prosody's memory flat
//! after warm-up; nothing left in the module's per-room tables, or in Prosody, of a room
//! whose lesson is over (read by bench/prosody/mod_bench_tables.lua); every reset seen by
//! the clients; every guest without the password refused. The memory curve is drawn as
//! an SVG (`plot`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::plot::{Chart, Series};
use crate::*;

/// Memory growth allowed from the first tenth after warm-up to the last.
pub(crate) const RSS_GROWTH_MAX: f64 = 0.05;

/// The soak's section of BENCHMARKS.md.
pub(crate) const HEADING: &str = "## 6. A school day without leaks";

/// Where `--soak` draws the memory curve, relative to the repository.
pub(crate) const PLOT: &str = "docs/bench/soak.svg";

/// The bench module that answers with the module's tables.
const TABLES_NS: &str = "urn:raumwart:bench:tables";

/// Sizes of a soak.
#[derive(Clone, Copy)]
pub(crate) struct SoakPlan {
    pub(crate) length: Duration,
    pub(crate) rooms: usize,
    /// Lessons at a time, each slot with its own clients: focus, a teacher, a guest and
    /// the students, kept from one lesson to the next.
    pub(crate) parallel: usize,
    pub(crate) students: usize,
    pub(crate) grace: &'static str,
    /// The pause after each step of a lesson (a student's join, a move, a leave).
    pub(crate) step: Duration,
    pub(crate) rss_every: Duration,
    pub(crate) tables_every: Duration,
    /// Writes the plot and the section into BENCHMARKS.md (`--soak`, not the smoke run).
    pub(crate) record: bool,
}

impl SoakPlan {
    /// `--soak MINUTES`.
    pub(crate) fn minutes(minutes: u32) -> SoakPlan {
        SoakPlan {
            length: Duration::from_secs(u64::from(minutes) * 60),
            rooms: 1_000,
            parallel: 12,
            students: 30,
            grace: "3s",
            step: Duration::from_millis(100),
            rss_every: Duration::from_secs(1),
            tables_every: Duration::from_secs(15),
            record: true,
        }
    }
}

/// The smoke run's soak: a few short lessons of every kind in a few rooms, each room
/// used more than once; nothing recorded, memory not judged.
pub(crate) const SOAK_SMOKE: SoakPlan = SoakPlan {
    length: Duration::from_secs(8),
    rooms: 6,
    parallel: 2,
    students: 4,
    grace: "1s",
    step: Duration::from_millis(20),
    rss_every: Duration::from_millis(200),
    tables_every: Duration::from_secs(2),
    record: false,
};

/// Phase 6 in the full and the smoke run: the smoke plays [`SOAK_SMOKE`]; `--full` keeps
/// the section a `--soak` run recorded (30 minutes are too long to repeat with the rest).
pub(crate) async fn soak_in_run(plan: Plan, out: &mut String, checks: &mut Checks) {
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
    if !plan.speed_targets {
        return soak_phase(SOAK_SMOKE, out, checks).await;
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    match section_span(&doc) {
        Some(span) => out.push_str(&doc[span]),
        None => writeln!(
            out,
            "{HEADING}\n\nNot recorded yet: `cargo bench --bench raumwart -- --soak 30`.\n"
        )
        .unwrap(),
    }
}

/// What lessons counted, added up over the run.
#[derive(Default)]
struct Tally {
    lessons: usize,
    grace_ends: usize,
    breakouts: usize,
    returns: usize,
    promotions: usize,
    /// Students' and teachers' joins and leaves (a closed connection counts as a leave).
    moves: usize,
    /// Connections closed instead of a leave.
    dropped: usize,
    /// Unavailable presence sent after a lesson (see the end of `lesson`).
    offline: usize,
    /// Lessons that found a room used before (its history, subject and last class
    /// password checked).
    fresh_checks: usize,
    missed_resets: Vec<String>,
    attempts: usize,
    admitted: Vec<String>,
    failures: Vec<String>,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.lessons += o.lessons;
        self.grace_ends += o.grace_ends;
        self.breakouts += o.breakouts;
        self.returns += o.returns;
        self.promotions += o.promotions;
        self.moves += o.moves;
        self.dropped += o.dropped;
        self.offline += o.offline;
        self.fresh_checks += o.fresh_checks;
        self.missed_resets.extend(o.missed_resets);
        self.attempts += o.attempts;
        self.admitted.extend(o.admitted);
        self.failures.extend(o.failures);
    }
}

/// Which rooms are in a lesson, as the load generator knows it: from before focus opens
/// the room to after every client still in it saw the reset.
#[derive(Default)]
struct Rooms {
    busy: HashSet<usize>,
    /// Rooms that became busy since the tables were last asked for.
    touched: HashSet<usize>,
    /// Lessons begun in each room.
    visits: HashMap<usize, usize>,
}

/// What the slots share.
struct Shared {
    plan: SoakPlan,
    c2s: u16,
    started: Instant,
    deadline: Instant,
    next: AtomicUsize,
    rooms: Mutex<Rooms>,
    /// The last class password of each room, for the next lesson's guest to try.
    classes: Mutex<HashMap<usize, String>>,
    /// When each lesson ended, seconds into the soak.
    ended: Mutex<Vec<f64>>,
    tally: Mutex<Tally>,
}

impl Shared {
    /// The next lesson's number and room: the rooms in turn, skipping one still in a lesson.
    fn take_room(&self) -> (usize, usize) {
        loop {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            let r = k % self.plan.rooms;
            let mut rooms = self.rooms.lock().unwrap();
            if rooms.busy.insert(r) {
                rooms.touched.insert(r);
                *rooms.visits.entry(r).or_default() += 1;
                return (k, r);
            }
        }
    }

    /// The lesson's room is reset: free for the next lesson, which tries `class`.
    fn release(&self, r: usize, class: String) {
        self.classes.lock().unwrap().insert(r, class);
        self.rooms.lock().unwrap().busy.remove(&r);
        let at = self.started.elapsed().as_secs_f64();
        self.ended.lock().unwrap().push(at);
    }
}

/// What kind of lesson number `k` is: decided by the number, so that a short run has
/// every kind, in changing combinations.
#[derive(Clone, Copy)]
struct Kind {
    /// The teacher leaves first and the grace period ends the lesson; else the students
    /// leave, then the teacher, and the room is reset at once.
    grace_end: bool,
    /// Some students go to a breakout room and come back; with a grace end they stay
    /// there until the reset empties it.
    breakout: bool,
    /// The teacher makes a student moderator (organizer) ...
    promote: bool,
    /// ... and takes it back before that student leaves early.
    revoke: bool,
    /// The teacher leaves and is back within the grace period ...
    back: bool,
    /// ... reloading the page: the connection closed, a new login.
    reload: bool,
}

impl Kind {
    fn of(k: usize) -> Kind {
        Kind {
            grace_end: k % 2 == 1,
            breakout: k.is_multiple_of(3),
            promote: k % 7 == 1 || k % 7 == 4,
            revoke: (k / 7).is_multiple_of(2),
            back: k % 5 == 2,
            reload: (k / 5).is_multiple_of(2),
        }
    }
}

/// A slot's clients: every one reads what it gets (dropping what no wait asks for).
struct Slot {
    c2s: u16,
    focus: Client,
    teacher: Client,
    guest: Client,
    students: Vec<Client>,
}

async fn focus(c2s: u16) -> Client {
    let mut c = Client::login(c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    c.discard = true;
    c
}

async fn guest(c2s: u16) -> Client {
    let mut c = Client::anonymous(c2s, DOMAIN).await;
    c.discard = true;
    c
}

impl Slot {
    async fn new(c2s: u16, students: usize) -> Slot {
        let mut all = vec![];
        for _ in 0..students {
            all.push(guest(c2s).await);
        }
        Slot {
            c2s,
            focus: focus(c2s).await,
            teacher: guest(c2s).await,
            guest: guest(c2s).await,
            students: all,
        }
    }

    /// Everyone reads for `d`, as real clients keep reading: one that does not makes
    /// Prosody buffer for it, which is not what is measured here.
    async fn idle(&mut self, d: Duration) {
        let everyone = [&mut self.focus, &mut self.teacher, &mut self.guest]
            .into_iter()
            .chain(self.students.iter_mut());
        let reads = everyone.map(|c| async move {
            let nothing = c.wait_for_within(d + WAIT, "nothing", |_| false);
            let _ = tokio::time::timeout(d, nothing).await;
        });
        futures::future::join_all(reads).await;
    }
}

fn nick(i: usize) -> String {
    format!("s{i}")
}

/// Whether `c` sees itself removed from `room` before `deadline`.
async fn removed(c: &mut Client, room: &str, nick: &str, deadline: tokio::time::Instant) -> bool {
    let long = Duration::from_secs(3_600);
    tokio::time::timeout_at(deadline, c.wait_removed_within(long, room, nick))
        .await
        .is_ok()
}

/// A guest tries to enter `jid` with `password` (None: without one): it must be refused.
async fn guess(guest: &mut Client, jid: &str, password: Option<&str>, t: &mut Tally) {
    t.attempts += 1;
    if guest.join(jid, "gast", password).await.is_ok() {
        t.admitted.push(format!("{jid} with password {password:?}"));
        guest.leave(jid, "gast").await;
    }
}

/// The class password of lesson `k`: every lesson its own.
fn class_of(k: usize) -> String {
    format!("Klasse-{k}-Wandertag")
}

/// Lesson `k` in room `r`; `previous` is the room's last class password. Returns false if
/// a reset was missed (the room is then left to the daemon and not used again).
async fn lesson(
    slot: &mut Slot,
    plan: &SoakPlan,
    (k, r): (usize, usize),
    previous: Option<String>,
    t: &mut Tally,
) -> bool {
    let kind = Kind::of(k);
    let (jid, group, class) = (room(r), format!("r-{r}--gruppe-1@{BREAKOUT}"), class_of(k));
    let (n, step, c2s) = (plan.students, plan.step, slot.c2s);
    let grace = seconds(plan.grace);
    // Students 1..=g go to the breakout room; the last e leave early; the last one is
    // the student made moderator.
    let breakout: Vec<usize> = if kind.breakout {
        (1..=(n / 6).clamp(1, 5)).collect()
    } else {
        vec![]
    };
    let early = (n / 10).max(1);
    let promoted = n - 1;
    t.lessons += 1;

    slot.focus
        .join(&jid, "focus", None)
        .await
        .unwrap_or_else(|e| panic!("focus could not open {jid}: {e}"));
    let joined = slot
        .teacher
        .join(&jid, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .unwrap_or_else(|e| panic!("the school password did not open {jid}: {e}"));
    t.moves += 1;
    // Nothing of the last lesson: no chat history, no subject (and below, no password).
    if previous.is_some() {
        t.fresh_checks += 1;
    }
    if !joined.history.is_empty() || !joined.subject.is_empty() {
        t.missed_resets.push(format!(
            "{jid}: lesson {k} found history {:?}, subject {:?}",
            joined.history, joined.subject
        ));
    }
    if joined.affiliation != "owner" {
        slot.teacher
            .wait_affiliation(&jid, "teacher", "owner")
            .await;
    }
    slot.teacher
        .configure(&jid, &[("muc#roomconfig_roomsecret", &class)])
        .await
        .unwrap_or_else(|e| panic!("the teacher could not set the class password: {e}"));
    slot.teacher
        .say(&jid, &format!("Aufgaben der Stunde {k}"))
        .await;
    slot.teacher.set_subject(&jid, &format!("Stunde {k}")).await;

    // Guests who found the link: without a password, a wrong one, the last lesson's.
    guess(&mut slot.guest, &jid, None, t).await;
    guess(&mut slot.guest, &jid, Some("geraten-123"), t).await;
    if let Some(old) = &previous {
        let before = t.admitted.len();
        guess(&mut slot.guest, &jid, Some(old), t).await;
        if t.admitted.len() > before {
            t.missed_resets.push(format!(
                "{jid}: the last lesson's class password let a guest in"
            ));
        }
    }

    for i in 0..n {
        slot.students[i]
            .join(&jid, &nick(i), Some(&class))
            .await
            .unwrap_or_else(|e| panic!("student {i} could not enter {jid}: {e}"));
        t.moves += 1;
        slot.idle(step).await;
    }
    if kind.promote {
        t.promotions += 1;
        let bare = slot.students[promoted].bare();
        slot.teacher
            .set_affiliation(&jid, &bare, "owner")
            .await
            .unwrap_or_else(|e| panic!("the teacher could not make a student moderator: {e}"));
        slot.students[promoted]
            .wait_affiliation(&jid, &nick(promoted), "owner")
            .await;
    }
    if kind.breakout {
        t.breakouts += 1;
    }
    for &i in &breakout {
        // As Jitsi's clients move: leave the main room, enter the breakout room.
        slot.students[i].leave(&jid, &nick(i)).await;
        slot.students[i]
            .join(&group, &nick(i), None)
            .await
            .unwrap_or_else(|e| panic!("student {i} could not enter {group}: {e}"));
        t.moves += 2;
        slot.idle(step).await;
    }
    slot.idle(step * 10).await;

    if kind.back {
        t.returns += 1;
        if kind.reload {
            slot.teacher = guest(c2s).await;
            t.dropped += 1;
        } else {
            slot.teacher.leave(&jid, "teacher").await;
        }
        slot.idle(step * 2).await;
        // Students in, no organizer: still no way in without the password.
        guess(&mut slot.guest, &jid, None, t).await;
        let back = slot
            .teacher
            .join(&jid, "teacher", Some(SCHOOL_PASSWORD))
            .await
            .unwrap_or_else(|e| panic!("the teacher could not come back to {jid}: {e}"));
        if back.affiliation != "owner" {
            slot.teacher
                .wait_affiliation(&jid, "teacher", "owner")
                .await;
        }
        t.moves += 2;
    }
    let stay = kind.breakout && kind.grace_end;
    if !stay {
        for &i in &breakout {
            slot.students[i].leave(&group, &nick(i)).await;
            slot.students[i]
                .join(&jid, &nick(i), Some(&class))
                .await
                .unwrap_or_else(|e| panic!("student {i} could not return to {jid}: {e}"));
            t.moves += 2;
            slot.idle(step).await;
        }
    }
    slot.idle(step * 10).await;

    // Early leaves, every second one by closing the connection (a new login next time).
    for i in n - early..n {
        if kind.promote && kind.revoke && i == promoted {
            let bare = slot.students[i].bare();
            slot.teacher
                .set_affiliation(&jid, &bare, "none")
                .await
                .unwrap_or_else(|e| panic!("the teacher could not take moderator back: {e}"));
            slot.students[i]
                .wait_affiliation(&jid, &nick(i), "none")
                .await;
        }
        if (i + k).is_multiple_of(2) {
            slot.students[i] = guest(c2s).await;
            t.dropped += 1;
        } else {
            slot.students[i].leave(&jid, &nick(i)).await;
        }
        t.moves += 1;
        slot.idle(step).await;
    }

    let in_main: Vec<usize> = (0..n - early)
        .filter(|i| !(stay && breakout.contains(i)))
        .collect();
    let mut missing = vec![];
    if kind.grace_end {
        t.grace_ends += 1;
        slot.teacher.leave(&jid, "teacher").await;
        t.moves += 1;
        guess(&mut slot.guest, &jid, None, t).await;
        let deadline = tokio::time::Instant::now() + client::after(grace);
        for &i in &in_main {
            if !removed(&mut slot.students[i], &jid, &nick(i), deadline).await {
                missing.push(nick(i));
            }
        }
        let in_group = if stay { &breakout[..] } else { &[] };
        for &i in in_group {
            if !removed(&mut slot.students[i], &group, &nick(i), deadline).await {
                missing.push(format!("{} in the breakout room", nick(i)));
            }
        }
        if !removed(&mut slot.focus, &jid, "focus", deadline).await {
            missing.push("focus".into());
        }
    } else {
        for &i in &in_main {
            slot.students[i].leave(&jid, &nick(i)).await;
            t.moves += 1;
            slot.idle(step).await;
        }
        slot.teacher.leave(&jid, "teacher").await;
        t.moves += 1;
        // Nobody left but focus: reset at once, focus goes with the room.
        let deadline = tokio::time::Instant::now() + WAIT;
        if !removed(&mut slot.focus, &jid, "focus", deadline).await {
            missing.push("focus".into());
        }
    }
    if !missing.is_empty() {
        t.missed_resets.push(format!(
            "{jid}: lesson {k} (grace end {}): no removal seen by {missing:?}",
            kind.grace_end
        ));
        return false;
    }
    // A guest at a room between lessons (or in one): never in without a password.
    let other = room((r + plan.rooms / 2) % plan.rooms);
    guess(&mut slot.guest, &other, None, t).await;
    // Students removed by the reset, the guest and focus send unavailable presence, as
    // a client whose connection ends with its meeting (Jitsi's app) makes Prosody do:
    // Prosody keeps, per session, every occupant JID it sent presence to until the
    // session sends unavailable (mod_presence's directed presence list), so a session
    // kept while it is removed from room after room grows by an entry per room. That is
    // Prosody's bookkeeping, not what this soak is after; new logins instead would keep
    // each closed session alive for Prosody's c2s_timeout (5 minutes, a timer each).
    let unavailable = || client::el("presence", client::CLIENT, &[("type", "unavailable")]);
    if kind.grace_end {
        let removed = in_main.iter().chain(if stay { &breakout[..] } else { &[] });
        for &i in removed {
            slot.students[i].send(unavailable()).await;
            t.offline += 1;
        }
    }
    slot.guest.send(unavailable()).await;
    slot.focus.send(unavailable()).await;
    t.offline += 2;
    true
}

/// A slot plays lessons one after the other until the soak's end; after a missed reset
/// it starts again with new clients (the old ones close, the daemon cleans up).
async fn slot_loop(sh: Arc<Shared>) {
    let plan = sh.plan;
    let mut slot = Slot::new(sh.c2s, plan.students).await;
    while Instant::now() < sh.deadline {
        let (k, r) = sh.take_room();
        let previous = sh.classes.lock().unwrap().get(&r).cloned();
        let mut t = Tally::default();
        let ok = lesson(&mut slot, &plan, (k, r), previous, &mut t).await;
        sh.tally.lock().unwrap().add(t);
        if ok {
            sh.release(r, class_of(k));
        } else {
            // The room stays marked busy: what is left there is the missed reset's.
            slot = Slot::new(sh.c2s, plan.students).await;
        }
    }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without text".into())
}

/// The main room a room JID or node belongs to ("r-5", "r-5--gruppe-1@...": 5).
fn lesson_room(name: &str) -> Option<usize> {
    let node = name.split('@').next()?;
    node.split("--").next()?.strip_prefix("r-")?.parse().ok()
}

/// What mod_bench_tables answered: the module's per-room entries (table, room) and
/// Prosody's rooms (JID, occupants).
struct Tables {
    entries: Vec<(String, String)>,
    rooms: Vec<(String, usize)>,
    /// Prosody's Lua heap in use, MB (collectgarbage "count", no collection forced).
    lua_mb: f64,
}

impl Tables {
    fn count(&self, table: &str) -> usize {
        self.entries.iter().filter(|(t, _)| t == table).count()
    }

    /// Entries of rooms outside `excluded` (rooms in a lesson).
    fn stray_entries(&self, excluded: &HashSet<usize>) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, r)| lesson_room(r).is_none_or(|r| !excluded.contains(&r)))
            .map(|(t, r)| format!("{t}[{r}]"))
            .collect()
    }

    fn stray_rooms(&self, excluded: &HashSet<usize>) -> Vec<String> {
        self.rooms
            .iter()
            .filter(|(r, _)| lesson_room(r).is_none_or(|r| !excluded.contains(&r)))
            .map(|(r, n)| format!("{r} ({n} in it)"))
            .collect()
    }
}

async fn tables(reader: &mut Client) -> Tables {
    let answer = reader
        .iq(muc(), "get", client::el("tables", TABLES_NS, &[]))
        .await
        .unwrap_or_else(|e| panic!("mod_bench_tables did not answer: {e}"));
    let list = answer
        .get_child("tables", TABLES_NS)
        .expect("mod_bench_tables's answer");
    let (mut entries, mut rooms) = (vec![], vec![]);
    for c in list.children() {
        let r = c.attr("r").unwrap_or_default().to_owned();
        match c.name() {
            "room" => rooms.push((r, c.attr("n").and_then(|n| n.parse().ok()).unwrap_or(0))),
            table => entries.push((table.to_owned(), r)),
        }
    }
    let lua_kb: f64 = list
        .attr("lua_kb")
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    Tables {
        entries,
        rooms,
        lua_mb: lua_kb / 1024.0,
    }
}

/// Rooms the daemon reports in a session (not idle), from /metrics: /status would
/// build an answer for all 1,000 rooms each time, a transient heap the daemon's RSS
/// would show.
async fn daemon_in_session(http: u16) -> usize {
    let addr = format!("127.0.0.1:{http}").parse().unwrap();
    let Ok((200, body)) = raumwart::http::request(addr, "GET", "/metrics").await else {
        return usize::MAX;
    };
    let m = Scrape(body);
    ["active", "grace", "ending"]
        .iter()
        .map(|state| m.value(&format!("raumwart_rooms{{state=\"{state}\"}}")) as usize)
        .sum()
}

/// One look at the tables during the run, against the rooms in a lesson at that time.
struct Look {
    /// Seconds into the soak.
    at: f64,
    lua_mb: f64,
    keyed: usize,
    promoted: usize,
    classes: usize,
    rooms: usize,
    in_lesson: usize,
    daemon_in_session: usize,
    stray_entries: Vec<String>,
    stray_rooms: Vec<String>,
}

/// Asks for the tables every `tables_every` until `stop`. A room counts as in a lesson
/// if it was busy just before the question or became busy while it was answered.
async fn watch_tables(sh: Arc<Shared>, http: u16, stop: Arc<AtomicBool>) -> Vec<Look> {
    let mut reader = Client::login(sh.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    reader.discard = true;
    let mut looks = vec![];
    loop {
        let next = Instant::now() + sh.plan.tables_every;
        while Instant::now() < next && !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if stop.load(Ordering::Relaxed) {
            return looks;
        }
        let mut excluded = {
            let mut rooms = sh.rooms.lock().unwrap();
            rooms.touched.clear();
            rooms.busy.clone()
        };
        let t = tables(&mut reader).await;
        excluded.extend(sh.rooms.lock().unwrap().touched.iter());
        looks.push(Look {
            at: sh.started.elapsed().as_secs_f64(),
            lua_mb: t.lua_mb,
            keyed: t.count("keyed"),
            promoted: t.count("promoted"),
            classes: t.count("class"),
            rooms: t.rooms.len(),
            in_lesson: excluded.len(),
            daemon_in_session: daemon_in_session(http).await,
            stray_entries: t.stray_entries(&excluded),
            stray_rooms: t.stray_rooms(&excluded),
        });
    }
}

/// Memory of the daemon and Prosody, sampled in a thread of its own so that a busy
/// runtime cannot skip samples: VmRSS and its anonymous part (RssAnon, the heap: what a
/// leak grows; the rest is mostly the program's own pages), in MB.
struct Memory {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Sample>>,
}

/// One sample of [`Memory`]: seconds into the soak, then the daemon's RSS and anonymous
/// part, Prosody's RSS and anonymous part.
type Sample = (f64, [f64; 4]);

impl Memory {
    fn start(daemon: u32, prosody: u32, every: Duration, started: Instant) -> Memory {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = vec![];
            while !flag.load(Ordering::Relaxed) {
                let mb = [
                    rss_mb(daemon),
                    load::status_mb(daemon, "RssAnon"),
                    rss_mb(prosody),
                    load::status_mb(prosody, "RssAnon"),
                ];
                samples.push((started.elapsed().as_secs_f64(), mb));
                std::thread::sleep(every);
            }
            samples
        });
        Memory { stop, thread }
    }

    fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the memory sampler")
    }
}

/// The median of each tenth of `length` seconds (points after it are left out).
fn tenths(points: &[(f64, f64)], length: f64) -> Vec<f64> {
    (0..10)
        .map(|i| {
            let (from, to) = (length * i as f64 / 10.0, length * (i + 1) as f64 / 10.0);
            let v: Vec<f64> = points
                .iter()
                .filter(|(at, _)| *at >= from && *at < to)
                .map(|p| p.1)
                .collect();
            percentile(&v, 0.5)
        })
        .collect()
}

/// 1000 as "1,000", as the rest of BENCHMARKS.md writes numbers.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mb(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else {
        format!("{v:.1}")
    }
}

/// The span of the soak's section in BENCHMARKS.md, up to the next section.
fn section_span(doc: &str) -> Option<std::ops::Range<usize>> {
    let start = doc.find(HEADING)?;
    let body = start + HEADING.len();
    let end = doc[body..]
        .find("\n## ")
        .map_or(doc.len(), |e| body + e + 1);
    Some(start..end)
}

/// Puts `section` into BENCHMARKS.md in place of the last one, else before "What was
/// done".
fn record_section(section: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let doc = match section_span(&doc) {
        Some(span) => format!("{}{section}{}", &doc[..span.start], &doc[span.end..]),
        None => match doc.find("## What was done") {
            Some(at) => format!("{}{section}{}", &doc[..at], &doc[at..]),
            None => format!("{doc}\n{section}"),
        },
    };
    std::fs::write(&path, doc).unwrap();
    eprintln!("wrote the soak's section into {}", path.display());
}

/// What a soak measured.
struct Soaked {
    tally: Tally,
    memory: Vec<Sample>,
    looks: Vec<Look>,
    /// The tables at the end, and how many rooms the daemon still had in a session.
    last: Tables,
    in_session: usize,
    /// When each lesson ended, seconds into the soak.
    ended: Vec<f64>,
    visits: HashMap<usize, usize>,
    /// Busy, as a share of one core, over the soak: the daemon, Prosody.
    busy: (f64, f64),
    /// VmHWM at the end, MB: the daemon, Prosody.
    peaks: (f64, f64),
    /// Lines in the logs (both at warn): Prosody, the daemon.
    log_lines: (usize, usize),
    load: (String, String),
}

impl Soaked {
    /// One series of the memory samples (see [`Sample`]).
    fn series(&self, i: usize) -> Vec<(f64, f64)> {
        self.memory.iter().map(|(at, mb)| (*at, mb[i])).collect()
    }

    fn lua(&self) -> Vec<(f64, f64)> {
        self.looks.iter().map(|l| (l.at, l.lua_mb)).collect()
    }

    fn stray_entries(&self) -> Vec<&String> {
        self.looks.iter().flat_map(|l| &l.stray_entries).collect()
    }

    fn stray_rooms(&self) -> Vec<&String> {
        self.looks.iter().flat_map(|l| &l.stray_rooms).collect()
    }
}

/// Plays the soak; returns what it measured.
async fn soak(plan: SoakPlan) -> Soaked {
    let load_start = load_average();
    let mut env = Env::new(REPO, bench_options(true, plan.grace));
    scaled_config(&env, plan.rooms, plan.grace);
    with_bench_module(&mut env, "bench_tables");
    let daemon = start_daemon(&env).await;
    // Warm-up: one short session in every room, so that what a room costs the first
    // time it is used is not read as growth.
    let mut focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    let mut teacher = env.anonymous().await;
    for i in 0..plan.rooms {
        short_session(&mut focus, &mut teacher, &room(i)).await;
    }
    drop((focus, teacher));

    let (dpid, ppid) = (daemon.pid(), env.prosody_pid());
    let (d_cpu0, p_cpu0) = (threads_cpu_ns(dpid), cpu_ns(ppid));
    let started = Instant::now();
    let memory = Memory::start(dpid, ppid, plan.rss_every, started);
    let sh = Arc::new(Shared {
        plan,
        c2s: env.c2s,
        started,
        deadline: started + plan.length,
        next: AtomicUsize::new(0),
        rooms: Mutex::default(),
        classes: Mutex::default(),
        ended: Mutex::default(),
        tally: Mutex::default(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_tables(sh.clone(), env.http, stop.clone()));
    let mut slots = tokio::task::JoinSet::new();
    for _ in 0..plan.parallel {
        slots.spawn(slot_loop(sh.clone()));
    }
    // A slot that fails (a panic: a wait timed out) is counted and replaced.
    while let Some(done) = slots.join_next().await {
        if let Err(e) = done {
            let text = if e.is_panic() {
                panic_text(e.into_panic())
            } else {
                e.to_string()
            };
            eprintln!("soak: a lesson failed: {text}");
            let mut tally = sh.tally.lock().unwrap();
            tally.failures.push(text);
            if Instant::now() < sh.deadline && tally.failures.len() < 3 * plan.parallel {
                slots.spawn(slot_loop(sh.clone()));
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let busy = (
        (threads_cpu_ns(dpid) - d_cpu0) / 1e9 / wall,
        (cpu_ns(ppid) - p_cpu0) / 1e9 / wall,
    );
    stop.store(true, Ordering::Relaxed);
    let looks = watcher.await.unwrap();
    let memory = memory.stop();

    // The end: the daemon has every room idle, then nothing may be left anywhere.
    let idle_by = Instant::now() + client::after(seconds(plan.grace));
    let mut in_session = daemon_in_session(env.http).await;
    while in_session != 0 && Instant::now() < idle_by {
        tokio::time::sleep(Duration::from_millis(50)).await;
        in_session = daemon_in_session(env.http).await;
    }
    let mut reader = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    reader.discard = true;
    let last = tables(&mut reader).await;
    let lines = |log: &str| log.lines().filter(|l| !l.trim().is_empty()).count();
    let prosody_log = env.prosody_log();
    // Counted in the section; shown here only, where they can be read (test JIDs).
    for line in prosody_log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
    {
        eprintln!("soak: Prosody logged: {line}");
    }
    let tally = std::mem::take(&mut *sh.tally.lock().unwrap());
    let ended = std::mem::take(&mut *sh.ended.lock().unwrap());
    let visits = std::mem::take(&mut sh.rooms.lock().unwrap().visits);
    Soaked {
        tally,
        memory,
        looks,
        last,
        in_session,
        ended,
        visits,
        busy,
        peaks: (load::peak_rss_mb(dpid), load::peak_rss_mb(ppid)),
        log_lines: (lines(&prosody_log), lines(&daemon.log_text())),
        load: (load_start, load_average()),
    }
}

/// Phase 6, as a section of BENCHMARKS.md; with `plan.record` also written there, with
/// the plot.
pub(crate) async fn soak_phase(plan: SoakPlan, out: &mut String, checks: &mut Checks) {
    let rows_before = checks.rows.len();
    let s = soak(plan).await;
    judge(&plan, &s, checks);
    let own = Checks {
        rows: checks.rows[rows_before..].to_vec(),
        speed_unchecked: checks.speed_unchecked,
    };
    let section = section(&plan, &s, &own.table());
    out.push_str(&section);
    if plan.record {
        draw(&plan, &s);
        record_section(&section);
    }
}

/// The claims: memory flat, nothing left of a lesson, every reset seen, nobody in
/// without the password, no lesson failed.
fn judge(plan: &SoakPlan, s: &Soaked, checks: &mut Checks) {
    let length = plan.length.as_secs_f64();
    for (name, rss, anon) in [("daemon", 0, 1), ("Prosody", 2, 3)] {
        let (t, a) = (
            tenths(&s.series(rss), length),
            tenths(&s.series(anon), length),
        );
        let growth = t[9] / t[1] - 1.0;
        checks.claim(
            &format!("soak: {name} RSS, last tenth / first after warm-up"),
            format!(
                "{:+.1} % ({} -> {} MB; anonymous {} -> {} MB)",
                growth * 100.0,
                mb(t[1]),
                mb(t[9]),
                mb(a[1]),
                mb(a[9])
            ),
            "< +5 %",
            growth < RSS_GROWTH_MAX,
        );
    }
    let (entries, rooms) = (s.stray_entries(), s.stray_rooms());
    let none = HashSet::new();
    let (end_entries, end_rooms) = (s.last.stray_entries(&none), s.last.stray_rooms(&none));
    checks.must(
        "soak: module's room tables, rooms not in a lesson",
        format!(
            "{} entries in {} looks; {} at the end",
            entries.len(),
            s.looks.len(),
            end_entries.len()
        ),
        "0",
        entries.is_empty() && end_entries.is_empty() && !s.looks.is_empty(),
    );
    checks.must(
        "soak: Prosody's rooms, rooms not in a lesson",
        format!(
            "{} in {} looks; {} at the end",
            rooms.len(),
            s.looks.len(),
            end_rooms.len()
        ),
        "0",
        rooms.is_empty() && end_rooms.is_empty(),
    );
    let t = &s.tally;
    checks.must(
        "soak: missed resets",
        format!("{} in {} lessons", t.missed_resets.len(), t.lessons),
        "0",
        t.missed_resets.is_empty() && s.in_session == 0,
    );
    checks.must(
        "soak: admitted without password",
        format!("{} of {} attempts", t.admitted.len(), t.attempts),
        "0",
        t.admitted.is_empty(),
    );
    checks.must(
        "soak: lessons failed",
        format!("{} ({} played)", t.failures.len(), t.lessons),
        "0",
        t.failures.is_empty() && t.lessons > 0,
    );
    let shown = t.missed_resets.iter().chain(&t.admitted).chain(&t.failures);
    for what in shown
        .chain(entries)
        .chain(rooms)
        .chain(&end_entries)
        .chain(&end_rooms)
        .take(20)
    {
        eprintln!("soak: {what}");
    }
    if s.in_session != 0 {
        eprintln!(
            "soak: the daemon still had {} rooms in a session after the last lesson",
            s.in_session
        );
    }
}

/// The soak's section of BENCHMARKS.md, with its own `claims` table.
fn section(plan: &SoakPlan, s: &Soaked, claims: &str) -> String {
    let mut out = format!("{HEADING}\n\n");
    let secs = plan.length.as_secs();
    let long = secs >= 120;
    let (length, unit, unit_name) = if long {
        (format!("{} minutes", secs / 60), 60.0, "minutes")
    } else {
        (format!("{secs} s"), 1.0, "seconds")
    };
    if plan.record {
        write!(
            out,
            "Recorded by `cargo bench --bench raumwart -- --soak {}` (a `--full` run keeps \
             this section as it is; the smoke run plays a few seconds of it). ",
            secs / 60
        )
        .unwrap();
    } else {
        out.push_str("The smoke run's few seconds; memory not judged. ");
    }
    writeln!(
        out,
        "{length} of lessons back to back in {rooms} managed rooms, {parallel} at a time, \
         the rooms in turn; each of the {parallel} slots has its own focus, teacher, guest \
         and {students} students, whose connections are kept from lesson to lesson. A \
         lesson: focus opens the room, the teacher enters with the school password, sets \
         the lesson's own class password, writes in the chat and sets a subject; a guest \
         tries without a password, with a wrong one and with the room's last class \
         password; the students enter one by one ({step} ms apart, as every step below); \
         {early} of them leave early, every second by closing the connection (a new login \
         next time). After the lesson, students removed by the reset, the guest and focus \
         send unavailable presence, as a client whose connection ends with its meeting \
         makes Prosody do (Prosody keeps, per session, each occupant JID it sent presence to \
         until then: a session removed from room after room without it grows by an entry \
         per room). By the lesson's number: every second ends with the grace period \
         ({grace}: the teacher leaves first, a guest tries again, the students and focus \
         must be removed), the others with the students leaving, then the teacher (focus \
         must be removed with the room); every third sends {group} of the students to a \
         breakout room, back before the end or, with a grace end, there until the reset \
         empties it; two in seven the teacher makes a student moderator (taken back again \
         every other time); every fifth the teacher leaves, or reloads, and is back within \
         the grace period. After each lesson the guest tries another room without a \
         password. Before the soak, one short session in every room (focus opens it, a \
         teacher enters and leaves), so that what a room costs the first time is not read \
         as growth. Load average {} at the start, {} at the end.\n",
        s.load.0,
        s.load.1,
        rooms = thousands(plan.rooms),
        parallel = plan.parallel,
        students = plan.students,
        step = plan.step.as_millis(),
        early = (plan.students / 10).max(1),
        grace = plan.grace,
        group = (plan.students / 6).clamp(1, 5),
    )
    .unwrap();
    let t = &s.tally;
    let used = |r| s.visits.get(&r).copied().unwrap_or(0);
    writeln!(
        out,
        "{} lessons ({:.0} a minute), {} joins and leaves of students and teachers, {} \
         connections closed instead, {} unavailable presences after a lesson; {} ended by the grace period, {} with a breakout room, \
         {} with a student made moderator, {} with the teacher back; {} lessons found their \
         room used before (history, subject and the last class password checked); each \
         room had {} to {} lessons. Busy, as a share of one core: Prosody {:.2}, the \
         daemon {:.3}.\n",
        t.lessons,
        t.lessons as f64 / (secs as f64 / 60.0),
        t.moves,
        t.dropped,
        t.offline,
        t.grace_ends,
        t.breakouts,
        t.promotions,
        t.returns,
        t.fresh_checks,
        (0..plan.rooms).map(used).min().unwrap_or(0),
        (0..plan.rooms).map(used).max().unwrap_or(0),
        s.busy.1,
        s.busy.0,
    )
    .unwrap();
    writeln!(
        out,
        "Memory: the resident set (VmRSS) of each process and its anonymous part (RssAnon: \
         the heap, where a leak grows; the rest is mostly the program's own pages) every {} \
         ms, and Prosody's Lua heap in use (`collectgarbage(\"count\")`, read at each look \
         at the tables, no collection forced). The soak is cut into ten equal tenths; the \
         first is warm-up; compared are the median RSS of the second tenth (the first \
         after warm-up) and that of the last: growth < 5 % for each process. Peaks \
         (VmHWM): daemon {}, Prosody {} MB.\n",
        plan.rss_every.as_millis(),
        mb(s.peaks.0),
        mb(s.peaks.1),
    )
    .unwrap();
    if plan.record {
        writeln!(
            out,
            "![RSS of the daemon and Prosody over the soak]({PLOT})\n"
        )
        .unwrap();
    }
    writeln!(
        out,
        "| tenth | {unit_name} | daemon RSS MB | anonymous | Prosody RSS MB | anonymous | \
         Prosody Lua heap MB | lessons ended |\n|---|---|---|---|---|---|---|---|"
    )
    .unwrap();
    let length = secs as f64;
    let columns: Vec<Vec<f64>> = (0..4)
        .map(|i| tenths(&s.series(i), length))
        .chain([tenths(&s.lua(), length)])
        .collect();
    for i in 0..10 {
        let (from, to) = (length * i as f64 / 10.0, length * (i + 1) as f64 / 10.0);
        let n = s
            .ended
            .iter()
            .filter(|at| **at >= from && **at < to)
            .count();
        let name = match i {
            0 => "1 (warm-up)".to_owned(),
            1 => "2 (compared)".to_owned(),
            9 => "10 (compared)".to_owned(),
            _ => (i + 1).to_string(),
        };
        let values: Vec<String> = columns.iter().map(|c| mb(c[i])).collect();
        writeln!(
            out,
            "| {name} | {:.1}-{:.1} | {} | {n} |",
            from / unit,
            to / unit,
            values.join(" | ")
        )
        .unwrap();
    }
    let max = |f: fn(&Look) -> usize| s.looks.iter().map(f).max().unwrap_or(0);
    let last = &s.last;
    writeln!(
        out,
        "\nThe module's per-room tables (mod_raumwart's `keyed` and `promoted` by room JID, \
         raumwart_store's class passwords by room), read from Prosody by \
         bench/prosody/mod_bench_tables.lua through mod_raumwart's `module.save()`, and \
         the rooms Prosody holds on its MUC hosts: {} looks during the soak, every {} s, \
         each against the rooms the load generator had in a lesson (from before focus \
         opened the room to after the reset was seen; at most {} at a time): at most {} \
         rooms in `keyed`, {} in `promoted`, {} class passwords, {} rooms in Prosody (the \
         daemon: at most {} in a session); entries for a room not in a lesson: {}, rooms \
         in Prosody not in a lesson: {}. At the end, with the daemon reporting {} rooms in \
         a session: `keyed` {}, `promoted` {}, class passwords {}, rooms in Prosody {}. \
         Prosody's log at warn: {} lines; the daemon's: {} lines.\n",
        s.looks.len(),
        plan.tables_every.as_secs(),
        max(|l| l.in_lesson),
        max(|l| l.keyed),
        max(|l| l.promoted),
        max(|l| l.classes),
        max(|l| l.rooms),
        max(|l| l.daemon_in_session),
        s.stray_entries().len(),
        s.stray_rooms().len(),
        s.in_session,
        last.count("keyed"),
        last.count("promoted"),
        last.count("class"),
        last.rooms.len(),
        s.log_lines.0,
        s.log_lines.1,
    )
    .unwrap();
    writeln!(out, "{claims}").unwrap();
    out
}

/// The memory curve as docs/bench/soak.svg.
fn draw(plan: &SoakPlan, s: &Soaked) {
    // The soak itself: not the last lessons finishing after its end.
    let length = plan.length.as_secs_f64();
    let minutes = |points: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
        points
            .into_iter()
            .filter(|(at, _)| *at <= length)
            .map(|(at, v)| (at / 60.0, v))
            .collect()
    };
    let lines = [
        ("Prosody RSS", "#c0392b", minutes(s.series(2))),
        ("Prosody Lua heap", "#e59866", minutes(s.lua())),
        ("daemon RSS", "#2471a3", minutes(s.series(0))),
        ("daemon anonymous (heap)", "#85c1e9", minutes(s.series(1))),
    ];
    let tenth = plan.length.as_secs_f64() / 60.0 / 10.0;
    let title = format!(
        "Memory over a {}-minute soak: {} rooms, {} lessons at a time",
        plan.length.as_secs() / 60,
        thousands(plan.rooms),
        plan.parallel
    );
    let chart = Chart {
        title: &title,
        x_label: "minutes",
        y_label: "MB",
        series: lines
            .iter()
            .map(|(name, color, points)| Series {
                name,
                color,
                points,
            })
            .collect(),
        spans: vec![
            (0.0, tenth, "warm-up", "#f2f2f2"),
            (tenth, 2.0 * tenth, "compared", "#e1ecf8"),
            (9.0 * tenth, 10.0 * tenth, "compared", "#e1ecf8"),
        ],
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PLOT);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, chart.svg()).unwrap();
    eprintln!("wrote {}", path.display());
}
