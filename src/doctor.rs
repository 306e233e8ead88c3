//! `raumwart doctor`: what the running Prosody reports through the module, held against
//! what README requires of it. Pure: the module's report, the daemon's configuration and
//! the number of managed rooms in, one line per check out, each ok or what to change.

use serde::Serialize;

use crate::config::Xmpp;
use crate::core::{Policy, MODULE_PROTOCOL};

/// What the module on the main MUC says about the Prosody it runs in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Report {
    /// The module's protocol (None: it announces none).
    pub protocol: Option<u32>,
    /// Prosody's version, e.g. "0.12.3" or "13.0.1".
    pub prosody: String,
    /// The Lua Prosody runs on, e.g. "Lua 5.4".
    pub lua: String,
    /// `gc.mode` in Prosody's global section (None: not set, Prosody's incremental).
    pub gc: Option<String>,
    /// `network_settings.nagle` in the global section (None: not set, Nagle on).
    pub nagle: Option<bool>,
    /// The main MUC's `muc_room_cache_size` (Prosody's default when not set).
    pub room_cache: Option<u64>,
    /// Every MUC component of this Prosody.
    pub mucs: Vec<Muc>,
    /// Where Prosody's component port listens: (interface, port).
    pub component_listeners: Vec<(String, u16)>,
    /// Bare JIDs Prosody takes for Jitsi's focus: the main MUC's admins (its own and the
    /// global ones) named `focus`, and occupants of its open rooms with the nick `focus`
    /// (jicofo's, which Jitsi's own modules rely on).
    pub focus: Vec<String>,
}

/// One MUC component as the module sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Muc {
    pub host: String,
    /// `mod_raumwart` is loaded there.
    pub raumwart: bool,
    /// `mod_raumwart_breakout` is loaded there.
    pub breakout: bool,
    /// Its `raumwart_main_muc` option.
    pub main_muc: Option<String>,
    /// raumwart's component is admin there.
    pub admin: bool,
    /// ... and, through `component_admins_as_room_owners`, owner of every room.
    pub owner: bool,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// What was checked, in a few words.
    pub check: String,
    pub ok: bool,
    /// What was found (ok), or what to change.
    pub text: String,
}

fn line(check: impl Into<String>, ok: bool, text: impl Into<String>) -> Line {
    Line {
        check: check.into(),
        ok,
        text: text.into(),
    }
}

/// Prosody's default `muc_room_cache_size`.
pub const DEFAULT_ROOM_CACHE: u64 = 100;

