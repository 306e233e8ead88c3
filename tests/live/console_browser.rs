//! The media centres' console as staff use it: Debian's Chromium (headless, through the
//! kit's browser) against a real console, daemon and Prosody. Each step is done through
//! the pages, and what it changed is checked where it counts: in Prosody (a new school's
//! rooms are locked at once, its password makes an organizer, an ended lesson puts the
//! student out), in the register, in the console's store (failed logins) and in the PDF.
//! axe-core checks every page the console has against WCAG 2.1 AA, logged in and out,
//! error and confirmation pages included, and the main ones at phone width.
//!
//! Every page is also saved as a screenshot, into `RAUMWART_SCREENSHOTS` when it names a
//! folder, else into the test's folder (kept when the test fails). README shows eight of
//! them from docs/console/.
//! Outside CI (`CI=true`) the tests skip without Chromium, chromedriver and axe-core.

use std::path::{Path, PathBuf};
use std::process::Command;

use raumwart::console::auth;
use raumwart::console::store::Store;
use testkit::browser::{self, Browser};
use testkit::console::{self, Console, CENTRE_A, CENTRE_B, JITSI_URL, OTHER_SCHOOL};
use testkit::*;

use crate::REPO;

/// The school the walk-through adds through the form.
const NEW: &str = "gs-am-markt";
const NEW_NAME: &str = "Grundschule Am Markt";
/// The register the walk-through imports: two new schools, one that exists, one of the
/// other media centre, a row without a usable id and a school twice.
const REGISTER: &str = "Kennung;Schulname;Ansprechperson\n\
                        gs-lindenweg;Grundschule Lindenweg;Frau Beispiel\n\
                        ms-am-see;Mittelschule Am See;Herr Muster\n\
                        gs-musterstadt;Grundschule Musterstadt;\n\
                        rs-beispiel;Realschule Beispiel;\n\
                        Schule Ohne Kennung;Förderschule;\n\
                        ms-am-see;Mittelschule Am See;\n";
const IMPORTED: [&str; 2] = ["gs-lindenweg", "ms-am-see"];

/// Prosody, the daemon, the console of two media centres with one account (`scope`:
/// `--provider` or `--media-centre ID`), where screenshots go, and the account's
/// password; None where the browser cannot run (outside CI: skipped).
async fn world(
    login: &str,
    scope: &[&str],
) -> Option<(Env, testkit::Daemon, Console, Shots, String)> {
    if !browser::available("console_browser") {
        return None;
    }
    let env = Env::new(REPO, Options::default());
    let port = console::configure(&env);
    let d = env.daemon().await;
    let c = Console::start(&env, port).await;
    let shots = Shots::new(&env);
    let password = c.add_user(login, scope);
    Some((env, d, c, shots, password))
}

/// Where the screenshots go: `RAUMWART_SCREENSHOTS` (relative to the crate), else the
/// test's folder.
struct Shots {
    dir: PathBuf,
}

impl Shots {
    fn new(env: &Env) -> Shots {
        let dir = match std::env::var_os("RAUMWART_SCREENSHOTS").filter(|d| !d.is_empty()) {
            Some(dir) => Path::new(REPO.root).join(dir),
            None => env.dir.join("screenshots"),
        };
        std::fs::create_dir_all(&dir).unwrap();
        Shots { dir }
    }

    async fn take(&self, b: &Browser, name: &str) {
        let path = self.dir.join(format!("{name}.png"));
        b.screenshot(&path)
            .await
            .unwrap_or_else(|e| panic!("screenshot {path:?}: {e:#}"));
    }
}

/// The page as it is now: clean under axe, and saved as `name`.
async fn check(b: &Browser, shots: &Shots, name: &str) {
    b.assert_accessible().await;
    shots.take(b, name).await;
}

async fn desktop() -> Browser {
    Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"))
}

