//! The console's part of the installed package: it runs as the daemon's user raumwart
//! and keeps the register in /etc/raumwart beside root's `raumwart school`, so the package
//! makes those folders writable for group raumwart, on a first install and once on the
//! upgrade from the package before the console; an admin's later choice stays. Its
//! accounts' database, added by root before the console ever started, is the console
//! user's, in the state folder the package makes as the unit's StateDirectory= does.
//!
//! The console runs the same library as `raumwart school` and `raumwart console user`:
//! these commands, run as user raumwart with setpriv as the unit runs it, stand for it.
//! Needs root and dpkg, as `install.rs`, whose machine lock and helpers it shares.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use crate::install::{
    as_daemon_user, assert_reloaded, build_deb, deb_version, ids, ok, owner, put_example_secrets,
    raumwart, text, Installed, EXAMPLE_SCHOOLS,
};

const CONFIG: &str = "/etc/raumwart/config.toml";
const DATABASE: &str = "/var/lib/raumwart/console.sqlite";

/// On the installed package with the daemon running as its user (`install.rs`): root adds
/// the console's first account, the console's user opens and writes that database, and
/// changes the register, which the daemon reloads and root's commands go on changing.
pub(super) fn the_console_keeps_the_register_as_its_user(uid: u32, gid: u32) {
    // The first account, as root adds it before enabling the console's unit.
    let add = raumwart(&["console", "user", "add", "admin", "--provider"]);
    assert!(add.status.success(), "{}", text(&add));
    assert!(text(&add).contains("\npassword: "), "{}", text(&add));
    assert_eq!(
        owner(DATABASE),
        (uid, gid, 0o600),
        "root's new database goes to the state folder's owner"
    );
    assert!(!Path::new(&format!("{DATABASE}-journal")).exists());
    // The console's user opens it and writes to it (a new password ends sessions).
    let reset = as_daemon_user(&["console", "user", "reset-password", "admin"]);
    assert!(reset.status.success(), "{}", text(&reset));
    let list = as_daemon_user(&["console", "user", "list"]);
    assert!(
        text(&list).starts_with("admin\tprovider"),
        "{}",
        text(&list)
    );
    assert_eq!(owner(DATABASE), (uid, gid, 0o600));

    // The register, changed by the console's user after root's commands (which left the
    // lock file beside the config): the daemon reloads it through its control socket.
    let add = as_daemon_user(&[
        "school",
        "add",
        "gy-konsole",
        "--name",
        "Gymnasium Konsole",
        "--rooms",
        "1",
    ]);
    assert_reloaded(&add);
    let status = raumwart(&["status"]);
    assert!(text(&status).contains("gy-konsole-1"), "{}", text(&status));
    // Written by the console's user, in the group and mode the daemon reads.
    assert_eq!(
        owner("/etc/raumwart/schools/gy-konsole.pw"),
        (uid, gid, 0o640)
    );
    assert_eq!(owner(CONFIG), (uid, gid, 0o640));
    let check = raumwart(&["check"]);
    assert!(check.status.success(), "{}", text(&check));
    let check = as_daemon_user(&["check", "--config", CONFIG]);
    assert!(check.status.success(), "{}", text(&check));

    // Root's commands go on after the console's.
    let remove = raumwart(&["school", "remove", "gy-konsole"]);
    assert!(remove.status.success(), "{}", text(&remove));
    assert!(!Path::new("/etc/raumwart/schools/gy-konsole.pw").exists());
    let check = raumwart(&["check"]);
    assert!(check.status.success(), "{}", text(&check));
}

