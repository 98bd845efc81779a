-- Up Migration
-- Console sign-in sessions: an API key exchanged for a cookie. Only a SHA-256 of the session id is stored;
-- the session acts with its key's name and role, so revoking or expiring the key ends its sessions too.
-- Sign-out deletes the row (server-side: a copied cookie stops working at once).
CREATE TABLE console_sessions (
  id_hash text PRIMARY KEY,
  key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  -- Sent back in the X-CSRF-Token header of every state-changing request made with the cookie.
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  source_ip text
);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

-- Down Migration
DROP TABLE console_sessions;
