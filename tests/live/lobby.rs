//! The lobby (members-only) and owner: taking owner back never removes anyone from the
//! lesson, and the organizer key opens a members-only room, with Jitsi's lobby check (the
//! stand-in `tests/prosody/mod_test_lobby.lua`) or plain Prosody.

use testkit::client::Client;
use testkit::focus::Focus;
use testkit::*;

use crate::REPO;

/// A lesson in ROOM: a teacher (nick "teacher") who set the class password and a student
/// (nick "student"), raumwart, and focus.
struct Lesson {
    env: Env,
    d: Daemon,
    focus: Focus,
    jid: String,
    t: Client,
    s: Client,
}

impl Lesson {
    /// With Jitsi's lobby check or plain Prosody members-only; focus as jicofo with
    /// `auto_owner` or without it. The grace period is one no test waits for.
    async fn start(jitsi_lobby: bool, auto_owner: bool) -> Lesson {
        let env = Env::new(
            REPO,
            Options {
                jitsi_lobby,
                ..grace("60s")
            },
        );
        let d = env.daemon().await;
        let focus = match auto_owner {
            true => env.auto_owner_focus(ROOM).await,
            false => env.focus(ROOM).await,
        };
        let (t, s) = lesson(&env, ROOM).await;
        Lesson {
            env,
            d,
            focus,
            jid: room_jid(ROOM),
            t,
            s,
        }
    }

    /// The lobby on, as lib-jitsi-meet's `setMembersOnly` does it from the teacher's
    /// client: everyone inside without an affiliation is made member, then members-only.
    async fn lobby_on(&mut self, others: &[&Client]) {
        let guests = std::iter::once(&self.s).chain(others.iter().copied());
        for guest in guests {
            self.t
                .set_affiliation(&self.jid, &guest.bare(), "member")
                .await
                .expect("the teacher makes a guest member");
        }
        members_only(&mut self.t).await;
        self.s
            .wait_affiliation(&self.jid, "student", "member")
            .await;
    }

    /// The teacher reloads: her session leaves (a new one comes with `teacher_returns`).
    async fn teacher_leaves(&mut self) {
        self.t.leave(&self.jid, "teacher").await;
    }

    /// The teacher reloads, and focus's auto-owner makes the student owner meanwhile.
    async fn student_promoted(&mut self) {
        self.teacher_leaves().await;
        self.s.wait_affiliation(&self.jid, "student", "owner").await;
    }

    /// A new browser session of the teacher enters with the school password and becomes
    /// organizer (owner) again.
    async fn teacher_returns(&self) -> Client {
        let mut t = self.env.anonymous().await;
        t.join(&self.jid, "teacher", Some(SCHOOL_PASSWORD))
            .await
            .expect("the school password opens the members-only room");
        t.wait_affiliation(&self.jid, "teacher", "owner").await;
        t
    }

    /// The room is in session with an organizer inside.
    async fn assert_organizer_in(&mut self) {
        self.env.events_barrier(&mut self.d).await;
        let st = room_status(&self.env, ROOM).await;
        assert_eq!(
            (st["state"].as_str(), st["organizer_present"].as_bool()),
            (Some("active"), Some(true)),
            "{st}"
        );
    }
}

/// Members-only switched on from `c`'s client (an owner's).
async fn members_only(c: &mut Client) {
    c.configure(&room_jid(ROOM), &[("muc#roomconfig_membersonly", "1")])
        .await
        .expect("an owner turns the lobby on");
}

/// `c` (nick `nick`) is given `affiliation` (next), and was never removed from the room.
async fn stays_as(c: &mut Client, nick: &str, affiliation: &str) {
    c.wait_affiliation(&room_jid(ROOM), nick, affiliation).await;
    assert_not_removed(c, nick).await;
}

async fn assert_not_removed(c: &mut Client, nick: &str) {
    c.sync().await;
    assert!(
        !c.saw(removal_of(&[nick])),
        "{nick} was removed from the lesson"
    );
}

/// The case: lobby on, the teacher reloads, jicofo's auto-owner promotes a
/// student, the teacher comes back with the school password.
#[tokio::test]
async fn a_teacher_reloading_in_a_lobby_lesson_takes_owner_back_and_the_student_stays() {
    let mut l = Lesson::start(true, true).await;
    l.lobby_on(&[]).await;
    l.student_promoted().await;

    let _t2 = l.teacher_returns().await;
    stays_as(&mut l.s, "student", "member").await;
    l.assert_organizer_in().await;
}

