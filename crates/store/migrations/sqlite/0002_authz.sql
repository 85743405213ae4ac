-- Open edX AuthZ rules (casbin_rule shape), their version counter, and the audit trail.
-- Every change to authz_rules bumps authz_state.version and writes audit_events in the same
-- transaction; every node reloads its policy when the version moves.
CREATE TABLE authz_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ptype TEXT NOT NULL,
    v0 TEXT NOT NULL DEFAULT '',
    v1 TEXT NOT NULL DEFAULT '',
    v2 TEXT NOT NULL DEFAULT '',
    v3 TEXT NOT NULL DEFAULT '',
    v4 TEXT NOT NULL DEFAULT '',
    v5 TEXT NOT NULL DEFAULT '',
    CONSTRAINT authz_rules_unique UNIQUE (ptype, v0, v1, v2, v3, v4, v5)
);

-- One row. Version 0: the rules were never written (the default policy is loaded then).
CREATE TABLE authz_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO authz_state (id, version) VALUES (1, 0);

-- A general audit trail: who (actor) did what (action) to what (detail), when (unix seconds).
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);
