-- Tests only (loaded globally): Lua's own collector stopped, so that every collection is
-- one somebody asked for (mod_raumwart's, when Prosody is idle); each is logged.
collectgarbage("stop");
local function sentinel()
	-- Made anew at each collection: young, so the next collection of the young finds it.
	setmetatable({}, { __gc = function()
		if module.loaded == false then return; end
		module:log("warn", "test_gc_probe: a collection");
		sentinel();
	end });
end
sentinel();
