-- Proposed migration 0009_figures (not yet in floodwall/store/migrations: 0008 is
-- reserved and not committed, and migrations must run 1..n without gaps).
-- Covering indexes for the daily figures (floodwall/store/figures.py): a day's alerts
-- and messages are read from the index alone, without one table look-up per row.
-- bench/bench_figures.py --indexes applies this file to measure the difference.

-- The day's log alerts by event time, with every column the fold and the splits read.
CREATE INDEX alerts_figures ON alerts (timestamp, rule_id, host, origin, country, attack);
-- Alerts without a readable event time count on the day they were stored; few rows.
CREATE INDEX alerts_figures_undated ON alerts (created, rule_id, host, origin, country, attack)
    WHERE timestamp IS NULL OR timestamp NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*';
-- The day's mail verdicts with the columns the splits and the losses read.
CREATE INDEX messages_figures ON messages
    (scanned, verdict, recipients, source, origin, country, attack, unscannable);
