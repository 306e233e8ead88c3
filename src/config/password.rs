//! How hard a school or room password is to guess, and strong new ones.
//!
//! The rule follows NIST SP 800-63B §5.1.1.2 (memorized secrets): a minimum length,
//! no value from a list of common, expected or context-specific values, no repetitive or
//! sequential characters. Instead of refusing a password that merely *contains* such a
//! value, every password gets a conservative estimate of the guesses an attacker who
//! knows these lists needs, and must reach [`MIN_GUESSES_LOG10`]:
//!
//! The password is cut into parts so that the sum of the parts' costs (bits, log2 of
//! guesses) is as small as possible, and that sum is the estimate. A part is
//!
//! | part | cost in bits |
//! | --- | --- |
//! | a name of the school or its rooms (id, name, room names, their words of 3+ letters) | log2 of how many there are (at least 1) |
//! | a word from the built-in list of common passwords and German school words | log2 of the list's length (≈ 8) |
//! | an alphabet, digit or keyboard sequence of 3+ (`abc`, `4321`, `qwertz`) | 8 + log2(length) |
//! | the same character 3+ times | log2(alphabet of that character) + log2(length) |
//! | a repeat of an earlier part of the password | 1 |
//! | a year 1900–2099 | log2(200) |
//! | other digits | 3.32 per digit |
//! | other letters (any word an attacker's dictionary may hold) | 4.7 per letter, at most 16 + 2 per letter beyond 8 (about the information in each further letter of natural-language text) |
//! | any other character | 5.04 (33 symbols) |
//!
//! Words match case-insensitively, with ä/ö/ü/ß also as ae/oe/ue/ss, and with the
//! common substitutions 0→o 1→i/l 3→e 4→a @→a $→s 5→s 7→t !→i (1 bit each). Upper case
//! in a word adds 1 bit when only the first letter or all letters are upper case, else
//! log2 of the ways to place that many capitals. Only the first 128 characters are
//! estimated.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

/// At least this many characters (NIST asks for 8; these passwords are shared).
pub const MIN_LENGTH: usize = 12;
/// At least 10^10 estimated guesses: years at the ~1,000 joins per second a Prosody
/// can take.
pub const MIN_GUESSES_LOG10: f64 = 10.0;

const MAX_ESTIMATED: usize = 128;

/// Common passwords and the words a German school is likely to use.
const COMMON_WORDS: &str = "
passwort password kennwort passw geheim geheimnis hallo hello hallihallo willkommen welcome
letmein login admin administrator test tester benutzer nutzer zugang qwertz qwerty asdf
iloveyou ichliebedich liebe schatz schatzi engel prinzessin princess dragon master monkey
shadow sunshine football fussball fußball baseball soccer superman batman pokemon
bayern borussia schalke dortmund hansa werder eintracht freiburg
mama papa oma opa baby hase katze kater hund maus baer bär ball sonne mond stern
sterne blume blumen sonnenblume wolke regen wind meer strand berg wald baum
frühling sommer herbst winter ferien urlaub weihnachten ostern geburtstag
januar februar märz april mai juni juli august september oktober november dezember
montag dienstag mittwoch donnerstag freitag samstag sonntag wochenende
schule schulen school schueler schüler schülerin schülerinnen lehrer lehrerin lehrkraft
teacher class klasse klassen klassenzimmer klassenraum unterricht stunde schulstunde
grundschule hauptschule realschule werkrealschule gymnasium gesamtschule oberschule
mittelschule förderschule berufsschule gemeinschaftsschule sekundarschule kita
kindergarten hort schulleitung rektor rektorin konrektor sekretariat hausmeister
lehrerzimmer konferenz elternabend eltern elternbeirat schulhof pausenhof pause
turnhalle sporthalle aula mensa bibliothek tafel kreide heft hefte buch schulbuch
federmappe schulranzen ranzen zirkel lineal atlas stift bleistift radiergummi
mathe mathematik deutsch englisch französisch latein musik kunst sport religion ethik
biologie physik chemie geschichte erdkunde geographie sachunterricht informatik
hausaufgaben zeugnis noten note prüfung klassenarbeit schuljahr halbjahr neues neu
alt start anfang ende jitsi meet video videokonferenz online digital homeschooling
fernunterricht raum räume zimmer medien medienzentrum landkreis kreis stadt gemeinde
dorf land deutschland muster beispiel musterstadt beispielheim abc
eins zwei drei vier fünf sechs sieben acht neun zehn
";

