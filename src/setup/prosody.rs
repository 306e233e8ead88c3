//! Prosody's side of `setup`: its configuration folder as Debian lays it out
//! (`prosody.cfg.lua`, which includes `conf.d/*.cfg.lua`; Jitsi's package links its
//! `conf.avail/<domain>.cfg.lua` there), the Jitsi deployment found in it, and what
//! raumwart adds.
//!
//! Where the lines go. Prosody reads the files of `conf.d` in directory order, which is
//! no fixed order, and a later assignment replaces an earlier one; Prosody 0.12 cannot
//! read an option back in a config file (13 can, `modules_enabled:append`, but only after
//! the file that set it, which another file of conf.d cannot count on). So:
//!
//! - what no other file sets goes into raumwart's own file, `conf.d/raumwart.cfg.lua`,
//!   rewritten whole on every run: the component with its secret, and raumwart's options
//!   on the MUCs, which re-opens as Jitsi's does (a section may be re-opened in any file);
//! - an item raumwart needs in a list another file sets (`modules_enabled` and `admins`
//!   of Jitsi's MUCs, the global `plugin_paths`) goes into that list itself, inside a block
//!   marked `-- BEGIN raumwart (raumwart setup)` ... `-- END raumwart`. A run first takes
//!   its old blocks out and then adds what is missing, so running again never adds twice.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::lua::{self, List, Literal, Parsed, Value};
use super::write::{Access, FileWrite};
use super::{io, refused, Error};

/// The lines that open and close raumwart's block in another file.
pub const BEGIN: &str = "-- BEGIN raumwart (raumwart setup)";
pub const END: &str = "-- END raumwart";

/// raumwart's own file in `conf.d`.
pub const OWN_FILE: &str = "raumwart.cfg.lua";

/// The room cache raumwart's file sets when no other file does: at least the managed
/// rooms (Prosody's default of 100 makes a re-sync move rooms from disk and back), as
/// docker-jitsi-meet sets it.
const ROOM_CACHE: &str = "10000";

/// Prosody's component port when its config names none (mod_component's default).
const DEFAULT_COMPONENT_PORT: &str = "5347";

/// One file of Prosody's configuration.
struct ConfigFile {
    /// As found (in conf.d: the link Jitsi's package made).
    path: PathBuf,
    /// The file itself, which an edit replaces.
    real: PathBuf,
    text: String,
    /// Without raumwart's blocks: what the file says without raumwart.
    clean: String,
    parsed: Parsed,
    access: Access,
}

impl ConfigFile {
    fn read(path: PathBuf) -> Result<ConfigFile, Error> {
        let real = fs::canonicalize(&path).map_err(io(&path))?;
        let text = fs::read_to_string(&real).map_err(io(&path))?;
        let meta = fs::metadata(&real).map_err(io(&path))?;
        let clean = without_blocks(&text).map_err(|e| at(&path, e.line, &e.message))?;
        let parsed = lua::parse(&clean).map_err(|e| {
            at(
                &path,
                e.line,
                &format!("{} (Prosody could not read this file either)", e.message),
            )
        })?;
        Ok(ConfigFile {
            path,
            real,
            text,
            clean,
            parsed,
            access: Access::of(&meta),
        })
    }

    fn option(&self, section: Option<&str>, option: &str) -> Option<(&Value, usize)> {
        self.parsed.option(section, option)
    }

    fn declares(&self, component: &str) -> Option<(Option<&str>, usize)> {
        self.parsed
            .sections()
            .find(|s| s.1 && s.0 == component)
            .map(|s| (s.2, s.3))
    }
}

fn at(path: &Path, line: usize, message: &str) -> Error {
    refused(format!("{}:{line}: {message}", path.display()))
}

