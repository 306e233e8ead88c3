//! Plays one short lesson against a running Prosody with the module and a running
//! raumwart, printing each step (the test kit's `lesson`). `dev/run-local.sh` runs it; by hand:
//!
//! ```sh
//! cargo run --example lesson -- --c2s 15222 --room gs-musterstadt-1@conference.meet.jitsi \
//!     --school-password-file schools/gs-musterstadt.pw --socket CONTROL_SOCKET
//! ```
//!
//! Test-only client code: an example target, never part of the `raumwart` binary.

use std::process::Command;
use std::time::Duration;

use testkit::lesson;

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    // dev/run-local.sh asks for free loopback ports before it starts anything.
    if args.peek().map(String::as_str) == Some("--free-ports") {
        args.next();
        let n = args
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| usage("--free-ports N"));
        return free_ports(n);
    }
    one_line_failures();
    let (mut c2s, mut room, mut password_file, mut socket) = (None, None, None, None);
    let mut grace = Duration::from_secs(60);
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
            "--grace" => {
                grace = raumwart::config::parse_duration(&value)
                    .unwrap_or_else(|e| usage(&format!("--grace {value}: {e}")))
            }
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
    let lesson = lesson::Lesson {
        c2s: c2s.unwrap_or_else(|| usage("--c2s is required")),
        domain,
        room_jid: room.unwrap_or_else(|| usage("--room is required")),
        school_password,
        grace,
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

/// Prints `n` loopback ports that are free now, one a line (bound and released at once,
/// all at the same time so that they differ).
fn free_ports(n: usize) {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port"))
        .collect();
    for l in &listeners {
        println!("{}", l.local_addr().expect("bound").port());
    }
}

/// A newcomer watching the lesson gets one line saying what did not happen, not a
/// backtrace: the script that runs it adds where the logs are.
fn one_line_failures() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("the lesson stopped");
        // A client's timeout lists every stanza it did not expect: not for this line.
        let message = message
            .split("; unmatched stanzas")
            .next()
            .unwrap_or(message);
        let line = message.lines().next().unwrap_or(message);
        eprintln!("lesson failed: {line}");
    }));
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "lesson: {problem}\nusage: lesson --c2s PORT --room NODE@MUC --school-password-file FILE \
         --socket CONTROL_SOCKET [--domain meet.jitsi] [--grace 60s] [--raumwart BINARY]"
    );
    std::process::exit(2);
}
