//! The access letter, rendered by a real browser: headless Chromium prints it to PDF,
//! poppler's tools read the PDF back. Needs Debian's `chromium` and `poppler-utils`
//! (.ci/run installs them); outside CI (`CI=true`) the test skips without them.

use crate::example;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use raumwart::schools::letter::{self, Date};
use raumwart::schools::{self, Files, Rooms};

fn setup(name: &str) -> (PathBuf, Files) {
    example::setup(&format!("letter-{name}"))
}

/// The tools the test needs, or None (a skip) outside CI.
fn tools() -> Option<()> {
    let missing: Vec<&str> = ["chromium", "pdfinfo", "pdftotext", "pdftoppm"]
        .into_iter()
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
    let message = format!(
        "the letter test needs {} (Debian: apt-get install chromium poppler-utils)",
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

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().expect(tool);
    assert!(out.status.success(), "{tool}: {out:?}");
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

#[test]
fn the_access_letter_is_one_a4_page_with_every_link_and_the_password() {
    if tools().is_none() {
        return;
    }
    let (dir, files) = setup("one-password");
    // Twelve rooms, one of them typed with spaces and umlauts: the longest link.
    let mut rooms: Vec<String> = (1..=11).map(|i| format!("gs-lindenhof-{i}")).collect();
    rooms.push("Grundschule Lindenhof Lehrerzimmer".into());
    let added = schools::add(
        &files,
        "gs-lindenhof",
        "Grundschule Lindenhof",
        None,
        &Rooms::Named(rooms),
    )
    .unwrap();
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
