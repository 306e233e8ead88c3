//! A standby: two raumwart instances for one Prosody. Prosody lets one connect under the
//! component name and refuses the other (`<conflict/>`, kick_new); the refused one waits
//! and takes over, with the sessions, when the first dies.

use std::time::{Duration, Instant};

use testkit::*;

use crate::REPO;

/// The README's promise for a takeover after the working instance died.
const TAKES_OVER_WITHIN: Duration = Duration::from_secs(2);

#[tokio::test]
async fn a_standby_takes_over_the_sessions_when_the_working_instance_dies() {
    let env = Env::new(REPO, Options::default());
    let mut first = env.daemon().await;
    let mut standby = env.spawn_daemon_with(&env.second_daemon_config());
    standby
        .wait_status("refused by Prosody, standing by (\"standby\": true)", |s| {
            s["standby"] == true
        })
        .await;
    let mut focus = env.focus(ROOM).await;
    let (mut teacher, mut student) = lesson(&env, ROOM).await;
    let st = standby.status().await;
    assert_eq!(
        (&st["standby"], &st["connected"], &st["synced"]),
        (&true.into(), &false.into(), &false.into()),
        "two instances connected at once: {st}"
    );

    first.kill9();
    let died = Instant::now();
    standby.wait_synced().await;
    let took = died.elapsed();
    eprintln!("standby took over {took:?} after the first instance died");
    assert!(took < TAKES_OVER_WITHIN, "takeover took {took:?}");

    // The standby knows the session: the last organizer leaving with nobody left resets.
    let jid = room_jid(ROOM);
    let old_owner = teacher.bare();
    student.leave(&jid, "student").await;
    teacher.leave(&jid, "teacher").await;
    focus.gone().await;
    standby
        .wait_metric("raumwart_sessions_ended_total", 1.0)
        .await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}
