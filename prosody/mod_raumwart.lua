-- mod_raumwart: the synchronous half of raumwart, on Jitsi's MUC component. Only Prosody
-- can check a password as a room is created or joined, so this module does that and no
-- more: a managed room gets a random password at creation, the school password lets its
-- holder in as organizer, unmanaged rooms are refused when told, and a few compact events
-- go to the daemon, which decides everything else. Kept on disk: raumwart_store.lib.lua.

local st, jid = require "util.stanza", require "util.jid";
local modulemanager, config = require "core.modulemanager", require "core.configmanager";
local new_password = require "util.id".long;
local time_now = require "util.time".now;

local NS, MUC_NS = "urn:raumwart:0", "http://jabber.org/protocol/muc";

-- A config from before mod_raumwart_breakout loads this module on the breakout MUC too.
if module:get_option_string("raumwart_main_muc") then
	module:log("warn", "On a breakout MUC enable \"raumwart_breakout\", not \"raumwart\": loading it instead");
	module:depends("raumwart_breakout"); return;
end

local component = module:get_option_string("raumwart_component");
if not component then module:log("error", "raumwart_component is not set; mod_raumwart stays inactive"); return; end

local muc = module:depends("muc");
local store = module:require("raumwart_store");

-- Admins of the MUC (focus) open managed rooms without the school password. Prosody 13
-- has roles and permissions (its is_admin() logs a deprecation); 0.12 has only is_admin().
local is_admin = not module.could and require "core.usermanager".is_admin;
if not is_admin then module:default_permission("prosody:admin", ":open-managed-room"); end
local function is_service_admin(actor) if is_admin then return is_admin(actor, module.host); end return module:could(":open-managed-room", actor); end

local boot, stopping = new_password(), false; -- boot: Prosody (and its rooms) started afresh
local keyed = {}; -- [room jid][occupant jid]: entered with the school password, this session
-- [room jid][bare jid]: made owner by raumwart (it grants owner to organizers only) or by an
-- organizer, and owner since: an organizer who did not enter with the school password.
local promoted = {};

-- The organizers of a managed room as the daemon counts them, from what the module sees.
local function is_organizer(room, real_jid)
	local k, p = keyed[room.jid], promoted[room.jid];
	return (k and k[real_jid]) or (p and p[jid.bare(real_jid)]) or false;
end

-- Events go as text onto raumwart's component stream (dropped while it is away), joins and
-- leaves built in one piece: what they allocate, Prosody's collector pays for. Students' events
-- wait to share one write: up to BATCH of them, or until the oldest is WINDOW old; any other
-- event, and a snapshot, sends them first, in order. Prosody's loop runs its timers only when
-- no socket is ready, so under a flood a timer waits for seconds: every hook of this module
-- sends a batch that is due, and the timer serves only a quiet server. Nothing here stops
-- Lua's collector: a hold left to such a timer let a guest's flood grow Prosody to 1.5 GB.
local head = ("<message from='%s' to='%s'><"):format(st.xml_escape(module.host), st.xml_escape(component));
local tail = " xmlns='" .. NS .. "'/></message>";
local function esc(v) return v:find("[&<>'\"]") and st.xml_escape(v) or v; end
local BATCH, WINDOW = 32, 0.05;
local batch, since, timer_set = {}, nil, false;
local function flush()
	local link = not stopping and modulemanager.get_module(component, "component");
	if link and link.connected and link.session and #batch > 0 then link.session.send(table.concat(batch)); end
	batch, since = {}, nil;
end
local function on_timer() timer_set = false; flush(); end
local function send(text, later)
	local n = #batch + 1; batch[n] = text;
	if not later or n >= BATCH then return flush(); end
	local now = time_now();
	if not since then
		since = now;
		if not timer_set then timer_set = true; module:add_timer(WINDOW, on_timer); end
	elseif now - since >= WINDOW then
		flush();
	end
