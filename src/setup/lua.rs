//! Reading a Prosody config file as Prosody does, as far as `setup` needs it: which host
//! section each statement is in, the options assigned there with their literal values,
//! the `Include` lines, and where a list's braces are so that an item can be added.
//!
//! Prosody's config is Lua run in an environment where `VirtualHost "x"` and
//! `Component "x" "module"` switch the section the following assignments go to, until
//! the next one (there is no way back to the global section in a file). Only literals
//! are understood; anything else is kept as text and never edited.

use std::ops::Range;

/// A literal value, as written.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Str(String),
    Bool(bool),
    /// A number, as written.
    Num(String),
}

impl Literal {
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Literal::Str(s) => Some(s),
            _ => None,
        }
    }

    /// As Lua would write it.
    pub(super) fn lua(&self) -> String {
        match self {
            Literal::Str(s) => quote(s),
            Literal::Bool(b) => b.to_string(),
            Literal::Num(n) => n.clone(),
        }
    }
}

/// A table constructor `{ ... }`: where its braces are, its literal items, and what
/// separates them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct List {
    pub(super) open: usize,
    pub(super) close: usize,
    pub(super) items: Vec<Literal>,
    /// Where the last item (or separator) before the closing brace ends, and whether it
    /// is a separator; None for an empty list.
    pub(super) last: Option<(usize, bool)>,
    /// `;` when the list uses it, else `,`.
    pub(super) separator: char,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Literal(Literal),
    List(List),
    /// Anything else (a call, an expression), as written.
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Stmt {
    /// `VirtualHost "name"` (module None) or `Component "name" ["module"]`.
    Section {
        name: String,
        component: bool,
        module: Option<String>,
        line: usize,
    },
    /// `name = value`; section None is the global section.
    Assign {
        section: Option<String>,
        name: String,
        value: Value,
        line: usize,
        /// The statement's first byte.
        start: usize,
    },
    Include {
        pattern: String,
    },
}

/// A file's statements.
#[derive(Debug, Clone)]
pub(super) struct Parsed {
    pub(super) stmts: Vec<Stmt>,
}

impl Parsed {
    /// The last assignment of `option` in `section` (None: global), with its line.
    pub(super) fn option(&self, section: Option<&str>, option: &str) -> Option<(&Value, usize)> {
        self.stmts.iter().rev().find_map(|s| match s {
            Stmt::Assign {
                section: sec,
                name,
                value,
                line,
                ..
            } if sec.as_deref() == section && name == option => Some((value, *line)),
            _ => None,
        })
    }

    /// Each section declared: (name, is a component, its module).
    pub(super) fn sections(&self) -> impl Iterator<Item = (&str, bool, Option<&str>, usize)> {
        self.stmts.iter().filter_map(|s| match s {
            Stmt::Section {
                name,
                component,
                module,
                line,
            } => Some((name.as_str(), *component, module.as_deref(), *line)),
            _ => None,
        })
    }

    pub(super) fn includes(&self) -> impl Iterator<Item = &str> {
        self.stmts.iter().filter_map(|s| match s {
            Stmt::Include { pattern } => Some(pattern.as_str()),
            _ => None,
        })
    }
}

/// A string as a Lua literal.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\{}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Name(String),
    Str(String),
    Num(String),
    Punct(&'static str),
    /// Any other character.
    Char(char),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    span: Range<usize>,
    line: usize,
}

/// The error of a file Lua itself would not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub(super) struct SyntaxError {
    pub(super) line: usize,
    pub(super) message: String,
}

fn error(line: usize, message: &str) -> SyntaxError {
    SyntaxError {
        line,
        message: message.to_owned(),
    }
}

