-- mod_raumwart: the synchronous half of raumwart, loaded on Jitsi's MUC component.
--
-- Prosody alone can check a password at the moment a room is created or joined, so this
-- module does exactly that and nothing else on its own: it sets the school password when a
-- managed room is created, lets the school password in as organizer even after a class
-- password is set, refuses unmanaged rooms when told to, and forwards a few compact events
-- of managed rooms to the raumwart daemon. Every decision (who is organizer, when a
-- session ends, what a reset is) is the daemon's. The room map the daemon pushes is kept
-- on disk, so passwords hold while the daemon or Prosody restarts.

local st = require "util.stanza";
local jid = require "util.jid";
local modulemanager = require "core.modulemanager";
local storagemanager = require "core.storagemanager";
local is_admin = require "core.usermanager".is_admin;

local NS = "urn:raumwart:0";
local MUC_NS = "http://jabber.org/protocol/muc";

local component = module:get_option_string("raumwart_component");
if not component then
	module:log("error", "raumwart_component is not set; mod_raumwart stays inactive");
	return;
end

-- On Jitsi's breakout MUC (raumwart_main_muc set) the module only reports who is in a
-- breakout room, as an occupant of its main room; Jitsi links them in the main room's
-- _data.breakout_rooms. Everything else runs on the main MUC.
local main_muc = module:get_option_string("raumwart_main_muc");
if main_muc then
	local function main_room_of(room)
		local main_env = modulemanager.get_module(main_muc, "muc");
		if room.raumwart_main or not main_env then return room.raumwart_main; end
		for r in main_env.live_rooms() do
			if r._data.breakout_rooms and r._data.breakout_rooms[room.jid] then
				room.raumwart_main = r;
				return r;
			end
		end
	end
	local function forward(name, event)
		local main, feed = main_room_of(event.room), modulemanager.get_module(main_muc, "raumwart");
		if not (main and feed and feed.raumwart_managed(main)) then return; end
		local stanza = event.stanza;
		if name == "l" and (event.room.destroying
			or stanza and stanza.name == "presence" and stanza.attr.type ~= "unavailable") then
			return;
		end
		feed.raumwart_emit(name, { r = jid.node(main.jid), o = event.occupant.jid, b = event.room.jid });
	end
	module:hook("muc-occupant-joined", function(event) forward("j", event); end);
	module:hook("muc-occupant-left", function(event) forward("l", event); end);
	module:log("info", "raumwart module active for the breakout rooms of %s", main_muc);
	return;
end

local muc = module:depends("muc");

-- Jitsi's MUC uses memory storage; the map must survive a restart, so open the internal
-- (file) driver directly instead of following the host's storage setting.
local store = assert(storagemanager.load_driver(module.host, "internal")):open("raumwart");
local map = store:get("map") or { gen = "", rooms = {}, unmanaged = "allow" };
local pending; -- a map push arrives in chunks; it takes effect with the last one

local function school_password(room)
	return map.rooms[jid.node(room.jid)];
end

local function join_password(stanza)
	local x = stanza:get_child("x", MUC_NS);
	return x and x:get_child_text("password", MUC_NS), x;
end

local function connected()
	local env = modulemanager.get_module(component, "component");
	return env and env.connected;
end

-- Events are dropped while the daemon is away: it re-reads everything on connect, and a
-- message to an absent component only bounces.
local function emit(name, attr)
	if not connected() then return; end
	attr.xmlns = NS;
	module:send(st.message({ from = module.host, to = component }):tag(name, attr));
end

-- For the module instance on the breakout MUC.
raumwart_emit = emit;
function raumwart_managed(room) return school_password(room) ~= nil; end

-- Creation: unmanaged rooms only where allowed; a managed room is opened by an admin
-- (focus) or by someone who knows the school password, never by a stranger.
module:hook("muc-room-pre-create", function(event)
	local room, stanza = event.room, event.stanza;
	local password = school_password(room);
	if not password then
		if map.unmanaged == "deny" then
			event.origin.send(st.error_reply(stanza, "cancel", "not-allowed",
				"This room is not available", module.host));
			return true;
		end
		return;
	end
	if not is_admin(jid.bare(stanza.attr.from), module.host) and join_password(stanza) ~= password then
		event.origin.send(st.error_reply(stanza, "auth", "not-authorized", nil, room.jid));
		return true;
	end
end, 10);

-- After password.lib has set the creator's join password: the school password rules.
module:hook("muc-room-created", function(event)
	local password = school_password(event.room);
	if password then event.room:set_password(password); end
end, -100);

