//! jicofo with authentication on (`AuthenticationRoleManager`, a secure domain): focus
//! makes every authenticated member owner, again at each presence change of its own.
//! raumwart takes owner back once, then leaves it to focus instead of fighting it.

use std::time::Duration;

use testkit::client::{self, Client};
use testkit::*;

use crate::REPO;

/// The affiliations `c`'s own presence in `room_jid` shows, in order, until `quiet`
/// passes without one (at most `limit` in all).
async fn own_affiliations(c: &mut Client, limit: Duration, quiet: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut seen = vec![];
    while tokio::time::Instant::now() < deadline {
        let Ok(Some(s)) = tokio::time::timeout(quiet, c.try_next()).await else {
            break;
        };
        if s.name() == "presence" && client::is_self_presence(&s) {
            seen.push(client::item_of(&s).0);
        }
    }
    seen
}

#[tokio::test]
async fn an_authenticated_non_organizer_focus_makes_owner_again_is_left_owner_without_a_fight() {
    let env = Env::new(REPO, grace("30s"));
    let mut d = env.daemon().await;
    let focus = env.authentication_focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut t = teacher_with_class(&env, ROOM, "teacher").await;
    let mut kim = env.authenticated("kim").await;
    kim.join(&jid, "kim", Some(CLASS_PASSWORD))
        .await
        .expect("a logged-in user enters with the class password");
    // Focus changes its presence 20 times in 2 s (a bridge, visitors, a recording).
    for _ in 0..20 {
        focus.change_presence();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let changes = own_affiliations(&mut kim, Duration::from_secs(8), Duration::from_secs(2)).await;
    // Focus's grant at the join, raumwart's take-back, focus's grant again: then quiet.
    let owner_changes = changes.windows(2).filter(|w| w[0] != w[1]).count() + 1;
    assert!(owner_changes <= 3, "kim's affiliations: {changes:?}");
    assert_eq!(
        changes.last().map(String::as_str),
        Some("owner"),
        "{changes:?}"
    );
    d.wait_metric("raumwart_owners_left_to_focus_total", 1.0)
        .await;
    let log = d.log_text();
    assert_eq!(log.matches("taking owner back").count(), 1, "{log}");
    let (status, health) = http_get(&env, "/healthz").await;
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("focus keeps making 1"), "{health}");
    // Kim is owner, not organizer: the teacher leaving starts the grace period.
    t.leave(&jid, "teacher").await;
    d.wait_state(ROOM, "grace").await;
}
