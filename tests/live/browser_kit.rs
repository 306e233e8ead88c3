//! The browser kit the console's tests drive (testkit::browser), against a throwaway
//! local server of two pages: headless Chromium through chromedriver, forms, cookies,
//! uploads, downloads, screenshots, and axe-core finding what breaks WCAG 2.1 AA. Needs
//! `chromium`, `chromium-driver` and axe-core (.ci/run installs them); outside CI
//! (`CI=true`) it skips without them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testkit::browser::{self, Browser, AXE_VERSION, PHONE};
use testkit::WAIT;

use crate::REPO;

/// Every page states its language and title and labels its fields. Its CSP forbids
/// inline and foreign scripts, as the console's will: axe must run all the same.
const GOOD: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kit: good page</title></head>
<body>
<main>
<h1>Register</h1>
<form method="post" action="/submit" enctype="multipart/form-data">
<p><label for="name">Name</label> <input id="name" name="name" autocomplete="name"></p>
<p><label for="kind">Kind</label>
<select id="kind" name="kind"><option value="a">Alpha</option><option value="b">Beta</option></select></p>
<p><label for="register">Register</label> <input id="register" name="register" type="file"></p>
<p><button>Send</button></p>
</form>
<p><a href="/download">The list as text</a></p>
</main>
</body>
</html>"#;

/// An image without alternative text and a field without a label.
const BAD: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Kit: bad page</title></head>
<body>
<main>
<h1>Search</h1>
<img src="/logo.png">
<form method="get" action="/"><input name="q"></form>
</main>
</body>
</html>"#;

const RECEIVED: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Kit: received</title></head>
<body><main><h1>Received</h1></main></body>
</html>"#;

const LIST: &str = "Klasse 4b\nJürgen Groß\n";

/// A request the site got: method, path, body.
type Seen = (String, String, Vec<u8>);

/// The throwaway site on a free loopback port; a thread per connection (Chromium opens
/// some it never sends on).
struct Site {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Site {
    fn start() -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(vec![]));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Site { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The bodies of the requests `method path` it got.
    fn bodies(&self, method: &str, path: &str) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(m, p, _)| m == method && p == path)
            .map(|(_, _, body)| String::from_utf8_lossy(body).into_owned())
            .collect()
    }
}

