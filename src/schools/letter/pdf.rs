//! A small PDF 1.4 writer for pages of text: the standard fonts Helvetica and Courier
//! (regular and bold), horizontal rules, frames and link annotations. Nothing is
//! embedded: every PDF reader has these fonts.
//!
//! Text is encoded in WinAnsiEncoding (Windows-1252), which holds German (ä ö ü ß, „ “,
//! –, €); a character it lacks is drawn as '?', so a reader sees that something is
//! missing and the file stays valid. Widths come from Adobe's font metrics, so text can be
//! wrapped and aligned before it is drawn.
//!
//! Coordinates are points (1/72 inch) from the page's top left corner, y growing
//! downwards, as a page is read; the writer turns them into PDF's bottom-up space.

use std::fmt::Write as _;

/// A4, 210 × 297 mm, in points.
pub(crate) const A4: (f32, f32) = (595.276, 841.89);

/// One millimetre in points.
pub(crate) const MM: f32 = 72.0 / 25.4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Font {
    Helvetica,
    HelveticaBold,
    Courier,
    CourierBold,
}

const FONTS: [Font; 4] = [
    Font::Helvetica,
    Font::HelveticaBold,
    Font::Courier,
    Font::CourierBold,
];

impl Font {
    fn base_font(self) -> &'static str {
        match self {
            Font::Helvetica => "Helvetica",
            Font::HelveticaBold => "Helvetica-Bold",
            Font::Courier => "Courier",
            Font::CourierBold => "Courier-Bold",
        }
    }

    /// Its name in every page's resources.
    fn resource(self) -> &'static str {
        match self {
            Font::Helvetica => "F1",
            Font::HelveticaBold => "F2",
            Font::Courier => "F3",
            Font::CourierBold => "F4",
        }
    }

    /// The advance of one encoded character, in 1/1000 of the font size.
    fn advance(self, code: u8) -> u16 {
        // encode() yields no code below 32.
        let i = usize::from(code.saturating_sub(32));
        match self {
            Font::Helvetica => HELVETICA[i],
            Font::HelveticaBold => HELVETICA_BOLD[i],
            Font::Courier | Font::CourierBold => 600,
        }
    }

    /// The width of `text` set at `size`.
    pub(crate) fn width(self, text: &str, size: f32) -> f32 {
        let units: u32 = encode(text)
            .iter()
            .map(|&c| u32::from(self.advance(c)))
            .sum();
        units as f32 * size / 1000.0
    }

    /// How far the letters reach above the baseline and below it, per point of size
    /// (the fonts' Ascender and Descender).
    pub(crate) fn extent(self) -> (f32, f32) {
        match self {
            Font::Helvetica | Font::HelveticaBold => (0.718, 0.207),
            Font::Courier | Font::CourierBold => (0.629, 0.157),
        }
    }
}

/// The WinAnsiEncoding codes 0x80..=0x9F and the characters they stand for (the
/// others, 0x20..=0x7E and 0xA0..=0xFF, are those of Unicode).
const WIN_ANSI_HIGH: [(char, u8); 27] = [
    ('€', 0x80),
    ('‚', 0x82),
    ('ƒ', 0x83),
    ('„', 0x84),
    ('…', 0x85),
    ('†', 0x86),
    ('‡', 0x87),
    ('ˆ', 0x88),
    ('‰', 0x89),
    ('Š', 0x8A),
    ('‹', 0x8B),
    ('Œ', 0x8C),
    ('Ž', 0x8E),
    ('‘', 0x91),
    ('’', 0x92),
    ('“', 0x93),
    ('”', 0x94),
    ('•', 0x95),
    ('–', 0x96),
    ('—', 0x97),
    ('˜', 0x98),
    ('™', 0x99),
    ('š', 0x9A),
    ('›', 0x9B),
    ('œ', 0x9C),
    ('ž', 0x9E),
    ('Ÿ', 0x9F),
];

