#!/usr/bin/env bash
# Runs raumwart against a throwaway local Prosody with the module and the example config.
# Everything lives in a temporary folder that is removed on exit; nothing system-wide is
# configured. Ports: c2s 127.0.0.1:15222, component 127.0.0.1:15347.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
c2s=15222
component=15347

if ! command -v prosody >/dev/null; then
    echo "installing Debian's prosody package" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prosody >/dev/null
fi
(cd "$repo" && cargo build --locked --quiet)

dir=$(mktemp -d /tmp/raumwart-local.XXXXXX)
prosody_pid=
cleanup() {
    [ -n "$prosody_pid" ] && kill "$prosody_pid" 2>/dev/null && wait "$prosody_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/data" "$dir/certs" "$dir/schools"

secret=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
echo "$secret" >"$dir/component.secret"
# Strong passwords: raumwart refuses easy ones.
school_password=$("$repo/target/debug/raumwart" password)
echo "$school_password" >"$dir/schools/gs-musterstadt.pw"
"$repo/target/debug/raumwart" password >"$dir/schools/rs-beispielheim.pw"
"$repo/target/debug/raumwart" password >"$dir/schools/rs-beispielheim-konferenz.pw"
sed "s/127.0.0.1:5347/127.0.0.1:$component/" "$repo/config.example.toml" >"$dir/raumwart.toml"

cat >"$dir/prosody.cfg.lua" <<LUA
run_as_root = true
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
certificates = "$dir/certs"
plugin_paths = { "$repo/prosody" }
log = { info = "$dir/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { $c2s }
component_ports = { $component }
component_interface = "127.0.0.1"
modules_enabled = { "saslauth", "disco", "ping" }
modules_disabled = { "s2s", "tls", "offline" }
c2s_require_encryption = false
http_ports = {}
https_ports = {}

VirtualHost "meet.jitsi"
    authentication = "anonymous"

Component "conference.meet.jitsi" "muc"
    modules_enabled = { "raumwart" }
    raumwart_component = "raumwart.meet.jitsi"
    admins = { "focus@auth.meet.jitsi", "raumwart.meet.jitsi" }
    component_admins_as_room_owners = true
    muc_room_locking = false
    storage = "memory"

Component "lobby.meet.jitsi" "muc"
    admins = { "focus@auth.meet.jitsi", "raumwart.meet.jitsi" }
    component_admins_as_room_owners = true
    storage = "memory"

Component "raumwart.meet.jitsi"
    component_secret = "$secret"
LUA

prosody --config "$dir/prosody.cfg.lua" -F >"$dir/prosody.stdout" 2>&1 &
prosody_pid=$!
for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$component) 2>/dev/null && break
    sleep 0.1
done

cat >&2 <<MSG
Throwaway Prosody is up: c2s 127.0.0.1:$c2s (anonymous logins on meet.jitsi),
MUC conference.meet.jitsi. Try it with any XMPP client: join
gs-musterstadt-1@conference.meet.jitsi with the school password $school_password.
In another shell: $repo/target/debug/raumwart status --socket $dir/control
(end-session ROOM and reload the same way); metrics on http://127.0.0.1:9469/metrics.
Files: $dir (removed on exit). Stop with Ctrl-C.
MSG
"$repo/target/debug/raumwart" run --config "$dir/raumwart.toml" --socket "$dir/control"
