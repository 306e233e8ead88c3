//! The systemd unit passes `systemd-analyze verify` and rates 2.0 or better in
//! `systemd-analyze security --offline=true`.

use std::path::Path;
use std::process::Command;

/// The unit as shipped, with the binary path pointed at this build (verify checks it).
fn unit_copy(name: &str) -> (std::path::PathBuf, tempdir::Dir) {
    let dir = tempdir::Dir::new(name);
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/raumwart.service"),
    )
    .unwrap();
    let text = text.replace("/usr/bin/raumwart", env!("CARGO_BIN_EXE_raumwart"));
    let path = dir.0.join("raumwart.service");
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

#[test]
fn unit_verifies_cleanly() {
    let (path, _dir) = unit_copy("verify");
    let (ok, text) = analyze(&["verify", path.to_str().unwrap()]);
    assert!(
        ok && text.trim().is_empty(),
        "systemd-analyze verify:\n{text}"
    );
}

#[test]
fn unit_is_hardened_to_2_0_or_better() {
    let (path, _dir) = unit_copy("security");
    let (ok, text) = analyze(&[
        "security",
        "--offline=true",
        "--threshold=20",
        path.to_str().unwrap(),
    ]);
    assert!(ok, "exposure above 2.0:\n{text}");
    let level = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for raumwart.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(level <= 2.0, "exposure {level}");
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
