//! Plays one short lesson against a running Prosody with the module and a running
//! raumwart, printing each step (see `play.rs`). `dev/run-local.sh` runs it; by hand:
//!
//! ```sh
//! cargo run --example lesson -- --c2s 15222 --room gs-musterstadt-1@conference.meet.jitsi \
//!     --school-password-file schools/gs-musterstadt.pw --socket CONTROL_SOCKET
//! ```
//!
//! Test-only client code: an example target, never part of the `raumwart` binary.

#[path = "../../tests/support/client.rs"]
mod client;
mod play;

use std::process::Command;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut c2s, mut room, mut password_file, mut socket) = (None, None, None, None);
    let mut grace = "60s".to_owned();
    let mut raumwart = "raumwart".to_owned();
    let mut domain = "meet.jitsi".to_owned();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--c2s" => c2s = Some(value.parse().unwrap_or_else(|_| usage("--c2s PORT"))),
            "--domain" => domain = value,
            "--room" => room = Some(value),
            "--school-password-file" => password_file = Some(value),
            "--socket" => socket = Some(value),
            "--grace" => grace = value,
            "--raumwart" => raumwart = value,
            _ => usage(&format!("unknown option {flag}")),
        }
    }
    let password_file =
        password_file.unwrap_or_else(|| usage("--school-password-file is required"));
    let school_password = std::fs::read_to_string(&password_file)
        .unwrap_or_else(|e| usage(&format!("{password_file}: {e}")))
        .trim_end()
        .to_owned();
    let socket = socket.unwrap_or_else(|| usage("--socket is required"));
    let lesson = play::Lesson {
        c2s: c2s.unwrap_or_else(|| usage("--c2s is required")),
        domain,
        room_jid: room.unwrap_or_else(|| usage("--room is required")),
        school_password,
        grace_period: grace,
        status: Box::new(move || {
            let out = Command::new(&raumwart)
                .args(["status", "--socket", &socket])
                .output()
                .expect("raumwart status runs");
            assert!(
                out.status.success(),
                "raumwart status: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }),
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(lesson.play());
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "lesson: {problem}\nusage: lesson --c2s PORT --room NODE@MUC --school-password-file FILE \
         --socket CONTROL_SOCKET [--domain meet.jitsi] [--grace 60s] [--raumwart BINARY]"
    );
    std::process::exit(2);
}
