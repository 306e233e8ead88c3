-- Benchmark only (`--soak`): what mod_raumwart keeps per room, asked for with an IQ to
-- the MUC host, so that the soak can check that nothing is left of a lesson once its room
-- was reset. Read through mod_raumwart's module.save() (what a reload carries over):
-- keyed and promoted by room JID, the store's class passwords by node. Also the rooms
-- Prosody holds on every MUC host, with their occupants, and the size of its Lua heap.
-- Never loaded outside the bench.
local st = require "util.stanza";
local modulemanager = require "core.modulemanager";

local NS = "urn:raumwart:bench:tables";

local function count(t)
	local n = 0;
	for _ in pairs(t) do n = n + 1; end
	return n;
end

module:hook("iq-get/host/" .. NS .. ":tables", function(event)
	local stanza = event.stanza;
	local raumwart = modulemanager.get_module(module.host, "raumwart");
	if not (raumwart and raumwart.module.save) then
		event.origin.send(st.error_reply(stanza, "cancel", "item-not-found", "mod_raumwart is not loaded here"));
		return true;
	end
	local saved = raumwart.module.save();
	-- The Lua heap in use, in KB, as it is (no collection forced: Prosody is measured as it runs).
	local reply = st.reply(stanza):tag("tables", { xmlns = NS, lua_kb = ("%.0f"):format(collectgarbage("count")) });
	-- n: the entries under a room (occupants flagged, owners granted).
	for _, name in ipairs({ "keyed", "promoted" }) do
		for room_jid, entries in pairs(saved[name] or {}) do
			reply:tag(name, { r = room_jid, n = tostring(count(entries)) }):up();
		end
	end
	for node in pairs(saved.classes or {}) do reply:tag("class", { r = node }):up(); end
	for host in pairs(prosody.hosts) do
		local muc = modulemanager.get_module(host, "muc");
		if muc then
			for room in muc.live_rooms() do
				local n = 0;
				for _ in room:each_occupant() do n = n + 1; end
				reply:tag("room", { r = room.jid, n = tostring(n) }):up();
			end
		end
	end
	event.origin.send(reply);
	return true;
end);