end
-- Lua's collector, when its threshold is reached inside a hook, adds its pause to whatever
-- that hook does: a grace expiry's destroy took 2-3.5 ms of Prosody's CPU with a collection
-- inside, 1 ms without. With the generational collector (the README's advice), which
-- collects once minor_threshold % of the heap were allocated, this one lets it collect at
-- three quarters of that, in a moment when Prosody's loop has no socket ready (that is
-- when timers run), checked every GC_EVERY seconds. The step's debt of a whole heap makes
-- Lua choose a young or a full collection as it would itself (a step of 0 only ever
-- collects the young: old garbage then grows without end). A step that ends a full cycle
-- means a full collection freed too little and Lua now waits for the heap to double: the
-- module stands aside until Lua has collected on its own. Nothing here stops or delays
-- the collector.
local GC_EVERY, gc = 0.05, config.get("*", "gc");
if type(gc) == "table" and gc.mode == "generational" then
	local share = 0.75 * (tonumber(gc.minor_threshold) or 20) / 100;
	local heap_after, last, aside = collectgarbage("count"), 0, false;
	module:add_timer(GC_EVERY, function()
		local heap = collectgarbage("count");
		if heap < last then -- Lua collected on its own
			heap_after, aside = heap, false;
		elseif not aside and heap - heap_after >= share * heap_after then
			aside = collectgarbage("step", math.ceil(heap));
			if aside then module:log("debug", "Lua's full collection freed too little: idle collection waits for Lua's own"); end
			heap = collectgarbage("count"); heap_after = heap;
		end
		last = heap;
		return GC_EVERY;
	end);
end
-- module:hook, with a due batch sent first.
local function hook(name, handler, priority)
	module:hook(name, function(event)
		if since and time_now() - since >= WINDOW then flush(); end
		return handler(event);
	end, priority);