/// Keyboard rows (German and English) and the alphabet, for sequences.
const SEQUENCES: [&str; 7] = [
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertzuiopü",
    "qwertyuiop",
    "asdfghjklöä",
    "yxcvbnm",
    "zxcvbnm",
];

/// Why a password is refused; it never holds the password or a part of it.
#[derive(Debug, Clone, PartialEq)]
pub enum Weak {
    TooShort { length: usize },
    Guessable { log10: f64, parts: Vec<Part> },
}

impl fmt::Display for Weak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Weak::TooShort { length } => write!(
                f,
                "it has {length} characters, at least {MIN_LENGTH} are needed"
            ),
            Weak::Guessable { log10, parts } => {
                let mut kinds: Vec<&str> = vec![];
                for part in parts {
                    if !kinds.contains(&part.describe()) {
                        kinds.push(part.describe());
                    }
                }
                write!(
                    f,
                    "it takes about 10^{:.0} guesses, at least 10^{MIN_GUESSES_LOG10:.0} are needed \
                     (made of {})",
                    log10.floor(),
                    kinds.join(", ")
                )
            }
        }
    }
}

/// The kinds of part a password is cut into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Context,
    Common,
    Sequence,
    Repeated,
    Repeat,
    Year,
    Digits,
    Letters,
    Other,
}

impl Part {
    fn describe(self) -> &'static str {
        match self {
            Part::Context => "a name of the school or its rooms",
            Part::Common => "a common password or school word",
            Part::Sequence => "an alphabet or keyboard sequence",
            Part::Repeated => "a repeated character",
            Part::Repeat => "a repeat of an earlier part",
            Part::Year => "a year",
            Part::Digits => "digits",
            Part::Letters => "other letters",
            Part::Other => "other characters",
        }
    }
}

/// The estimate: bits (log2 of guesses) and the parts of the cheapest reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub bits: f64,
    pub parts: Vec<Part>,
}

impl Estimate {
    pub fn log10(&self) -> f64 {
        self.bits * std::f64::consts::LOG10_2
    }
}

/// Checks a password against the rule; `context` holds the school's id, name and room
/// names.
pub fn check(password: &str, context: &[&str]) -> Result<(), Weak> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(Weak::TooShort { length });
    }
    let estimate = estimate(password, context);
    if estimate.log10() < MIN_GUESSES_LOG10 {
        return Err(Weak::Guessable {
            log10: estimate.log10(),
            parts: estimate.parts,
        });
    }
    Ok(())
}

struct Dictionary {
    /// The words by their first character: a school can have thousands of room names.
    words: HashMap<char, Vec<Vec<char>>>,
    bits: f64,
    part: Part,
}

impl Dictionary {
    /// From lower-case words, sorted out without hashing or copying them: a register
    /// checks a dictionary of its names for every school.
    fn new(words: impl Iterator<Item = String>, part: Part) -> Dictionary {
        let mut by_first: HashMap<char, Vec<Vec<char>>> = HashMap::new();
        for word in words {
            let plain = (!word.is_ascii())
                .then(|| transliterate(&word))
                .filter(|p| *p != word);
            for variant in std::iter::once(word).chain(plain) {
                let mut chars = Vec::with_capacity(variant.len());
                chars.extend(variant.chars());
                if chars.len() < 3 {
                    continue;
                }
                by_first.entry(chars[0]).or_default().push(chars);
            }
        }
        let mut count = 0;
        for same_start in by_first.values_mut() {
            same_start.sort_unstable();
            same_start.dedup();
            count += same_start.len();
        }
        let bits = (count.max(2) as f64).log2();
        Dictionary {
            words: by_first,
            bits,
            part,
        }
    }

