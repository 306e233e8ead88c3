//! One short lesson, played with built-in XMPP clients against a Prosody with the module
//! and a running raumwart, each step printed as it happens, with `raumwart status` along
//! the way. `dev/run-local.sh` plays it (through `cargo run --example lesson`) and
//! the live test `demo` plays the same code in CI, so the demo cannot rot.
//!
//! Its clients are the kit's (`client`).

use std::time::{Duration, Instant};

use crate::client::{self, Client};

/// Where the lesson takes place and how to look at raumwart.
pub struct Lesson {
    /// Prosody's c2s port on 127.0.0.1, with anonymous logins on `domain`.
    pub c2s: u16,
    pub domain: String,
    /// The managed room, `node@muc`.
    pub room_jid: String,
    pub school_password: String,
    /// The configured grace period: the narration says it, the students' removal is
    /// awaited for it plus a margin.
    pub grace: Duration,
    /// Runs `raumwart status` and returns its table.
    pub status: Box<dyn Fn() -> String>,
}

const CLASS_PASSWORD: &str = "Klasse-4b-Wandertag";

/// The room states `raumwart status` shows.
const STATES: [&str; 4] = ["idle", "active", "grace", "ending"];

struct Narrator(Instant);

impl Narrator {
    fn say(&self, line: &str) {
        println!("[{:5.1}s] {line}", self.0.elapsed().as_secs_f64());
    }
}

impl Lesson {
    fn node(&self) -> &str {
        self.room_jid.split('@').next().unwrap_or("")
    }

    /// Shows `raumwart status` once the room's row is in `state` with `people` in it
    /// (students' joins reach raumwart a moment later than an organizer's).
    fn status_when(&self, n: &Narrator, state: &str, people: u32) {
        let deadline = Instant::now() + client::WAIT;
        let want = format!("{state} {people}");
        loop {
            let table = (self.status)();
            // The room's row: its state, then the number of people, after the room.
            let now = table
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .find_map(|row| {
                    let at = row.iter().position(|c| *c == self.node())?;
                    let state = at + row[at..].iter().position(|c| STATES.contains(c))?;
                    Some(row.get(state..state + 2)?.join(" "))
                })
                .unwrap_or_default();
            if now == want {
                n.say("$ raumwart status");
                for line in table.lines() {
                    println!("          {line}");
                }
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} is {now:?}, not {want:?}:\n{table}",
                self.node()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    async fn guest(&self) -> Client {
        Client::anonymous(self.c2s, &self.domain).await
    }

    /// Plays the lesson; panics with what went wrong if raumwart does not do its job.
    pub async fn play(&self) {
        let n = Narrator(Instant::now());
        let jid = &self.room_jid;
        n.say(&format!(
            "A lesson in {jid}. raumwart is in sync with Prosody:"
        ));
        self.status_when(&n, "idle", 0);

        let mut stranger = self.guest().await;
        let refused = stranger
            .join(jid, "Neugierig", None)
            .await
            .expect_err("a managed room is locked with a random password from its first moment");
        n.say(&format!(
            "Someone who found the link enters without a password: refused ({refused})."
        ));

        let mut teacher = self.guest().await;
        let joined = teacher
            .join(jid, "Frau Müller", Some(&self.school_password))
            .await
            .expect("the teacher enters with the school password");
        n.say(&format!(
            "The teacher enters with the school password (affiliation {}).",
            joined.affiliation
        ));
        if joined.affiliation != "owner" {
            teacher.wait_affiliation(jid, "Frau Müller", "owner").await;
        }
        n.say("raumwart makes her organizer: owner, moderator in Jitsi.");
        teacher
            .configure(jid, &[("muc#roomconfig_roomsecret", CLASS_PASSWORD)])
            .await
            .expect("an organizer sets the class password like the Jitsi UI");
        n.say(&format!(
            "She sets the class password {CLASS_PASSWORD:?} in the security options."
        ));

        let mut students = vec![];
        for nick in ["Lena", "Jonas"] {
            let mut s = self.guest().await;
            let joined = s
                .join(jid, nick, Some(CLASS_PASSWORD))
                .await
                .expect("a student enters with the class password");
            n.say(&format!(
                "{nick} enters with the class password (affiliation {}, role {}).",
                joined.affiliation, joined.role
            ));
            students.push((nick, s));
        }
        self.status_when(&n, "active", 3);

        teacher.leave(jid, "Frau Müller").await;
        n.say(&format!(
            "The teacher leaves. The students may stay for the grace period ({:?}).",
            self.grace
        ));
        self.status_when(&n, "grace", 2);

        for (nick, s) in &mut students {
            let message = s
                .wait_removed_within(client::after(self.grace), jid, nick)
                .await;
            n.say(&format!(
                "No organizer came back: {nick} is removed with {message:?}."
            ));
        }
        n.say("Everyone is out; raumwart resets the room.");
        self.status_when(&n, "idle", 0);

        let mut late = self.guest().await;
        let refused = late
            .join(jid, "Lena", Some(CLASS_PASSWORD))
            .await
            .expect_err("the class password is gone with the reset");
        n.say(&format!(
            "A student tries the old class password: refused ({refused})."
        ));
        let mut next = self.guest().await;
        let joined = next
            .join(jid, "Herr Kaya", Some(&self.school_password))
            .await
            .expect("the school password opens the reset room");
        if joined.affiliation != "owner" {
            next.wait_affiliation(jid, "Herr Kaya", "owner").await;
        }
        n.say("The next teacher enters with the school password and is organizer again.");
        next.leave(jid, "Herr Kaya").await;
        n.say("He leaves; nobody is in, the room is reset at once.");
        self.status_when(&n, "idle", 0);
        n.say("The lesson is over: raumwart did its job.");
    }
}