/// Holds the report against README's requirements for this configuration.
pub fn check(report: &Report, xmpp: &Xmpp, policy: &Policy, managed_rooms: usize) -> Vec<Line> {
    let main = xmpp.muc.to_lowercase();
    let component = xmpp.component.to_lowercase();
    let find = |host: &str| {
        report
            .mucs
            .iter()
            .find(|m| m.host.eq_ignore_ascii_case(host))
    };
    // Jitsi names its MUCs conference.<domain> (muc.<domain>), breakout.<domain>, lobby.<domain>.
    let domain = main.split_once('.').map_or("", |(_, d)| d);
    let mut lines = vec![version(&report.prosody), protocol(report.protocol)];

    lines.push(match find(&main) {
        Some(m) if m.raumwart => line(
            "module on the main MUC",
            true,
            format!("mod_raumwart loaded on {main}"),
        ),
        _ => line(
            "module on the main MUC",
            false,
            format!("add \"raumwart\" to modules_enabled of Component \"{main}\""),
        ),
    });

    // The breakout MUC: the one whose raumwart_breakout reports to this main MUC, else
    // Jitsi's default name for it.
    let reporting: Vec<&Muc> = report
        .mucs
        .iter()
        .filter(|m| {
            m.breakout
                && m.main_muc
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(&main))
        })
        .collect();
    let jitsi_breakout = format!("breakout.{domain}");
    let mut owned: Vec<&Muc> = find(&main).into_iter().collect();
    match (reporting.as_slice(), find(&jitsi_breakout)) {
        ([], None) => lines.push(line(
            "module on the breakout MUC",
            true,
            format!("no breakout MUC ({jitsi_breakout}) on this Prosody"),
        )),
        ([], Some(b)) => {
            let text = if b.breakout {
                format!(
                    "set raumwart_main_muc = \"{main}\" on Component \"{}\"",
                    b.host
                )
            } else {
                format!(
                    "add \"raumwart_breakout\" to modules_enabled of Component \"{}\", with \
                     raumwart_main_muc = \"{main}\"",
                    b.host
                )
            };
            lines.push(line("module on the breakout MUC", false, text));
            owned.push(b);
        }
        (found, _) => {
            for b in found {
                lines.push(match b.raumwart {
                    true => line(
                        "module on the breakout MUC",
                        false,
                        format!(
                            "replace \"raumwart\" with \"raumwart_breakout\" in modules_enabled \
                             of Component \"{}\"",
                            b.host
                        ),
                    ),
                    false => line(
                        "module on the breakout MUC",
                        true,
                        format!("mod_raumwart_breakout loaded on {}", b.host),
                    ),
                });
                owned.push(b);
            }
        }
    }

    match &xmpp.lobby_muc {
        Some(lobby) => match find(lobby) {
            Some(l) => owned.push(l),
            None => lines.push(line(
                "lobby MUC",
                false,
                format!("xmpp.lobby_muc names {lobby}, which is no MUC on this Prosody: correct it in raumwart's config"),
            )),
        },
        None => lines.push(line(
            "lobby MUC",
            true,
            match find(&format!("lobby.{domain}")) {
                Some(l) => format!(
                    "xmpp.lobby_muc not set: lobby rooms on {} are left to Jitsi's lobby module",
                    l.host
                ),
                None => "xmpp.lobby_muc not set".into(),
            },
        )),
    }

    for m in owned {
        let check = format!("raumwart admin and owner on {}", m.host);
        lines.push(match (m.admin, m.owner) {
            (true, true) => line(check, true, "raumwart is owner of every room"),
            (true, false) => line(
                check,
                false,
                format!(
                    "set component_admins_as_room_owners = true on Component \"{}\" (Prosody 13's \
                     default is false)",
                    m.host
                ),
            ),
            (false, _) => line(
                check,
                false,
                format!(
                    "add \"{component}\" to admins of Component \"{}\", and set \
                     component_admins_as_room_owners = true there",
                    m.host
                ),
            ),
        });
    }

    let cache = report.room_cache.unwrap_or(DEFAULT_ROOM_CACHE);
    let managed = managed_rooms as u64;
    lines.push(if cache >= managed {
        line(
            "room cache",
            true,
            format!("muc_room_cache_size {cache}, at least the {managed} managed rooms"),
        )
    } else {
        line(
            "room cache",
            false,
            format!(
                "set muc_room_cache_size = {} on Component \"{main}\": at least the {managed} \
                 managed rooms (now {cache})",
                managed.max(10_000)
            ),
        )
    });

    lines.push(gc(report));
    lines.push(match report.nagle {
        Some(false) => line("Nagle", true, "network_settings.nagle = false"),
        _ => line(
            "Nagle",
            false,
            "set network_settings = { nagle = false } in Prosody's global section, then restart Prosody",
        ),
    });
    lines.push(component_port(&report.component_listeners));
    lines.push(focus(&report.focus, &policy.service_jids));
    lines
}

fn version(prosody: &str) -> Line {
    let supported = ["0.12.", "13.0."]
        .iter()
        .any(|v| format!("{prosody}.").starts_with(v));
    match supported {
        true => line("Prosody version", true, format!("Prosody {prosody}")),
        false => line(
            "Prosody version",
            false,
            format!("Prosody {prosody} is not supported: use Prosody 0.12 or 13.0"),
        ),
    }
}

fn protocol(module: Option<u32>) -> Line {
    match module == Some(MODULE_PROTOCOL) {
        true => line(
            "module release",
            true,
            format!("module protocol {MODULE_PROTOCOL}, as this raumwart"),
        ),
        false => line(
            "module release",
            false,
            format!(
                "the module speaks {}, this raumwart protocol {MODULE_PROTOCOL}: install the \
                 module of this release and restart Prosody",
                crate::core::describe_module_protocol(module)
            ),
        ),
    }
}