    /// The words that can match where the password has `c`: as written, or substituted.
    fn starting_with(&self, c: char) -> impl Iterator<Item = &Vec<char>> {
        std::iter::once(c)
            .chain(stands_for(c).iter().copied())
            .filter_map(|c| self.words.get(&c))
            .flatten()
    }
}

fn transliterate(word: &str) -> String {
    word.replace('ä', "ae")
        .replace('ö', "oe")
        .replace('ü', "ue")
        .replace('ß', "ss")
}

/// The words of the school's own names: each name whole (without separators) and its
/// runs of letters and digits.
fn context_words<'a>(context: &'a [&'a str]) -> Vec<String> {
    let mut words = vec![];
    for name in context {
        let lower = name.to_lowercase();
        words.push(lower.chars().filter(|c| c.is_alphanumeric()).collect());
        words.extend(
            lower
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_owned),
        );
    }
    words
}

/// The conservative guess estimate described in the module documentation.
pub fn estimate(password: &str, context: &[&str]) -> Estimate {
    let original: Vec<char> = password.chars().take(MAX_ESTIMATED).collect();
    let lower: Vec<char> = original
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let context = context_words(context);
    // The common words are indexed once per process: a register checks thousands of
    // passwords.
    static COMMON: OnceLock<Dictionary> = OnceLock::new();
    let common = COMMON.get_or_init(|| {
        let words = COMMON_WORDS.split_whitespace().map(str::to_lowercase);
        Dictionary::new(words, Part::Common)
    });
    let context = Dictionary::new(context.into_iter(), Part::Context);
    let dictionaries = [&context, common];
    let n = lower.len();
    // best[i]: the cheapest reading of the first i characters, and its last part.
    let mut best: Vec<(f64, usize, Part)> = vec![(f64::INFINITY, 0, Part::Other); n + 1];
    best[0].0 = 0.0;
    for start in 0..n {
        let base = best[start].0;
        let mut offer = |end: usize, bits: f64, part: Part| {
            if base + bits < best[end].0 {
                best[end] = (base + bits, start, part);
            }
        };
        for dictionary in dictionaries {
            for word in dictionary.starting_with(lower[start]) {
                if let Some(substitutions) = matches_at(&lower, start, word) {
                    let end = start + word.len();
                    let bits =
                        dictionary.bits + substitutions as f64 + capitals(&original[start..end]);
                    offer(end, bits, dictionary.part);
                }
            }
        }
        let sequence = sequence_at(&lower, start);
        for len in 3..=sequence {
            offer(start + len, 8.0 + (len as f64).log2(), Part::Sequence);
        }
        let run = lower[start..]
            .iter()
            .take_while(|&&c| c == lower[start])
            .count();
        for len in 3..=run {
            offer(
                start + len,
                alphabet(lower[start]).log2() + (len as f64).log2(),
                Part::Repeated,
            );
        }
        // A piece that stands earlier in the password: its every prefix does too, so the
        // longest such piece starting here is all there is to find.
        let repeat = (0..start)
            .map(|j| {
                (0..start - j)
                    .take_while(|&k| start + k < n && lower[j + k] == lower[start + k])
                    .count()
            })
            .max()
            .unwrap_or(0);
        for len in 1..=repeat.min(32) {
            offer(start + len, 1.0, Part::Repeat);
        }
        let digits = lower[start..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits >= 4 {
            let year: String = lower[start..start + 4].iter().collect();
            if ("1900".."2100").contains(&year.as_str()) {
                offer(start + 4, 200f64.log2(), Part::Year);
            }
        }
        for len in 1..=digits {
            offer(start + len, len as f64 * 10f64.log2(), Part::Digits);
        }
        let letters = lower[start..]
            .iter()
            .take_while(|c| c.is_alphabetic())
            .count();
        for len in 1..=letters {
            let bits = (len as f64 * 26f64.log2()).min(16.0 + 2.0 * len.saturating_sub(8) as f64);
            offer(
                start + len,
                bits + capitals(&original[start..start + len]),
                Part::Letters,
            );
        }
        if digits == 0 && letters == 0 {
            offer(start + 1, 33f64.log2(), Part::Other);
        }
    }
    let mut parts = vec![];
    let mut at = n;
    while at > 0 {
        let (_, from, part) = best[at];
        parts.push(part);
        at = from;
    }
    parts.reverse();
    Estimate {
        bits: best[n].0,
        parts,
    }
}

/// Whether `word` stands at `start` (with substitutions), and how many substitutions.
fn matches_at(password: &[char], start: usize, word: &[char]) -> Option<usize> {
    let piece = password.get(start..start + word.len())?;
    let mut substitutions = 0;
    for (&p, &w) in piece.iter().zip(word) {
        if p != w {
            if !stands_for(p).contains(&w) {
                return None;
            }
            substitutions += 1;
        }
    }
    Some(substitutions)
}

/// The letters a password character commonly stands in for ("p4ssw0rd").
fn stands_for(c: char) -> &'static [char] {
    match c {
        '0' => &['o'],
        '1' => &['i', 'l'],
        '3' => &['e'],
        '4' | '@' => &['a'],
        '$' | '5' => &['s'],
        '7' => &['t'],
        '!' => &['i'],
        _ => &[],
    }
}

