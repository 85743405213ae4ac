-- Per-client permissions (introspect, authz:read, authz:write), space-separated like scopes.
-- Existing clients get none: which of them may introspect or use the authz API is the operator's
-- decision (README, "Upgrading"). A public client holds none: it only names itself, so anyone
-- could use what it held.
ALTER TABLE clients ADD COLUMN permissions TEXT NOT NULL DEFAULT ''
    CHECK (permissions = '' OR secret_hash IS NOT NULL);
