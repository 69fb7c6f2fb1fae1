-- 0009_mail_domains: the registered domains this organisation's mail has named (its
-- senders' and its links'), with when each was first and last seen and in how many
-- messages: the history behind mail.newly_seen_domain (floodwall/enrich/domain_history.py).
-- Times are Unix seconds, so "first seen within the last N days" is one comparison.
CREATE TABLE mail_domains (
    domain     TEXT PRIMARY KEY,
    first_seen REAL NOT NULL,
    last_seen  REAL NOT NULL,
    messages   INTEGER NOT NULL
) WITHOUT ROWID;
-- What a running scanner refreshes: the domains first seen since its last look.
CREATE INDEX mail_domains_first_seen ON mail_domains (first_seen);
