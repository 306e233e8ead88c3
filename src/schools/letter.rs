//! The access letter: one printable A4 page in German that tells a school its rooms, its
//! organizer password, the session rules and whom to ask.
//!
//! The page is a single self-contained HTML file (styles inline, no script, no image, no
//! external resource), so it opens and prints the same in any browser, offline.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{self, Config};
use crate::schools::{self, Error, Files};

/// A calendar date, for the letter's date line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Today (UTC).
    pub fn today() -> Date {
        let days = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 86_400) as i64;
        Date::from_days(days)
    }

    /// The date `days` after 1970-01-01 (Howard Hinnant's civil_from_days).
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}.{:02}.{}", self.day, self.month, self.year)
    }
}

/// A rendered letter.
#[derive(Debug, Clone)]
pub struct Letter {
    pub school: String,
    pub html: String,
    /// Every room's link, as printed.
    pub links: Vec<String>,
}

/// `raumwart school letter ID --out FILE`: what was written.
#[derive(Debug, Clone)]
pub struct Written {
    pub school: String,
    pub out: PathBuf,
    pub rooms: usize,
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "wrote the access letter of school {} ({} room(s)) to {}",
            self.school,
            self.rooms,
            self.out.display()
        )?;
        writeln!(
            f,
            "it holds the organizer password: print it, hand it over, then delete the file"
        )
    }
}

/// Renders the letter of `school` from a validated config.
pub fn render(config: &Config, school: &str, date: Date) -> Result<Letter, Error> {
    let refused = |m: String| Error::Refused(m);
    let s = config
        .schools
        .iter()
        .find(|s| s.id == school)
        .ok_or_else(|| refused(format!("there is no school {school:?}")))?;
    let jitsi = config.jitsi.as_ref().ok_or_else(|| {
        refused("the letter needs the Jitsi address: set url in a [jitsi] table".into())
    })?;
    // Validation gives every school of a [[media_centre]] block its own: only a file
    // without any media centre lacks one.
    let centre = config.media_centre_of(&s.id).ok_or_else(|| {
        refused(
            "the letter names the media centre's office: set name, phone and mail in a \
             [media_centre] table"
                .into(),
        )
    })?;
    // One line per configured name, linked by its link node (the last of its nodes).
    let mut rooms: Vec<(String, String, String)> = vec![];
    for group in s.rooms.chunk_by(|a, b| a.configured == b.configured) {
        let last = &group[group.len() - 1];
        rooms.push((
            group[0].configured.clone(),
            format!("{}{}", jitsi.url, last.name),
            last.password.expose().to_owned(),
        ));
    }
    let one_password = rooms.windows(2).all(|w| w[0].2 == w[1].2);
    let links: Vec<String> = rooms.iter().map(|r| r.1.clone()).collect();
    let html = page(&Page {
        school_name: s.name.as_deref().unwrap_or(&s.id),
        school_id: &s.id,
        centre,
        date,
        rooms: &rooms,
        one_password,
        grace: config.policy.grace_period,
        jitsi: &jitsi.url,
    });
    Ok(Letter {
        school: s.id.clone(),
        html,
        links,
    })
}

/// Loads the config (validated like `check`) and writes the letter of `school` to `out`
/// (mode 0600: it holds a password), through a temporary file and a rename.
pub fn write(files: &Files, school: &str, out: &Path, date: Date) -> Result<Written, Error> {
    let text = fs::read_to_string(&files.config).map_err(|source| {
        Error::Config(config::Error::Read {
            path: files.config.clone(),
            source,
        })
    })?;
    let config = schools::validate(files, &text)?;
    let letter = render(&config, school, date)?;
    let io = |source| Error::Io {
        path: out.to_owned(),
        source,
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = out.with_file_name(format!(".{name}.raumwart-{}", std::process::id()));
    let _ = fs::remove_file(&temp);
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(letter.html.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temp, out)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(io(e));
    }
    Ok(Written {
        school: letter.school,
        out: out.to_owned(),
        rooms: letter.links.len(),
    })
}

struct Page<'a> {
    school_name: &'a str,
    school_id: &'a str,
    centre: &'a config::MediaCentre,
    date: Date,
    /// (configured name, link, password)
    rooms: &'a [(String, String, String)],
    one_password: bool,
    grace: Duration,
    jitsi: &'a str,
}

