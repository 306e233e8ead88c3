//! A hostile student: anonymous, able to send any stanza to any address, with the source
//! open. Nothing they send to raumwart's component may take a room or cut raumwart off.

use testkit::client::{self, el, text_el, Client, CLIENT};
use testkit::*;

use crate::REPO;
use tokio_xmpp::minidom::Element;

const RW: &str = "urn:raumwart:0";

/// A TCP proxy in front of Prosody's component port that holds everything raumwart
/// sends for `delay`: its requests stay in flight long enough for any forged answer to
/// arrive first. Returns the port to point raumwart at.
async fn slow_uplink(prosody: u16, delay: std::time::Duration) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((daemon, _)) = listener.accept().await {
            let upstream = tokio::net::TcpStream::connect(("127.0.0.1", prosody))
                .await
                .unwrap();
            let (mut from_daemon, mut to_daemon) = daemon.into_split();
            let (mut from_prosody, mut to_prosody) = upstream.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut from_prosody, &mut to_daemon).await;
            });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = from_daemon.read(&mut buf).await {
                    tokio::time::sleep(delay).await;
                    if to_prosody.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// A made-up snapshot claiming that `guest` entered `ROOM` with the school password.
fn forged_snapshot(guest: &str) -> Element {
    let mut snapshot = el("snapshot", RW, &[("gen", "x")]);
    let mut room = el("room", RW, &[("n", ROOM)]);
    room.append_child(el("o", RW, &[("o", guest), ("k", "1")]));
    snapshot.append_child(room);
    snapshot
}

/// Answers from the guest for the ids a naive daemon would use.
async fn flood_answers(guest: &mut Client) {
    let jid = guest.jid.clone();
    for n in 1..=8 {
        let id = format!("rw{n}");
        let mut result = el(
            "iq",
            CLIENT,
            &[("type", "result"), ("id", &id), ("to", COMPONENT)],
        );
        result.append_child(forged_snapshot(&jid));
        guest.send(result).await;
        let mut error = el(
            "iq",
            CLIENT,
            &[("type", "error"), ("id", &id), ("to", COMPONENT)],
        );
        let mut e = el("error", CLIENT, &[("type", "cancel")]);
        e.append_child(el("forbidden", "urn:ietf:params:xml:ns:xmpp-stanzas", &[]));
        error.append_child(e);
        guest.send(error).await;
    }
}

/// Waits until the daemon has handled everything the guest sent before: the answer to
/// a request the guest sends after them (the component handles stanzas in order).
async fn round_trip(guest: &mut Client, to: &str) -> Element {
    let id = format!("probe-{}", to.len());
    let mut iq = el("iq", CLIENT, &[("type", "get"), ("id", &id), ("to", to)]);
    iq.append_child(el("query", "http://jabber.org/protocol/disco#info", &[]));
    guest.send(iq).await;
    guest
        .wait_for("raumwart's answer", |s| {
            s.name() == "iq" && s.attr("id") == Some(id.as_str())
        })
        .await
}

#[tokio::test]
async fn forged_answers_while_raumwart_connects_change_nothing() {
    let env = Env::new(REPO, Options::default());
    // The module knows the map from an earlier run; the daemon is away for a moment.
    env.daemon().await.kill9();
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut teacher = env.anonymous().await;
    teacher
        .join(&jid, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .unwrap();
    let mut student = env.anonymous().await;
    let proxy = slow_uplink(env.component, std::time::Duration::from_millis(300)).await;
    let config = env.dir.join("raumwart-slow.toml");
    let text = std::fs::read_to_string(env.daemon_config_path()).unwrap();
    let text = text.replace(&format!(":{}\"", env.component), &format!(":{proxy}\""));
    std::fs::write(&config, text).unwrap();
    let mut d = env.spawn_daemon_with(&config);
    // Keep flooding while the daemon connects, pushes its map and asks for a snapshot.
    let flood = async {
        loop {
            flood_answers(&mut student).await;
            // Pacing, so that the flood does not starve Prosody itself.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    };
    tokio::select! {
        _ = flood => unreachable!(),
        _ = d.wait_synced() => {}
    }
    flood_answers(&mut student).await;
    round_trip(&mut student, COMPONENT).await;
    d.assert_connection_held().await;
    let log = d.log_text();
    assert_eq!(log.matches("in sync with Prosody").count(), 1, "{log}");
    // Only the teacher, who really entered with the school password, is made owner.
    teacher.wait_affiliation(&jid, "teacher", "owner").await;
    assert_eq!(log.matches("granting owner").count(), 1, "{log}");
}

#[tokio::test]
async fn stanzas_the_parser_refuses_are_skipped_and_requests_answered_from_their_address() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let mut guest = env.anonymous().await;
    let big = "x".repeat(60 * 1024);
    let odd: Vec<Element> = vec![
        // Unknown type values.
        el(
            "iq",
            CLIENT,
            &[("type", "fetch"), ("id", "a1"), ("to", COMPONENT)],
        ),
        el("message", CLIENT, &[("type", "shout"), ("to", COMPONENT)]),
        el("presence", CLIENT, &[("type", "hiding"), ("to", COMPONENT)]),
        // An IQ without id, and one without payload.
        el("iq", CLIENT, &[("type", "get"), ("to", COMPONENT)]),
        el(
            "iq",
            CLIENT,
            &[("type", "set"), ("id", "a2"), ("to", COMPONENT)],
        ),
        // A 60 kB body, and unknown children.
        {
            let mut m = el("message", CLIENT, &[("to", COMPONENT)]);
            m.append_child(text_el("body", CLIENT, &big));
            m
        },
        {
            let mut m = el("message", CLIENT, &[("to", COMPONENT)]);
            m.append_child(el("surprise", "urn:example:odd", &[("x", "1")]));
            m.append_child(el("body", CLIENT, &[("lang", "??")]));
            m
        },
    ];
    for _ in 0..3 {
        for stanza in &odd {
            guest.send(stanza.clone()).await;
        }
    }
    // An IQ the parser refuses still gets its error, from the address it was sent to.
    let answer = guest
        .wait_for("the error for the IQ without payload", |s| {
            s.name() == "iq" && s.attr("id") == Some("a2")
        })
        .await;
    assert_eq!(answer.attr("type"), Some("error"));
    assert_eq!(answer.attr("from"), Some(COMPONENT));
    // Every request to raumwart's domain, or any JID at it, is answered from exactly there.
    for to in [
        COMPONENT.to_owned(),
        format!("{COMPONENT}/x"),
        format!("someone@{COMPONENT}/res"),
    ] {
        let answer = round_trip(&mut guest, &to).await;
        assert_eq!(answer.attr("type"), Some("error"), "{answer:?}");
        assert_eq!(answer.attr("from"), Some(to.as_str()), "{answer:?}");
    }
    d.assert_connection_held().await;
    let log = d.log_text();
    assert!(
        log.contains("skipped a stanza that could not be parsed"),
        "{log}"
    );
    // Still at work: a teacher is made owner.
    let _focus = env.focus(ROOM).await;
    let (_t, _s) = lesson(&env, ROOM).await;
    d.wait_metric("raumwart_organizer_grants_total{result=\"ok\"}", 1.0)
        .await;
    assert_eq!(d.log_text().matches("in sync with Prosody").count(), 1);
}

#[tokio::test]
async fn events_from_anyone_but_the_muc_service_are_refused() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let mut guest = env.anonymous().await;
    let mut m = el("message", CLIENT, &[("to", COMPONENT), ("id", "m1")]);
    m.append_child(el("j", RW, &[("r", ROOM), ("o", &guest.jid), ("k", "1")]));
    guest.send(m).await;
    let answer = guest
        .wait_for("the error for the forged event", |s| {
            s.name() == "message" && s.attr("id") == Some("m1")
        })
        .await;
    assert_eq!(
        client::error_condition(&answer).as_deref(),
        Some("forbidden")
    );
    assert_eq!(answer.attr("from"), Some(COMPONENT));
    assert!(!d.log_text().contains("granting owner"));
    d.wait_synced().await;
}

#[tokio::test]
async fn a_guest_whose_address_holds_xml_markup_is_counted_like_any_other() {
    // The module writes its events as text: a resource full of markup must arrive as
    // data, not break raumwart's stream.
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let (_teacher, _student) = lesson(&env, ROOM).await;
    d.wait_room(ROOM, "teacher and student inside", |r| r["people"] == 2)
        .await;
    let resource = "x'\"<y>&amp;</message><z/>";
    let mut guest = Client::anonymous_as(env.c2s, DOMAIN, resource).await;
    assert!(guest.jid.ends_with(resource), "bound {}", guest.jid);
    let jid = room_jid(ROOM);
    guest
        .join(&jid, "guest", Some(CLASS_PASSWORD))
        .await
        .expect("the guest enters with the class password");
    d.wait_room(ROOM, "the guest counted", |r| r["people"] == 3)
        .await;
    guest.leave(&jid, "guest").await;
    d.wait_room(ROOM, "the guest gone", |r| r["people"] == 2)
        .await;
    d.assert_connection_held().await;
}

// --- owner follows organizer ---------------------------------------------------------

/// `actor` sets `target`'s affiliation in `room_jid` as the Jitsi UI does.
async fn set_affiliation(actor: &mut Client, room_jid: &str, target: &str, affiliation: &str) {
    actor
        .set_affiliation(room_jid, target, affiliation)
        .await
        .unwrap_or_else(|e| panic!("setting {affiliation}: {e}"));
}

#[tokio::test]
async fn an_organizer_taking_back_a_colleagues_moderator_takes_organizer_back() {
    let env = Env::new(REPO, grace("1s"));
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;
    let mut colleague = env.anonymous().await;
    colleague
        .join(&jid, "colleague", Some(CLASS_PASSWORD))
        .await
        .unwrap();
    set_affiliation(&mut t, &jid, &colleague.bare(), "owner").await;
    colleague.wait_affiliation(&jid, "colleague", "owner").await;
    set_affiliation(&mut t, &jid, &colleague.bare(), "member").await;
    colleague
        .wait_affiliation(&jid, "colleague", "member")
        .await;
    // The module's events reach the daemon in order: both changes before the teacher
    // goes. Grace: the colleague is no organizer anymore.
    t.leave(&jid, "teacher").await;
    d.wait_state(ROOM, "grace").await;
    s.wait_removed_within(env.after_grace(), &jid, "student")
        .await;
    colleague
        .wait_removed_within(env.after_grace(), &jid, "colleague")
        .await;
    d.wait_metric(
        "raumwart_sessions_ended_total{reason=\"grace_expired\"}",
        1.0,
    )
    .await;
}

#[tokio::test]
async fn an_owner_focus_gave_a_student_during_grace_is_taken_back_when_an_organizer_returns() {
    let env = Env::new(REPO, grace("30s"));
    let mut d = env.daemon().await;
    let _focus = env.auto_owner_focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;
    t.leave(&jid, "teacher").await;
    // jicofo's auto-owner promotes the student; raumwart does not fight it ...
    s.wait_affiliation(&jid, "student", "owner").await;
    d.wait_state(ROOM, "grace").await;
    // ... until an organizer is back.
    let mut t2 = env.anonymous().await;
    t2.join(&jid, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .unwrap();
    t2.wait_affiliation(&jid, "teacher", "owner").await;
    s.wait_affiliation(&jid, "student", "none").await;
    let owners = t2.affiliations(&jid, "owner").await;
    assert!(!owners.contains(&s.bare()), "the student still holds owner");
    assert!(owners.contains(&t.bare()) && owners.contains(&t2.bare()));
}

#[tokio::test]
async fn an_organizer_whose_owner_someone_else_took_gets_it_back() {
    let env = Env::new(REPO, Options::default());
    let _d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut t, mut s) = lesson(&env, ROOM).await;
    // Someone who is no organizer (here focus's account, an admin of the MUC) takes
    // the teacher's owner away.
    let mut admin = Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    set_affiliation(&mut admin, &jid, &t.bare(), "member").await;
    t.wait_affiliation(&jid, "teacher", "member").await;
    t.wait_affiliation(&jid, "teacher", "owner").await;
    // And a student made owner beside the teacher loses it again.
    set_affiliation(&mut admin, &jid, &s.bare(), "owner").await;
    s.wait_affiliation(&jid, "student", "owner").await;
    s.wait_affiliation(&jid, "student", "none").await;
}

// --- MUC nicks as Jitsi makes them ---------------------------------------------------

/// `c` sends a join to `room_jid` as the MUC nick `nick`, with the class password, and
/// returns the text of the error Prosody answers.
async fn refused_nick(c: &mut Client, room_jid: &str, nick: &str) -> String {
    let to = format!("{room_jid}/{nick}");
    let mut x = el("x", client::MUC, &[]);
    x.append_child(text_el("password", client::MUC, CLASS_PASSWORD));
    let mut p = el("presence", CLIENT, &[("to", &to)]);
    p.append_child(x);
    c.send(p).await;
    let answer = c
        .wait_for(&format!("the answer to the join as {nick:?}"), |s| {
            s.name() == "presence" && s.attr("from") == Some(to.as_str())
        })
        .await;
    assert_eq!(
        answer.attr("type"),
        Some("error"),
        "{nick:?} entered: {answer:?}"
    );
    assert_eq!(
        client::error_condition(&answer).as_deref(),
        Some("not-allowed")
    );
    client::error_text(&answer)
}

#[tokio::test]
async fn people_enter_under_hex_nicks_and_a_plain_nick_is_refused_before_raumwart_counts_it() {
    let env = Env::new(REPO, Options::default());
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (_teacher, mut student) = lesson(&env, ROOM).await;
    // As lib-jitsi-meet: the MUC nick is 8 hex characters, the display name in <nick/>.
    let seen = student
        .wait_for("the teacher's presence", |s| {
            client::is_from(s, "teacher") && s.attr("type").is_none()
        })
        .await;
    let nick = seen.attr("from").unwrap().rsplit('/').next().unwrap();
    assert!(
        nick.len() == 8 && nick.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "the teacher's MUC nick {nick:?}"
    );
    let shown = seen.get_child("nick", client::NICK).map(|n| n.text());
    assert_eq!(shown.as_deref(), Some("teacher"));
    // Two people shown under one name are two occupants.
    let mut twin = env.anonymous().await;
    let joined = twin
        .join(&jid, "student", Some(CLASS_PASSWORD))
        .await
        .expect("a second student of the same name enters");
    assert_ne!(joined.nick, student.muc_nick("student"));
    d.wait_room(ROOM, "three people", |r| r["people"] == 3)
        .await;
    // What no Jitsi client sends is refused before raumwart hears of it.
    let mut guest = env.anonymous().await;
    for (nick, refusal) in [
        ("student", client::NICK_REFUSALS[1]),
        ("focus", client::NICK_REFUSALS[1]),
        ("0000000A", client::NICK_REFUSALS[1]),
        ("Lena Schulz", client::NICK_REFUSALS[0]),
    ] {
        let text = refused_nick(&mut guest, &jid, nick).await;
        assert!(text.starts_with(refusal), "{nick:?} refused with {text:?}");
    }
    // A change of MUC nick: refused where docker-jitsi-meet's module is loaded; elsewhere
    // Prosody makes it, and raumwart still counts the same person once.
    let renamed = format!("{jid}/{}", client::new_muc_nick("student"));
    let mut change = el("presence", CLIENT, &[("to", &renamed)]);
    change.append_child(text_el("nick", client::NICK, "student"));
    student.send(change).await;
    let answer = student
        .wait_for("the answer to the nick change", |s| {
            s.name() == "presence" && s.attr("from") == Some(renamed.as_str())
        })
        .await;
    match shape() {
        Shape::DockerJitsiMeet => {
            assert_eq!(answer.attr("type"), Some("error"), "{answer:?}");
            assert!(client::error_text(&answer).starts_with(client::NICK_REFUSALS[2]));
        }
        Shape::Debian => assert!(client::is_self_presence(&answer), "{answer:?}"),
    }
    env.events_barrier(&mut d).await;
    assert_room_now(&env, ROOM, ("active", 3, true), "after the refused nicks").await;
    // The privacy sweep knows the nicks the kit made.
    let line = format!("INFO a line with o='{nick}'");
    let sweep = std::panic::catch_unwind(|| privacy::assert_impersonal("a log", &line));
    assert!(sweep.is_err(), "the sweep let the teacher's MUC nick pass");
}
