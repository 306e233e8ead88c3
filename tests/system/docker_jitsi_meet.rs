//! The files a docker-jitsi-meet admin copies (deploy/docker-jitsi-meet/). Prosody's side
//! (raumwart.env, raumwart.cfg.lua) runs in every test of the suite with
//! `RAUMWART_TEST_SHAPE=docker-jitsi-meet` (see testkit/); here: raumwart's config
//! passes `raumwart check`, and the files agree with each other.

use std::fs;
use std::path::Path;
use std::process::Command;

fn deploy(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/docker-jitsi-meet")
        .join(file);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_shipped_raumwart_config_passes_check() {
    // As in ${CONFIG}/raumwart/: the config, the secret, a school's password file.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docker-jitsi-meet-config");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("schools")).unwrap();
    fs::write(dir.join("config.toml"), deploy("config.toml")).unwrap();
    fs::write(dir.join("component.secret"), "a-component-secret\n").unwrap();
    fs::write(
        dir.join("schools/gs-musterstadt.pw"),
        "rati-vazu-rebu-siha-miti-wagi\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_raumwart"))
        .arg("check")
        .arg("--config")
        .arg(dir.join("config.toml"))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ok (1 schools, 2 rooms)"), "{stdout}");
}

#[test]
fn the_shipped_files_agree_with_each_other() {
    let (env, prosody, compose, config) = (
        deploy("raumwart.env"),
        deploy("raumwart.cfg.lua"),
        deploy("docker-compose.raumwart.yml"),
        deploy("config.toml"),
    );
    for var in [
        "XMPP_MUC_MODULES=raumwart",
        "XMPP_BREAKOUT_MUC_MODULES=raumwart_breakout",
    ] {
        assert!(env.lines().any(|l| l == var), "raumwart.env lacks {var}");
    }
    // Prosody reads the secret file raumwart reads: ${CONFIG}/raumwart/component.secret.
    assert!(prosody.contains("component_secret = FileLine(\"/raumwart/component.secret\")"));
    assert!(compose.contains("${CONFIG}/raumwart/component.secret:/raumwart/component.secret:ro"));
    assert!(compose.contains("${CONFIG}/raumwart:/etc/raumwart:ro"));
    assert!(config.contains("secret_file = \"component.secret\""));
    // The component port: open on loopback only, reached through the shared network.
    assert!(prosody.contains("component_ports = { 5347 }"));
    assert!(prosody.contains("component_interfaces = { \"127.0.0.1\" }"));
    assert!(compose.contains("network_mode: \"service:prosody\""));
    assert!(
        !compose
            .lines()
            .any(|l| !l.trim_start().starts_with('#') && l.contains("5347")),
        "the component port must not be published"
    );
    assert!(config.contains("server = \"127.0.0.1:5347\""));
    // Names: docker-jitsi-meet's MUCs, and raumwart admin of each with owner rights.
    for (section, muc) in [
        (
            "Component \"muc.meet.jitsi\" \"muc\"",
            "muc = \"muc.meet.jitsi\"",
        ),
        (
            "Component \"lobby.meet.jitsi\" \"muc\"",
            "lobby_muc = \"lobby.meet.jitsi\"",
        ),
        ("Component \"breakout.meet.jitsi\" \"muc\"", ""),
    ] {
        let body = prosody.split(section).nth(1).expect(section);
        let body = body.split("\nComponent ").next().unwrap();
        assert!(
            body.contains("admins = { \"raumwart.meet.jitsi\" }"),
            "{section}"
        );
        assert!(
            body.contains("component_admins_as_room_owners = true"),
            "{section}"
        );
        assert!(config.contains(muc), "config.toml lacks {muc}");
    }
    assert!(config.contains("component = \"raumwart.meet.jitsi\""));
    assert!(prosody.contains("Component \"raumwart.meet.jitsi\"\n"));
}
