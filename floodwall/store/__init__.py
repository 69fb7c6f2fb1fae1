"""Stage store: the embedded store (SQLite in WAL mode) that every process shares."""