/// HTML-escapes text for element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// "60 Sekunden", "2 Minuten", "1 Minute und 30 Sekunden".
fn german_duration(d: Duration) -> String {
    let s = d.as_secs();
    let unit = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut parts = vec![];
    if h > 0 {
        parts.push(unit(h, "Stunde", "Stunden"));
    }
    if m > 0 {
        parts.push(unit(m, "Minute", "Minuten"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(unit(s, "Sekunde", "Sekunden"));
    }
    parts.join(" und ")
}

const STYLE: &str = r#"
@page { size: A4; margin: 15mm 18mm 13mm 22mm; }
* { box-sizing: border-box; }
html { background: #e8e8e8; }
body { margin: 0; font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif;
  font-size: 9.3pt; line-height: 1.32; color: #000; }
.page { width: 210mm; min-height: 297mm; margin: 8mm auto; padding: 15mm 18mm 13mm 22mm;
  background: #fff; box-shadow: 0 1mm 4mm rgba(0,0,0,.25); }
header { display: flex; justify-content: space-between; align-items: flex-start;
  border-bottom: 0.4mm solid #000; padding-bottom: 2.5mm; }
.sender { font-weight: bold; font-size: 11pt; }
.sender div + div { font-weight: normal; font-size: 8.8pt; }
.date { font-size: 9pt; white-space: nowrap; }
.recipient { margin: 5mm 0 4mm; }
.recipient .name { font-size: 11pt; font-weight: bold; }
h1 { font-size: 13.5pt; margin: 0 0 2.5mm; }
h2 { font-size: 10.5pt; margin: 4mm 0 1.5mm; }
.nowrap { white-space: nowrap; }
p { margin: 0 0 1.8mm; }
.link, .password { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace; }
.link { font-size: 9pt; white-space: nowrap; color: #000; text-decoration: none; }
.typed { display: block; font-size: 8pt; color: #333; margin-left: 4mm; }
ul.rooms { margin: 1.5mm 0 2.5mm; padding-left: 5mm; }
ul.rooms li { margin: 0 0 0.3mm; break-inside: avoid; }
ul.rooms.two { columns: 2; column-gap: 6mm; }
table { border-collapse: collapse; width: 100%; margin: 1.5mm 0 2.5mm; }
th, td { text-align: left; vertical-align: top; padding: 0.8mm 2mm 0.8mm 0; border-bottom: 0.2mm solid #999; }
th { font-size: 8.6pt; border-bottom: 0.35mm solid #000; }
td.password { white-space: nowrap; font-weight: bold; }
.password-box { border: 0.5mm solid #000; padding: 2mm 4mm; margin: 2.5mm 0 1.5mm;
  display: flex; align-items: baseline; gap: 5mm; }
.password-box .password { font-size: 14pt; font-weight: bold; letter-spacing: 0.3mm; }
.hint { font-size: 8.6pt; }
ol { margin: 0; padding-left: 5.5mm; }
li { margin: 0 0 1.1mm; padding-left: 1mm; }
.contact { margin-top: 4mm; border-top: 0.2mm solid #999; padding-top: 2mm; }
footer { margin-top: 3mm; font-size: 8pt; color: #333; }
@media print {
  html { background: none; }
  .page { width: auto; min-height: 0; margin: 0; padding: 0; box-shadow: none; }
  a { color: #000; }
}
"#;

fn page(p: &Page<'_>) -> String {
    let c = p.centre;
    let mut sender_lines = vec![format!("<div>{}</div>", esc(&c.name))];
    if let Some(address) = &c.address {
        sender_lines.push(format!("<div>{}</div>", esc(address)));
    }
    // A room whose name is not its link's node also gets its name, as typed into Jitsi.
    let typed = |name: &str, link: &str| {
        if link.ends_with(&format!("/{name}")) {
            String::new()
        } else {
            format!(
                "<span class=\"typed\">oder „{}“ auf der Startseite eingeben</span>",
                esc(name)
            )
        }
    };
    let rooms_block = if p.one_password {
        // Two columns when there are many rooms and the links are short enough.
        let two = p.rooms.len() > 6 && p.rooms.iter().all(|r| r.1.chars().count() <= 52);
        let mut items = String::new();
        for (name, link, _) in p.rooms {
            items.push_str(&format!(
                "<li><a class=\"link\" href=\"{}\">{}</a>{}</li>\n",
                esc(link),
                esc(link),
                typed(name, link)
            ));
        }
        format!(
            "<ul class=\"rooms{}\">\n{items}</ul>\n\
             <div class=\"password-box\"><span>Organisator-Passwort:</span>\
             <span class=\"password\">{}</span></div>\n",
            if two { " two" } else { "" },
            esc(&p.rooms[0].2)
        )
    } else {
        let mut rows = String::new();
        for (name, link, password) in p.rooms {
            rows.push_str(&format!(
                "<tr><td><a class=\"link\" href=\"{}\">{}</a>{}</td>\
                 <td class=\"password\">{}</td></tr>\n",
                esc(link),
                esc(link),
                typed(name, link),
                esc(password)
            ));
        }
        format!(
            "<table>\n<thead><tr><th>Raum</th><th>Organisator-Passwort</th></tr></thead>\n\
             <tbody>\n{rows}</tbody>\n</table>\n"
        )
    };
    let grace_rule = if p.grace.is_zero() {
        "<li><b>Als Letzte oder Letzter gehen.</b> Verlässt der letzte Organisator den \
         Raum, endet die Sitzung sofort: Alle, die noch im Raum sind, werden mit einem \
         kurzen Hinweis hinausgeleitet.</li>"
            .to_owned()
    } else {
        format!(
            "<li><b>Als Letzte oder Letzter gehen.</b> Verlässt der letzte Organisator den \
             Raum, dürfen die Schülerinnen und Schüler noch {} bleiben. Kommt in dieser Zeit \
             eine Lehrkraft mit dem Schulpasswort zurück, geht die Stunde weiter; sonst endet \
             die Sitzung und alle werden mit einem kurzen Hinweis hinausgeleitet.</li>",
            german_duration(p.grace)
        )
    };
    let mut contact = vec![format!("<b>{}</b>", esc(&c.name))];
    if let Some(phone) = &c.phone {
        contact.push(format!(
            "<span class=\"nowrap\">Telefon {}</span>",
            esc(phone)
        ));
    }
    if let Some(mail) = &c.mail {
        contact.push(format!(
            "<span class=\"nowrap\">E-Mail {}</span>",
            esc(mail)
        ));
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Zugang zu den Videokonferenzräumen – {school_name}</title>
<style>{STYLE}</style>
</head>
<body>
<div class="page">
<header>
<div class="sender">{sender}</div>
<div class="date">{date}</div>
</header>
<div class="recipient">
<div>An die</div>
<div class="name">{school_name}</div>
<div class="hint">Schulkennung: {school_id}</div>
</div>
<h1>Zugang zu den Videokonferenzräumen Ihrer Schule</h1>
<p>Sehr geehrte Damen und Herren,</p>
<p>für Ihre Schule sind auf {jitsi_host} die folgenden Konferenzräume eingerichtet. Lehrkräfte
öffnen den Link eines Raums, betreten ihn mit dem Organisator-Passwort und leiten dort ihre Stunde:</p>
{rooms_block}<p class="hint">Das Organisator-Passwort ist nur für Lehrkräfte. Geben Sie es nicht an Schülerinnen
und Schüler weiter und bewahren Sie dieses Schreiben sicher auf. Ein neues Passwort erhalten Sie
jederzeit beim Medienzentrum, zum Beispiel wenn eine Lehrkraft die Schule verlässt.</p>
<h2>So läuft eine Stunde</h2>
<ol>
<li><b>Mit dem Schulpasswort eintreten.</b> Wer den Raum mit dem Organisator-Passwort betritt,
ist Organisator (Moderator) – zu Beginn und jederzeit später, auch nach dem Neuladen der Seite
oder einer Verbindungsstörung.</li>
<li><b>Ein Klassenpasswort setzen.</b> Legen Sie in Jitsi unter „Sicherheitsoptionen“ ein
Passwort für die Stunde fest und geben Sie es mit dem Link an Ihre Klasse. Schülerinnen und
Schüler treten damit als Teilnehmende ein.</li>
<li><b>Kolleginnen und Kollegen</b> werden Organisator, wenn ein Organisator sie in Jitsi zum
Moderator macht.</li>
{grace_rule}
<li><b>Danach ist der Raum wieder frisch.</b> Nach der Sitzung wird der Raum zurückgesetzt: Das
Klassenpasswort gilt nicht mehr; Chat, Thema, Moderatorenrechte und Lobby sind gelöscht, und der
Raum öffnet sich wieder mit dem Schulpasswort.</li>
</ol>
<div class="contact">
<p><b>Fragen und Hilfe</b> – auch wenn eine Stunde beendet werden muss:</p>
<p>{contact}</p>
</div>
<footer>Dieses Schreiben enthält ein Passwort: Bewahren Sie es sicher auf und vernichten Sie es,
sobald Sie ein neues erhalten. Auskunft zum Datenschutz gibt das Medienzentrum.</footer>
</div>
</body>
</html>
"#,
        school_name = esc(p.school_name),
        school_id = esc(p.school_id),
        sender = sender_lines.concat(),
        date = p.date,
        jitsi_host = esc(p
            .jitsi
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')),
        contact = contact.join(" · "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(Date::from_days(0).to_string(), "01.01.1970");
        assert_eq!(Date::from_days(20_513).to_string(), "01.03.2026");
        assert_eq!(Date::from_days(11_016).to_string(), "29.02.2000");
    }

    #[test]
    fn durations_in_german() {
        assert_eq!(german_duration(Duration::from_secs(60)), "1 Minute");
        assert_eq!(german_duration(Duration::from_secs(45)), "45 Sekunden");
        assert_eq!(
            german_duration(Duration::from_secs(90)),
            "1 Minute und 30 Sekunden"
        );
        assert_eq!(german_duration(Duration::from_secs(7200)), "2 Stunden");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">Tom & 'Jerry'</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }
}
