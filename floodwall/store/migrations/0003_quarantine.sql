-- 0003_quarantine: messages held by the gateway (or by hand), and every action taken on
-- them: who, when and why. The message itself is a file under data_dir/quarantine.
-- Applied inside the migration transaction: no BEGIN/COMMIT and no PRAGMA here.

CREATE TABLE quarantine (
    id             TEXT PRIMARY KEY,            -- time-ordered hex id, 32 characters
    held           TEXT NOT NULL,               -- ISO 8601 UTC
    source         TEXT NOT NULL,               -- 'gateway', 'scan', ...
    -- The caller's idempotency key (the gateway's spool id): holding the same key again
    -- after a crash returns the first hold instead of holding the message twice.
    hold_key       TEXT UNIQUE,
    mail_from      TEXT NOT NULL DEFAULT '',    -- the envelope (RFC 5321 MAIL FROM)
    rcpt_to        TEXT NOT NULL DEFAULT '[]',  -- JSON array: the envelope recipients
    message_id     TEXT NOT NULL DEFAULT '',
    from_addr      TEXT NOT NULL DEFAULT '',
    subject        TEXT NOT NULL DEFAULT '',
    headers        TEXT NOT NULL DEFAULT '[]',  -- JSON [[name, decoded value]], capped
    sha256         TEXT NOT NULL,
    size           INTEGER NOT NULL,
    verdict        TEXT NOT NULL,               -- accept | tag | quarantine | reject
    score          REAL NOT NULL,
    symbols        TEXT NOT NULL DEFAULT '[]',  -- JSON [{id, score, reason}]
    attachments    TEXT NOT NULL DEFAULT '[]',  -- JSON, as `floodwall mail scan --format jsonl`
    unscannable    TEXT NOT NULL DEFAULT '[]',  -- JSON array of reasons
    file           TEXT NOT NULL,               -- relative to the quarantine root
    status         TEXT NOT NULL DEFAULT 'held'
                   CHECK (status IN ('held', 'released', 'deleted', 'expired')),
    status_changed TEXT NOT NULL,
    -- Set while a release is under way: a second release is refused, and one that died
    -- half-way stays visible instead of being retried into a second delivery.
    release_claim  TEXT
) STRICT;

CREATE INDEX quarantine_held ON quarantine (held);
CREATE INDEX quarantine_status_held ON quarantine (status, held);

CREATE TABLE quarantine_audit (
    id            INTEGER PRIMARY KEY,          -- rowid: the order actions happened in
    quarantine_id TEXT NOT NULL REFERENCES quarantine (id),
    at            TEXT NOT NULL,                -- ISO 8601 UTC
    actor         TEXT NOT NULL,                -- user name, 'floodwall', 'retention'
    action        TEXT NOT NULL CHECK (action IN
                  ('hold', 'show', 'release', 'release_failed', 'delete', 'expire', 'download')),
    reason        TEXT NOT NULL DEFAULT '',
    detail        TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX quarantine_audit_quarantine_id ON quarantine_audit (quarantine_id, id);
CREATE INDEX quarantine_audit_at ON quarantine_audit (at);
