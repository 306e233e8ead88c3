-- Test stand-in for the join check of Jitsi's mod_muc_lobby_rooms, as FACTS.md describes
-- it, at the same pre-join priority (-4: after raumwart's organizer key at 3, just before
-- Prosody's members-only check at -5). In a members-only room (lobby on), focus passes; a
-- join carrying the room's password makes the joiner a member (unless they hold more) and
-- enters; a member without a password gets the room's password added; anyone else with
-- no affiliation is sent to the lobby (registration-required, as Jitsi does).
-- Not imitated: the lobby rooms on the lobby MUC and knocking, the display-name check,
-- whitelisted domains, notifications, and its own handling of muc#admin IQs (same effect
-- as Prosody's for one item).
local jid = require "util.jid";
local st = require "util.stanza";
local MUC_NS = "http://jabber.org/protocol/muc";

module:hook("muc-occupant-pre-join", function(event)
	local room, stanza, occupant = event.room, event.stanza, event.occupant;
	local x = stanza:get_child("x", MUC_NS);
	if not (x and room:get_members_only()) or jid.resource(occupant.nick) == "focus" then return; end
	local given, current = x:get_child_text("password", MUC_NS), room:get_password();
	local affiliation = room:get_affiliation(stanza.attr.from) or "none";
	if current and given == current then
		if affiliation == "none" or affiliation == "member" then
			-- Its role was decided before (none, in a members-only room): now a participant.
			room:set_affiliation(true, jid.bare(stanza.attr.from), "member");
			occupant.role = "participant";
		end
		return;
	end
	if current and affiliation == "member" and not given then
		x:tag("password", { xmlns = MUC_NS }):text(current):up();
	end
	if affiliation == "none" then
		local reply = st.error_reply(stanza, "auth", "registration-required");
		reply:tag("lobbyroom", { xmlns = "http://jitsi.org/jitmeet" }):text(jid.node(room.jid) .. "@lobby"):up();
		event.origin.send(reply);
		return true;
	end
end, -4);
