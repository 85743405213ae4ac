-- The janitor clears sealed successor pairs once their grace window ends; this finds them without
-- a scan of every refresh token.
CREATE INDEX refresh_tokens_sealed ON refresh_tokens (rotated_at) WHERE successor IS NOT NULL;
