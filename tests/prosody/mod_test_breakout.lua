-- Test stand-in for how Jitsi's mod_muc_breakout_rooms links rooms: a breakout room
-- named "<main node>--<label>" is recorded in its main room's _data.breakout_rooms,
-- breakout_rooms_active is set and the main room made persistent while it exists.
-- Only the data model is imitated; raumwart's module must work from that alone.
local jid = require "util.jid";
local modulemanager = require "core.modulemanager";
local main_muc = module:get_option_string("raumwart_main_muc");

local function main_room_of(room)
	local node = jid.node(room.jid);
	local main_node = node and node:match("^(.-)%-%-");
	local muc = modulemanager.get_module(main_muc, "muc");
	return main_node and muc and muc.get_room_from_jid(main_node .. "@" .. main_muc);
end

-- Jitsi links a breakout room before anyone enters it.
module:hook("muc-room-pre-create", function(event)
	local main = main_room_of(event.room);
	if not main then return; end
	main._data.breakout_rooms = main._data.breakout_rooms or {};
	main._data.breakout_rooms[event.room.jid] = jid.node(event.room.jid);
	main._data.breakout_rooms_active = true;
	main:set_persistent(true);
end);

module:hook("muc-room-destroyed", function(event)
	local main = main_room_of(event.room);
	if not (main and main._data.breakout_rooms) then return; end
	main._data.breakout_rooms[event.room.jid] = nil;
	if next(main._data.breakout_rooms) == nil then
		main._data.breakout_rooms_active = nil;
	end
end, 10);