/// `text` without the lines of raumwart's blocks (each from its BEGIN to its END line).
pub(super) fn without_blocks(text: &str) -> Result<String, lua::SyntaxError> {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<usize> = None;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        let problem = |message: &str| lua::SyntaxError {
            line: n + 1,
            message: message.to_owned(),
        };
        if trimmed.starts_with("-- BEGIN raumwart") {
            if open.is_some() {
                return Err(problem(
                    "a raumwart block opens inside another: put back its END line",
                ));
            }
            open = Some(n + 1);
        } else if trimmed.starts_with(END) {
            if open.take().is_none() {
                return Err(problem("the END of a raumwart block that was never opened"));
            }
        } else if open.is_none() {
            out.push_str(line);
        }
    }
    match open {
        Some(line) => Err(lua::SyntaxError {
            line,
            message: "a raumwart block without its END line".into(),
        }),
        None => Ok(out),
    }
}

/// The Jitsi deployment raumwart is added to, with the names raumwart uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jitsi {
    pub domain: String,
    /// raumwart's component, `raumwart.<domain>`.
    pub component: String,
    /// The conference MUC.
    pub muc: String,
    pub breakout: Option<String>,
    pub lobby: Option<String>,
    /// jicofo's account, an admin of the MUC.
    pub focus: String,
    /// Prosody's component port, `address:port`.
    pub server: String,
}

/// Prosody's configuration folder as read.
pub(super) struct Prosody {
    dir: PathBuf,
    /// `prosody.cfg.lua` first, then the files of conf.d by name (not raumwart's own).
    files: Vec<ConfigFile>,
    own: PathBuf,
    own_old: Option<(String, Access)>,
}

