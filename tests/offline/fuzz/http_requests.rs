//! HTTP: the requests of local users, routed as documented or refused.

use super::*;

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec!["GET", "POST", "HEAD", "PUT", "get", "post", "OPTIONS", ""])
            .prop_map(String::from),
        1 => odd_text(),
    ]
}

fn target() -> impl Strategy<Value = String> {
    let start = prop::sample::select(vec![
        "/metrics",
        "/healthz",
        "/status",
        "/rooms/",
        "/rooms",
        "/",
        "",
        "//",
        "/rooms//",
        "http://localhost/rooms/",
        "*",
        "/METRICS",
        "/metrics/",
        "/control",
        "/reload",
    ]);
    let segment = prop_oneof![
        4 => prop::sample::select(vec![
            MATHE, "grundschule-müllheim", "end", "/end", "..", ".", "%2e%2e", "%2F", "%00",
            "%", "%zz", "%C3%BC", "\u{0}", "?", "?x=1", "#frag", "/", ";", "%2fend",
            "?media_centre=kmz-a", "?media_centre=", "&media_centre=kmz.b_2", "&", "=",
            "media_centre=%2F",
        ])
        .prop_map(String::from),
        1 => odd_text(),
        1 => (any::<char>(), 1..20_000usize).prop_map(|(c, n)| c.to_string().repeat(n)),
    ];
    (start, prop::collection::vec(segment, 0..5), any::<bool>()).prop_map(|(s, segs, end)| {
        let mut t = s.to_owned() + &segs.concat();
        if end {
            t.push_str("/end");
        }
        t
    })
}

fn via() -> impl Strategy<Value = Via> {
    prop::sample::select(vec![Via::Network, Via::Control])
}

/// The documented routes, independently of `route`: what must be accepted, and how.
/// Reading is open to the network listener; changes come only through the control
/// socket.
fn documented(method: &str, target: &str, via: Via) -> Result<Query, u16> {
    let path = target.split('?').next().unwrap_or("");
    let query = match (method, path) {
        ("GET", "/metrics") => Query::Metrics,
        ("GET", "/healthz") => Query::Health,
        ("GET", "/status") => {
            // Only media_centre=ID or media_centre= (the schools without one); the last
            // one counts.
            let query = target.find('?').map_or("", |i| &target[i + 1..]);
            let mut rooms = Rooms::All;
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let Some(id) = pair.strip_prefix("media_centre=") else {
                    return Err(400);
                };
                let id_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
                rooms = match id {
                    "" => Rooms::NoCentre,
                    id if id.chars().all(id_char) => Rooms::Centre(id.to_owned()),
                    _ => return Err(400),
                };
            }
            Query::Status(rooms)
        }
        ("GET", "/control") => Query::ControlSocket,
        ("POST", "/reload") => Query::Reload,
        (_, "/metrics" | "/healthz" | "/status" | "/control" | "/reload") => return Err(405),
        ("POST", p) => match p
            .strip_prefix("/rooms/")
            .and_then(|r| r.strip_suffix("/end"))
        {
            Some(room) if !room.is_empty() && !room.contains('/') => {
                Query::EndSession(room.to_owned())
            }
            _ => return Err(404),
        },
        _ => return Err(404),
    };
    match (&query, via) {
        (Query::EndSession(_) | Query::Reload, Via::Network) => Err(403),
        _ => Ok(query),
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Any method, target and way in: no panic, and exactly the documented routes.
    #[test]
    fn only_documented_routes_are_accepted(m in method(), t in target(), v in via()) {
        let got = http::route(&m, &t, v).map_err(|r| r.status);
        prop_assert_eq!(got, documented(&m, &t, v), "{:?} {:?} via {:?}", m, t, v);
    }
}

/// Found by `only_documented_routes_are_accepted`: `POST /rooms/end` passes both the
/// prefix and the suffix test, which overlap, and slicing between them panicked.
#[test]
fn route_does_not_panic_on_rooms_end() {
    for via in [Via::Network, Via::Control] {
        assert_eq!(
            http::route("POST", "/rooms/end", via).map_err(|r| r.status),
            Err(404)
        );
    }
}
