//! The access letter, in both its forms. The HTML page is printed by a real browser:
//! headless Chromium prints it to PDF. The PDF is raumwart's own. poppler's tools read
//! both back. Needs Debian's `chromium` and `poppler-utils` (.ci/run installs them);
//! outside CI (`CI=true`) a test skips without them.

use crate::example;

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use raumwart::config::Config;
use raumwart::schools::letter::{self, Date};
use raumwart::schools::{self, Files, Rooms, MAX_ROOMS};

fn setup(name: &str) -> (PathBuf, Files) {
    example::setup(&format!("letter-{name}"))
}

/// Chromium and poppler's tools, or None (a skip) outside CI.
fn tools() -> Option<()> {
    needs(&["chromium", "pdfinfo", "pdftotext", "pdftoppm"])
}

/// poppler's tools, or None (a skip) outside CI.
fn poppler() -> Option<()> {
    needs(&["pdfinfo", "pdftotext", "pdftoppm", "pdffonts"])
}

fn needs(tools: &[&str]) -> Option<()> {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return Some(());
    }
    let packages = if missing.contains(&"chromium") {
        "chromium poppler-utils"
    } else {
        "poppler-utils"
    };
    let message = format!(
        "the letter test needs {} (Debian: apt-get install {packages})",
        missing.join(", ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// The example's media centre office, as the letter prints it.
const BEISPIELKREIS: [&str; 4] = [
    "Kreismedienzentrum Beispielkreis",
    "Schulstraße 1, 12345 Beispielstadt",
    "07000 123456-0",
    "medienzentrum@kreis-beispiel.de",
];

/// Prints `html` to PDF with headless Chromium, as a browser's "print" would.
fn print_to_pdf(html: &Path, pdf: &Path) {
    let profile = html.with_file_name("chromium-profile");
    let _ = fs::remove_dir_all(&profile);
    fs::create_dir_all(&profile).unwrap();
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not print within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium: {status}");
    assert!(pdf.is_file(), "chromium wrote no PDF");
    let _ = fs::remove_dir_all(&profile);
}

/// Runs a poppler tool on a PDF: it must succeed and find nothing wrong in the file.
fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().expect(tool);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{tool}: {out:?}");
    assert!(!stderr.contains("Syntax Error"), "{tool}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Writes the letter of `school`, prints it, and checks the PDF: one A4 page holding
/// every link, every password and the media centre's `office`. Returns the PDF's text.
fn render_and_check(
    dir: &Path,
    files: &Files,
    school: &str,
    passwords: &[&str],
    office: &[&str],
) -> String {
    let html = dir.join(format!("{school}.html"));
    let date = Date::from_days(20_512);
    let written = letter::write(files, school, &html, date).expect("letter written");
    assert_eq!(
        fs::metadata(&html).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = fs::read_to_string(&html).unwrap();
    // Self-contained: nothing is fetched, nothing runs.
    for outside in ["<script", "<link", "src=", "url(", "@import"] {
        assert!(!text.contains(outside), "{outside} in the letter");
    }
    let config = raumwart::config::parse(
        &files.config,
        &fs::read_to_string(&files.config).unwrap(),
        None,
    )
    .unwrap();
    let rendered = letter::render(&config, school, date).unwrap();
    assert_eq!(rendered.html, text);
    assert_eq!(rendered.links.len(), written.rooms);

    let pdf = dir.join(format!("{school}.pdf"));
    print_to_pdf(&html, &pdf);
    let pdf = pdf.to_str().unwrap();
    let info = run("pdfinfo", &[pdf]);
    assert!(
        info.lines()
            .any(|l| l.split_whitespace().eq(["Pages:", "1"])),
        "not one page:\n{info}"
    );
    let size = info
        .lines()
        .find(|l| l.starts_with("Page size:"))
        .unwrap_or("");
    assert!(size.contains("(A4)"), "not A4: {size}");
    let pdf_text = run("pdftotext", &["-layout", pdf, "-"]);
    for link in &rendered.links {
        assert!(
            pdf_text.contains(link.as_str()),
            "{link} not in the PDF:\n{pdf_text}"
        );
    }
    for password in passwords {
        assert!(
            pdf_text.contains(password),
            "the password is not in the PDF:\n{pdf_text}"
        );
    }
    let common = [
        "Zugang zu den Videokonferenzräumen",
        "So läuft eine Stunde",
        "Klassenpasswort",
        "28.02.2026",
    ];
    for wanted in common.iter().chain(office) {
        assert!(pdf_text.contains(wanted), "{wanted:?} not in:\n{pdf_text}");
    }
    // A picture to look at (kept in the test folder).
    let png = Path::new(pdf).with_extension("");
    run(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "70",
            "-singlefile",
            pdf,
            png.to_str().unwrap(),
        ],
    );
    pdf_text
}

/// Adds a school of twelve rooms, one of them typed with spaces (the longest link, and a
/// hint to type its name).
fn add_lindenhof(files: &Files) -> schools::Added {
    let mut rooms: Vec<String> = (1..=11).map(|i| format!("gs-lindenhof-{i}")).collect();
    rooms.push("Grundschule Lindenhof Lehrerzimmer".into());
    let room = Rooms::Named(rooms);
    schools::add(files, "gs-lindenhof", "Grundschule Lindenhof", None, &room).unwrap()
}

#[test]
fn the_access_letter_is_one_a4_page_with_every_link_and_the_password() {
    if tools().is_none() {
        return;
    }
    let (dir, files) = setup("one-password");
    let added = add_lindenhof(&files);
    let text = render_and_check(
        &dir,
        &files,
        "gs-lindenhof",
        &[added.password.expose()],
        &BEISPIELKREIS,
    );
    assert!(text.contains("https://meet.kmz-beispiel.de/grundschule%20lindenhof%20lehrerzimmer"));
    assert!(text.contains("1 Minute bleiben"), "{text}");
}

#[test]
fn a_room_with_its_own_password_shows_it_beside_the_room() {
    if tools().is_none() {
        return;
    }
    let (dir, files) = setup("room-passwords");
    render_and_check(
        &dir,
        &files,
        "rs-beispielheim",
        &["Zirkel-Atlas-Turnhalle-83", "Nebel Fahrrad Kompass Ufer"],
        &BEISPIELKREIS,
    );
}

#[test]
fn the_letter_needs_the_jitsi_address_and_the_media_centre() {
    let (dir, files) = setup("keys");
    let text = fs::read_to_string(&files.config).unwrap();
    let without = text
        .replace("[jitsi]\n", "[unused]\n")
        .replace("url = \"https://meet.kmz-beispiel.de/\"\n", "");
    let without = without.replace("[unused]\n", "");
    fs::write(&files.config, &without).unwrap();
    let out = dir.join("letter.html");
    let err = letter::write(&files, "gs-musterstadt", &out, Date::today()).unwrap_err();
    assert!(err.to_string().contains("[jitsi]"), "{err}");
    assert!(!out.exists());
    let err = letter::write(&files, "gs-nowhere", &out, Date::today()).unwrap_err();
    assert!(err.to_string().contains("there is no school"), "{err}");
}

/// The example with its one [media_centre] table split into two [[media_centre]] blocks,
/// one school each.
fn two_media_centres(files: &Files) {
    let text = fs::read_to_string(&files.config).unwrap();
    let text = text
        .replace(
            "[media_centre]\n",
            "[[media_centre]]\nid = \"kmz-beispielkreis\"\n",
        )
        .replace(
            "id = \"rs-beispielheim\"\n",
            "id = \"rs-beispielheim\"\nmedia_centre = \"kmz-nachbarkreis\"\n",
        )
        .replace(
            "id = \"gs-musterstadt\"\n",
            "id = \"gs-musterstadt\"\nmedia_centre = \"kmz-beispielkreis\"\n",
        );
    let text = format!(
        "{text}\n[[media_centre]]\nid = \"kmz-nachbarkreis\"\nname = \"Kreismedienzentrum Nachbarkreis\"\n\
         address = \"Am Landratsamt 3, 54321 Nachbarstadt\"\nphone = \"07001 98765-0\"\n\
         mail = \"kmz@nachbarkreis.de\"\n"
    );
    fs::write(&files.config, text).unwrap();
}

#[test]
fn each_school_s_letter_names_its_own_media_centre() {
    let (dir, files) = setup("two-media-centres");
    two_media_centres(&files);
    let date = Date::from_days(20_512);
    let beispiel = BEISPIELKREIS;
    let nachbar = [
        "Kreismedienzentrum Nachbarkreis",
        "Am Landratsamt 3, 54321 Nachbarstadt",
        "07001 98765-0",
        "kmz@nachbarkreis.de",
    ];
    for (school, ours, theirs) in [
        ("gs-musterstadt", beispiel, nachbar),
        ("rs-beispielheim", nachbar, beispiel),
    ] {
        let out = dir.join(format!("{school}.html"));
        letter::write(&files, school, &out, date).unwrap();
        let html = fs::read_to_string(&out).unwrap();
        for wanted in ours {
            assert!(html.contains(wanted), "{school}: {wanted:?} missing");
        }
        for other in theirs {
            assert!(!html.contains(other), "{school}: {other:?} is the other's");
        }
    }
    // And printed, where the tools are: one A4 page with the right office.
    if tools().is_some() {
        let text = render_and_check(
            &dir,
            &files,
            "rs-beispielheim",
            &["Zirkel-Atlas-Turnhalle-83", "Nebel Fahrrad Kompass Ufer"],
            &nachbar,
        );
        assert!(!text.contains("Beispielkreis"), "{text}");
    }
}

// --- raumwart's own PDF ----------------------------------------------------------------

fn config(files: &Files) -> Config {
    let text = fs::read_to_string(&files.config).unwrap();
    raumwart::config::parse(&files.config, &text, None).unwrap()
}

/// What poppler reads in a PDF letter.
struct Read {
    /// pdfinfo's "Key: value" lines.
    info: String,
    /// The text, laid out as on the page.
    text: String,
    /// The links' targets.
    urls: Vec<String>,
    /// pdffonts' table.
    fonts: String,
}

impl Read {
    fn field(&self, key: &str) -> &str {
        self.info
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map_or("", str::trim)
    }

    fn pages(&self) -> usize {
        self.field("Pages").parse().unwrap()
    }

    /// The text's words: a link must be one of them, not a part of a longer one.
    fn words(&self) -> HashSet<&str> {
        self.text.split_whitespace().collect()
    }
}

/// Writes the PDF letter of `school` to `dir`, and a picture of its first page (60 dpi)
/// to look at, and reads it back.
fn pdf_letter(dir: &Path, config: &Config, school: &str) -> (letter::Letter, Read) {
    let date = Date::from_days(20_512);
    let bytes = letter::pdf(config, school, date).expect("the PDF");
    let rendered = letter::render(config, school, date).unwrap();
    let path = dir.join(format!("{school}.pdf"));
    fs::write(&path, &bytes).unwrap();
    let pdf = path.to_str().unwrap();
    let info = run("pdfinfo", &[pdf]);
    let png = dir.join(format!("{school}-pdf"));
    let png = png.to_str().unwrap();
    run(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            pdf,
            png,
        ],
    );
    let read = Read {
        info,
        text: run("pdftotext", &["-layout", pdf, "-"]),
        urls: run("pdfinfo", &["-url", pdf])
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
            .collect(),
        fonts: run("pdffonts", &[pdf]),
    };
    // PDF 1.4, and the document's language for screen readers (check_pdf checks the title).
    let raw = String::from_utf8_lossy(&bytes);
    assert!(raw.starts_with("%PDF-1.4\n"), "{raw:.20}");
    assert!(raw.contains("/Lang (de-DE)"), "no language");
    assert!(read.field("Page size").contains("(A4)"), "{}", read.info);
    (rendered, read)
}

/// Checks a school's PDF letter: every link as text and as a link, the passwords, the
/// school, its media centre's `office`, the German text.
fn check_pdf(
    letter: &letter::Letter,
    read: &Read,
    name: &str,
    passwords: &[&str],
    office: &[&str],
) {
    let words = read.words();
    for link in &letter.links {
        assert!(
            words.contains(link.as_str()),
            "{link} not in:\n{}",
            read.text
        );
        assert!(
            read.urls.contains(link),
            "no link to {link}: {:?}",
            read.urls
        );
    }
    assert_eq!(read.urls.len(), letter.links.len(), "{:?}", read.urls);
    for password in passwords {
        assert!(
            read.text.contains(password),
            "{password:?} not in:\n{}",
            read.text
        );
    }
    let german = [
        "Zugang zu den Videokonferenzräumen Ihrer Schule",
        "So läuft eine Stunde",
        "„Sicherheitsoptionen“",
        "Schülerinnen und Schüler",
        "gelöscht",
        "28.02.2026",
    ];
    for wanted in german.iter().chain(office).chain([&name]) {
        assert!(
            read.text.contains(wanted),
            "{wanted:?} not in:\n{}",
            read.text
        );
    }
    assert_eq!(
        read.field("Title"),
        format!("Zugang zu den Videokonferenzräumen – {name}")
    );
    // Passwords and links in a monospace font, the rest in Helvetica.
    for font in ["Helvetica", "Helvetica-Bold", "Courier", "Courier-Bold"] {
        assert!(
            read.fonts
                .lines()
                .any(|l| l.split_whitespace().next() == Some(font)),
            "{font} not used:\n{}",
            read.fonts
        );
    }
}

#[test]
fn the_pdf_letter_is_one_a4_page_with_every_link_and_the_password() {
    if poppler().is_none() {
        return;
    }
    let (dir, files) = setup("pdf");
    let added = add_lindenhof(&files);
    let config = config(&files);
    let schools = [
        (
            "gs-musterstadt",
            "Grundschule Musterstadt",
            vec![example::PASSWORDS[0].1],
        ),
        (
            "rs-beispielheim",
            "Realschule Beispielheim",
            vec![example::PASSWORDS[1].1, example::PASSWORDS[2].1],
        ),
        (
            "gs-lindenhof",
            "Grundschule Lindenhof",
            vec![added.password.expose()],
        ),
    ];
    for (school, name, passwords) in schools {
        let (letter, read) = pdf_letter(&dir, &config, school);
        assert_eq!(read.pages(), 1, "{school}:\n{}", read.info);
        check_pdf(&letter, &read, name, &passwords, &BEISPIELKREIS);
        assert!(read.text.contains("1 Minute bleiben"), "{}", read.text);
        if school == "gs-lindenhof" {
            let typed = "oder „Grundschule Lindenhof Lehrerzimmer“ auf der Startseite eingeben";
            assert!(read.text.contains(typed), "{}", read.text);
        }
    }
}

#[test]
fn fifty_rooms_all_reach_the_pdf() {
    if poppler().is_none() {
        return;
    }
    let (dir, files) = setup("pdf-fifty");
    // One password for all: a list. Each room its own: a table.
    let shared = schools::add(
        &files,
        "gs-gross",
        "Grundschule Großstadt",
        None,
        &Rooms::Count(MAX_ROOMS),
    )
    .unwrap();
    let mut block = String::from(
        "\n[[school]]\nid = \"gy-gross\"\nname = \"Gymnasium Großstadt\"\nrooms = [\n",
    );
    let mut passwords = vec![];
    for i in 1..=MAX_ROOMS {
        let password = format!("Eigenes-Passwort-{i:02}-Ostwind-Lupe");
        fs::write(
            dir.join(format!("schools/gy-gross-{i}.pw")),
            format!("{password}\n"),
        )
        .unwrap();
        block.push_str(&format!(
            "  {{ name = \"gy-gross-{i}\", password_file = \"schools/gy-gross-{i}.pw\" }},\n"
        ));
        passwords.push(password);
    }
    block.push_str("]\n");
    let mut text = fs::read_to_string(&files.config).unwrap();
    text.push_str(&block);
    fs::write(&files.config, text).unwrap();
    let config = config(&files);

    // The list in two columns, its lines closer: one page.
    let (letter, read) = pdf_letter(&dir, &config, "gs-gross");
    assert_eq!(letter.links.len(), MAX_ROOMS);
    assert_eq!(read.pages(), 1, "{}", read.info);
    check_pdf(
        &letter,
        &read,
        "Grundschule Großstadt",
        &[shared.password.expose()],
        &BEISPIELKREIS,
    );

    // The table continues on a second page, under its header again.
    let (letter, read) = pdf_letter(&dir, &config, "gy-gross");
    assert_eq!(read.pages(), 2, "{}", read.info);
    let passwords: Vec<&str> = passwords.iter().map(String::as_str).collect();
    check_pdf(
        &letter,
        &read,
        "Gymnasium Großstadt",
        &passwords,
        &BEISPIELKREIS,
    );
    assert!(read.text.contains("Seite 2 von 2"), "{}", read.text);
    let headers = read
        .text
        .lines()
        .filter(|l| l.trim_start().starts_with("Raum "))
        .count();
    assert_eq!(headers, 2, "{}", read.text);
}

#[test]
fn text_the_pdf_fonts_lack_shows_as_a_question_mark() {
    if poppler().is_none() {
        return;
    }
    let (dir, files) = setup("pdf-outside-win-ansi");
    // Polish and Japanese letters are not in WinAnsi; the parentheses (one of them
    // unbalanced) and the backslash must be escaped in the file.
    let name = "Schule Łódź (Nord) \\ 東京 – Süd :-)";
    schools::add(&files, "s-lodz", name, None, &Rooms::Count(1)).unwrap();
    let config = config(&files);
    let (letter, read) = pdf_letter(&dir, &config, "s-lodz");
    assert_eq!(read.pages(), 1);
    assert!(
        read.text.contains("Schule ?ód? (Nord) \\ ?? – Süd :-)"),
        "{}",
        read.text
    );
    // The title keeps every character.
    assert_eq!(
        read.field("Title"),
        format!("Zugang zu den Videokonferenzräumen – {name}")
    );
    assert!(read.words().contains(letter.links[0].as_str()));
}
