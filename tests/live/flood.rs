//! One hostile guest floods a lesson from several connections: guests who know the class
//! password enter and leave as fast as Prosody answers, strangers guess (wrong password,
//! no password), and a colleague enters with the school password half-way. Prosody's
//! memory must stay bounded, raumwart must keep its link and see every join and leave in
//! order, and the lesson must go on and end as any other.

use std::time::{Duration, Instant};

use testkit::load::{self, Flood};
use testkit::*;

use crate::REPO;

/// How long the guests churn.
const FLOOD: Duration = Duration::from_secs(20);
/// When the catch-up check looks: before any stranger guesses, so that only the students'
/// own batched events are on the stream.
const STUDENTS_ALONE: Duration = Duration::from_secs(3);
/// Rounds per connection at most: the flood is bounded in work, not only in time.
const MAX_ROUNDS: u64 = 20_000;
/// Where Prosody's resident memory must be back to after the flood, above what it was
/// before (load::RSS_GROWTH_MAX_MB bounds it during the flood).
const RSS_AFTER_MAX_MB: f64 = 25.0;
const GRACE: &str = "2s";
const GRACE_PERIOD: Duration = Duration::from_secs(2);

const WRONG: &str = "raumwart_wrong_passwords_total{school=\"gs-musterstadt\"}";
const EVENTS: &str = "raumwart_module_events_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_flooding_a_lesson_costs_prosody_no_memory_and_raumwart_no_event() {
    let env = Env::new(
        REPO,
        Options {
            // Logging every stanza of the flood would measure the log.
            prosody_log: "info",
            log: "info",
            ..grace(GRACE)
        },
    );
    let mut d = env.daemon().await;
    let jid = room_jid(ROOM);
    let mut focus = env.focus(ROOM).await;
    let teacher = teacher_with_class(&env, ROOM, "teacher").await;
    let old_owner = teacher.bare();
    let teacher = load::keep_reading(teacher);
    // The events barrier: a wrong password is counted, so every event before it is in.
    load::refused_guess(env.c2s, &jid).await;
    d.wait_metric(WRONG, 1.0).await;
    let events_before = d.metrics().await.value(EVENTS);

    let prosody = env.prosody_pid();
    let rss_before = load::rss_mb(prosody);
    let (prosody_cpu, raumwart_cpu) = (load::cpu_ms(prosody), load::cpu_ms(d.pid()));
    let watch = load::RssWatch::start(prosody, Duration::from_millis(100));
    let started = Instant::now();
    let mut flood = Flood::new(env.c2s);
    flood
        .guests(&jid, CLASS_PASSWORD, load::GUESTS, MAX_ROUNDS)
        .await;

    // Students' joins and leaves alone: they reach raumwart while the flood goes on, not
    // only once it stops.
    tokio::time::sleep_until((started + STUDENTS_ALONE).into()).await;
    let seen = flood.count().events();
    let asked = Instant::now();
    d.wait_metrics(
        &format!("{seen} flood events counted during the flood"),
        |m| m.value(EVENTS) - events_before >= seen as f64,
    )
    .await;
    let caught_up = asked.elapsed();

    flood.strangers(&jid, load::STRANGERS, MAX_ROUNDS).await;
    tokio::time::sleep_until((started + FLOOD / 2).into()).await;
    let mut colleague = env.anonymous().await;
    let joined = colleague
        .join(&jid, "colleague", Some(SCHOOL_PASSWORD))
        .await
        .expect("the colleague enters with the school password during the flood");
    if joined.affiliation != "owner" {
        colleague.wait_affiliation(&jid, "colleague", "owner").await;
    }
    let grant = colleague.arrived - colleague.joined_at;
    let colleague = load::keep_reading(colleague);

    tokio::time::sleep_until((started + FLOOD).into()).await;
    let count = flood.stop().await;
    let flood_time = started.elapsed();
    let samples = watch.stop();
    let prosody_cpu = load::cpu_ms(prosody) - prosody_cpu;
    let raumwart_cpu = load::cpu_ms(d.pid()) - raumwart_cpu;
    let peak = load::peak(&samples).max(load::peak_rss_mb(prosody));
    assert!(count.joins > 0 && count.refused > 0, "no flood: {count:?}");
    assert_eq!(
        count.joins, count.leaves,
        "every guest ends outside the room"
    );

    // The stranger is refused; once raumwart counted that guess, it has every event the
    // module sent before it: each join, leave and guess of the flood, and the colleague.
    load::refused_guess(env.c2s, &jid).await;
    let guesses = 1 + count.refused + 1;
    d.wait_metric(WRONG, guesses as f64).await;
    let events = d.metrics().await.value(EVENTS) - events_before;
    let expected = count.events() + 1 + 1;
    let rss_after = load::rss_mb(prosody);
    eprintln!(
        "flood of {flood_time:.1?}: {} joins, {} leaves, {} refused; Prosody CPU {:.1} s, \
         raumwart CPU {:.2} s; Prosody RSS {rss_before:.1} MB before, peak {peak:.1}, \
         after {rss_after:.1}; per second: {}; students' events caught up in {caught_up:.0?}; \
         colleague owner after {grant:.1?}; events counted {events} of {expected}",
        count.joins,
        count.leaves,
        count.refused,
        prosody_cpu / 1000.0,
        raumwart_cpu / 1000.0,
        load::per_second(&samples),
    );
    assert_eq!(
        events, expected as f64,
        "events raumwart counted for the flood (joins, leaves, wrong passwords, the colleague)"
    );
    assert!(
        peak - rss_before < load::RSS_GROWTH_MAX_MB,
        "Prosody's RSS grew from {rss_before:.1} MB to {peak:.1} MB under the flood \
         (per second: {})",
        load::per_second(&samples)
    );
    // In order, too: joins and leaves swapped would leave guests behind in raumwart's view.
    d.wait_room(
        ROOM,
        "teacher and colleague, organizers, after the flood",
        |r| r["state"] == "active" && r["people"] == 2 && r["organizer_present"] == true,
    )
    .await;
    d.assert_connection_held().await;

    // The lesson goes on: a late student gets in, ...
    let mut late = env.anonymous().await;
    late.join(&jid, "late", Some(CLASS_PASSWORD))
        .await
        .expect("the late student enters with the class password");
    d.wait_room(ROOM, "the late student counted", |r| r["people"] == 3)
        .await;
    // ... Prosody's memory is back, ...
    let rss_after = load::rss_mb(prosody);
    assert!(
        rss_after - rss_before < RSS_AFTER_MAX_MB,
        "Prosody's RSS stayed at {rss_after:.1} MB after the flood ({rss_before:.1} MB before)"
    );
    // ... and the lesson ends with a reset when the organizers are gone and the grace
    // period is over.
    let mut teacher = teacher.stop().await;
    let mut colleague = colleague.stop().await;
    teacher.leave(&jid, "teacher").await;
    colleague.leave(&jid, "colleague").await;
    let removed = tokio::time::timeout(
        load::timer_plus_margin(GRACE_PERIOD),
        late.wait_removed(&jid, "late"),
    )
    .await
    .expect("the late student removed when the grace period ends");
    assert_eq!(removed, raumwart::config::DEFAULT_END_MESSAGE);
    d.wait_metric(
        "raumwart_sessions_ended_total{reason=\"grace_expired\"}",
        1.0,
    )
    .await;
    d.wait_metric("raumwart_resets_total{result=\"ok\"}", 1.0)
        .await;
    d.assert_connection_held().await;
    focus.gone().await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}
