//! Load for the flood test and the benchmark: guests who enter and leave a room as fast as
//! Prosody answers, strangers who guess its password, clients kept reading while that goes
//! on, and what Prosody's memory and CPU do meanwhile (read from /proc).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::{self, Client, WAIT};
use crate::DOMAIN;

/// A field of /proc/<pid>/status in MB (e.g. "VmRSS", or "VmHWM" for the peak), 0 if the
/// process is gone.
pub fn status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// Resident memory of `pid` now, in MB.
pub fn rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmRSS")
}

/// The most resident memory `pid` has had since it started, in MB (between samples too).
pub fn peak_rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmHWM")
}

/// CPU time (user + system) `pid` has used, in ms (/proc/<pid>/stat, 100 ticks a second).
pub fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks * 10.0
}

/// Samples the resident memory of a process in a thread of its own, so that a busy
/// runtime cannot skip samples.
pub struct RssWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Duration, f64)>>,
}

impl RssWatch {
    /// Starts sampling `pid` every `every`.
    pub fn start(pid: u32, every: Duration) -> RssWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut samples = vec![];
            while !flag.load(Ordering::Relaxed) {
                samples.push((started.elapsed(), rss_mb(pid)));
                std::thread::sleep(every);
            }
            samples
        });
        RssWatch { stop, thread }
    }

    /// Stops sampling; returns (time since start, RSS MB) of every sample.
    pub fn stop(self) -> Vec<(Duration, f64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the RSS sampler")
    }
}

/// The largest RSS among `samples`.
pub fn peak(samples: &[(Duration, f64)]) -> f64 {
    samples.iter().map(|s| s.1).fold(0.0, f64::max)
}

/// One RSS sample a second, for failure messages and reports ("15.2 15.9 ...").
pub fn per_second(samples: &[(Duration, f64)]) -> String {
    let mut out = vec![];
    let mut next = Duration::ZERO;
    for &(at, mb) in samples {
        if at >= next {
            out.push(format!("{mb:.1}"));
            next += Duration::from_secs(1);
        }
    }
    out.join(" ")
}

/// What the flood's clients saw: every join and leave they completed (their own presence
/// came back) and every attempt Prosody refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FloodCount {
    pub joins: u64,
    pub leaves: u64,
    pub refused: u64,
}

impl FloodCount {
    /// The events these make the module send: a join, a leave, a wrong password each.
    pub fn events(&self) -> u64 {
        self.joins + self.leaves + self.refused
    }
}

#[derive(Default)]
struct Counters {
    joins: AtomicU64,
    leaves: AtomicU64,
    refused: AtomicU64,
}

