-- 0002_mail_verdicts: every scanned message and the policy's verdict, for the daily
-- counts (each message counts once per recipient) and the quarantine later.
-- Applied inside the migration transaction: no BEGIN/COMMIT and no PRAGMA here.

CREATE TABLE messages (
    id          TEXT PRIMARY KEY,               -- time-ordered hex id
    scanned     TEXT NOT NULL,                  -- ISO 8601 UTC
    source      TEXT NOT NULL,                  -- 'scan' (floodwall mail scan) or 'gateway'
    path        TEXT NOT NULL,
    record_id   INTEGER,
    message_id  TEXT NOT NULL DEFAULT '',
    sha256      TEXT NOT NULL,
    from_addr   TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    recipients  INTEGER NOT NULL DEFAULT 1,     -- To + Cc here; the envelope at the gateway
    verdict     TEXT NOT NULL,                  -- accept | tag | quarantine | reject
    score       REAL NOT NULL,
    symbols     TEXT NOT NULL DEFAULT '[]',     -- JSON [{id, score, reason}]
    unscannable TEXT NOT NULL DEFAULT '[]'      -- JSON array of reasons
) STRICT;

CREATE INDEX messages_scanned ON messages (scanned);
CREATE INDEX messages_verdict ON messages (verdict);
CREATE INDEX messages_sha256 ON messages (sha256);