/// The tokens of `text`, comments left out.
fn tokens(text: &str) -> Result<Vec<Token>, SyntaxError> {
    let b = text.as_bytes();
    let mut out = vec![];
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        let c = b[i];
        let start = i;
        let at = line;
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i += 2;
                if let Some(level) = long_bracket(b, i) {
                    let (end, lines) = long_end(b, i, level)
                        .ok_or_else(|| error(at, "unfinished long comment"))?;
                    i = end;
                    line += lines;
                } else {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
            }
            b'"' | b'\'' => {
                let (value, end) =
                    short_string(text, i).ok_or_else(|| error(at, "unfinished string"))?;
                i = end;
                out.push(Token {
                    kind: Kind::Str(value),
                    span: start..i,
                    line: at,
                });
            }
            b'[' if long_bracket(b, i).is_some() => {
                let level = long_bracket(b, i).unwrap_or(0);
                let (end, lines) =
                    long_end(b, i, level).ok_or_else(|| error(at, "unfinished long string"))?;
                let body_start = i + level + 2;
                let body = &text[body_start..end - level - 2];
                // Lua drops a newline right after the opening bracket.
                let body = body.strip_prefix('\n').unwrap_or(body);
                i = end;
                line += lines;
                out.push(Token {
                    kind: Kind::Str(body.to_owned()),
                    span: start..i,
                    line: at,
                });
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                out.push(Token {
                    kind: Kind::Name(text[start..i].to_owned()),
                    span: start..i,
                    line: at,
                });
            }
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                while i < b.len() {
                    let d = b[i];
                    let exponent = matches!(b[i - 1], b'e' | b'E' | b'p' | b'P');
                    if d.is_ascii_alphanumeric()
                        || d == b'.'
                        || ((d == b'+' || d == b'-') && exponent)
                    {
                        i += 1;
                    } else {
                        break;
                    }
                }
                out.push(Token {
                    kind: Kind::Num(text[start..i].to_owned()),
                    span: start..i,
                    line: at,
                });
            }
            _ => {
                let two = text.get(i..i + 2).unwrap_or("");
                let kind = match ["==", "~=", "<=", ">=", "::", ".."]
                    .iter()
                    .find(|p| **p == two)
                {
                    Some(p) => {
                        i += 2;
                        Kind::Punct(p)
                    }
                    None => {
                        let ch = text[i..].chars().next().unwrap_or('\0');
                        i += ch.len_utf8();
                        match ch {
                            '=' => Kind::Punct("="),
                            '{' => Kind::Punct("{"),
                            '}' => Kind::Punct("}"),
                            '(' => Kind::Punct("("),
                            ')' => Kind::Punct(")"),
                            '[' => Kind::Punct("["),
                            ']' => Kind::Punct("]"),
                            ',' => Kind::Punct(","),
                            ';' => Kind::Punct(";"),
                            ':' => Kind::Punct(":"),
                            other => Kind::Char(other),
                        }
                    }
                };
                out.push(Token {
                    kind,
                    span: start..i,
                    line: at,
                });
            }
        }
    }
    Ok(out)
}

/// The level of a long bracket `[==[` starting at `i`.
fn long_bracket(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let level = b[i + 1..].iter().take_while(|c| **c == b'=').count();
    (b.get(i + 1 + level) == Some(&b'[')).then_some(level)
}

/// The end of the long bracket opened at `i` (past its closing `]==]`), and the
/// newlines inside.
fn long_end(b: &[u8], i: usize, level: usize) -> Option<(usize, usize)> {
    let close: Vec<u8> = std::iter::once(b']')
        .chain(std::iter::repeat_n(b'=', level))
        .chain(std::iter::once(b']'))
        .collect();
    let from = i + level + 2;
    let at = b[from..].windows(close.len()).position(|w| w == close)?;
    let end = from + at + close.len();
    Some((end, b[i..end].iter().filter(|c| **c == b'\n').count()))
}

/// A quoted string starting at `i`: its value and where it ends.
fn short_string(text: &str, i: usize) -> Option<(String, usize)> {
    let quote = text[i..].chars().next()?;
    let mut value = String::new();
    let mut chars = text[i + 1..].char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Some((value, i + 1 + at + 1)),
            '\n' => return None,
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    d if d.is_ascii_digit() => {
                        let mut n = d.to_digit(10)?;
                        for _ in 0..2 {
                            let rest = chars.as_str();
                            match rest.chars().next().and_then(|c| c.to_digit(10)) {
                                Some(more) => {
                                    n = n * 10 + more;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        value.push(char::from_u32(n)?);
                    }
                    other => value.push(other),
                }
            }
            c => value.push(c),
        }
    }
    None
}

const SECTIONS: [&str; 5] = ["VirtualHost", "Host", "host", "Component", "component"];

/// Reads a config file's statements.
pub(super) fn parse(text: &str) -> Result<Parsed, SyntaxError> {
    let t = tokens(text)?;
    let mut stmts = vec![];
    let mut section: Option<String> = None;
    let mut i = 0;
    while i < t.len() {
        let Kind::Name(name) = &t[i].kind else {
            i = skip(&t, i)?;
            continue;
        };
        if SECTIONS.contains(&name.as_str()) {
            let component = name.eq_ignore_ascii_case("component");
            let (host, next) = string_arg(&t, i + 1)
                .ok_or_else(|| error(t[i].line, "a section without a name"))?;
            let (module, next) = match component.then(|| string_arg(&t, next)).flatten() {
                Some((m, n)) => (Some(m), n),
                None => (None, next),
            };
            stmts.push(Stmt::Section {
                name: host.clone(),
                component,
                module,
                line: t[i].line,
            });
            section = Some(host);
            i = next;
            continue;
        }
        if name.eq_ignore_ascii_case("include") {
            if let Some((pattern, next)) = string_arg(&t, i + 1) {
                stmts.push(Stmt::Include { pattern });
                i = next;
                continue;
            }
        }
        if t.get(i + 1).map(|n| &n.kind) == Some(&Kind::Punct("=")) {
            let (value, next) = value(text, &t, i + 2)?;
            stmts.push(Stmt::Assign {
                section: section.clone(),
                name: name.clone(),
                value,
                line: t[i].line,
                start: t[i].span.start,
            });
            i = next;
            continue;
        }
        i = skip(&t, i)?;
    }
    Ok(Parsed { stmts })
}