end
local function emit(name, attr, later)
	local out = { head, name };
	for k, v in pairs(attr) do out[#out + 1] = (" %s='%s'"):format(k, esc(v)); end
	out[#out + 1] = tail; send(table.concat(out), later);
end
raumwart_emit = emit; -- for mod_raumwart_breakout on the breakout MUC
function raumwart_managed(room_jid) return store.entry(room_jid) ~= nil; end

-- Creation: unmanaged rooms only where allowed; a managed room is opened by an admin
-- (focus) or by someone who knows the school password, never by a stranger. Without a
-- readable map nobody can tell managed rooms: then nothing is created.
hook("muc-room-pre-create", function(event)
	local room, stanza, origin = event.room, event.stanza, event.origin;
	local entry = store.entry(room.jid);
	if not store.map and store.problem then
		origin.send(st.error_reply(stanza, "wait", "service-unavailable", nil, module.host));
	elseif not entry then
		if store.unmanaged() ~= "deny" then return; end
		origin.send(st.error_reply(stanza, "cancel", "not-allowed", "This room is not available", module.host));
	else
		event.raumwart_key = store.matches(entry, (store.join_password(stanza)));
		if event.raumwart_key or is_service_admin(jid.bare(stanza.attr.from)) then return; end
		origin.send(st.error_reply(stanza, "auth", "not-authorized", nil, room.jid));
	end
	return true;
end, 10);

-- password.lib (0) made the creator's password the room's: never the school password.
-- The creator then enters through the organizer key like everyone who knows it.
hook("muc-room-pre-create", function(event) if event.raumwart_key then event.room:set_password(new_password()); end end, -1);

-- Whoever created it, a managed room starts with a random password nobody knows.
hook("muc-room-created", function(event) if store.entry(event.room.jid) then event.room:set_password(new_password()); end end, -100);

-- Nor does an owner make the school password the class password.
hook("muc-config-submitted/muc#roomconfig_roomsecret", function(event)
	local entry = store.entry(event.room.jid); if entry and store.matches(entry, event.value) then return true; end
end, 1);

-- Organizer key. Runs before Jitsi's lobby check (-4) and at or below
-- mod_muc_meeting_id's hold (8), so once per join; bans (-10) and the password check
-- (-20) still follow. The room's own password (the students') costs no hash.
hook("muc-occupant-pre-join", function(event)
	local room, entry, stanza = event.room, (store.entry(event.room.jid)), event.stanza;
	local given, x = store.join_password(stanza);
	local current = room:get_password();
	if not entry or given == current or not store.matches(entry, given) then return; end
	event.occupant.raumwart_key = true;
	x:maptags(function(tag) if tag.name ~= "password" then return tag; end end);
	if current then x:tag("password", { xmlns = MUC_NS }):text(current):up(); end
	-- Members-only (the lobby): only members enter, through Jitsi's lobby (-4) and
	-- Prosody's check (-5) alike; the occupant's role was decided as none. A reset's
	-- destroy takes the affiliation away again.
	if room:get_members_only() and not room:get_affiliation(stanza.attr.from) then
		room:set_affiliation(true, jid.bare(stanza.attr.from), "member");
		event.occupant.role = room:get_default_role("member");
	end
end, 3);

-- After bans (-10), just before password.lib (-20) refuses the same mismatch. Only
-- the room is told: never the JID, never the password.
hook("muc-occupant-pre-join", function(event)
	local room, stanza, current = event.room, event.stanza, event.room:get_password();
	if not current or current == store.join_password(stanza) then return; end
	local entry, node = store.entry(room.jid);
	if entry and not is_service_admin(jid.bare(stanza.attr.from)) then emit("w", { r = node }); end
end, -15);

hook("muc-occupant-joined", function(event)
	local room, occupant, key = event.room, event.occupant, event.occupant.raumwart_key;
	local entry, node = store.entry(room.jid); if not entry then return; end
	if key then keyed[room.jid] = keyed[room.jid] or {}; keyed[room.jid][occupant.jid] = true; end
	send(head .. "j r='" .. esc(node) .. "' o='" .. esc(occupant.jid) .. (key and "' k='1'" or "'") .. tail, not key);
end);

hook("muc-occupant-left", function(event)
	local room, occupant, stanza = event.room, event.occupant, event.stanza;
	local entry, node = store.entry(room.jid); if not entry then return; end
	-- No leave: 0.12 reports a nick change as the old nick leaving; a destroy announces
	-- itself once. keyed[] keeps its flag: an organizer in a breakout room stays one.
	if room.destroying or stanza and stanza.name == "presence" and stanza.attr.type ~= "unavailable" then return; end
	local student = not (keyed[room.jid] and keyed[room.jid][occupant.jid]);
	-- ba: with breakout rooms open, an empty main room may mean everyone moved to them.
	send(head .. "l r='" .. esc(node) .. "' o='" .. esc(occupant.jid) .. (room._data.breakout_rooms_active and "' ba='1'" or "'") .. tail, student);
end);

-- Only organizers end a lesson. A destroy comes from inside the handling of someone's
-- stanza: an owner's XEP-0045 destroy, or Jitsi's "end meeting for all" (end_conference: a
-- message with <end_conference/> to its component, whose handler destroys the room of any
-- moderator, a student jicofo's auto-owner promoted included). While such a stanza is
-- handled, `acting` is its sender; whose destroy of a managed room it is then decides:
-- raumwart and the MUC's admins (focus) may, an organizer may (the daemon is told it was
-- one), anyone else is refused. A destroy with no stanza behind it (Prosody's own, an admin
-- command, the admin shell) is left alone. end_conference's host is not looked up by name
-- or option: messages to every host are watched, whatever they carry.
local acting, ended_by_organizer, refused = nil, nil, false;
local function acting_for(handlers, name, event)
	local stanza, outer = event.stanza, acting;
	acting, refused = stanza.attr.from, false;
	local ok, ret = pcall(handlers, name, event);
	acting, ended_by_organizer = outer, nil;
	if not ok then error(ret, 0); end
	-- An owner's IQ got not-allowed from Prosody; the sender of a message learns it here.
	if refused and stanza.name == "message" then
		event.origin.send(st.error_reply(stanza, "cancel", "not-allowed", "Only an organizer ends the lesson"));
	end
	refused = false;
	return ret;
end
local wrapped = setmetatable({}, { __mode = "k" });
local function watch_messages(host)
	local h = prosody.hosts[host];
	if not h or wrapped[h.events] then return; end
	wrapped[h.events] = true;
	module:context(host):wrap_event("message/host", function(handlers, name, event)
		if event.stanza.attr.type == "error" then return handlers(name, event); end
		return acting_for(handlers, name, event);
	end);
end
for host in pairs(prosody.hosts) do watch_messages(host); end
module:hook_global("host-activated", watch_messages);
module:wrap_event("iq-set/bare/http://jabber.org/protocol/muc#owner:query", acting_for);

hook("muc-pre-room-destroy", function(event)
	local room = event.room;
	if not acting or not store.entry(room.jid) then return; end
	local by = jid.bare(acting);
	if by == component or is_service_admin(by) then return; end
	if is_organizer(room, acting) then ended_by_organizer = room.jid; return; end
	event.allowed, refused = false, true;
	module:log("info", "%s: refused to end the meeting for someone who is no organizer", room.jid);
end, 10);

-- Above the tombstone handler (-10): a managed room never leaves a tombstone behind.
hook("muc-room-destroyed", function(event)
	local room = event.room; keyed[room.jid], promoted[room.jid] = nil, nil;
	local by_organizer = ended_by_organizer == room.jid; ended_by_organizer = nil;
	local entry, node = store.entry(room.jid); store.forget(room.jid);
	-- Prosody stopping empties every room: that ends no session.
	if stopping or room._data.destroyed or not entry then return; end
	store.drop_class(node); room:set_persistent(false);
	-- by: an older daemon reads only r, and counts it as any destroy.
	emit("d", { r = node, by = by_organizer and "organizer" or nil });
end, 1);

hook("muc-set-affiliation", function(event)
	local room, actor = event.room, event.actor;
	if not store.entry(room.jid) then return; end
	local by = type(actor) == "string" and actor;
	if event.affiliation ~= "owner" then
		if promoted[room.jid] then promoted[room.jid][event.jid] = nil; end
	elseif by and (jid.bare(by) == component or is_organizer(room, by)) then
		promoted[room.jid] = promoted[room.jid] or {}; promoted[room.jid][event.jid] = true;
	end
	if not by or jid.bare(by) == component then return; end
	-- pa, mo: what raumwart gives back if it takes owner away again (never removing anyone).
	emit("a", { r = jid.node(room.jid), j = event.jid, a = event.affiliation, by = jid.bare(actor),
		pa = event.previous_affiliation or "none", mo = room:get_members_only() and "1" or "0" });
end);

-- The lobby switched on or off (after Prosody's handler applied it).
hook("muc-config-submitted/muc#roomconfig_membersonly", function(event)
	local room = event.room; if not store.entry(room.jid) then return; end
	emit("m", { r = jid.node(room.jid), mo = room:get_members_only() and "1" or "0" });
end, -1);

-- Commands from the daemon, and from nobody else.
local function command(handler) return function(event)
	local stanza = event.stanza;
	local ok = jid.bare(stanza.attr.from) == component and handler(stanza.tags[1], stanza);
	event.origin.send(ok or st.error_reply(stanza, "auth", "forbidden")); return true;
end end

hook("iq-set/host/" .. NS .. ":map", command(function(chunk, stanza)
	local ok, kind, condition, text = store.push(chunk);
	return ok and st.reply(stanza) or st.error_reply(stanza, kind, condition, text);
end));

-- Everyone in a managed room and (through mod_raumwart_breakout) in its breakout rooms.
hook("iq-get/host/" .. NS .. ":snapshot", command(function(_, stanza)
	flush();
	local reply = st.reply(stanza):tag("snapshot", { xmlns = NS, v = store.PROTOCOL, gen = store.map and store.map.gen or "", boot = boot });
	if store.problem then reply:tag("problem", { code = store.problem }):up(); end
	-- each_room() also restores the rooms Prosody swapped out of its room cache.
	for room in muc.each_room() do
		if store.entry(room.jid) and not room._data.destroyed then
			local room_keyed = keyed[room.jid] or {};
			reply:tag("room", { n = jid.node(room.jid), p = room:get_persistent() and "1" or nil, mo = room:get_members_only() and "1" or nil });
			for _, occupant in room:each_occupant() do
				reply:tag("o", { o = occupant.jid, k = room_keyed[occupant.jid] and "1" or nil, a = room:get_affiliation(occupant.bare_jid) }):up();
			end
			for breakout_jid in pairs(room._data.breakout_rooms or {}) do
				local b = modulemanager.get_module(jid.host(breakout_jid), "raumwart_breakout");
				if b then b.raumwart_snapshot(reply, breakout_jid, room_keyed); end
			end
			reply:up();
		end
	end
	return reply;
end));

-- `raumwart doctor`: what this Prosody runs with, as far as raumwart depends on it; the
-- daemon holds it against its README. Read when asked: the config as it is now.
hook("iq-get/host/" .. NS .. ":doctor", command(function(_, stanza)
	local gc, net = config.get("*", "gc"), config.get("*", "network_settings");
	local nagle = type(net) == "table" and net.nagle;
	local reply = st.reply(stanza):tag("doctor", { xmlns = NS, v = store.PROTOCOL, prosody = prosody.version, lua = _VERSION,
		gc = type(gc) == "table" and gc.mode or nil, nagle = nagle ~= nil and tostring(nagle) or nil,
		cache = tostring(module:get_option_number("muc_room_cache_size", 100)) });
	local nobody = { _affiliations = {} }; -- a room without affiliations: only admins are owners
	for host in pairs(prosody.hosts) do
		local env = modulemanager.get_module(host, "muc");
		if env then
			local admin = is_admin and is_admin(component, host) or not is_admin and env.module:could(":automatic-ownership", component);
			reply:tag("muc", { host = host, r = modulemanager.is_loaded(host, "raumwart") and "1" or nil,
				b = modulemanager.is_loaded(host, "raumwart_breakout") and "1" or nil, main = config.get(host, "raumwart_main_muc"),
				admin = admin and "1" or nil, owner = env.room_mt.get_affiliation(nobody, component) == "owner" and "1" or nil }):up();
		end
	end
	for _, interface, port in require "core.portmanager".get_active_services():iter("component", nil, nil, nil) do
		reply:tag("port", { i = interface, p = tostring(port) }):up();
	end
	-- Focus: the MUC's admins named focus, and whoever sits in an open room as nick focus (jicofo).
	local focus = {};
	for _, scope in ipairs({ module.host, "*" }) do
		local admins = config.rawget(scope, "admins");
		for _, admin in ipairs(type(admins) == "table" and admins or {}) do
			if jid.node(admin) == "focus" then focus[jid.bare(admin)] = true; end
		end
	end
	for room in muc.live_rooms() do
		local occupant = room:get_occupant_by_nick(room.jid .. "/focus");
		if occupant then focus[occupant.bare_jid] = true; end
	end
	for j in pairs(focus) do reply:tag("focus", { j = j }):up(); end
	return reply;
end));

module:hook_global("server-stopping", function() stopping = true; end, 1000); -- before the rooms empty

-- A reload is no restart: rooms, organizer flags, class entries stay; waiting events go now.
function module.save() flush(); return { keyed = keyed, promoted = promoted, boot = boot, classes = store.classes() }; end
function module.restore(data)
	keyed, promoted, boot = data.keyed or keyed, data.promoted or promoted, data.boot or boot;
	store.restore_classes(data.classes);
end

module:log("info", "raumwart module active: %s, events to %s", store.describe(), component);
