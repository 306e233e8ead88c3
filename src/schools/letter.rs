//! The access letter: one printable A4 page in German that tells a school its rooms, its
//! organizer password, the session rules and whom to ask.
//!
//! What the letter says is one `Model`, built from the config; it is shown two ways,
//! from the same texts, so the two cannot tell a school different things:
//!
//! - [`render`]: a single self-contained HTML file (styles inline, no script, no image, no
//!   external resource), so it opens and prints the same in any browser, offline.
//! - [`pdf()`]: a PDF file, for a download where no browser prints (drawn by the small
//!   writer in the submodule `pdf`, in the standard fonts: one A4 page, a second only
//!   when many rooms need it).

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{self, Config};
use crate::schools::{self, Error, Files};
use pdf::{Document, Font, Page, Runs, Text, A4, MM};

mod pdf;

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

/// Renders the letter of `school` from a validated config, as an HTML page.
pub fn render(config: &Config, school: &str, date: Date) -> Result<Letter, Error> {
    let model = Model::new(config, school, date)?;
    Ok(Letter {
        html: page(&model),
        links: model.rooms.iter().map(|r| r.link.clone()).collect(),
        school: model.school,
    })
}

/// The letter of `school` as a PDF file: the page [`render`] writes, drawn on A4 in
/// Helvetica, links and passwords in Courier (l and 1, O and 0 differ); a second page
/// only when the rooms do not fit on one. Other text shows a character the fonts lack
/// as '?'; a password or link with one is refused (the HTML page shows it).
pub fn pdf(config: &Config, school: &str, date: Date) -> Result<Vec<u8>, Error> {
    pdf_of(&Model::new(config, school, date)?)
}

// --- what the letter says ------------------------------------------------------------

const TITLE: &str = "Zugang zu den Videokonferenzräumen";
const HEADING: &str = "Zugang zu den Videokonferenzräumen Ihrer Schule";
const RECIPIENT: &str = "An die";
const SALUTATION: &str = "Sehr geehrte Damen und Herren,";
const ROOM: &str = "Raum";
const PASSWORD: &str = "Organisator-Passwort";
const KEEP_IT: &str = "Das Organisator-Passwort ist nur für Lehrkräfte. Geben Sie es nicht \
    an Schülerinnen und Schüler weiter und bewahren Sie dieses Schreiben sicher auf. Ein \
    neues Passwort erhalten Sie jederzeit beim Medienzentrum, zum Beispiel wenn eine \
    Lehrkraft die Schule verlässt.";
const STEPS: &str = "So läuft eine Stunde";
/// The contact's heading, bold, and the rest of its line.
const HELP: (&str, &str) = (
    "Fragen und Hilfe",
    " – auch wenn eine Stunde beendet werden muss:",
);
const FOOTER: &str = "Dieses Schreiben enthält ein Passwort: Bewahren Sie es sicher auf und \
    vernichten Sie es, sobald Sie ein neues erhalten. Auskunft zum Datenschutz gibt das \
    Medienzentrum.";

