//! What goes wrong on a real server: here, a Prosody that stops answering.

mod support;

use std::time::{Duration, Instant};

use support::*;

/// The README promises that a Prosody that stopped answering is noticed within this.
const NOTICED_WITHIN: Duration = Duration::from_secs(15);

/// Waits up to `limit` for `needle` to appear `count` times in the daemon's log.
async fn wait_log_within(d: &Daemon, needle: &str, count: usize, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if d.log_text().matches(needle).count() >= count {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "raumwart did not log {needle:?} {count}x within {limit:?}; its log:\n{}",
            d.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_frozen_prosody_is_noticed_reported_and_reconnected_to() {
    let env = Env::new(Options::default());
    let d = env.daemon().await;
    assert_eq!(http_get(&env, "/healthz").await.0, 200);
    send_signal(env.prosody_pid(), "STOP");
    let frozen = Instant::now();
    let took = wait_log_within(&d, "did not answer a ping", 1, NOTICED_WITHIN * 2).await;
    let (status, body) = http_get(&env, "/healthz").await;
    send_signal(env.prosody_pid(), "CONT");
    assert!(
        took <= NOTICED_WITHIN,
        "noticed after {:?}",
        frozen.elapsed()
    );
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("not connected"), "{body}");
    wait_log_within(&d, "in sync with Prosody", 2, Duration::from_secs(30)).await;
    assert_eq!(http_get(&env, "/healthz").await.0, 200);
}
