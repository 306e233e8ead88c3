'use strict';

// The top page of raumwart's lib-jitsi-meet tests. WebDriver runs the test's scripts in
// the top page; each participant lives in an iframe of its own (participant.html, its own
// lib-jitsi-meet and connection, like a browser tab), and this forwards the calls.
window.participants = {
    /** Opens participant.html in a new iframe named `name`; resolves once it has loaded. */
    open(name) {
        return new Promise((resolve, reject) => {
            if (document.getElementById(name)) {
                reject(new Error(`a participant ${name} is open already`));

                return;
            }
            const frame = document.createElement('iframe');

            frame.id = name;
            frame.title = name;
            frame.src = 'participant.html';
            frame.addEventListener('load', () => {
                if (frame.contentWindow.rw) {
                    resolve(name);
                } else {
                    reject(new Error('participant.html loaded without its scripts'));
                }
            }, { once: true });
            document.body.append(frame);
        });
    },

    /**
     * Calls `method` of participant `name` with `args`; resolves with its answer, or
     * rejects when it has none within `limitMs`.
     */
    call(name, method, args, limitMs) {
        const frame = document.getElementById(name);

        if (!frame) {
            return Promise.reject(new Error(`no participant ${name}`));
        }
        const rw = frame.contentWindow.rw;
        const timeout = new Promise((_, reject) => setTimeout(
            () => reject(new Error(`no answer within ${limitMs} ms; `
                + `its last warnings: ${rw.logs().slice(-10).join(' | ')}`)),
            limitMs));

        return Promise.race([ Promise.resolve().then(() => rw[method](...args)), timeout ]);
    },

    /** What participant `name` has recorded so far (see participant.js). */
    state(name) {
        const frame = document.getElementById(name);

        return frame ? frame.contentWindow.rw.state() : null;
    },

    /** Closes participant `name`'s iframe, as closing its tab would: no goodbye is sent. */
    close(name) {
        const frame = document.getElementById(name);

        if (frame) {
            frame.remove();
        }

        return Boolean(frame);
    }
};
