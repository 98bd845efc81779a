-- Up Migration
-- The `feeds` role (issue 15, least privilege): a firewall's key reads the EDL feeds and nothing else
-- (services/policy/src/api-keys.ts ROLES), so a firewall no longer holds a viewer key that reads the
-- whole inventory.
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('feeds', 'viewer', 'analyst', 'admin'));

-- Down Migration
DELETE FROM api_keys WHERE role = 'feeds';
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('viewer', 'analyst', 'admin'));
