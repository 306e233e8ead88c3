//! A Prosody configuration folder as Jitsi's Debian packages leave it, for `raumwart
//! setup` to work on: Debian's `prosody.cfg.lua` (global settings, `VirtualHost
//! "localhost"`, `Include "conf.d/*.cfg.lua"` at its end) and Jitsi's host file in
//! `conf.avail/<domain>.cfg.lua`, linked from `conf.d`, in the shape jitsi-meet-prosody's
//! postinst renders its template: the template's placeholders for the domain, jicofo's
//! account and the TURN secret replaced, the TLS block of the auth domain added.
//!
//! What differs, so that it runs here: the test's loopback ports, data and certificate
//! folders; Jitsi's own plugins (not installed here) are empty stand-ins in a folder of
//! the test's, named on Jitsi's `plugin_paths` in place of Jitsi's folder; guests log in
//! with Prosody's own `anonymous`, which Jitsi's `jitsi-anonymous` wraps (the template's
//! value before it).

use std::fs;
use std::path::PathBuf;

use crate::{Env, AUTH, DOMAIN};

/// jitsi-meet-prosody's template in the shape it has, with its placeholders: the domain
/// `jitmeet.example.com`, jicofo's user `focusUser`, the TURN secret `__turnSecret__`.
/// Written for these tests, not copied.
const TEMPLATE: &str = r#"plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }

-- the domain mapper needs at least the base domain
muc_mapper_domain_base = "jitmeet.example.com";

external_service_secret = "__turnSecret__";
external_services = {
     { type = "stun", host = "jitmeet.example.com", port = 3478 },
     { type = "turn", host = "jitmeet.example.com", port = 3478, transport = "udp", secret = true, ttl = 86400, algorithm = "turn" },
     { type = "turns", host = "jitmeet.example.com", port = 5349, transport = "tcp", secret = true, ttl = 86400, algorithm = "turn" }
};

cross_domain_bosh = false;
consider_bosh_secure = true;

ssl = {
    protocol = "tlsv1_2+";
    ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
}

unlimited_jids = {
    "focusUser@auth.jitmeet.example.com",
    "jvb@auth.jitmeet.example.com"
}

VirtualHost "jitmeet.example.com"
    authentication = "jitsi-anonymous" -- the package's tokens switch this
    ssl = {
        key = "/etc/prosody/certs/jitmeet.example.com.key";
        certificate = "/etc/prosody/certs/jitmeet.example.com.crt";
    }
    av_moderation_component = "avmoderation.jitmeet.example.com"
    speakerstats_component = "speakerstats.jitmeet.example.com"
    conference_duration_component = "conferenceduration.jitmeet.example.com"
    end_conference_component = "endconference.jitmeet.example.com"
    modules_enabled = {
        "bosh";
        "pubsub";
        "ping"; -- keepalives
        "speakerstats";
        "external_services";
        "conference_duration";
        "end_conference";
        "muc_lobby_rooms";
        "muc_breakout_rooms";
        "av_moderation";
    }
    c2s_require_encryption = false
    lobby_muc = "lobby.jitmeet.example.com"
    breakout_rooms_muc = "breakout.jitmeet.example.com"
    main_muc = "conference.jitmeet.example.com"

Component "conference.jitmeet.example.com" "muc"
    restrict_room_creation = true
    storage = "memory"
    modules_enabled = {
        "muc_meeting_id";
        "muc_domain_mapper";
        "polls";
        --"token_verification";
        "muc_rate_limit";
    }
    admins = { "focusUser@auth.jitmeet.example.com" }
    muc_room_locking = false
    muc_room_default_public_jids = true

Component "breakout.jitmeet.example.com" "muc"
    restrict_room_creation = true
    storage = "memory"
    modules_enabled = {
        "muc_meeting_id";
        "muc_domain_mapper";
        "muc_rate_limit";
        "polls";
    }
    admins = { "focusUser@auth.jitmeet.example.com" }
    muc_room_locking = false
    muc_room_default_public_jids = true

-- jicofo's and the bridges' own MUC
Component "internal.auth.jitmeet.example.com" "muc"
    storage = "memory"
    modules_enabled = {
        "ping";
    }
    admins = { "focusUser@auth.jitmeet.example.com", "jvb@auth.jitmeet.example.com" }
    muc_room_locking = false
    muc_room_default_public_jids = true

VirtualHost "auth.jitmeet.example.com"
    modules_enabled = {
        "limits_exception";
    }
    authentication = "internal_hashed"

Component "focus.jitmeet.example.com" "client_proxy"
    target_address = "focusUser@auth.jitmeet.example.com"

Component "speakerstats.jitmeet.example.com" "speakerstats_component"
    muc_component = "conference.jitmeet.example.com"

Component "conferenceduration.jitmeet.example.com" "conference_duration_component"
    muc_component = "conference.jitmeet.example.com"

Component "endconference.jitmeet.example.com" "end_conference"
    muc_component = "conference.jitmeet.example.com"

Component "avmoderation.jitmeet.example.com" "av_moderation_component"
    muc_component = "conference.jitmeet.example.com"

