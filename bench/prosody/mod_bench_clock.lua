-- Benchmark only (`--latency N --trace`): wall-clock stamps of the steps of a room's
-- destroy in Prosody, logged at warn, to split Prosody's share of the grace expiry.
local now = require "util.time".now;

-- With Prosody's CPU time (os.clock) and Lua heap: a step slow in wall time but not in
-- CPU time waited for a core; one slow in both worked (a collection shows in the heap).
local function stamp(what)
	return function()
		module:log("warn", "bench_clock %s %.6f %.6f %.0f", what, now(), os.clock(), collectgarbage("count"));
	end
end

module:hook("iq/bare", stamp("iq"), 1000);
module:hook("muc-pre-room-destroy", stamp("pre-destroy"), 1000);
module:hook("muc-occupant-left", stamp("left"), 1000);
module:hook("muc-room-destroyed", stamp("destroyed"), 1000);
module:hook("muc-room-destroyed", function()
	stamp("destroyed-end")();
	-- Runs once the loop has no ready sockets left: after the answers were written.
	module:add_timer(0, stamp("loop-idle"));
end, -1000);

-- A collection of Lua's collector, stamped by the finalizer of an object made anew each
-- time (young again: every collection that sweeps the young finds it).
local function sentinel()
	setmetatable({}, { __gc = function()
		if module.loaded == false then return; end
		stamp("gc")();
		sentinel();
	end });
end
sentinel();
