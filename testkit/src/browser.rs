//! A real browser for the console's tests: Debian's Chromium, headless, driven through
//! chromedriver by a small WebDriver client of our own (the W3C protocol: JSON over
//! HTTP/1.1), and axe-core checking the page against WCAG 2.1 AA (`Browser::axe`).
//!
//! Needs `chromium`, `chromium-driver` and axe-core `AXE_VERSION` from npm (`.ci/run`
//! installs all three; `axe_path` says where axe is looked for). A test calls
//! `available` first: outside CI it skips without them, with `CI=true` it fails.
//!
//! Every wait is bounded (`WAIT`, or `COMMAND` for one command) and its error names what
//! was looked for on which page. Dropping the `Browser` ends its session and kills
//! chromedriver with whatever Chromium left behind, and removes its temp folder.

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::WAIT;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The axe-core release the checks run; `.ci/run` installs the same (the kit's self-test
/// compares them).
pub const AXE_VERSION: &str = "4.10.3";
/// The rules the console is held to: WCAG 2.1 AA with the 2.0 and level A rules it
/// includes.
pub const WCAG_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
/// How the tests run Chromium: headless, without a sandbox (root in CI, containers), and
/// without the background traffic (updates, sync, QUIC) that a test has no use for.
pub const HEADLESS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // Containers give /dev/shm 64 MB, too little for Chromium's renderers.
    "--disable-dev-shm-usage",
];
/// The window of a staff member's desktop (width, height in CSS pixels).
pub const DESKTOP: (u32, u32) = (1280, 900);
/// A phone's viewport (an iPhone 12-15's), for the console's narrow layout.
pub const PHONE: (u32, u32) = (390, 844);

/// The longest one WebDriver command may take: a page load or axe on a long page take
/// seconds on a busy 2-core machine; chromedriver's own limits (30 s) end them first.
const COMMAND: Duration = Duration::from_secs(60);
/// Between polls: each one is a round trip through chromedriver into Chromium.
const POLL: Duration = Duration::from_millis(50);
/// The W3C key of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether the browser tests can run here (Chromium, chromedriver, axe-core). Without
/// them: outside CI prints `SKIPPED: ...` and returns false, with `CI=true` panics with
/// what to install.
pub fn available(test: &str) -> bool {
    available_with(test, axe_path().map(drop))
}

/// Like [`available`], with what else the test needs from npm (`Ok`, or why not).
pub fn available_with(test: &str, npm: Result<()>) -> bool {
    let mut missing = vec![];
    for (binary, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        if !Path::new(binary).is_file() {
            missing.push(format!("{binary} (apt-get install {package})"));
        }
    }
    if let Err(e) = npm {
        missing.push(format!("{e:#}"));
    }
    if missing.is_empty() {
        return true;
    }
    let message = format!("{test} cannot run: {}", missing.join("; "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    false
}

/// `name/` in the cargo target folder above the running test binary, where `.ci/run`
/// installs npm packages: the folder that holds `name/node_modules`, else the one cargo
/// marked with CACHEDIR.TAG (not when npm made the folder first). `hint` says how to
/// name it instead.
pub fn npm_folder(name: &str, hint: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("the test binary's path")?;
    let target = exe
        .ancestors()
        .find(|dir| dir.join(name).join("node_modules").is_dir())
        .or_else(|| {
            exe.ancestors()
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        })
        .ok_or_else(|| {
            anyhow!(
                "{name}: no cargo target folder above {}; {hint}",
                exe.display()
            )
        })?;
    Ok(target.join(name))
}

/// That npm installed `package` at `pinned` into `folder`; else what to run (`install`).
pub fn npm_pinned(folder: &Path, package: &str, pinned: &str, install: &str) -> Result<()> {
    let manifest = folder
        .join("node_modules")
        .join(package)
        .join("package.json");
    let found = fs::read_to_string(&manifest)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|json| json["version"].as_str().map(str::to_owned));
    match found {
        None => bail!("{package} is not in {}: {install}", folder.display()),
        Some(version) if version != pinned => bail!(
            "{package} {version} in {}, the kit pins {pinned}: {install}",
            folder.display()
        ),
        Some(_) => Ok(()),
    }
}

/// Where axe-core's `axe.min.js` is: `RAUMWART_AXE`, else `axe/` in the cargo target
/// folder (the one above the running test binary), where `.ci/run` installs
/// `AXE_VERSION` with npm.
pub fn axe_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("RAUMWART_AXE").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        ensure!(
            path.is_file(),
            "RAUMWART_AXE={}: no such file (it names axe-core's axe.min.js)",
            path.display()
        );
        return Ok(path);
    }
    let folder = npm_folder("axe", "set RAUMWART_AXE to axe.min.js")?;
    let install = format!(
        "run `npm install --no-save --prefix {} axe-core@{AXE_VERSION}` (.ci/run does), \
         or set RAUMWART_AXE to an axe.min.js",
        folder.display()
    );
    npm_pinned(&folder, "axe-core", AXE_VERSION, &install)?;
    Ok(folder.join("node_modules/axe-core/axe.min.js"))
}