impl Prosody {
    pub(super) fn read(dir: &Path) -> Result<Prosody, Error> {
        let main_path = dir.join("prosody.cfg.lua");
        if !main_path.exists() {
            return Err(refused(format!(
                "no Prosody configuration at {}: is Prosody installed? (--prosody-config DIR)",
                main_path.display()
            )));
        }
        let main = ConfigFile::read(main_path)?;
        let includes_conf_d = main.parsed.includes().any(|p| {
            let p = p.strip_prefix("./").unwrap_or(p);
            let p = Path::new(p);
            let folder = p.parent().map(|f| {
                if f.is_absolute() {
                    f.to_owned()
                } else {
                    dir.join(f)
                }
            });
            folder.is_some_and(|f| f == dir.join("conf.d"))
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('*'))
        });
        if !includes_conf_d {
            return Err(refused(format!(
                "{} does not include conf.d/*.cfg.lua, where Jitsi's package and raumwart put \
                 their files: add the line Include \"conf.d/*.cfg.lua\" at its end (Jitsi's \
                 package does), then run setup again",
                main.path.display()
            )));
        }
        let conf_d = dir.join("conf.d");
        let mut names: Vec<String> = match fs::read_dir(&conf_d) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".cfg.lua") && !n.starts_with('.') && n != OWN_FILE)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
            Err(e) => return Err(io(&conf_d)(e)),
        };
        names.sort();
        let mut files = vec![main];
        for name in names {
            files.push(ConfigFile::read(conf_d.join(name))?);
        }
        let own = conf_d.join(OWN_FILE);
        let own_old = match fs::read_to_string(&own) {
            Ok(text) => Some((text, Access::of(&fs::metadata(&own).map_err(io(&own))?))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&own)(e)),
        };
        Ok(Prosody {
            dir: dir.to_owned(),
            files,
            own,
            own_old,
        })
    }

    /// Whether some file declares `name` as a MUC component.
    fn muc_declared(&self, name: &str) -> bool {
        self.files.iter().any(|f| {
            f.declares(name)
                .is_some_and(|(module, _)| module == Some("muc"))
        })
    }

    /// A string option of `section` in any file (the last one read).
    fn string_option(&self, section: &str, option: &str) -> Option<String> {
        self.files
            .iter()
            .rev()
            .find_map(|f| match f.option(Some(section), option)? {
                (Value::Literal(Literal::Str(s)), _) => Some(s.clone()),
                _ => None,
            })
    }

    /// The Jitsi domains served here: each VirtualHost (not switched off) whose main
    /// MUC, `main_muc` or `conference.<domain>`, is a MUC component.
    fn domains(&self) -> Vec<String> {
        let mut found: Vec<String> = vec![];
        for file in &self.files {
            for (name, component, _, _) in file.parsed.sections() {
                let off = self.files.iter().any(|f| {
                    f.option(Some(name), "enabled")
                        .is_some_and(|(v, _)| *v == Value::Literal(Literal::Bool(false)))
                });
                if component || off || name == "localhost" || found.iter().any(|d| d == name) {
                    continue;
                }
                if self.muc_declared(&self.main_muc(name)) {
                    found.push(name.to_owned());
                }
            }
        }
        found
    }

    fn main_muc(&self, domain: &str) -> String {
        self.string_option(domain, "main_muc")
            .unwrap_or_else(|| format!("conference.{domain}"))
    }

    /// The Jitsi deployment at `domain`, or the only one here.
    pub(super) fn jitsi(&self, domain: Option<&str>) -> Result<Jitsi, Error> {
        let dir = self.dir.display();
        let domain = match domain {
            Some(d) => {
                let muc = self.main_muc(d);
                if !self.muc_declared(&muc) {
                    return Err(refused(format!(
                        "no Jitsi for {d} in {dir}: no file declares its MUC, Component \
                         \"{muc}\" \"muc\" (Jitsi's package writes conf.avail/{d}.cfg.lua, \
                         linked from conf.d)"
                    )));
                }
                d.to_owned()
            }
            None => match self.domains().as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(refused(format!(
                        "no Jitsi found in {dir}: no file declares a VirtualHost \"DOMAIN\" with \
                         its MUC, Component \"conference.DOMAIN\" \"muc\" (Jitsi's package writes \
                         conf.avail/DOMAIN.cfg.lua, linked from conf.d); is jitsi-meet-prosody \
                         installed? Or name it: --domain DOMAIN"
                    )))
                }
                several => {
                    return Err(refused(format!(
                        "several Jitsi domains in {dir}: {}; name one with --domain",
                        several.join(", ")
                    )))
                }
            },
        };
        let muc = self.main_muc(&domain);
        let optional = |option: &str, default: String| {
            let name = self.string_option(&domain, option).unwrap_or(default);
            self.muc_declared(&name).then_some(name)
        };
        let focus = self
            .files
            .iter()
            .rev()
            .find_map(|f| match f.option(Some(&muc), "admins")? {
                (Value::List(l), _) => l
                    .items
                    .iter()
                    .filter_map(Literal::as_str)
                    .find(|a| a.contains('@'))
                    .map(str::to_owned),
                _ => None,
            })
            .unwrap_or_else(|| format!("focus@auth.{domain}"));
        Ok(Jitsi {
            component: format!("raumwart.{domain}"),
            breakout: optional("breakout_rooms_muc", format!("breakout.{domain}")),
            lobby: optional("lobby_muc", format!("lobby.{domain}")),
            server: self.component_server()?,
            focus,
            muc,
            domain,
        })
    }

    /// The last global assignment of `option` in the order Prosody reads the files
    /// (prosody.cfg.lua, then conf.d), with its file and line.
    fn global(&self, option: &str) -> Option<(&Value, &Path, usize)> {
        self.files.iter().rev().find_map(|f| {
            f.option(None, option)
                .map(|(v, line)| (v, f.path.as_path(), line))
        })
    }

    /// Where raumwart reaches Prosody's component port: the first of `component_ports`
    /// on the first of the interfaces it binds (Prosody's own order of options), a
    /// wildcard being reached on loopback.
    fn component_server(&self) -> Result<String, Error> {
        let literals = |option: &str| -> Result<Option<Vec<Literal>>, Error> {
            match self.global(option) {
                None => Ok(None),
                Some((Value::List(l), _, _)) => Ok(Some(l.items.clone())),
                Some((Value::Literal(one), _, _)) => Ok(Some(vec![one.clone()])),
                Some((Value::Other(text), path, line)) => Err(at(
                    path,
                    line,
                    &format!("{option} = {text}: setup reads only literal values here"),
                )),
            }
        };
        let port = match literals("component_ports")? {
            None => DEFAULT_COMPONENT_PORT.to_owned(),
            Some(ports) => match ports.first() {
                Some(Literal::Num(n)) => n.clone(),
                Some(Literal::Str(s)) => s.clone(),
                _ => {
                    let (_, path, line) = self.global("component_ports").unwrap_or((
                        &Value::Other(String::new()),
                        &self.dir,
                        0,
                    ));
                    return Err(at(
                        path,
                        line,
                        "component_ports opens no port: raumwart connects to Prosody as an \
                         external component (XEP-0114) and needs one, on loopback",
                    ));
                }
            },
        };
        let mut interface = None;
        for option in [
            "component_interfaces",
            "component_interface",
            "local_interfaces",
        ] {
            if let Some(list) = literals(option)? {
                interface = list.first().and_then(Literal::as_str).map(str::to_owned);
                break;
            }
        }
        let host = match interface.as_deref() {
            None | Some("*") | Some("0.0.0.0") => "127.0.0.1".to_owned(),
            Some("::") => "[::1]".to_owned(),
            Some(v6) if v6.contains(':') => format!("[{v6}]"),
            Some(other) => other.to_owned(),
        };
        Ok(format!("{host}:{port}"))
    }

    /// The files raumwart's lines go to: lists extended in the files that set them, and
    /// raumwart's own file.
    pub(super) fn plan(
        &self,
        jitsi: &Jitsi,
        secret: &str,
        secret_file: &Path,
        module_dir: &Path,
        unmanaged: &str,
    ) -> Result<Vec<FileWrite>, Error> {
        for file in &self.files {
            if let Some((_, line)) = file.declares(&jitsi.component) {
                return Err(at(
                    &file.path,
                    line,
                    &format!(
                        "Component \"{}\" is declared here already (added by hand?): take \
                         raumwart's lines out of this file, then run setup again; setup keeps \
                         them in conf.d/{OWN_FILE}",
                        jitsi.component
                    ),
                ));
            }
        }
        let c = Literal::Str(jitsi.component.clone());
        let yes = Literal::Bool(true);
        let mut mucs: Vec<Muc> = vec![Muc {
            name: &jitsi.muc,
            lists: vec![
                ("modules_enabled", "raumwart"),
                ("admins", &jitsi.component),
            ],
            options: vec![
                (
                    "raumwart_component",
                    c.clone(),
                    "where the module sends events; the only JID it takes commands from",
                ),
                (
                    "raumwart_unmanaged_rooms",
                    Literal::Str(unmanaged.to_owned()),
                    "before raumwart's first room map: \"deny\" refuses every new room",
                ),
                (
                    "component_admins_as_room_owners",
                    yes.clone(),
                    "admins own every room (Prosody 13's default: false)",
                ),
                (
                    "muc_room_cache_size",
                    Literal::Num(ROOM_CACHE.into()),
                    "at least the managed rooms (Prosody's default: 100)",
                ),
            ],
        }];
        if let Some(breakout) = &jitsi.breakout {
            mucs.push(Muc {
                name: breakout,
                lists: vec![
                    ("modules_enabled", "raumwart_breakout"),
                    ("admins", &jitsi.component),
                ],
                options: vec![
                    (
                        "raumwart_main_muc",
                        Literal::Str(jitsi.muc.clone()),
                        "people in breakout rooms count for their main room",
                    ),
                    ("component_admins_as_room_owners", yes.clone(), ""),
                ],
            });
        }
        if let Some(lobby) = &jitsi.lobby {
            mucs.push(Muc {
                name: lobby,
                lists: vec![("admins", &jitsi.component)],
                options: vec![("component_admins_as_room_owners", yes.clone(), "")],
            });
        }

        let mut edits: Vec<Vec<ListEdit>> = self.files.iter().map(|_| vec![]).collect();
        let mut own = String::new();
        let module_path = format!(
            "{}/",
            module_dir.display().to_string().trim_end_matches('/')
        );
        match self.list_in(None, "plugin_paths") {
            Some((file, list)) => {
                let present = list.items.iter().filter_map(Literal::as_str).any(|p| {
                    p.trim_end_matches('/') == module_path.trim_end_matches('/')
                });
                if !present {
                    edits[file].push(ListEdit {
                        list: list.clone(),
                        item: module_path.clone(),
                        what: format!("{module_path} in plugin_paths"),
                    });
                }
            }
            None => own += &format!(
                "-- raumwart's Prosody modules (no other file sets plugin_paths).\nplugin_paths = {{ {} }}\n\n",
                lua::quote(&module_path)
            ),
        }
        for muc in &mucs {
            let mut lines = vec![];
            for (option, item) in &muc.lists {
                match self.list_in(Some(muc.name), option) {
                    Some((file, list)) => {
                        if !list
                            .items
                            .iter()
                            .filter_map(Literal::as_str)
                            .any(|i| i == *item)
                        {
                            edits[file].push(ListEdit {
                                list: list.clone(),
                                item: (*item).to_owned(),
                                what: format!("{item:?} in {}'s {option}", muc.name),
                            });
                        }
                    }
                    None => lines.push(format!("    {option} = {{ {} }}\n", lua::quote(item))),
                }
            }
            for (option, value, why) in &muc.options {
                match self.files.iter().rev().find_map(|f| {
                    f.option(Some(muc.name), option)
                        .map(|(v, line)| (v, &f.path, line))
                }) {
                    None => {
                        let comment = match why.is_empty() {
                            true => String::new(),
                            false => format!(" -- {why}"),
                        };
                        lines.push(format!("    {option} = {}{comment}\n", value.lua()));
                    }
                    // An admin's own cache size stays: it only has to be large enough.
                    Some(_) if *option == "muc_room_cache_size" => {}
                    Some((Value::Literal(set), _, _)) if set == value => {}
                    Some((set, path, line)) => {
                        let shown = match set {
                            Value::Literal(l) => l.lua(),
                            Value::List(_) => "{ ... }".into(),
                            Value::Other(text) => text.clone(),
                        };
                        return Err(at(
                            path,
                            line,
                            &format!(
                                "{option} = {shown} on {}, where raumwart needs {}: take the line \
                                 out (setup sets it in conf.d/{OWN_FILE}), then run setup again",
                                muc.name,
                                value.lua()
                            ),
                        ));
                    }
                }
            }
            if !lines.is_empty() {
                own += &format!(
                    "Component {} \"muc\"\n{}\n",
                    lua::quote(muc.name),
                    lines.concat()
                );
            }
        }
        own += &format!(
            "-- raumwart's XEP-0114 component; raumwart reads the same secret from {}.\n\
             Component {}\n    component_secret = {}\n",
            secret_file.display(),
            lua::quote(&jitsi.component),
            lua::quote(secret)
        );

        let mut writes = vec![];
        for (file, edits) in self.files.iter().zip(edits) {
            let new = apply(&file.clean, &edits);
            let mut what: Vec<String> = edits.into_iter().map(|e| e.what).collect();
            if what.is_empty() && new != file.text {
                what.push("raumwart's blocks taken out: nothing of raumwart's belongs here".into());
            } else if !what.is_empty() {
                what.insert(0, "added (blocks marked \"BEGIN raumwart\"):".into());
            }
            writes.push(FileWrite {
                path: file.path.clone(),
                target: file.real.clone(),
                old: Some((file.text.clone(), file.access)),
                new,
                access: file.access,
                what,
            });
        }
        let main_group = self.files[0].access.gid;
        writes.push(FileWrite {
            path: self.own.clone(),
            target: self.own.clone(),
            old: self.own_old.clone(),
            new: own_header(jitsi) + &own,
            access: Access::private(main_group),
            what: vec![format!(
                "the component {} with its secret, raumwart's options on the MUCs",
                jitsi.component
            )],
        });
        Ok(writes)
    }

    /// The file (its index) and list where Prosody takes `option` of `section` from:
    /// the last file that sets it, conf.d before prosody.cfg.lua, which includes conf.d
    /// at its end. None when no file sets it as a list.
    fn list_in(&self, section: Option<&str>, option: &str) -> Option<(usize, &List)> {
        let order = (1..self.files.len()).rev().chain(std::iter::once(0));
        order
            .into_iter()
            .find_map(|i| match self.files[i].option(section, option)? {
                (Value::List(l), _) => Some((i, l)),
                _ => None,
            })
    }
}