impl Counters {
    fn get(&self) -> FloodCount {
        FloodCount {
            joins: self.joins.load(Ordering::Relaxed),
            leaves: self.leaves.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

/// One guest's flood, as the flood test and the benchmark make it: connections that enter
/// and leave with the class password, and connections that guess.
pub const GUESTS: usize = 6;
pub const STRANGERS: usize = 2;
/// How much such a flood may grow Prosody's resident memory, in MB.
pub const RSS_GROWTH_MAX_MB: f64 = 50.0;

/// Rounds a flooding connection sends ahead of Prosody's answers: Prosody always finds
/// its next stanza waiting, as from a client that does not wait.
pub const AHEAD: u64 = 8;

/// One guest's flood from several connections: guests who enter a room with its password
/// and leave again, strangers whose every attempt must be refused, each connection as
/// fast as Prosody answers it. The connections speak raw XMPP and only count their
/// answers (no XML parsing): a load generator that parses everything Prosody sends would
/// be slower than Prosody in a debug build. Each connection stops at `stop` or after its
/// `max` rounds: bounded in time and in total work.
pub struct Flood {
    port: u16,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    tasks: Vec<JoinHandle<()>>,
    next_nick: usize,
}

/// What one kind of flooding connection sends in a round and how it knows the answers.
struct Round {
    stanzas: Vec<u8>,
    /// Answers a round gets, each with one `answer` in it.
    answers: u64,
    answer: &'static [u8],
    /// Joins that must succeed: any error fails the flood.
    no_errors: bool,
}

impl Flood {
    /// A flood against the Prosody whose c2s port is `port`; no connection yet.
    pub fn new(port: u16) -> Flood {
        Flood {
            port,
            stop: Arc::new(AtomicBool::new(false)),
            counters: Arc::default(),
            tasks: vec![],
            next_nick: 0,
        }
    }

    /// A MUC nick as lib-jitsi-meet makes it, for a guest without a display name.
    fn nick(&mut self) -> String {
        self.next_nick += 1;
        client::new_muc_nick(&format!("flood{}", self.next_nick))
    }

    async fn start(&mut self, round: Round, max: u64, count: fn(&Counters, u64, u64)) {
        let stream = raw_login(self.port).await;
        let (stop, counters) = (self.stop.clone(), self.counters.clone());
        self.tasks.push(tokio::spawn(async move {
            churn(stream, &round, max, &stop, |before, now| {
                count(&counters, before, now)
            })
            .await;
        }));
    }

    /// Adds `n` guests who enter `room_jid` with `password` and leave again, at most
    /// `max` times each; every join must succeed.
    pub async fn guests(&mut self, room_jid: &str, password: &str, n: usize, max: u64) {
        for _ in 0..n {
            let to = format!("{room_jid}/{}", self.nick());
            let stanzas = format!(
                "<presence to='{to}'><x xmlns='{MUC}'><password>{password}</password></x></presence>\
                 <presence to='{to}' type='unavailable'/>",
                password = password.replace('&', "&amp;").replace('<', "&lt;"),
            );
            let round = Round {
                stanzas: stanzas.into_bytes(),
                answers: 2,
                // The own presence, on entering and on leaving.
                answer: b"code='110'",
                no_errors: true,
            };
            // Answers come in order: a join's, then a leave's.
            let count: fn(&Counters, u64, u64) = |c, before, now| {
                let joins = now.div_ceil(2) - before.div_ceil(2);
                c.joins.fetch_add(joins, Ordering::Relaxed);
                c.leaves.fetch_add(now - before - joins, Ordering::Relaxed);
            };
            self.start(round, max, count).await;
        }
    }

    /// Adds `n` strangers who try to enter `room_jid`, by turns with a wrong password and
    /// with none, at most `max` times each; every attempt must be refused.
    pub async fn strangers(&mut self, room_jid: &str, n: usize, max: u64) {
        for _ in 0..n {
            let to = format!("{room_jid}/{}", self.nick());
            let stanzas = format!(
                "<presence to='{to}'><x xmlns='{MUC}'><password>a-wrong-guess</password></x></presence>\
                 <presence to='{to}'><x xmlns='{MUC}'/></presence>"
            );
            let round = Round {
                stanzas: stanzas.into_bytes(),
                answers: 2,
                answer: b"<not-authorized",
                no_errors: false,
            };
            let count: fn(&Counters, u64, u64) = |c, before, now| {
                c.refused.fetch_add(now - before, Ordering::Relaxed);
            };
            self.start(round, max, count).await;
        }
    }

    /// What the connections have counted so far.
    pub fn count(&self) -> FloodCount {
        self.counters.get()
    }

    /// Stops every connection once Prosody has answered all it sent (every guest then is
    /// outside the room) and returns what they counted; a connection's failure fails the
    /// caller.
    pub async fn stop(self) -> FloodCount {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            if let Err(e) = task.await {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        self.counters.get()
    }
}

const MUC: &str = "http://jabber.org/protocol/muc";

/// Logs in anonymously with raw XMPP; returns the stream, bound and ready.
async fn raw_login(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to Prosody's c2s port");
    s.set_nodelay(true).expect("TCP_NODELAY");
    let header = format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='{DOMAIN}' version='1.0'>"
    );
    let steps: [(&[u8], &[u8]); 4] = [
        (header.as_bytes(), b"</stream:features>"),
        (
            b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>",
            b"<success",
        ),
        (header.as_bytes(), b"</stream:features>"),
        (
            b"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
            b"</iq>",
        ),
    ];
    for (send, until) in steps {
        s.write_all(send).await.expect("write to Prosody");
        let mut seen = vec![];
        let mut buf = [0u8; 4096];
        while count(&seen, until) == 0 {
            let n = tokio::time::timeout(WAIT, s.read(&mut buf))
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no {} from Prosody within {WAIT:?}: {}",
                        String::from_utf8_lossy(until),
                        String::from_utf8_lossy(&seen)
                    )
                })
                .expect("read from Prosody");
            assert!(
                n > 0,
                "Prosody closed the stream: {}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
    }
    s
}

/// Occurrences of `pattern` in `hay`.
fn count(hay: &[u8], pattern: &[u8]) -> u64 {
    hay.windows(pattern.len()).filter(|w| *w == pattern).count() as u64
}

/// Counts a pattern in a stream read in pieces (an occurrence may span two).
struct Matches {
    pattern: &'static [u8],
    carry: Vec<u8>,
}

impl Matches {
    fn new(pattern: &'static [u8]) -> Matches {
        Matches {
            pattern,
            carry: vec![],
        }
    }

    fn feed(&mut self, piece: &[u8]) -> u64 {
        let mut hay = std::mem::take(&mut self.carry);
        hay.extend_from_slice(piece);
        let n = count(&hay, self.pattern);
        // Shorter than the pattern: no occurrence counted already fits in it.
        let keep = hay.len().saturating_sub(self.pattern.len() - 1);
        self.carry = hay.split_off(keep);
        n
    }
}

/// Sends `round` again and again, up to AHEAD rounds ahead of the answers, until `stop`
/// or `max` rounds, then waits for the last answers; `answered(before, now)` is told of
/// every new answer.
async fn churn(
    mut s: TcpStream,
    round: &Round,
    max: u64,
    stop: &AtomicBool,
    answered: impl Fn(u64, u64),
) {
    let (mut answers, mut errors) = (Matches::new(round.answer), Matches::new(b"type='error'"));
    let (mut rounds, mut expected, mut got) = (0u64, 0u64, 0u64);
    let mut buf = vec![0u8; 64 * 1024];
    let mut last = Vec::new();
    loop {
        let ending = stop.load(Ordering::Relaxed) || rounds >= max;
        while !ending && rounds < max && expected - got < AHEAD * round.answers {
            s.write_all(&round.stanzas).await.expect("write to Prosody");
            rounds += 1;
            expected += round.answers;
        }
        if ending && got == expected {
            break;
        }
        let n = tokio::time::timeout(WAIT, s.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "a flooding connection waited {WAIT:?} for {} of {expected} answers; \
                     last read: {}",
                    expected - got,
                    String::from_utf8_lossy(&last)
                )
            })
            .expect("read from Prosody");
        assert!(n > 0, "Prosody closed a flooding connection");
        let piece = &buf[..n];
        if round.no_errors && errors.feed(piece) > 0 {
            panic!(
                "an error for a flooding guest: {}",
                String::from_utf8_lossy(piece)
            );
        }
        let new = answers.feed(piece);
        answered(got, got + new);
        got += new;
        assert!(got <= expected, "more answers than stanzas sent");
        last.clear();
        last.extend_from_slice(&piece[piece.len().saturating_sub(2048)..]);
    }
    let _ = s.write_all(b"</stream:stream>").await;
}