async fn phone() -> Browser {
    Browser::start_phone()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Asserts the page's heading, naming the page otherwise.
async fn heading(b: &Browser, expected: &str) {
    let found = b.text("h1").await.unwrap();
    let url = b.current_url().await.unwrap();
    assert_eq!(found, expected, "the heading of {url}");
}

/// The rendered text of the page's main part.
async fn main_text(b: &Browser) -> String {
    b.text("main").await.unwrap()
}

/// Submits `form` (the kit's `submit`) and waits until the answer has loaded. When the
/// answer replaces the page just as the kit asks after the old one, chromedriver may
/// say so as "does not belong to the document" rather than as a stale element: the
/// page was replaced all the same.
async fn submit(b: &Browser, form: &str) {
    match b.submit(form).await {
        Ok(()) => {}
        Err(e) if format!("{e:#}").contains("does not belong to the document") => {
            let deadline = std::time::Instant::now() + WAIT;
            loop {
                let ready = b.execute("return document.readyState", vec![]).await;
                if matches!(&ready, Ok(state) if state == "complete") {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "after submitting `{form}`: not loaded within {WAIT:?} ({ready:?})"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        Err(e) => panic!("{e:#}"),
    }
}

async fn go(b: &Browser, c: &Console, path: &str) {
    b.goto(&c.url(path)).await.unwrap();
}

/// Logs in through the form; the page after it.
async fn log_in(b: &Browser, c: &Console, login: &str, password: &str) {
    go(b, c, "/anmelden").await;
    b.fill("#login", login).await.unwrap();
    b.fill("#password", password).await.unwrap();
    submit(b, "main form").await;
}

/// Failures the store counts for `key` ("login:NAME", "addr:IP").
fn failures(c: &Console, key: &str) -> u32 {
    Store::open(&c.database)
        .unwrap()
        .failures(key, auth::FORGET_FAILURES)
        .unwrap()
        .0
}

#[tokio::test]
async fn staff_work_through_the_console_in_a_browser_and_every_page_passes_axe() {
    let Some((env, mut d, c, shots, password)) = world("anna", &["--media-centre", CENTRE_A]).await
    else {
        return;
    };
    let b = desktop().await;

    // Logged out, every page leads to the login.
    go(&b, &c, "/schulen").await;
    assert_eq!(b.current_url().await.unwrap(), c.url("/anmelden"));
    heading(&b, "Anmelden").await;
    check(&b, &shots, "anmelden").await;

    // A wrong password: the page says so, and the store counts it for the login and
    // the address.
    log_in(&b, &c, "anna", "Falsches-Passwort-1").await;
    heading(&b, "Anmelden").await;
    let alert = b.text("[role=alert]").await.unwrap();
    assert_eq!(alert, "Anmeldename oder Passwort ist falsch.");
    assert_eq!(b.value("#login").await.unwrap(), "anna", "the login stays");
    assert_eq!(b.value("#password").await.unwrap(), "");
    assert_eq!(failures(&c, "login:anna"), 1);
    assert_eq!(failures(&c, "addr:127.0.0.1"), 1);
    check(&b, &shots, "anmelden-falsch").await;

    log_in(&b, &c, "anna", &password).await;
    assert_eq!(b.current_url().await.unwrap(), c.url("/"));
    heading(&b, "Räume").await;
    assert_eq!(failures(&c, "login:anna"), 0, "a login clears its count");
    let session = b.cookie("raumwart_konsole").await.unwrap();
    assert!(
        session.http_only && session.same_site == "Strict",
        "{session:?}"
    );
    assert!(
        main_text(&b).await.contains("Keiner der 2 Räume"),
        "{}",
        main_text(&b).await
    );
    check(&b, &shots, "raeume-leer").await;

    // A school added through the form: its rooms are protected at once.
    b.click("nav a[href='/schulen']").await.unwrap();
    heading(&b, "Schulen").await;
    let listed = b.texts("tbody tr").await.unwrap();
    assert_eq!(listed.len(), 1, "anna sees her one school: {listed:?}");
    assert!(listed[0].contains(SCHOOL), "{listed:?}");
    check(&b, &shots, "schulen-vorher").await;
    b.fill("#id", NEW).await.unwrap();
    b.fill("#name", NEW_NAME).await.unwrap();
    b.fill("#rooms", "2").await.unwrap();
    submit(&b, "form[action='/schulen']").await;
    heading(&b, "Schule angelegt").await;
    let school_password = b.text(".secret").await.unwrap();
    assert!(school_password.len() >= 12, "{school_password:?}");
    let text = main_text(&b).await;
    for part in [
        NEW_NAME,
        "ab sofort geschützt",
        &format!("{JITSI_URL}{NEW}-1"),
    ] {
        assert!(text.contains(part), "the result names {part:?}: {text}");
    }
    check(&b, &shots, "schule-angelegt").await;

    let room = format!("{NEW}-1");
    let jid = room_jid(&room);
    d.wait_state(&room, "idle").await;
    let _new_focus = env.focus(&room).await;
    let mut guest = env.anonymous().await;
    assert_eq!(
        guest.join(&jid, "Gast", None).await.err().as_deref(),
        Some("not-authorized"),
        "a guest without a password enters the new school's room"
    );
    let _organizer = teacher_with(&env, &room, "Lehrkraft", &school_password).await;
    d.wait_room(&room, "an organizer", |r| r["state"] == "active")
        .await;

    // The same id again: refused on the form, which keeps what was typed.
    go(&b, &c, "/schulen").await;
    b.fill("#id", NEW).await.unwrap();
    b.fill("#name", "Doppelt").await.unwrap();
    submit(&b, "form[action='/schulen']").await;
    heading(&b, "Schule anlegen").await;
    assert_eq!(
        b.text("[role=alert]").await.unwrap(),
        "Eine Schule mit dieser Kennung gibt es schon."
    );
    assert_eq!(b.value("#name").await.unwrap(), "Doppelt");
    check(&b, &shots, "schule-anlegen-fehler").await;

    // A running lesson, ended through the rooms page and its confirmation.
    let _focus = env.focus(ROOM).await;
    let (_teacher, mut student) = lesson(&env, ROOM).await;
    d.wait_room(ROOM, "2 people", |r| r["people"] == 2).await;
    b.click("nav a[href='/']").await.unwrap();
    heading(&b, "Räume").await;
    let rows = b.texts("tbody tr").await.unwrap();
    assert_eq!(rows.len(), 2, "two rooms in use: {rows:?}");
    let row = rows.iter().find(|r| r.contains(ROOM)).unwrap();
    assert!(
        row.contains("Unterricht läuft") && row.contains('2'),
        "{row}"
    );
    let source = b.source().await.unwrap();
    assert!(!source.contains("student") && !source.contains("teacher"));
    check(&b, &shots, "raeume").await;
    b.click(&format!("a[href='/raeume/{ROOM}/beenden']"))
        .await
        .unwrap();
    heading(&b, "Sitzung beenden?").await;
    assert!(main_text(&b).await.contains("sind gerade 2 Personen"));
    check(&b, &shots, "sitzung-beenden").await;
    // The keyboard's focus is shown: Tab from the red button to "Abbrechen".
    let end = b.find("main button").await.unwrap();
    b.send_keys(&end, "\u{E004}").await.unwrap();
    let focused = b
        .execute(
            "const e = document.activeElement; \
             return [e.textContent, getComputedStyle(e).outlineStyle];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focused, serde_json::json!(["Abbrechen", "solid"]));
    shots.take(&b, "fokus").await;
    submit(&b, "main form").await;
    student.wait_removed(&room_jid(ROOM), "student").await;
    heading(&b, "Räume").await;
    assert!(b
        .text("[role=status]")
        .await
        .unwrap()
        .contains(&format!("Die Sitzung im Raum {ROOM} wird beendet")));
    check(&b, &shots, "raeume-beendet").await;

    // The school's page: its letter as PDF and to print.
    go(&b, &c, "/schulen").await;
    b.click(&format!("a[href='/schulen/{NEW}']")).await.unwrap();
    heading(&b, NEW_NAME).await;
    check(&b, &shots, "schule").await;
    b.click(&format!("a[href='/schulen/{NEW}/brief.pdf']"))
        .await
        .unwrap();
    let pdf = browser::download_wait(&b.downloads(), ".pdf")
        .await
        .unwrap();
    assert_eq!(
        pdf.file_name().unwrap().to_string_lossy(),
        format!("zugangsbrief-{NEW}.pdf")
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"), "the download is no PDF");
    if let Some(text) = pdf_text(&pdf) {
        for part in [NEW_NAME, &format!("{JITSI_URL}{NEW}-1")] {
            assert!(text.contains(part), "the PDF names {part:?}: {text}");
        }
    }
    b.click(&format!("a[href='/schulen/{NEW}/brief']"))
        .await
        .unwrap();
    assert_eq!(
        b.current_url().await.unwrap(),
        c.url(&format!("/schulen/{NEW}/brief"))
    );
    let letter = b.text("body").await.unwrap();
    assert!(
        letter.contains(NEW_NAME) && letter.contains(&school_password),
        "{letter}"
    );
    check(&b, &shots, "brief").await;

    // A new password: the confirmation is the page itself, its result shows the password.
    go(&b, &c, &format!("/schulen/{NEW}")).await;
    submit(&b, &format!("form[action='/schulen/{NEW}/neues-passwort']")).await;
    heading(&b, "Neues Schulpasswort").await;
    let rotated = b.text(".secret").await.unwrap();
    assert_ne!(rotated, school_password);
    check(&b, &shots, "neues-passwort").await;

    // The import: upload, preview (nothing changed yet), apply.
    let register = env.dir.join("verzeichnis.csv");
    std::fs::write(&register, REGISTER).unwrap();
    b.click("nav a[href='/import']").await.unwrap();
    heading(&b, "Schulverzeichnis importieren").await;
    check(&b, &shots, "import").await;
    // A column the table does not have: said in German, without the server's files.
    b.upload("#file", &register).await.unwrap();
    b.fill("#id_column", "Schulnummer").await.unwrap();
    submit(&b, "main form").await;
    heading(&b, "Schulverzeichnis importieren").await;
    let alert = b.text("[role=alert]").await.unwrap();
    assert!(
        alert.to_lowercase().contains("keine spalte „schulnummer“"),
        "{alert}"
    );
    let source = b.source().await.unwrap();
    assert!(!source.contains("console-uploads"), "{source}");
    check(&b, &shots, "import-spalte-fehlt").await;
    b.upload("#file", &register).await.unwrap();
    b.fill("#id_column", "Kennung").await.unwrap();
    b.fill("#name_column", "Schulname").await.unwrap();
    b.fill("#rooms", "2").await.unwrap();
    submit(&b, "main form").await;
    heading(&b, "Vorschau des Imports").await;
    let preview = main_text(&b).await;
    for part in [
        "Neu angelegt würden: 2 Schulen",
        "Grundschule Lindenweg",
        "Mittelschule Am See",
        "unverändert: 2",
        "Zeile 6: die Kennung darf nur a–z",
        "Zeile 7: die Kennung ms-am-see steht zweimal in der Tabelle",
    ] {
        assert!(
            preview.contains(part),
            "the preview shows {part:?}: {preview}"
        );
    }
    assert!(!preview.contains("Frau Beispiel"), "{preview}");
    let config = || std::fs::read_to_string(env.daemon_config_path()).unwrap();
    assert!(
        !config().contains(IMPORTED[0]),
        "the preview changed the register"
    );
    check(&b, &shots, "import-vorschau").await;
    let mut carried = vec![];
    for name in [
        "csrf",
        "upload",
        "media_centre",
        "rooms",
        "id_column",
        "name_column",
    ] {
        let field = format!("form[action='/import/anwenden'] input[name={name}]");
        carried.push((name, b.value(&field).await.unwrap()));
    }
    submit(&b, "form[action='/import/anwenden']").await;
    heading(&b, "Import übernommen").await;
    assert!(main_text(&b).await.contains("Neu angelegt: 2 Schulen"));
    for id in IMPORTED {
        assert!(
            config().contains(&format!("id = \"{id}\"")),
            "{id} imported"
        );
    }
    check(&b, &shots, "import-uebernommen").await;
    // The same preview applied again (the browser's back button): its upload is gone.
    resend(&b, "/import/anwenden", &carried).await;
    heading(&b, "Schulverzeichnis importieren").await;
    let alert = b.text("[role=alert]").await.unwrap();
    assert!(alert.contains("abgelaufen"), "{alert}");
    check(&b, &shots, "import-fehler").await;

    // Removing a school: its confirmation, then the list says so.
    go(&b, &c, &format!("/schulen/{}", IMPORTED[1])).await;
    b.click(&format!("a[href='/schulen/{}/entfernen']", IMPORTED[1]))
        .await
        .unwrap();
    heading(&b, "Schule entfernen?").await;
    check(&b, &shots, "schule-entfernen").await;
    submit(&b, "main form").await;
    heading(&b, "Schulen").await;
    assert!(b.text("[role=status]").await.unwrap().contains(IMPORTED[1]));
    check(&b, &shots, "schulen").await;

    // The audit log lists every change.
    b.click("nav a[href='/protokoll']").await.unwrap();
    heading(&b, "Protokoll").await;
    let log = b.texts("tbody tr").await.unwrap();
    let actions: Vec<(&str, &str)> = [
        ("Schule entfernt", IMPORTED[1]),
        ("Schule importiert", IMPORTED[0]),
        ("Schule importiert", IMPORTED[1]),
        ("Schulpasswort erneuert", NEW),
        ("Sitzung beendet", ROOM),
        ("Schule angelegt", NEW),
        ("Angemeldet", ""),
    ]
    .into();
    for (action, target) in &actions {
        assert!(
            log.iter()
                .any(|row| row.contains("anna") && row.contains(action) && row.contains(target)),
            "the audit log lists {action} {target}: {log:#?}"
        );
    }
    assert!(!b.source().await.unwrap().contains(&rotated));
    check(&b, &shots, "protokoll").await;

    // Another media centre's school, typed into the address: not found, nothing shown.
    for path in [
        format!("/schulen/{OTHER_SCHOOL}"),
        format!("/schulen/{OTHER_SCHOOL}/entfernen"),
        format!("/raeume/{OTHER_SCHOOL_ROOM}/beenden"),
    ] {
        go(&b, &c, &path).await;
        heading(&b, "Nicht gefunden").await;
        let source = b.source().await.unwrap();
        assert!(!source.contains("Realschule Beispiel"), "{path}: {source}");
    }
    check(&b, &shots, "nicht-gefunden").await;
    go(&b, &c, "/gibt-es-nicht").await;
    heading(&b, "Nicht gefunden").await;

    // A change with a token that is not the session's: refused.
    go(&b, &c, &format!("/schulen/{NEW}")).await;
    let form = format!("form[action='/schulen/{NEW}/neues-passwort']");
    b.execute(
        &format!("document.querySelector(\"{form} input[name=csrf]\").value = 'x'"),
        vec![],
    )
    .await
    .unwrap();
    submit(&b, &form).await;
    heading(&b, "Nicht erlaubt").await;
    check(&b, &shots, "nicht-erlaubt").await;

    // The register unreadable: a page that says so without details.
    let good = config();
    std::fs::write(env.daemon_config_path(), format!("{good}\n[kaputt\n")).unwrap();
    go(&b, &c, "/schulen").await;
    heading(&b, "Fehler").await;
    check(&b, &shots, "fehler").await;
    std::fs::write(env.daemon_config_path(), good).unwrap();

    // The daemon stopped: the rooms page says so, the rooms stay protected.
    d.terminate();
    go(&b, &c, "/").await;
    assert!(b
        .text("[role=alert]")
        .await
        .unwrap()
        .contains("nicht erreichbar"));
    check(&b, &shots, "raeume-ohne-raumwart").await;

    // Logout: back to the login, and the session is gone.
    go(&b, &c, "/protokoll").await;
    submit(&b, "form.logout").await;
    assert_eq!(b.current_url().await.unwrap(), c.url("/anmelden"));
    assert!(b.cookie("raumwart_konsole").await.is_err());
    go(&b, &c, "/protokoll").await;
    assert_eq!(b.current_url().await.unwrap(), c.url("/anmelden"));
    go(&b, &c, "/gibt-es-nicht").await;
    heading(&b, "Nicht gefunden").await;
    check(&b, &shots, "nicht-gefunden-abgemeldet").await;

    // Too many failures from one address: the page says how long to wait.
    let mut throttled = false;
    for n in 0..=auth::FREE_FAILURES + 2 {
        log_in(&b, &c, "anna", &format!("Falsch-{n}")).await;
        if b.text("[role=alert]").await.unwrap().contains("Zu viele") {
            throttled = true;
            break;
        }
    }
    assert!(
        throttled,
        "no wait after {} failures",
        auth::FREE_FAILURES + 3
    );
    check(&b, &shots, "anmelden-gesperrt").await;
}

/// Posts `fields` to `action` from the current page, as a form the page once had.
async fn resend(b: &Browser, action: &str, fields: &[(&str, String)]) {
    let fields: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone().into()))
        .collect();
    let script = "const f = document.createElement('form');
        f.id = 'nochmal'; f.method = 'post'; f.action = arguments[0];
        for (const [name, value] of Object.entries(arguments[1])) {
            const i = document.createElement('input');
            i.type = 'hidden'; i.name = name; i.value = value; f.appendChild(i);
        }
        const b = document.createElement('button'); b.textContent = 'nochmal';
        f.appendChild(b); document.querySelector('main').appendChild(f);";
    b.execute(script, vec![action.into(), fields.into()])
        .await
        .unwrap();
    submit(b, "#nochmal").await;
}

/// The PDF's text through pdftotext (poppler-utils); outside CI skipped without it.
fn pdf_text(pdf: &Path) -> Option<String> {
    match Command::new("pdftotext").arg(pdf).arg("-").output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "pdftotext failed on {}",
                pdf.display()
            );
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("SKIPPED: the PDF's text: pdftotext: {e} (apt-get install poppler-utils)");
            None
        }
        Err(e) => panic!("pdftotext: {e} (apt-get install poppler-utils)"),
    }
}

#[tokio::test]
async fn the_main_pages_pass_axe_on_a_phone_and_the_provider_chooses_the_media_centre() {
    let Some((env, mut d, c, shots, password)) = world("betreiber", &["--provider"]).await else {
        return;
    };
    let b = phone().await;
    go(&b, &c, "/anmelden").await;
    let width = b.execute("return window.innerWidth", vec![]).await.unwrap();
    assert_eq!(
        width,
        browser::PHONE.0,
        "the page is laid out for the phone"
    );
    check(&b, &shots, "telefon-anmelden").await;
    log_in(&b, &c, "betreiber", &password).await;
    heading(&b, "Räume").await;

    // The provider sees both media centres' rooms.
    let _focus = env.focus(OTHER_SCHOOL_ROOM).await;
    let _teacher = teacher_with(&env, OTHER_SCHOOL_ROOM, "teacher", OTHER_SCHOOL_PASSWORD).await;
    d.wait_state(OTHER_SCHOOL_ROOM, "active").await;
    go(&b, &c, "/").await;
    let rows = b.texts("tbody tr").await.unwrap();
    assert!(
        rows.iter().any(|r| r.contains(OTHER_SCHOOL_ROOM)),
        "{rows:?}"
    );
    assert_fits(&b).await;
    check(&b, &shots, "telefon-raeume").await;
    b.click(&format!("a[href='/raeume/{OTHER_SCHOOL_ROOM}/beenden']"))
        .await
        .unwrap();
    assert_fits(&b).await;
    check(&b, &shots, "telefon-sitzung-beenden").await;

    // A school for the other media centre, chosen in the form.
    go(&b, &c, "/schulen").await;
    let listed = b.texts("tbody tr").await.unwrap();
    assert_eq!(listed.len(), 2, "both media centres' schools: {listed:?}");
    assert_fits(&b).await;
    check(&b, &shots, "telefon-schulen").await;
    b.fill("#id", "gs-nachbar").await.unwrap();
    b.fill("#name", "Grundschule Nachbarstadt").await.unwrap();
    b.select("#media_centre", "Stadtmedienzentrum Nachbarstadt")
        .await
        .unwrap();
    submit(&b, "form[action='/schulen']").await;
    heading(&b, "Schule angelegt").await;
    assert_fits(&b).await;
    check(&b, &shots, "telefon-schule-angelegt").await;
    let config = std::fs::read_to_string(env.daemon_config_path()).unwrap();
    let block = config
        .split("[[school]]")
        .find(|b| b.contains("gs-nachbar"))
        .unwrap();
    assert!(
        block.contains(&format!("media_centre = \"{CENTRE_B}\"")),
        "{block}"
    );

    for (path, name) in [
        ("/schulen/gs-nachbar", "telefon-schule"),
        ("/schulen/gs-nachbar/entfernen", "telefon-schule-entfernen"),
        ("/import", "telefon-import"),
        ("/protokoll", "telefon-protokoll"),
    ] {
        go(&b, &c, path).await;
        assert_fits(&b).await;
        check(&b, &shots, name).await;
    }
    let log = b.texts("tbody tr").await.unwrap();
    assert!(
        log.iter()
            .any(|r| r.contains("Schule angelegt") && r.contains(CENTRE_B)),
        "{log:?}"
    );
}

/// Nothing on the page is wider than the phone's screen (tables scroll in their box).
async fn assert_fits(b: &Browser) {
    let wide = b
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    let url = b.current_url().await.unwrap();
    assert!(
        wide.as_i64().unwrap_or(1) <= 0,
        "{url} is {wide} px wider than the phone"
    );
}
