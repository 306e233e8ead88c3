//! `raumwart setup`: raumwart added to the Prosody of a Jitsi Meet installed from Jitsi's
//! Debian packages, and raumwart's configuration given that deployment's names.
//!
//! [`plan`] reads everything and computes every file as it should be, writing nothing:
//! Prosody's side ([`prosody`]: raumwart's own file in conf.d, and raumwart's items in
//! the lists of Jitsi's file, in marked blocks), the component secret and the
//! configuration's names ([`raumwart`]). [`Plan::commit`] then writes the files that
//! change, all or none ([`write`]). A second run finds everything in place and changes
//! nothing: the secret is kept, the blocks are replaced, not added again.

use std::fmt;
use std::path::{Path, PathBuf};

mod lua;
mod prosody;
mod raumwart;
#[cfg(test)]
mod tests;
mod write;

pub use prosody::{Jitsi, BEGIN, END, OWN_FILE};
pub use write::{unified, Access, FileWrite};

use crate::config::Secret;
use crate::schools::ConfigLock;

/// Where the package installs the Prosody module's files.
pub const MODULE_DIR: &str = "/usr/share/raumwart/prosody";

/// Debian's Prosody configuration folder.
pub const PROSODY_CONFIG: &str = "/etc/prosody";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing was written: the message says why and what to do.
    #[error("{0}")]
    Refused(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] crate::schools::Error),
}

fn refused(message: impl Into<String>) -> Error {
    Error::Refused(message.into())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// What `setup` works on.
#[derive(Debug, Clone)]
pub struct Options {
    /// Prosody's configuration folder (with prosody.cfg.lua and conf.d/).
    pub prosody_config: PathBuf,
    /// raumwart's configuration file; the secret goes beside it.
    pub config: PathBuf,
    /// The Jitsi domain; None: the only one Prosody serves.
    pub domain: Option<String>,
    /// The folder of raumwart's Prosody module, added to Prosody's plugin_paths.
    pub module_dir: PathBuf,
}

/// Every file as `setup` would leave it.
pub struct Plan {
    pub jitsi: Jitsi,
    pub files: Vec<FileWrite>,
    secret: Secret,
}

/// Reads Prosody's and raumwart's configuration and computes what changes; writes nothing.
pub fn plan(o: &Options) -> Result<Plan, Error> {
    let raumwart = raumwart::Raumwart::read(&o.config)?;
    let prosody = prosody::Prosody::read(&o.prosody_config)?;
    let jitsi = prosody.jitsi(o.domain.as_deref())?;
    let secret = raumwart.secret()?;
    let mut files = prosody.plan(
        &jitsi,
        secret.expose(),
        &raumwart.secret_file,
        &o.module_dir,
        &raumwart.unmanaged,
    )?;
    files.extend(raumwart.plan(&jitsi, &secret)?);
    Ok(Plan {
        jitsi,
        files,
        secret,
    })
}

/// Plans and writes, holding the configuration's lock (which the console and `raumwart
/// school` take too) from the read to the last rename.
pub fn setup(o: &Options) -> Result<Plan, Error> {
    let _lock = match o.config.exists() {
        true => Some(ConfigLock::exclusive(&o.config)?),
        false => None,
    };
    let plan = plan(o)?;
    plan.commit()?;
    Ok(plan)
}

impl Plan {
    /// Whether any file changes.
    pub fn changes(&self) -> bool {
        self.files.iter().any(FileWrite::changes)
    }

    /// Writes every file that changes, all or none.
    pub fn commit(&self) -> Result<(), Error> {
        write::commit(&self.files)
    }

    /// A unified diff of every file that changes, the secret not shown.
    pub fn diff(&self) -> String {
        let mut out = String::new();
        for f in self.files.iter().filter(|f| f.changes()) {
            let old = f.old.as_ref().map(|(text, _)| text.as_str());
            match &f.old {
                None => out += &format!("# {}: new, {}\n", f.path.display(), f.access),
                Some((_, access)) if *access != f.access => {
                    out += &format!("# {}: {} (now {access})\n", f.path.display(), f.access)
                }
                Some(_) => {}
            }
            out += &unified(&f.path, old, &f.new);
        }
        let secret = self.secret.expose();
        match secret.is_empty() {
            true => out,
            false => out.replace(secret, "<the component secret, not shown>"),
        }
    }
}

/// What `setup` changed, on one screen.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let j = &self.jitsi;
        let mut mucs = format!("MUC {}", j.muc);
        if let Some(b) = &j.breakout {
            mucs += &format!(", breakout {b}");
        }
        if let Some(l) = &j.lobby {
            mucs += &format!(", lobby {l}");
        }
        writeln!(f, "raumwart setup for the Jitsi Meet at {}", j.domain)?;
        writeln!(
            f,
            "  {mucs}; focus {}; Prosody's component port {}",
            j.focus, j.server
        )?;
        if !self.changes() {
            return writeln!(
                f,
                "Nothing to change: Prosody and raumwart are set up for it."
            );
        }
        writeln!(f)?;
        for file in self.files.iter().filter(|w| w.changes()) {
            let label = match file.old {
                None => format!("new      {} ({})", file.path.display(), file.access),
                Some(_) => format!("changed  {}", file.path.display()),
            };
            writeln!(f, "{label}")?;
            for line in file.what.iter().filter(|l| !l.is_empty()) {
                writeln!(f, "           {line}")?;
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "Prosody reads its configuration only when it starts: systemctl restart prosody"
        )?;
        writeln!(
            f,
            "Then: raumwart check, and systemctl enable --now raumwart (running already: \
             systemctl reload raumwart)"
        )
    }
}
