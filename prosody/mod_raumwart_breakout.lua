-- mod_raumwart_breakout: raumwart's module on Jitsi's breakout MUC. People in a breakout
-- room count for the session of its main room: this module reports them, as occupants of
-- the main room, through mod_raumwart on the MUC named by raumwart_main_muc. Jitsi links
-- the rooms in the main room's _data.breakout_rooms.

local jid = require "util.jid";
local modulemanager = require "core.modulemanager";

local muc = module:depends("muc");

-- For mod_raumwart's snapshot of the main room: who is in one of its breakout rooms,
-- and which of them entered the main room with the school password (`keyed`).
function raumwart_snapshot(reply, breakout_jid, keyed)
	local breakout = muc.get_room_from_jid(breakout_jid);
	if not breakout then return; end
	for _, occupant in breakout:each_occupant() do
		reply:tag("o", { o = occupant.jid, b = breakout_jid, k = keyed[occupant.jid] and "1" or nil }):up();
	end
end

local main_muc = module:get_option_string("raumwart_main_muc");
if not main_muc then
	module:log("error", "raumwart_main_muc is not set; mod_raumwart_breakout reports no breakout room");
	return;
end

-- By JID: room objects are replaced when Prosody swaps a room out of its cache.
local mains = {};
local function main_jid_of(room)
	local main_env = modulemanager.get_module(main_muc, "muc");
	if mains[room.jid] or not main_env then return mains[room.jid]; end
	for r in main_env.live_rooms() do
		if r._data.breakout_rooms and r._data.breakout_rooms[room.jid] then
			mains[room.jid] = r.jid;
			return r.jid;
		end
	end
end

local function forward(name, event)
	local main, feed = main_jid_of(event.room), modulemanager.get_module(main_muc, "raumwart");
	if not (main and feed and feed.raumwart_managed and feed.raumwart_managed(main)) then return; end
	local stanza = event.stanza;
	-- A destroy, or (0.12) a nick change reported as the old nick leaving, is no leave.
	if name == "l" and (event.room.destroying
		or stanza and stanza.name == "presence" and stanza.attr.type ~= "unavailable") then
		return;
	end
	feed.raumwart_emit(name, { r = jid.node(main), o = event.occupant.jid, b = event.room.jid });
end

module:hook("muc-room-destroyed", function(event) mains[event.room.jid] = nil; end);
module:hook("muc-occupant-joined", function(event) forward("j", event); end);
module:hook("muc-occupant-left", function(event) forward("l", event); end);
module:log("info", "raumwart module active for the breakout rooms of %s", main_muc);