/// An element of the current page, as WebDriver refers to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element(pub String);

/// A cookie as the browser holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub path: String,
    pub domain: String,
    pub http_only: bool,
    pub secure: bool,
    /// "Strict", "Lax" or "None".
    pub same_site: String,
    /// Seconds since the epoch; None for a session cookie.
    pub expiry: Option<u64>,
}

/// One rule axe-core found broken, with the elements that break it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule, e.g. `image-alt`, `label`, `color-contrast`.
    pub id: String,
    /// minor, moderate, serious or critical.
    pub impact: String,
    pub help: String,
    pub help_url: String,
    pub nodes: Vec<Node>,
}

/// An element that breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The element's CSS selector (frames and shadow roots joined by ` >>> `).
    pub target: String,
    /// The element's opening tag.
    pub html: String,
    /// axe's "Fix any of the following: ...".
    pub summary: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {} <{}>",
            self.id, self.impact, self.help, self.help_url
        )?;
        for node in &self.nodes {
            write!(f, "\n    at {}  {}", node.target, node.html)?;
            for line in node.summary.lines().filter(|l| !l.trim().is_empty()) {
                write!(f, "\n        {}", line.trim())?;
            }
        }
        Ok(())
    }
}

/// The violations one per paragraph, for an assertion's message.
pub fn report(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Headless Chromium with its own chromedriver, profile and download folder.
pub struct Browser {
    port: u16,
    /// Empty until the session is open.
    session: String,
    driver: Child,
    /// profile/, downloads/, chromedriver.log
    dir: PathBuf,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Clone, Copy)]
enum Look {
    Desktop((u32, u32)),
    Phone,
}

impl Browser {
    /// A desktop window (`DESKTOP`).
    pub async fn start() -> Result<Browser> {
        Self::launch(Look::Desktop(DESKTOP)).await
    }

    /// A window of `(width, height)`; Chromium makes it at least 500 wide.
    pub async fn start_sized(size: (u32, u32)) -> Result<Browser> {
        Self::launch(Look::Desktop(size)).await
    }

    /// A phone (`PHONE`), emulated as Chromium's device mode does: a mobile, touch
    /// viewport at 3 device pixels per CSS pixel, which lays a page without
    /// `<meta name="viewport" content="width=device-width">` out 980 wide, as phones do.
    pub async fn start_phone() -> Result<Browser> {
        Self::launch(Look::Phone).await
    }

    /// Starts chromedriver on a free loopback port, waits until it is ready and opens a
    /// session with headless Chromium.
    async fn launch(look: Look) -> Result<Browser> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("raumwart-test-browser-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("downloads"))
            .with_context(|| format!("creating {}", dir.display()))?;
        let log = fs::File::create(dir.join("chromedriver.log"))?;
        let port = crate::free_port();
        // chromedriver and Chromium in a process group of their own, under a shell that
        // kills the group once its stdin closes: when Drop closes it, or when the test
        // process dies without dropping (a timeout's SIGKILL, Ctrl-C), which would
        // leave Chromium running: it does not end with chromedriver.
        let driver = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" --port="$1" </dev/null & read -r _; kill -KILL 0"#)
            .arg(CHROMEDRIVER)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {CHROMEDRIVER}"))?;
        // From here on Drop cleans up whatever fails.
        let mut browser = Browser {
            port,
            session: String::new(),
            driver,
            dir,
        };
        browser.wait_ready().await?;
        browser.session = browser.open_session(look).await?;
        Ok(browser)
    }

