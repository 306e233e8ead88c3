//! The lesson the README's first command (`dev/run-local.sh`) plays, against a real
//! Prosody and the real raumwart: the same code (the kit's `lesson`), so the demo
//! cannot rot. To watch it here: `cargo test --test live demo -- --nocapture`.

use std::process::Command;
use std::time::Duration;

use testkit::*;

use crate::REPO;
use testkit::lesson;

#[tokio::test]
async fn the_quick_start_lesson_plays_from_start_to_end() {
    let env = Env::new(
        REPO,
        Options {
            grace_period: "2s",
            // No focus in the demo: the teacher opens the room herself.
            restrict_room_creation: false,
            ..Options::default()
        },
    );
    let _daemon = env.daemon().await;
    let config = env.daemon_config_path();
    let lesson = lesson::Lesson {
        c2s: env.c2s,
        domain: DOMAIN.into(),
        room_jid: room_jid(ROOM),
        school_password: SCHOOL_PASSWORD.into(),
        grace: Duration::from_secs(2),
        status: Box::new(move || {
            let out = Command::new(env!("CARGO_BIN_EXE_raumwart"))
                .arg("status")
                .arg("--config")
                .arg(&config)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        }),
    };
    lesson.play().await;
}
