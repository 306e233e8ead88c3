//! A bounded fault campaign against a real Prosody: scripted lessons (a teacher who set a
//! class password, students coming and going, the teacher leaving early and coming back)
//! while raumwart is killed (SIGKILL), Prosody restarts, the component link is cut or
//! black-holed (a TCP proxy between raumwart and Prosody) and Prosody freezes (SIGSTOP).
//! It counts what the README promises never happens, and asserts it.
//!
//! `cargo test --test live campaign::` runs the short version (CI). The full one:
//! `RAUMWART_CAMPAIGN=full cargo test --test live campaign:: -- --nocapture`
//! (`RAUMWART_CAMPAIGN_SEED` picks the order of the faults).

use std::time::{Duration, Instant};

use testkit::proxy::{Mode, Proxy};
use testkit::*;

use crate::REPO;

/// From Prosody back (port open, or SIGCONT) to raumwart in sync.
const IN_SYNC_WITHIN: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    KillRaumwart,
    RestartProsody,
    CutLink(u64),
    BlackHoleLink(u64),
    FreezeProsody(u64),
}

struct Plan {
    rooms: usize,
    faults: Vec<Fault>,
}

fn plan() -> Plan {
    let seed: u64 = std::env::var("RAUMWART_CAMPAIGN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let full = std::env::var("RAUMWART_CAMPAIGN").as_deref() == Ok("full");
    let (rooms, kills, restarts, links, freeze) = if full {
        (20, 100, 10, 10, (20, 20))
    } else {
        (3, 4, 1, 1, (2, 2))
    };
    let mut faults = vec![Fault::KillRaumwart; kills];
    faults.extend(vec![Fault::RestartProsody; restarts]);
    for _ in 0..links {
        let (cut, hole) = if full {
            (5 + next(26), 5 + next(26))
        } else {
            (1, 2)
        };
        faults.push(Fault::CutLink(cut));
        faults.push(Fault::BlackHoleLink(hole));
    }
    faults.push(Fault::FreezeProsody(freeze.0));
    if full {
        faults.extend(vec![Fault::FreezeProsody(freeze.1); 4]);
    }
    for i in (1..faults.len()).rev() {
        faults.swap(i, next(i as u64 + 1) as usize);
    }
    Plan { rooms, faults }
}

#[derive(Debug, Default)]
struct Counts {
    /// Someone removed, or refused with the right password, while the lesson went on.
    lessons_disturbed: usize,
    admitted_without_the_right_password: usize,
    sessions_ended_without_a_reset: usize,
    rooms_reset_twice_or_in_use: usize,
    /// The slowest time from Prosody back to raumwart in sync.
    in_sync_after: Duration,
}

struct Lesson {
    room: String,
    jid: String,
    focus: Focus,
    teacher: Client,
    students: Vec<(Client, String)>,
    joins: usize,
}

impl Lesson {
    async fn start(env: &Env, room: &str) -> Lesson {
        let focus = env.focus(room).await;
        let teacher = teacher_with_class(env, room, "teacher").await;
        let mut lesson = Lesson {
            room: room.to_owned(),
            jid: room_jid(room),
            focus,
            teacher,
            students: vec![],
            joins: 0,
        };
        for _ in 0..2 {
            lesson.student_comes(env, &mut Counts::default()).await;
        }
        lesson
    }

    /// After Prosody restarted: everyone reloads; students may be back before the teacher.
    async fn rejoin(env: &Env, room: &str, students: usize, c: &mut Counts) -> Lesson {
        let focus = env.focus(room).await;
        let mut lesson = Lesson {
            room: room.to_owned(),
            jid: room_jid(room),
            focus,
            teacher: env.anonymous().await,
            students: vec![],
            joins: 0,
        };
        for _ in 0..students {
            lesson.student_comes(env, c).await;
        }
        lesson.teacher_comes(c).await;
        lesson
    }

    async fn student_comes(&mut self, env: &Env, c: &mut Counts) {
        self.joins += 1;
        let nick = format!("student-{}", self.joins);
        let mut s = env.anonymous().await;
        match s.join(&self.jid, &nick, Some(CLASS_PASSWORD)).await {
            Ok(_) => self.students.push((s, nick)),
            Err(e) => {
                eprintln!("{}: {nick} refused with the class password: {e}", self.room);
                c.lessons_disturbed += 1;
            }
        }
    }

    async fn teacher_comes(&mut self, c: &mut Counts) {
        match self
            .teacher
            .join(&self.jid, "teacher", Some(SCHOOL_PASSWORD))
            .await
        {
            Ok(j) if j.affiliation == "owner" => {}
            Ok(_) => {
                self.teacher
                    .wait_affiliation(&self.jid, "teacher", "owner")
                    .await
            }
            Err(e) => {
                eprintln!(
                    "{}: teacher refused with the school password: {e}",
                    self.room
                );
                c.lessons_disturbed += 1;
            }
        }
    }

    /// Students come and go, the teacher leaves and comes back, a stranger guesses.
    async fn go_on(&mut self, env: &Env, round: usize, c: &mut Counts) {
        if !self.students.is_empty() {
            let (mut s, nick) = self.students.remove(0);
            s.leave(&self.jid, &nick).await;
        }
        self.student_comes(env, c).await;
        if round % 2 == 1 {
            self.teacher.leave(&self.jid, "teacher").await;
            self.teacher_comes(c).await;
        }
        let mut stranger = env.anonymous().await;
        for guess in [
            None,
            Some("Klasse-4b-Wandertah"),
            Some(SCHOOL_PASSWORD_TYPO),
        ] {
            if stranger.join(&self.jid, "stranger", guess).await.is_ok() {
                eprintln!("{}: a stranger got in with {guess:?}", self.room);
                c.admitted_without_the_right_password += 1;
                stranger.leave(&self.jid, "stranger").await;
            }
        }
        self.check_nobody_removed(c).await;
    }

    async fn check_nobody_removed(&mut self, c: &mut Counts) {
        let jid = self.jid.clone();
        let people = std::iter::once((&mut self.teacher, "teacher".to_owned()))
            .chain(self.students.iter_mut().map(|(s, n)| (s, n.clone())));
        for (client, nick) in people {
            client.sync().await;
            let me = client.occupant(&jid, &nick);
            if client.saw(|s| {
                s.name() == "presence"
                    && s.attr("type") == Some("unavailable")
                    && s.attr("from") == Some(me.as_str())
            }) {
                eprintln!("{me} was removed during the lesson");
                c.lessons_disturbed += 1;
            }
        }
    }

    async fn end(mut self) {
        for (mut s, nick) in std::mem::take(&mut self.students) {
            s.leave(&self.jid, &nick).await;
        }
        self.teacher.leave(&self.jid, "teacher").await;
        self.focus.gone().await;
    }
}

const SCHOOL_PASSWORD_TYPO: &str = "Tafel-Kreide-Pausenhof-48";

/// Waits until `/healthz` says `ok` (bounded by the daemon's longest reconnect backoff
/// plus a margin: after a long cut its next attempt may be that far off); returns how
/// long that took.
async fn in_sync(env: &Env) -> Duration {
    let start = Instant::now();
    let limit = client::after(raumwart::BACKOFF_MAX);
    loop {
        let addr = format!("127.0.0.1:{}", env.http).parse().unwrap();
        if let Ok((200, _)) = raumwart::http::request(addr, "GET", "/healthz").await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "raumwart not in sync {limit:?} after the fault"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `/healthz` no longer says `ok`: raumwart noticed the fault.
async fn noticed(env: &Env) {
    let start = Instant::now();
    while http_get(env, "/healthz").await.0 == 200 {
        assert!(start.elapsed() < WAIT, "raumwart did not notice the fault");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn count_in_logs(daemons: &[Daemon], needle: &str) -> usize {
    daemons
        .iter()
        .map(|d| d.log_text().lines().filter(|l| l.contains(needle)).count())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lessons_survive_a_fault_campaign() {
    let plan = plan();
    let mut env = Env::new(
        REPO,
        Options {
            school_rooms: plan.rooms,
            grace_period: "30s",
            log: "info",
            prosody_log: "info",
            ..Options::default()
        },
    );
    let proxy = Proxy::start(env.component).await;
    let config = env.dir.join("raumwart-proxied.toml");
    let text = std::fs::read_to_string(env.daemon_config_path()).unwrap();
    let text = text.replace(
        &format!(":{}\"", env.component),
        &format!(":{}\"", proxy.port),
    );
    std::fs::write(&config, text).unwrap();
    let mut daemons = vec![env.spawn_daemon_with(&config)];
    in_sync(&env).await;

    let rooms: Vec<String> = (1..=plan.rooms).map(school_room).collect();
    let mut lessons = vec![];
    for room in &rooms {
        lessons.push(Lesson::start(&env, room).await);
    }
    let mut c = Counts::default();
    let started = Instant::now();
    for (round, fault) in plan.faults.iter().enumerate() {
        eprintln!("round {round}: {fault:?}");
        match *fault {
            Fault::KillRaumwart => {
                daemons.last_mut().unwrap().kill9();
                daemons.push(env.spawn_daemon_with(&config));
                in_sync(&env).await;
            }
            Fault::RestartProsody => {
                env.stop_prosody();
                let students: Vec<usize> = lessons.iter().map(|l| l.students.len()).collect();
                lessons.clear();
                env.start_prosody();
                c.in_sync_after = c.in_sync_after.max(in_sync(&env).await);
                for (room, n) in rooms.iter().zip(students) {
                    lessons.push(Lesson::rejoin(&env, room, n, &mut c).await);
                }
            }
            Fault::CutLink(secs) => {
                proxy.set(Mode::Cut);
                noticed(&env).await;
                tokio::time::sleep(Duration::from_secs(secs)).await; // the fault itself
                proxy.set(Mode::Pass);
                in_sync(&env).await;
            }
            Fault::BlackHoleLink(secs) => {
                proxy.set(Mode::BlackHole);
                tokio::time::sleep(Duration::from_secs(secs)).await; // the fault itself
                proxy.set(Mode::Pass);
                in_sync(&env).await;
            }
            Fault::FreezeProsody(secs) => {
                send_signal(env.prosody_pid(), "STOP");
                tokio::time::sleep(Duration::from_secs(secs)).await; // the fault itself
                send_signal(env.prosody_pid(), "CONT");
                c.in_sync_after = c.in_sync_after.max(in_sync(&env).await);
            }
        }
        for lesson in &mut lessons {
            lesson.go_on(&env, round, &mut c).await;
        }
    }

    // Every lesson ends as usual: exactly one reset each, and the rooms are fresh.
    for lesson in lessons {
        lesson.end().await;
    }
    daemons
        .last_mut()
        .unwrap()
        .wait_metric("raumwart_sessions_ended_total", rooms.len() as f64)
        .await;
    for room in &rooms {
        let _focus = env.focus(room).await;
        let mut s = env.anonymous().await;
        if s.join(&room_jid(room), "after", Some(CLASS_PASSWORD))
            .await
            .is_ok()
        {
            c.sessions_ended_without_a_reset += 1;
        }
    }
    let resets = count_in_logs(&daemons, "resetting room");
    let ended = count_in_logs(&daemons, "session ended");
    c.rooms_reset_twice_or_in_use += resets.saturating_sub(rooms.len());
    c.sessions_ended_without_a_reset += ended.saturating_sub(resets);
    eprintln!(
        "campaign: {} rooms, {} faults in {:?}; {c:#?}",
        rooms.len(),
        plan.faults.len(),
        started.elapsed()
    );
    assert_eq!(c.lessons_disturbed, 0, "{c:#?}");
    assert_eq!(c.admitted_without_the_right_password, 0, "{c:#?}");
    assert_eq!(c.sessions_ended_without_a_reset, 0, "{c:#?}");
    assert_eq!(c.rooms_reset_twice_or_in_use, 0, "{c:#?}");
    assert_eq!(ended, rooms.len(), "sessions ended: {ended}");
    assert!(c.in_sync_after < IN_SYNC_WITHIN, "{c:#?}");
}