/// The length of the longest sequence (forwards or backwards) starting at `start`.
fn sequence_at(password: &[char], start: usize) -> usize {
    let mut longest = 0;
    for source in SEQUENCES {
        let source: Vec<char> = source.chars().collect();
        for step in [1isize, -1] {
            for first in source
                .iter()
                .enumerate()
                .filter(|(_, &c)| c == password[start])
            {
                let mut len = 1;
                let mut i = first.0 as isize;
                while let (Some(&next), Some(&want)) = (
                    password.get(start + len),
                    usize::try_from(i + step).ok().and_then(|j| source.get(j)),
                ) {
                    if next != want {
                        break;
                    }
                    len += 1;
                    i += step;
                }
                longest = longest.max(len);
            }
        }
    }
    longest
}

/// How many characters of this kind there are to choose from.
fn alphabet(c: char) -> f64 {
    if c.is_ascii_digit() {
        10.0
    } else if c.is_alphabetic() {
        26.0
    } else {
        33.0
    }
}

/// Bits for the capitals in a word: 0 for none, 1 for a capital first letter or all
/// capitals, else log2 of the ways to place them.
fn capitals(word: &[char]) -> f64 {
    let upper = word.iter().filter(|c| c.is_uppercase()).count();
    let letters = word.iter().filter(|c| c.is_alphabetic()).count();
    if upper == 0 {
        0.0
    } else if upper == letters || (upper == 1 && word[0].is_uppercase()) {
        1.0
    } else {
        let k = upper.min(letters - upper);
        (0..k)
            .map(|i| ((letters - i) as f64 / (i + 1) as f64).log2())
            .sum()
    }
}

// --- new passwords -------------------------------------------------------------------

/// Consonants and vowels that cannot be mistaken for digits or each other (no l, o, c,
/// j, q, x, y).
const CONSONANTS: &[u8] = b"bdfghkmnprstvwz";
const VOWELS: &[u8] = b"aeiu";
const GROUPS: usize = 6;

/// The bits of a new password: six groups of consonant-vowel-consonant-vowel.
pub fn generated_bits() -> f64 {
    let per_group = (CONSONANTS.len() * VOWELS.len()) as f64;
    GROUPS as f64 * 2.0 * per_group.log2()
}

/// A strong, readable new password, e.g. `bawi-tune-dika-mefu-zapi-sehu` (about 71 bits
/// from the OS random source), that passes [`check`].
pub fn generate() -> Result<String, getrandom::Error> {
    loop {
        let mut groups = vec![];
        for _ in 0..GROUPS {
            let mut group = String::new();
            for _ in 0..2 {
                group.push(CONSONANTS[uniform(CONSONANTS.len())?] as char);
                group.push(VOWELS[uniform(VOWELS.len())?] as char);
            }
            groups.push(group);
        }
        let password = groups.join("-");
        if check(&password, &[]).is_ok() {
            return Ok(password);
        }
    }
}

