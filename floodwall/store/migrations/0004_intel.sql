-- 0004_intel: threat intel indicators, de-duplicated across sources.
-- One row per (type, value) in intel_indicators; one row per (indicator, source) in
-- intel_sources, keeping that source's confidence, first/last seen and expiry.
-- Applied inside the migration transaction: no BEGIN/COMMIT and no PRAGMA here.

CREATE TABLE intel_indicators (
    id         INTEGER PRIMARY KEY,
    type       TEXT NOT NULL,                  -- ip | cidr | domain | url | md5 | sha1 | sha256 | email
    value      TEXT NOT NULL,                  -- canonical form (floodwall/enrich/intel/normalize.py)
    suppressed TEXT NOT NULL DEFAULT '[]',     -- JSON array of the warninglists that hold the value
    created    TEXT NOT NULL,                  -- ISO 8601 UTC, first import
    UNIQUE (type, value)
) STRICT;

CREATE INDEX intel_indicators_suppressed ON intel_indicators (id) WHERE suppressed != '[]';

CREATE TABLE intel_sources (
    indicator_id INTEGER NOT NULL REFERENCES intel_indicators (id) ON DELETE CASCADE,
    source       TEXT NOT NULL,                -- feed name given at import
    confidence   INTEGER NOT NULL,             -- 0..100, this source's latest import
    first_seen   TEXT,                         -- ISO 8601 UTC; earliest this source said
    last_seen    TEXT,                         -- latest this source said
    valid_until  TEXT,                         -- expiry; NULL = does not expire
    tags         TEXT NOT NULL DEFAULT '[]',   -- JSON array
    comment      TEXT NOT NULL DEFAULT '',
    origin_id    TEXT NOT NULL DEFAULT '',     -- MISP event uuid / STIX indicator id
    origin_info  TEXT NOT NULL DEFAULT '',     -- MISP event info / STIX indicator name
    imported     TEXT NOT NULL,                -- first import of this value from this source
    updated      TEXT NOT NULL,                -- latest import
    PRIMARY KEY (indicator_id, source)
) STRICT, WITHOUT ROWID;

CREATE INDEX intel_sources_source ON intel_sources (source);
CREATE INDEX intel_sources_valid_until ON intel_sources (valid_until) WHERE valid_until IS NOT NULL;

-- One row: bumped by every change to the two tables above, so that a cached matcher
-- knows it must be rebuilt.
CREATE TABLE intel_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
) STRICT;

INSERT INTO intel_state (id, generation) VALUES (1, 0);
