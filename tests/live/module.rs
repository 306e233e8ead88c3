//! The Prosody module against hostile guests, with a real Prosody: no school password at
//! rest or as a live room password, wrong passwords reported, failing closed when its
//! stored map is unusable, every managed room covered beyond Prosody's room cache, and
//! who entered as organizer still known after a reload of the module.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use testkit::client::{self, Client};
use testkit::*;

use crate::REPO;

/// The live room password, as any owner reads it from the config form.
async fn form_password(c: &mut Client, room: &str) -> String {
    let form = c
        .iq(
            &room_jid(room),
            "get",
            client::el("query", client::MUC_OWNER, &[]),
        )
        .await
        .expect("an owner reads the config form");
    let x = form
        .get_child("query", client::MUC_OWNER)
        .and_then(|q| q.get_child("x", "jabber:x:data"))
        .expect("a data form");
    x.children()
        .find(|f| f.attr("var") == Some("muc#roomconfig_roomsecret"))
        .and_then(|f| f.get_child("value", "jabber:x:data"))
        .map(|v| v.text())
        .unwrap_or_default()
}

/// Every file below `dir`, as text.
fn files_below(dir: &Path) -> Vec<(String, String)> {
    let mut out = vec![];
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_below(&path));
        } else {
            let text = String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned();
            out.push((path.display().to_string(), text));
        }
    }
    out
}

fn assert_no_password_at_rest(env: &Env) {
    let files = files_below(&env.dir.join("data"));
    for (path, text) in &files {
        for password in [SCHOOL_PASSWORD, OTHER_SCHOOL_PASSWORD] {
            assert!(!text.contains(password), "a school password in {path}");
        }
    }
    // A line per school: salt, HMAC, its rooms.
    let map = fs::read_to_string(env.stored_map_path()).expect("the module stored its map");
    let text = map.split("[\"text\"] = \"").nth(1).unwrap_or_default();
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    let mut words = text.split(' ');
    let (salt, hash) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    assert!(
        salt.len() == 32 && hex(salt) && hash.len() == 64 && hex(hash),
        "{map}"
    );
}

