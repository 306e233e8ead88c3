-- raumwart_store.lib.lua: mod_raumwart's room map and class passwords: how they arrive,
-- what is kept on disk, how a password is compared.
--
-- No password is kept: the room map the daemon pushes holds a salted HMAC-SHA256 of each
-- school password, and the class password of a session is kept the same way while the
-- session lasts, so that students who return with it after a Prosody restart get in
-- within the grace period. Loaded with module:require, so it runs as part of
-- mod_raumwart: its options, hooks and storage are that module's.

local hashes = require "util.hashes";
local hex = require "util.hex";
local random_bytes = require "util.random".bytes;
local storagemanager = require "core.storagemanager";
local jid = require "util.jid";

local MUC_NS = "http://jabber.org/protocol/muc";
local component = module:get_option_string("raumwart_component");

-- While no map is in force (first start, map deleted): "deny" refuses every new room.
local unmanaged_default = module:get_option_string("raumwart_unmanaged_rooms", "allow");
if unmanaged_default ~= "allow" and unmanaged_default ~= "deny" then
	module:log("error", "raumwart_unmanaged_rooms must be \"allow\" or \"deny\"; using \"deny\"");
	unmanaged_default = "deny";
end

local function salted(password)
	local salt = random_bytes(16);
	return { s = hex.encode(salt), h = hashes.hmac_sha256(salt, password, true) };
end

-- HMAC-SHA256(salt, password), as the daemon computes it; compared in constant time.
local function matches(entry, given)
	return given ~= nil and hashes.equals(hashes.hmac_sha256(hex.decode(entry.s), given, true), entry.h);
end

-- Jitsi's MUC uses memory storage; the map must survive a restart, so open the internal
-- (file) driver directly instead of following the host's storage setting.
local store = assert(storagemanager.load_driver(module.host, "internal")):open("raumwart");

-- The map in memory: { gen, unmanaged, grace, rooms = { [node] = { s = salt (hex), h = HMAC (hex) } } },
-- the rooms of one school sharing their entry. On disk it is one text, a line per school:
-- "salt hmac node node ..." ({ gen, unmanaged, grace, text }): 100,000 rooms are then a
-- megabyte written and read in milliseconds, not 100,000 small tables.
local function expand(kept)
	local rooms = {};
	for line in kept.text:gmatch("[^\n]+") do
		local salt, hash, nodes = line:match("^(%x+) (%x+)(.*)$");
		local entry = { s = salt, h = hash };
		for node in nodes:gmatch("%S+") do rooms[node] = entry; end
	end
	return { gen = kept.gen, unmanaged = kept.unmanaged, grace = kept.grace, rooms = rooms };
end
-- What `expand` reads: `m` without its rooms, and `lines` ("salt hmac node ...").
local function stored(m, lines)
	return { gen = m.gen, unmanaged = m.unmanaged, grace = m.grace, text = table.concat(lines, "\n") };
end
local map, err = store:get("map");
if map and type(map.text) == "string" then
	local ok, expanded = pcall(expand, map);
	map, err = ok and expanded or nil, not ok and "not a room map" or err;
end
if map and type(map.rooms) ~= "table" then map, err = nil, "not a room map"; end
-- What the daemon is told is wrong: "map-unreadable" (fail closed), "map-not-stored".
local problem = err and "map-unreadable" or nil;
if problem then
	module:log("error", "Cannot read the stored room map (%s): no room can be created until raumwart pushes a map", err);
end
-- A map stored by an older module holds plain passwords: keep only salted hashes.
local upgraded;
for node, password in pairs(map and map.rooms or {}) do
	if type(password) == "string" then map.rooms[node], upgraded = salted(password), true; end
