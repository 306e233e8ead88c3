//! Several Jitsi shards: each shard has its own Prosody (and jicofo) and its own raumwart
//! with the same schools; a room lives on one shard at a time, but the same room name can
//! be opened on two shards at once. Each shard's raumwart protects and resets its own copy.

use testkit::*;

use crate::REPO;

/// The value of the metric line starting with `series` on `env`'s raumwart.
async fn metric(env: &Env, series: &str) -> f64 {
    let (_, text) = http_get(env, "/metrics").await;
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test]
async fn the_same_room_on_two_shards_is_protected_and_reset_per_shard() {
    let (a, b) = (
        Env::new(REPO, Options::default()),
        Env::new(REPO, Options::default()),
    );
    let (mut da, mut db) = (a.daemon().await, b.daemon().await);
    let jid = room_jid(ROOM);
    let (mut focus_a, mut focus_b) = (a.focus(ROOM).await, b.focus(ROOM).await);

    // Both copies are locked from creation, each opens with the school password.
    for shard in [&a, &b] {
        let mut s = shard.anonymous().await;
        assert_eq!(
            s.join(&jid, "s", None).await.err().as_deref(),
            Some("not-authorized")
        );
    }
    let (mut ta, mut sa) = lesson(&a, ROOM).await;
    let (tb, mut sb) = lesson(&b, ROOM).await;

    // The lesson on shard A ends: only A's copy is reset.
    let old_owner = ta.bare();
    sa.leave(&jid, "student").await;
    ta.leave(&jid, "teacher").await;
    focus_a.gone().await;
    da.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    assert_room_is_fresh(&a, ROOM, &old_owner).await;
    sb.sync().await;
    assert!(
        !sb.saw(removal_of(&["teacher", "student"])),
        "shard B's lesson was touched by shard A's reset"
    );
    let mut late = b.anonymous().await;
    late.join(&jid, "student-2", Some(CLASS_PASSWORD))
        .await
        .expect("shard B's class password still holds");
    let ended = db.metrics().await.value("raumwart_sessions_ended_total");
    assert_eq!(ended, 0.0, "shard B's session ended");

    // Metrics: one session per shard; every raumwart manages all rooms.
    let started = "raumwart_sessions_started_total{media_centre=\"\",school=\"gs-musterstadt\"}";
    assert_eq!(
        metric(&a, started).await,
        2.0,
        "A: the lesson, then the fresh-room check"
    );
    assert_eq!(metric(&b, started).await, 1.0);
    assert_eq!(
        metric(&a, "raumwart_managed_rooms").await,
        metric(&b, "raumwart_managed_rooms").await,
        "the same schools on every shard: sum() of managed rooms double counts"
    );

    // And shard B's own reset when its teacher leaves.
    let old_owner = tb.bare();
    drop(tb);
    sb.leave(&jid, "student").await;
    late.leave(&jid, "student-2").await;
    focus_b.gone().await;
    db.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    assert_room_is_fresh(&b, ROOM, &old_owner).await;
}

/// The token shard B shows the console (a test value, long enough for `check`).
const SHARD_TOKEN: &str = "register-token-of-shard-b-for-tests";

/// Shard A holds the register and runs the console; shard B follows it. Returns the
/// console's port.
fn one_register_for_two_shards(a: &Env, b: &Env) -> u16 {
    let port = testkit::console::configure(a);
    std::fs::write(a.dir.join("shard-b.token"), SHARD_TOKEN).unwrap();
    let path = a.daemon_config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text.find("[[school]]").unwrap();
    let shard = "[[console.shard]]\nname = \"b\"\ntoken_file = \"shard-b.token\"\n\n";
    std::fs::write(&path, format!("{}{shard}{}", &text[..at], &text[at..])).unwrap();

    std::fs::write(b.dir.join("register.token"), SHARD_TOKEN).unwrap();
    let path = b.daemon_config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text.find("[[school]]").unwrap();
    let follow = format!(
        "[register]\nfollow = \"http://127.0.0.1:{port}/register\"\ntoken_file = \"register.token\"\ncache = \"register/register.toml\"\n"
    );
    std::fs::create_dir_all(b.dir.join("register")).unwrap();
    std::fs::write(&path, format!("{}{follow}", &text[..at])).unwrap();
    port
}

/// A school added through the console as staff of media centre A; its password.
async fn add_school(
    c: &testkit::console::Console,
    staff: &testkit::console::Agent,
    id: &str,
) -> String {
    let r = c
        .post(
            "/schulen",
            &[("cookie", &staff.cookie)],
            &[
                ("csrf", &staff.csrf),
                ("id", id),
                ("name", id),
                ("rooms", "1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "adding {id}: {}", r.body);
    let at = r
        .body
        .find("class=\"secret\">")
        .expect("the new password on the page");
    let rest = &r.body[at + "class=\"secret\">".len()..];
    rest[..rest.find('<').unwrap()].to_owned()
}

/// Shard B's copy of `room` is protected: no way in without a password, and `password`
/// makes an organizer.
async fn protected_on(shard: &Env, room: &str, password: &str) {
    let jid = room_jid(room);
    let _focus = shard.focus(room).await;
    let mut guest = shard.anonymous().await;
    assert_eq!(
        guest.join(&jid, "guest", None).await.err().as_deref(),
        Some("not-authorized"),
        "{room} on the following shard opened without a password"
    );
    let _teacher = teacher_with(shard, room, "teacher", password).await;
}

#[tokio::test]
async fn a_change_in_the_console_reaches_the_following_shard_and_a_shard_that_was_down_catches_up()
{
    let (a, b) = (
        Env::new(REPO, Options::default()),
        Env::new(REPO, Options::default()),
    );
    let port = one_register_for_two_shards(&a, &b);
    let _da = a.daemon().await;
    let c = testkit::console::Console::start(&a, port).await;
    let password = c.add_user("anna", &["--media-centre", testkit::console::CENTRE_A]);
    let anna = c.login("anna", &password).await;
    // B starts with no register: it gets one before it serves.
    let mut db = b.daemon().await;
    protected_on(&b, ROOM, SCHOOL_PASSWORD).await;
    let managed = db.metrics().await.value("raumwart_managed_rooms");

    let new = add_school(&c, &anna, "gs-neu").await;
    db.wait_metric("raumwart_managed_rooms", managed + 1.0)
        .await;
    protected_on(&b, "gs-neu-1", &new).await;

    // B is down while another school is added; at its start it has it.
    db.terminate();
    let later = add_school(&c, &anna, "gs-spaeter").await;
    let mut db = b.daemon().await;
    db.wait_metric("raumwart_managed_rooms", managed + 2.0)
        .await;
    protected_on(&b, "gs-spaeter-1", &later).await;

    // Without its token nobody gets the register; a wrong one is refused too.
    let r = c.get("/register", &[]).await.unwrap();
    assert_eq!(r.status, 401);
    let r = c
        .get(
            "/register",
            &[("authorization", "Bearer register-token-of-someone-else")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    assert!(!r.body.contains(&later));
}