/// `"x"` or `("x")` at `i`: the string and the token after it.
fn string_arg(t: &[Token], i: usize) -> Option<(String, usize)> {
    match (
        &t.get(i)?.kind,
        t.get(i + 1).map(|n| &n.kind),
        t.get(i + 2).map(|n| &n.kind),
    ) {
        (Kind::Str(s), _, _) => Some((s.clone(), i + 1)),
        (Kind::Punct("("), Some(Kind::Str(s)), Some(Kind::Punct(")"))) => Some((s.clone(), i + 3)),
        _ => None,
    }
}

/// Past the token at `i`, or past the whole bracket it opens.
fn skip(t: &[Token], i: usize) -> Result<usize, SyntaxError> {
    match t[i].kind {
        Kind::Punct("{") | Kind::Punct("(") | Kind::Punct("[") => Ok(matching(t, i)? + 1),
        _ => Ok(i + 1),
    }
}

/// The index of the bracket closing the one at `i`.
fn matching(t: &[Token], i: usize) -> Result<usize, SyntaxError> {
    let mut depth = 0usize;
    for (j, tok) in t.iter().enumerate().skip(i) {
        match tok.kind {
            Kind::Punct("{") | Kind::Punct("(") | Kind::Punct("[") => depth += 1,
            Kind::Punct("}") | Kind::Punct(")") | Kind::Punct("]") => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j);
                }
            }
            _ => {}
        }
    }
    Err(error(t[i].line, "a bracket that is never closed"))
}

/// The value starting at `i` and the index past it. A value ends at `;`, at the next
/// section, or at the next `name =` (Lua needs no separator between statements).
fn value(text: &str, t: &[Token], i: usize) -> Result<(Value, usize), SyntaxError> {
    let Some(first) = t.get(i) else {
        return Err(error(
            t.last().map_or(1, |t| t.line),
            "an option without a value",
        ));
    };
    let mut end = i;
    while end < t.len() {
        let starts_next = match &t[end].kind {
            Kind::Punct(";") => true,
            Kind::Name(n) if end > i => {
                SECTIONS.contains(&n.as_str())
                    || n.eq_ignore_ascii_case("include")
                    || matches!(
                        t.get(end + 1).map(|n| &n.kind),
                        Some(Kind::Punct("=") | Kind::Punct(":"))
                    )
            }
            _ => false,
        };
        if starts_next {
            break;
        }
        end = skip(t, end)?;
    }
    let value = match (&t[i..end], &first.kind) {
        ([_], Kind::Str(s)) => Value::Literal(Literal::Str(s.clone())),
        ([_], Kind::Num(n)) => Value::Literal(Literal::Num(n.clone())),
        ([_], Kind::Name(n)) if n == "true" || n == "false" => {
            Value::Literal(Literal::Bool(n == "true"))
        }
        (_, Kind::Punct("{")) if matching(t, i)? + 1 == end => Value::List(list(t, i, end - 1)),
        (toks, _) => {
            let span =
                toks.first().map_or(0, |f| f.span.start)..toks.last().map_or(0, |l| l.span.end);
            Value::Other(text[span].to_owned())
        }
    };
    // A `;` ending the statement belongs to it.
    let next = match t.get(end).map(|n| &n.kind) {
        Some(Kind::Punct(";")) => end + 1,
        _ => end,
    };
    Ok((value, next))
}

