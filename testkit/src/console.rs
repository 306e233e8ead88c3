//! The media centres' console in a test: the config of an `Env` with two media centres
//! and a `[console]` table, the real `raumwart console` process, its staff accounts, and
//! a plain HTTP client that sends whatever a test crafts (cookies, forms, headers).

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{free_port, Env, OTHER_SCHOOL_ROOM, SCHOOL, WAIT};

/// The media centre of `SCHOOL`, and the one of the other school (`rs-beispiel`).
pub const CENTRE_A: &str = "kmz-a";
pub const CENTRE_B: &str = "kmz-b";
pub const OTHER_SCHOOL: &str = "rs-beispiel";
/// `[jitsi] url` of the console's config.
pub const JITSI_URL: &str = "https://meet.kmz-beispiel.de/";

/// Makes the env's daemon config one of two media centres (`SCHOOL` of A, the other
/// school of B) with a console on a free port; returns that port. Call before the
/// daemon starts.
pub fn configure(env: &Env) -> u16 {
    let port = free_port();
    let path = env.daemon_config_path();
    let text = fs::read_to_string(&path).unwrap();
    let text = text
        .replacen(
            &format!("id = \"{SCHOOL}\"\n"),
            &format!("id = \"{SCHOOL}\"\nname = \"Grundschule Musterstadt\"\nmedia_centre = \"{CENTRE_A}\"\n"),
            1,
        )
        .replacen(
            &format!("id = \"{OTHER_SCHOOL}\"\n"),
            &format!("id = \"{OTHER_SCHOOL}\"\nname = \"Realschule Beispiel\"\nmedia_centre = \"{CENTRE_B}\"\n"),
            1,
        );
    assert!(text.contains(OTHER_SCHOOL_ROOM));
    let extra = format!(
        r#"
[console]
listen = "127.0.0.1:{port}"
database = "console.sqlite"

[jitsi]
url = "{JITSI_URL}"

[[media_centre]]
id = "{CENTRE_A}"
name = "Kreismedienzentrum Beispielkreis"
address = "Schulstraße 1, 12345 Beispielstadt"
phone = "07000 123456-0"
mail = "medienzentrum@kreis-beispiel.de"

[[media_centre]]
id = "{CENTRE_B}"
name = "Stadtmedienzentrum Nachbarstadt"
phone = "07000 654321-0"
"#
    );
    // Top-level tables go before the first [[school]], so the blocks stay the schools'.
    let at = text.find("[[school]]").unwrap();
    let text = format!("{}{extra}\n{}", &text[..at], &text[at..]);
    fs::write(&path, text).unwrap();
    port
}

/// A running `raumwart console`.
pub struct Console {
    child: Option<Child>,
    pub port: u16,
    pub log: PathBuf,
    pub database: PathBuf,
    binary: &'static str,
    config: PathBuf,
}

impl Console {
    /// Starts the console on the env's config (see [`configure`]) and waits until it
    /// answers.
    pub async fn start(env: &Env, port: u16) -> Console {
        let log = env.dir.join("console.log");
        let file = fs::File::create(&log).unwrap();
        let config = env.daemon_config_path();
        let child = Command::new(env.repo.binary)
            .arg("console")
            .arg("--config")
            .arg(&config)
            .env("RAUMWART_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start raumwart console");
        let console = Console {
            child: Some(child),
            port,
            log,
            database: env.dir.join("console.sqlite"),
            binary: env.repo.binary,
            config,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(r) = console.get("/anmelden", &[]).await {
                assert_eq!(r.status, 200, "the console's login page: {}", r.body);
                return console;
            }
            assert!(
                Instant::now() < deadline,
                "the console did not answer within {WAIT:?}; its log: {}",
                console.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `raumwart console user …` on this console's config; its stdout, asserting success.
    pub fn user(&self, args: &[&str]) -> String {
        let out = Command::new(self.binary)
            .arg("console")
            .arg("--config")
            .arg(&self.config)
            .arg("user")
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "raumwart console user {args:?}: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// Adds an account (`--media-centre ID` or `--provider`) and returns its password.
    pub fn add_user(&self, login: &str, scope: &[&str]) -> String {
        let mut args = vec!["add", login];
        args.extend_from_slice(scope);
        let out = self.user(&args);
        out.lines()
            .find_map(|l| l.strip_prefix("password: "))
            .unwrap_or_else(|| panic!("no password in {out:?}"))
            .to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<Reply> {
        self.request("GET", path, headers, "").await
    }

    /// A form POST (`application/x-www-form-urlencoded`), fields encoded here.
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Reply> {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.request("POST", path, &all, &body).await
    }

    /// One HTTP/1.1 request, `Connection: close`, the whole answer back.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> anyhow::Result<Reply> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut raw = vec![];
        tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await??;
        Reply::parse(&raw)
    }

    /// Logs in through the form as a browser would; the session's cookie and CSRF token.
    pub async fn login(&self, login: &str, password: &str) -> Agent {
        let form = self.get("/anmelden", &[]).await.unwrap();
        let cookie = form
            .cookie("raumwart_anmeldung")
            .expect("the login form's cookie");
        let csrf = form.field("csrf").expect("the login form's token");
        let r = self
            .post(
                "/anmelden",
                &[("cookie", &format!("raumwart_anmeldung={cookie}"))],
                &[("login", login), ("password", password), ("csrf", &csrf)],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 303, "logging in as {login}: {}", r.body);
        let session = r.cookie("raumwart_konsole").expect("a session cookie");
        let cookie = format!("raumwart_konsole={session}");
        let page = self.get("/", &[("cookie", &cookie)]).await.unwrap();
        let csrf = page
            .field("csrf")
            .expect("the session's token on its pages");
        Agent { cookie, csrf }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A logged-in session as a crafted request carries it.
#[derive(Debug, Clone)]
pub struct Agent {
    /// `raumwart_konsole=TOKEN`, for a `cookie` header.
    pub cookie: String,
    pub csrf: String,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy), and as sent.
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Reply {
    fn parse(raw: &[u8]) -> anyhow::Result<Reply> {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| anyhow::anyhow!("no HTTP head in {:?}", String::from_utf8_lossy(raw)))?;
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let rest = &raw[end + 4..];
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no status in {head:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        let bytes = match chunked {
            true => dechunk(rest),
            false => rest.to_vec(),
        };
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every `set-cookie` line.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value a `set-cookie` gives `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().into_iter().find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (n, v) = pair.split_once('=')?;
            (n == name && !v.is_empty()).then(|| v.to_owned())
        })
    }

    /// The value of the first form field `name` in the page.
    pub fn field(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\""))?;
        let start = self.body[..at].rfind('<')?;
        let tag = &self.body[start..start + self.body[start..].find('>')?];
        let value = tag.split_once("value=\"")?.1;
        Some(value[..value.find('"')?].to_owned())
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    while let Some(line) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..line]);
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let after = &rest[line + 2..];
        if n == 0 || after.len() < n {
            break;
        }
        out.extend_from_slice(&after[..n]);
        rest = after[n..].strip_prefix(b"\r\n").unwrap_or(&after[n..]);
    }
    out
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