/// `c` in WinAnsiEncoding; None for a character it lacks and for control characters.
fn win_ansi(c: char) -> Option<u8> {
    match u32::from(c) {
        0x20..=0x7E | 0xA0..=0xFF => Some(u32::from(c) as u8),
        _ => WIN_ANSI_HIGH
            .iter()
            .find(|(high, _)| *high == c)
            .map(|&(_, code)| code),
    }
}

/// `text` in WinAnsiEncoding, one byte per character; '?' for a character it lacks.
pub(crate) fn encode(text: &str) -> Vec<u8> {
    text.chars().map(|c| win_ansi(c).unwrap_or(b'?')).collect()
}

/// Whether every character of `text` is drawn as it is.
pub(crate) fn encodable(text: &str) -> bool {
    text.chars().all(|c| win_ansi(c).is_some())
}

/// A piece of text in one font. A `kept` piece is never broken at its spaces (a phone
/// number, "Telefon 07000 123456-0").
#[derive(Debug, Clone, Copy)]
pub(crate) struct Text<'a> {
    pub(crate) font: Font,
    pub(crate) text: &'a str,
    pub(crate) kept: bool,
}

impl<'a> Text<'a> {
    pub(crate) fn new(font: Font, text: &'a str) -> Text<'a> {
        Text {
            font,
            text,
            kept: false,
        }
    }

    pub(crate) fn kept(font: Font, text: &'a str) -> Text<'a> {
        Text {
            font,
            text,
            kept: true,
        }
    }
}

/// One line of text as it is drawn: runs of text, each in its font.
pub(crate) type Runs = Vec<(Font, String)>;

/// Width of a line of runs set at `size`.
pub(crate) fn runs_width(runs: &[(Font, String)], size: f32) -> f32 {
    runs.iter().map(|(font, text)| font.width(text, size)).sum()
}

/// Breaks `texts` into lines no wider than `width` when set at `size`: at spaces, or
/// between characters where a word alone is wider than a line (a long link).
pub(crate) fn wrap(texts: &[Text<'_>], size: f32, width: f32) -> Vec<Runs> {
    // Words: what may not be broken, each with the space after it, if any.
    let mut words: Vec<Runs> = vec![];
    let mut open = false;
    for t in texts {
        let pieces: Vec<&str> = if t.kept {
            vec![t.text]
        } else {
            t.text.split_inclusive(' ').collect()
        };
        for piece in pieces {
            if open {
                push_run(words.last_mut().expect("an open word"), t.font, piece);
            } else {
                words.push(vec![(t.font, piece.to_owned())]);
            }
            open = !piece.ends_with(' ');
        }
    }
    let mut lines: Vec<Runs> = vec![];
    let mut line: Runs = vec![];
    let mut used = 0.0;
    for word in words {
        let full = runs_width(&word, size);
        let bare = full - trailing_space(&word, size);
        if used + bare <= width {
            used += full;
            word.into_iter()
                .for_each(|(f, t)| push_run(&mut line, f, &t));
            continue;
        }
        if !line.is_empty() {
            lines.push(finish_line(std::mem::take(&mut line)));
            used = 0.0;
        }
        if bare <= width {
            used = full;
            line = word;
            continue;
        }
        // Wider than a line: as many characters as fit, then the next line.
        for (font, text) in word {
            for c in text.chars() {
                let w = font.width(c.encode_utf8(&mut [0; 4]), size);
                if used + w > width && !line.is_empty() {
                    lines.push(finish_line(std::mem::take(&mut line)));
                    used = 0.0;
                }
                push_run(&mut line, font, c.encode_utf8(&mut [0; 4]));
                used += w;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(finish_line(line));
    }
    lines
}

fn push_run(line: &mut Runs, font: Font, text: &str) {
    match line.last_mut() {
        Some((last, run)) if *last == font => run.push_str(text),
        _ => line.push((font, text.to_owned())),
    }
}

fn trailing_space(word: &[(Font, String)], size: f32) -> f32 {
    word.last()
        .filter(|(_, text)| text.ends_with(' '))
        .map_or(0.0, |(font, _)| font.width(" ", size))
}

/// A line without the space it was broken at.
fn finish_line(mut line: Runs) -> Runs {
    if let Some((_, text)) = line.last_mut() {
        text.truncate(text.trim_end_matches(' ').len());
    }
    line.retain(|(_, text)| !text.is_empty());
    line
}

/// A number as PDF writes it: at most two decimals, no trailing zeros.
fn num(n: f32) -> String {
    let s = format!("{n:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A PDF literal string: `bytes` with parentheses and backslashes escaped, and
/// everything outside printable ASCII as an octal escape, so the file stays ASCII.
fn literal(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('(');
    for &b in bytes {
        match b {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7E => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push(')');
    out
}

/// A PDF text string for the document's information: UTF-16BE with a byte order mark,
/// so the title keeps every character, also those WinAnsi lacks.
fn text_string(text: &str) -> String {
    let mut out = String::from("<FEFF");
    for unit in text.encode_utf16() {
        let _ = write!(out, "{unit:04X}");
    }
    out.push('>');
    out
}

/// A link target as an ASCII string: anything else percent-encoded.
fn uri(target: &str) -> String {
    let mut ascii = String::with_capacity(target.len());
    for &b in target.as_bytes() {
        if b.is_ascii_graphic() {
            ascii.push(char::from(b));
        } else {
            let _ = write!(ascii, "%{b:02X}");
        }
    }
    literal(ascii.as_bytes())
}

/// One page being drawn.
pub(crate) struct Page {
    height: f32,
    content: String,
    /// Link annotations: their rectangles (PDF space) and targets.
    links: Vec<([f32; 4], String)>,
}

impl Page {
    /// Draws `runs` from `x` along the baseline `y`, in `gray` (0 is black, 1 white).
    pub(crate) fn text(&mut self, x: f32, y: f32, size: f32, gray: f32, runs: &[(Font, String)]) {
        if runs.is_empty() {
            return;
        }
        let c = &mut self.content;
        let _ = writeln!(
            c,
            "{} g\nBT\n{} {} Td",
            num(gray),
            num(x),
            num(self.height - y)
        );
        for (font, text) in runs {
            let _ = writeln!(
                c,
                "/{} {} Tf\n{} Tj",
                font.resource(),
                num(size),
                literal(&encode(text))
            );
        }
        c.push_str("ET\n");
    }

    /// A horizontal line at `y` from `x1` to `x2`.
    pub(crate) fn rule(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, gray: f32) {
        let y = num(self.height - y);
        let _ = writeln!(
            self.content,
            "{} G\n{} w\n{} {y} m\n{} {y} l\nS",
            num(gray),
            num(thickness),
            num(x1),
            num(x2)
        );
    }

    /// A black frame whose top left corner is (`x`, `y`); the line is centred on its edges.
    pub(crate) fn frame(&mut self, x: f32, y: f32, width: f32, height: f32, thickness: f32) {
        let _ = writeln!(
            self.content,
            "0 G\n{} w\n{} {} {} {} re\nS",
            num(thickness),
            num(x),
            num(self.height - y - height),
            num(width),
            num(height)
        );
    }

    /// Makes the area with top left corner (`x`, `y`) a link to `target`.
    pub(crate) fn link(&mut self, x: f32, y: f32, width: f32, height: f32, target: &str) {
        let rect = [x, self.height - y - height, x + width, self.height - y];
        self.links.push((rect, target.to_owned()));
    }
}

/// A document being written: its pages, title and language.
pub(crate) struct Document {
    size: (f32, f32),
    title: String,
    lang: String,
    pages: Vec<Page>,
}

impl Document {
    /// An empty document of pages of `size`, titled `title`, in the language `lang`
    /// ("de-DE"), which screen readers and the reader's title bar use.
    pub(crate) fn new(size: (f32, f32), title: &str, lang: &str) -> Document {
        Document {
            size,
            title: title.to_owned(),
            lang: lang.to_owned(),
            pages: vec![],
        }
    }

    /// A new page at the end, to draw on.
    pub(crate) fn add_page(&mut self) -> &mut Page {
        self.pages.push(Page {
            height: self.size.1,
            content: String::new(),
            links: vec![],
        });
        self.pages.last_mut().expect("just added")
    }

    pub(crate) fn page_count(&self) -> usize {
        self.pages.len()
    }

    pub(crate) fn pages_mut(&mut self) -> &mut [Page] {
        &mut self.pages
    }

    /// The PDF file.
    pub(crate) fn finish(&self) -> Vec<u8> {
        // Objects: 1 catalog, 2 page tree, 3 information, 4 resources, then the fonts,
        // then per page the page, its content and its links.
        const FIRST_FONT: usize = 5;
        let first_page = FIRST_FONT + FONTS.len();
        let mut numbers = vec![];
        let mut next = first_page;
        for page in &self.pages {
            numbers.push(next);
            next += 2 + page.links.len();
        }
        let mut objects: Vec<String> = vec![
            format!(
                "<< /Type /Catalog /Pages 2 0 R /Lang {} \
                 /ViewerPreferences << /DisplayDocTitle true >> >>",
                literal(self.lang.as_bytes())
            ),
            format!(
                "<< /Type /Pages /Kids [{}] /Count {} >>",
                numbers
                    .iter()
                    .map(|n| format!("{n} 0 R"))
                    .collect::<Vec<_>>()
                    .join(" "),
                self.pages.len()
            ),
            format!(
                "<< /Title {} /Producer (raumwart) >>",
                text_string(&self.title)
            ),
            format!(
                "<< /Font << {} >> >>",
                FONTS
                    .iter()
                    .enumerate()
                    .map(|(i, f)| format!("/{} {} 0 R", f.resource(), FIRST_FONT + i))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ];
        for font in FONTS {
            objects.push(format!(
                "<< /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding >>",
                font.base_font()
            ));
        }
        for (page, &number) in self.pages.iter().zip(&numbers) {
            let annots: Vec<String> = (0..page.links.len())
                .map(|i| format!("{} 0 R", number + 2 + i))
                .collect();
            objects.push(format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources 4 0 R \
                 /Contents {} 0 R{} >>",
                num(self.size.0),
                num(self.size.1),
                number + 1,
                if annots.is_empty() {
                    String::new()
                } else {
                    format!(" /Annots [{}]", annots.join(" "))
                }
            ));
            objects.push(format!(
                "<< /Length {} >>\nstream\n{}endstream",
                page.content.len(),
                page.content
            ));
            for (rect, target) in &page.links {
                objects.push(format!(
                    "<< /Type /Annot /Subtype /Link /Rect [{}] /Border [0 0 0] \
                     /A << /Type /Action /S /URI /URI {} >> >>",
                    rect.map(num).join(" "),
                    uri(target)
                ));
            }
        }
        // The second line's bytes above 127 tell transfer tools the file is binary.
        let mut out: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = vec![];
        for (i, object) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        // Every entry is exactly 20 bytes: its end of line is a space and a line feed.
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
        for offset in offsets {
            let _ = writeln!(table, "{offset:010} 00000 n ");
        }
        let _ = write!(
            table,
            "trailer\n<< /Size {} /Root 1 0 R /Info 3 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        );
        out.extend_from_slice(table.as_bytes());
        out
    }
}

/// Helvetica's advances for the WinAnsi codes 32..=255 (Adobe's AFM; 0 where the code is
/// not used).
#[rustfmt::skip]
const HELVETICA: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 578, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold's advances, as [`HELVETICA`].
#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_text_is_win_ansi_and_the_rest_a_question_mark() {
        assert_eq!(encode("äöüßÄÖÜ"), b"\xE4\xF6\xFC\xDF\xC4\xD6\xDC");
        assert_eq!(encode("„x“ – 5 €"), b"\x84x\x93 \x96 5 \x80");
        assert_eq!(encode("Łódź 東京\t😀"), b"?\xF3d? ????");
        assert!(encodable("Grüße „x“ – 5 €"));
        assert!(!encodable("Łódź"));
    }

    #[test]
    fn widths_follow_the_metrics() {
        // "Aä" in Helvetica: 667 + 556; any two characters in Courier: 2 × 600.
        assert!((Font::Helvetica.width("Aä", 10.0) - 12.23).abs() < 1e-3);
        assert!((Font::Courier.width("l1", 10.0) - 12.0).abs() < 1e-3);
        assert!((Font::HelveticaBold.width("€", 1000.0) - 556.0).abs() < 1e-3);
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_long_words_between_characters() {
        let h = Font::Helvetica;
        let b = Font::HelveticaBold;
        let lines = wrap(
            &[
                Text::new(h, "eins zwei "),
                Text::new(b, "drei"),
                Text::new(h, " vier"),
            ],
            10.0,
            h.width("eins zwei ", 10.0) + b.width("drei", 10.0) + 0.5,
        );
        let text: Vec<String> = lines
            .iter()
            .map(|l| l.iter().map(|(_, t)| t.as_str()).collect())
            .collect();
        assert_eq!(text, ["eins zwei drei", "vier"]);
        assert_eq!(lines[0][1], (Font::HelveticaBold, "drei".into()));

        let long = wrap(&[Text::new(Font::Courier, "abcdefghij")], 10.0, 40.0);
        let text: Vec<&str> = long.iter().map(|l| l[0].1.as_str()).collect();
        assert_eq!(text, ["abcdef", "ghij"]);

        let kept = wrap(
            &[Text::new(h, "a "), Text::kept(h, "Telefon 07000 123456-0")],
            10.0,
            h.width("Telefon 07000 123456-0 ", 10.0),
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[1][0].1, "Telefon 07000 123456-0");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(literal(b"a(b)\\c\xE4\n"), "(a\\(b\\)\\\\c\\344\\012)");
        assert_eq!(text_string("Zug – ä"), "<FEFF005A0075006700202013002000E4>");
        assert_eq!(uri("https://x/a b"), "(https://x/a%20b)");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(0.499), "0.5");
        assert_eq!(num(-0.001), "0");
    }

    #[test]
    fn the_cross_reference_table_points_at_each_object() {
        let mut doc = Document::new(A4, "T", "de-DE");
        let page = doc.add_page();
        page.text(
            10.0,
            20.0,
            9.0,
            0.0,
            &[(Font::Helvetica, "Grüße (1)".into())],
        );
        page.link(10.0, 12.0, 40.0, 10.0, "https://example.org/a");
        let pdf = doc.finish();
        // All ASCII after the header's second line.
        let header = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
        assert!(pdf.starts_with(header));
        let text = std::str::from_utf8(&pdf[header.len()..]).unwrap();
        let start: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|rest| rest.lines().next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        let xref = std::str::from_utf8(&pdf[start..]).unwrap();
        assert!(
            xref.starts_with("xref\n0 12\n0000000000 65535 f \n"),
            "{xref}"
        );
        let entries: Vec<&str> = xref
            .lines()
            .skip(3)
            .take_while(|l| !l.starts_with("trailer"))
            .collect();
        // Catalog, page tree, information, resources, fonts; the page, its content, its link.
        assert_eq!(entries.len(), 4 + FONTS.len() + 3);
        assert!(xref.contains("/Size 12 /Root 1 0 R"));
        for (i, entry) in entries.iter().enumerate() {
            assert_eq!(entry.len() + 1, 20, "{entry:?}");
            let offset: usize = entry[..10].parse().unwrap();
            assert!(
                pdf[offset..].starts_with(format!("{} 0 obj\n", i + 1).as_bytes()),
                "object {} is not at {offset}",
                i + 1
            );
        }
        assert!(text.contains("/Lang (de-DE)"));
        assert!(text.contains("(Gr\\374\\337e \\(1\\)) Tj"));
    }
}
