//! Room names as Jitsi opens them.
//!
//! Media centres write room names as people type them ("Grundschule Müllheim 1"); Jitsi
//! Meet's web and mobile apps turn such a name into the node of the room JID. raumwart
//! must protect the nodes Jitsi produces, so every configured name is mapped here to the
//! set of distinct nodes it can become:
//!
//! - **typed**: the name typed on Jitsi's welcome page (or the apps' join field). Jitsi
//!   parses it as an address: all whitespace is dropped, then the characters
//!   `: ? # [ ] @ ! $ & ' ( ) * + , ; = > < / "` (jitsi-meet's pattern escapes `:` and
//!   `?` with a backslash; the backslash itself is not dropped).
//! - **link**: the name written into a link, `https://meet.example/Grundschule Müllheim 1`.
//!   The browser percent-encodes space, `"`, `<`, `>` and everything non-ASCII before Jitsi
//!   sees the address, so only the excluded characters that are left as they are get
//!   dropped; a space survives as `%20`.
//!
//! Both then go through Jitsi's `getBackendSafeRoomName`: percent-decode (a string that
//! does not decode is kept as it is), NFKC, lower case, percent-encode as JavaScript's
//! `encodeURIComponent` does (upper-case hex), and lower case once more, so the hex
//! digits end up lower case.
//!
//! Names whose result would be ambiguous or no valid XMPP node are refused, with a name
//! to use instead when there is one.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// The longest node XMPP allows, in bytes (RFC 7622).
const MAX_NODE_BYTES: usize = 1023;

/// Characters Jitsi removes from the room part of an address (jitsi-meet's
/// `_ROOM_EXCLUDE_PATTERN`).
const JITSI_EXCLUDED: &str = ":?#[]@!$&'()*+,;=></\"";

/// Characters Jitsi reads as parts of an address rather than of the room name: the room
/// would be another one, or a room under a "tenant" path. (Browsers turn `\` in a link
/// into `/`.)
const ADDRESS_SYNTAX: &str = "/\\?#:";

/// The nodes one configured name becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nodes {
    /// The name typed into Jitsi.
    pub typed: String,
    /// The name opened as a link.
    pub link: String,
}

impl Nodes {
    /// The distinct nodes, typed form first.
    pub fn distinct(&self) -> Vec<&str> {
        if self.typed == self.link {
            vec![&self.typed]
        } else {
            vec![&self.typed, &self.link]
        }
    }
}

/// Why a configured name cannot be used, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub reason: String,
    /// A name that keeps as much of this one as possible and maps to valid nodes.
    pub instead: Option<String>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)?;
        match &self.instead {
            Some(name) => write!(f, "; write {name:?} instead"),
            None => f.write_str("; use letters, digits, '-', '_' or '.'"),
        }
    }
}

/// Maps a configured room name to the nodes Jitsi opens for it.
pub fn nodes(name: &str) -> Result<Nodes, Refused> {
    // The common case, which every step of `converted` keeps as it is: a register of a
    // whole state has 100,000 such names, read at every start.
    if plain(name) && check_node(name).is_ok() {
        return Ok(Nodes {
            typed: name.to_owned(),
            link: name.to_owned(),
        });
    }
    converted(name)
}

/// Lower-case ASCII letters, digits, `-`, `_` and `.` only.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.'))
}

/// `nodes`, every step taken.
fn converted(name: &str) -> Result<Nodes, Refused> {
    let refuse = |reason: String, cleaned: String| {
        let instead = (cleaned != name && !cleaned.is_empty())
            .then(|| nodes(&cleaned).ok().map(|_| cleaned))
            .flatten();
        Err(Refused { reason, instead })
    };
    if name.chars().all(is_js_whitespace) {
        return Err(Refused {
            reason: "a room name must not be empty".into(),
            instead: None,
        });
    }
    if name.chars().any(|c| ADDRESS_SYNTAX.contains(c)) {
        return refuse(
            "Jitsi reads / \\ ? # and : in a room name as parts of the address".into(),
            name.chars()
                .filter(|c| !ADDRESS_SYNTAX.contains(*c))
                .collect(),
        );
    }
    let (typed, link) = (typed_form(name), link_form(name));
    if percent_decode(&typed).is_none() || percent_decode(&link).is_none() {
        return refuse(
            "it has a '%' that is no %XX escape of UTF-8, which Jitsi's apps treat differently"
                .into(),
            without_bad_percent(name),
        );
    }
    let nodes = Nodes {
        typed: backend_safe(&typed),
        link: backend_safe(&link),
    };
    for node in nodes.distinct() {
        if let Err(why) = check_node(node) {
            return refuse(
                format!("Jitsi would open the room {node:?}, {why}"),
                without_apostrophes(name),
            );
        }
    }
    Ok(nodes)
}

