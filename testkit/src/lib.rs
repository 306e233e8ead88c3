//! The test kit of raumwart's tests, bench and lesson example: a real Prosody on free
//! loopback ports with its own config and data folder, shaped like a Jitsi deployment's
//! (`Shape`); the real raumwart binary (the caller's, see `Repo`); real clients (see
//! `client`), the lesson the demo plays (`lesson`) and the load the bench makes (`load`). `RAUMWART_TEST_PROSODY` picks the Prosody binary (default:
//! Debian's `prosody`), `RAUMWART_TEST_SHAPE` the shape of its config.
//! `browser` drives headless Chromium through chromedriver and checks pages with axe-core.

pub mod browser;
pub mod client;
pub mod console;
pub mod focus;
pub mod jitsi_debian;
pub mod jitsi_web;
pub mod lesson;
pub mod load;
pub mod privacy;
pub mod proxy;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use client::{Client, WAIT};
pub use focus::Focus;

pub const DOMAIN: &str = "meet.jitsi";
pub const AUTH: &str = "auth.meet.jitsi";
pub const BREAKOUT: &str = "breakout.meet.jitsi";
pub const LOBBY: &str = "lobby.meet.jitsi";
/// Where `Options::end_conference` puts Jitsi's end_conference component.
pub const END_CONFERENCE: &str = "endconference.meet.jitsi";
pub const COMPONENT: &str = "raumwart.meet.jitsi";
/// The `gc` setting the README recommends for Prosody (for `Options::prosody_gc`).
pub const RECOMMENDED_GC: &str = "{ mode = \"generational\" }";
pub const SECRET: &str = "component-secret-for-tests";
pub const FOCUS_PASSWORD: &str = "focus-password";
/// jigasi (dial-in and dial-out) logs in like focus, on the auth host.
pub const JIGASI_PASSWORD: &str = "jigasi-password";
pub const SCHOOL: &str = "gs-musterstadt";
pub const SCHOOL_PASSWORD: &str = "Tafel-Kreide-Pausenhof-47";
pub const ROOM: &str = "gs-musterstadt-1";
pub const ROOM2: &str = "gs-musterstadt-2";
pub const OTHER_SCHOOL_ROOM: &str = "rs-beispiel-1";
pub const OTHER_SCHOOL_PASSWORD: &str = "Zirkel-Atlas-Turnhalle-83";

/// Where the repository and the raumwart binary under test are. Only the caller knows
/// them: cargo gives `CARGO_BIN_EXE_raumwart` to the main crate's tests and bench, not to
/// this crate. `repo!()` fills it in where it is called.
#[derive(Clone, Copy, Debug)]
pub struct Repo {
    /// The repository's folder (with prosody/, tests/prosody/, deploy/).
    pub root: &'static str,
    /// The raumwart binary the tests run.
    pub binary: &'static str,
}

/// The `Repo` of the main crate's test or bench that calls it.
#[macro_export]
macro_rules! repo {
    () => {
        $crate::Repo {
            root: env!("CARGO_MANIFEST_DIR"),
            binary: env!("CARGO_BIN_EXE_raumwart"),
        }
    };
}

/// The `i`th room (from 1) of SCHOOL: ROOM, ROOM2, then `gs-musterstadt-3` and on
/// (see `Options::school_rooms`).
pub fn school_room(i: usize) -> String {
    format!("{SCHOOL}-{i}")
}

/// The shape of the Prosody config the tests run against, for the whole test process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    /// Jitsi's Debian packages: MUC `conference.meet.jitsi`, the lines of the README's
    /// "Adding raumwart to a Jitsi Prosody" (the default).
    Debian,
    /// docker-jitsi-meet's templates (`RAUMWART_TEST_SHAPE=docker-jitsi-meet`, Prosody
    /// 13): MUC `muc.meet.jitsi`, raumwart added by the files in deploy/docker-jitsi-meet/.
    DockerJitsiMeet,
}

pub fn shape() -> Shape {
    static SHAPE: OnceLock<Shape> = OnceLock::new();
    *SHAPE.get_or_init(|| match std::env::var("RAUMWART_TEST_SHAPE").as_deref() {
        Err(_) | Ok("") | Ok("debian") => Shape::Debian,
        Ok("docker-jitsi-meet") => Shape::DockerJitsiMeet,
        Ok(other) => panic!("RAUMWART_TEST_SHAPE={other}: use debian or docker-jitsi-meet"),
    })
}

/// The conference MUC of the shape.
pub fn muc() -> &'static str {
    match shape() {
        Shape::Debian => "conference.meet.jitsi",
        Shape::DockerJitsiMeet => "muc.meet.jitsi",
    }
}

pub fn room_jid(room: &str) -> String {
    format!("{room}@{}", muc())
}

/// A free port below Linux's ephemeral range (32768 and up): a port the kernel handed
/// out for `:0` can be taken by any client's outgoing connection before Prosody binds it.
fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 10_000 + (std::process::id() % 1_100) * 20;
    for _ in 0..22_000 {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = (10_000 + (base - 10_000 + n) % 22_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below 32000");
}

/// The Prosody the tests run: `RAUMWART_TEST_PROSODY` (e.g. Prosody 13 unpacked by
/// `tests/prosody/unpack-prosody13`), else Debian's `prosody` on PATH.
pub fn prosody_binary() -> String {
    std::env::var("RAUMWART_TEST_PROSODY")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "prosody".into())
}

