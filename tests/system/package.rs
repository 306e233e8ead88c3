//! The Debian package (`cargo deb`): what it installs, and that what it installs works
//! together: the unit starts the packaged binary, the packaged configuration passes
//! `raumwart check` once the secrets are put where the README says.
//!
//! Needs cargo-deb (`cargo install cargo-deb --locked`; `.ci/run` installs it). The
//! package is built from this test build's binary, without a release build.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn run(c: &mut Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the package into a fresh folder; returns the folder and the .deb.
fn build() -> (Dir, PathBuf) {
    let dir = Dir(std::env::temp_dir().join(format!("raumwart-deb-{}", std::process::id())));
    let release = dir.0.join("target/release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_raumwart"), release.join("raumwart")).unwrap();
    let deb = dir.0.join("raumwart.deb");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let probe = Command::new(&cargo).args(["deb", "--version"]).output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "cargo-deb is missing: cargo install cargo-deb --locked (.ci/run does)"
    );
    let mut c = Command::new(cargo);
    c.args(["deb", "--no-build", "--fast", "--quiet", "--output"])
        .arg(&deb)
        .env("CARGO_TARGET_DIR", dir.0.join("target"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    run(&mut c);
    (dir, deb)
}

#[test]
fn the_package_installs_a_working_whole() {
    let (dir, deb) = build();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));

    let field = |name: &str| run(Command::new("dpkg-deb").arg("--field").arg(&deb).arg(name));
    assert_eq!(field("Package").trim(), "raumwart");
    assert!(field("Depends").contains("systemd"), "{}", field("Depends"));

    let listing = run(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    let mut expected: Vec<String> = [
        "./usr/bin/raumwart",
        "./usr/lib/systemd/system/raumwart.service",
        "./usr/lib/systemd/system/raumwart-console.service",
        "./usr/share/raumwart/nginx/raumwart-console.conf",
        "./usr/lib/sysusers.d/raumwart.conf",
        "./usr/share/raumwart/prosody/mod_raumwart.lua",
        "./usr/share/raumwart/prosody/mod_raumwart_breakout.lua",
        "./usr/share/raumwart/prosody/raumwart_store.lib.lua",
        "./usr/share/bash-completion/completions/raumwart",
        "./usr/share/zsh/vendor-completions/_raumwart",
        "./usr/share/fish/vendor_completions.d/raumwart.fish",
        "./etc/raumwart/config.toml",
        "./usr/share/doc/raumwart/README.md",
        "./usr/share/raumwart/grafana/raumwart.json",
        "./usr/share/raumwart/prometheus/raumwart-alerts.yml",
    ]
    .map(String::from)
    .into();
    // Every file of the Prosody module: mod_raumwart loads its library from its own folder.
    for entry in std::fs::read_dir(repo.join("prosody")).unwrap() {
        let name = entry.unwrap().file_name();
        expected.push(format!(
            "./usr/share/raumwart/prosody/{}",
            name.to_string_lossy()
        ));
    }
    // A man page for every command.
    for entry in std::fs::read_dir(repo.join("debian/man")).unwrap() {
        let name = entry.unwrap().file_name();
        expected.push(format!(
            "./usr/share/man/man1/{}.gz",
            name.to_string_lossy()
        ));
    }
    for path in &expected {
        assert!(
            listing.lines().any(|l| l.ends_with(&format!(" {path}"))),
            "{path} is not in the package:\n{listing}"
        );
    }

    let control = dir.0.join("control");
    run(Command::new("dpkg-deb")
        .arg("--control")
        .arg(&deb)
        .arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert_eq!(conffiles.trim(), "/etc/raumwart/config.toml");
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(
        postinst.find("systemd-sysusers") < postinst.find("own root raumwart 0770 /etc/raumwart\n"),
        "the user must exist before /etc/raumwart is given to it:\n{postinst}"
    );

    let root = dir.0.join("root");
    run(Command::new("dpkg-deb")
        .arg("--extract")
        .arg(&deb)
        .arg(&root));
    // The units as they are here, neither enabled nor started by the package (both need
    // a configuration first); every command they run is the packaged binary, as the
    // package's user.
    let user = raumwart::config::daemon_user::DAEMON_USER;
    for name in crate::systemd::UNITS {
        let unit = std::fs::read_to_string(root.join("usr/lib/systemd/system").join(name)).unwrap();
        assert_eq!(
            unit,
            std::fs::read_to_string(repo.join("systemd").join(name)).unwrap(),
            "{name}"
        );
        for line in unit.lines().filter(|l| l.starts_with("Exec")) {
            let program = line.split_once('=').unwrap().1.split_whitespace().next();
            assert_eq!(program, Some("/usr/bin/raumwart"), "{name}: {line}");
        }
        assert!(
            unit.contains(&format!("\nUser={user}\n")),
            "{name}:\n{unit}"
        );
        // Enabled again only where an admin had enabled it (cargo-deb's `enable = false`).
        assert!(
            postinst.contains(&format!("deb-systemd-helper debian-installed {name}")),
            "{name} is enabled by the package:\n{postinst}"
        );
        // Restarted after an upgrade when it runs, never started (`start = false`).
        let invoked: Vec<&str> = postinst
            .lines()
            .filter(|l| l.contains("deb-systemd-invoke") && l.contains(name))
            .collect();
        assert!(
            !invoked.is_empty() && invoked.iter().all(|l| l.contains(" try-restart ")),
            "{name} is started by the package:\n{postinst}"
        );
    }
    let unit =
        std::fs::read_to_string(root.join("usr/lib/systemd/system/raumwart.service")).unwrap();
    let sysusers = std::fs::read_to_string(root.join("usr/lib/sysusers.d/raumwart.conf")).unwrap();
    assert!(
        sysusers.lines().any(|l| l.starts_with("u raumwart ")),
        "{sysusers}"
    );
    // The user `check` and the school commands check files against is the one the
    // package makes and the unit runs as.
    assert!(
        sysusers
            .lines()
            .any(|l| l.starts_with(&format!("u {user} "))),
        "{sysusers}"
    );
    let named = raumwart::config::daemon_user::Unit::from_text(&unit);
    assert_eq!(named.user, user);
    assert_eq!(
        named.config,
        Path::new(raumwart::cli::DEFAULT_CONFIG),
        "the unit runs the configuration the commands edit by default"
    );

    // The packaged configuration, with the secrets put where the README's install steps
    // put them, passes the packaged binary's check.
    let binary = root.join("usr/bin/raumwart");
    let version = run(Command::new(&binary).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("raumwart {}", env!("CARGO_PKG_VERSION"))
    );
    let etc = root.join("etc/raumwart");
    std::fs::create_dir_all(etc.join("schools")).unwrap();
    std::fs::write(etc.join("component.secret"), "a-component-secret\n").unwrap();
    for school in [
        "gs-musterstadt",
        "rs-beispielheim",
        "rs-beispielheim-konferenz",
    ] {
        let password = run(Command::new(&binary).arg("password"));
        std::fs::write(etc.join(format!("schools/{school}.pw")), password).unwrap();
    }
    let report = run(Command::new(&binary)
        .arg("check")
        .arg("--config")
        .arg(etc.join("config.toml")));
    assert!(report.contains(": ok ("), "{report}");
}
