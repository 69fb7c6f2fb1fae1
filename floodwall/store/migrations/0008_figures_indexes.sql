-- 0008_figures_indexes: covering indexes for the daily figures (floodwall/store/figures.py).
-- A day's alerts and messages are read from the index alone, without one table look-up
-- per row: with 1 million alerts over 30 days, the dashboard's figures went from about
-- 474 to 145 ms CPU (bench/bench_figures.py, measured with these same statements).

-- The day's log alerts by event time, with every column the fold and the splits read.
CREATE INDEX alerts_figures ON alerts (timestamp, rule_id, host, origin, country, attack);
-- Alerts without a readable event time count on the day they were stored; few rows.
CREATE INDEX alerts_figures_undated ON alerts (created, rule_id, host, origin, country, attack)
    WHERE timestamp IS NULL OR timestamp NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*';
-- The day's mail verdicts with the columns the splits and the losses read.
CREATE INDEX messages_figures ON messages
    (scanned, verdict, recipients, source, origin, country, attack, unscannable);