/// Whether `node` is a node XMPP and Jitsi accept (what `nodes` yields, or a node
/// written by hand).
pub fn check_node(node: &str) -> Result<(), &'static str> {
    if node.is_empty() {
        return Err("which is empty");
    }
    if node.len() > MAX_NODE_BYTES {
        return Err("which is longer than XMPP allows (1023 bytes)");
    }
    // Nodeprep (RFC 7622 / RFC 3920) forbids these; Jitsi refuses upper case.
    if node
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "\"&'/:<>@".contains(c))
    {
        return Err("which no XMPP node may hold (\" & ' / : < > @, whitespace)");
    }
    if node.chars().any(char::is_uppercase) {
        return Err("which has upper case, which Jitsi refuses");
    }
    Ok(())
}

/// The name as the welcome page turns it into an address: no whitespace, no excluded
/// characters.
fn typed_form(name: &str) -> String {
    name.chars()
        .filter(|&c| !is_js_whitespace(c) && !JITSI_EXCLUDED.contains(c))
        .collect()
}

/// The name as it arrives in a link: the excluded characters the browser does not
/// percent-encode are dropped. (The browser's encoding of the rest is undone by the
/// decoding step, so it need not be done here.)
fn link_form(name: &str) -> String {
    name.chars()
        .filter(|&c| !JITSI_EXCLUDED.contains(c) || "\"<>".contains(c))
        .collect()
}

/// jitsi-meet's `getBackendSafeRoomName`.
fn backend_safe(room: &str) -> String {
    let decoded = percent_decode(room).unwrap_or_else(|| room.to_owned());
    let normalized: String = decoded.nfkc().collect();
    encode_uri_component(&normalized.to_lowercase()).to_ascii_lowercase()
}

/// JavaScript's `decodeURIComponent`; `None` where it throws.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    // Escapes must form whole UTF-8 characters; the text between them is whole already.
    String::from_utf8(out).ok()
}

