//! The real Jitsi client in the tests: lib-jitsi-meet itself (npm `LIB_JITSI_MEET` at
//! `LIB_JITSI_MEET_VERSION`, with jQuery `JQUERY_VERSION`, which it takes from the page)
//! in Debian's headless Chromium (the kit's `browser`), over Prosody's websocket or BOSH
//! on loopback, with the kit's focus answering its conference request as jicofo does.
//!
//! `JitsiWeb::start` adds Prosody's own HTTP server to a test's `Env` on a free loopback
//! port: `mod_websocket`, `mod_bosh` and `mod_http_files` on the guests' host, the last
//! serving the pages of `tests/jitsi/` and the library, so that page, library and XMPP
//! share one origin. Each participant is an iframe of its own (`participant.html`: its own
//! lib-jitsi-meet and connection, like a tab), driven through `participants.js`.
//!
//! Needs `chromium`, `chromium-driver` and the two npm packages (`.ci/run` installs them
//! into the cargo target folder; `lib_dir` says where they are looked for). A test calls
//! `available` first: outside CI it skips without them, with `CI=true` it fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

use crate::browser::{self, Browser};
use crate::focus::Focus;
use crate::{muc, Env, AUTH, DOMAIN, WAIT};

/// The npm package of lib-jitsi-meet's browser bundle (Jitsi publishes lib-jitsi-meet
/// itself on no registry), and the version the tests run.
pub const LIB_JITSI_MEET: &str = "lib-jitsi-meet-dist";
pub const LIB_JITSI_MEET_VERSION: &str = "2.1.5";
/// The jQuery the bundle expects as a global of the page.
pub const JQUERY_VERSION: &str = "3.7.1";
/// The files of `tests/jitsi/` the pages are made of.
const PAGES: [&str; 4] = [
    "index.html",
    "participants.js",
    "participant.html",
    "participant.js",
];
/// Between polls of a participant's state: each is a round trip into Chromium.
const POLL: Duration = Duration::from_millis(50);

/// How lib-jitsi-meet reaches Prosody.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `mod_websocket` (jitsi-meet's default).
    Websocket,
    /// `mod_bosh`.
    Bosh,
}

/// Whether the real-client tests can run here (Chromium, chromedriver, lib-jitsi-meet and
/// jQuery). Without them: outside CI prints `SKIPPED: ...` and returns false, with
/// `CI=true` panics with what to install.
pub fn available(test: &str) -> bool {
    browser::available_with(test, lib_dir().map(drop))
}

/// The folder npm installed lib-jitsi-meet and jQuery into (it holds `node_modules/`):
/// `RAUMWART_LIB_JITSI_MEET`, else `lib-jitsi-meet/` in the cargo target folder (the one
/// above the running test binary), where `.ci/run` installs the pinned versions.
pub fn lib_dir() -> Result<PathBuf> {
    let install = |folder: &Path| {
        format!(
            "run `npm install --no-save --prefix {} {LIB_JITSI_MEET}@{LIB_JITSI_MEET_VERSION} \
             jquery@{JQUERY_VERSION}` (.ci/run does), or set RAUMWART_LIB_JITSI_MEET to such a folder",
            folder.display()
        )
    };
    let folder = match std::env::var_os("RAUMWART_LIB_JITSI_MEET").filter(|p| !p.is_empty()) {
        Some(folder) => PathBuf::from(folder),
        None => browser::npm_folder(
            "lib-jitsi-meet",
            "set RAUMWART_LIB_JITSI_MEET to the folder npm installed it into",
        )?,
    };
    for (package, pinned) in [
        (LIB_JITSI_MEET, LIB_JITSI_MEET_VERSION),
        ("jquery", JQUERY_VERSION),
    ] {
        browser::npm_pinned(&folder, package, pinned, &install(&folder))?;
    }
    Ok(folder)
}

/// Prosody's HTTP server for lib-jitsi-meet, and a browser on the page that holds the
/// participants.
pub struct JitsiWeb {
    /// Prosody's HTTP port (loopback).
    pub port: u16,
    browser: Browser,
}

impl JitsiWeb {
    /// Gives `env`'s Prosody an HTTP server with websocket, BOSH and the pages, restarts
    /// it (call this before the daemon starts) and opens the page in a new browser.
    pub async fn start(env: &mut Env) -> Result<JitsiWeb> {
        let port = crate::free_port();
        let files = env.dir.join("jitsi-web");
        fs::create_dir_all(&files)?;
        let pages = Path::new(env.repo.root).join("tests/jitsi");
        for page in PAGES {
            fs::copy(pages.join(page), files.join(page))
                .with_context(|| format!("copying {}", pages.join(page).display()))?;
        }
        let lib = lib_dir()?.join("node_modules");
        for (from, to) in [
            (
                format!("{LIB_JITSI_MEET}/dist/lib-jitsi-meet.min.js"),
                "lib-jitsi-meet.min.js",
            ),
            ("jquery/dist/jquery.min.js".to_owned(), "jquery.min.js"),
        ] {
            fs::copy(lib.join(&from), files.join(to))
                .with_context(|| format!("copying {}", lib.join(&from).display()))?;
        }
        add_http_to_prosody(env, port, &files)?;
        let browser = Browser::start().await?;
        let web = JitsiWeb { port, browser };
        let page = format!("http://127.0.0.1:{port}/files/index.html");
        web.browser.goto(&page).await?;
        let ready = web
            .browser
            .execute("return typeof window.participants", vec![])
            .await?;
        ensure!(
            ready == "object",
            "{page} did not load participants.js (typeof participants: {ready})"
        );
        Ok(web)
    }

