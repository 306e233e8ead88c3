//! Phase 4: the unprotected window: rooms created while the daemon is down or restarting.

use crate::*;

/// How long a join in phase 4 may go unanswered.
pub(crate) const UNANSWERED: Duration = Duration::from_secs(5);

/// Phase 4, as a section of BENCHMARKS.md.
pub(crate) async fn window_phase(plan: Plan, out: &mut String, checks: &mut Checks) {
    writeln!(out, "## 4. The unprotected window\n").unwrap();
    let (attempts, admitted, unanswered) = window(plan.window_attempts).await;
    writeln!(
        out,
        "Rooms created while the daemon is down or restarting, each followed at once by a \
         join without password: {attempts} attempts, **{admitted} admitted** (must be 0), \
         {unanswered} left unanswered for {} s (must be 0).\n",
        UNANSWERED.as_secs()
    )
    .unwrap();
    checks.must(
        &format!("joins unanswered for 5 s, {attempts} attempts"),
        unanswered.to_string(),
        "0",
        unanswered == 0,
    );
    checks.must(
        &format!("admitted without password, {attempts} attempts"),
        admitted.to_string(),
        "0",
        admitted == 0,
    );
}

/// Phase 4: (attempts, admitted, unanswered within UNANSWERED) joins without password
/// into rooms created while the daemon is down or restarting.
pub(crate) async fn window(attempts: usize) -> (usize, usize, usize) {
    let env = Env::new(REPO, bench_options(true, "60s"));
    scaled_config(&env, attempts, "60s");
    let mut d = start_daemon(&env).await;
    d.kill9();
    let mut focus = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    let mut attacker = env.anonymous().await;
    let (mut admitted, mut unanswered) = (0, 0);
    let mut restarting = None;
    for i in 0..attempts {
        // Half of the time the daemon is (re)starting meanwhile.
        if i % 100 == 50 {
            restarting = Some(env.spawn_daemon());
        } else if i % 100 == 0 {
            if let Some(mut r) = restarting.take() {
                r.kill9();
            }
        }
        let jid = room(i);
        let mut p = client::el(
            "presence",
            client::CLIENT,
            &[("to", &format!("{jid}/focus"))],
        );
        p.append_child(client::el("x", client::MUC, &[]));
        focus.send(p).await;
        // An attempt Prosody leaves unanswered is counted, not a reason to lose the run.
        match tokio::time::timeout(UNANSWERED, attacker.join(&jid, "x", None)).await {
            Ok(Ok(_)) => admitted += 1,
            Ok(Err(_)) => {}
            Err(_) => unanswered += 1,
        }
    }
    (attempts, admitted, unanswered)
}
