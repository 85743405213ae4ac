-- What each imported row was made from (latchkey import): the source ('openedx'), the kind of
-- row ('user', 'client'), its key upstream (the LMS user id, the client id) and a digest of
-- each field, so that a re-import writes only what changed upstream and keeps what changed here.
CREATE TABLE import_origins (
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    upstream_key TEXT NOT NULL,
    digests TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (source, kind, upstream_key)
);

-- A confidential client's secret as django-oauth-toolkit 2+ kept it (a Django password hash),
-- until its first successful use replaces it with secret_hash. At most one of the two is set.
ALTER TABLE clients ADD COLUMN secret_django TEXT;
