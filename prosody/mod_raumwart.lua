-- mod_raumwart: the synchronous half of raumwart, loaded on Jitsi's MUC component.
--
-- Prosody alone can check a password at the moment a room is created or joined, so this
-- module does exactly that and nothing else on its own: it gives a managed room a random
-- password when it is created, lets the school password in as organizer (also after a
-- class password is set), refuses unmanaged rooms when told to, and forwards a few compact
-- events of managed rooms to the raumwart daemon. Every decision (who is organizer, when a
-- session ends, what a reset is) is the daemon's. The room map the daemon pushes is kept
-- on disk, so passwords hold while the daemon or Prosody restarts; it holds no school
-- password, only a salted HMAC-SHA256 of each. So is a salted HMAC of each class password
-- while its session lasts: after a Prosody restart, students who return with it within
-- the grace period get in again.

local st = require "util.stanza";
local jid = require "util.jid";
local modulemanager = require "core.modulemanager";
local storagemanager = require "core.storagemanager";
local hashes = require "util.hashes";
local hex = require "util.hex";
local random_bytes = require "util.random".bytes;
local new_password = require "util.id".long;

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
		if not (main and feed and feed.raumwart_managed(main)) then return; end
		local stanza = event.stanza;
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
	return;
end

local muc = module:depends("muc");

-- Admins of the MUC (focus) open managed rooms without the school password. Prosody 13
-- has roles and permissions (its is_admin() logs a deprecation); 0.12 has only is_admin().
local is_service_admin;
if module.could then
	module:default_permission("prosody:admin", ":open-managed-room");
	function is_service_admin(actor) return module:could(":open-managed-room", actor); end
else
	local is_admin = require "core.usermanager".is_admin;
	function is_service_admin(actor) return is_admin(actor, module.host); end
end

-- While no map is in force (first start, map deleted): "deny" refuses every new room.
local unmanaged_default = module:get_option_string("raumwart_unmanaged_rooms", "allow");
if unmanaged_default ~= "allow" and unmanaged_default ~= "deny" then
	module:log("error", "raumwart_unmanaged_rooms must be \"allow\" or \"deny\"; using \"deny\"");
	unmanaged_default = "deny";
end

-- Jitsi's MUC uses memory storage; the map must survive a restart, so open the internal
-- (file) driver directly instead of following the host's storage setting.
-- The map: { gen, unmanaged, rooms = { [node] = { s = salt (hex), h = HMAC (hex) } } }.
local store = assert(storagemanager.load_driver(module.host, "internal")):open("raumwart");
local map, err = store:get("map");
if map and type(map.rooms) ~= "table" then map, err = nil, "not a room map"; end
-- What the daemon is told is wrong: "map-unreadable" (fail closed), "map-not-stored".
local problem = err and "map-unreadable" or nil;
if problem then
	module:log("error", "Cannot read the stored room map (%s): no room can be created until raumwart pushes a map", err);
end
-- A map stored by an older module holds plain passwords: keep only salted hashes.
local upgraded;
for node, password in pairs(map and map.rooms or {}) do
	if type(password) == "string" then
		local salt = random_bytes(16);
		map.rooms[node], upgraded = { s = hex.encode(salt), h = hashes.hmac_sha256(salt, password, true) }, true;
	end
end
if upgraded and not store:set("map", map) then problem = "map-not-stored"; end
-- Class passwords of sessions: { [node] = { s = salt, h = HMAC, u = until } }. An entry
-- with `u` survived a Prosody restart and opens its room for the grace period; a reset
-- deletes it. `boot` tells the daemon that Prosody (and its rooms) started afresh.
local classes = store:get("classes") or {};
local boot, stopping = new_password(), false;
local function store_classes()
	if not store:set("classes", classes) then module:log("error", "Could not store the class passwords"); end
end
-- Writing the file costs Prosody milliseconds (and the garbage of serializing it): where
-- a stanza is answered (a destroy, a config form, a join), write it once the answers are
-- out, in the same turn of Prosody's loop.
local store_due = false;
local function store_classes_soon()
	if store_due then return; end
	store_due = true;
	module:add_timer(0, function() store_due = false; store_classes(); end);
end
local function drop_expired()
	for node, class in pairs(classes) do
		if class.u and class.u < os.time() then classes[node] = nil; end
	end
	store_classes();
end
local grace = map and map.grace or 0;
for _, class in pairs(classes) do class.u = class.u or os.time() + grace; end
store_classes();
module:add_timer(grace + 1, drop_expired);
local pending; -- a map push arrives in chunks; it takes effect with the last one
local keyed = {}; -- [room jid][occupant jid]: entered with the school password

local function entry_of(room)
	return map and map.rooms[jid.node(room.jid)];
end

-- HMAC-SHA256(salt, password), as the daemon computes it; compared in constant time.
local function matches_hash(entry, given)
	return given ~= nil and hashes.equals(hashes.hmac_sha256(hex.decode(entry.s), given, true), entry.h);