/// What raumwart needs on one MUC.
struct Muc<'a> {
    name: &'a str,
    /// (list option, item raumwart needs in it)
    lists: Vec<(&'static str, &'a str)>,
    /// (option, value, why) set in raumwart's own file unless another file sets them.
    options: Vec<(&'static str, Literal, &'static str)>,
}

/// An item added to a list of another file.
struct ListEdit {
    list: List,
    item: String,
    what: String,
}

fn own_header(jitsi: &Jitsi) -> String {
    format!(
        "-- raumwart's part of Prosody's configuration for the Jitsi Meet at {}, written by\n\
         -- `raumwart setup`, which writes it anew on every run. Prosody reads conf.d in no\n\
         -- fixed order: this file sets only what no other file sets. raumwart's items in the\n\
         -- lists Jitsi's file sets (modules_enabled, admins, plugin_paths) are in that file,\n\
         -- in blocks marked \"BEGIN raumwart\". Prosody reads all of it only when it starts.\n\n",
        jitsi.domain
    )
}

/// `clean` with each edit's item added to its list, in a block of its own.
fn apply(clean: &str, edits: &[ListEdit]) -> String {
    // Items for the same list go into one block.
    let mut blocks: Vec<(&List, Vec<&str>)> = vec![];
    for e in edits {
        match blocks.iter_mut().find(|(l, _)| l.open == e.list.open) {
            Some((_, items)) => items.push(&e.item),
            None => blocks.push((&e.list, vec![&e.item])),
        }
    }
    let mut changes: Vec<(Range<usize>, String)> = blocks
        .iter()
        .map(|(list, items)| block(clean, list, items))
        .collect();
    changes.sort_by_key(|c| std::cmp::Reverse(c.0.start));
    let mut out = clean.to_owned();
    for (range, text) in changes {
        out.replace_range(range, &text);
    }
    out
}