fn gc(report: &Report) -> Line {
    // Lua before 5.4 has no generational collector.
    let lua54 = report
        .lua
        .strip_prefix("Lua ")
        .and_then(|v| v.split_once('.'))
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?)))
        .is_some_and(|v| v >= (5, 4));
    match (lua54, report.gc.as_deref()) {
        (false, _) => line(
            "garbage collector",
            true,
            format!("{} has no generational collector", report.lua),
        ),
        (true, Some("generational")) => line("garbage collector", true, "gc = { mode = \"generational\" }"),
        (true, _) => line(
            "garbage collector",
            false,
            "set gc = { mode = \"generational\" } in Prosody's global section, then restart Prosody",
        ),
    }
}

fn loopback(interface: &str) -> bool {
    interface == "localhost"
        || interface
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn component_port(listeners: &[(String, u16)]) -> Line {
    let show = |l: &[&(String, u16)]| {
        l.iter()
            .map(|(i, p)| match i.contains(':') {
                true => format!("[{i}]:{p}"),
                false => format!("{i}:{p}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let exposed: Vec<&(String, u16)> = listeners.iter().filter(|(i, _)| !loopback(i)).collect();
    let all: Vec<&(String, u16)> = listeners.iter().collect();
    match exposed.is_empty() {
        true => line(
            "component port",
            true,
            format!("on loopback only ({})", show(&all)),
        ),
        false => line(
            "component port",
            false,
            format!(
                "listens on {}: set component_interfaces = {{ \"127.0.0.1\" }} in Prosody's \
                 global section, then restart Prosody",
                show(&exposed)
            ),
        ),
    }
}

fn focus(focus: &[String], services: &[String]) -> Line {
    let covered = |j: &str| {
        let j = j.to_lowercase();
        let domain = j.rsplit('@').next().unwrap_or(&j);
        services
            .iter()
            .any(|s| s.to_lowercase() == j || s.to_lowercase() == domain)
    };
    let missing: Vec<&str> = focus
        .iter()
        .map(String::as_str)
        .filter(|j| !covered(j))
        .collect();
    match (focus.is_empty(), missing.as_slice()) {
        (true, _) => line(
            "service_jids",
            true,
            "Prosody names no focus (no admin focus@..., no occupant with the nick focus): nothing to compare",
        ),
        (false, []) => line(
            "service_jids",
            true,
            format!("policy.service_jids covers focus ({})", focus.join(", ")),
        ),
        (false, missing) => line(
            "service_jids",
            false,
            format!(
                "add {} to policy.service_jids in raumwart's config: focus would count as a person",
                missing
                    .iter()
                    .map(|j| format!("\"{j}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Secret;

    const MAIN: &str = "conference.meet.jitsi";
    const BREAKOUT: &str = "breakout.meet.jitsi";
    const LOBBY: &str = "lobby.meet.jitsi";
    const COMPONENT: &str = "raumwart.meet.jitsi";
    const FOCUS: &str = "focus@auth.meet.jitsi";

    fn xmpp() -> Xmpp {
        Xmpp {
            server: "127.0.0.1:5347".into(),
            component: COMPONENT.into(),
            secret: Secret::new("s"),
            muc: MAIN.into(),
            lobby_muc: Some(LOBBY.into()),
        }
    }

    fn policy() -> Policy {
        Policy {
            service_jids: vec![FOCUS.into(), "jigasi@auth.meet.jitsi".into()],
            ..Policy::default()
        }
    }

    fn muc(host: &str) -> Muc {
        Muc {
            host: host.into(),
            admin: true,
            owner: true,
            ..Muc::default()
        }
    }

    /// A Prosody set up as README says.
    fn good() -> Report {
        Report {
            protocol: Some(MODULE_PROTOCOL),
            prosody: "0.12.3".into(),
            lua: "Lua 5.4".into(),
            gc: Some("generational".into()),
            nagle: Some(false),
            room_cache: Some(10_000),
            mucs: vec![
                Muc {
                    raumwart: true,
                    ..muc(MAIN)
                },
                Muc {
                    breakout: true,
                    main_muc: Some(MAIN.into()),
                    ..muc(BREAKOUT)
                },
                muc(LOBBY),
            ],
            component_listeners: vec![("127.0.0.1".into(), 5347)],
            focus: vec![FOCUS.into()],
        }
    }

    /// The lines that are not ok, as "check: text".
    fn changes(report: &Report, xmpp: &Xmpp, policy: &Policy, rooms: usize) -> Vec<String> {
        check(report, xmpp, policy, rooms)
            .into_iter()
            .filter(|l| !l.ok)
            .map(|l| format!("{}: {}", l.check, l.text))
            .collect()
    }

    #[track_caller]
    fn one_change(report: &Report, want: &str) {
        let got = changes(report, &xmpp(), &policy(), 500);
        assert!(
            got.len() == 1 && got[0].contains(want),
            "expected one change with {want:?}: {got:#?}"
        );
    }

    #[test]
    fn a_prosody_set_up_as_readme_says_is_ok_in_every_line() {
        let lines = check(&good(), &xmpp(), &policy(), 500);
        assert!(lines.iter().all(|l| l.ok), "{lines:#?}");
        for check in [
            "Prosody version",
            "module release",
            "module on the main MUC",
            "module on the breakout MUC",
            "room cache",
            "garbage collector",
            "Nagle",
            "component port",
            "service_jids",
        ] {
            assert!(lines.iter().any(|l| l.check == check), "no {check:?} line");
        }
        for host in [MAIN, BREAKOUT, LOBBY] {
            let check = format!("raumwart admin and owner on {host}");
            assert!(lines.iter().any(|l| l.check == check), "no {check:?} line");
        }
    }

    #[test]
    fn prosody_versions_other_than_0_12_and_13_0_are_named() {
        for v in ["0.12.3", "13.0.1", "0.12.0"] {
            assert!(version(v).ok, "{v}");
        }
        for v in ["0.11.9", "13.1.0", "0.120.1", "hg:abcdef", "unknown"] {
            let l = version(v);
            assert!(
                !l.ok && l.text.contains("use Prosody 0.12 or 13.0"),
                "{v}: {l:?}"
            );
        }
        one_change(
            &Report {
                prosody: "0.11.9".into(),
                ..good()
            },
            "Prosody 0.11.9 is not supported",
        );
    }

    #[test]
    fn a_module_of_another_protocol_must_be_replaced() {
        one_change(
            &Report {
                protocol: Some(MODULE_PROTOCOL + 1),
                ..good()
            },
            "install the module of this release and restart Prosody",
        );
    }

    #[test]
    fn the_module_must_be_on_the_main_muc() {
        let mut r = good();
        r.mucs[0].raumwart = false;
        one_change(
            &r,
            "add \"raumwart\" to modules_enabled of Component \"conference.meet.jitsi\"",
        );
    }

    #[test]
    fn the_breakout_part_must_be_on_the_breakout_muc_reporting_to_the_main_one() {
        let mut r = good();
        r.mucs[1].breakout = false;
        one_change(
            &r,
            "add \"raumwart_breakout\" to modules_enabled of Component \"breakout.meet.jitsi\"",
        );
        let mut r = good();
        r.mucs[1].main_muc = None;
        one_change(
            &r,
            "set raumwart_main_muc = \"conference.meet.jitsi\" on Component \"breakout.meet.jitsi\"",
        );
        // A config from before raumwart_breakout: "raumwart" in the breakout MUC's list.
        let mut r = good();
        r.mucs[1].raumwart = true;
        one_change(&r, "replace \"raumwart\" with \"raumwart_breakout\"");
        // No breakout MUC at all: breakout rooms are off.
        let mut r = good();
        r.mucs.remove(1);
        assert_eq!(changes(&r, &xmpp(), &policy(), 500), Vec::<String>::new());
    }

    #[test]
    fn raumwart_must_be_admin_and_owner_on_main_breakout_and_lobby() {
        for i in 0..3 {
            let mut r = good();
            r.mucs[i].owner = false;
            one_change(
                &r,
                &format!(
                    "set component_admins_as_room_owners = true on Component \"{}\"",
                    r.mucs[i].host
                ),
            );
            r.mucs[i].admin = false;
            one_change(
                &r,
                &format!(
                    "add \"raumwart.meet.jitsi\" to admins of Component \"{}\"",
                    r.mucs[i].host
                ),
            );
        }
    }

    #[test]
    fn a_lobby_muc_that_prosody_does_not_have_is_named() {
        let mut r = good();
        r.mucs.remove(2);
        one_change(&r, "xmpp.lobby_muc names lobby.meet.jitsi, which is no MUC");
        // Not set: lobby rooms are Jitsi's to remove, and the lobby MUC is not checked.
        let xmpp = Xmpp {
            lobby_muc: None,
            ..xmpp()
        };
        let mut r = good();
        r.mucs[2].admin = false;
        assert_eq!(changes(&r, &xmpp, &policy(), 500), Vec::<String>::new());
    }

    #[test]
    fn the_room_cache_must_hold_every_managed_room() {
        let r = Report {
            room_cache: Some(500),
            ..good()
        };
        assert_eq!(changes(&r, &xmpp(), &policy(), 500), Vec::<String>::new());
        let got = changes(&r, &xmpp(), &policy(), 501);
        assert_eq!(
            got,
            ["room cache: set muc_room_cache_size = 10000 on Component \"conference.meet.jitsi\": \
              at least the 501 managed rooms (now 500)"]
        );
        // Not set: Prosody's 100.
        let r = Report {
            room_cache: None,
            ..good()
        };
        one_change(&r, "(now 100)");
        let got = changes(&r, &xmpp(), &policy(), 20_000);
        assert!(got[0].contains("muc_room_cache_size = 20000"), "{got:?}");
    }

    #[test]
    fn the_generational_collector_is_recommended_where_lua_has_it() {
        for gc in [None, Some("incremental")] {
            one_change(
                &Report {
                    gc: gc.map(String::from),
                    ..good()
                },
                "set gc = { mode = \"generational\" }",
            );
        }
        let r = Report {
            gc: None,
            lua: "Lua 5.2".into(),
            ..good()
        };
        assert_eq!(changes(&r, &xmpp(), &policy(), 500), Vec::<String>::new());
    }

    #[test]
    fn nagle_must_be_off() {
        for nagle in [None, Some(true)] {
            one_change(
                &Report { nagle, ..good() },
                "set network_settings = { nagle = false }",
            );
        }
    }

    #[test]
    fn the_component_port_stays_on_loopback() {
        for ok in [
            vec![("::1", 5347), ("127.0.0.1", 5347)],
            vec![("127.0.0.2", 5348)],
        ] {
            let r = Report {
                component_listeners: ok.iter().map(|(i, p)| (i.to_string(), *p)).collect(),
                ..good()
            };
            assert_eq!(changes(&r, &xmpp(), &policy(), 500), Vec::<String>::new());
        }
        for exposed in ["*", "0.0.0.0", "::", "192.0.2.7"] {
            let r = Report {
                component_listeners: vec![("127.0.0.1".into(), 5347), (exposed.into(), 5347)],
                ..good()
            };
            one_change(&r, "set component_interfaces = { \"127.0.0.1\" }");
            let text = &changes(&r, &xmpp(), &policy(), 500)[0];
            assert!(!text.contains("127.0.0.1:5347"), "{text}");
        }
    }

    #[test]
    fn service_jids_must_cover_the_focus_prosody_knows() {
        let without = Policy {
            service_jids: vec!["jigasi@auth.meet.jitsi".into()],
            ..Policy::default()
        };
        let got = changes(&good(), &xmpp(), &without, 500);
        assert_eq!(
            got,
            [
                "service_jids: add \"focus@auth.meet.jitsi\" to policy.service_jids in raumwart's \
              config: focus would count as a person"
            ]
        );
        // The focus's domain covers it too.
        let domain = Policy {
            service_jids: vec!["auth.meet.jitsi".into()],
            ..Policy::default()
        };
        assert_eq!(
            changes(&good(), &xmpp(), &domain, 500),
            Vec::<String>::new()
        );
        // No focus known: nothing to hold against.
        let r = Report {
            focus: vec![],
            ..good()
        };
        assert_eq!(changes(&r, &xmpp(), &without, 500), Vec::<String>::new());
    }
}
