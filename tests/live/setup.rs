//! `raumwart setup` on the Prosody configuration Jitsi's Debian packages write (the
//! kit's `jitsi_debian`: Debian's prosody.cfg.lua, Jitsi's host file in conf.avail linked
//! from conf.d): after setup and a Prosody start, the real daemon with the configuration
//! setup wrote plays a lesson. A second run changes nothing; `--dry-run` writes nothing
//! and prints a diff. On Prosody 0.12 here, on 13 in CI's second run.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testkit::jitsi_debian::{self, JitsiDebian};
use testkit::*;

use crate::REPO;

fn setup(jitsi: &JitsiDebian, config: &Path, extra: &[&str]) -> Output {
    Command::new(REPO.binary)
        .arg("setup")
        .arg("--prosody-config")
        .arg(&jitsi.prosody_config)
        .arg("--config")
        .arg(config)
        .arg("--module-dir")
        .arg(Path::new(REPO.root).join("prosody"))
        .args(extra)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "raumwart setup failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Every file of the configuration folders with its content, mode and link target: what
/// a run may change (Prosody's data and logs left out).
fn snapshot(folders: &[&Path]) -> BTreeMap<PathBuf, (Vec<u8>, u32, Option<PathBuf>)> {
    let mut files = BTreeMap::new();
    for folder in folders {
        for entry in fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if meta.is_dir()
                || name.ends_with(".log")
                || name.starts_with("prosody.") && name != "prosody.cfg.lua"
            {
                continue;
            }
            let link = meta.is_symlink().then(|| fs::read_link(&path).unwrap());
            files.insert(
                path.clone(),
                (fs::read(&path).unwrap_or_default(), meta.mode(), link),
            );
        }
    }
    files
}

/// What Prosody's log says against the configuration or raumwart's module: its config
/// warnings (a duplicate option among them), and errors and warnings naming raumwart.
fn problems(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            l.contains("Configuration warning")
                || (l.contains("raumwart") && (l.contains("\terror\t") || l.contains("\twarn\t")))
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn setup_adds_raumwart_to_a_debian_jitsi_and_a_lesson_works() {
    if shape() != Shape::Debian {
        eprintln!(
            "setup is for Jitsi's Debian packages; this run's shape is {:?}",
            shape()
        );
        return;
    }
    let mut env = Env::new(REPO, grace("2s"));
    env.stop_prosody();
    let jitsi = jitsi_debian::render(&env);
    // raumwart's configuration as an admin has it before setup: the package's default
    // component port, focus not yet among the service JIDs, no secret.
    let config = env.daemon_config_path();
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace(&format!("127.0.0.1:{}", env.component), "127.0.0.1:5347")
        .replace(&format!("\"focus@{AUTH}\", "), "");
    fs::write(&config, text).unwrap();
    let secret_file = env.dir.join("component.secret");
    fs::remove_file(&secret_file).unwrap();
    let conf_d = env.dir.join("conf.d");
    let (dir, avail) = (env.dir.clone(), env.dir.join("conf.avail"));
    let folders = [dir.as_path(), &avail, &conf_d];
    let before = snapshot(&folders);

    // A dry run: a diff of every file it would write, nothing written, no secret shown.
    let dry = stdout(&setup(&jitsi, &config, &["--dry-run"]));
    assert_eq!(
        snapshot(&folders),
        before,
        "--dry-run changed files:\n{dry}"
    );
    for header in [
        format!("+++ {}\n", jitsi.link.display()),
        format!("+++ {}\n", conf_d.join("raumwart.cfg.lua").display()),
        format!("+++ {}\n", secret_file.display()),
        format!("+++ {}\n", config.display()),
        "+        \"raumwart\";\n".into(),
        format!(
            "-server = \"127.0.0.1:5347\"\n+server = \"127.0.0.1:{}\"\n",
            env.component
        ),
        "component_secret = \"<the component secret, not shown>\"".into(),
    ] {
        assert!(
            dry.contains(&header),
            "--dry-run shows no {header:?}:\n{dry}"
        );
    }

    let said = stdout(&setup(&jitsi, &config, &[]));
    assert!(said.contains("systemctl restart prosody"), "{said}");
    let after = snapshot(&folders);
    let secret = fs::read_to_string(&secret_file).unwrap();
    let secret = secret.trim_end();
    assert_eq!(secret.len(), 48, "a new secret of 24 random bytes");
    let own = fs::read_to_string(conf_d.join("raumwart.cfg.lua")).unwrap();
    assert!(
        own.contains(&format!("component_secret = \"{secret}\"")),
        "{own}"
    );
    for file in [conf_d.join("raumwart.cfg.lua"), secret_file.clone()] {
        assert_eq!(
            fs::metadata(&file).unwrap().mode() & 0o777,
            0o640,
            "{}",
            file.display()
        );
    }
    assert!(!said.contains(secret), "the secret was shown");
    // Jitsi's file: edited where it is, its link kept.
    assert!(fs::symlink_metadata(&jitsi.link).unwrap().is_symlink());
    let edited = fs::read_to_string(&jitsi.jitsi_file).unwrap();
    assert_eq!(
        edited.matches("-- BEGIN raumwart (raumwart setup)").count(),
        5,
        "{edited}"
    );
    let daemon_config = fs::read_to_string(&config).unwrap();
    assert!(
        daemon_config.contains(&format!("server = \"127.0.0.1:{}\"", env.component))
            && daemon_config.contains(&format!("\"focus@{AUTH}\"")),
        "{daemon_config}"
    );

    // Prosody as a restart would start it, with the files setup wrote (its log from
    // the kit's first start left out).
    fs::remove_file(env.dir.join("prosody.log")).unwrap();
    env.start_prosody();
    assert_eq!(problems(&env.prosody_log()), Vec::<String>::new());
    let mut d = env.daemon().await;
    let jid = room_jid(ROOM);
    let _focus = env.focus(ROOM).await;
    let mut guest = env.anonymous().await;
    assert_eq!(
        guest.join(&jid, "guest", None).await.err().as_deref(),
        Some("not-authorized"),
        "a guest without password entered"
    );
    let (mut teacher, mut student) = lesson(&env, ROOM).await;
    let old_owner = teacher.bare();
    teacher.leave(&jid, "teacher").await;
    student
        .wait_removed_within(env.after_grace(), &jid, "student")
        .await;
    d.wait_metric("raumwart_sessions_ended_total", 1.0).await;
    assert_room_is_fresh(&env, ROOM, &old_owner).await;
    assert_eq!(problems(&env.prosody_log()), Vec::<String>::new());

    // Again: nothing to change, nothing written, the same secret.
    let again = stdout(&setup(&jitsi, &config, &[]));
    assert!(again.contains("Nothing to change"), "{again}");
    assert_eq!(
        snapshot(&folders),
        after,
        "a second run changed files:\n{again}"
    );
    let dry = stdout(&setup(&jitsi, &config, &["--dry-run"]));
    assert!(
        !dry.contains("+++ ") && dry.contains("Nothing to change"),
        "{dry}"
    );
    // raumwart's own file lost: a dry run shows it with the secret hidden, a run brings
    // it back as it was.
    fs::remove_file(conf_d.join("raumwart.cfg.lua")).unwrap();
    let dry = stdout(&setup(&jitsi, &config, &["--dry-run"]));
    assert!(
        dry.contains("+    component_secret = \"<the component secret, not shown>\"")
            && !dry.contains(secret),
        "{dry}"
    );
    stdout(&setup(&jitsi, &config, &[]));
    assert_eq!(snapshot(&folders), after);
}
