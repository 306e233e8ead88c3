//! The media centres' console, attacked with requests crafted by hand against a real
//! console, daemon and Prosody: another media centre's schools stay unseen and
//! unchanged, a change without the session's token or from another origin is refused,
//! failed logins are counted and slowed down, sessions end when idle; a session ended
//! from the console puts the students out.

use std::time::Duration;

use raumwart::console::store::Store;
use testkit::console::{self, Agent, Console, CENTRE_A, OTHER_SCHOOL};
use testkit::*;

use crate::REPO;

/// Prosody, the daemon and the console of two media centres, with one account of A.
async fn world() -> (Env, testkit::Daemon, Console, Agent) {
    let env = Env::new(REPO, Options::default());
    let port = console::configure(&env);
    let d = env.daemon().await;
    let c = Console::start(&env, port).await;
    let password = c.add_user("anna", &["--media-centre", CENTRE_A]);
    let anna = c.login("anna", &password).await;
    (env, d, c, anna)
}

fn with(agent: &Agent) -> [(&'static str, &str); 1] {
    [("cookie", agent.cookie.as_str())]
}

fn config_text(env: &Env) -> String {
    std::fs::read_to_string(env.daemon_config_path()).unwrap()
}

#[tokio::test]
async fn another_media_centres_schools_are_neither_seen_nor_changed_by_crafted_requests() {
    let (env, _d, c, anna) = world().await;
    let h = with(&anna);
    let other_password = std::fs::read_to_string(env.dir.join("schools/rs.pw")).unwrap();
    let before = config_text(&env);

    let list = c.get("/schulen", &h).await.unwrap();
    assert_eq!(list.status, 200);
    assert!(list.body.contains(SCHOOL), "{}", list.body);
    assert!(!list.body.contains(OTHER_SCHOOL), "{}", list.body);

    for path in [
        format!("/schulen/{OTHER_SCHOOL}"),
        format!("/schulen/{OTHER_SCHOOL}/brief"),
        format!("/schulen/{OTHER_SCHOOL}/brief.pdf"),
        format!("/schulen/{OTHER_SCHOOL}/entfernen"),
        format!("/raeume/{OTHER_SCHOOL_ROOM}/beenden"),
    ] {
        let r = c.get(&path, &h).await.unwrap();
        assert_eq!(r.status, 404, "GET {path} as another media centre");
        assert!(
            !r.body.contains(other_password.trim()),
            "{path} showed the password"
        );
    }
    let token = [("csrf", anna.csrf.as_str())];
    for path in [
        format!("/schulen/{OTHER_SCHOOL}/neues-passwort"),
        format!("/schulen/{OTHER_SCHOOL}/entfernen"),
        format!("/raeume/{OTHER_SCHOOL_ROOM}/beenden"),
    ] {
        let r = c.post(&path, &h, &token).await.unwrap();
        assert_eq!(r.status, 404, "POST {path} as another media centre");
    }
    // A school added with the other media centre's id in the form is A's.
    let r = c
        .post(
            "/schulen",
            &h,
            &[
                ("csrf", &anna.csrf),
                ("id", "gs-untergeschoben"),
                ("name", "Untergeschoben"),
                ("rooms", "1"),
                ("media_centre", console::CENTRE_B),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let after = config_text(&env);
    let block = after
        .split("[[school]]")
        .find(|b| b.contains("gs-untergeschoben"))
        .unwrap();
    assert!(
        block.contains(&format!("media_centre = \"{CENTRE_A}\"")),
        "{block}"
    );
    assert_eq!(
        std::fs::read_to_string(env.dir.join("schools/rs.pw")).unwrap(),
        other_password,
        "the other school's password changed"
    );
    assert!(after.contains(&format!("id = \"{OTHER_SCHOOL}\"")));
    assert_ne!(before, after);

    // The audit log shows A's change, and B's account sees none of it.
    let log = c.get("/protokoll", &h).await.unwrap();
    assert!(log.body.contains("gs-untergeschoben"), "{}", log.body);
    let bert_password = c.add_user("bert", &["--media-centre", console::CENTRE_B]);
    let bert = c.login("bert", &bert_password).await;
    let log = c.get("/protokoll", &with(&bert)).await.unwrap();
    assert!(!log.body.contains("gs-untergeschoben"), "{}", log.body);
    assert!(!log.body.contains("anna"), "{}", log.body);
}

#[tokio::test]
async fn changes_without_the_sessions_token_or_from_another_origin_are_refused() {
    let (env, _d, c, anna) = world().await;
    let h = with(&anna);
    let before = config_text(&env);
    fn form(csrf: &str) -> Vec<(&str, &str)> {
        vec![
            ("csrf", csrf),
            ("id", "gs-csrf"),
            ("name", "CSRF"),
            ("rooms", "1"),
        ]
    }
    let r = c.post("/schulen", &h, &form("")).await.unwrap();
    assert_eq!(r.status, 403, "no token");
    let r = c
        .post("/schulen", &h, &form(&"0".repeat(64)))
        .await
        .unwrap();
    assert_eq!(r.status, 403, "another token");
    let good = form(&anna.csrf);
    let foreign = [
        ("cookie", anna.cookie.as_str()),
        ("origin", "https://evil.example"),
    ];
    let r = c.post("/schulen", &foreign, &good).await.unwrap();
    assert_eq!(r.status, 403, "another origin");
    // Without the session, the token alone does nothing.
    let r = c.post("/schulen", &[], &good).await.unwrap();
    assert_eq!(r.status, 303, "no session");
    assert_eq!(
        config_text(&env),
        before,
        "a refused request changed the register"
    );
    // The login form, too, takes no post without its own cookie.
    let r = c
        .post(
            "/anmelden",
            &[],
            &[("login", "anna"), ("password", "x"), ("csrf", "y")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403);

    let r = c.post("/schulen", &h, &good).await.unwrap();
    assert_eq!(
        r.status, 200,
        "the same change with token and session: {}",
        r.body
    );
    assert!(config_text(&env).contains("gs-csrf"));
}

#[tokio::test]
async fn wrong_passwords_are_counted_and_slowed_down_per_login_and_per_address() {
    let env = Env::new(REPO, Options::default());
    let port = console::configure(&env);
    let c = Console::start(&env, port).await;
    let password = c.add_user("anna", &["--media-centre", CENTRE_A]);
    let attempt = |login: &'static str, password: String, from: &'static str| {
        let c = &c;
        async move {
            let form = c.get("/anmelden", &[]).await.unwrap();
            let cookie = format!(
                "raumwart_anmeldung={}",
                form.cookie("raumwart_anmeldung").unwrap()
            );
            let csrf = form.field("csrf").unwrap();
            c.post(
                "/anmelden",
                &[("cookie", &cookie), ("x-real-ip", from)],
                &[("login", login), ("password", &password), ("csrf", &csrf)],
            )
            .await
            .unwrap()
        }
    };
    for n in 0..raumwart::console::auth::FREE_FAILURES {
        let r = attempt("anna", format!("falsch-{n}"), "203.0.113.1").await;
        assert_eq!(r.status, 401, "failure {n} is answered as wrong");
        assert!(r.body.contains("falsch"), "{}", r.body);
    }
    // Past the free failures, even the right password waits.
    let r = attempt("anna", password.clone(), "203.0.113.2").await;
    assert_eq!(r.status, 429, "the login is slowed down from any address");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "retry-after {wait}");
    // The address is slowed down for other logins too.
    let r = attempt("niemand", "x".into(), "203.0.113.1").await;
    assert_eq!(r.status, 429, "the address is slowed down");
    // After the wait, the right password gets in from a fresh address.
    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(1100)).await;
    let r = attempt("anna", password, "203.0.113.3").await;
    assert_eq!(r.status, 303, "after the wait: {}", r.body);
}

#[tokio::test]
async fn sessions_end_when_idle_and_cookies_are_strict() {
    let (_env, _d, c, anna) = world().await;
    let h = with(&anna);
    assert_eq!(c.get("/", &h).await.unwrap().status, 200);
    // The cookie as set behind TLS.
    let form = c
        .get("/anmelden", &[("x-forwarded-proto", "https")])
        .await
        .unwrap();
    let set = form.set_cookies().join("\n");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Secure"),
        "{set}"
    );
    // Thirty idle minutes (the config's default) later, as the store sees it.
    Store::open(&c.database)
        .unwrap()
        .age_sessions(Duration::from_secs(30 * 60 + 1))
        .unwrap();
    let r = c.get("/", &h).await.unwrap();
    assert_eq!(r.status, 303, "an idle session is over");
    assert_eq!(r.header("location"), Some("/anmelden"));
}

#[tokio::test]
async fn a_session_ended_in_the_console_puts_the_students_out_and_is_audited() {
    let (env, mut d, c, anna) = world().await;
    let h = with(&anna);
    let _focus = env.focus(ROOM).await;
    let (_teacher, mut student) = lesson(&env, ROOM).await;
    d.wait_room(ROOM, "2 people", |r| r["people"] == 2).await;

    let rooms = c.get("/", &h).await.unwrap();
    assert!(rooms.body.contains(ROOM), "{}", rooms.body);
    assert!(!rooms.body.contains("student") && !rooms.body.contains("teacher"));
    let confirm = c.get(&format!("/raeume/{ROOM}/beenden"), &h).await.unwrap();
    assert_eq!(confirm.status, 200);
    let r = c
        .post(
            &format!("/raeume/{ROOM}/beenden"),
            &h,
            &[("csrf", &anna.csrf)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 303, "{}", r.body);
    student.wait_removed(&room_jid(ROOM), "student").await;
    d.wait_metric("raumwart_sessions_ended_total{reason=\"forced\"}", 1.0)
        .await;
    let log = c.get("/protokoll", &h).await.unwrap();
    assert!(
        log.body.contains("Sitzung beendet") && log.body.contains(ROOM),
        "{}",
        log.body
    );
}
