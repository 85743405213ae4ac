-- The revocation feed (docs/design/revocation-feed.md). Every revoked JWT and every user's
-- not-before instant carries the cursor value of the transaction that wrote it, taken from one
-- counter row that each such transaction moves. The row's lock orders those transactions, so
-- cursor values become visible in commit order: a reader that has seen value N will never later
-- find an entry numbered N or less that it missed.
CREATE TABLE revocation_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO revocation_cursor (id, seq) VALUES (1, 1);

-- Revocations from before the feed existed are in every full read.
ALTER TABLE revoked_jtis ADD COLUMN seq BIGINT NOT NULL DEFAULT 1;
CREATE INDEX revoked_jtis_seq ON revoked_jtis (seq);

-- A user's tokens issued before `not_before` are refused (disabled, password changed, logged out
-- everywhere). Kept until no token issued before it can still be alive.
CREATE TABLE user_not_before (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sub TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX user_not_before_seq ON user_not_before (seq);
CREATE INDEX user_not_before_sub ON user_not_before (sub);
CREATE INDEX user_not_before_at ON user_not_before (not_before);

-- Cutting a user off (disabled, password changed, logged out everywhere) revokes what they hold.
CREATE INDEX refresh_families_user ON refresh_families (user_id);
CREATE INDEX access_tokens_user ON access_tokens (user_id);