    async fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            let last = request(self.port, Method::GET, "/status", None).await;
            if matches!(&last, Ok(value) if value["ready"] == true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "chromedriver on port {} not ready within {WAIT:?} (last /status: {last:?}); its log:\n{}",
                    self.port,
                    self.log()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn open_session(&self, look: Look) -> Result<String> {
        let mut args: Vec<String> = HEADLESS.map(String::from).into();
        args.push(format!("--user-data-dir={}", self.profile().display()));
        let mut chrome = json!({
            "binary": CHROMIUM,
            // chromedriver applies these to headless Chromium too: files land in
            // downloads/ without a dialog.
            "prefs": {
                "download.default_directory": self.downloads(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
            },
        });
        match look {
            Look::Desktop((width, height)) => args.push(format!("--window-size={width},{height}")),
            Look::Phone => {
                let (width, height) = PHONE;
                chrome["mobileEmulation"] = json!({"deviceMetrics": {
                    "width": width, "height": height, "pixelRatio": 3.0, "mobile": true, "touch": true,
                }});
            }
        }
        chrome["args"] = json!(args);
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": 30_000, "script": 30_000, "implicit": 0},
            "goog:chromeOptions": chrome,
        }}});
        let value = request(self.port, Method::POST, "/session", Some(capabilities))
            .await
            .with_context(|| {
                format!(
                    "opening a Chromium session; chromedriver's log:\n{}",
                    self.log()
                )
            })?;
        value["sessionId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("new session without a sessionId: {value}"))
    }

    fn log(&self) -> String {
        let text = fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Chromium's profile folder (`--user-data-dir`).
    pub fn profile(&self) -> PathBuf {
        self.dir.join("profile")
    }

    /// Where Chromium saves downloads (see `download_wait`).
    pub fn downloads(&self) -> PathBuf {
        self.dir.join("downloads")
    }

    /// The process group of chromedriver and Chromium.
    pub fn process_group(&self) -> u32 {
        self.driver.id()
    }

    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let path = format!("/session/{}{path}", self.session);
        request(self.port, method, &path, body).await
    }

    async fn get(&self, path: &str) -> Result<Value> {
        self.command(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.command(Method::POST, path, Some(body)).await
    }

    /// Where the browser is, for error messages (never fails).
    async fn here(&self) -> String {
        self.current_url()
            .await
            .unwrap_or_else(|e| format!("(no url: {e})"))
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url }))
            .await
            .with_context(|| format!("going to {url}"))?;
        Ok(())
    }

    pub async fn current_url(&self) -> Result<String> {
        string(self.get("/url").await?)
    }

    pub async fn title(&self) -> Result<String> {
        string(self.get("/title").await?)
    }

    /// The page's HTML as the browser now holds it.
    pub async fn source(&self) -> Result<String> {
        string(self.get("/source").await?)
    }

    /// Resizes the window (at least 500 wide; a phone is `start_phone`).
    pub async fn set_window(&self, (width, height): (u32, u32)) -> Result<()> {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await
            .with_context(|| format!("setting the window to {width}x{height}"))?;
        Ok(())
    }

    /// The first element `css` matches, now.
    pub async fn find(&self, css: &str) -> Result<Element> {
        match self.post("/element", by_css(css)).await {
            Ok(value) => element(&value),
            Err(e) if driver_error(&e) == Some("no such element") => {
                bail!("no element matches `{css}` on {}", self.here().await)
            }
            Err(e) => Err(e.context(format!("finding `{css}`"))),
        }
    }

    /// Every element `css` matches, in document order (none is no error).
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let value = self
            .post("/elements", by_css(css))
            .await
            .with_context(|| format!("finding all `{css}`"))?;
        value
            .as_array()
            .ok_or_else(|| anyhow!("elements `{css}`: not a list: {value}"))?
            .iter()
            .map(element)
            .collect()
    }

    /// Polls for `css` until it matches, up to WAIT.
    pub async fn wait_for(&self, css: &str) -> Result<Element> {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.find(css).await {
                Ok(found) => return Ok(found),
                Err(e) if Instant::now() > deadline => {
                    return Err(e.context(format!("waited {WAIT:?} for `{css}`")));
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// The element's rendered text (what a reader sees, whitespace collapsed).
    pub async fn element_text(&self, element: &Element) -> Result<String> {
        string(self.get(&format!("/element/{}/text", element.0)).await?)
    }

    /// A DOM property of the element (`value`, `checked`, `selected`, ...).
    pub async fn property(&self, element: &Element, name: &str) -> Result<Value> {
        self.get(&format!("/element/{}/property/{name}", element.0))
            .await
    }

    pub async fn element_click(&self, element: &Element) -> Result<()> {
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .await?;
        Ok(())
    }

    /// Types `text` into the element, as keys.
    pub async fn send_keys(&self, element: &Element, text: &str) -> Result<()> {
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await?;
        Ok(())
    }

    /// The text of the first element `css` matches.
    pub async fn text(&self, css: &str) -> Result<String> {
        let found = self.find(css).await?;
        self.element_text(&found)
            .await
            .with_context(|| format!("text of `{css}`"))
    }

    /// The texts of every element `css` matches (a table's cells, a list's items).
    pub async fn texts(&self, css: &str) -> Result<Vec<String>> {
        let mut texts = vec![];
        for found in self.find_all(css).await? {
            texts.push(self.element_text(&found).await?);
        }
        Ok(texts)
    }

    /// The current value of the form field `css`.
    pub async fn value(&self, css: &str) -> Result<String> {
        let found = self.find(css).await?;
        string(self.property(&found, "value").await?).with_context(|| format!("value of `{css}`"))
    }

    /// Empties the field `css` and types `value` into it.
    pub async fn fill(&self, css: &str, value: &str) -> Result<()> {
        let found = self.find(css).await?;
        self.post(&format!("/element/{}/clear", found.0), json!({}))
            .await
            .with_context(|| format!("clearing `{css}`"))?;
        self.send_keys(&found, value)
            .await
            .with_context(|| format!("typing into `{css}`"))
    }

    /// Clicks the first element `css` matches. A click that loads a page returns once
    /// it has loaded; for a form, `submit` also waits until the old page is gone.
    pub async fn click(&self, css: &str) -> Result<()> {
        let found = self.find(css).await?;
        self.element_click(&found)
            .await
            .with_context(|| format!("clicking `{css}`"))
    }

    /// Submits the form `form` with its (first) submit button, as a person does, and
    /// waits up to WAIT until the answer has replaced the page. A form that does not
    /// navigate (a field's constraint stops it, or the answer is a download) fails here:
    /// click its button with `click` instead.
    pub async fn submit(&self, form: &str) -> Result<()> {
        let button = format!(
            "{form} button:not([type]), {form} button[type=submit], {form} input[type=submit]"
        );
        let page = self.find("html").await?;
        self.click(&button).await?;
        let deadline = Instant::now() + WAIT;
        loop {
            // The old page's root goes stale once the answer has replaced it.
            match self.get(&format!("/element/{}/name", page.0)).await {
                // chromedriver says either, depending on when it looks.
                Err(e) if driver_error(&e) == Some("stale element reference") => break,
                Err(e) if format!("{e:#}").contains("does not belong to the document") => break,
                Err(e) => return Err(e.context(format!("submitting `{form}`"))),
                Ok(_) if Instant::now() > deadline => bail!(
                    "submitting `{form}`: the page {} was not replaced within {WAIT:?} \
                     (a field's constraint may stop the form: a required field left empty?)",
                    self.here().await
                ),
                Ok(_) => tokio::time::sleep(POLL).await,
            }
        }
        let ready = self.execute("return document.readyState", vec![]).await?;
        ensure!(
            ready == "complete",
            "after submitting `{form}`: readyState {ready}"
        );
        Ok(())
    }

    /// Picks the option of the `<select>` `select` whose text or value is `option`.
    pub async fn select(&self, select: &str, option: &str) -> Result<()> {
        let mut offered = vec![];
        for candidate in self.find_all(&format!("{select} option")).await? {
            let text = self.element_text(&candidate).await?;
            let value = string(self.property(&candidate, "value").await?)?;
            if text.trim() == option || value == option {
                return self
                    .element_click(&candidate)
                    .await
                    .with_context(|| format!("selecting {option:?} in `{select}`"));
            }
            offered.push(format!("{text:?} ({value})"));
        }
        bail!(
            "`{select}` on {} has no option {option:?}; it offers: {}",
            self.here().await,
            offered.join(", ")
        )
    }

    /// Puts `file` into the `<input type=file>` `css` (sends its absolute path as keys).
    pub async fn upload(&self, css: &str, file: &Path) -> Result<()> {
        let path = fs::canonicalize(file)
            .with_context(|| format!("the file to upload, {}", file.display()))?;
        let found = self.find(css).await?;
        self.send_keys(&found, &path.to_string_lossy())
            .await
            .with_context(|| format!("uploading {} into `{css}`", path.display()))
    }

    /// The cookies of the current page, with all their attributes.
    pub async fn cookies(&self) -> Result<Vec<Cookie>> {
        let value = self.get("/cookie").await.context("reading cookies")?;
        let list = value
            .as_array()
            .ok_or_else(|| anyhow!("cookies: not a list: {value}"))?;
        Ok(list
            .iter()
            .map(|c| Cookie {
                name: c["name"].as_str().unwrap_or_default().to_owned(),
                value: c["value"].as_str().unwrap_or_default().to_owned(),
                path: c["path"].as_str().unwrap_or_default().to_owned(),
                domain: c["domain"].as_str().unwrap_or_default().to_owned(),
                http_only: c["httpOnly"] == true,
                secure: c["secure"] == true,
                same_site: c["sameSite"].as_str().unwrap_or_default().to_owned(),
                expiry: c["expiry"].as_u64(),
            })
            .collect())
    }

    /// The cookie `name` of the current page.
    pub async fn cookie(&self, name: &str) -> Result<Cookie> {
        let all = self.cookies().await?;
        let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        let names = names.join(", ");
        all.iter()
            .find(|c| c.name == name)
            .cloned()
            .ok_or_else(|| anyhow!("no cookie {name:?}; the page has: {names}"))
    }

    /// Deletes every cookie of the current page's domain.
    pub async fn delete_cookies(&self) -> Result<()> {
        self.command(Method::DELETE, "/cookie", None)
            .await
            .context("deleting cookies")?;
        Ok(())
    }

    /// Runs `script` as a function body with `args` (`arguments[0]`, ...), returns what
    /// it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
            .with_context(|| format!("running script {}", abridged(script)))
    }

    /// Runs `script` with a callback as its last argument; returns what it passes to it.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post("/execute/async", json!({ "script": script, "args": args }))
            .await
            .with_context(|| format!("running async script {}", abridged(script)))
    }

    /// Saves what the window shows to `path` as PNG.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let png = base64_decode(&string(self.get("/screenshot").await?)?)?;
        ensure!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "the screenshot is no PNG"
        );
        fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// Runs axe-core on the current page against `WCAG_TAGS`; the rules it breaks.
    pub async fn axe(&self) -> Result<Vec<Violation>> {
        let path = axe_path()?;
        let source =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        // WebDriver's scripts run outside the page's Content-Security-Policy.
        self.execute(&source, vec![])
            .await
            .context("injecting axe-core")?;
        let found = self
            .execute_async(RUN_AXE, vec![json!(WCAG_TAGS)])
            .await
            .context("running axe-core")?;
        if let Some(error) = found["error"].as_str() {
            bail!("axe-core failed on {}: {error}", self.here().await);
        }
        let list = found["violations"]
            .as_array()
            .ok_or_else(|| anyhow!("axe-core's answer has no violations list: {found}"))?;
        Ok(list.iter().map(violation).collect())
    }

    /// Panics, naming each rule and element, unless axe-core finds the current page
    /// clean against WCAG 2.1 AA.
    pub async fn assert_accessible(&self) {
        let here = self.here().await;
        let violations = self
            .axe()
            .await
            .unwrap_or_else(|e| panic!("axe-core on {here}: {e:#}"));
        assert!(
            violations.is_empty(),
            "{} WCAG 2.1 AA violation(s) on {here}:\n{}",
            violations.len(),
            report(&violations)
        );
    }
}

