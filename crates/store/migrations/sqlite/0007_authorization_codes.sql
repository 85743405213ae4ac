-- Authorization codes and remembered consent, SQLite.
-- A code is stored only as its HMAC-SHA256, with everything it is bound to. used_at and family_id
-- are set together by the exchange that takes it, so a replay finds what to revoke.
CREATE TABLE authorization_codes (
    hash BLOB PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    code_challenge TEXT,
    nonce TEXT,
    auth_time BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    family_id TEXT
);
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);

-- The scopes a user granted a client (one row per pair), so consent is asked once.
CREATE TABLE consents (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
