'use strict';

// One participant of raumwart's lib-jitsi-meet tests: the calls jitsi-meet's app makes
// on lib-jitsi-meet's public API (connect, join with or without a password and again
// after the password prompt, lock, leave), and a record of every connection and
// conference event lib-jitsi-meet reports, for the test to read.
window.rw = (() => {
    const JitsiMeetJS = window.JitsiMeetJS;
    const seen = [];
    const logs = [];
    let connection = null;
    let conference = null;

    // Event arguments as JSON: participants by id, errors by message.
    const plain = value => {
        if (value === null || value === undefined) {
            return null;
        }
        if (typeof value === 'object' && typeof value.getId === 'function') {
            return { participant: value.getId() };
        }
        if (value instanceof Error) {
            return { error: value.message };
        }
        if (typeof value !== 'object') {
            return value;
        }
        try {
            return JSON.parse(JSON.stringify(value));
        } catch (e) {
            return String(value);
        }
    };
    const note = (what, args) => seen.push({ what, args: Array.from(args, plain) });
    const text = error => String((error && error.message) || error);

    // lib-jitsi-meet logs through the console: its warnings and errors go into failure
    // messages.
    for (const level of [ 'warn', 'error' ]) {
        const original = console[level].bind(console);

        console[level] = (...args) => {
            logs.push(`${level}: ${args.map(String).join(' ')}`.slice(0, 400));
            if (logs.length > 100) {
                logs.shift();
            }
            original(...args);
        };
    }

    if (!JitsiMeetJS) {
        console.error('lib-jitsi-meet did not load');
    }

    return {
        /**
         * Connects anonymously to `serviceUrl` (ws:// for websocket, http:// for BOSH);
         * `focus` is where the conference request goes (jitsi-meet's `hosts.focus`).
         * Resolves with { jid } or { error }.
         */
        connect({ serviceUrl, domain, muc, focus, focusUserJid }) {
            JitsiMeetJS.init({});
            JitsiMeetJS.setLogLevel(JitsiMeetJS.logLevels.WARN);
            connection = new JitsiMeetJS.JitsiConnection(null, null, {
                serviceUrl,
                hosts: { domain, muc, focus },
                focusUserJid
            });
            const events = JitsiMeetJS.events.connection;

            for (const name of Object.values(events)) {
                connection.addEventListener(name, (...args) => note(name, args));
            }

            return new Promise(resolve => {
                connection.addEventListener(events.CONNECTION_ESTABLISHED,
                    () => resolve({ jid: connection.getJid() }));
                connection.addEventListener(events.CONNECTION_FAILED,
                    (...args) => resolve({ error: args.map(text).join(', ') }));
                connection.connect();
            });
        },

        /**
         * Joins `room` (on the first call the conference is made, without peer-to-peer:
         * no media), with `password` or none. Resolves with { joined: true } or
         * { error } (lib-jitsi-meet's CONFERENCE_FAILED error, e.g.
         * 'conference.passwordRequired'). Called again after that error with a password,
         * it does what jitsi-meet's password prompt does: join the same conference again.
         */
        join(room, password) {
            const events = JitsiMeetJS.events.conference;

            if (!conference) {
                conference = connection.initJitsiConference(room, {
                    p2p: { enabled: false },
                    openBridgeChannel: false
                });
                for (const name of Object.values(events)) {
                    conference.addEventListener(name, (...args) => note(name, args));
                }
            }

            return new Promise(resolve => {
                const stop = () => {
                    conference.removeEventListener(events.CONFERENCE_JOINED, joined);
                    conference.removeEventListener(events.CONFERENCE_FAILED, failed);
                };
                const joined = () => {
                    stop();
                    resolve({ joined: true });
                };
                const failed = error => {
                    stop();
                    resolve({ error: text(error) });
                };

                conference.addEventListener(events.CONFERENCE_JOINED, joined);
                conference.addEventListener(events.CONFERENCE_FAILED, failed);
                conference.join(password || undefined);
            });
        },

        /** The class password, as the Jitsi UI's lock: resolves with {} or { error }. */
        lock(password) {
            return conference.lock(password).then(() => ({}), error => ({ error: text(error) }));
        },

        /** Leaves the conference and disconnects, as the hang-up button does. */
        leave() {
            return conference.leave()
                .then(() => connection.disconnect())
                .then(() => ({}), error => ({ error: text(error) }));
        },

        /** The role, moderator flag and every event seen so far. */
        state() {
            return {
                role: conference ? conference.getRole() : null,
                moderator: conference ? Boolean(conference.isModerator()) : false,
                events: seen
            };
        },

        logs() {
            return logs.slice();
        }
    };
})();
