//! A follower's copy of the register: a TOML file of `[[media_centre]]` and `[[school]]`
//! blocks (the config loader reads it as it reads its own) and the passwords beside it,
//! one file per room in a folder named after the register's hash.
//!
//! A new copy is written whole before it counts: the passwords into a fresh folder, the
//! TOML file through a temporary file and a rename; only then are older folders removed.
//! The first line records the hash and `issued_at`, which the next answer must not be
//! older than.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{Issued, Register};

const HEADER: &str = "# raumwart register ";

/// The hash and `issued_at` of the cached register, if there is one.
pub fn cached(path: &Path) -> Option<(String, u64)> {
    let text = fs::read_to_string(path).ok()?;
    let line = text.lines().next()?.strip_prefix(HEADER)?;
    let (hash, issued) = line.split_once(' ')?;
    Some((hash.to_owned(), issued.parse().ok()?))
}

/// Writes `issued` as the cache at `path` (see the module docs).
pub fn write(path: &Path, issued: &Issued) -> std::io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let stem = path
        .file_stem()
        .map_or("register".into(), |s| s.to_string_lossy().into_owned());
    let passwords_name = format!("{stem}-{}", &issued.hash[..16.min(issued.hash.len())]);
    let passwords = folder.join(&passwords_name);
    let _ = fs::remove_dir_all(&passwords);
    fs::DirBuilder::new().mode(0o750).create(&passwords)?;
    let text = toml(&issued.register, &passwords_name, &passwords, issued)?;
    let temp = folder.join(format!(".{stem}.toml.new"));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(&temp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&temp, path)?;
    // Older copies' passwords go once the new file is in place.
    for entry in fs::read_dir(folder)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{stem}-")) && name != passwords_name {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// The register as TOML, its passwords written into `passwords` (named `folder_name`
/// relative to the TOML file).
fn toml(
    register: &Register,
    folder_name: &str,
    passwords: &Path,
    issued: &Issued,
) -> std::io::Result<String> {
    // A JSON string is a valid TOML basic string: the same escapes.
    let q = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let mut out = format!(
        "{HEADER}{} {}\n# Written by raumwart from the register it follows: do not edit, the next \
         change replaces it.\n",
        issued.hash, issued.issued_at
    );
    let several = register.media_centres.iter().any(|m| m.id.is_some());
    for m in &register.media_centres {
        out += match several {
            true => "\n[[media_centre]]\n",
            false => "\n[media_centre]\n",
        };
        if let Some(id) = &m.id {
            out += &format!("id = {}\n", q(id));
        }
        out += &format!("name = {}\n", q(&m.name));
        for (key, value) in [
            ("address", &m.address),
            ("phone", &m.phone),
            ("mail", &m.mail),
        ] {
            if let Some(v) = value {
                out += &format!("{key} = {}\n", q(v));
            }
        }
    }
    let mut n = 0;
    for s in &register.schools {
        out += &format!("\n[[school]]\nid = {}\n", q(&s.id));
        if let Some(name) = &s.name {
            out += &format!("name = {}\n", q(name));
        }
        if let Some(centre) = &s.media_centre {
            out += &format!("media_centre = {}\n", q(centre));
        }
        let mut rooms = vec![];
        for r in &s.rooms {
            n += 1;
            let file = format!("{n}.pw");
            write_secret(&passwords.join(&file), &r.password)?;
            let relative = format!("{folder_name}/{file}");
            rooms.push(format!(
                "{{ name = {}, password_file = {} }}",
                q(&r.name),
                q(&relative)
            ));
        }
        out += &format!("rooms = [\n    {},\n]\n", rooms.join(",\n    "));
    }
    Ok(out)
}

fn write_secret(path: &PathBuf, secret: &str) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(path)?;
    f.write_all(secret.as_bytes())?;
    f.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::{Centre, Room, School};

    #[test]
    fn a_written_copy_reads_back_as_the_same_register_and_replaces_the_last() {
        let dir = std::env::temp_dir().join(format!("raumwart-cache-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("token"), "register-token-for-a-unit-test").unwrap();
        let config = dir.join("config.toml");
        fs::write(
            &config,
            "[xmpp]\nserver = \"127.0.0.1:5347\"\ncomponent = \"raumwart.meet.jitsi\"\n\
             secret_file = \"token\"\nmuc = \"conference.meet.jitsi\"\n\n\
             [register]\nfollow = \"http://127.0.0.1:9480/register\"\n\
             token_file = \"token\"\ncache = \"register/register.toml\"\n",
        )
        .unwrap();
        let register = Register {
            media_centres: vec![Centre {
                id: Some("kmz-a".into()),
                name: "Kreismedienzentrum \"Süd\"".into(),
                address: None,
                phone: Some("07000 1".into()),
                mail: None,
            }],
            schools: vec![School {
                id: "gs-a".into(),
                name: Some("Grundschule Ä".into()),
                media_centre: Some("kmz-a".into()),
                rooms: vec![
                    Room {
                        name: "gs-a-1".into(),
                        password: "Tafel-Kreide-Pausenhof-47".into(),
                    },
                    Room {
                        name: "Konferenz A".into(),
                        password: "Heft-Mappe-Zirkel-Lineal-9".into(),
                    },
                ],
            }],
        };
        let issued = Issued {
            issued_at: 5,
            hash: register.hash(),
            register: register.clone(),
        };
        let cache = dir.join("register/register.toml");
        fs::create_dir_all(cache.parent().unwrap()).unwrap();
        write(&cache, &issued).unwrap();
        assert_eq!(cached(&cache), Some((register.hash(), 5)));
        let loaded = crate::config::load(&config).unwrap();
        assert_eq!(Register::of(&loaded), register);

        // A second copy replaces the first, passwords and all.
        let mut next = register.clone();
        next.schools[0].rooms.pop();
        let issued = Issued {
            issued_at: 6,
            hash: next.hash(),
            register: next.clone(),
        };
        write(&cache, &issued).unwrap();
        assert_eq!(Register::of(&crate::config::load(&config).unwrap()), next);
        let folders = fs::read_dir(cache.parent().unwrap())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_dir())
            .count();
        assert_eq!(folders, 1, "the last copy's passwords are gone");
        fs::remove_dir_all(&dir).unwrap();
    }
}
