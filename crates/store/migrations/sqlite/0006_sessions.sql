-- SQLite.
-- Browser sessions: the cookie value is never stored, only its HMAC-SHA256 (hash). A session
-- ends at expires_at whatever happens, and at idle_expires_at (moved forward as it is used) unless
-- it is remembered (NULL).
CREATE TABLE sessions (
    hash BLOB PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    idle_expires_at BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_idle ON sessions (idle_expires_at) WHERE idle_expires_at IS NOT NULL;