/// The change that adds `items` to `list` in `text`: a block on lines of its own before
/// the closing brace, which moves to a line of its own when it shared one with the items.
fn block(text: &str, list: &List, items: &[&str]) -> (Range<usize>, String) {
    let line_start = text[..list.close].rfind('\n').map_or(0, |n| n + 1);
    let indent_of = |at: usize| -> &str {
        let line = &text[at..];
        &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
    };
    let own_line = text[line_start..list.close].trim().is_empty();
    let base = indent_of(line_start);
    let inner = format!("{base}    ");
    let sep = list.separator;
    let mut lines = format!("{inner}{BEGIN}\n");
    for item in items {
        lines += &format!("{inner}{}{sep}\n", lua::quote(item));
    }
    lines += &format!("{inner}{END}\n");
    // The separator the last item needs before more come after it.
    let after_last = list.last.and_then(|(end, is_sep)| (!is_sep).then_some(end));
    if own_line {
        match after_last {
            // Between the last item and the block: only whitespace and comments.
            Some(end) => (
                end..line_start,
                format!("{sep}{}{lines}", &text[end..line_start]),
            ),
            None => (line_start..line_start, lines),
        }
    } else {
        let ws = text[..list.close].trim_end().len();
        let start = after_last.map_or(ws, |end| end.min(ws));
        let kept = &text[start..ws];
        let sep = if after_last.is_some() {
            sep.to_string()
        } else {
            String::new()
        };
        (start..list.close, format!("{sep}{kept}\n{lines}{base}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, section: Option<&str>, option: &str, items: &[&str]) -> String {
        let parsed = lua::parse(text).unwrap();
        let Some((Value::List(list), _)) = parsed.option(section, option) else {
            panic!("{option} not a list")
        };
        let edits: Vec<ListEdit> = items
            .iter()
            .map(|i| ListEdit {
                list: list.clone(),
                item: (*i).to_owned(),
                what: String::new(),
            })
            .collect();
        apply(text, &edits)
    }

    /// Adds, takes the blocks out and adds again: the same text, and Prosody's reading
    /// of it lists the item once.
    fn round_trip(text: &str, section: Option<&str>, option: &str, items: &[&str]) -> String {
        let once = edit(text, section, option, items);
        let clean = without_blocks(&once).unwrap();
        assert_eq!(
            edit(&clean, section, option, items),
            once,
            "not stable:\n{once}"
        );
        let Some((Value::List(list), _)) = lua::parse(&once)
            .unwrap()
            .option(section, option)
            .map(|(v, l)| (v.clone(), l))
        else {
            panic!()
        };
        for item in items {
            assert_eq!(
                list.items
                    .iter()
                    .filter(|i| i.as_str() == Some(item))
                    .count(),
                1,
                "{once}"
            );
        }
        once
    }

    #[test]
    fn an_item_goes_into_a_marked_block_before_a_closing_brace_on_its_own_line() {
        let text = "Component \"c\" \"muc\"\n    modules_enabled = {\n        \"muc_meeting_id\";\n        --\"token_verification\";\n        \"muc_rate_limit\";\n    }\n    admins = { \"focus@auth.x\" }\n";
        let out = round_trip(text, Some("c"), "modules_enabled", &["raumwart"]);
        assert_eq!(
            out,
            "Component \"c\" \"muc\"\n    modules_enabled = {\n        \"muc_meeting_id\";\n        --\"token_verification\";\n        \"muc_rate_limit\";\n        -- BEGIN raumwart (raumwart setup)\n        \"raumwart\";\n        -- END raumwart\n    }\n    admins = { \"focus@auth.x\" }\n"
        );
    }

    #[test]
    fn a_list_on_one_line_gets_its_separator_and_the_block_on_lines_of_its_own() {
        let text = "plugin_paths = { \"/usr/share/jitsi-meet/prosody-plugins/\" }\nx = 1\n";
        let out = round_trip(
            text,
            None,
            "plugin_paths",
            &["/usr/share/raumwart/prosody/"],
        );
        assert_eq!(
            out,
            "plugin_paths = { \"/usr/share/jitsi-meet/prosody-plugins/\",\n    -- BEGIN raumwart (raumwart setup)\n    \"/usr/share/raumwart/prosody/\",\n    -- END raumwart\n}\nx = 1\n"
        );
        let text = "Component \"c\" \"muc\"\n    admins = { \"focus@auth.x\" } -- jicofo\n";
        let out = round_trip(text, Some("c"), "admins", &["raumwart.x"]);
        assert_eq!(
            out,
            "Component \"c\" \"muc\"\n    admins = { \"focus@auth.x\",\n        -- BEGIN raumwart (raumwart setup)\n        \"raumwart.x\",\n        -- END raumwart\n    } -- jicofo\n"
        );
        // A last item with a comment after it on its own line, and an empty list.
        let text = "a = {\n    \"x\" -- why\n}\nb = { }\n";
        let out = round_trip(text, None, "a", &["y"]);
        assert_eq!(out, "a = {\n    \"x\", -- why\n    -- BEGIN raumwart (raumwart setup)\n    \"y\",\n    -- END raumwart\n}\nb = { }\n");
        let out = round_trip(text, None, "b", &["y", "z"]);
        assert!(out.ends_with("b = {\n    -- BEGIN raumwart (raumwart setup)\n    \"y\",\n    \"z\",\n    -- END raumwart\n}\n"), "{out}");
    }

    #[test]
    fn blocks_must_be_whole() {
        assert_eq!(
            without_blocks("a\n  -- BEGIN raumwart (raumwart setup)\nb\n  -- END raumwart\nc\n")
                .unwrap(),
            "a\nc\n"
        );
        assert_eq!(
            without_blocks("a\n-- BEGIN raumwart\nb\n")
                .unwrap_err()
                .line,
            2
        );
        assert_eq!(without_blocks("a\n-- END raumwart\n").unwrap_err().line, 2);
    }
}