/// Waits up to WAIT for a file in `dir` whose name ends with `suffix` (Chromium names
/// it so only once the download is complete: `.crdownload` until then).
pub async fn download_wait(dir: &Path, suffix: &str) -> Result<PathBuf> {
    let deadline = Instant::now() + WAIT;
    loop {
        let names: Vec<String> = fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        if let Some(name) = names.iter().find(|name| name.ends_with(suffix)) {
            return Ok(dir.join(name));
        }
        if Instant::now() > deadline {
            bail!(
                "no download ending in {suffix:?} in {} within {WAIT:?}; it holds: {names:?}",
                dir.display()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // chromedriver quits Chromium when the session ends.
            if let Err(e) = delete_session(self.port, &self.session) {
                eprintln!("ending the browser session: {e}");
            }
        }
        // The shell kills chromedriver and any Chromium process that outlived the
        // session (the whole group) once its stdin closes.
        drop(self.driver.stdin.take());
        let _ = self.driver.wait();
        if std::thread::panicking() {
            eprintln!("browser files kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs axe on the page (axe.run's promise answered through WebDriver's callback); only
/// what a failure message shows comes back.
const RUN_AXE: &str = r#"
const done = arguments[arguments.length - 1];
const target = (t) => t.map((s) => (Array.isArray(s) ? s.join(' >>> ') : String(s))).join(' ');
axe.run(document, { runOnly: { type: 'tag', values: arguments[0] }, resultTypes: ['violations'] })
  .then((r) => done({ violations: r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: target(n.target), html: n.html, summary: n.failureSummary || '' })),
  })) }))
  .catch((e) => done({ error: String((e && e.stack) || e) }));
