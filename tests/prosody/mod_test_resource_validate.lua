-- Test stand-in for docker-jitsi-meet's mod_muc_resource_validate (Jitsi's Prosody
-- plugins), with what lib-jitsi-meet sends, so that every test's presences are Jitsi's.
-- At the real module's priority (11: above mod_muc_meeting_id's hold at 8, before
-- raumwart's organizer key at 3 and the password checks), a join is refused with
-- not-allowed when its MUC nick (the resource of the occupant JID)
--   * does not match ^[a-zA-Z0-9][a-zA-Z0-9_]*$ ("Invalid resource", as the real one), or
--   * is not 8 lower-case hex characters, as lib-jitsi-meet makes it (the display name
--     travels in XEP-0172 <nick/>). The real module allows any nick of the pattern;
--     jicofo's "focus" passes it. Here only the accounts in
--     test_resource_validate_services (focus) keep a nick of their own, so a test that
--     still sends a plain nick, or a guest posing as "focus", fails loudly.
-- With test_resource_validate_nick_changes = false (docker-jitsi-meet's shape) a change
-- of MUC nick is refused, as the real module does.
-- Joins from components (no node: raumwart's own) pass, as in the real module.
-- Not imitated: anonymous_strict (the nick must be the start of the anonymous JID's
-- node; off by default) and the health-check room.
-- The refusals' texts are the kit's NICK_REFUSALS (testkit/src/client.rs).
local jid = require "util.jid";
local st = require "util.stanza";

local PATTERN = "^[a-zA-Z0-9][a-zA-Z0-9_]*$";
local services = module:get_option_set("test_resource_validate_services", {});
local nick_changes = module:get_option_boolean("test_resource_validate_nick_changes", true);

local function is_lib_jitsi_meet_nick(nick)
	return #nick == 8 and nick:match("^[0-9a-f]+$") ~= nil;
end

local function refuse(event, text)
	module:log("error", "Refusing %s as %s: %s", tostring(event.stanza.attr.from), tostring(event.stanza.attr.to), text);
	event.origin.send(st.error_reply(event.stanza, "cancel", "not-allowed", text));
	return true;
end

module:hook("muc-occupant-pre-join", function(event)
	local stanza = event.stanza;
	local node, host = jid.split(stanza.attr.from);
	if node == nil then return; end
	local nick = jid.resource(stanza.attr.to) or "";
	if not nick:match(PATTERN) then
		return refuse(event, "Invalid resource");
	end
	if not services:contains(node .. "@" .. host) and not is_lib_jitsi_meet_nick(nick) then
		return refuse(event, "Not a MUC nick as lib-jitsi-meet makes it (8 hex characters)");
	end
end, 11);

module:hook("muc-occupant-pre-change", function(event)
	local orig = event.orig_occupant;
	if nick_changes or not orig then return; end
	if jid.resource(orig.nick) ~= jid.resource(event.stanza.attr.to) then
		return refuse(event, "Nick changes are not allowed");
	end
end, 11);
