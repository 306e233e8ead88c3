-- Benchmark only (`--latency N --trace`): wall-clock stamps of the steps of a room's
-- destroy in Prosody, logged at warn, to split Prosody's share of the grace expiry.
local now = require "util.time".now;

local function stamp(what)
	return function()
		module:log("warn", "bench_clock %s %.6f", what, now());
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