-- Organizer key. Runs before Jitsi's lobby check (-4) and at or below
-- mod_muc_meeting_id's hold (8), so once per join; bans (-10) and the password check
-- (-20) still follow.
module:hook("muc-occupant-pre-join", function(event)
	local room, stanza = event.room, event.stanza;
	local password = school_password(room);
	if not password then return; end
	local given, x = join_password(stanza);
	if given ~= password then return; end
	event.occupant.raumwart_key = true;
	local current = room:get_password();
	if current and current ~= password then
		x:maptags(function(tag)
			if tag.name == "password" then return nil; end
			return tag;
		end);
		x:tag("password", { xmlns = MUC_NS }):text(current):up();
	end
end, 3);

module:hook("muc-occupant-joined", function(event)
	local room, occupant = event.room, event.occupant;
	if not school_password(room) then return; end
	local keyed = occupant.raumwart_key and "1" or nil;
	if keyed then
		room.raumwart_keyed = room.raumwart_keyed or {};
		room.raumwart_keyed[occupant.jid] = true;
	end
	emit("j", { r = jid.node(room.jid), o = occupant.jid, k = keyed });
end);

module:hook("muc-occupant-left", function(event)
	local room, occupant, stanza = event.room, event.occupant, event.stanza;
	if not school_password(room) then return; end
	-- 0.12 reports a nick change as the old nick leaving; the session is still inside.
	if stanza and stanza.name == "presence" and stanza.attr.type ~= "unavailable" then return; end
	if room.raumwart_keyed then room.raumwart_keyed[occupant.jid] = nil; end
	-- A destroy announces itself once, not once per occupant.
	if room.destroying then return; end
	-- With breakout rooms open, an empty main room may mean everyone moved to them.
	local breakouts = room._data.breakout_rooms_active and "1" or nil;
	emit("l", { r = jid.node(room.jid), o = occupant.jid, ba = breakouts });
end);

-- Above the tombstone handler (-10): a managed room never leaves a tombstone behind.
module:hook("muc-room-destroyed", function(event)
	local room = event.room;
	if room._data.destroyed or not school_password(room) then return; end
	room:set_persistent(false);
	emit("d", { r = jid.node(room.jid) });
end, 1);

module:hook("muc-set-affiliation", function(event)
	local room, actor = event.room, event.actor;
	if type(actor) ~= "string" or jid.bare(actor) == component then return; end
	if not school_password(room) then return; end
	emit("a", { r = jid.node(room.jid), j = event.jid, a = event.affiliation, by = jid.bare(actor) });
end);

-- Commands from the daemon, and from nobody else.
local function command(handler)
	return function(event)
		local origin, stanza = event.origin, event.stanza;
		if jid.bare(stanza.attr.from) ~= component then
			origin.send(st.error_reply(stanza, "auth", "forbidden"));
			return true;
		end
		origin.send(handler(stanza.tags[1], st.reply(stanza)));
		return true;
	end
end

module:hook("iq-set/host/" .. NS .. ":map", command(function(chunk, reply)
	if not pending or pending.gen ~= chunk.attr.gen then
		pending = { gen = chunk.attr.gen or "", rooms = {} };
	end
	for r in chunk:childtags("r") do pending.rooms[r.attr.n] = r.attr.p; end
	if chunk.attr.last == "1" then
		pending.unmanaged = chunk.attr.unmanaged == "deny" and "deny" or "allow";
		map, pending = pending, nil;
		local ok, err = store:set("map", map);
		if not ok then module:log("error", "Could not store the room map: %s", err); end
	end
	return reply;
end));

module:hook("iq-get/host/" .. NS .. ":snapshot", command(function(_, reply)
	reply:tag("snapshot", { xmlns = NS, gen = map.gen });
	for room in muc.live_rooms() do
		if school_password(room) and not room._data.destroyed then
			local keyed = room.raumwart_keyed or {};
			reply:tag("room", { n = jid.node(room.jid), p = room:get_persistent() and "1" or nil });
			for _, occupant in room:each_occupant() do
				reply:tag("o", {
					o = occupant.jid;
					k = keyed[occupant.jid] and "1" or nil;
					a = room:get_affiliation(occupant.bare_jid);
				}):up();
			end
			for breakout_jid in pairs(room._data.breakout_rooms or {}) do
				local env = modulemanager.get_module(jid.host(breakout_jid), "muc");
				local breakout = env and env.get_room_from_jid(breakout_jid);
				if breakout then
					for _, occupant in breakout:each_occupant() do
						reply:tag("o", { o = occupant.jid, b = breakout_jid }):up();
					end
				end
			end
			reply:up();
		end
	end
	return reply;
end));

module:log("info", "raumwart module active: %d managed rooms, events to %s",
	(function() local n = 0; for _ in pairs(map.rooms) do n = n + 1; end return n; end)(), component);
