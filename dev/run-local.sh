#!/usr/bin/env bash
# The README's first command: raumwart against a throwaway local Prosody with the module
# and the example config (grace period 10 s here), then one short lesson played with
# built-in clients (examples/lesson), each step printed as it happens with `raumwart
# status`; then both keep running for you to try with your own XMPP client (Ctrl-C ends).
# Everything lives in a temporary folder that is removed on exit (kept when something
# failed, for a look at the logs); nothing system-wide is configured. The loopback ports
# (c2s, component, metrics) are picked free at start and printed.
# RAUMWART_LOCAL_ONCE=1 stops after the lesson (CI plays it that way).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# Whatever fails unforeseen still says where, in one line.
trap 'echo "run-local: stopped at line $LINENO of $0" >&2' ERR

# Debian's prosody, and SQLite's headers (raumwart links the system's SQLite for its
# console's accounts).
need=()
command -v prosody >/dev/null || need+=(prosody)
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need+=(libsqlite3-dev)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian's ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "building raumwart and the lesson's clients" >&2
(cd "$repo" && cargo build --locked --quiet --bin raumwart --example lesson)
target=$(cd "$repo" && cargo metadata --format-version 1 --no-deps | sed 's/.*"target_directory":"\([^"]*\)".*/\1/')
raumwart="$target/debug/raumwart"

lesson="$target/debug/examples/lesson"
read -r c2s component metrics <<<"$("$lesson" --free-ports 3 | tr '\n' ' ')"

dir=$(mktemp -d /tmp/raumwart-local.XXXXXX)
prosody_pid=
raumwart_pid=
keep=
cleanup() {
    for pid in $raumwart_pid $prosody_pid; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    [ -n "$keep" ] || rm -rf "$dir"
}
trap cleanup EXIT
# One line for whatever went wrong: what, and where to look; the folder stays.
fail() {
    keep=1
    echo "run-local: $1 (raumwart's log: $dir/raumwart.log, Prosody's log: $dir/prosody.log; folder kept: $dir)" >&2
    exit 1
}
mkdir -p "$dir/data" "$dir/certs" "$dir/schools"

secret=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
echo "$secret" >"$dir/component.secret"
# Strong passwords: raumwart refuses easy ones.
school_password=$("$raumwart" password)
echo "$school_password" >"$dir/schools/gs-musterstadt.pw"
"$raumwart" password >"$dir/schools/rs-beispielheim.pw"
"$raumwart" password >"$dir/schools/rs-beispielheim-konferenz.pw"
grace=10s
sed -e "s/127.0.0.1:5347/127.0.0.1:$component/" -e "s/127.0.0.1:9469/127.0.0.1:$metrics/" \
    -e "s/^grace_period = .*/grace_period = \"$grace\"/" \
    "$repo/config.example.toml" >"$dir/raumwart.toml"

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
# Up in well under a second here; 20 s leaves room for a busy machine.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 200); do
    listening "$c2s" && listening "$component" && break
    kill -0 "$prosody_pid" 2>/dev/null || fail "Prosody exited at start (its output: $dir/prosody.stdout)"
    sleep 0.1
done
listening "$component" || fail "Prosody did not open its component port $component within 20 s"

"$raumwart" run --config "$dir/raumwart.toml" --socket "$dir/control" 2>"$dir/raumwart.log" &
raumwart_pid=$!
for _ in $(seq 200); do
    "$raumwart" status --socket "$dir/control" 2>/dev/null | grep -q "in sync: true" && break
    kill -0 "$raumwart_pid" 2>/dev/null || fail "raumwart exited at start: $(tail -n 1 "$dir/raumwart.log")"
    sleep 0.1
done
"$raumwart" status --socket "$dir/control" 2>/dev/null | grep -q "in sync: true" ||
    fail "raumwart was not in sync with Prosody within 20 s"
echo "Prosody (c2s 127.0.0.1:$c2s, component 127.0.0.1:$component) and raumwart (metrics" \
    "127.0.0.1:$metrics) are up. One short lesson:"
"$lesson" --c2s "$c2s" --room gs-musterstadt-1@conference.meet.jitsi \
    --school-password-file "$dir/schools/gs-musterstadt.pw" --socket "$dir/control" \
    --grace "$grace" --raumwart "$raumwart" 2>"$dir/lesson.err" ||
    fail "$(tail -n 1 "$dir/lesson.err")"
[ "${RAUMWART_LOCAL_ONCE:-}" = 1 ] && exit 0

cat <<MSG

Your turn. Throwaway Prosody: c2s 127.0.0.1:$c2s (anonymous logins on meet.jitsi, no TLS),
MUC conference.meet.jitsi. With any XMPP client, join
gs-musterstadt-1@conference.meet.jitsi with the school password $school_password
and you are organizer; set a class password, join with it from a second client, leave.
In another shell: $raumwart status --socket $dir/control
(end-session ROOM and reload the same way); metrics on http://127.0.0.1:$metrics/metrics.
Files: $dir (removed on exit). Stop with Ctrl-C.
MSG
wait "$raumwart_pid"