end

local function join_password(stanza)
	local x = stanza:get_child("x", MUC_NS);
	local given = x and x:get_child_text("password", MUC_NS);
	return given ~= "" and given or nil, x;
end

-- Events are dropped while the daemon is away: it re-reads everything on connect, and a
-- message to an absent component only bounces.
local function emit(name, attr)
	local link = modulemanager.get_module(component, "component");
	if stopping or not (link and link.connected) then return; end
	attr.xmlns = NS;
	module:send(st.message({ from = module.host, to = component }):tag(name, attr));
end

-- For the module instance on the breakout MUC.
raumwart_emit = emit;
function raumwart_managed(room_jid) return map ~= nil and map.rooms[jid.node(room_jid)] ~= nil; end

-- Creation: unmanaged rooms only where allowed; a managed room is opened by an admin
-- (focus) or by someone who knows the school password, never by a stranger. Without a
-- readable map nobody can tell managed rooms: then nothing is created.
module:hook("muc-room-pre-create", function(event)
	local room, stanza = event.room, event.stanza;
	if not map and problem then
		event.origin.send(st.error_reply(stanza, "wait", "service-unavailable", nil, module.host));
		return true;
	end
	local entry = entry_of(room);
	if not entry then
		if (map and map.unmanaged or unmanaged_default) == "deny" then
			event.origin.send(st.error_reply(stanza, "cancel", "not-allowed",
				"This room is not available", module.host));
			return true;
		end
		return;
	end
	event.raumwart_key = matches_hash(entry, (join_password(stanza)));
	if not event.raumwart_key and not is_service_admin(jid.bare(stanza.attr.from)) then
		event.origin.send(st.error_reply(stanza, "auth", "not-authorized", nil, room.jid));
		return true;
	end
end, 10);

-- password.lib (0) made the creator's password the room's: never the school password.
-- The creator then enters through the organizer key like everyone who knows it.
module:hook("muc-room-pre-create", function(event)
	if event.raumwart_key then event.room:set_password(new_password()); end
end, -1);

-- Whoever created it, a managed room starts with a random password nobody knows.
module:hook("muc-room-created", function(event)
	if entry_of(event.room) then event.room:set_password(new_password()); end
end, -100);

-- Nor does an owner make the school password the class password.
module:hook("muc-config-submitted/muc#roomconfig_roomsecret", function(event)
	local entry = entry_of(event.room);
	if entry and matches_hash(entry, event.value) then return true; end
end, 1);

-- The class password, as a salted hash, for a Prosody restart (password.lib set it at 0).
module:hook("muc-config-submitted/muc#roomconfig_roomsecret", function(event)
	local room, value = event.room, event.value or "";
	if not entry_of(room) or (room:get_password() or "") ~= value then return; end
	local salt = random_bytes(16);
	classes[jid.node(room.jid)] = value ~= "" and { s = hex.encode(salt), h = hashes.hmac_sha256(salt, value, true) } or nil;
	store_classes_soon();
end, -1);

-- A class password from before a Prosody restart, within the grace period: the room has it
-- again, so the lesson goes on and later students cost no hash.
local function restore_class(room, given)
	local class = classes[jid.node(room.jid)];
	if class and class.u and class.u >= os.time() and matches_hash(class, given) then
		room:set_password(given);
		class.u = nil;
		store_classes_soon();
	end
end

-- Organizer key. Runs before Jitsi's lobby check (-4) and at or below
-- mod_muc_meeting_id's hold (8), so once per join; bans (-10) and the password check
-- (-20) still follow. The room's own password (the students') costs no hash.
module:hook("muc-occupant-pre-join", function(event)
	local room, stanza = event.room, event.stanza;
	local entry = entry_of(room);
	if not entry then return; end
	local given, x = join_password(stanza);
	local current = room:get_password();
	if given == current then return; end
	if not matches_hash(entry, given) then restore_class(room, given); return; end
	event.occupant.raumwart_key = true;
	x:maptags(function(tag)
		if tag.name == "password" then return nil; end
		return tag;
	end);
	if current then x:tag("password", { xmlns = MUC_NS }):text(current):up(); end
end, 3);

-- After bans (-10), just before password.lib (-20) refuses the same mismatch. Only
-- the room is told: never the JID, never the password.
module:hook("muc-occupant-pre-join", function(event)
	local room, stanza = event.room, event.stanza;
	local current = room:get_password();
	if not current or current == join_password(stanza) or not entry_of(room) then return; end
	if is_service_admin(jid.bare(stanza.attr.from)) then return; end
	emit("w", { r = jid.node(room.jid) });
end, -15);

module:hook("muc-occupant-joined", function(event)
	local room, occupant = event.room, event.occupant;
	if not entry_of(room) then return; end
	local key = occupant.raumwart_key and "1" or nil;
	if key then
		keyed[room.jid] = keyed[room.jid] or {};
		keyed[room.jid][occupant.jid] = true;
	end
	emit("j", { r = jid.node(room.jid), o = occupant.jid, k = key });
end);

