-- Up Migration
-- Who made the device, from its MAC (issue 17). Written by analytics from the IEEE registry
-- (services/analytics/src/vendor.ts) when a device's MAC changes; no index, so the devices rows stay HOT.
--   mac_kind:     global (universally administered: looked up), local (locally administered, e.g. a
--                 randomised private address: not looked up) or multicast
--   manufacturer: the organisation the IEEE assigned the MAC's prefix to (NULL: not global or not registered)
--   mac_prefix:   the assignment that matched (6, 7 or 9 hex digits: MA-L, MA-M, MA-S)
ALTER TABLE devices
  ADD COLUMN mac_kind text CHECK (mac_kind IN ('global', 'local', 'multicast')),
  ADD COLUMN manufacturer text,
  ADD COLUMN mac_prefix text;

-- Down Migration
ALTER TABLE devices DROP COLUMN mac_kind, DROP COLUMN manufacturer, DROP COLUMN mac_prefix;
