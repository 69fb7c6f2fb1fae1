-- 0005_enrichment: where each alert and message came from, and what it belongs to, as
-- columns the daily figures and the console group and filter on. The whole enrichment
-- also stays in JSON, as findings do, so the layout can change without losing it.
-- Applied inside the migration transaction: no BEGIN/COMMIT and no PRAGMA here.

ALTER TABLE alerts ADD COLUMN source_ip TEXT;          -- the remote address the alert is about
ALTER TABLE alerts ADD COLUMN country TEXT;            -- ISO 3166 alpha-2 as observed, or NULL
ALTER TABLE alerts ADD COLUMN asn INTEGER;
ALTER TABLE alerts ADD COLUMN as_org TEXT;
-- domestic | abroad | internal | obscured | unknown
ALTER TABLE alerts ADD COLUMN origin TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE alerts ADD COLUMN origin_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN campaign_id TEXT;
ALTER TABLE alerts ADD COLUMN assignee TEXT;
ALTER TABLE alerts ADD COLUMN retrospective INTEGER NOT NULL DEFAULT 0;  -- raised by retro-hunt
ALTER TABLE alerts ADD COLUMN enrichment TEXT NOT NULL DEFAULT '{}';    -- JSON: geo, intel, ...

CREATE INDEX alerts_origin ON alerts (origin);
CREATE INDEX alerts_country ON alerts (country);
CREATE INDEX alerts_campaign ON alerts (campaign_id);
-- The console pages by (created, id) and the daily figures scan a day of alerts.
CREATE INDEX alerts_created_id ON alerts (created, id);

ALTER TABLE messages ADD COLUMN source_ip TEXT;        -- the connecting client (gateway) or
                                                       -- the first external Received hop
ALTER TABLE messages ADD COLUMN country TEXT;
ALTER TABLE messages ADD COLUMN asn INTEGER;
ALTER TABLE messages ADD COLUMN as_org TEXT;
ALTER TABLE messages ADD COLUMN origin TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE messages ADD COLUMN origin_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN campaign_id TEXT;
ALTER TABLE messages ADD COLUMN attack TEXT NOT NULL DEFAULT '[]';      -- ATT&CK technique ids
ALTER TABLE messages ADD COLUMN enrichment TEXT NOT NULL DEFAULT '{}';

CREATE INDEX messages_origin ON messages (origin);
CREATE INDEX messages_campaign ON messages (campaign_id);