module:hook("muc-occupant-left", function(event)
	local room, occupant, stanza = event.room, event.occupant, event.stanza;
	if not entry_of(room) then return; end
	-- 0.12 reports a nick change as the old nick leaving; the session is still inside.
	if stanza and stanza.name == "presence" and stanza.attr.type ~= "unavailable" then return; end
	if keyed[room.jid] then keyed[room.jid][occupant.jid] = nil; end
	-- A destroy announces itself once, not once per occupant.
	if room.destroying then return; end
	-- With breakout rooms open, an empty main room may mean everyone moved to them.
	local breakouts = room._data.breakout_rooms_active and "1" or nil;
	emit("l", { r = jid.node(room.jid), o = occupant.jid, ba = breakouts });
end);

-- Above the tombstone handler (-10): a managed room never leaves a tombstone behind.
module:hook("muc-room-destroyed", function(event)
	local room = event.room;
	keyed[room.jid] = nil;
	-- Prosody stopping empties every room: that ends no session.
	if stopping or room._data.destroyed or not entry_of(room) then return; end
	if classes[jid.node(room.jid)] then classes[jid.node(room.jid)] = nil; store_classes_soon(); end
	room:set_persistent(false);
	emit("d", { r = jid.node(room.jid) });
end, 1);

-- The daemon resets a room that Prosody lost in a restart: its class password goes too.
module:hook("iq/bare", function(event)
	local stanza = event.stanza;
	local query = stanza.attr.type == "set" and stanza:get_child("query", "http://jabber.org/protocol/muc#owner");
	local node = jid.node(stanza.attr.to);
	if query and query:get_child("destroy") and classes[node] and jid.bare(stanza.attr.from) == component then
		classes[node] = nil;
		store_classes_soon();
	end
end, 10);

module:hook("muc-set-affiliation", function(event)
	local room, actor = event.room, event.actor;
	if type(actor) ~= "string" or jid.bare(actor) == component then return; end
	if not entry_of(room) then return; end
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
		origin.send(handler(stanza.tags[1], stanza));
		return true;
	end
end

module:hook("iq-set/host/" .. NS .. ":map", command(function(chunk, stanza)
	if not pending or pending.gen ~= chunk.attr.gen then
		pending = { gen = chunk.attr.gen or "", rooms = {} };
	end
	for r in chunk:childtags("r") do
		local salt, hash = r.attr.s or "", r.attr.h or "";
		if not (r.attr.n and salt:match("^%x+$") and hash:match("^" .. ("%x"):rep(64) .. "$")) then
			pending = nil;
			return st.error_reply(stanza, "modify", "bad-request", "Malformed room entry");
		end
		pending.rooms[r.attr.n] = { s = salt, h = hash:lower() };
	end
	if chunk.attr.last ~= "1" then return st.reply(stanza); end
	pending.unmanaged = chunk.attr.unmanaged == "deny" and "deny" or "allow";
	pending.grace = tonumber(chunk.attr.grace) or 0;
	map, pending = pending, nil;
	local ok, store_err = store:set("map", map);
	if not ok then
		problem = "map-not-stored";
		module:log("error", "Could not store the room map (%s): it holds until Prosody restarts", store_err);
		return st.error_reply(stanza, "wait", "internal-server-error", "Room map not stored");
	end
	problem = nil;
	return st.reply(stanza);
end));

module:hook("iq-get/host/" .. NS .. ":snapshot", command(function(_, stanza)
	local reply = st.reply(stanza):tag("snapshot", { xmlns = NS, gen = map and map.gen or "", boot = boot });
	if problem then reply:tag("problem", { code = problem }):up(); end
	-- each_room() also restores the rooms Prosody swapped out of its room cache.
	for room in muc.each_room() do
		if entry_of(room) and not room._data.destroyed then
			local room_keyed = keyed[room.jid] or {};
			reply:tag("room", { n = jid.node(room.jid), p = room:get_persistent() and "1" or nil });
			for _, occupant in room:each_occupant() do
				reply:tag("o", {
					o = occupant.jid;
					k = room_keyed[occupant.jid] and "1" or nil;
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

-- Before Prosody closes the client sessions (which empties every room).
module:hook_global("server-stopping", function()
	stopping = true;
	if store_due then store_due = false; store_classes(); end
end, 1000);

-- A reload of this module is no restart: rooms, organizer flags and class entries stay.
function module.save() return { keyed = keyed, boot = boot, classes = classes }; end
function module.restore(data)
	keyed, boot, classes = data.keyed or keyed, data.boot or boot, data.classes or classes;
	store_classes();
end

module:log("info", "raumwart module active: %s, events to %s", map and "room map loaded" or problem
	and "no usable room map, refusing new rooms" or "no room map yet, unmanaged rooms " .. unmanaged_default, component);
