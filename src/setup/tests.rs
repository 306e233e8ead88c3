//! `setup` on small Prosody folders: what it finds, what it refuses (writing nothing),
//! the configuration it writes, and that a second run changes nothing. The whole run on
//! the configuration Jitsi's package renders, with Prosody and a lesson, is the live test
//! `setup`.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

/// A Debian-like Prosody folder and raumwart's folder in a temporary one.
struct Dirs {
    root: PathBuf,
}

const MAIN: &str = "admins = { }\ncomponent_ports = { 6000 }\nVirtualHost \"localhost\"\nInclude \"conf.d/*.cfg.lua\"\n";

const JITSI: &str = r#"plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }
VirtualHost "meet.example.org"
    authentication = "jitsi-anonymous"
    lobby_muc = "lobby.meet.example.org"
    main_muc = "conference.meet.example.org"

Component "conference.meet.example.org" "muc"
    modules_enabled = {
        "muc_meeting_id";
    }
    admins = { "jicofo@auth.meet.example.org" }

Component "lobby.meet.example.org" "muc"
    storage = "memory"

VirtualHost "auth.meet.example.org"
    authentication = "internal_hashed"
"#;

impl Dirs {
    fn new(name: &str) -> Dirs {
        let root =
            std::env::temp_dir().join(format!("raumwart-setup-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("prosody/conf.avail")).unwrap();
        fs::create_dir_all(root.join("prosody/conf.d")).unwrap();
        fs::create_dir_all(root.join("raumwart")).unwrap();
        fs::write(root.join("prosody/prosody.cfg.lua"), MAIN).unwrap();
        let dirs = Dirs { root };
        dirs.jitsi(JITSI);
        dirs
    }

    fn jitsi(&self, text: &str) {
        let file = self
            .root
            .join("prosody/conf.avail/meet.example.org.cfg.lua");
        fs::write(&file, text).unwrap();
        let link = self.root.join("prosody/conf.d/meet.example.org.cfg.lua");
        if fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(&file, link).unwrap();
        }
    }

    fn options(&self) -> Options {
        Options {
            prosody_config: self.root.join("prosody"),
            config: self.config(),
            domain: None,
            module_dir: PathBuf::from(MODULE_DIR),
        }
    }

    fn config(&self) -> PathBuf {
        self.root.join("raumwart/config.toml")
    }

    fn refused(&self, options: &Options) -> String {
        let before = files(&self.root);
        let e = match setup(options) {
            Ok(plan) => panic!("not refused:\n{plan}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(files(&self.root), before, "a refused run wrote: {e}");
        e
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Every file below `dir` with its content.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = vec![];
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_dir() {
            out.extend(files(&path));
        } else if !(name.starts_with('.') && name.ends_with(".lock")) {
            // (The configuration's lock file, which any command may leave.)
            out.push((path.clone(), fs::read(&path).unwrap_or_default()));
        }
    }
    out.sort();
    out
}

#[test]
fn a_machine_without_a_config_gets_one_that_check_accepts_and_a_second_run_changes_nothing() {
    let d = Dirs::new("fresh");
    let plan = setup(&d.options()).unwrap();
    assert_eq!(
        plan.jitsi,
        Jitsi {
            domain: "meet.example.org".into(),
            component: "raumwart.meet.example.org".into(),
            muc: "conference.meet.example.org".into(),
            breakout: None,
            lobby: Some("lobby.meet.example.org".into()),
            focus: "jicofo@auth.meet.example.org".into(),
            server: "127.0.0.1:6000".into(),
        }
    );
    let config = crate::config::load(&d.config()).unwrap();
    assert_eq!(config.xmpp.server, "127.0.0.1:6000");
    assert_eq!(
        config.xmpp.lobby_muc.as_deref(),
        Some("lobby.meet.example.org")
    );
    assert!(config
        .policy
        .service_jids
        .contains(&"jicofo@auth.meet.example.org".to_owned()));
    let secret = fs::read_to_string(d.root.join("raumwart/component.secret")).unwrap();
    assert_eq!(config.xmpp.secret.expose(), secret.trim_end());
    let own = fs::read_to_string(d.root.join("prosody/conf.d/raumwart.cfg.lua")).unwrap();
    assert!(own.contains(&format!("component_secret = \"{}\"", secret.trim_end())));
    // The lobby had no admins: raumwart's file gives it its own.
    assert!(own.contains("Component \"lobby.meet.example.org\" \"muc\"\n    admins = { \"raumwart.meet.example.org\" }"), "{own}");
    let before = files(&d.root);
    let again = setup(&d.options()).unwrap();
    assert!(!again.changes(), "{again}");
    assert_eq!(files(&d.root), before);
    assert!(again.to_string().contains("Nothing to change"));
}

#[test]
fn the_package_s_example_config_gets_the_domain_s_names_and_keeps_the_rest() {
    let d = Dirs::new("example");
    let example = include_str!("../../config.example.toml");
    fs::write(d.config(), example).unwrap();
    let plan = setup(&d.options()).unwrap();
    let text = fs::read_to_string(d.config()).unwrap();
    let changed: Vec<&str> = text
        .lines()
        .filter(|l| !example.lines().any(|e| e == *l))
        .collect();
    assert_eq!(
        changed,
        [
            "server = \"127.0.0.1:6000\"",
            "component = \"raumwart.meet.example.org\"",
            "muc = \"conference.meet.example.org\"",
            "lobby_muc = \"lobby.meet.example.org\"",
            "service_jids = [\"focus@auth.meet.example.org\", \"jigasi@auth.meet.example.org\", \"recorder.meet.example.org\", \"jicofo@auth.meet.example.org\"]",
        ],
        "{plan}"
    );
    assert_eq!(text.lines().count(), example.lines().count());
}

#[test]
fn raumwart_s_blocks_hold_only_what_is_missing_and_a_jitsi_without_lobby_drops_lobby_muc() {
    let d = Dirs::new("nolobby");
    setup(&d.options()).unwrap();
    let jitsi = d.root.join("prosody/conf.avail/meet.example.org.cfg.lua");
    let edited = fs::read_to_string(&jitsi).unwrap();
    assert_eq!(edited.matches(BEGIN).count(), 3, "{edited}");
    // The admin puts raumwart's module into Jitsi's list by hand and drops the lobby.
    let by_hand = edited
        .replace("\"muc_meeting_id\";", "\"muc_meeting_id\"; \"raumwart\";")
        .replace("    lobby_muc = \"lobby.meet.example.org\"\n", "")
        .replace(
            "Component \"lobby.meet.example.org\" \"muc\"\n    storage = \"memory\"\n",
            "",
        );
    fs::write(&jitsi, by_hand).unwrap();
    let plan = setup(&d.options()).unwrap();
    assert_eq!(plan.jitsi.lobby, None);
    let after = fs::read_to_string(&jitsi).unwrap();
    assert_eq!(after.matches(BEGIN).count(), 2, "{after}");
    assert_eq!(after.matches("\"raumwart\"").count(), 1, "{after}");
    let config = fs::read_to_string(d.config()).unwrap();
    assert!(!config.contains("lobby_muc"), "{config}");
    let own = fs::read_to_string(d.root.join("prosody/conf.d/raumwart.cfg.lua")).unwrap();
    assert!(!own.contains("lobby.meet"), "{own}");
}

/// Changes the folders for one case.
type Prepare<'a> = Box<dyn Fn() + 'a>;

#[test]
fn what_setup_cannot_do_right_is_refused_with_the_place_and_nothing_is_written() {
    let d = Dirs::new("refused");
    let o = d.options();
    let jitsi_file = d.root.join("prosody/conf.d/meet.example.org.cfg.lua");
    // (case, what makes it, the options, what setup says)
    let cases: Vec<(&str, Prepare, Options, String)> = vec![
        (
            "no Prosody",
            Box::new(|| {}),
            Options { prosody_config: d.root.join("nothing"), ..o.clone() },
            "no Prosody configuration at".into(),
        ),
        (
            "no raumwart folder",
            Box::new(|| {}),
            Options { config: d.root.join("nothing/config.toml"), ..o.clone() },
            "install the raumwart package first".into(),
        ),
        (
            "another domain",
            Box::new(|| {}),
            Options { domain: Some("meet.other.org".into()), ..o.clone() },
            "no Jitsi for meet.other.org".into(),
        ),
        (
            "conf.d not included",
            Box::new(|| fs::write(d.root.join("prosody/prosody.cfg.lua"), "admins = { }\n").unwrap()),
            o.clone(),
            "does not include conf.d/*.cfg.lua".into(),
        ),
        (
            "no MUC",
            Box::new(|| d.jitsi(&JITSI.replace("\"conference.meet.example.org\" \"muc\"", "\"conference.meet.example.org\" \"client_proxy\""))),
            o.clone(),
            "no Jitsi found in".into(),
        ),
        (
            "two Jitsis",
            Box::new(|| fs::write(d.root.join("prosody/conf.d/other.cfg.lua"), JITSI.replace("meet.example.org", "meet.other.org")).unwrap()),
            o.clone(),
            "several Jitsi domains in".into(),
        ),
        (
            "the component by hand",
            Box::new(|| d.jitsi(&format!("{JITSI}\nComponent \"raumwart.meet.example.org\"\n    component_secret = \"x\"\n"))),
            o.clone(),
            format!("{}:19: Component \"raumwart.meet.example.org\" is declared here already", jitsi_file.display()),
        ),
        (
            "room owners switched off",
            Box::new(|| d.jitsi(&JITSI.replace("    admins = {", "    component_admins_as_room_owners = false\n    admins = {"))),
            o.clone(),
            format!("{}:11: component_admins_as_room_owners = false on conference.meet.example.org, where raumwart needs true", jitsi_file.display()),
        ),
        (
            "a broken block",
            Box::new(|| d.jitsi(&format!("{JITSI}-- BEGIN raumwart (raumwart setup)\n"))),
            o.clone(),
            format!("{}:18: a raumwart block without its END line", jitsi_file.display()),
        ),
        (
            "a secret that is a link",
            Box::new(|| std::os::unix::fs::symlink("/etc/hostname", d.root.join("raumwart/component.secret")).unwrap()),
            o.clone(),
            "is not a plain file (a link?)".into(),
        ),
        (
            "a secret elsewhere",
            Box::new(|| fs::write(d.config(), "[xmpp]\nsecret_file = \"../prosody/x\"\n").unwrap()),
            o.clone(),
            "is not in the configuration's own folder".into(),
        ),
    ];
    for (case, prepare, options, expected) in cases {
        prepare();
        let said = d.refused(&options);
        assert!(said.contains(&expected), "{case}: {said}");
        // Back to the folder that works.
        fs::write(d.root.join("prosody/prosody.cfg.lua"), MAIN).unwrap();
        d.jitsi(JITSI);
        let _ = fs::remove_file(d.root.join("prosody/conf.d/other.cfg.lua"));
        let _ = fs::remove_file(d.root.join("raumwart/component.secret"));
        let _ = fs::remove_file(d.config());
    }
    setup(&o).unwrap();
}
