-- raumwart for docker-jitsi-meet: copy to ${CONFIG}/prosody/config/conf.d/raumwart.cfg.lua
-- (Prosody 13; the image includes every conf.d/*.cfg.lua after its own config, in no fixed
-- order: this file only sets what docker-jitsi-meet's templates leave unset).
-- The module's three files (prosody/ in raumwart's repository: mod_raumwart.lua,
-- mod_raumwart_breakout.lua, raumwart_store.lib.lua) go to
-- ${CONFIG}/prosody/prosody-plugins-custom/; XMPP_MUC_MODULES and
-- XMPP_BREAKOUT_MUC_MODULES (raumwart.env) load them.

-- docker-jitsi-meet switches external components off; raumwart needs the port, on
-- loopback only: raumwart shares the prosody container's network (compose override), so
-- nothing else reaches it.
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }

-- The MUCs: raumwart must be admin, and admins owners of every room (docker-jitsi-meet
-- sets component_admins_as_room_owners globally; Prosody 13's default is false, so it is
-- repeated here). These admins add to the global list (focus, jvb).
-- Re-opening a section keeps what the Jitsi template set in it.
Component "muc.meet.jitsi" "muc"
    raumwart_component = "raumwart.meet.jitsi"
    raumwart_unmanaged_rooms = "allow" -- "deny" when raumwart's policy.unmanaged_rooms is "deny"
    admins = { "raumwart.meet.jitsi" }
    component_admins_as_room_owners = true

Component "breakout.meet.jitsi" "muc"
    raumwart_main_muc = "muc.meet.jitsi" -- mod_raumwart_breakout reports through the main MUC's module
    admins = { "raumwart.meet.jitsi" }
    component_admins_as_room_owners = true

Component "lobby.meet.jitsi" "muc"
    admins = { "raumwart.meet.jitsi" }
    component_admins_as_room_owners = true

-- The secret is the file raumwart reads too (mounted by the compose override).
Component "raumwart.meet.jitsi"
    component_secret = FileLine("/raumwart/component.secret")