/// The prosodyctl beside `prosody_binary()`.
pub fn prosodyctl_binary() -> String {
    format!("{}ctl", prosody_binary())
}

/// Options that vary between tests.
#[derive(Clone)]
pub struct Options {
    pub restrict_room_creation: bool,
    pub unmanaged: &'static str,
    pub grace_period: &'static str,
    pub secret_in_config: &'static str,
    /// RAUMWART_LOG for the daemon.
    pub log: &'static str,
    /// Load raumwart's Prosody modules (false: plain Prosody, for benchmarks).
    pub module: bool,
    /// Prosody's log level (benchmarks keep logging out of the measurement).
    pub prosody_log: &'static str,
    /// Prosody's Nagle setting (network_settings.nagle; Prosody's default is on).
    pub nagle: bool,
    /// Rooms of SCHOOL in the daemon's config (at least 2: ROOM and ROOM2).
    pub school_rooms: usize,
    /// The MUC's `muc_room_cache_size` (None: Prosody's default, 100).
    pub room_cache_size: Option<usize>,
    /// The module's `raumwart_unmanaged_rooms` (None: not set).
    pub module_unmanaged: Option<&'static str>,
    /// Prosody's admin shell on its socket in the data folder, for `Env::prosody_shell`.
    pub admin_shell: bool,
    /// Prosody's `gc` setting, a Lua table (None: Prosody's default, incremental).
    pub prosody_gc: Option<String>,
    /// The folder of raumwart's Prosody module, relative to the repository: `prosody`,
    /// or a copy of an earlier release's module under `tests/fixtures`.
    pub module_dir: &'static str,
    /// Jitsi's lobby check on the main MUC (the stand-in `tests/prosody/mod_test_lobby.lua`).
    pub jitsi_lobby: bool,
    /// Jitsi's "end meeting for all" component on END_CONFERENCE (the stand-in
    /// `tests/prosody/mod_test_end_conference.lua`).
    pub end_conference: bool,
}

/// The default options with another grace period.
pub fn grace(period: &'static str) -> Options {
    Options {
        grace_period: period,
        ..Options::default()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            restrict_room_creation: true,
            unmanaged: "allow",
            grace_period: "60s",
            secret_in_config: SECRET,
            log: "debug",
            module: true,
            prosody_log: "debug",
            nagle: true,
            school_rooms: 2,
            room_cache_size: None,
            module_unmanaged: None,
            admin_shell: false,
            prosody_gc: None,
            module_dir: "prosody",
            jitsi_lobby: false,
            end_conference: false,
        }
    }
}