/// Without Jitsi's lobby module, members-only is Prosody's: only members enter, and the
/// school password must still open the room (and nothing else does).
#[tokio::test]
async fn the_organizer_key_opens_a_plain_members_only_room() {
    let mut l = Lesson::start(false, false).await;
    l.lobby_on(&[]).await;
    l.teacher_leaves().await;

    let mut t2 = l.teacher_returns().await;
    l.assert_organizer_in().await;
    assert_not_removed(&mut l.s, "student").await;
    // The key lets only its holder in: a stranger with the class password is no member.
    let mut stranger = l.env.anonymous().await;
    let refused = stranger
        .join(&l.jid, "stranger", Some(CLASS_PASSWORD))
        .await;
    assert_eq!(refused.err().as_deref(), Some("registration-required"));

    // The reset takes the membership the key gave away with the room.
    let key_member = t2.bare();
    l.s.leave(&l.jid, "student").await;
    t2.leave(&l.jid, "teacher").await;
    l.focus.gone().await;
    l.d.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    let _focus = l.env.focus(ROOM).await;
    let mut t3 = l.teacher_returns().await;
    let members = t3.affiliations(&l.jid, "member").await;
    assert!(!members.contains(&key_member), "{members:?}");
}

/// With Jitsi's lobby and no class password (the teacher removed it), the school password
/// skips the lobby too; a guest without a password waits in it.
#[tokio::test]
async fn the_organizer_key_skips_jitsis_lobby_when_no_class_password_is_set() {
    let mut l = Lesson::start(true, false).await;
    l.lobby_on(&[]).await;
    l.t.configure(&l.jid, &[("muc#roomconfig_roomsecret", "")])
        .await
        .expect("the teacher removes the class password");
    l.teacher_leaves().await;

    let _t2 = l.teacher_returns().await;
    l.assert_organizer_in().await;
    let mut guest = l.env.anonymous().await;
    assert_eq!(
        guest.join(&l.jid, "guest", None).await.err().as_deref(),
        Some("registration-required"),
        "a guest without a password skipped the lobby"
    );
    assert_not_removed(&mut l.s, "student").await;
}

/// A colleague made moderator in a lobby lesson and demoted again stays in the lesson as
/// member: by the teacher (lib-jitsi-meet's `revokeOwner` sends member in a members-only
/// room), and by raumwart, when a restarted raumwart no longer knows the colleague as
/// organizer and an organizer comes back.
#[tokio::test]
async fn a_colleague_demoted_in_a_lobby_lesson_stays_in_it_as_member() {
    let mut l = Lesson::start(true, false).await;
    let jid = l.jid.clone();
    let mut colleague = l.env.anonymous().await;
    colleague
        .join(&jid, "colleague", Some(CLASS_PASSWORD))
        .await
        .unwrap();
    l.lobby_on(&[&colleague]).await;
    colleague
        .wait_affiliation(&jid, "colleague", "member")
        .await;
    let c = colleague.bare();
    l.t.set_affiliation(&jid, &c, "owner").await.unwrap();
    colleague.wait_affiliation(&jid, "colleague", "owner").await;
    l.t.set_affiliation(&jid, &c, "member").await.unwrap();
    stays_as(&mut colleague, "colleague", "member").await;

    // Moderator again; raumwart restarts and forgets who made the colleague owner.
    l.t.set_affiliation(&jid, &c, "owner").await.unwrap();
    colleague.wait_affiliation(&jid, "colleague", "owner").await;
    l.env.events_barrier(&mut l.d).await;
    l.d.kill9();
    l.d = l.env.daemon().await;
    l.teacher_leaves().await;
    l.d.wait_state(ROOM, "grace").await;
    let _t2 = l.teacher_returns().await;
    stays_as(&mut colleague, "colleague", "member").await;
    assert_not_removed(&mut l.s, "student").await;
    l.assert_organizer_in().await;
}

/// In an open room owner goes back to what the student held: nothing.
#[tokio::test]
async fn in_an_open_room_a_promoted_student_goes_back_to_no_affiliation() {
    let mut l = Lesson::start(true, true).await;
    l.student_promoted().await;

    let _t2 = l.teacher_returns().await;
    stays_as(&mut l.s, "student", "none").await;
    l.assert_organizer_in().await;
}

/// The student jicofo promoted while the teacher is away loses owner in the grace period
/// too: switching the lobby on is then refused, and the student stays in the lesson.
#[tokio::test]
async fn the_student_jicofo_promoted_cannot_switch_the_lobby_on_and_stays() {
    let mut l = Lesson::start(true, true).await;
    l.student_promoted().await;
    stays_as(&mut l.s, "student", "none").await;
    let refused =
        l.s.configure(&room_jid(ROOM), &[("muc#roomconfig_membersonly", "1")])
            .await;
    assert!(refused.is_err(), "a student switched the lobby on");

    let _t2 = l.teacher_returns().await;
    assert_not_removed(&mut l.s, "student").await;
    l.assert_organizer_in().await;
}