Component "lobby.jitmeet.example.com" "muc"
    storage = "memory"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
    modules_enabled = {
        "muc_rate_limit";
        "polls";
    }

-- dial-in for Jitsi's hosted components: off unless a customer switches it on
VirtualHost "jigasi.meet.jitsi"
    enabled = false
    modules_enabled = {
      "ping";
      "bosh";
      "muc_password_check";
    }
    authentication = "token"
"#;

/// Jitsi's plugins the template names that Prosody does not ship.
const JITSI_PLUGINS: [&str; 15] = [
    "speakerstats",
    "conference_duration",
    "end_conference",
    "muc_lobby_rooms",
    "muc_breakout_rooms",
    "av_moderation",
    "muc_meeting_id",
    "muc_domain_mapper",
    "polls",
    "muc_rate_limit",
    "limits_exception",
    "client_proxy",
    "speakerstats_component",
    "conference_duration_component",
    "av_moderation_component",
];

/// The rendered folder.
pub struct JitsiDebian {
    /// Prosody's configuration folder (`/etc/prosody` on a server): the test's folder.
    pub prosody_config: PathBuf,
    /// Jitsi's host file, `conf.avail/<domain>.cfg.lua`.
    pub jitsi_file: PathBuf,
    /// Its link in `conf.d`.
    pub link: PathBuf,
}

/// The TURN secret the package generated.
pub const TURN_SECRET: &str = "turn-secret-for-tests";

/// Renders Jitsi's Debian configuration for DOMAIN over `env`'s Prosody configuration
/// (Prosody stopped): `env.dir` becomes the configuration folder, with Debian's main
/// file as `prosody.cfg.lua`, which the kit starts Prosody with.
pub fn render(env: &Env) -> JitsiDebian {
    let dir = env.dir.clone();
    let d = dir.display();
    let plugins = dir.join("jitsi-prosody-plugins");
    fs::create_dir_all(&plugins).unwrap();
    for name in JITSI_PLUGINS {
        fs::write(
            plugins.join(format!("mod_{name}.lua")),
            format!("-- A stand-in for Jitsi's mod_{name}, not installed here: it does nothing.\n"),
        )
        .unwrap();
    }
    let main = format!(
        r#"-- Prosody's main configuration in the shape of Debian's (global settings, the
-- localhost host, conf.d included at the end), on the test's ports and folders.
admins = {{ }}
plugin_paths = {{ "/usr/local/lib/prosody/modules" }}
modules_enabled = {{
    "disco";
    "roster";
    "saslauth";
    "ping";
}}
modules_disabled = {{ "s2s", "tls", "offline", "c2s_bidi" }}
run_as_root = true
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
certificates = "{d}/certs"
log = {{ debug = "{d}/prosody.log" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_interfaces = {{ "127.0.0.1" }}
component_ports = {{ {component} }}
component_interfaces = {{ "127.0.0.1" }}
http_ports = {{ }}
https_ports = {{ }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"

VirtualHost "localhost"

Include "conf.d/*.cfg.lua"
"#,
        c2s = env.c2s,
        component = env.component,
    );
    fs::write(dir.join("prosody.cfg.lua"), main).unwrap();

    // The postinst: copy the template, replace its placeholders (sed), then, with the
    // certificate it made for the auth domain, add that domain's TLS block.
    // jicofo's account, as the kit's focus logs in.
    let focus_user = "focus";
    let certs = dir.join("certs");
    let rendered = TEMPLATE
        .replace("jitmeet.example.com", DOMAIN)
        .replace("focusUser", focus_user)
        .replace("__turnSecret__", TURN_SECRET)
        .replace(
            &format!("VirtualHost \"{AUTH}\""),
            &format!(
                "VirtualHost \"{AUTH}\"\n    ssl = {{\n        key = \"{c}/{AUTH}.key\";\n        certificate = \"{c}/{AUTH}.crt\";\n    }}",
                c = certs.display()
            ),
        )
        // Only here: the test's folders, Prosody's own anonymous login.
        .replace("/etc/prosody/certs", &certs.display().to_string())
        .replace(
            "/usr/share/jitsi-meet/prosody-plugins/",
            &format!("{}/", plugins.display()),
        )
        .replace("\"jitsi-anonymous\"", "\"anonymous\"");
    let avail = dir.join("conf.avail");
    let conf_d = dir.join("conf.d");
    let _ = fs::remove_dir_all(&conf_d);
    fs::create_dir_all(&avail).unwrap();
    fs::create_dir_all(&conf_d).unwrap();
    let jitsi_file = avail.join(format!("{DOMAIN}.cfg.lua"));
    fs::write(&jitsi_file, rendered).unwrap();
    let link = conf_d.join(format!("{DOMAIN}.cfg.lua"));
    std::os::unix::fs::symlink(format!("../conf.avail/{DOMAIN}.cfg.lua"), &link).unwrap();
    JitsiDebian {
        prosody_config: dir,
        jitsi_file,
        link,
    }
}
