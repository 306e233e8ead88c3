//! Several Jitsi shards: each shard has its own Prosody (and jicofo) and its own raumwart
//! with the same schools; a room lives on one shard at a time, but the same room name can
//! be opened on two shards at once. Each shard's raumwart protects and resets its own copy.

use testkit::*;

use crate::REPO;

/// The value of the metric line starting with `series` on `env`'s raumwart.
async fn metric(env: &Env, series: &str) -> f64 {
    let (_, text) = http_get(env, "/metrics").await;
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test]
async fn the_same_room_on_two_shards_is_protected_and_reset_per_shard() {
    let (a, b) = (
        Env::new(REPO, Options::default()),
        Env::new(REPO, Options::default()),
    );
    let (mut da, mut db) = (a.daemon().await, b.daemon().await);
    let jid = room_jid(ROOM);
    let (mut focus_a, mut focus_b) = (a.focus(ROOM).await, b.focus(ROOM).await);

    // Both copies are locked from creation, each opens with the school password.
    for shard in [&a, &b] {
        let mut s = shard.anonymous().await;
        assert_eq!(
            s.join(&jid, "s", None).await.err().as_deref(),
            Some("not-authorized")
        );
    }
    let (mut ta, mut sa) = lesson(&a, ROOM).await;
    let (tb, mut sb) = lesson(&b, ROOM).await;

    // The lesson on shard A ends: only A's copy is reset.
    let old_owner = ta.bare();
    sa.leave(&jid, "student").await;
    ta.leave(&jid, "teacher").await;
    focus_a.gone().await;
    da.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    assert_room_is_fresh(&a, ROOM, &old_owner).await;
    sb.sync().await;
    assert!(
        !sb.saw(removal_of(&["teacher", "student"])),
        "shard B's lesson was touched by shard A's reset"
    );
    let mut late = b.anonymous().await;
    late.join(&jid, "student-2", Some(CLASS_PASSWORD))
        .await
        .expect("shard B's class password still holds");
    let ended = db.metrics().await.value("raumwart_sessions_ended_total");
    assert_eq!(ended, 0.0, "shard B's session ended");

    // Metrics: one session per shard; every raumwart manages all rooms.
    let started = "raumwart_sessions_started_total{media_centre=\"\",school=\"gs-musterstadt\"}";
    assert_eq!(
        metric(&a, started).await,
        2.0,
        "A: the lesson, then the fresh-room check"
    );
    assert_eq!(metric(&b, started).await, 1.0);
    assert_eq!(
        metric(&a, "raumwart_managed_rooms").await,
        metric(&b, "raumwart_managed_rooms").await,
        "the same schools on every shard: sum() of managed rooms double counts"
    );

    // And shard B's own reset when its teacher leaves.
    let old_owner = tb.bare();
    drop(tb);
    sb.leave(&jid, "student").await;
    late.leave(&jid, "student-2").await;
    focus_b.gone().await;
    db.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    assert_room_is_fresh(&b, ROOM, &old_owner).await;
}