/// A test's world: a folder, a Prosody, and the daemon's config.
pub struct Env {
    pub repo: Repo,
    pub dir: PathBuf,
    pub c2s: u16,
    pub component: u16,
    pub http: u16,
    prosody: Option<Child>,
    pub options: Options,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Env {
    pub fn new(repo: Repo, options: Options) -> Env {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("raumwart-test-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("data")).unwrap();
        fs::create_dir_all(dir.join("certs")).unwrap();
        fs::create_dir_all(dir.join("schools")).unwrap();
        let mut env = Env {
            repo,
            dir,
            c2s: free_port(),
            component: free_port(),
            http: free_port(),
            prosody: None,
            options,
        };
        env.write_prosody_config();
        env.write_daemon_config();
        env.start_prosody();
        env
    }

    /// How long to wait for what the end of this test's grace period causes.
    pub fn after_grace(&self) -> Duration {
        let grace = raumwart::config::parse_duration(self.options.grace_period)
            .unwrap_or_else(|e| panic!("grace_period {:?}: {e}", self.options.grace_period));
        client::after(grace)
    }

    /// Jitsi's two hosts: guests log in anonymously, focus with a password.
    const HOSTS: &'static str = r#"
VirtualHost "meet.jitsi"
    authentication = "anonymous"

VirtualHost "auth.meet.jitsi"
    authentication = "internal_plain"
"#;

    /// The global lines every shape shares: where things are, loopback ports, no TLS.
    fn base_config(&self) -> String {
        let d = self.dir.display();
        let repo = Path::new(self.repo.root);
        let plugins = repo.join(self.options.module_dir);
        let test_plugins = repo.join("tests/prosody");
        format!(
            r#"run_as_root = true
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
certificates = "{d}/certs"
plugin_paths = {{ "{plugins}", "{test_plugins}" }}
log = {{ {level} = "{d}/prosody.log" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_interfaces = {{ "127.0.0.1" }}
modules_enabled = {{ "saslauth", "disco", "ping"{admin_shell} }}
modules_disabled = {{ "s2s", "tls", "offline", "c2s_bidi" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
http_ports = {{}}
https_ports = {{}}
network_settings = {{ nagle = {nagle} }}
-- tests/prosody/mod_test_resource_validate.lua, on the MUCs where people enter.
test_resource_validate_services = {{ "focus@{AUTH}" }}
test_resource_validate_nick_changes = {nick_changes}
{gc}"#,
            plugins = plugins.display(),
            test_plugins = test_plugins.display(),
            level = self.options.prosody_log,
            nagle = self.options.nagle,
            // docker-jitsi-meet loads muc_resource_validate, Jitsi's Debian packages not.
            nick_changes = shape() == Shape::Debian,
            gc = match &self.options.prosody_gc {
                Some(gc) => format!("gc = {gc}\n"),
                None => String::new(),
            },
            c2s = self.c2s,
            admin_shell = if self.options.admin_shell {
                ", \"admin_shell\""
            } else {
                ""
            },
        )
    }

    /// Jitsi's Debian packages with the README's lines.
    fn debian_config(&self) -> String {
        let muc = muc();
        format!(
            r#"-- written by raumwart's test harness
{base}component_ports = {{ {comp} }}
component_interface = "127.0.0.1"
{hosts}
Component "{muc}" "muc"
    modules_enabled = {{ {main_modules} }}
    raumwart_component = "{COMPONENT}"
    admins = {{ "focus@{AUTH}", "{COMPONENT}" }}
    component_admins_as_room_owners = true
    restrict_room_creation = {restrict}
    muc_room_locking = false
    muc_room_default_public_jids = true
    storage = "memory"
{muc_extra}
Component "{BREAKOUT}" "muc"
    modules_enabled = {{ {breakout_modules} }}
    raumwart_main_muc = "{muc}"
    admins = {{ "focus@{AUTH}", "{COMPONENT}" }}
    component_admins_as_room_owners = true
    muc_room_locking = false
    storage = "memory"

Component "{LOBBY}" "muc"
    admins = {{ "focus@{AUTH}", "{COMPONENT}" }}
    component_admins_as_room_owners = true
    muc_room_locking = false
    storage = "memory"

Component "{COMPONENT}"
    component_secret = "{SECRET}"
"#,
            base = self.base_config(),
            hosts = Self::HOSTS,
            main_modules = self.main_modules(self.options.module.then(|| "\"raumwart\"".into())),
            breakout_modules = if self.options.module {
                "\"raumwart_breakout\", \"test_breakout\", \"test_resource_validate\""
            } else {
                "\"test_breakout\", \"test_resource_validate\""
            },
            comp = self.component,
            restrict = self.options.restrict_room_creation,
            muc_extra = self.muc_extra_config(),
        )
    }

    /// docker-jitsi-meet's templates (prosody.cfg.lua, conf.d/jitsi-meet.cfg.lua) as they
    /// render with its defaults, less Jitsi's own plugins, plus what an admin adds from
    /// deploy/docker-jitsi-meet/: the modules from raumwart.env's variables and
    /// raumwart.cfg.lua in conf.d (its port and secret file pointed at this test's).
    fn docker_jitsi_meet_config(&self) -> String {
        let repo = Path::new(self.repo.root);
        let deploy = repo.join("deploy/docker-jitsi-meet");
        let env_lines = fs::read_to_string(deploy.join("raumwart.env")).unwrap();
        let modules = |var: &str| -> Vec<String> {
            let list = env_lines
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{var}=")))
                .unwrap_or_else(|| panic!("{var} not in raumwart.env"));
            list.split(',')
                .filter(|m| self.options.module || !m.starts_with("raumwart"))
                .map(|m| format!("\"{m}\""))
                .collect()
        };
        let mut breakout_modules = modules("XMPP_BREAKOUT_MUC_MODULES");
        breakout_modules.push("\"test_breakout\"".into());
        breakout_modules.push("\"test_resource_validate\"".into());
        let secret = self.dir.join("prosody-component.secret");
        fs::write(&secret, format!("{SECRET}\n")).unwrap();
        let mut snippet = fs::read_to_string(deploy.join("raumwart.cfg.lua"))
            .unwrap()
            .replace("5347", &self.component.to_string())
            .replace("/raumwart/component.secret", &secret.display().to_string());
        if let Some(policy) = self.options.module_unmanaged {
            snippet = snippet.replace(
                "raumwart_unmanaged_rooms = \"allow\"",
                &format!("raumwart_unmanaged_rooms = \"{policy}\""),
            );
        }
        fs::create_dir_all(self.dir.join("conf.d")).unwrap();
        fs::write(self.dir.join("conf.d/raumwart.cfg.lua"), snippet).unwrap();
        let cache = self.options.room_cache_size.unwrap_or(10_000);
        let jitsi = format!(
            r#"-- conf.d/jitsi-meet.cfg.lua, as docker-jitsi-meet renders it (less Jitsi's plugins)
admins = {{ "focus@{AUTH}", "jvb@{AUTH}" }}
{hosts}
Component "{muc}" "muc"
    restrict_room_creation = {restrict}
    storage = "memory"
    modules_enabled = {{ {main_modules} }}
    muc_room_cache_size = {cache}
    muc_room_locking = false
    muc_room_default_public_jids = true
    muc_tombstones = false
    muc_room_allow_persistent = false

Component "{LOBBY}" "muc"
    storage = "memory"
    restrict_room_creation = true
    muc_tombstones = false
    muc_room_allow_persistent = false
    muc_room_cache_size = 10000
    muc_room_locking = false
    muc_room_default_public_jids = true

-- Jitsi's mod_muc_breakout_rooms creates the rooms here; its test stand-in lets the
-- first joiner create them.
Component "{BREAKOUT}" "muc"
    storage = "memory"
    restrict_room_creation = false
    muc_room_cache_size = 10000
    muc_room_locking = false
    muc_room_default_public_jids = true
    muc_tombstones = false
    muc_room_allow_persistent = false
    modules_enabled = {{ {breakout_modules} }}
"#,
            hosts = Self::HOSTS,
            muc = muc(),
            restrict = self.options.restrict_room_creation,
            main_modules = self.main_modules(modules("XMPP_MUC_MODULES")),
            breakout_modules = breakout_modules.join(", "),
        );
        fs::write(self.dir.join("conf.d/jitsi-meet.cfg.lua"), jitsi).unwrap();
        format!(
            r#"-- written by raumwart's test harness, shaped like docker-jitsi-meet's prosody.cfg.lua
{base}
admins = {{ }}
component_admins_as_room_owners = true
component_ports = {{ }}

Include "conf.d/*.cfg.lua"
"#,
            base = self.base_config(),
        )
    }

    /// Writes Prosody's config from the options (`restart_prosody` then reads it).
    pub fn write_prosody_config(&self) {
        let mut cfg = match shape() {
            Shape::Debian => self.debian_config(),
            Shape::DockerJitsiMeet => self.docker_jitsi_meet_config(),
        };
        if self.options.end_conference {
            cfg += &format!(
                "\nComponent \"{END_CONFERENCE}\" \"test_end_conference\"\n    muc_component = \"{}\"\n",
                muc()
            );
        }
        fs::write(self.dir.join("prosody.cfg.lua"), cfg).unwrap();
        // internal_plain reads this file; no prosodyctl needed.
        let accounts = self.dir.join("data/auth%2emeet%2ejitsi/accounts");
        fs::create_dir_all(&accounts).unwrap();
        for (user, password) in [("focus", FOCUS_PASSWORD), ("jigasi", JIGASI_PASSWORD)] {
            fs::write(
                accounts.join(format!("{user}.dat")),
                format!("return {{\n\t[\"password\"] = \"{password}\";\n}};\n"),
            )
            .unwrap();
        }
    }

    /// The main MUC's `modules_enabled`: the shape's (quoted), Jitsi's lobby check, and
    /// the MUC nicks Jitsi's clients use (`mod_test_resource_validate`).
    fn main_modules(&self, shape: impl IntoIterator<Item = String>) -> String {
        let lobby = self.options.jitsi_lobby.then(|| "\"test_lobby\"".into());
        let nicks = Some("\"test_resource_validate\"".to_owned());
        let all: Vec<String> = shape.into_iter().chain(lobby).chain(nicks).collect();
        all.join(", ")
    }

    fn muc_extra_config(&self) -> String {
        let mut extra = String::new();
        if let Some(n) = self.options.room_cache_size {
            extra += &format!("    muc_room_cache_size = {n}\n");
        }
        if let Some(policy) = self.options.module_unmanaged {
            extra += &format!("    raumwart_unmanaged_rooms = \"{policy}\"\n");
        }
        extra
    }

    pub fn daemon_config_path(&self) -> PathBuf {
        self.dir.join("raumwart.toml")
    }

    pub fn write_daemon_config(&self) {
        let o = &self.options;
        fs::write(
            self.dir.join("component.secret"),
            format!("{}\n", o.secret_in_config),
        )
        .unwrap();
        fs::write(
            self.dir.join("schools/gs.pw"),
            format!("{SCHOOL_PASSWORD}\n"),
        )
        .unwrap();
        fs::write(self.dir.join("schools/rs.pw"), OTHER_SCHOOL_PASSWORD).unwrap();
        let cfg = format!(
            r#"[xmpp]
server = "127.0.0.1:{comp}"
component = "{COMPONENT}"
secret_file = "component.secret"
muc = "{muc}"
lobby_muc = "{LOBBY}"

[policy]
service_jids = ["focus@{AUTH}", "jigasi@{AUTH}"]
unmanaged_rooms = "{unmanaged}"
grace_period = "{grace}"

[http]
listen = "127.0.0.1:{http}"

[[school]]
id = "{SCHOOL}"
password_file = "schools/gs.pw"
rooms = [{school_rooms}]

[[school]]
id = "rs-beispiel"
rooms = [{{ name = "{OTHER_SCHOOL_ROOM}", password_file = "schools/rs.pw" }}]
"#,
            comp = self.component,
            muc = muc(),
            unmanaged = o.unmanaged,
            grace = o.grace_period,
            http = self.http,
            school_rooms = (1..=o.school_rooms.max(2))
                .map(|i| format!("\"{}\"", school_room(i)))
                .collect::<Vec<_>>()
                .join(", "),
        );
        fs::write(self.daemon_config_path(), cfg).unwrap();
    }

    pub fn start_prosody(&mut self) {
        assert!(self.prosody.is_none(), "Prosody is already running");
        let log = fs::File::create(self.dir.join("prosody.stdout")).unwrap();
        let child = Command::new(prosody_binary())
            .arg("--config")
            .arg(self.dir.join("prosody.cfg.lua"))
            .arg("-F")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start {} (is Debian's prosody package installed?): {e}",
                    prosody_binary()
                )
            });
        self.prosody = Some(child);
        let deadline = Instant::now() + WAIT;
        for port in [self.c2s, self.component] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if Instant::now() > deadline {
                    panic!(
                        "Prosody did not open port {port} within {WAIT:?}; its log:\n{}",
                        self.prosody_log()
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn prosody_pid(&self) -> u32 {
        self.prosody.as_ref().expect("Prosody running").id()
    }

    pub fn stop_prosody(&mut self) {
        if let Some(mut child) = self.prosody.take() {
            signal(child.id(), "TERM");
            wait_exit(&mut child, "prosody");
        }
    }

    pub fn restart_prosody(&mut self) {
        self.stop_prosody();
        self.start_prosody();
    }

    /// Where the module keeps its room map (Prosody's internal file storage).
    pub fn stored_map_path(&self) -> PathBuf {
        self.dir
            .join("data")
            .join(muc().replace('.', "%2e"))
            .join("raumwart/map.dat")
    }

    /// Runs `prosodyctl shell ARGS` (e.g. `["module", "reload", "raumwart", HOST]`
    /// for `module:reload("raumwart", HOST)`) against this Prosody, which must run with
    /// `Options::admin_shell`; panics unless it succeeds. Returns what it printed.
    pub fn prosody_shell(&self, args: &[&str]) -> String {
        assert!(self.options.admin_shell, "Options::admin_shell is off");
        let out = Command::new(prosodyctl_binary())
            .arg("--config")
            .arg(self.dir.join("prosody.cfg.lua"))
            .arg("shell")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("start {}: {e}", prosodyctl_binary()));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "prosodyctl shell {args:?} failed ({}): {text}",
            out.status
        );
        text
    }

    pub fn prosody_log(&self) -> String {
        fs::read_to_string(self.dir.join("prosody.log")).unwrap_or_default()
    }

    pub async fn anonymous(&self) -> Client {
        Client::anonymous(self.c2s, DOMAIN).await
    }

    /// Starts the real raumwart binary against this Prosody and waits until it is in sync.
    pub async fn daemon(&self) -> Daemon {
        let mut d = self.spawn_daemon();
        d.wait_synced().await;
        d
    }

    pub fn spawn_daemon(&self) -> Daemon {
        self.spawn_daemon_with(&self.daemon_config_path())
    }

    /// The daemon config with another HTTP port, for a second daemon beside the first.
    pub fn second_daemon_config(&self) -> PathBuf {
        let path = self.dir.join("raumwart-2.toml");
        let text = fs::read_to_string(self.daemon_config_path()).unwrap();
        let text = text.replace(&format!(":{}\"", self.http), &format!(":{}\"", free_port()));
        fs::write(&path, text).unwrap();
        path
    }

    pub fn spawn_daemon_with(&self, config: &Path) -> Daemon {
        self.spawn_daemon_env(config, &[])
    }

    /// The daemon with extra environment variables (e.g. systemd's NOTIFY_SOCKET).
    pub fn spawn_daemon_env(&self, config: &Path, vars: &[(&str, &str)]) -> Daemon {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let log = self.dir.join(format!("raumwart-{n}.log"));
        let file = fs::File::create(&log).unwrap();
        let child = Command::new(self.repo.binary)
            .arg("run")
            .arg("--config")
            .arg(config)
            .env("RAUMWART_LOG", self.options.log)
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start raumwart");
        Daemon {
            child: Some(child),
            log,
            http: (config == self.daemon_config_path()).then_some(self.http),
            port: listen_port(config),
            barriers: 0,
        }
    }

    pub async fn focus(&self, room: &str) -> Focus {
        Focus::create(self.c2s, room, true, false).await
    }

    /// A barrier on the module's events, which reach raumwart in order: a guest guesses a
    /// wrong password at OTHER_SCHOOL_ROOM, and this waits until `d` has counted the
    /// guess. Every event the module sent before it has been handled then.
    pub async fn events_barrier(&self, d: &mut Daemon) {
        let jid = room_jid(OTHER_SCHOOL_ROOM);
        let _focus = self.focus(OTHER_SCHOOL_ROOM).await;
        let mut guest = self.anonymous().await;
        assert_eq!(
            guest
                .join(&jid, "barrier", Some("a-guess"))
                .await
                .err()
                .as_deref(),
            Some("not-authorized"),
            "the barrier's guess"
        );
        d.barriers += 1;
        let counted = "raumwart_wrong_passwords_total{school=\"rs-beispiel\"}";
        d.wait_metric(counted, f64::from(d.barriers)).await;
    }

    /// A focus that stays in the room even when alone, to show it never counts.
    pub async fn stubborn_focus(&self, room: &str) -> Focus {
        Focus::create(self.c2s, room, false, false).await
    }

    /// A focus like jicofo with `enable-auto-owner = true`.
    pub async fn auto_owner_focus(&self, room: &str) -> Focus {
        Focus::create(self.c2s, room, true, true).await
    }

    /// A focus like jicofo with authentication on (a secure domain): owner to every
    /// authenticated member (see `focus::Roles::Authentication`).
    pub async fn authentication_focus(&self, room: &str) -> Focus {
        Focus::create_with(self.c2s, room, true, focus::Roles::Authentication).await
    }

    /// A user with an account on the auth host, logged in: authenticated for
    /// `authentication_focus` (a secure domain's logged-in user).
    pub async fn authenticated(&self, user: &str) -> Client {
        let password = format!("{user}-password-for-tests");
        let accounts = self.dir.join("data/auth%2emeet%2ejitsi/accounts");
        fs::write(
            accounts.join(format!("{user}.dat")),
            format!("return {{\n\t[\"password\"] = \"{password}\";\n}};\n"),
        )
        .unwrap();
        Client::login(self.c2s, AUTH, user, &password).await
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.stop_prosody();
        if !std::thread::panicking() {
            // What the module stores under Prosody's data folder.
            for file in privacy::files_under(&self.dir.join("data")) {
                if file.components().any(|c| c.as_os_str() == "raumwart") {
                    let text =
                        String::from_utf8_lossy(&fs::read(&file).unwrap_or_default()).into_owned();
                    privacy::assert_impersonal(&file.display().to_string(), &text);
                }
            }
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("test files kept in {}", self.dir.display());
        }
    }
}

pub struct Daemon {
    child: Option<Child>,
    pub log: PathBuf,
    /// The HTTP port, when it runs with the test's own config (for the privacy sweep).
    http: Option<u16>,
    /// The HTTP port its config names (for the waits on what it reports).
    port: Option<u16>,
    /// Guesses `Env::events_barrier` made.
    barriers: u32,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    pub fn hangup(&self) {
        signal(self.pid(), "HUP");
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts that `needle` appears `count` times in the daemon's log within WAIT: for
    /// tests whose subject is what the log tells an admin, never to wait for something
    /// else to happen (wait on `/metrics` or `/status` for that).
    pub async fn assert_logged(&mut self, needle: &str, count: usize) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.log_text().matches(needle).count() >= count {
                return;
            }
            self.assert_running(&format!("logging {needle:?}"));
            if Instant::now() > deadline {
                panic!(
                    "raumwart did not log {needle:?} {count}x within {WAIT:?}; its log:\n{}",
                    self.log_text()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Panics if the daemon has exited.
    fn assert_running(&mut self, before: &str) {
        let exited = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = exited {
            panic!(
                "raumwart exited ({status}) before {before}; its log:\n{}",
                self.log_text()
            );
        }
    }

    /// GET `path` from the daemon's HTTP endpoint (the one its config names).
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let port = self
            .port
            .ok_or_else(|| anyhow::anyhow!("its config names no http.listen"))?;
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        raumwart::http::request(addr, "GET", path).await
    }

    /// Polls `path` until `ok` holds on its 200 answer, for up to `limit`; panics naming
    /// `what` and showing the last answer (through `show`).
    async fn wait_answer<T>(
        &mut self,
        path: &str,
        limit: Duration,
        what: &str,
        parse: impl Fn(String) -> T,
        ok: impl Fn(&T) -> bool,
        show: impl Fn(&T) -> String,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            let last = match self.get(path).await {
                Ok((200, body)) => {
                    let answer = parse(body);
                    if ok(&answer) {
                        return answer;
                    }
                    show(&answer)
                }
                Ok((code, body)) => format!("HTTP {code}: {body}"),
                Err(e) => format!("no answer: {e:#}"),
            };
            self.assert_running(what);
            if Instant::now() > deadline {
                panic!(
                    "raumwart did not report {what} within {limit:?}; {path} last said:\n{last}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// What `/metrics` says now.
    pub async fn metrics(&self) -> Scrape {
        let (code, body) = self.get("/metrics").await.expect("GET /metrics");
        assert_eq!(code, 200, "{body}");
        Scrape(body)
    }

    /// Scrapes `/metrics` until `ok` holds, for up to `limit`; returns that scrape.
    pub async fn wait_metrics_within(
        &mut self,
        limit: Duration,
        what: &str,
        ok: impl Fn(&Scrape) -> bool,
    ) -> Scrape {
        self.wait_answer("/metrics", limit, what, Scrape, ok, Scrape::shown)
            .await
    }

    /// Scrapes `/metrics` until `ok` holds, for up to WAIT; returns that scrape.
    pub async fn wait_metrics(&mut self, what: &str, ok: impl Fn(&Scrape) -> bool) -> Scrape {
        self.wait_metrics_within(WAIT, what, ok).await
    }

    /// Waits until `selector` (see `Scrape::value`) is at least `at_least`; returns it.
    pub async fn wait_metric(&mut self, selector: &str, at_least: f64) -> f64 {
        self.wait_metric_within(WAIT, selector, at_least).await
    }

    /// `wait_metric` for up to `limit`: `Env::after_grace()` for what a grace period's end
    /// causes.
    pub async fn wait_metric_within(
        &mut self,
        limit: Duration,
        selector: &str,
        at_least: f64,
    ) -> f64 {
        self.wait_metrics_within(limit, &format!("{selector} >= {at_least}"), |m| {
            m.value(selector) >= at_least
        })
        .await
        .value(selector)
    }

    /// Waits until the daemon is in sync with Prosody (`raumwart_xmpp_synced` 1).
    pub async fn wait_synced(&mut self) {
        self.wait_metric("raumwart_xmpp_synced", 1.0).await;
    }

    /// Waits until the daemon has connected again `reconnects` times in all and is in
    /// sync after the last (one scrape shows both).
    pub async fn wait_resynced(&mut self, reconnects: u32) {
        self.wait_resynced_within(WAIT, reconnects).await;
    }

    /// `wait_resynced` for up to `limit`.
    pub async fn wait_resynced_within(&mut self, limit: Duration, reconnects: u32) {
        let n = f64::from(reconnects);
        self.wait_metrics_within(
            limit,
            &format!("raumwart_xmpp_reconnects_total >= {n} and raumwart_xmpp_synced 1"),
            |m| {
                m.value("raumwart_xmpp_reconnects_total") >= n
                    && m.value("raumwart_xmpp_synced") == 1.0
            },
        )
        .await;
    }

    /// Asserts that the first connection to Prosody still holds: connected, and never
    /// connected again.
    pub async fn assert_connection_held(&self) {
        let m = self.metrics().await;
        assert_eq!(
            (
                m.value("raumwart_xmpp_connected"),
                m.value("raumwart_xmpp_reconnects_total")
            ),
            (1.0, 0.0),
            "the connection to Prosody was lost:\n{}",
            m.shown()
        );
    }

    /// What `/status` says now.
    pub async fn status(&self) -> serde_json::Value {
        let (code, body) = self.get("/status").await.expect("GET /status");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Polls `/status` until `ok` holds on it, for up to WAIT; returns that answer.
    pub async fn wait_status(
        &mut self,
        what: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let parse = |body: String| serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
        self.wait_answer("/status", WAIT, what, parse, ok, |v| v.to_string())
            .await
    }

    /// Polls `/status` until `ok` holds on `room`'s entry, for up to WAIT; returns it.
    pub async fn wait_room(
        &mut self,
        room: &str,
        what: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let what = format!("{room}: {what}");
        let status = self
            .wait_status(&what, |s| room_in(s, room).is_some_and(&ok))
            .await;
        room_in(&status, room).unwrap().clone()
    }

    /// Waits until `/status` shows `room` in `state` ("idle", "active", "grace", "ending").
    pub async fn wait_state(&mut self, room: &str, state: &str) -> serde_json::Value {
        self.wait_room(room, &format!("state {state:?}"), |r| r["state"] == state)
            .await
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        signal(child.id(), "TERM");
        wait_exit(&mut child, "raumwart")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.kill9();
            eprintln!("--- raumwart log ---\n{}", self.log_text());
            return;
        }
        // The privacy sweep over every test that runs a daemon: what it shows on HTTP
        // and what it logs at info or above.
        let shown: Vec<(String, String)> = self
            .http
            .into_iter()
            .flat_map(|port| ["/metrics", "/status"].map(|p| (p, port)))
            .filter_map(|(path, port)| Some((path.to_owned(), privacy::get_blocking(port, path)?)))
            .collect();
        self.kill9();
        privacy::assert_impersonal(
            "raumwart's log at info or above",
            &privacy::info_lines(&self.log_text()),
        );
        for (path, text) in shown {
            privacy::assert_impersonal(&path, &text);
        }
    }
}

/// How often the waits on the daemon look.
const POLL: Duration = Duration::from_millis(10);

/// The port of `http.listen` in the daemon config at `path`.
fn listen_port(path: &Path) -> Option<u16> {
    let text = fs::read_to_string(path).ok()?;
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("listen"))?;
    line.rsplit(':')
        .next()?
        .trim()
        .trim_end_matches('"')
        .parse()
        .ok()
}

/// `room`'s entry in a `/status` answer.
pub fn room_in<'a>(status: &'a serde_json::Value, room: &str) -> Option<&'a serde_json::Value> {
    status["rooms"]
        .as_array()?
        .iter()
        .find(|r| r["room"] == room)
}

/// One answer of `/metrics`.
pub struct Scrape(pub String);

impl Scrape {
    /// The sum of the samples that `selector` picks, 0 if none: `name` picks every
    /// sample of that name, `name{label="value",...}` those with these labels (and any
    /// others).
    pub fn value(&self, selector: &str) -> f64 {
        let (name, labels) = series(selector);
        self.0
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (s, value) = l.rsplit_once(' ')?;
                let (n, have) = series(s);
                (n == name && labels.iter().all(|l| have.contains(l)))
                    .then(|| value.parse::<f64>().ok())?
            })
            .sum()
    }

    /// The samples, without help texts and histogram buckets (for failure messages).
    pub fn shown(&self) -> String {
        self.0
            .lines()
            .filter(|l| !l.starts_with('#') && !l.contains("_bucket{"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A series' name and its `label="value"` pairs.
fn series(s: &str) -> (&str, Vec<&str>) {
    match s.split_once('{') {
        Some((name, rest)) => (
            name,
            rest.trim_end_matches('}')
                .split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect(),
        ),
        None => (s.trim(), vec![]),
    }
}

/// Sends `sig` (e.g. "STOP") to `pid`; it must get there.
pub fn send_signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{sig} {pid}");
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

fn wait_exit(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            // Not what the tests are about; do not let it hang them.
            eprintln!("{what} did not exit within {WAIT:?} of SIGTERM; killing it");
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub const CLASS_PASSWORD: &str = "Klasse-4b-Wandertag";

/// A teacher in `room` with the school password, owner, who has set the class password.
pub async fn teacher_with_class(env: &Env, room: &str, nick: &str) -> Client {
    teacher_with(env, room, nick, SCHOOL_PASSWORD).await
}

/// A lesson in `room`: a teacher (nick "teacher") who set the class password, and a
/// student (nick "student") who entered with it.
pub async fn lesson(env: &Env, room: &str) -> (Client, Client) {
    let teacher = teacher_with_class(env, room, "teacher").await;
    let mut student = env.anonymous().await;
    student
        .join(&room_jid(room), "student", Some(CLASS_PASSWORD))
        .await
        .expect("a student enters with the class password");
    (teacher, student)
}

/// Like `teacher_with_class`, entering with `school_password`.
pub async fn teacher_with(env: &Env, room: &str, nick: &str, school_password: &str) -> Client {
    let mut t = env.anonymous().await;
    let jid = room_jid(room);
    let joined = t
        .join(&jid, nick, Some(school_password))
        .await
        .expect("teacher enters with the school password");
    if joined.affiliation != "owner" {
        t.wait_affiliation(&jid, nick, "owner").await;
    }
    t.configure(&jid, &[("muc#roomconfig_roomsecret", CLASS_PASSWORD)])
        .await
        .expect("an organizer sets the class password like the Jitsi UI");
    t
}

/// Makes `room` persistent as Jitsi's server side does (jicofo, mod_muc_breakout_rooms):
/// as an admin of the MUC. docker-jitsi-meet (`muc_room_allow_persistent = false`) lets
/// no teacher do it; Jitsi's Debian packages let an owner do it too.
pub async fn make_persistent(env: &Env, room: &str) {
    let mut admin = client::Client::login(env.c2s, AUTH, "focus", FOCUS_PASSWORD).await;
    admin
        .configure(&room_jid(room), &[("muc#roomconfig_persistentroom", "1")])
        .await
        .expect("an admin makes the room persistent");
}

/// After a reset: a fresh session needs the school password, nothing old is left.
pub async fn assert_room_is_fresh(env: &Env, room: &str, old_owner: &str) {
    let jid = room_jid(room);
    let mut focus = env.focus(room).await;
    let mut s = env.anonymous().await;
    assert_eq!(
        s.join(&jid, "student", None).await.err().as_deref(),
        Some("not-authorized"),
        "a join without password must be refused after the reset"
    );
    assert_eq!(
        s.join(&jid, "student", Some(CLASS_PASSWORD))
            .await
            .err()
            .as_deref(),
        Some("not-authorized"),
        "the old class password must not work after the reset"
    );
    let mut t = env.anonymous().await;
    let joined = t
        .join(&jid, "teacher", Some(SCHOOL_PASSWORD))
        .await
        .expect("the school password opens the reset room");
    assert!(
        joined.history.is_empty(),
        "old chat served: {:?}",
        joined.history
    );
    assert_eq!(joined.subject, "", "old subject left");
    t.wait_affiliation(&jid, "teacher", "owner").await;
    let owners = t.affiliations(&jid, "owner").await;
    assert!(
        !owners.iter().any(|o| o == old_owner),
        "an affiliation from before the reset holds: {owners:?}"
    );
    t.leave(&jid, "teacher").await;
    focus.gone().await;
}

/// Matches an unavailable presence from one of `nicks` (display names, see
/// `client::is_from`) in any room.
pub fn removal_of<'a>(nicks: &'a [&'a str]) -> impl Fn(&tokio_xmpp::minidom::Element) -> bool + 'a {
    move |s| {
        s.name() == "presence"
            && s.attr("type") == Some("unavailable")
            && nicks.iter().any(|n| client::is_from(s, n))
    }
}

/// GET `path` from the daemon's HTTP endpoint.
pub async fn http_get(env: &Env, path: &str) -> (u16, String) {
    let addr = format!("127.0.0.1:{}", env.http).parse().unwrap();
    raumwart::http::request(addr, "GET", path)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// What the daemon's `/status` says about `room`.
pub async fn room_status(env: &Env, room: &str) -> serde_json::Value {
    let (status, body) = http_get(env, "/status").await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    room_in(&json, room)
        .unwrap_or_else(|| panic!("{room} not in /status: {body}"))
        .clone()
}

/// Asserts what `/status` says about `room` now: its state, how many people, whether an
/// organizer is there; `what` names the case in the failure message.
pub async fn assert_room_now(env: &Env, room: &str, expected: (&str, u64, bool), what: &str) {
    let st = room_status(env, room).await;
    let seen = (
        st["state"].as_str().unwrap_or_default(),
        st["people"].as_u64().unwrap_or_default(),
        st["organizer_present"].as_bool().unwrap_or_default(),
    );
    assert_eq!(
        seen, expected,
        "{what}: (state, people, organizer_present) of {room}; /status said {st}"
    );
}
