//! What goes wrong on a real server: here, a Prosody that stops answering.

use std::time::{Duration, Instant};

use testkit::*;

use crate::REPO;

/// The README promises that a Prosody that stopped answering is noticed within this.
const NOTICED_WITHIN: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_frozen_prosody_is_noticed_reported_and_reconnected_to() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    assert_eq!(http_get(&env, "/healthz").await.0, 200);
    send_signal(env.prosody_pid(), "STOP");
    let frozen = Instant::now();
    d.wait_metrics_within(
        NOTICED_WITHIN * 2,
        "the connection lost (raumwart_xmpp_connected 0)",
        |m| m.value("raumwart_xmpp_connected") == 0.0,
    )
    .await;
    let took = frozen.elapsed();
    let (status, body) = http_get(&env, "/healthz").await;
    send_signal(env.prosody_pid(), "CONT");
    assert!(took <= NOTICED_WITHIN, "noticed after {took:?}");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("not connected"), "{body}");
    // What the admin reads: why the connection was given up.
    assert!(
        d.log_text().contains("did not answer a ping"),
        "{}",
        d.log_text()
    );
    d.wait_resynced_within(Duration::from_secs(30), 1).await;
    assert_eq!(http_get(&env, "/healthz").await.0, 200);
}