end
if upgraded then
	local lines = {};
	for node, e in pairs(map.rooms) do lines[#lines + 1] = e.s .. " " .. e.h .. " " .. node; end
	if not store:set("map", stored(map, lines)) then problem = "map-not-stored"; end
end

-- Class passwords of sessions: { [node] = { s, h, u = until } }. An entry with `u`
-- survived a Prosody restart and opens its room for the grace period; a reset deletes it.
local classes = store:get("classes") or {};
local function save_classes()
	if not store:set("classes", classes) then module:log("error", "Could not store the class passwords"); end
end
-- Writing the file costs Prosody milliseconds. Where a stanza is being answered (a
-- destroy, a config form, a join), write once the answers are out: timers run after the
-- loop's writes. At most once a turn; Prosody stopping writes what is due.
local due = false;
local function save_classes_soon()
	if due then return; end
	due = true;
	module:add_timer(0, function() due = false; save_classes(); end);
end
module:hook_global("server-stopping", function() if due then due = false; save_classes(); end end, 1000);
local grace = map and map.grace or 0;
for _, class in pairs(classes) do class.u = class.u or os.time() + grace; end
save_classes();
module:add_timer(grace + 1, function()
	for node, class in pairs(classes) do
		if class.u and class.u < os.time() then classes[node] = nil; end
	end
	save_classes();
end);

-- With more managed rooms than Prosody's room cache holds, Prosody moves rooms with people
-- in them to disk and back, and the snapshot reads and writes every one: seconds at 1,000.
local cache_size, warned = module:get_option_number("muc_room_cache_size", 100), 0;
local function check_cache(n)
	if n <= cache_size or n == warned then return; end
	warned = n;
	module:log("warn", "%d managed rooms, but muc_room_cache_size is %d: set it to at least %d", n, cache_size, n);
end
if map then
	local n = 0;
	for _ in pairs(map.rooms) do n = n + 1; end
	check_cache(n);
end

-- The protocol this module speaks with raumwart: announced in every snapshot, required of
-- every map. A daemon of another release gets its map refused instead of misread, and the
-- map in force keeps protecting the rooms (raised when the events, commands or map change).
local PROTOCOL = "2";

-- `map` and `problem` are read by the module; they change only through push.
local M = { map = map, problem = problem, matches = matches, PROTOCOL = PROTOCOL };

-- A managed room's entry and node, looked up on every join and leave: kept per room JID
-- (for managed rooms only, so unmanaged ones cannot grow it) until the next map.
local by_jid, node_of = {}, {};
function M.entry(room_jid)
	local entry = by_jid[room_jid];
	if entry or not M.map then return entry, node_of[room_jid]; end
	local node = jid.node(room_jid);
	entry = M.map.rooms[node];
	if entry then by_jid[room_jid], node_of[room_jid] = entry, node; end
	return entry, node;
end
-- A room that is gone needs no entry kept: only rooms with people in them hold one.
function M.forget(room_jid) by_jid[room_jid], node_of[room_jid] = nil, nil; end
-- The password given in a join ("" is none), and the element it came in.
function M.join_password(stanza)
	local x = stanza:get_child("x", MUC_NS);
	local given = x and x:get_child_text("password", MUC_NS);
	return given ~= "" and given or nil, x;
end

function M.unmanaged() return M.map and M.map.unmanaged or unmanaged_default; end
function M.describe()
	return M.map and "room map loaded" or M.problem and "no usable room map, refusing new rooms"
		or "no room map yet, unmanaged rooms " .. unmanaged_default;
end

-- The daemon pushes the map in chunks; it takes effect with the last one. Returns true,
-- or nil and the error to answer with.
local pending;
function M.push(chunk)
	if chunk.attr.v ~= PROTOCOL then
		pending = nil;
		if chunk.attr.last == "1" then module:log("error", "raumwart speaks protocol %s, this module %s: room map refused, the one in force stays; "
			.. "install the same release of raumwart and this module", chunk.attr.v or "(none)", PROTOCOL); end
		return nil, "cancel", "feature-not-implemented", "raumwart protocol " .. PROTOCOL .. " required";
	end
	if not pending or pending.gen ~= chunk.attr.gen then
		pending = { gen = chunk.attr.gen or "", rooms = {}, n = 0, lines = {} };
	end
	-- <s s='salt' h='hmac'>node node ...</s>: the rooms that share a school password.
	for g in chunk:childtags("s") do
		local salt, hash, nodes = g.attr.s or "", g.attr.h or "", g:get_text() or "";
		if not (salt:match("^%x+$") and hash:match("^" .. ("%x"):rep(64) .. "$")) then
			pending = nil;
			return nil, "modify", "bad-request", "Malformed room entry";
		end
		local entry = { s = salt, h = hash:lower() };
		local rooms, n = pending.rooms, pending.n;
		for node in nodes:gmatch("%S+") do rooms[node], n = entry, n + 1; end
		pending.n = n;
		pending.lines[#pending.lines + 1] = salt .. " " .. entry.h .. " " .. nodes;
	end
	if chunk.attr.last ~= "1" then return true; end
	local unmanaged, grace = chunk.attr.unmanaged == "deny" and "deny" or "allow", tonumber(chunk.attr.grace) or 0;
	local new = { gen = pending.gen, unmanaged = unmanaged, grace = grace, rooms = pending.rooms };
	local ok, store_err = store:set("map", stored(new, pending.lines));
	check_cache(pending.n);
	M.map, M.problem, pending = new, not ok and "map-not-stored" or nil, nil;
	by_jid, node_of = {}, {};
	if ok then return true; end
	module:log("error", "Could not store the room map (%s): it holds until Prosody restarts", store_err);
	return nil, "wait", "internal-server-error", "Room map not stored";
end

-- The class password an owner set, kept for a Prosody restart (password.lib set it at 0).
module:hook("muc-config-submitted/muc#roomconfig_roomsecret", function(event)
	local room, value = event.room, event.value or "";
	if not M.entry(room.jid) or (room:get_password() or "") ~= value then return; end
	classes[jid.node(room.jid)] = value ~= "" and salted(value) or nil;
	save_classes_soon();
end, -1);

-- Back after a Prosody restart within the grace period, with the class password: the room
-- has it again, so the lesson goes on and later students cost no hash. Just before the
-- organizer key (3), which then lets the student through as usual.
module:hook("muc-occupant-pre-join", function(event)
	local room = event.room;
	local entry, node = M.entry(room.jid);
	local class = entry and classes[node];
	if not (class and class.u and class.u >= os.time()) then return; end
	local given = M.join_password(event.stanza);
	if given == room:get_password() or not matches(class, given) then return; end
	room:set_password(given);
	class.u = nil;
	save_classes_soon();
end, 4);

-- A reset ends the session: its class password goes.
function M.drop_class(node)
	if classes[node] then classes[node] = nil; save_classes_soon(); end
end

-- The daemon resets a room that Prosody lost in a restart: its class password goes too.
module:hook("iq/bare", function(event)
	local stanza = event.stanza;
	local query = stanza.attr.type == "set" and stanza:get_child("query", "http://jabber.org/protocol/muc#owner");
	if query and query:get_child("destroy") and jid.bare(stanza.attr.from) == component then
		M.drop_class(jid.node(stanza.attr.to));
	end
end, 10);

-- Across a module reload (module.save/restore): the entries as they were, not restarted.
function M.classes() return classes; end
function M.restore_classes(saved)
	classes = saved or classes;
	save_classes();
end

return M;
