//! The Prosodys and daemons the phases start.

use crate::*;

pub(crate) fn bench_options(module: bool, grace: &'static str) -> Options {
    Options {
        module,
        grace_period: grace,
        log: "warn",
        prosody_log: "warn",
        nagle: std::env::var_os("BENCH_NAGLE").is_some(),
        // As docker-jitsi-meet sets it, and as the README asks: above the managed rooms.
        room_cache_size: Some(20_000),
        prosody_gc: prosody_gc(),
        ..Options::default()
    }
}

/// Prosody's collector for every phase: generational, as the README recommends (its
/// incremental default pauses Prosody for milliseconds inside a reaction), or BENCH_GC:
/// a Lua table, or "default" for Prosody's own.
pub(crate) fn prosody_gc() -> Option<String> {
    match std::env::var("BENCH_GC") {
        Ok(gc) if gc == "default" => None,
        Ok(gc) => Some(gc),
        Err(_) => Some(RECOMMENDED_GC.to_owned()),
    }
}

/// Rooms per school in [`scaled_config`]: a state's schools have a few to a few dozen.
pub(crate) const ROOMS_PER_SCHOOL: usize = 20;

/// Writes a daemon config with `n` rooms named "r-<i>", in schools of
/// [`ROOMS_PER_SCHOOL`], each school with a password file of its own (each holding
/// SCHOOL_PASSWORD): what a register of a whole state looks like to the daemon.
pub(crate) fn scaled_config(env: &Env, n: usize, grace: &str) {
    let config = env.daemon_config_path();
    let dir = config.parent().unwrap().join("schools");
    let mut schools = String::new();
    for (k, first) in (0..n).step_by(ROOMS_PER_SCHOOL).enumerate() {
        // The first school is the kit's, as the phases' metrics name it.
        let id = if k == 0 {
            SCHOOL.to_owned()
        } else {
            format!("b{k}")
        };
        // A copy keeps the kit's file mode.
        std::fs::copy(dir.join("gs.pw"), dir.join(format!("{id}.pw"))).unwrap();
        let rooms: Vec<String> = (first..n.min(first + ROOMS_PER_SCHOOL))
            .map(|i| format!("\"r-{i}\""))
            .collect();
        writeln!(
            schools,
            "[[school]]\nid = \"{id}\"\npassword_file = \"schools/{id}.pw\"\nrooms = [{}]",
            rooms.join(", ")
        )
        .unwrap();
    }
    let text = format!(
        "[xmpp]\nserver = \"127.0.0.1:{}\"\ncomponent = \"{COMPONENT}\"\nsecret_file = \"component.secret\"\n\
         muc = \"{muc}\"\n[policy]\nservice_jids = [\"focus@{AUTH}\"]\ngrace_period = \"{grace}\"\n\
         [http]\nlisten = \"127.0.0.1:{}\"\n{schools}",
        env.component,
        env.http,
        muc = muc(),
    );
    std::fs::write(config, text).unwrap();
}

pub(crate) fn room(i: usize) -> String {
    room_jid(&format!("r-{i}"))
}

/// The daemon logs at warn here, so readiness comes from /healthz.
pub(crate) async fn start_daemon(env: &Env) -> Daemon {
    let d = env.spawn_daemon();
    wait_healthy(env).await;
    d
}

pub(crate) async fn wait_healthy(env: &Env) {
    let addr = format!("127.0.0.1:{}", env.http).parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, _)) = raumwart::http::request(addr, "GET", "/healthz").await {
            return;
        }
        assert!(Instant::now() < deadline, "daemon not healthy within 60 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Restarts the Prosody of `env` with the bench-only module `name` (bench/prosody/) on
/// the main MUC, beside raumwart's.
pub(crate) fn with_bench_module(env: &mut Env, name: &str) {
    let path = env.dir.join("prosody.cfg.lua");
    let cfg = std::fs::read_to_string(&path).unwrap();
    let bench = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/prosody");
    let main = format!("Component \"{}\" \"muc\"\n    modules_enabled = {{ ", muc());
    assert!(
        cfg.contains(&main) && cfg.contains("plugin_paths = { "),
        "the harness's Prosody config changed shape (the bench modules need Jitsi's \
         Debian shape):\n{cfg}"
    );
    let cfg = cfg
        .replacen(
            "plugin_paths = { ",
            &format!("plugin_paths = {{ \"{}\", ", bench.display()),
            1,
        )
        .replacen(&main, &format!("{main}\"{name}\", "), 1);
    std::fs::write(&path, cfg).unwrap();
    env.restart_prosody();
}