    /// Where lib-jitsi-meet connects for `transport`.
    pub fn service_url(&self, transport: Transport) -> String {
        match transport {
            Transport::Websocket => format!("ws://127.0.0.1:{}/xmpp-websocket", self.port),
            Transport::Bosh => format!("http://127.0.0.1:{}/http-bind", self.port),
        }
    }

    /// A new participant `name` (its own iframe, lib-jitsi-meet and anonymous login over
    /// websocket) whose conference requests go to `focus`.
    pub async fn open(&self, name: &str, focus: &Focus) -> Result<Participant<'_>> {
        self.open_with(name, focus, Transport::Websocket).await
    }

    /// `open` over `transport`.
    pub async fn open_with(
        &self,
        name: &str,
        focus: &Focus,
        transport: Transport,
    ) -> Result<Participant<'_>> {
        let opened = self
            .browser
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
participants.open(arguments[0]).then(() => done({}), (e) => done({ failed: String(e && e.message || e) }));"#,
                vec![json!(name)],
            )
            .await?;
        if let Some(failed) = opened["failed"].as_str() {
            bail!("opening participant {name}: {failed}");
        }
        let config = json!({
            "serviceUrl": self.service_url(transport),
            "domain": DOMAIN,
            "muc": muc(),
            "focus": focus.jid,
            "focusUserJid": format!("focus@{AUTH}"),
        });
        let connected = self.call(name, "connect", vec![config]).await?;
        let jid = match (connected["jid"].as_str(), connected["error"].as_str()) {
            (Some(jid), _) => jid.to_owned(),
            (None, error) => bail!(
                "{name} could not connect over {transport:?}: {}",
                error.unwrap_or("no answer")
            ),
        };
        Ok(Participant {
            web: self,
            name: name.to_owned(),
            jid,
        })
    }

    /// Calls `method` of participant `name` with `args` (its promise's value), up to WAIT.
    async fn call(&self, name: &str, method: &str, args: Vec<Value>) -> Result<Value> {
        let answer = self
            .browser
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
participants.call(arguments[0], arguments[1], arguments[2], arguments[3])
    .then((value) => done({ value }), (e) => done({ failed: String(e && e.message || e) }));"#,
                vec![
                    json!(name),
                    json!(method),
                    json!(args),
                    json!(WAIT.as_millis() as u64),
                ],
            )
            .await
            .with_context(|| format!("{name}.{method}"))?;
        if let Some(failed) = answer["failed"].as_str() {
            bail!("{name}.{method}: {failed}");
        }
        Ok(answer["value"].clone())
    }

    /// Participant `name`'s role and events now.
    async fn state(&self, name: &str) -> Result<State> {
        let value = self
            .browser
            .execute("return participants.state(arguments[0])", vec![json!(name)])
            .await?;
        ensure!(!value.is_null(), "no participant {name} on the page");
        Ok(State {
            role: value["role"].as_str().unwrap_or_default().to_owned(),
            moderator: value["moderator"] == true,
            events: value["events"]
                .as_array()
                .map(|events| {
                    events
                        .iter()
                        .map(|e| Event {
                            what: e["what"].as_str().unwrap_or_default().to_owned(),
                            args: e["args"].as_array().cloned().unwrap_or_default(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// One participant: an iframe with its own lib-jitsi-meet, logged in anonymously.
pub struct Participant<'a> {
    web: &'a JitsiWeb,
    pub name: String,
    /// The full JID Prosody bound for it.
    pub jid: String,
}

/// What a participant's lib-jitsi-meet says: its role and every event it reported.
#[derive(Clone, Debug)]
pub struct State {
    /// `conference.getRole()`: "moderator", "participant", "none" (or empty before a join).
    pub role: String,
    /// `conference.isModerator()`.
    pub moderator: bool,
    pub events: Vec<Event>,
}

/// A connection or conference event (lib-jitsi-meet's name, e.g. `conference.failed`)
/// with its arguments as JSON (participants by id).
#[derive(Clone, Debug)]
pub struct Event {
    pub what: String,
    pub args: Vec<Value>,
}

impl Event {
    /// The first argument as text (a CONFERENCE_FAILED's error, e.g. `conference.destroyed`).
    pub fn first(&self) -> &str {
        self.args
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

impl State {
    /// The events named `what`.
    pub fn named<'s>(&'s self, what: &'s str) -> impl Iterator<Item = &'s Event> + 's {
        self.events.iter().filter(move |e| e.what == what)
    }

    /// The events in one line each, for failure messages.
    pub fn shown(&self) -> String {
        let lines: Vec<String> = self
            .events
            .iter()
            .map(|e| format!("{} {}", e.what, Value::from(e.args.clone())))
            .collect();
        format!("role {:?}; events:\n{}", self.role, lines.join("\n"))
    }
}

impl Participant<'_> {
    /// The bare JID.
    pub fn bare(&self) -> String {
        self.jid.split('/').next().unwrap_or_default().to_owned()
    }

    /// Joins `room` as jitsi-meet does (conference request to focus, then the MUC), with
    /// `password` or none; called again after `conference.passwordRequired`, it joins the
    /// same conference again as the app's password prompt does. Ok once joined, Err with
    /// lib-jitsi-meet's CONFERENCE_FAILED error (e.g. `conference.passwordRequired`).
    pub async fn join(&self, room: &str, password: Option<&str>) -> Result<Result<(), String>> {
        let answer = self
            .web
            .call(&self.name, "join", vec![json!(room), json!(password)])
            .await?;
        Ok(match answer["error"].as_str() {
            Some(error) => Err(error.to_owned()),
            None if answer["joined"] == true => Ok(()),
            None => bail!("{}: join answered {answer}", self.name),
        })
    }

    /// `conference.lock(password)`, as the Jitsi UI sets a room password.
    pub async fn lock(&self, password: &str) -> Result<()> {
        let answer = self
            .web
            .call(&self.name, "lock", vec![json!(password)])
            .await?;
        match answer["error"].as_str() {
            Some(error) => bail!("{}: conference.lock failed: {error}", self.name),
            None => Ok(()),
        }
    }

    /// `conference.leave()`, then the connection ends: the hang-up button.
    pub async fn leave(&self) -> Result<()> {
        let answer = self.web.call(&self.name, "leave", vec![]).await?;
        match answer["error"].as_str() {
            Some(error) => bail!("{}: leaving failed: {error}", self.name),
            None => Ok(()),
        }
    }

    /// Closes the participant's iframe, as closing the tab does: no goodbye, the
    /// connection just ends.
    pub async fn close(self) -> Result<()> {
        let closed = self
            .web
            .browser
            .execute(
                "return participants.close(arguments[0])",
                vec![json!(self.name)],
            )
            .await?;
        ensure!(closed == true, "{} was not open", self.name);
        Ok(())
    }

    /// Its role and events now.
    pub async fn state(&self) -> Result<State> {
        self.web.state(&self.name).await
    }

    /// Polls its state until `ok` holds, for up to `limit` (WAIT for what follows at once
    /// from what the test did, `Env::after_grace()` for what a grace period's end causes);
    /// the error names `what` and shows the last state.
    pub async fn wait_until(
        &self,
        limit: Duration,
        what: &str,
        ok: impl Fn(&State) -> bool,
    ) -> Result<State> {
        let deadline = Instant::now() + limit;
        loop {
            let state = self.state().await?;
            if ok(&state) {
                return Ok(state);
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: no {what} within {limit:?}; {}",
                    self.name,
                    state.shown()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits up to WAIT until lib-jitsi-meet says this participant is moderator.
    pub async fn wait_moderator(&self) -> Result<State> {
        self.wait_until(WAIT, "moderator role", |s| {
            s.moderator && s.role == "moderator"
        })
        .await
    }
}

/// Adds Prosody's HTTP server on loopback `port` to `env` (websocket, BOSH and `files`
/// served on the guests' host, the host of every request), restarts Prosody and waits
/// until the port is open. An `Include` at the end of the config: it starts in the
/// global section, where the HTTP settings must be, and replaces the kit's `http_ports
/// = {}`.
fn add_http_to_prosody(env: &mut Env, port: u16, files: &Path) -> Result<()> {
    let snippet = env.dir.join("jitsi-web.cfg.lua");
    fs::write(
        &snippet,
        format!(
            r#"-- lib-jitsi-meet's way in, added by the test kit (jitsi_web)
http_ports = {{ {port} }}
http_interfaces = {{ "127.0.0.1" }}
http_default_host = "{DOMAIN}"

VirtualHost "{DOMAIN}"
    modules_enabled = {{ "websocket", "bosh", "http_files" }}
    http_files_dir = "{files}"
"#,
            files = files.display()
        ),
    )?;
    let config = env.dir.join("prosody.cfg.lua");
    let mut text = fs::read_to_string(&config)?;
    let include = format!("\nInclude \"{}\"\n", snippet.display());
    if !text.contains(&include) {
        text.push_str(&include);
        fs::write(&config, text)?;
    }
    env.restart_prosody();
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!(
                "Prosody did not open its HTTP port {port} within {WAIT:?}; its log:\n{}",
                env.prosody_log()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