fn serve(mut stream: TcpStream, seen: &Mutex<Vec<Seen>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut raw = vec![];
    let mut buf = [0; 8192];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let mut words = head.split_whitespace();
    let (method, path) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    seen.lock()
        .unwrap()
        .push((method.into(), path.into(), raw[head_end..].to_vec()));
    let page = "Content-Type: text/html; charset=utf-8\r\n\
                Content-Security-Policy: default-src 'self'\r\n";
    let (status, headers, body) = match (method, path) {
        ("GET", "/") => ("200 OK", page.to_owned(), GOOD),
        ("GET", "/bad") => ("200 OK", page.to_owned(), BAD),
        ("GET", "/done") => ("200 OK", page.to_owned(), RECEIVED),
        ("POST", "/submit") => (
            "303 See Other",
            "Location: /done\r\n\
             Set-Cookie: kit_session=s3cr3t; Path=/; HttpOnly; Secure; SameSite=Strict\r\n"
                .to_owned(),
            "",
        ),
        ("GET", "/download") => (
            "200 OK",
            "Content-Type: text/plain; charset=utf-8\r\n\
             Content-Disposition: attachment; filename=\"klasse-4b.txt\"\r\n"
                .to_owned(),
            LIST,
        ),
        _ => ("404 Not Found", String::new(), ""),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

async fn start() -> Browser {
    Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"))
}

/// A file for this test under the temp folder, removed first.
fn scratch(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "raumwart-test-browser-kit-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test]
async fn a_form_is_filled_sent_and_its_cookie_read_back() {
    if !browser::available("browser_kit") {
        return;
    }
    let site = Site::start();
    let b = start().await;
    b.goto(&site.url("/")).await.unwrap();
    assert_eq!(b.title().await.unwrap(), "Kit: good page");
    assert_eq!(b.current_url().await.unwrap(), site.url("/"));
    assert_eq!(b.text("h1").await.unwrap(), "Register");
    assert!(b.source().await.unwrap().contains("<label for=\"kind\">"));
    let missing = b.find("#no-such-field").await.unwrap_err().to_string();
    assert!(
        missing.contains("#no-such-field") && missing.contains(&site.url("/")),
        "the error names the selector and the page: {missing}"
    );

    b.fill("#name", "Jürgen Groß").await.unwrap();
    assert_eq!(b.value("#name").await.unwrap(), "Jürgen Groß");
    b.select("#kind", "Beta").await.unwrap();
    assert_eq!(b.value("#kind").await.unwrap(), "b");
    let unknown = b.select("#kind", "Gamma").await.unwrap_err().to_string();
    assert!(
        unknown.contains("\"Alpha\" (a)"),
        "names the options: {unknown}"
    );
    let upload = scratch("register.csv");
    std::fs::write(&upload, "Nachname;Vorname\nGroß;Jürgen\n").unwrap();
    b.upload("#register", &upload).await.unwrap();
    b.submit("form").await.unwrap();
    std::fs::remove_file(&upload).unwrap();

    assert_eq!(b.title().await.unwrap(), "Kit: received");
    assert_eq!(b.current_url().await.unwrap(), site.url("/done"));
    let sent = site.bodies("POST", "/submit");
    assert_eq!(sent.len(), 1, "one POST /submit: {sent:?}");
    for part in [
        "name=\"name\"\r\n\r\nJürgen Groß\r\n",
        "name=\"kind\"\r\n\r\nb\r\n",
        "filename=\"raumwart-test-browser-kit-",
        "Nachname;Vorname\nGroß;Jürgen\n",
    ] {
        assert!(
            sent[0].contains(part),
            "the form sent {part:?}: {}",
            sent[0]
        );
    }

    let cookie = b.cookie("kit_session").await.unwrap();
    assert_eq!(cookie.value, "s3cr3t");
    assert!(cookie.http_only, "{cookie:?}");
    assert_eq!(cookie.same_site, "Strict", "{cookie:?}");
    // Chromium keeps a Secure cookie from plain HTTP on loopback.
    assert!(cookie.secure, "{cookie:?}");
    assert_eq!(cookie.path, "/");
    assert_eq!(cookie.expiry, None, "a session cookie: {cookie:?}");
    // HttpOnly: the page's scripts do not see it.
    let visible = b.execute("return document.cookie", vec![]).await.unwrap();
    assert_eq!(visible, "");
    let sum = b
        .execute_async(
            "arguments[2](arguments[0] + arguments[1])",
            vec![40.into(), 2.into()],
        )
        .await
        .unwrap();
    assert_eq!(sum, 42);
    b.delete_cookies().await.unwrap();
    assert_eq!(b.cookies().await.unwrap(), vec![]);
}

#[tokio::test]
async fn axe_passes_the_good_page_and_names_what_breaks_the_bad_one() {
    if !browser::available("browser_kit") {
        return;
    }
    // .ci/run installs the version the kit pins.
    let ci = std::fs::read_to_string(Path::new(REPO.root).join(".ci/run")).unwrap();
    assert!(
        ci.contains(&format!("axe-core@{AXE_VERSION}")),
        ".ci/run installs axe-core@{AXE_VERSION}"
    );
    let site = Site::start();
    let b = start().await;
    b.goto(&site.url("/")).await.unwrap();
    b.assert_accessible().await;

    b.goto(&site.url("/bad")).await.unwrap();
    let violations = b.axe().await.unwrap();
    let ids: Vec<&str> = violations.iter().map(|v| v.id.as_str()).collect();
    let report = browser::report(&violations);
    for rule in ["image-alt", "label"] {
        assert!(ids.contains(&rule), "axe names {rule}: {report}");
    }
    assert!(
        report.contains("img") && report.contains("input"),
        "the report names the elements: {report}"
    );
    let shown = std::panic::AssertUnwindSafe(b.assert_accessible());
    let failed = futures::FutureExt::catch_unwind(shown).await;
    assert!(failed.is_err(), "assert_accessible passed the bad page");

    // What the window shows, at the width it was given.
    let png = scratch("page.png");
    b.screenshot(&png).await.unwrap();
    let bytes = std::fs::read(&png).unwrap();
    std::fs::remove_file(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let inner = b
        .execute("return window.innerWidth * window.devicePixelRatio", vec![])
        .await
        .unwrap();
    assert_eq!(inner, width, "the screenshot is the viewport's width");
    assert_eq!(inner, 1280);
}

#[tokio::test]
async fn a_phone_window_a_download_and_no_process_left() {
    if !browser::available("browser_kit") {
        return;
    }
    let site = Site::start();
    let b = Browser::start_phone()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    b.goto(&site.url("/")).await.unwrap();
    let width = b.execute("return window.innerWidth", vec![]).await.unwrap();
    assert_eq!(width, PHONE.0, "the phone's viewport");

    b.click("a[href='/download']").await.unwrap();
    let file = browser::download_wait(&b.downloads(), ".txt")
        .await
        .unwrap();
    assert_eq!(file.file_name().unwrap(), "klasse-4b.txt");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), LIST);

    let (group, profile) = (b.process_group(), b.profile());
    assert!(
        !processes(group, &profile).is_empty(),
        "Chromium runs in chromedriver's group or with its profile"
    );
    drop(b);
    let deadline = Instant::now() + WAIT;
    loop {
        let left = processes(group, &profile);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes left {WAIT:?} after the browser was dropped: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!profile.exists(), "its temp folder is removed");
}

/// The live processes in process group `group` or with `profile` on their command line.
fn processes(group: u32, profile: &Path) -> Vec<String> {
    let profile = profile.to_string_lossy();
    let mut found = vec![];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let dir = entry.path();
        let (Ok(stat), Ok(cmdline)) = (
            std::fs::read_to_string(dir.join("stat")),
            std::fs::read(dir.join("cmdline")),
        ) else {
            continue;
        };
        // After "(comm)": state ppid pgrp ...
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let zombie = fields.first() == Some(&"Z");
        let in_group = fields.get(2) == Some(&group.to_string().as_str());
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !zombie && (in_group || cmdline.contains(&*profile)) {
            found.push(cmdline);
        }
    }
    found
}