/// What a letter says, whichever way it is shown.
struct Model {
    school: String,
    school_name: String,
    /// "Schulkennung: ID".
    school_id: String,
    /// The document's title, for a browser tab or a PDF reader's title bar.
    title: String,
    /// The media centre's name and, if set, its address.
    sender: Vec<String>,
    date: String,
    intro: String,
    rooms: Vec<RoomLine>,
    /// The organizer password when all rooms share it; else each room shows its own.
    password: Option<String>,
    /// The session rules: each a bold lead and the rest of its sentence(s).
    steps: Vec<(&'static str, String)>,
    /// The media centre's name, then "Telefon …" and "E-Mail …" if set: each kept on one
    /// line.
    contact: Vec<String>,
}

/// One room as the letter lists it.
struct RoomLine {
    link: String,
    /// How to reach it by its name on Jitsi's start page, when the link's node is not
    /// that name.
    typed: Option<String>,
    password: String,
}

impl Model {
    fn new(config: &Config, school: &str, date: Date) -> Result<Model, Error> {
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
        let mut rooms = vec![];
        for group in s.rooms.chunk_by(|a, b| a.configured == b.configured) {
            let (name, last) = (&group[0].configured, &group[group.len() - 1]);
            let link = format!("{}{}", jitsi.url, last.name);
            rooms.push(RoomLine {
                typed: (!link.ends_with(&format!("/{name}")))
                    .then(|| format!("oder „{name}“ auf der Startseite eingeben")),
                link,
                password: last.password.expose().to_owned(),
            });
        }
        let shared = rooms.windows(2).all(|w| w[0].password == w[1].password);
        let password = if shared {
            rooms.first().map(|r| r.password.clone())
        } else {
            None
        };
        let school_name = s.name.clone().unwrap_or_else(|| s.id.clone());
        let host = jitsi
            .url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let grace = config.policy.grace_period;
        let leaving = if grace.is_zero() {
            "Verlässt der letzte Organisator den Raum, endet die Sitzung sofort: Alle, die \
             noch im Raum sind, werden mit einem kurzen Hinweis hinausgeleitet."
                .to_owned()
        } else {
            format!(
                "Verlässt der letzte Organisator den Raum, dürfen die Schülerinnen und \
                 Schüler noch {} bleiben. Kommt in dieser Zeit eine Lehrkraft mit dem \
                 Schulpasswort zurück, geht die Stunde weiter; sonst endet die Sitzung und \
                 alle werden mit einem kurzen Hinweis hinausgeleitet.",
                german_duration(grace)
            )
        };
        let steps = vec![
            (
                "Mit dem Schulpasswort eintreten.",
                "Wer den Raum mit dem Organisator-Passwort betritt, ist Organisator \
                 (Moderator) – zu Beginn und jederzeit später, auch nach dem Neuladen der \
                 Seite oder einer Verbindungsstörung."
                    .to_owned(),
            ),
            (
                "Ein Klassenpasswort setzen.",
                "Legen Sie in Jitsi unter „Sicherheitsoptionen“ ein Passwort für die Stunde \
                 fest und geben Sie es mit dem Link an Ihre Klasse. Schülerinnen und Schüler \
                 treten damit als Teilnehmende ein."
                    .to_owned(),
            ),
            (
                "Kolleginnen und Kollegen",
                "werden Organisator, wenn ein Organisator sie in Jitsi zum Moderator macht."
                    .to_owned(),
            ),
            ("Als Letzte oder Letzter gehen.", leaving),
            (
                "Danach ist der Raum wieder frisch.",
                "Nach der Sitzung wird der Raum zurückgesetzt: Das Klassenpasswort gilt \
                 nicht mehr; Chat, Thema, Moderatorenrechte und Lobby sind gelöscht, und der \
                 Raum öffnet sich wieder mit dem Schulpasswort."
                    .to_owned(),
            ),
        ];
        let mut contact = vec![centre.name.clone()];
        contact.extend(centre.phone.as_ref().map(|p| format!("Telefon {p}")));
        contact.extend(centre.mail.as_ref().map(|m| format!("E-Mail {m}")));
        Ok(Model {
            school: s.id.clone(),
            title: format!("{TITLE} – {school_name}"),
            school_id: format!("Schulkennung: {}", s.id),
            school_name,
            sender: std::iter::once(centre.name.clone())
                .chain(centre.address.clone())
                .collect(),
            date: date.to_string(),
            intro: format!(
                "für Ihre Schule sind auf {host} die folgenden Konferenzräume eingerichtet. \
                 Lehrkräfte öffnen den Link eines Raums, betreten ihn mit dem \
                 Organisator-Passwort und leiten dort ihre Stunde:"
            ),
            rooms,
            password,
            steps,
            contact,
        })
    }
}

/// Loads the config (validated like `check`) and writes the letter of `school` to `out`
/// (mode 0600: it holds a password), through a temporary file and a rename. The read
/// holds the register's lock, so a letter never mixes a password before and after a
/// change.
pub fn write(files: &Files, school: &str, out: &Path, date: Date) -> Result<Written, Error> {
    let _lock = schools::ConfigLock::shared(&files.config)?;
    let text = fs::read_to_string(&files.config).map_err(|source| {
        Error::Config(config::Error::Read {
            path: files.config.clone(),
            source,
        })
    })?;
    let config = schools::validate(files, &text)?;
    let letter = render(&config, school, date)?;
    // A file named *.pdf gets the PDF, any other the HTML page.
    let pdf_wanted = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pdf"));
    let bytes = match pdf_wanted {
        true => pdf(&config, school, date)?,
        false => letter.html.into_bytes(),
    };
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
        file.write_all(&bytes)?;
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

fn page(m: &Model) -> String {
    let sender: String = m
        .sender
        .iter()
        .map(|line| format!("<div>{}</div>", esc(line)))
        .collect();
    let typed = |room: &RoomLine| match &room.typed {
        Some(typed) => format!("<span class=\"typed\">{}</span>", esc(typed)),
        None => String::new(),
    };
    let link = |room: &RoomLine| {
        format!(
            "<a class=\"link\" href=\"{}\">{}</a>{}",
            esc(&room.link),
            esc(&room.link),
            typed(room)
        )
    };
    let rooms_block = if let Some(password) = &m.password {
        // Two columns when there are many rooms and the links are short enough.
        let two = m.rooms.len() > 6 && m.rooms.iter().all(|r| r.link.chars().count() <= 52);
        let items: String = m
            .rooms
            .iter()
            .map(|room| format!("<li>{}</li>\n", link(room)))
            .collect();
        format!(
            "<ul class=\"rooms{}\">\n{items}</ul>\n\
             <div class=\"password-box\"><span>{PASSWORD}:</span>\
             <span class=\"password\">{}</span></div>\n",
            if two { " two" } else { "" },
            esc(password)
        )
    } else {
        let rows: String = m
            .rooms
            .iter()
            .map(|room| {
                format!(
                    "<tr><td>{}</td><td class=\"password\">{}</td></tr>\n",
                    link(room),
                    esc(&room.password)
                )
            })
            .collect();
        format!(
            "<table>\n<thead><tr><th>{ROOM}</th><th>{PASSWORD}</th></tr></thead>\n\
             <tbody>\n{rows}</tbody>\n</table>\n"
        )
    };
    let steps: String = m
        .steps
        .iter()
        .map(|(lead, rest)| format!("<li><b>{}</b> {}</li>\n", esc(lead), esc(rest)))
        .collect();
    let mut contact = vec![];
    for (i, item) in m.contact.iter().enumerate() {
        contact.push(match i {
            0 => format!("<b>{}</b>", esc(item)),
            _ => format!("<span class=\"nowrap\">{}</span>", esc(item)),
        });
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<div class="page">
<header>
<div class="sender">{sender}</div>
<div class="date">{date}</div>
</header>
<div class="recipient">
<div>{RECIPIENT}</div>
<div class="name">{school_name}</div>
<div class="hint">{school_id}</div>
</div>
<h1>{HEADING}</h1>
<p>{SALUTATION}</p>
<p>{intro}</p>
{rooms_block}<p class="hint">{KEEP_IT}</p>
<h2>{STEPS}</h2>
<ol>
{steps}</ol>
<div class="contact">
<p><b>{help}</b>{help_rest}</p>
<p>{contact}</p>
</div>
<footer>{FOOTER}</footer>
</div>
</body>
</html>
"#,
        title = esc(&m.title),
        school_name = esc(&m.school_name),
        school_id = esc(&m.school_id),
        date = esc(&m.date),
        intro = esc(&m.intro),
        help = esc(HELP.0),
        help_rest = esc(HELP.1),
        contact = contact.join(" · "),
    )
}

// --- the PDF -------------------------------------------------------------------------
//
// The HTML page's layout, in points: its margins, sizes, gaps and greys.

const LEFT: f32 = 22.0 * MM;
const RIGHT: f32 = A4.0 - 18.0 * MM;
const TOP: f32 = 15.0 * MM;
/// The lowest a line may reach.
const BOTTOM: f32 = A4.1 - 13.0 * MM;
const WIDTH: f32 = RIGHT - LEFT;
/// The body text's size, and every line's height per point of its size.
const BODY: f32 = 9.3;
const LEADING: f32 = 1.32;
/// Grey of hints (#333) and of thin rules (#999).
const HINT_GRAY: f32 = 0.2;
const RULE_GRAY: f32 = 0.6;
/// Links and passwords in the rooms' list and table.
const MONO: f32 = 9.0;
/// Below this size links in two columns would be too small to read: one column then.
const MONO_MIN: f32 = 8.0;

/// Lines of text in one size, line height and grey, drawn `indent` right of where they
/// are placed; a `link` makes each line a link annotation to it.
struct Lines {
    lines: Vec<Runs>,
    size: f32,
    leading: f32,
    gray: f32,
    indent: f32,
    link: Option<String>,
}

impl Lines {
    /// `texts` wrapped to `width`.
    fn new(texts: &[Text<'_>], size: f32, width: f32) -> Lines {
        Lines {
            lines: pdf::wrap(texts, size, width),
            size,
            leading: LEADING,
            gray: 0.0,
            indent: 0.0,
            link: None,
        }
    }

    fn hint(mut self, indent: f32) -> Lines {
        self.gray = HINT_GRAY;
        self.indent = indent;
        self
    }

    fn height(&self) -> f32 {
        self.lines.len() as f32 * self.size * self.leading
    }

    /// Draws the lines with the first one's top at `y`; returns their height.
    fn draw(&self, page: &mut Page, x: f32, y: f32) -> f32 {
        let x = x + self.indent;
        let line_height = self.size * self.leading;
        for (i, runs) in self.lines.iter().enumerate() {
            let top = y + i as f32 * line_height;
            let y = baseline(top, self.size, self.leading);
            page.text(x, y, self.size, self.gray, runs);
            if let Some(target) = &self.link {
                let width = pdf::runs_width(runs, self.size);
                page.link(x, top, width, line_height, target);
            }
        }
        self.height()
    }
}

/// The baseline of a line whose box starts at `top`: Helvetica's letters centred in the
/// box, as a browser sets them (Courier on the same line shares it).
fn baseline(top: f32, size: f32, leading: f32) -> f32 {
    let (ascent, descent) = Font::Helvetica.extent();
    top + (size * leading - (ascent + descent) * size) / 2.0 + ascent * size
}

fn height(blocks: &[Lines]) -> f32 {
    blocks.iter().map(Lines::height).sum()
}

/// Fills pages from the top: `y` is where the next line's box starts on the last page.
struct Flow {
    doc: Document,
    y: f32,
}

impl Flow {
    fn page(&mut self) -> &mut Page {
        self.doc.pages_mut().last_mut().expect("a page")
    }

    fn new_page(&mut self) {
        self.doc.add_page();
        self.y = TOP;
    }

    /// Makes room for `height`: a new page when this one's rest is too short (unless it
    /// is empty).
    fn need(&mut self, height: f32) {
        if self.y + height > BOTTOM && self.y > TOP {
            self.new_page();
        }
    }

    /// Space between blocks, none at the top of a page.
    fn gap(&mut self, space: f32) {
        if self.y > TOP {
            self.y += space;
        }
    }

    /// Draws blocks one below the other at `x`, on this page or, when they do not fit,
    /// together on the next; what is taller than a page, line by line over pages.
    fn draw(&mut self, x: f32, blocks: &[Lines]) {
        let total = height(blocks);
        self.need(total);
        for block in blocks {
            if total <= BOTTOM - TOP {
                let y = self.y;
                self.y += block.draw(self.page(), x, y);
                continue;
            }
            for runs in &block.lines {
                let line = Lines {
                    lines: vec![runs.clone()],
                    link: block.link.clone(),
                    ..*block
                };
                self.need(line.height());
                let y = self.y;
                self.y += line.draw(self.page(), x, y);
            }
        }
    }
}

/// Room lines as close as they can be and stay easy to read, tried when the letter would
/// take more than a page: 50 rooms in two columns then fit on one.
const COMPACT: f32 = 1.08;

fn pdf_of(m: &Model) -> Result<Vec<u8>, Error> {
    // With a '?' in place of one of its characters a password or link would not work.
    if let Some(room) = m
        .rooms
        .iter()
        .find(|r| !pdf::encodable(&r.password) || !pdf::encodable(&r.link))
    {
        return Err(Error::Refused(format!(
            "the PDF's fonts lack a character of the link or the password of room {}; \
             the HTML letter shows them as they are",
            room.link
        )));
    }
    let mut doc = layout(m, LEADING);
    if doc.page_count() > 1 {
        let compact = layout(m, COMPACT);
        if compact.page_count() == 1 {
            doc = compact;
        }
    }
    Ok(doc.finish())
}

/// The letter on pages, its room lines `room_leading` apart (per point of their size).
fn layout(m: &Model, room_leading: f32) -> Document {
    let (regular, bold) = (Font::Helvetica, Font::HelveticaBold);
    let mut f = Flow {
        doc: Document::new(A4, &m.title, "de-DE"),
        y: TOP,
    };
    f.doc.add_page();

    // The sender, the date at the right, a rule.
    let date_width = regular.width(&m.date, 9.0);
    let sender_width = WIDTH - date_width - 6.0 * MM;
    f.page().text(
        RIGHT - date_width,
        baseline(TOP, 9.0, LEADING),
        9.0,
        0.0,
        &[(regular, m.date.clone())],
    );
    let mut sender = vec![Lines::new(
        &[Text::new(bold, &m.sender[0])],
        11.0,
        sender_width,
    )];
    for line in &m.sender[1..] {
        sender.push(Lines::new(&[Text::new(regular, line)], 8.8, sender_width));
    }
    f.draw(LEFT, &sender);
    f.y += 2.5 * MM;
    let rule = 0.4 * MM;
    let y = f.y + rule / 2.0;
    f.page().rule(LEFT, RIGHT, y, rule, 0.0);
    f.y += rule;

    f.gap(5.0 * MM);
    f.draw(
        LEFT,
        &[
            Lines::new(&[Text::new(regular, RECIPIENT)], BODY, WIDTH),
            Lines::new(&[Text::new(bold, &m.school_name)], 11.0, WIDTH),
            Lines::new(&[Text::new(regular, &m.school_id)], 8.6, WIDTH),
        ],
    );
    f.gap(4.0 * MM);
    f.draw(
        LEFT,
        &[Lines::new(&[Text::new(bold, HEADING)], 13.5, WIDTH)],
    );
    f.gap(2.5 * MM);
    for text in [SALUTATION, &m.intro] {
        f.draw(
            LEFT,
            &[Lines::new(&[Text::new(regular, text)], BODY, WIDTH)],
        );
        f.gap(1.8 * MM);
    }

    match &m.password {
        Some(password) => {
            room_list(&mut f, &m.rooms, room_leading);
            password_box(&mut f, password);
        }
        None => room_table(&mut f, &m.rooms, room_leading),
    }
    f.draw(
        LEFT,
        &[Lines::new(&[Text::new(regular, KEEP_IT)], 8.6, WIDTH)],
    );

    // The heading stays with the first rule.
    let steps: Vec<Lines> = m
        .steps
        .iter()
        .map(|(lead, rest)| {
            let texts = [
                Text::new(bold, lead),
                Text::new(regular, " "),
                Text::new(regular, rest),
            ];
            Lines::new(&texts, BODY, WIDTH - 6.5 * MM)
        })
        .collect();
    f.gap(4.0 * MM);
    let heading = Lines::new(&[Text::new(bold, STEPS)], 10.5, WIDTH);
    f.need(heading.height() + 1.5 * MM + steps[0].height());
    f.draw(LEFT, &[heading]);
    f.y += 1.5 * MM;
    for (i, step) in steps.iter().enumerate() {
        f.need(step.height());
        let number = format!("{}.", i + 1);
        let x = LEFT + 5.0 * MM - regular.width(&number, BODY);
        let y = baseline(f.y, BODY, LEADING);
        f.page().text(x, y, BODY, 0.0, &[(regular, number)]);
        f.draw(LEFT + 6.5 * MM, std::slice::from_ref(step));
        f.gap(1.1 * MM);
    }

    // Whom to ask, after a thin rule, kept together; the footer.
    let mut contact = vec![Text::kept(bold, &m.contact[0])];
    for item in &m.contact[1..] {
        contact.push(Text::new(regular, " · "));
        contact.push(Text::kept(regular, item));
    }
    let help = [
        Lines::new(
            &[Text::new(bold, HELP.0), Text::new(regular, HELP.1)],
            BODY,
            WIDTH,
        ),
        Lines::new(&contact, BODY, WIDTH),
    ];
    f.gap(4.0 * MM - 1.1 * MM);
    f.need(2.0 * MM + height(&help) + 1.8 * MM);
    let y = f.y;
    f.page().rule(LEFT, RIGHT, y, 0.2 * MM, RULE_GRAY);
    f.y += 2.0 * MM;
    f.draw(LEFT, &help[..1]);
    f.y += 1.8 * MM;
    f.draw(LEFT, &help[1..]);
    f.gap(3.0 * MM);
    f.draw(
        LEFT,
        &[Lines::new(&[Text::new(regular, FOOTER)], 8.0, WIDTH).hint(0.0)],
    );

    // More than one page: each says which it is.
    let pages = f.doc.pages_mut();
    let count = pages.len();
    if count > 1 {
        for (i, page) in pages.iter_mut().enumerate() {
            let text = format!("{} · Seite {} von {count}", m.title, i + 1);
            let x = RIGHT - regular.width(&text, 8.0);
            page.text(x, A4.1 - 7.0 * MM, 8.0, HINT_GRAY, &[(regular, text)]);
        }
    }
    f.doc
}

/// A room's link, as text and as a link, and below it, if it has one, the hint to type
/// its name, indented.
fn room_lines(room: &RoomLine, size: f32, width: f32, leading: f32) -> Vec<Lines> {
    let mut link = Lines::new(&[Text::new(Font::Courier, &room.link)], size, width);
    link.link = Some(room.link.clone());
    link.leading = leading;
    let mut lines = vec![link];
    if let Some(typed) = &room.typed {
        let text = [Text::new(Font::Helvetica, typed)];
        lines.push(Lines::new(&text, 8.0, width - 4.0 * MM).hint(4.0 * MM));
    }
    lines
}

/// The rooms sharing one password: a bulleted list of links, in two columns when there
/// are many and their links fit, filled column by column on each page.
fn room_list(f: &mut Flow, rooms: &[RoomLine], leading: f32) {
    let bullet = 5.0 * MM;
    let column_gap = 6.0 * MM;
    let half = (WIDTH - column_gap) / 2.0;
    let longest = rooms
        .iter()
        .map(|r| Font::Courier.width(&r.link, 1.0))
        .fold(0.0, f32::max);
    let fitting = (half - bullet) / longest;
    let (columns, size, width) = if rooms.len() > 6 && fitting >= MONO_MIN {
        (2, fitting.min(MONO), half)
    } else {
        (1, MONO, WIDTH)
    };
    let items: Vec<Vec<Lines>> = rooms
        .iter()
        .map(|room| room_lines(room, size, width - bullet, leading))
        .collect();
    // As much space between items as the lines gain when compact.
    let space = if leading < LEADING { 0.0 } else { 0.3 * MM };
    let heights: Vec<f32> = items.iter().map(|i| height(i) + space).collect();
    // Rows of `n` items set in columns: each row as high as its highest item.
    let rows = |rest: &[f32], n: usize| -> Vec<f32> {
        let per_column = n.div_ceil(columns);
        (0..per_column)
            .map(|row| {
                (0..columns)
                    .map(|c| c * per_column + row)
                    .filter(|&i| i < n)
                    .map(|i| rest[i])
                    .fold(0.0, f32::max)
            })
            .collect()
    };
    let mut next = 0;
    while next < items.len() {
        let rest = &heights[next..];
        let room = BOTTOM - f.y;
        let mut n = rest.len();
        while n > 0 && rows(rest, n).iter().sum::<f32>() > room {
            n -= 1;
        }
        if n == 0 {
            if f.y > TOP {
                f.new_page();
                continue;
            }
            n = 1;
        }
        let per_column = n.div_ceil(columns);
        let mut y = f.y;
        for (row, row_height) in rows(rest, n).into_iter().enumerate() {
            for column in 0..columns {
                let i = column * per_column + row;
                if i >= n {
                    continue;
                }
                let x = LEFT + column as f32 * (half + column_gap);
                let page = f.page();
                let item = &items[next + i];
                let size = item[0].size;
                page.text(
                    x + 1.5 * MM,
                    baseline(y, size, leading),
                    size,
                    0.0,
                    &[(Font::Helvetica, "•".into())],
                );
                let mut top = y;
                for lines in item {
                    top += lines.draw(page, x + bullet, top);
                }
            }
            y += row_height;
        }
        f.y = y;
        next += n;
    }
}

/// The password the rooms share, framed: 14 pt as on the HTML page, smaller for a long
/// one (down to the rooms' size), then wrapped.
fn password_box(f: &mut Flow, password: &str) {
    let (pad_x, pad_y) = (4.0 * MM, 2.0 * MM);
    let label = format!("{PASSWORD}:");
    let label_width = Font::Helvetica.width(&label, BODY);
    let room = WIDTH - 2.0 * pad_x - label_width - 5.0 * MM;
    let size = (room / Font::CourierBold.width(password, 1.0)).clamp(MONO, 14.0);
    let lines = Lines::new(&[Text::new(Font::CourierBold, password)], size, room);
    let box_height = 2.0 * pad_y + lines.height();
    f.y += 2.5 * MM;
    f.need(box_height);
    let top = f.y;
    let page = f.page();
    page.frame(LEFT, top, WIDTH, box_height, 0.5 * MM);
    let y = baseline(top + pad_y, size, LEADING);
    page.text(LEFT + pad_x, y, BODY, 0.0, &[(Font::Helvetica, label)]);
    lines.draw(page, LEFT + pad_x + label_width + 5.0 * MM, top + pad_y);
    f.y += box_height + 1.5 * MM;
}

/// Rooms with passwords of their own: a table of links and passwords, its header again
/// on every page it continues on.
fn room_table(f: &mut Flow, rooms: &[RoomLine], leading: f32) {
    let gap = 8.0 * MM;
    let pad = if leading < LEADING {
        0.4 * MM
    } else {
        0.8 * MM
    };
    let widest = |font: Font, text: fn(&RoomLine) -> &str| {
        rooms
            .iter()
            .map(|r| font.width(text(r), MONO))
            .fold(0.0, f32::max)
    };
    let links = widest(Font::Courier, |r| &r.link);
    let passwords = widest(Font::CourierBold, |r| &r.password);
    // The passwords' column after the longest link, at half the width or more, further
    // left for long passwords; what still does not fit wraps.
    let column = (links + gap)
        .max(WIDTH / 2.0)
        .min(WIDTH - passwords)
        .max(WIDTH * 0.4);
    let header = |f: &mut Flow| {
        let size = 8.6;
        let y = baseline(f.y + pad, size, LEADING);
        let page = f.page();
        page.text(LEFT, y, size, 0.0, &[(Font::HelveticaBold, ROOM.into())]);
        page.text(
            LEFT + column,
            y,
            size,
            0.0,
            &[(Font::HelveticaBold, PASSWORD.into())],
        );
        f.y += 2.0 * pad + size * LEADING;
        let y = f.y;
        f.page().rule(LEFT, RIGHT, y, 0.35 * MM, 0.0);
    };
    let rows: Vec<(Vec<Lines>, Lines)> = rooms
        .iter()
        .map(|room| {
            let left = room_lines(room, MONO, column - gap, leading);
            let password = [Text::new(Font::CourierBold, &room.password)];
            let mut password = Lines::new(&password, MONO, WIDTH - column);
            password.leading = leading;
            (left, password)
        })
        .collect();
    let row_height =
        |(left, right): &(Vec<Lines>, Lines)| 2.0 * pad + height(left).max(right.height());
    f.need(2.0 * pad + 8.6 * LEADING + rows.first().map_or(0.0, row_height));
    header(f);
    for row in &rows {
        let h = row_height(row);
        if f.y + h > BOTTOM {
            f.new_page();
            header(f);
        }
        let top = f.y + pad;
        let page = f.page();
        let mut y = top;
        for lines in &row.0 {
            y += lines.draw(page, LEFT, y);
        }
        row.1.draw(page, LEFT + column, top);
        f.y += h;
        let y = f.y;
        f.page().rule(LEFT, RIGHT, y, 0.2 * MM, RULE_GRAY);
    }
    f.y += 2.5 * MM;
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

    fn model(rooms: usize, password: Option<&str>) -> Model {
        Model {
            school: "gs-x".into(),
            school_name: "Grundschule X".into(),
            school_id: "Schulkennung: gs-x".into(),
            title: "Zugang zu den Videokonferenzräumen – Grundschule X".into(),
            sender: vec!["Kreismedienzentrum".into()],
            date: "28.02.2026".into(),
            intro: "für Ihre Schule sind auf meet.example die folgenden Räume eingerichtet:".into(),
            rooms: (1..=rooms)
                .map(|i| RoomLine {
                    link: format!("https://meet.example/gs-x-{i}"),
                    typed: None,
                    password: password.map_or(format!("Il1O0-{i}"), str::to_owned),
                })
                .collect(),
            password: password.map(str::to_owned),
            steps: vec![("Eintreten.", "Mit dem Schulpasswort.".into())],
            contact: vec!["Kreismedienzentrum".into(), "Telefon 0123".into()],
        }
    }

    /// The font of each text drawn: its resource name and the text, as the file has them.
    fn drawn(pdf: &[u8]) -> Vec<(String, String)> {
        let text = String::from_utf8_lossy(pdf);
        let mut font = String::new();
        let mut out = vec![];
        for line in text.lines() {
            if let Some(tf) = line.strip_suffix(" Tf") {
                font = tf.split(' ').next().unwrap_or("").to_owned();
            } else if let Some(tj) = line.strip_suffix(" Tj") {
                out.push((font.clone(), tj.to_owned()));
            }
        }
        out
    }

    #[test]
    fn passwords_and_links_are_set_in_courier() {
        // Resources: /F3 is Courier, /F4 Courier-Bold (the writer's FONTS).
        for (m, password) in [
            (model(2, Some("l1O0-Il1")), "(l1O0-Il1)"),
            (model(2, None), "(Il1O0-2)"),
        ] {
            let pdf = pdf_of(&m).unwrap();
            let drawn = drawn(&pdf);
            let font_of = |text: &str| {
                drawn
                    .iter()
                    .find(|(_, t)| t == text)
                    .map(|(f, _)| f.as_str())
            };
            assert_eq!(font_of(password), Some("/F4"), "{drawn:?}");
            assert_eq!(font_of("(https://meet.example/gs-x-2)"), Some("/F3"));
            assert_eq!(font_of("(Grundschule X)"), Some("/F2"));
            let text = String::from_utf8_lossy(&pdf);
            for (resource, object, font) in [("F3", 7, "Courier"), ("F4", 8, "Courier-Bold")] {
                assert!(text.contains(&format!("/{resource} {object} 0 R")));
                assert!(text.contains(&format!(
                    "{object} 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /{font} "
                )));
            }
        }
    }

    #[test]
    fn text_taller_than_a_page_continues_on_the_next() {
        let mut m = model(2, Some("x"));
        m.school_name = "Grundschule am langen Namen ".repeat(400);
        let pdf = pdf_of(&m).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.matches("/Type /Page ").count() >= 3);
        // Every line starts inside the margins (PDF's y counts from the bottom), but the
        // page numbers 7 mm above the lower edge.
        for line in text.lines().filter(|l| l.ends_with(" Td")) {
            let y: f32 = line.split(' ').nth(1).unwrap().parse().unwrap();
            let inside = y >= A4.1 - BOTTOM && y <= A4.1 - TOP;
            assert!(inside || (y - 7.0 * MM).abs() < 0.01, "{line}");
        }
    }

    #[test]
    fn a_password_the_fonts_cannot_show_is_refused() {
        let err = pdf_of(&model(2, Some("Zaunkönig-Łuk"))).unwrap_err();
        assert!(err.to_string().contains("HTML letter"), "{err}");
        assert!(!err.to_string().contains("Zaunkönig"), "{err}");
        assert!(pdf_of(&model(2, Some("Zaunkönig-€"))).is_ok());
    }

    #[test]
    fn fifty_rooms_with_one_password_fit_one_page_each_their_own_take_two() {
        let pages = |m: &Model| {
            let pdf = pdf_of(m).unwrap();
            String::from_utf8_lossy(&pdf)
                .matches("/Type /Page ")
                .count()
        };
        assert_eq!(pages(&model(3, Some("x"))), 1);
        assert_eq!(pages(&model(50, Some("x"))), 1);
        assert_eq!(pages(&model(50, None)), 2);
        let pdf = pdf_of(&model(50, None)).unwrap();
        let drawn = drawn(&pdf);
        assert!(drawn.iter().any(|(_, t)| t.contains("Seite 2 von 2")));
        let links = drawn.iter().filter(|(f, _)| f == "/F3").count();
        assert_eq!(links, 50);
    }
}