/// A client that keeps reading (and dropping) what it receives while a flood goes on, as
/// a real client does: one that stops reading makes Prosody buffer for it.
pub struct Reading {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Client>,
}

/// Starts reading for `c` until `Reading::stop`.
pub fn keep_reading(mut c: Client) -> Reading {
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        loop {
            let read = tokio::select! {
                biased;
                _ = &mut stopped => None,
                s = c.try_next() => Some(s.is_some()),
            };
            match read {
                None => return c,
                Some(true) => {}
                Some(false) => panic!("{}: Prosody closed the stream", c.jid),
            }
        }
    });
    Reading { stop, task }
}

impl Reading {
    /// Stops reading; returns the client.
    pub async fn stop(self) -> Client {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(c) => c,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

/// How long to wait for something a timer causes (a grace period's end, a retry) on a
/// machine under load: the timer plus half of it, at least 5 s more.
pub fn timer_plus_margin(timer: Duration) -> Duration {
    timer + (timer / 2).max(Duration::from_secs(5))
}

/// A stranger's guess at `room_jid` on the Prosody whose c2s port is `port`: it must be
/// refused. Counted by raumwart, it also shows that every event before it arrived.
pub async fn refused_guess(port: u16, room_jid: &str) {
    let mut stranger = Client::anonymous(port, DOMAIN).await;
    let answer = stranger.join(room_jid, "stranger", Some("a-guess")).await;
    assert_eq!(
        answer.err().as_deref(),
        Some("not-authorized"),
        "a stranger's guess"
    );
}
