//! Lessons played by the real Jitsi client: lib-jitsi-meet itself (the kit's `jitsi_web`:
//! npm's browser bundle in headless Chromium, one iframe per participant) over Prosody's
//! websocket or BOSH, with the kit's focus answering its conference request as jicofo
//! does. What the stand-in clients of the other tests assume about Jitsi is shown here
//! with lib-jitsi-meet: its password prompt, the moderator role the school password
//! brings, `conference.lock()` setting the class password, a guest refused, the end of
//! the session as lib-jitsi-meet reports it to a student, and the reset.
//! Outside CI (`CI=true`) the tests skip without Chromium, chromedriver and lib-jitsi-meet.

use testkit::jitsi_web::{self, JitsiWeb, Participant, State, Transport};
use testkit::*;

use crate::REPO;

/// lib-jitsi-meet's names (JitsiConferenceEvents, JitsiConferenceErrors).
const FAILED: &str = "conference.failed";
const PASSWORD_REQUIRED: &str = "conference.passwordRequired";
const DESTROYED: &str = "conference.destroyed";
const KICKED: &str = "conference.kicked";
const USER_JOINED: &str = "conference.userJoined";

/// How the teacher leaves.
#[derive(Clone, Copy, Debug)]
enum Leaving {
    /// The hang-up button: `conference.leave()`, then the connection ends.
    HangsUp,
    /// The tab is closed: the connection just ends.
    ClosesTab,
}

/// Prosody with its HTTP server for the browser, raumwart, and the page; None where the
/// browser cannot run (outside CI: skipped).
async fn world(test: &str) -> Option<(Env, Daemon, JitsiWeb)> {
    if !jitsi_web::available(test) {
        return None;
    }
    // A grace period that is short, but long enough that the student's page polls
    // through it.
    let mut env = Env::new(REPO, grace("2s"));
    let web = JitsiWeb::start(&mut env)
        .await
        .unwrap_or_else(|e| panic!("the page for lib-jitsi-meet: {e:#}"));
    let d = env.daemon().await;
    Some((env, d, web))
}

fn ok<T>(what: &str, r: anyhow::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e:#}"))
}

/// Someone opens the room as the Jitsi app does: a join without password, then, after
/// lib-jitsi-meet's password-required error (the app's prompt), the same conference
/// joined again with `password`.
async fn enters(p: &Participant<'_>, password: &str) {
    let first = ok("a join without password", p.join(ROOM, None).await);
    assert_eq!(
        first.err().as_deref(),
        Some(PASSWORD_REQUIRED),
        "{}: a managed room asks for a password first",
        p.name
    );
    let second = ok("the prompt's join", p.join(ROOM, Some(password)).await);
    assert_eq!(second, Ok(()), "{}: the join with the password", p.name);
}

/// Whether lib-jitsi-meet has told this participant its conference is over.
fn put_out(s: &State) -> bool {
    s.named(FAILED).any(|e| e.first() == DESTROYED) || s.named(KICKED).next().is_some()
}

/// A lesson in ROOM over `transport`: the teacher enters with the school password and
/// becomes moderator, sets the class password with `conference.lock()`, a student
/// enters with it, a guest without a password is refused; the teacher leaves (`how`),
/// and at the grace period's end lib-jitsi-meet tells the student the conference was
/// destroyed with raumwart's reason. Returns the teacher's bare JID.
async fn lesson(
    env: &Env,
    d: &mut Daemon,
    web: &JitsiWeb,
    transport: Transport,
    how: Leaving,
) -> String {
    let focus = env.focus(ROOM).await;
    let teacher = ok(
        "the teacher's page",
        web.open_with("teacher", &focus, transport).await,
    );
    enters(&teacher, SCHOOL_PASSWORD).await;
    ok(
        "the school password makes the teacher moderator",
        teacher.wait_moderator().await,
    );
    ok(
        "the teacher sets the class password",
        teacher.lock(CLASS_PASSWORD).await,
    );
    // lib-jitsi-meet shows no lock change here: whoever joined with a password counts
    // the room as locked from the start. The student's entry shows the lock worked.

    let student = ok(
        "the student's page",
        web.open_with("student", &focus, transport).await,
    );
    enters(&student, CLASS_PASSWORD).await;
    let s = ok("the student's state", student.state().await);
    // lib-jitsi-meet 2.1.5 reports a local role only for an owner ("none" otherwise);
    // today's reports the MUC role ("participant"). Neither is moderator.
    assert!(
        !s.moderator && s.role != "moderator",
        "a student with the class password is no moderator: {}",
        s.shown()
    );

    let guest = ok(
        "a guest's page",
        web.open_with("guest", &focus, transport).await,
    );
    let refused = ok("a guest's join", guest.join(ROOM, None).await);
    assert_eq!(
        refused.err().as_deref(),
        Some(PASSWORD_REQUIRED),
        "a guest without a password"
    );
    let refused = ok("a guess", guest.join(ROOM, Some("klasse-4b")).await);
    assert_eq!(
        refused.err().as_deref(),
        Some(PASSWORD_REQUIRED),
        "a guest with a wrong password"
    );
    d.wait_room(ROOM, "teacher and student inside", |r| {
        r["people"] == 2 && r["organizer_present"] == true
    })
    .await;

    let old_owner = teacher.bare();
    match how {
        Leaving::HangsUp => ok("the teacher hangs up", teacher.leave().await),
        Leaving::ClosesTab => ok("the teacher closes her tab", teacher.close().await),
    }
    let s = ok(
        "the student put out at the grace period's end",
        student
            .wait_until(env.after_grace(), "end of the conference", put_out)
            .await,
    );
    let destroyed = s.named(FAILED).find(|e| e.first() == DESTROYED);
    let reason = destroyed
        .and_then(|e| e.args.get(1))
        .and_then(|r| r.as_str())
        .unwrap_or_default();
    assert!(
        !reason.is_empty(),
        "lib-jitsi-meet shows the student raumwart's reason: {}",
        s.shown()
    );
    // The focus's answer named focus's JID: lib-jitsi-meet hid it as jitsi-meet does,
    // and the student saw only the teacher.
    let seen: Vec<_> = s.named(USER_JOINED).collect();
    assert_eq!(
        seen.len(),
        1,
        "the student saw the teacher join, nobody else: {}",
        s.shown()
    );
    d.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    old_owner
}

