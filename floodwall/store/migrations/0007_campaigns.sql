-- 0007_campaigns: alerts and messages that share infrastructure (enrich/campaigns.py),
-- and the keys a message's content holds, which the messages table does not keep.
-- Applied inside the migration transaction: no BEGIN/COMMIT and no PRAGMA here.
-- alerts.campaign_id and messages.campaign_id (0005) point at campaigns.id.

CREATE TABLE campaigns (
    id                TEXT PRIMARY KEY,         -- 'C' + 15 hex: from the earliest member
    first_seen        TEXT NOT NULL,            -- ISO 8601 UTC
    last_seen         TEXT NOT NULL,
    alert_count       INTEGER NOT NULL,
    message_count     INTEGER NOT NULL,
    target_count      INTEGER NOT NULL,         -- distinct hosts + recipients
    origins           TEXT NOT NULL DEFAULT '[]',   -- JSON [{origin, members, share}]
    techniques        TEXT NOT NULL DEFAULT '[]',   -- JSON [{id, members}]
    shared_keys       TEXT NOT NULL DEFAULT '[]',   -- JSON [{key, members}]
    targets           TEXT NOT NULL DEFAULT '{}',   -- JSON {hosts: [...], recipients: [...]}
    timeline          TEXT NOT NULL DEFAULT '[]',   -- JSON [{day, members}]
    origin_confidence TEXT NOT NULL,            -- high | medium | low
    confidence_reason TEXT NOT NULL DEFAULT '',
    updated           TEXT NOT NULL             -- when this row was last built
) STRICT;

CREATE INDEX campaigns_last_seen ON campaigns (last_seen);

-- What a message's content ties it to, by the message's sha256 (the same content has
-- the same keys): kind 'key' (ip:, dom:, hash: ... see enrich/campaign_keys.py),
-- 'tlsh' (an attachment's TLSH digest) or 'rcpt' (a To/Cc address: a target, not a key).
CREATE TABLE message_keys (
    sha256 TEXT NOT NULL,
    kind   TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (sha256, kind, value)
) STRICT, WITHOUT ROWID;