"#;

fn violation(v: &Value) -> Violation {
    let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    Violation {
        id: text(v, "id"),
        impact: text(v, "impact"),
        help: text(v, "help"),
        help_url: text(v, "helpUrl"),
        nodes: v["nodes"]
            .as_array()
            .map(|nodes| {
                nodes
                    .iter()
                    .map(|n| Node {
                        target: text(n, "target"),
                        html: text(n, "html"),
                        summary: text(n, "summary"),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn by_css(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

fn element(value: &Value) -> Result<Element> {
    value[ELEMENT]
        .as_str()
        .map(|id| Element(id.to_owned()))
        .ok_or_else(|| anyhow!("not an element reference: {value}"))
}

fn string(value: Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s),
        other => bail!("expected a string from chromedriver, got {other}"),
    }
}

fn abridged(script: &str) -> String {
    let line = script.trim().lines().next().unwrap_or_default();
    let short: String = line.chars().take(80).collect();
    format!("{short:?}")
}

/// An error WebDriver answered with (`error` is its code, e.g. "no such element").
#[derive(Debug)]
struct DriverError {
    what: String,
    error: String,
    message: String,
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "chromedriver {}: {}: {}",
            self.what, self.error, self.message
        )
    }
}

impl std::error::Error for DriverError {}

fn driver_error(e: &anyhow::Error) -> Option<&str> {
    e.downcast_ref::<DriverError>().map(|d| d.error.as_str())
}

/// One WebDriver command: `body` as JSON to chromedriver on `port`; its answer's
/// `value`, or its error as a `DriverError`.
async fn request(port: u16, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
    let what = format!("{method} {path}");
    let exchange = async {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // Ends when the answer is read and `sender` dropped.
        tokio::spawn(connection);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{port}"))
            .header("content-type", "application/json; charset=utf-8")
            .body(Full::new(Bytes::from(body)))?;
        let answer = sender.send_request(req).await?;
        let status = answer.status();
        let bytes = answer.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, bytes))
    };
    let (status, bytes) = tokio::time::timeout(COMMAND, exchange)
        .await
        .map_err(|_| anyhow!("chromedriver {what}: no answer within {COMMAND:?}"))?
        .with_context(|| format!("chromedriver {what}"))?;
    let json: Value = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "chromedriver {what}: answer {status} is no JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    })?;
    let value = json.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() && value.get("error").is_none() {
        return Ok(value);
    }
    Err(DriverError {
        what,
        error: value["error"].as_str().unwrap_or("unknown").to_owned(),
        // The first line: chromedriver appends its session info and a stack trace.
        message: value["message"]
            .as_str()
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
    .into())
}

/// Ends the session from Drop, which cannot await: plain HTTP/1.1 over a blocking socket.
fn delete_session(port: u16, session: &str) -> std::io::Result<()> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // The answer comes once Chromium has quit; chromedriver may keep the connection
    // open after it, so read only its head (the body says nothing we need).
    let mut answer = Vec::new();
    let mut buf = [0; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf)? {
            0 => break,
            n => answer.extend_from_slice(&buf[..n]),
        }
    }
    Ok(())
}

/// Standard base64 (the screenshot's PNG).
fn base64_decode(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut bits, mut count) = (0u32, 0u32);
    for c in text.bytes() {
        let six = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\r' | b'\n' => continue,
            other => bail!("base64: unexpected byte {other:#04x}"),
        };
        bits = (bits << 6) | u32::from(six);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Ok(out)
}
