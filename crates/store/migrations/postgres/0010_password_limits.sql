-- PostgreSQL only: SQLite serves one node, which counts password attempts in process.
-- Password attempt counters every node shares (core's throttle): one row per account (a user id,
-- or a keyed hash of an unknown login) or client network (an IPv4 address or an IPv6 /64),
-- counting the attempts of the fixed window that started at `started`. `in_flight` of the
-- `attempts` are still being checked; `last_taken` tells the latest reservation's RETURNING
-- whether it took an attempt.
--
-- UNLOGGED: two writes per sign-in, and no WAL flush for either. A crash empties the table, as a
-- restart empties a single node's in-process counters: each window lasts minutes, and a lockout
-- outliving the database's crash is not worth a flush per sign-in. Room left on each page keeps
-- the updates HOT (no index entry) while the window does not change.
CREATE UNLOGGED TABLE password_limits (
    key BYTEA PRIMARY KEY,
    started BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    in_flight INTEGER NOT NULL,
    last_taken BOOLEAN NOT NULL
) WITH (fillfactor = 70);
-- The janitor removes ended windows in batches.
CREATE INDEX password_limits_started ON password_limits (started);
