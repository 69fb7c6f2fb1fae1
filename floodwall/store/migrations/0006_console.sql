-- 0006_console: the SOC console's users, sessions, API tokens, its append-only audit
-- log, and the triage history of alerts.
-- Applied inside the migration transaction: no BEGIN/COMMIT and no PRAGMA here.

CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    role             TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
    password_hash    TEXT NOT NULL,                -- argon2id PHC string
    created          TEXT NOT NULL,                -- ISO 8601 UTC
    password_changed TEXT NOT NULL,
    disabled         INTEGER NOT NULL DEFAULT 0    -- users are disabled, never deleted
) STRICT;

-- A session cookie's value is kept only as its SHA-256: a copy of the file does not
-- hand out live sessions.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    csrf       TEXT NOT NULL,
    created    TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    expires    TEXT NOT NULL,
    client_ip  TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,                  -- 12 hex digits, public
    user_id     INTEGER NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    scope       TEXT NOT NULL CHECK (scope IN ('read', 'triage', 'admin')),
    secret_hash TEXT NOT NULL,                     -- SHA-256 of the secret part
    created     TEXT NOT NULL,
    expires     TEXT,
    last_used   TEXT,
    revoked     TEXT
) STRICT;

CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- Hash-chained: hash = SHA-256(prev_hash, seq, fields) (floodwall/console/audit.py).
-- AUTOINCREMENT keeps sqlite_sequence, so cutting entries off the end is detectable.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT '{}',         -- JSON object text, hashed as stored
    client_ip TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
) STRICT;

CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);

-- Append-only: the product never changes or removes an entry. Someone editing the file
-- can drop these triggers; `floodwall audit verify` catches what they then do.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Every triage step on an alert: status changes with their comment, and assignments.
CREATE TABLE alert_history (
    id          INTEGER PRIMARY KEY,
    alert_id    TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('status', 'assign')),
    from_value  TEXT,
    to_value    TEXT,
    comment     TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX alert_history_alert_id ON alert_history (alert_id, id);

-- The alert list's status filter pages by (created, id) within a status.
CREATE INDEX alerts_status_created_id ON alerts (status, created, id);