/// Polls /healthz until it answers `code`.
async fn wait_health(env: &Env, code: u16) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (got, body) = http_get(env, "/healthz").await;
        if got == code {
            return body;
        }
        assert!(Instant::now() < deadline, "/healthz stays {got}: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls /metrics until the value of the line starting with `series` passes `ok`.
async fn wait_metric(env: &Env, series: &str, ok: impl Fn(i64) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, text) = http_get(env, "/metrics").await;
        let line = text.lines().find(|l| l.starts_with(series)).unwrap_or("");
        let value = line.rsplit(' ').next().and_then(|v| v.parse().ok());
        if value.is_some_and(&ok) {
            return;
        }
        assert!(Instant::now() < deadline, "{series}: {line:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until Prosody's log has `needle` (the log trails the open ports at start).
async fn wait_prosody_log(env: &Env, needle: &str) {
    let deadline = Instant::now() + WAIT;
    while !env.prosody_log().contains(needle) {
        assert!(Instant::now() < deadline, "{needle:?} not in Prosody's log");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Stops Prosody, lets `prepare` spoil the stored map, starts Prosody again and waits
/// until the module is loaded.
async fn restart_with_map(env: &mut Env, prepare: impl FnOnce(&Path)) {
    const LOADED: &str = "raumwart module active: ";
    wait_prosody_log(env, LOADED).await;
    let before = env.prosody_log().matches(LOADED).count();
    env.stop_prosody();
    let path = env.stored_map_path();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = fs::remove_file(&path);
    prepare(&path);
    env.start_prosody();
    let deadline = Instant::now() + WAIT;
    while env.prosody_log().matches(LOADED).count() == before {
        assert!(Instant::now() < deadline, "the module did not load");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn focus_client(env: &Env) -> Client {
    Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await
}

#[tokio::test]
async fn no_school_password_at_rest_in_a_live_room_or_in_the_config_form() {
    let env = Env::new(
        REPO,
        Options {
            restrict_room_creation: false,
            ..Options::default()
        },
    );
    let _d = env.daemon().await;

    // A teacher creates the room with the school password: organizer, yet the room's
    // password is another one.
    let jid = room_jid(ROOM);
    let mut t = env.anonymous().await;
    t.join(&jid, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .expect("the teacher creates the room");
    t.wait_affiliation(&jid, "teacher", "owner").await;
    let live = form_password(&mut t, ROOM).await;
    assert!(!live.is_empty(), "a managed room without a password");
    assert_ne!(live, SCHOOL_PASSWORD);
    let mut s = env.anonymous().await;
    assert_eq!(
        s.join(&jid, "s", None).await.err().as_deref(),
        Some("not-authorized")
    );

    // Nor can an owner make the school password the class password.
    t.configure(&jid, &[("muc#roomconfig_roomsecret", SCHOOL_PASSWORD)])
        .await
        .unwrap();
    assert_eq!(form_password(&mut t, ROOM).await, live);
    t.configure(&jid, &[("muc#roomconfig_roomsecret", CLASS_PASSWORD)])
        .await
        .unwrap();
    assert_eq!(form_password(&mut t, ROOM).await, CLASS_PASSWORD);
    // The school password still admits as organizer, the class password as student.
    let mut t2 = env.anonymous().await;
    t2.join(&jid, "teacher-2", Some(SCHOOL_PASSWORD))
        .await
        .expect("the organizer key works with a class password set");
    t2.wait_affiliation(&jid, "teacher-2", "owner").await;
    s.join(&jid, "s", Some(CLASS_PASSWORD))
        .await
        .expect("the class password admits students");

    // A room focus creates starts with a password nobody knows either.
    let _focus = env.focus(ROOM2).await;
    let mut t3 = env.anonymous().await;
    t3.join(&room_jid(ROOM2), "teacher", Some(SCHOOL_PASSWORD))
        .await
        .expect("the school password opens the room focus created");
    t3.wait_affiliation(&room_jid(ROOM2), "teacher", "owner")
        .await;
    let live2 = form_password(&mut t3, ROOM2).await;
    assert!(!live2.is_empty() && live2 != SCHOOL_PASSWORD && live2 != live);

    assert_no_password_at_rest(&env);
    assert!(!env.prosody_log().contains(SCHOOL_PASSWORD));
}

#[tokio::test]
async fn a_map_stored_with_plain_passwords_is_hashed_at_start() {
    let mut env = Env::new(REPO, Options::default());
    restart_with_map(&mut env, |path| {
        let old = format!(
            "return {{\n\t[\"gen\"] = \"old\";\n\t[\"unmanaged\"] = \"allow\";\n\t[\"rooms\"] = \
             {{\n\t\t[\"{ROOM}\"] = \"{SCHOOL_PASSWORD}\";\n\t}};\n}};\n"
        );
        fs::write(path, old).unwrap();
    })
    .await;
    assert_no_password_at_rest(&env);
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let mut s = env.anonymous().await;
    assert_eq!(
        s.join(&jid, "s", None).await.err().as_deref(),
        Some("not-authorized")
    );
    let mut t = env.anonymous().await;
    t.join(&jid, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .expect("the hashed map still knows the school password");
}

#[tokio::test]
async fn wrong_passwords_are_reported_but_not_keys_bans_admins_or_unmanaged_rooms() {
    let env = Env::new(
        REPO,
        Options {
            restrict_room_creation: false,
            ..Options::default()
        },
    );
    let mut d = env.daemon().await;
    let _focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let _teacher = teacher_with_class(&env, ROOM, "teacher").await;
    let guess = "Rate-mal-1234";

    // Counted: no password, a wrong one.
    let mut s1 = env.anonymous().await;
    for password in [None, Some(guess)] {
        assert_eq!(
            s1.join(&jid, "s1", password).await.err().as_deref(),
            Some("not-authorized")
        );
    }
    // Not counted: the class password, the organizer key, focus, a ban, another room.
    let mut s2 = env.anonymous().await;
    s2.join(&jid, "s2", Some(CLASS_PASSWORD)).await.unwrap();
    let mut t2 = env.anonymous().await;
    t2.join(&jid, "t2", Some(SCHOOL_PASSWORD)).await.unwrap();
    t2.wait_affiliation(&jid, "t2", "owner").await;
    let mut admin = focus_client(&env).await;
    assert_eq!(
        admin
            .join(&jid, "focus-2", Some(guess))
            .await
            .err()
            .as_deref(),
        Some("not-authorized")
    );
    let mut banned = env.anonymous().await;
    let mut ban = client::el("query", client::MUC_ADMIN, &[]);
    ban.append_child(client::el(
        "item",
        client::MUC_ADMIN,
        &[("affiliation", "outcast"), ("jid", &banned.bare())],
    ));
    t2.iq(&jid, "set", ban).await.expect("an owner bans");
    assert_eq!(
        banned.join(&jid, "b", Some(guess)).await.err().as_deref(),
        Some("forbidden")
    );
    let free = room_jid("freie-gruppe");
    let mut other = env.anonymous().await;
    other.join(&free, "o", Some("eigenes")).await.unwrap();
    assert_eq!(
        s1.join(&free, "s1", Some(guess)).await.err().as_deref(),
        Some("not-authorized")
    );

    // Barrier: events come in order; after this join every refusal above is counted.
    let mut s3 = env.anonymous().await;
    s3.join(&jid, "s3", Some(CLASS_PASSWORD)).await.unwrap();
    d.wait_room(ROOM, "4 people", |r| r["people"] == 4).await;
    let log = d.log_text();
    assert_eq!(log.matches("event=WrongPassword").count(), 2, "{log}");
    wait_metric(
        &env,
        &format!("raumwart_wrong_passwords_total{{media_centre=\"\",school=\"{SCHOOL}\"}}"),
        |n| n == 2,
    )
    .await;
    assert!(log.contains("joins refused for a wrong password"));
    // (The ban itself is an affiliation event, with the banned JID.)
    for secret in [guess.to_owned(), s1.bare()] {
        assert!(!log.contains(&secret), "{secret} reached the daemon");
    }
}

#[tokio::test]
async fn an_unreadable_stored_map_refuses_every_room_until_a_map_is_pushed() {
    let mut env = Env::new(
        REPO,
        Options {
            restrict_room_creation: false,
            ..Options::default()
        },
    );
    restart_with_map(&mut env, |path| {
        fs::write(path, "return { rooms = ").unwrap()
    })
    .await;
    wait_prosody_log(&env, "Cannot read the stored room map").await;

    let mut admin = focus_client(&env).await;
    let mut t = env.anonymous().await;
    let refused = Some("service-unavailable");
    let focus_join = admin.join(&room_jid(ROOM), "focus", None).await;
    assert_eq!(focus_join.err().as_deref(), refused);
    let teacher_join = t.join(&room_jid(ROOM), "t", Some(SCHOOL_PASSWORD)).await;
    assert_eq!(teacher_join.err().as_deref(), refused);
    let free_join = t.join(&room_jid("freie-gruppe"), "t", None).await;
    assert_eq!(free_join.err().as_deref(), refused);

    let _d = env.daemon().await;
    wait_health(&env, 200).await;
    wait_metric(&env, "raumwart_module_problems", |n| n == 0).await;
    t.join(&room_jid(ROOM), "teacher", Some(SCHOOL_PASSWORD))
        .await
        .expect("the pushed map is in force");
    let mut s = env.anonymous().await;
    assert_eq!(
        s.join(&room_jid(ROOM), "s", None).await.err().as_deref(),
        Some("not-authorized")
    );
    assert_no_password_at_rest(&env);
}

#[tokio::test]
async fn a_map_that_cannot_be_stored_is_refused_and_reported_until_stored() {
    let mut env = Env::new(REPO, Options::default());
    // A folder where the map file should be: unreadable, and no map can replace it.
    restart_with_map(&mut env, |path| fs::create_dir_all(path).unwrap()).await;
    let mut d = env.daemon().await;
    let body = wait_health(&env, 503).await;
    assert!(body.contains("map-not-stored"), "{body}");
    wait_metric(&env, "raumwart_module_problems", |n| n > 0).await;
    wait_prosody_log(&env, "Could not store the room map").await;
    // The pushed map holds in memory meanwhile.
    let _focus = env.focus(ROOM).await;
    let mut s = env.anonymous().await;
    assert_eq!(
        s.join(&room_jid(ROOM), "s", None).await.err().as_deref(),
        Some("not-authorized")
    );

    fs::remove_dir(env.stored_map_path()).unwrap();
    d.kill9();
    let _d = env.daemon().await;
    wait_health(&env, 200).await;
    wait_metric(&env, "raumwart_module_problems", |n| n == 0).await;
    assert_no_password_at_rest(&env);
}

#[tokio::test]
async fn without_a_map_the_deny_option_refuses_new_rooms_before_the_daemon_came() {
    let env = Env::new(
        REPO,
        Options {
            restrict_room_creation: false,
            module_unmanaged: Some("deny"),
            ..Options::default()
        },
    );
    assert!(!env.stored_map_path().exists());
    let mut c = env.anonymous().await;
    let mut admin = focus_client(&env).await;
    assert_eq!(
        c.join(&room_jid("freie-gruppe"), "c", None)
            .await
            .err()
            .as_deref(),
        Some("not-allowed")
    );
    // Nobody can tell a managed room yet: focus is refused too.
    assert_eq!(
        admin
            .join(&room_jid(ROOM), "focus", None)
            .await
            .err()
            .as_deref(),
        Some("not-allowed")
    );
    // Once the daemon pushed its map, its policy ("allow" here) applies.
    let _d = env.daemon().await;
    c.join(&room_jid("freie-gruppe"), "c", None)
        .await
        .expect("the daemon's policy allows unmanaged rooms");
    let _focus = env.focus(ROOM).await;
}

/// Whether Prosody's log says `room` is swapped out of its room cache now.
fn evicted(env: &Env, room: &str) -> bool {
    let log = env.prosody_log();
    let jid = room_jid(room);
    let last = |what: &str| log.rfind(&format!("{what} room {jid}"));
    last("Evicting") > last("Restoring")
}

#[tokio::test]
async fn every_managed_room_is_covered_beyond_prosodys_room_cache() {
    let rooms: Vec<String> = (1..=8).map(school_room).collect();
    let env = Env::new(
        REPO,
        Options {
            room_cache_size: Some(4),
            school_rooms: rooms.len(),
            grace_period: "0s",
            ..Options::default()
        },
    );
    let mut d = env.daemon().await;
    let mut focuses = vec![];
    let mut teachers = vec![];
    for room in &rooms {
        focuses.push(env.focus(room).await);
        teachers.push(teacher_with_class(&env, room, "teacher").await);
    }
    let mut student = env.anonymous().await;
    student
        .join(&room_jid(&rooms[0]), "student", Some(CLASS_PASSWORD))
        .await
        .unwrap();
    assert!(
        rooms.iter().filter(|r| evicted(&env, r)).count() >= 4,
        "the cache of 4 did not overflow"
    );
    // It works, slowly at scale: the admin is told what to set (8 rooms here, one of
    // another school).
    let warning = "9 managed rooms, but muc_room_cache_size is 4: set it to at least 9";
    assert_eq!(
        env.prosody_log().matches(warning).count(),
        1,
        "Prosody's log does not say once what to set"
    );

    // A new daemon knows only what the snapshot tells: every room, each with its
    // organizer (a room without one would end at once with a grace period of 0s).
    d.kill9();
    let _d = env.daemon().await;
    let active =
        format!("raumwart_rooms{{media_centre=\"\",school=\"{SCHOOL}\",state=\"active\"}}");
    wait_metric(&env, &active, |n| n == 8).await;
    assert!(
        evicted(&env, &rooms[0]),
        "the first room is in the cache after the snapshot"
    );

    // The organizer leaves the swapped-out room: the student goes, the room is reset.
    let jid = room_jid(&rooms[0]);
    let teacher = &mut teachers[0];
    teacher.leave(&jid, "teacher").await;
    student.wait_removed(&jid, "student").await;
    focuses[0].gone().await;
    assert_room_is_fresh(&env, &rooms[0], &teacher.bare()).await;
    wait_metric(&env, &active, |n| n == 7).await;
    for t in &mut teachers[1..] {
        t.sync().await;
        assert!(!t.saw(removal_of(&["teacher"])), "an organizer was removed");
    }
}

/// `module:reload("raumwart", MUC)` through Prosody's admin shell, as an admin does after
/// upgrading the module.
fn reload_module(env: &Env) {
    const LOADED: &str = "raumwart module active: ";
    let before = env.prosody_log().matches(LOADED).count();
    let said = env.prosody_shell(&["module", "reload", "raumwart", muc()]);
    assert!(
        said.contains("Module reloaded on 1 host"),
        "the shell did not reload mod_raumwart: {said}"
    );
    // The shell answers once the module ran again; its start logs before that.
    assert_eq!(
        env.prosody_log().matches(LOADED).count(),
        before + 1,
        "the reload did not start the module again"
    );
}

#[tokio::test]
async fn a_module_reload_keeps_who_entered_as_organizer() {
    // A grace period of 0: a room where a new daemon finds no organizer ends at once.
    let env = Env::new(
        REPO,
        Options {
            admin_shell: true,
            ..grace("0s")
        },
    );
    let mut d = env.daemon().await;
    let mut focus = env.focus(ROOM).await;
    let jid = room_jid(ROOM);
    let (mut teacher, mut student) = lesson(&env, ROOM).await;
    let old_owner = teacher.bare();

    reload_module(&env);

    // The module works on: the class password admits, the school password makes an
    // organizer, and its events reach the daemon.
    let mut late = env.anonymous().await;
    late.join(&jid, "late", Some(CLASS_PASSWORD))
        .await
        .expect("the class password admits after the reload");
    let mut stranger = env.anonymous().await;
    assert_eq!(
        stranger.join(&jid, "stranger", None).await.err().as_deref(),
        Some("not-authorized"),
        "a join without password was admitted after the reload"
    );
    let mut colleague = env.anonymous().await;
    colleague
        .join(&jid, "colleague", Some(SCHOOL_PASSWORD))
        .await
        .expect("the school password admits after the reload");
    colleague.wait_affiliation(&jid, "colleague", "owner").await;
    d.wait_room(ROOM, "4 people after the reload", |r| r["people"] == 4)
        .await;
    colleague.leave(&jid, "colleague").await;

    // A new daemon knows only what the module tells in its snapshot: the teacher who
    // entered with the school password before the reload is still marked organizer.
    d.kill9();
    let mut d = env.daemon().await;
    // In sync: the snapshot is applied.
    assert_room_now(
        &env,
        ROOM,
        ("active", 3, true),
        "after the reload the module's snapshot did not mark the teacher organizer",
    )
    .await;

    // Leaving last still ends the session and resets the room.
    teacher.leave(&jid, "teacher").await;
    for (c, nick) in [(&mut student, "student"), (&mut late, "late")] {
        let reason = c.wait_removed(&jid, nick).await;
        assert_eq!(reason, raumwart::config::DEFAULT_END_MESSAGE);
    }
    focus.gone().await;
    d.wait_metric(
        "raumwart_sessions_ended_total{reason=\"grace_expired\"}",
        1.0,
    )
    .await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
}

/// A Prosody with the recommended generational collector, the module and its daemon,
/// focus and a teacher with a class in ROOM, and Lua's own collector stopped by
/// tests/prosody/mod_test_gc_probe.lua (loaded globally, `settings` beside it): every
/// collection it logs is one the module asked for.
async fn with_gc_probe(settings: &str) -> (Env, Daemon, Focus, Client) {
    let options = Options {
        prosody_gc: Some(RECOMMENDED_GC.into()),
        ..Options::default()
    };
    let mut env = Env::new(REPO, options);
    let path = env.dir.join("prosody.cfg.lua");
    let cfg = fs::read_to_string(&path).unwrap();
    let global = "modules_enabled = { \"saslauth\"";
    assert!(
        cfg.contains(global),
        "the harness's Prosody config changed:\n{cfg}"
    );
    let probe = format!("{settings}\nmodules_enabled = {{ \"test_gc_probe\", \"saslauth\"");
    fs::write(&path, cfg.replacen(global, &probe, 1)).unwrap();
    env.restart_prosody();
    wait_prosody_log(&env, "raumwart module active: ").await;
    let daemon = env.daemon().await;
    let focus = env.focus(ROOM).await;
    let teacher = teacher_with_class(&env, ROOM, "teacher").await;
    (env, daemon, focus, teacher)
}

const COLLECTION: &str = "test_gc_probe: a collection";

/// A student joins ROOM and leaves, and Prosody has answered.
async fn student_comes_and_goes(s: &mut Client) {
    s.join(&room_jid(ROOM), "student", Some(CLASS_PASSWORD))
        .await
        .unwrap();
    s.leave(&room_jid(ROOM), "student").await;
    s.sync().await;
}

/// The module lets Lua collect when Prosody's loop is idle, so that a reaction (a grace
/// expiry's destroy, an owner taken back) rarely meets a collection, and it lets Lua take
/// a full collection when one is due: with only young ones, old garbage grows without end.
#[tokio::test]
async fn prosody_collects_young_and_old_garbage_when_idle() {
    const FULL: &str = "test_gc_probe: a full collection";
    let (env, _d, _focus, _t) = with_gc_probe("").await;
    // Students come and go until the module's timer (every 50 ms) has collected the young
    // (at 15 % of the heap allocated, a few MB) and, once the probe's old ballast has
    // grown the heap by Lua's major_threshold (50 %), everything.
    let log = env.prosody_log();
    let (young, full) = (log.matches(COLLECTION).count(), log.matches(FULL).count());
    let mut s = env.anonymous().await;
    for round in 0.. {
        student_comes_and_goes(&mut s).await;
        let log = env.prosody_log();
        let (y, f) = (log.matches(COLLECTION).count(), log.matches(FULL).count());
        if y > young && f > full {
            break;
        }
        assert!(
            round < 3000,
            "after 3000 students came and went, Prosody logged {} collections, {} of them \
             full: the module's idle collection {}",
            y - young,
            f - full,
            if y == young {
                "did not run"
            } else {
                "never let Lua take a full collection"
            }
        );
    }
}

/// When a full collection freed too little, Lua waits for the heap to double before the
/// next; the module does not make it collect everything again at each of its steps.
#[tokio::test]
async fn prosody_is_left_alone_after_a_full_collection_that_freed_too_little() {
    const ASIDE: &str = "idle collection waits for Lua's own";
    let (env, _d, _focus, _t) = with_gc_probe("test_gc_probe_grow = true").await;
    let mut s = env.anonymous().await;
    for round in 0.. {
        student_comes_and_goes(&mut s).await;
        if env.prosody_log().contains(ASIDE) {
            break;
        }
        assert!(
            round < 3000,
            "after 3000 students came and went with Prosody's live data growing, the \
             module never saw a full collection free too little"
        );
    }
    // Students keep coming and going, far beyond the module's 15 % of the heap.
    let collections = env.prosody_log().matches(COLLECTION).count();
    for _ in 0..300 {
        student_comes_and_goes(&mut s).await;
    }
    let more = env.prosody_log().matches(COLLECTION).count() - collections;
    assert_eq!(
        more, 0,
        "the module made Lua collect {more} more times while Lua waited for its heap to grow"
    );
}
