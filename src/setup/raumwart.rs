//! raumwart's side of `setup`: the component secret beside the configuration file, and
//! the `[xmpp]` names (and focus among the service JIDs) in the file itself, edited with
//! `toml_edit` so that the rest stays as the admin wrote it.
//!
//! Root runs `setup`, and the console's user may write the configuration: the secret is
//! therefore read and written only as a plain file directly in the configuration's own
//! folder, never through a link, wherever `secret_file` points.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, Table, TableLike, Value};

use super::prosody::Jitsi;
use super::write::{Access, FileWrite};
use super::{io, refused, Error};
use crate::config::Secret;

/// The secret file's name when the configuration names none.
const SECRET_FILE: &str = "component.secret";

pub(super) struct Raumwart {
    config: PathBuf,
    /// The configuration's folder, whose group reads raumwart's files.
    folder_gid: u32,
    old: Option<(String, Access)>,
    doc: Option<DocumentMut>,
    /// The module's setting before raumwart's first map: the daemon's policy.
    pub(super) unmanaged: String,
    pub(super) secret_file: PathBuf,
    /// How `secret_file` is written in the configuration.
    secret_reference: String,
    secret_old: Option<(String, Access)>,
}

impl Raumwart {
    pub(super) fn read(config: &Path) -> Result<Raumwart, Error> {
        let folder = match config.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let folder_meta = match fs::metadata(&folder) {
            Ok(m) if m.is_dir() => m,
            _ => {
                return Err(refused(format!(
                    "{} does not exist: install the raumwart package first (it makes the folder \
                     and the user raumwart), or name another file with --config",
                    folder.display()
                )))
            }
        };
        let old = match fs::read_to_string(config) {
            Ok(text) => Some((text, Access::of(&fs::metadata(config).map_err(io(config))?))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(config)(e)),
        };
        let doc = match &old {
            Some((text, _)) => Some(
                text.parse::<DocumentMut>()
                    .map_err(|e| refused(format!("{}: not valid TOML: {e}", config.display())))?,
            ),
            None => None,
        };
        let get = |table: &str, key: &str| -> Option<String> {
            doc.as_ref()?
                .get(table)?
                .as_table_like()?
                .get(key)?
                .as_str()
                .map(str::to_owned)
        };
        let unmanaged = get("policy", "unmanaged_rooms").unwrap_or_else(|| "allow".into());
        let secret_reference = get("xmpp", "secret_file").unwrap_or_else(|| SECRET_FILE.into());
        if secret_reference.starts_with("$CREDENTIALS_DIRECTORY/") {
            return Err(refused(format!(
                "{}: xmpp.secret_file takes the secret from systemd's credentials \
                 ({secret_reference}); setup writes it to a file beside the configuration: set \
                 secret_file = \"{SECRET_FILE}\" (or remove it), then run setup again",
                config.display()
            )));
        }
        let referenced = Path::new(&secret_reference);
        let secret_file = match referenced.is_absolute() {
            true => referenced.to_owned(),
            false => folder.join(referenced),
        };
        let beside = secret_file
            .parent()
            .map(fs::canonicalize)
            .transpose()
            .ok()
            .flatten()
            == Some(fs::canonicalize(&folder).map_err(io(&folder))?);
        if !beside || secret_file.file_name().is_none() {
            return Err(refused(format!(
                "{}: xmpp.secret_file = {secret_reference:?} is not in the configuration's own \
                 folder, the only place setup writes the secret: set secret_file = \
                 \"{SECRET_FILE}\", then run setup again",
                config.display()
            )));
        }
        let secret_old = match fs::symlink_metadata(&secret_file) {
            Ok(meta) if meta.is_file() => {
                Some((read_plain(&secret_file, &meta)?, Access::of(&meta)))
            }
            Ok(_) => {
                return Err(refused(format!(
                    "{} is not a plain file (a link?): setup reads and writes the secret only as \
                     one; remove it, then run setup again",
                    secret_file.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&secret_file)(e)),
        };
        Ok(Raumwart {
            config: config.to_owned(),
            folder_gid: folder_meta.gid(),
            old,
            doc,
            unmanaged,
            secret_file,
            secret_reference,
            secret_old,
        })
    }

    /// The secret raumwart has (its file without the line end), or a new one.
    pub(super) fn secret(&self) -> Result<Secret, Error> {
        if let Some((text, _)) = &self.secret_old {
            let kept = text.trim_end_matches(['\n', '\r']);
            if !kept.is_empty() {
                return Ok(Secret::new(kept));
            }
        }
        let mut bytes = [0u8; 24];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| refused(format!("no random numbers from the OS: {e}")))?;
        Ok(Secret::new(
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        ))
    }

    pub(super) fn plan(&self, jitsi: &Jitsi, secret: &Secret) -> Result<Vec<FileWrite>, Error> {
        let secret_text = match &self.secret_old {
            Some((text, _)) if text.trim_end_matches(['\n', '\r']) == secret.expose() => {
                text.clone()
            }
            _ => format!("{}\n", secret.expose()),
        };
        let secret_access = Access::private(self.folder_gid);
        let secret_what = match &self.secret_old {
            None => "a new component secret".to_owned(),
            Some((text, _)) if *text != secret_text => "a new component secret".to_owned(),
            Some((_, access)) if *access != secret_access => {
                format!("the secret kept; owner and mode were {access}")
            }
            Some(_) => String::new(),
        };
        let secret = FileWrite {
            path: self.secret_file.clone(),
            target: self.secret_file.clone(),
            old: self.secret_old.clone(),
            new: secret_text,
            access: secret_access,
            what: vec![secret_what],
        };
        let (new, what) = match &self.doc {
            Some(doc) => self.edit(doc.clone(), jitsi)?,
            None => (
                self.fresh(jitsi),
                vec!["a new configuration with these names; no school yet".into()],
            ),
        };
        let config = FileWrite {
            path: self.config.clone(),
            target: self.config.clone(),
            old: self.old.clone(),
            new,
            access: match &self.old {
                Some((_, access)) => *access,
                None => Access::private(self.folder_gid),
            },
            what,
        };
        Ok(vec![secret, config])
    }

    /// A configuration for a machine that has none.
    fn fresh(&self, jitsi: &Jitsi) -> String {
        let d = &jitsi.domain;
        let lobby = match &jitsi.lobby {
            Some(lobby) => format!("lobby_muc = {}\n", quoted(lobby)),
            None => String::new(),
        };
        format!(
            "# raumwart's configuration for the Jitsi Meet at {d}, written by `raumwart setup`.\n\
             # Check it with: raumwart check. Schools: raumwart school add --help\n\n\
             [xmpp]\n\
             server = {server}\n\
             component = {component}\n\
             secret_file = {secret}\n\
             muc = {muc}\n\
             {lobby}\n\
             [policy]\n\
             service_jids = [{focus}, {jigasi}, {recorder}]\n\n\
             [jitsi]\n\
             url = {url}\n",
            server = quoted(&jitsi.server),
            component = quoted(&jitsi.component),
            secret = quoted(&self.secret_reference),
            muc = quoted(&jitsi.muc),
            focus = quoted(&jitsi.focus),
            jigasi = quoted(&format!("jigasi@auth.{d}")),
            recorder = quoted(&format!("recorder.{d}")),
            url = quoted(&format!("https://{d}/")),
        )
    }

    /// The admin's file with the names set: the text and what changed.
    fn edit(&self, mut doc: DocumentMut, jitsi: &Jitsi) -> Result<(String, Vec<String>), Error> {
        let mut what = vec![];
        let not_a_table = |name: &str| {
            refused(format!(
                "{}: [{name}] is not a table",
                self.config.display()
            ))
        };
        let xmpp = doc
            .entry("xmpp")
            .or_insert(Item::Table(Table::new()))
            .as_table_like_mut()
            .ok_or_else(|| not_a_table("xmpp"))?;
        // The domain the file named before, whose names in service_jids move along.
        let old_domain = xmpp
            .get("component")
            .and_then(Item::as_str)
            .and_then(|c| c.strip_prefix("raumwart."))
            .or_else(|| {
                xmpp.get("muc")
                    .and_then(Item::as_str)
                    .and_then(|m| m.split_once('.').map(|s| s.1))
            })
            .map(str::to_owned);
        for (key, value) in [
            ("server", Some(&jitsi.server)),
            ("component", Some(&jitsi.component)),
            ("secret_file", Some(&self.secret_reference)),
            ("muc", Some(&jitsi.muc)),
            ("lobby_muc", jitsi.lobby.as_ref()),
        ] {
            match value {
                Some(v) => set(xmpp, "xmpp", key, Value::from(v.as_str()), &mut what),
                None => {
                    if xmpp.remove(key).is_some() {
                        what.push(format!("xmpp.{key} removed: Jitsi has no lobby MUC here"));
                    }
                }
            }
        }
        let policy = doc
            .entry("policy")
            .or_insert(Item::Table(Table::new()))
            .as_table_like_mut()
            .ok_or_else(|| not_a_table("policy"))?;
        let old_jids: Vec<String> = policy
            .get("service_jids")
            .and_then(Item::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let mut jids: Vec<String> = old_jids
            .iter()
            .map(|j| match &old_domain {
                Some(old) => moved(j, old, &jitsi.domain),
                None => j.clone(),
            })
            .collect();
        if !jids.contains(&jitsi.focus) {
            jids.push(jitsi.focus.clone());
        }
        if jids != old_jids {
            let mut array: Array = jids.iter().map(String::as_str).collect();
            if let Some(old) = policy.get("service_jids").and_then(Item::as_array) {
                array.set_trailing(old.trailing().clone());
                array.set_trailing_comma(old.trailing_comma());
            }
            set(
                policy,
                "policy",
                "service_jids",
                Value::Array(array),
                &mut what,
            );
        }
        Ok((doc.to_string(), what))
    }
}

/// The plain file at `path` that `meta` (not following a link) describes. The console's
/// user may write the configuration's folder: a link put there between the look and the
/// open would make root read another file, which the open's own metadata tells.
fn read_plain(path: &Path, meta: &fs::Metadata) -> Result<String, Error> {
    let mut file = fs::File::open(path).map_err(io(path))?;
    let opened = file.metadata().map_err(io(path))?;
    if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
        return Err(refused(format!(
            "{}: not the file it was when setup looked (a link took its place?); nothing written",
            path.display()
        )));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text).map_err(io(path))?;
    Ok(text)
}

/// `jid` with the domain `old` (or a domain below it) moved to `new`.
fn moved(jid: &str, old: &str, new: &str) -> String {
    let (user, domain) = match jid.split_once('@') {
        Some((u, d)) => (format!("{u}@"), d),
        None => (String::new(), jid),
    };
    if domain == old {
        format!("{user}{new}")
    } else if let Some(sub) = domain.strip_suffix(&format!(".{old}")) {
        format!("{user}{sub}.{new}")
    } else {
        jid.to_owned()
    }
}

fn quoted(s: &str) -> String {
    bare(&Value::from(s))
}

/// A value as written, without the spaces and comments around it.
fn bare(value: &Value) -> String {
    let mut v = value.clone();
    v.decor_mut().clear();
    v.to_string()
}

/// Sets `key` of `table` to `value`, keeping the old value's comments and spacing.
fn set(table: &mut dyn TableLike, name: &str, key: &str, mut value: Value, what: &mut Vec<String>) {
    let shown = bare(&value);
    match table.get_mut(key) {
        Some(Item::Value(old)) => {
            if bare(old) == shown {
                return;
            }
            what.push(format!("{name}.{key} = {shown} (was {})", bare(old)));
            *value.decor_mut() = old.decor().clone();
            *old = value;
        }
        _ => {
            what.push(format!("{name}.{key} = {shown}"));
            table.insert(key, Item::Value(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_below_the_old_domain_move_to_the_new_one() {
        for (jid, to) in [
            ("focus@auth.meet.jitsi", "focus@auth.meet.example.org"),
            ("recorder.meet.jitsi", "recorder.meet.example.org"),
            ("meet.jitsi", "meet.example.org"),
            ("bot@other.org", "bot@other.org"),
            ("a@notmeet.jitsi", "a@notmeet.jitsi"),
        ] {
            assert_eq!(moved(jid, "meet.jitsi", "meet.example.org"), to);
        }
    }

    #[test]
    fn a_changed_value_keeps_its_comment() {
        let mut doc: DocumentMut = "[xmpp]\nserver = \"127.0.0.1:5347\" # the port\nmuc = \"m\"\n"
            .parse()
            .unwrap();
        let mut what = vec![];
        let xmpp = doc["xmpp"].as_table_like_mut().unwrap();
        set(
            xmpp,
            "xmpp",
            "server",
            Value::from("127.0.0.1:6000"),
            &mut what,
        );
        set(xmpp, "xmpp", "muc", Value::from("m"), &mut what);
        set(xmpp, "xmpp", "component", Value::from("c"), &mut what);
        assert_eq!(
            doc.to_string(),
            "[xmpp]\nserver = \"127.0.0.1:6000\" # the port\nmuc = \"m\"\ncomponent = \"c\"\n"
        );
        assert_eq!(
            what,
            [
                "xmpp.server = \"127.0.0.1:6000\" (was \"127.0.0.1:5347\")",
                "xmpp.component = \"c\""
            ]
        );
    }
}
