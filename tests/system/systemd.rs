//! The systemd units, the daemon's and the console's, pass `systemd-analyze verify` and
//! rate 2.0 or better in `systemd-analyze security --offline=true`; a man page a unit
//! names as its documentation is one the package ships.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The units the package installs.
pub(crate) const UNITS: [&str; 2] = ["raumwart.service", "raumwart-console.service"];

/// The unit as shipped, with the binary path pointed at this build (verify checks it).
fn unit_copy(unit: &str, name: &str) -> (PathBuf, tempdir::Dir) {
    let dir = tempdir::Dir::new(name);
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("systemd")
            .join(unit),
    )
    .unwrap();
    let text = text.replace("/usr/bin/raumwart", env!("CARGO_BIN_EXE_raumwart"));
    let path = dir.0.join(unit);
    std::fs::write(&path, text).unwrap();
    (path, dir)
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(name: &str) -> Dir {
            let p =
                std::env::temp_dir().join(format!("raumwart-unit-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn analyze(args: &[&str]) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .output()
        .expect("systemd-analyze (Debian's systemd package) is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `systemd-analyze verify` of a unit file: no complaint at all. Its `Documentation=`
/// man pages are looked for in `man_dir` (`NAME.1`), not by `man` (CI has no man-db).
pub(crate) fn verify(path: &Path, man_dir: &Path) {
    let (ok, text) = analyze(&["verify", "--man=no", path.to_str().unwrap()]);
    assert!(
        ok && text.trim().is_empty(),
        "systemd-analyze verify {}:\n{text}",
        path.display()
    );
    let unit = std::fs::read_to_string(path).unwrap();
    for line in unit.lines() {
        let Some(docs) = line.strip_prefix("Documentation=") else {
            continue;
        };
        for page in docs.split_whitespace() {
            let name = page
                .strip_prefix("man:")
                .and_then(|p| p.strip_suffix("(1)"))
                .unwrap_or_else(|| {
                    panic!("{}: {page}: only man:NAME(1) is shipped", path.display())
                });
            let file = man_dir.join(format!("{name}.1"));
            let gz = man_dir.join(format!("{name}.1.gz"));
            assert!(
                file.exists() || gz.exists(),
                "{}: Documentation={page}, but {} has no such page",
                path.display(),
                man_dir.display()
            );
        }
    }
}

/// The exposure `systemd-analyze security --offline=true` gives the unit file at `path`,
/// asserting it is 2.0 or better (the daemon's, and the console's beside it).
pub(crate) fn exposure(path: &Path) -> f64 {
    let (ok, text) = analyze(&[
        "security",
        "--offline=true",
        "--threshold=20",
        path.to_str().unwrap(),
    ]);
    assert!(ok, "exposure above 2.0:\n{text}");
    let name = path.file_name().unwrap().to_string_lossy();
    let level = text
        .lines()
        .find_map(|l| {
            l.split(&format!("Overall exposure level for {name}: "))
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(level <= 2.0, "{name}: exposure {level}");
    level
}

#[test]
fn units_verify_cleanly() {
    let man = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/man");
    for unit in UNITS {
        let (path, _dir) = unit_copy(unit, "verify");
        verify(&path, &man);
    }
}

#[test]
fn units_are_hardened_to_2_0_or_better() {
    for unit in UNITS {
        let (path, _dir) = unit_copy(unit, "security");
        exposure(&path);
    }
}

/// The shipped alert rules are valid Prometheus rules, cover "connected but not in sync",
/// and the README shows exactly that file.
#[test]
fn alert_rules_pass_promtool_and_match_the_readme() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = repo.join("deploy/prometheus/raumwart-alerts.yml");
    let rules = std::fs::read_to_string(&path).unwrap();
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let after = readme
        .split("### Alerts")
        .nth(1)
        .expect("an Alerts section");
    let yaml = after
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a yaml block");
    assert_eq!(
        yaml,
        rules,
        "the README's alerts differ from {}",
        path.display()
    );
    for alert in ["RaumwartNotConnected", "RaumwartNotInSync", "RaumwartDown"] {
        assert!(rules.contains(&format!("alert: {alert}\n")), "no {alert}");
    }
    assert!(rules.contains("raumwart_xmpp_synced == 0"));
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .expect("promtool (Debian's prometheus package) is installed");
    assert!(
        out.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
