-- Test stand-in for Jitsi's mod_end_conference ("end meeting for all", loaded by default in
-- docker-jitsi-meet), written from its described behaviour: a component that takes a message
-- carrying <end_conference/> from an occupant whose role in the room is moderator, and
-- destroys that room with Jitsi's reason text. Jitsi finds the room from the sender's
-- session (jitsi_session: the room named in the web client's address); the tests' clients
-- have no such session, so here the child's `room` attribute names the room's node on
-- `muc_component`. Not imitated: tenants, the identity it advertises on the VirtualHost.
local jid = require "util.jid";
local modulemanager = require "core.modulemanager";

local muc_host = module:get_option_string("muc_component");
local REASON = "The meeting has been terminated";

module:hook("message/host", function(event)
	local stanza = event.stanza;
	local command = stanza.attr.type ~= "error" and stanza:get_child("end_conference");
	if not command then return; end
	local muc = modulemanager.get_module(muc_host, "muc");
	local node = command.attr.room;
	local room = muc and node and muc.get_room_from_jid(jid.join(node, muc_host));
	local occupant = room and room:get_occupant_by_real_jid(stanza.attr.from);
	if occupant and occupant.role == "moderator" then
		room:destroy(nil, REASON);
		module:log("info", "%s ended by a moderator", room.jid);
	end
	return true; -- handled either way: Jitsi answers neither
end);
