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