/// After the reset, as lib-jitsi-meet sees it: the password prompt again, the old class
/// password refused, the school password makes the next teacher moderator; then the
/// kit's own check (no history, subject or affiliation left).
async fn room_is_fresh(
    env: &Env,
    d: &mut Daemon,
    web: &JitsiWeb,
    transport: Transport,
    old_owner: &str,
) {
    let mut focus = env.focus(ROOM).await;
    let next = ok(
        "the next teacher's page",
        web.open_with("next-teacher", &focus, transport).await,
    );
    let refused = ok("a join without password", next.join(ROOM, None).await);
    assert_eq!(refused.err().as_deref(), Some(PASSWORD_REQUIRED));
    let refused = ok(
        "a join with the old class password",
        next.join(ROOM, Some(CLASS_PASSWORD)).await,
    );
    assert_eq!(
        refused.err().as_deref(),
        Some(PASSWORD_REQUIRED),
        "the old class password must not open the reset room"
    );
    let joined = ok(
        "a join with the school password",
        next.join(ROOM, Some(SCHOOL_PASSWORD)).await,
    );
    assert_eq!(joined, Ok(()), "the school password opens the reset room");
    ok(
        "the school password makes the next teacher moderator",
        next.wait_moderator().await,
    );
    ok("the next teacher hangs up", next.leave().await);
    focus.gone().await;
    // Her session ends at its own grace period's end, which would reset the room under
    // the kit's check.
    d.wait_metric_within(env.after_grace(), "raumwart_sessions_ended_total", 2.0)
        .await;
    assert_room_is_fresh(env, ROOM, old_owner).await;
}

/// A lesson over `transport` that ends as `how` says, and the reset room after it.
async fn plays(transport: Transport, how: Leaving) {
    let Some((env, mut d, web)) = world("jitsi_client").await else {
        return;
    };
    let old_owner = lesson(&env, &mut d, &web, transport, how).await;
    room_is_fresh(&env, &mut d, &web, transport, &old_owner).await;
}

#[tokio::test]
async fn a_lesson_over_websocket_ends_when_the_teacher_hangs_up() {
    plays(Transport::Websocket, Leaving::HangsUp).await;
}

#[tokio::test]
async fn a_lesson_over_websocket_ends_when_the_teacher_closes_her_tab() {
    plays(Transport::Websocket, Leaving::ClosesTab).await;
}

#[tokio::test]
async fn a_lesson_over_bosh_ends_when_the_teacher_hangs_up() {
    plays(Transport::Bosh, Leaving::HangsUp).await;
}

/// `.ci/run` installs (and looks for) the versions the kit pins.
#[test]
fn ci_installs_the_pinned_lib_jitsi_meet() {
    let path = std::path::Path::new(REPO.root).join(".ci/run");
    let run = std::fs::read_to_string(&path).unwrap();
    for (package, version) in [
        (jitsi_web::LIB_JITSI_MEET, jitsi_web::LIB_JITSI_MEET_VERSION),
        ("jquery", jitsi_web::JQUERY_VERSION),
    ] {
        assert!(
            run.contains(&format!(" {package}@{version}"))
                && run.contains(&format!(
                    "\"version\": \"{version}\"' \"$ljm/node_modules/{package}/"
                )),
            "{} must install and look for {package}@{version}, as testkit/src/jitsi_web.rs pins",
            path.display()
        );
    }
}