/// A uniform random index below `n` (rejection sampling: no modulo bias).
fn uniform(n: usize) -> Result<usize, getrandom::Error> {
    let n = n as u32;
    let limit = u32::MAX - u32::MAX % n;
    loop {
        let mut bytes = [0u8; 4];
        getrandom::getrandom(&mut bytes)?;
        let x = u32::from_le_bytes(bytes);
        if x < limit {
            return Ok((x % n) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CONTEXT: &[&str] = &[
        "gs-musterstadt",
        "Grundschule Müllheim",
        "gs-musterstadt-1",
        "Klasse 4b",
    ];

    #[test]
    fn strong_passwords_pass() {
        for password in [
            // The test harness's passwords.
            "Tafel-Kreide-Pausenhof-47",
            "Zirkel-Atlas-Turnhalle-83",
            "bawi-tune-dika-mefu-zapi-sehu",
            "Nebel Fahrrad Kompass Ufer",
            "hQ7vTk2LmWpR9zXs",
            "Kx9#mP2$vL5nQ8wR",
            "correcthorsebatterystaple",
        ] {
            let e = estimate(password, CONTEXT);
            assert!(
                check(password, CONTEXT).is_ok(),
                "{password:?} refused: {e:?}"
            );
        }
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        let table: &[(&str, &str)] = &[
            ("Raum-4b", "7 characters"),
            ("Sonnenblume-17", "a common password or school word"),
            ("Grundschule2024!", "a year"),
            ("Neues-Schuljahr", "a common password or school word"),
            ("Musterstadt-2026", "a name of the school or its rooms"),
            ("Muellheim-Klasse-4b", "a name of the school or its rooms"),
            ("gs-musterstadt-1-2025", "a name of the school or its rooms"),
            ("P@ssw0rt-2025!", "a common password"),
            ("qwertzuiop123456", "an alphabet or keyboard sequence"),
            ("aaaaaaaaaaaaaaaa", "a repeated character"),
            ("abcabcabcabcabc1", "a repeat of an earlier part"),
            ("Lehrerzimmer-Konferenz", "a common password or school word"),
            ("Sommerferien2025", "a year"),
            ("ichliebedich1234", "a common password"),
        ];
        for (password, why) in table {
            let weak = check(password, CONTEXT).expect_err(password);
            let message = weak.to_string();
            assert!(message.contains(why), "{password:?}: {message}");
            assert!(
                !message.to_lowercase().contains(&password.to_lowercase()),
                "{message}"
            );
        }
    }

    #[test]
    fn the_estimate_follows_the_table() {
        // A year is log2(200) bits; a school word log2 of the list.
        let year = estimate("2024", &[]);
        assert_eq!(year.parts, [Part::Year]);
        assert!((year.bits - 200f64.log2()).abs() < 1e-9);
        let words = Dictionary::new(
            COMMON_WORDS.split_whitespace().map(str::to_lowercase),
            Part::Common,
        );
        let schule = estimate("Schule", &[]);
        assert_eq!(schule.parts, [Part::Common]);
        assert!((schule.bits - words.bits - 1.0).abs() < 1e-9);
        // Unknown letters are capped like a dictionary word.
        let e = estimate("xkqvbnwm", &[]);
        assert_eq!(e.parts, [Part::Letters]);
        assert!((e.bits - 16.0).abs() < 1e-9);
    }

    #[test]
    fn generated_passwords_are_strong_and_readable() {
        assert!(generated_bits() >= 64.0, "{}", generated_bits());
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        for p in [&a, &b] {
            assert_eq!(p.len(), 6 * 4 + 5, "{p}");
            assert!(p
                .chars()
                .all(|c| c == '-' || (c.is_ascii_lowercase() && !"locjqxy".contains(c))));
            assert!(check(p, CONTEXT).is_ok(), "{p}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_reads_every_character(p in "\\PC{0,60}") {
            let e = estimate(&p, CONTEXT);
            prop_assert!(e.bits.is_finite() && e.bits >= 0.0);
            prop_assert_eq!(e.parts.is_empty(), p.is_empty());
            let _ = check(&p, CONTEXT).map_err(|e| e.to_string());
        }
    }
}
