-- Tests only (loaded globally): Lua's own collector stopped, so that every collection is
-- one somebody asked for (mod_raumwart's, when Prosody is idle). Each is logged, and so is
-- each full one: a ballast of about a megabyte, dropped once it has grown old, is garbage
-- that only a full collection finds. With `test_gc_probe_grow`, each collection instead
-- adds live data that is kept: a full collection then frees too little.
if prosody.test_gc_probe then return; end -- one probe for all hosts
prosody.test_gc_probe = true;
-- A known start: a full collection now, so that Lua takes no earlier one for a bad one
-- (after which it would collect everything at each step); then its own collector stopped.
collectgarbage("incremental"); collectgarbage("generational"); collectgarbage("stop");
local grow, seen, kept = module:get_option_boolean("test_gc_probe_grow", false), 0, {};
module.kept = kept; -- held by Prosody while the module is loaded, like the ballast
local function chunk(n)
	local t = {};
	for i = 1, n do t[i] = { i }; end
	return t;
end
local function new_ballast()
	local t = setmetatable(chunk(20000), { __gc = function()
		if module.loaded == false then return; end
		module:log("warn", "test_gc_probe: a full collection");
		new_ballast();
	end });
	module.ballast, seen = t, 0;
end
local function sentinel()
	-- Made anew at each collection: young, so the next collection of the young finds it.
	setmetatable({}, { __gc = function()
		if module.loaded == false then return; end
		module:log("warn", "test_gc_probe: a collection");
		seen = seen + 1;
		if grow then
			kept[#kept + 1] = chunk(50000);
		elseif seen == 3 then
			module.ballast = nil; -- old by now
		end
		sentinel();
	end });
end
sentinel();
new_ballast();