/// JavaScript's `encodeURIComponent`: all but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` as UTF-8
/// bytes in upper-case hex.
fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// JavaScript's `\s`: White_Space of the Zs category, the line terminators, and BOM.
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// The name without the `%` signs that do not start a valid escape.
fn without_bad_percent(name: &str) -> String {
    let mut out = String::new();
    let mut rest = name;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = &rest[at..];
        let valid = escape.len() >= 3
            && escape.as_bytes()[1..3].iter().all(u8::is_ascii_hexdigit)
            && percent_decode(&escape[..3]).is_some();
        if valid {
            out.push_str(&escape[..3]);
            rest = &escape[3..];
        } else {
            rest = &escape[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The name without what becomes an apostrophe in the node (`%27`, or a character
/// whose NFKC form holds one).
fn without_apostrophes(name: &str) -> String {
    let mut out = String::new();
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if rest.get(..3).is_some_and(|s| s.eq_ignore_ascii_case("%27")) {
            rest = &rest[3..];
            continue;
        }
        if !c.to_string().nfkc().any(|n| n == '\'') {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both(name: &str) -> (String, String) {
        let n = nodes(name).unwrap_or_else(|e| panic!("{name:?} refused: {e}"));
        (n.typed, n.link)
    }

    #[test]
    fn typed_and_link_nodes() {
        let table: &[(&str, &str, &str)] = &[
            // Names that are nodes already map to themselves.
            ("gs-musterstadt-1", "gs-musterstadt-1", "gs-musterstadt-1"),
            ("gs-muellheim.4b", "gs-muellheim.4b", "gs-muellheim.4b"),
            ("klasse_4b", "klasse_4b", "klasse_4b"),
            // The example from the issue.
            (
                "Grundschule Müllheim 1",
                "grundschulem%c3%bcllheim1",
                "grundschule%20m%c3%bcllheim%201",
            ),
            (
                "grundschule-müllheim",
                "grundschule-m%c3%bcllheim",
                "grundschule-m%c3%bcllheim",
            ),
            // Upper-case umlauts are lowered before encoding.
            ("ÄÖÜ", "%c3%a4%c3%b6%c3%bc", "%c3%a4%c3%b6%c3%bc"),
            // ß stays ß (no "ss"); capital ẞ becomes ß.
            ("Straße", "stra%c3%9fe", "stra%c3%9fe"),
            ("STRAẞE", "stra%c3%9fe", "stra%c3%9fe"),
            // NFKC: ligatures, fullwidth letters, circled digits; composed accents.
            ("ﬁlm-ag", "film-ag", "film-ag"),
            ("Ｋｌａｓｓｅ", "klasse", "klasse"),
            ("klasse-①", "klasse-1", "klasse-1"),
            ("cafe\u{301}", "caf%c3%a9", "caf%c3%a9"),
            // Whitespace of every kind goes when typed; it is encoded in a link.
            ("Klasse\t4b", "klasse4b", "klasse%094b"),
            ("Klasse\u{a0}4b", "klasse4b", "klasse%204b"),
            // Punctuation Jitsi drops; in a link `"<>` are encoded by the browser first.
            ("Mathe (5a)!", "mathe5a", "mathe%205a"),
            ("a&b+c=d;e,f", "abcdef", "abcdef"),
            ("5a@gs", "5ags", "5ags"),
            ("\"5a\"", "5a", "%225a%22"),
            ("a<b>", "ab", "a%3cb%3e"),
            // What encodeURIComponent leaves alone stays; the rest is encoded.
            ("a~b", "a~b", "a~b"),
            ("a|b^c", "a%7cb%5ec", "a%7cb%5ec"),
            // Escapes are decoded first: written encoded or not, the node is the same.
            (
                "grundschule-m%C3%BCllheim",
                "grundschule-m%c3%bcllheim",
                "grundschule-m%c3%bcllheim",
            ),
            ("100%25", "100%25", "100%25"),
            ("klasse%204b", "klasse%204b", "klasse%204b"),
        ];
        for (name, typed, link) in table {
            assert_eq!(
                both(name),
                (typed.to_string(), link.to_string()),
                "nodes of {name:?}"
            );
        }
    }

    #[test]
    fn refused_names_say_what_to_write() {
        let table: &[(&str, Option<&str>)] = &[
            ("", None),
            ("   ", None),
            ("Klasse 4/5", Some("Klasse 45")),
            ("Mathe: Klasse 5", Some("Mathe Klasse 5")),
            ("wer? wo?", Some("wer wo")),
            ("4b#2", Some("4b2")),
            ("a\\b", Some("ab")),
            ("100% Mathe", Some("100 Mathe")),
            ("%zz", Some("zz")),
            ("%c3", Some("c3")),
            ("O%27Brien", Some("OBrien")),
            ("O＇Brien", Some("OBrien")),
            ("!!!", None),
            ("(  )", None),
        ];
        for (name, instead) in table {
            let refused = nodes(name).expect_err(name);
            assert_eq!(refused.instead.as_deref(), *instead, "{name:?}: {refused}");
        }
        let msg = nodes("Klasse 4/5").unwrap_err().to_string();
        assert!(msg.ends_with("; write \"Klasse 45\" instead"), "{msg}");
    }

    #[test]
    fn nodes_are_checked() {
        assert!(check_node("gs-musterstadt-1").is_ok());
        assert!(check_node("grundschule%20m%c3%bcllheim%201").is_ok());
        for bad in ["", "a b", "a'b", "a@b", "a/b", "Klasse", "a:b", "a\"b"] {
            assert!(check_node(bad).is_err(), "{bad:?}");
        }
        assert!(check_node(&"a".repeat(1024)).is_err());
    }

    proptest! {
        #[test]
        fn mapping_never_panics_and_yields_valid_nodes(name in "\\PC{0,40}") {
            if let Ok(n) = nodes(&name) {
                for node in n.distinct() {
                    prop_assert!(check_node(node).is_ok(), "{:?} -> {:?}", name, node);
                }
            }
        }

        #[test]
        fn refusals_suggest_names_that_work(name in "[ a-zA-Zäöüß0-9%/:?#'’＇!()-]{0,20}") {
            if let Err(Refused { instead: Some(other), .. }) = nodes(&name) {
                prop_assert!(nodes(&other).is_ok(), "{:?} suggests {:?}", name, other);
            }
        }

        /// The shortcut for plain names gives what every step would.
        #[test]
        fn plain_names_convert_to_themselves(name in "[a-z0-9._-]{1,40}") {
            prop_assert!(plain(&name));
            prop_assert_eq!(nodes(&name).ok(), converted(&name).ok());
        }

        /// A node is a name that maps to itself (when Jitsi would not drop its ! * ( )).
        #[test]
        fn nodes_map_to_themselves(name in "[ a-zA-Z0-9äöüÄÖÜßﬁ._~%-]{1,30}") {
            if let Ok(n) = nodes(&name) {
                // "%21" decodes to "!", which encodeURIComponent keeps and typing drops.
                for node in n.distinct().into_iter().filter(|n| !n.contains(['!', '*', '(', ')'])) {
                    let again = nodes(node).unwrap();
                    prop_assert_eq!(again.distinct(), vec![node]);
                }
            }
        }
    }
}
