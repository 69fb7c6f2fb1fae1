-- 0001_initial: hunts, the alerts they raised, and what each source delivered.
-- Applied inside the migration transaction: no BEGIN/COMMIT and no PRAGMA here.
-- Never edit this file once released; add 0002_*.sql instead (checksums are verified).

CREATE TABLE hunts (
    id           TEXT PRIMARY KEY,              -- uuid4 hex
    started      TEXT NOT NULL,                 -- ISO 8601 UTC
    finished     TEXT,                          -- NULL while running or after a crash
    argv         TEXT NOT NULL DEFAULT '[]',    -- JSON array
    paths        TEXT NOT NULL DEFAULT '[]',    -- JSON array
    rules_loaded INTEGER,
    rules_failed INTEGER,
    events       INTEGER,
    matches      INTEGER,
    status       TEXT NOT NULL DEFAULT 'running'
) STRICT;

CREATE TABLE alerts (
    id          TEXT PRIMARY KEY,               -- uuid4 hex
    -- NULL for alerts that no hunt raised (the mail gateway, live pipelines).
    hunt_id     TEXT REFERENCES hunts (id) ON DELETE CASCADE,
    created     TEXT NOT NULL,                  -- when stored, ISO 8601 UTC
    timestamp   TEXT,                           -- event time as the source wrote it
    host        TEXT,
    level       TEXT NOT NULL,                  -- Severity label: informational .. critical
    severity    INTEGER NOT NULL,               -- Severity value, for >= filters
    rule_id     TEXT NOT NULL,                  -- the Finding's permanent id (sigma.<uuid>, mail.*)
    rule_title  TEXT NOT NULL,
    rule_author TEXT NOT NULL DEFAULT '',
    rule_link   TEXT NOT NULL DEFAULT '',
    attack      TEXT NOT NULL DEFAULT '[]',     -- JSON array of ATT&CK technique ids
    source_path TEXT,
    record_id   INTEGER,
    finding     TEXT NOT NULL,                  -- the whole Finding, see store/codec.py
    status      TEXT NOT NULL DEFAULT 'open'
) STRICT;

CREATE INDEX alerts_timestamp ON alerts (timestamp);
CREATE INDEX alerts_level ON alerts (level);
-- level_at_least filters compare the integer, which the text index cannot serve.
CREATE INDEX alerts_severity ON alerts (severity);
CREATE INDEX alerts_rule_id ON alerts (rule_id);
CREATE INDEX alerts_status ON alerts (status);
-- Foreign keys are not indexed automatically; counting or deleting a hunt needs this.
CREATE INDEX alerts_hunt_id ON alerts (hunt_id);

CREATE TABLE intake (
    hunt_id  TEXT NOT NULL REFERENCES hunts (id) ON DELETE CASCADE,
    path     TEXT NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    damaged  INTEGER NOT NULL DEFAULT 0,
    problems TEXT NOT NULL DEFAULT '[]',        -- JSON array of {where, reason}
    PRIMARY KEY (hunt_id, path)
) STRICT;
