//! A folder holding config.example.toml with its secret and password files, for the
//! tests of the school workflow and the letter.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use raumwart::schools::Files;

/// The example's school passwords, by file in `schools/`.
pub const PASSWORDS: [(&str, &str); 3] = [
    ("gs-musterstadt.pw", "Tafel-Kreide-Pausenhof-47"),
    ("rs-beispielheim.pw", "Zirkel-Atlas-Turnhalle-83"),
    ("rs-beispielheim-konferenz.pw", "Nebel Fahrrad Kompass Ufer"),
];

/// A fresh folder `NAME` under the test folder with the example config in it.
pub fn setup(name: &str) -> (PathBuf, Files) {
    setup_in(Path::new(env!("CARGO_TARGET_TMPDIR")), name)
}

/// `setup` in another folder than the build's (one another user may enter).
pub fn setup_in(base: &Path, name: &str) -> (PathBuf, Files) {
    let dir = base.join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("schools")).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    fs::copy(example, dir.join("config.toml")).unwrap();
    fs::write(dir.join("component.secret"), "secret\n").unwrap();
    for (file, password) in PASSWORDS {
        let path = dir.join("schools").join(file);
        fs::write(&path, format!("{password}\n")).unwrap();
        // As the README's install steps leave them (group raumwart there).
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    }
    let files = Files::new(dir.join("config.toml"));
    (dir, files)
}