#[test]
fn an_upgrade_from_the_package_before_the_console_opens_the_register_to_it_once() {
    let Some(_guard) = Installed::take() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("raumwart-install-console-{}", std::process::id()));
    let now = build_deb(&dir, "now", None);
    let version = deb_version(&now);
    let before = build_deb(
        &dir,
        "before",
        Some(&format!("{}-1", env!("CARGO_PKG_VERSION"))),
    );
    let later = build_deb(&dir, "later", Some(&format!("{version}+1")));
    ok(Command::new("dpkg").arg("-i").arg(&before));
    let (uid, gid) = ids("raumwart");

    // What the package before the console left: the folders root:raumwart 0750, the
    // config as dpkg unpacks it, the state folder root's with the module's sum in it
    // (written by root), and a lock root's `school list` made with the config's group.
    for folder in ["/etc/raumwart", "/etc/raumwart/schools"] {
        ok(Command::new("chmod").args(["0750", folder]));
    }
    ok(Command::new("chown").args(["root:root", CONFIG]));
    ok(Command::new("chmod").args(["0644", CONFIG]));
    let sum = "/var/lib/raumwart/prosody-module.sha256";
    ok(Command::new("chown").args(["root:root", "/var/lib/raumwart", sum]));
    ok(Command::new("chmod").args(["0755", "/var/lib/raumwart"]));
    put_example_secrets();
    let list = raumwart(&["school", "list"]);
    assert!(list.status.success(), "{}", text(&list));
    let lock = "/etc/raumwart/.config.toml.lock";
    assert_eq!(owner(lock), (0, 0, 0o660));
    // The console's user could not change the register.
    let refused = as_daemon_user(&["school", "add", "gy-a", "--name", "A", "--rooms", "1"]);
    assert!(!refused.status.success(), "{}", text(&refused));

    let upgrade = run_dpkg_i(&now);
    for folder in ["/etc/raumwart", "/etc/raumwart/schools"] {
        assert_eq!(owner(folder), (0, gid, 0o770), "{folder}");
    }
    assert_eq!(owner(CONFIG), (0, gid, 0o640));
    assert_eq!(owner(lock), (0, gid, 0o660));
    assert_eq!(owner("/var/lib/raumwart"), (uid, gid, 0o750));
    for school in EXAMPLE_SCHOOLS {
        let file = format!("/etc/raumwart/schools/{school}.pw");
        assert_eq!(owner(&file), (0, gid, 0o640), "{file} keeps its own");
    }
    // The same module as before: no word about restarting Prosody.
    assert!(!upgrade.contains("Prosody module changed"), "{upgrade}");
    let add = as_daemon_user(&["school", "add", "gy-a", "--name", "A", "--rooms", "1"]);
    assert!(add.status.success(), "{}", text(&add));
    let check = raumwart(&["check"]);
    assert!(check.status.success(), "{}", text(&check));

    // An admin's later choice stays: the console's user may not write the folders.
    for folder in ["/etc/raumwart", "/etc/raumwart/schools"] {
        ok(Command::new("chmod").args(["0750", folder]));
    }
    // The state folder is the console user's: a link it puts in place of the module's
    // sum is replaced, not followed, by the next upgrade (nothing there is opened as root).
    let victim = "/etc/raumwart/victim";
    std::fs::write(victim, "root's\n").unwrap();
    std::fs::remove_file(sum).unwrap();
    std::os::unix::fs::symlink(victim, sum).unwrap();
    let upgrade = run_dpkg_i(&later);
    for folder in ["/etc/raumwart", "/etc/raumwart/schools"] {
        assert_eq!(owner(folder), (0, gid, 0o750), "{folder}");
    }
    assert_eq!(std::fs::read_to_string(victim).unwrap(), "root's\n");
    let written = std::fs::symlink_metadata(sum).unwrap();
    assert!(written.is_file(), "{sum} is still a link");
    assert_eq!(written.uid(), uid);
    // The sum it could not read as a sum: the admin hears about the module.
    assert!(upgrade.contains("Prosody module changed"), "{upgrade}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `dpkg -i DEB`, which must succeed; its output and errors.
fn run_dpkg_i(deb: &Path) -> String {
    let out = crate::install::run(Command::new("dpkg").arg("-i").arg(deb));
    assert!(out.status.success(), "dpkg -i: {}", text(&out));
    text(&out)
}