/// The list between the braces at `open` and `close`.
fn list(t: &[Token], open: usize, close: usize) -> List {
    let mut items = vec![];
    let mut last = None;
    let mut separator = ',';
    let mut j = open + 1;
    while j < close {
        let tok = &t[j];
        match &tok.kind {
            Kind::Str(s) => items.push(Literal::Str(s.clone())),
            Kind::Num(n) => items.push(Literal::Num(n.clone())),
            Kind::Name(n) if n == "true" || n == "false" => items.push(Literal::Bool(n == "true")),
            Kind::Punct(";") => separator = ';',
            _ => {}
        }
        let next = skip(t, j).unwrap_or(j + 1);
        let end = t[next - 1].span.end;
        last = Some((end, matches!(tok.kind, Kind::Punct(",") | Kind::Punct(";"))));
        j = next;
    }
    List {
        open: t[open].span.start,
        close: t[close].span.start,
        items,
        last,
        separator,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JITSI_LIKE: &str = r#"plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }
muc_mapper_domain_base = "meet.example.org";
external_services = {
     { type = "stun", host = "meet.example.org", port = 3478 },
};
--[[ a long
comment ]]
VirtualHost "meet.example.org"
    authentication = "jitsi-anonymous" -- do not delete me
    modules_enabled = {
        "bosh";
        "ping"; -- Enable mod_ping
    }
    main_muc = "conference.meet.example.org"

Component "conference.meet.example.org" "muc"
    restrict_room_creation = true
    modules_enabled = {
        "muc_meeting_id";
        --"token_verification";
        "muc_rate_limit";
    }
    admins = { "focus@auth.meet.example.org" }
    muc_room_cache_size = 500 component_ports = { 5347, 5348 }

Component("focus.meet.example.org")("client_proxy")
    target_address = "focus@auth.meet.example.org"
Include "other.cfg.lua"
"#;

    fn strs(items: &[Literal]) -> Vec<&str> {
        items.iter().filter_map(Literal::as_str).collect()
    }

    #[test]
    fn options_are_read_in_their_sections() {
        let p = parse(JITSI_LIKE).unwrap();
        let Some((Value::List(paths), 1)) = p.option(None, "plugin_paths") else {
            panic!("{:?}", p.option(None, "plugin_paths"));
        };
        assert_eq!(
            strs(&paths.items),
            ["/usr/share/jitsi-meet/prosody-plugins/"]
        );
        assert_eq!(
            p.option(None, "muc_mapper_domain_base")
                .map(|v| v.0.clone()),
            Some(Value::Literal(Literal::Str("meet.example.org".into())))
        );
        let muc = Some("conference.meet.example.org");
        let Some((Value::List(modules), 18)) = p.option(muc, "modules_enabled") else {
            panic!("{:?}", p.option(muc, "modules_enabled"));
        };
        // A commented-out item is no item.
        assert_eq!(strs(&modules.items), ["muc_meeting_id", "muc_rate_limit"]);
        assert_eq!(modules.separator, ';');
        assert_eq!(modules.last.map(|l| l.1), Some(true));
        let Some((Value::List(admins), _)) = p.option(muc, "admins") else {
            panic!()
        };
        assert_eq!(strs(&admins.items), ["focus@auth.meet.example.org"]);
        assert_eq!(
            (admins.separator, admins.last.map(|l| l.1)),
            (',', Some(false))
        );
        // Two statements on one line.
        assert_eq!(
            p.option(muc, "muc_room_cache_size").map(|v| v.0.clone()),
            Some(Value::Literal(Literal::Num("500".into())))
        );
        let Some((Value::List(ports), _)) = p.option(muc, "component_ports") else {
            panic!()
        };
        assert_eq!(
            ports.items,
            [Literal::Num("5347".into()), Literal::Num("5348".into())]
        );
        assert_eq!(
            p.option(Some("focus.meet.example.org"), "target_address")
                .map(|v| v.1),
            Some(27)
        );
        let sections: Vec<_> = p.sections().map(|s| (s.0, s.1, s.2)).collect();
        assert_eq!(
            sections,
            [
                ("meet.example.org", false, None),
                ("conference.meet.example.org", true, Some("muc")),
                ("focus.meet.example.org", true, Some("client_proxy")),
            ]
        );
        assert_eq!(p.includes().collect::<Vec<_>>(), ["other.cfg.lua"]);
        // The main VirtualHost's options are its own.
        assert_eq!(
            p.option(Some("meet.example.org"), "main_muc")
                .map(|v| v.0.clone()),
            Some(Value::Literal(Literal::Str(
                "conference.meet.example.org".into()
            )))
        );
    }

    #[test]
    fn strings_and_brackets_are_read_as_lua_does() {
        let p =
            parse("a = 'it''s' b = \"q\\\"\\65\" c = [==[x]]y]==] d = { [[}]] } e = f(1, { 2 })")
                .unwrap();
        let v = |n: &str| p.option(None, n).map(|v| v.0.clone()).unwrap();
        assert_eq!(v("b"), Value::Literal(Literal::Str("q\"A".into())));
        assert_eq!(v("c"), Value::Literal(Literal::Str("x]]y".into())));
        let Value::List(d) = v("d") else { panic!() };
        assert_eq!(strs(&d.items), ["}"]);
        assert_eq!(v("e"), Value::Other("f(1, { 2 })".into()));
        // 'it''s' is two strings in Lua: not a literal.
        assert!(matches!(v("a"), Value::Other(_)));
        assert_eq!(parse("a = { 1").unwrap_err().line, 1);
        assert_eq!(parse("x = 1\n--[[ open").unwrap_err().line, 2);
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\10\"");
    }
}
